/*
 * providers/twilio.c: Twilio Programmable Messaging and Voice. Builds the
 * form-encoded POST to .../Accounts/{AccountSid}/Messages.json (sms) or
 * Calls.json (voice) with HTTP basic auth, reads the answer's sid, and
 * builds the URLs the status/inbound poll reads. No SPI; the auth token
 * goes only into the basic-auth field, never into an error text.
 */
#include "worker.h"

static char *
twilio_base(const char *base_url)
{
	char	   *b = pstrdup(base_url);
	size_t		len = strlen(b);

	while (len > 0 && b[len - 1] == '/')
		b[--len] = '\0';
	return b;
}

static bool
twilio_account_ok(const char *account)
{
	if (account == NULL || strlen(account) != 34 || strncmp(account, "AC", 2) != 0)
		return false;
	for (int i = 2; i < 34; i++)
		if (!isxdigit((unsigned char) account[i]))
			return false;
	return true;
}

/* <Say> text for TwiML: XML-escaped */
static void
xml_escape(StringInfo buf, const char *s)
{
	for (; s && *s; s++)
	{
		switch (*s)
		{
			case '<':
				appendStringInfoString(buf, "&lt;");
				break;
			case '>':
				appendStringInfoString(buf, "&gt;");
				break;
			case '&':
				appendStringInfoString(buf, "&amp;");
				break;
			case '"':
				appendStringInfoString(buf, "&quot;");
				break;
			default:
				appendStringInfoChar(buf, *s);
		}
	}
}

void
twilio_build(Delivery *d)
{
	OutboxMessage *m = d->msg;
	bool		voice = strcmp(m->channel, "voice") == 0;
	StringInfoData form;
	char	   *callback;
	char		hdr[300];

	if (!twilio_account_ok(m->account))
	{
		delivery_fail(d, DELIVERY_FAILED, "twilio: provider account is not an AccountSid (AC + 32 hex digits)");
		return;
	}
	if (m->secret == NULL || m->sender == NULL)
	{
		delivery_fail(d, DELIVERY_FAILED, "twilio: provider secret or sender is not set");
		return;
	}
	if (m->to_address == NULL)
	{
		delivery_fail(d, DELIVERY_FAILED, "twilio: message has no to_address");
		return;
	}
	initStringInfo(&form);
	form_add(&form, "To", m->to_address);
	if (!voice && strncmp(m->sender, "MG", 2) == 0)
		form_add(&form, "MessagingServiceSid", m->sender);
	else
		form_add(&form, "From", m->sender);
	callback = json_lookup(m->settings, "status_callback", NULL);
	if (voice)
	{
		char	   *voice_url = json_lookup(m->settings, "voice_url", NULL);

		if (voice_url)
			form_add(&form, "Url", voice_url);
		else
		{
			StringInfoData twiml;

			initStringInfo(&twiml);
			appendStringInfoString(&twiml, "<Response><Say>");
			xml_escape(&twiml, m->body ? m->body : "");
			appendStringInfoString(&twiml, "</Say></Response>");
			form_add(&form, "Twiml", twiml.data);
		}
	}
	else
		form_add(&form, "Body", m->body ? m->body : "");
	if (callback)
		form_add(&form, "StatusCallback", callback);

	d->req.method = "POST";
	d->req.url = psprintf("%s/2010-04-01/Accounts/%s/%s", twilio_base(m->base_url), m->account,
						  voice ? "Calls.json" : "Messages.json");
	d->req.body = form.data;
	d->req.userpwd = psprintf("%s:%s", m->account, m->secret);
	d->req.headers = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	d->req.headers = curl_slist_append(d->req.headers, "Accept: application/json");
	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", m->idempotency_key);
	d->req.headers = curl_slist_append(d->req.headers, hdr);
	d->has_request = true;
}

void
twilio_parse(Delivery *d)
{
	long		st = d->req.status;

	if (st == 200 || st == 201)
	{
		char	   *sid = json_lookup(d->req.response.data, "sid", NULL);

		d->result = DELIVERY_SENT;
		d->provider_ref = sid;
		if (sid == NULL)
			d->error = pstrdup("twilio: answer carried no sid");
		return;
	}
	delivery_classify_http(d, "twilio");
}

/* GET one message (delivery status) */
char *
twilio_message_url(const char *base_url, const char *account, const char *sid)
{
	return psprintf("%s/2010-04-01/Accounts/%s/Messages/%s.json", twilio_base(base_url), account, sid);
}

/* GET inbound messages to the practice number sent on or after a date */
char *
twilio_inbound_url(const char *base_url, const char *account, const char *to, const char *since_date)
{
	StringInfoData q;

	initStringInfo(&q);
	form_add(&q, "To", to);
	if (since_date)
		form_add(&q, "DateSent>", since_date);
	form_add(&q, "PageSize", "100");
	return psprintf("%s/2010-04-01/Accounts/%s/Messages.json?%s", twilio_base(base_url), account, q.data);
}
