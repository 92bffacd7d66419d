/*
 * providers/sendgrid.c: SendGrid v3 mail/send. Builds the JSON body
 * (personalizations, from, subject, plain-text content), authenticates with a Bearer API key
 * and reads X-Message-Id from the 202 answer. No SPI; the API key goes
 * only into the Authorization header, never into an error text.
 */
#include "worker.h"

void
sendgrid_build(Delivery *d)
{
	OutboxMessage *m = d->msg;
	StringInfoData js;
	char	   *from_name;
	char	   *base;
	size_t		len;
	char		hdr[300];

	if (m->secret == NULL || m->sender == NULL)
	{
		delivery_fail(d, DELIVERY_FAILED, "sendgrid: provider secret or sender is not set");
		return;
	}
	if (m->to_address == NULL)
	{
		delivery_fail(d, DELIVERY_FAILED, "sendgrid: message has no to_address");
		return;
	}
	from_name = json_lookup(m->settings, "from_name", NULL);
	initStringInfo(&js);
	appendStringInfoString(&js, "{\"personalizations\":[{\"to\":[{\"email\":");
	json_add_string(&js, m->to_address);
	appendStringInfoString(&js, "}]}],\"from\":{\"email\":");
	json_add_string(&js, m->sender);
	if (from_name)
	{
		appendStringInfoString(&js, ",\"name\":");
		json_add_string(&js, from_name);
	}
	appendStringInfoString(&js, "},\"subject\":");
	json_add_string(&js, m->subject && *m->subject ? m->subject : "A message about your account");
	appendStringInfoString(&js, ",\"content\":[{\"type\":\"text/plain\",\"value\":");
	json_add_string(&js, m->body && *m->body ? m->body : " ");
	appendStringInfoString(&js, "}]}");

	base = pstrdup(m->base_url);
	len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	d->req.method = "POST";
	d->req.url = psprintf("%s/mail/send", base);
	d->req.body = js.data;
	d->req.headers = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", m->secret);
	d->req.headers = curl_slist_append(d->req.headers, hdr);
	explicit_bzero(hdr, sizeof(hdr));
	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", m->idempotency_key);
	d->req.headers = curl_slist_append(d->req.headers, hdr);
	d->has_request = true;
}

void
sendgrid_parse(Delivery *d)
{
	long		st = d->req.status;

	if (st == 200 || st == 202)
	{
		d->result = DELIVERY_SENT;
		d->provider_ref = d->req.message_id_header[0] ? pstrdup(d->req.message_id_header) : NULL;
		return;
	}
	delivery_classify_http(d, "sendgrid");
}
