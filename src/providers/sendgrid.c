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

	request_post(d, "/mail/send", "application/json", js.data, m->secret);
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
