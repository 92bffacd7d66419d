/*
 * providers/webhook.c: the generic signed webhook (letter/print vendors,
 * PM callbacks; channels letter, webhook and call_task). POSTs the message
 * as JSON with X-Collect-Timestamp and X-Collect-Signature: v1=hex(HMAC-
 * SHA256(secret, timestamp "." body)). The target is the provider's
 * base_url, or the message's to_address when that is a URL whose host is
 * on the practice's allow-list (base_url's host + settings.allowed_hosts).
 * No SPI; the signing secret never leaves this file except as the MAC.
 */
#include "worker.h"

#include "common/hmac.h"
#include "common/sha2.h"

char *
webhook_signature(const char *secret, const char *timestamp, const char *body)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 4);
	bool		ok;

	if (ctx == NULL)
		return NULL;
	ok = pg_hmac_init(ctx, (const uint8 *) secret, strlen(secret)) == 0 &&
		pg_hmac_update(ctx, (const uint8 *) timestamp, strlen(timestamp)) == 0 &&
		pg_hmac_update(ctx, (const uint8 *) ".", 1) == 0 &&
		pg_hmac_update(ctx, (const uint8 *) body, strlen(body)) == 0 &&
		pg_hmac_final(ctx, mac, sizeof(mac)) == 0;
	pg_hmac_free(ctx);
	if (!ok)
		return NULL;
	strcpy(hex, "v1=");
	hex_encode((const char *) mac, sizeof(mac), hex + 3);
	hex[3 + PG_SHA256_DIGEST_LENGTH * 2] = '\0';
	explicit_bzero(mac, sizeof(mac));
	return hex;
}

static bool
host_allowed(OutboxMessage *m, const char *host)
{
	char	   *base_host = url_host(m->base_url);
	char	  **list;
	int			n;

	if (host == NULL)
		return false;
	if (base_host && strcmp(base_host, host) == 0)
		return true;
	list = json_string_array(m->settings, "allowed_hosts", &n);
	for (int i = 0; i < n; i++)
		if (pg_strcasecmp(list[i], host) == 0)
			return true;
	return false;
}

void
webhook_build(Delivery *d)
{
	OutboxMessage *m = d->msg;
	const char *url = m->base_url;
	StringInfoData js;
	char		ts[32];
	char		hdr[300];
	char	   *sig;

	if (m->secret == NULL || *m->secret == '\0')
	{
		delivery_fail(d, DELIVERY_FAILED, "webhook: provider has no signing secret");
		return;
	}
	if (m->to_address && (pg_strncasecmp(m->to_address, "http://", 7) == 0 ||
						  pg_strncasecmp(m->to_address, "https://", 8) == 0))
		url = m->to_address;
	if (!host_allowed(m, url_host(url)))
	{
		delivery_fail(d, DELIVERY_FAILED, "webhook: host of the target URL is not on the practice's allow-list");
		return;
	}

	initStringInfo(&js);
	appendStringInfo(&js, "{\"message_id\":" INT64_FORMAT ",\"practice_id\":", m->message_id);
	json_add_string(&js, m->practice_id);
	appendStringInfoString(&js, ",\"patient_id\":");
	json_add_string(&js, m->patient_id);
	appendStringInfoString(&js, ",\"channel\":");
	json_add_string(&js, m->channel);
	appendStringInfoString(&js, ",\"to\":");
	json_add_string(&js, m->to_address);
	appendStringInfoString(&js, ",\"subject\":");
	json_add_string(&js, m->subject);
	appendStringInfoString(&js, ",\"body\":");
	json_add_string(&js, m->body);
	appendStringInfo(&js, ",\"payload\":%s,\"attempt\":%d,\"idempotency_key\":",
					 m->payload ? m->payload : "{}", m->attempts);
	json_add_string(&js, m->idempotency_key);
	appendStringInfoChar(&js, '}');

	snprintf(ts, sizeof(ts), "%ld", (long) time(NULL));
	sig = webhook_signature(m->secret, ts, js.data);
	if (sig == NULL)
	{
		delivery_fail(d, DELIVERY_RETRY, "webhook: could not compute the signature");
		return;
	}
	d->req.method = "POST";
	d->req.url = pstrdup(url);
	d->req.body = js.data;
	d->req.headers = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(hdr, sizeof(hdr), "X-Collect-Timestamp: %s", ts);
	d->req.headers = curl_slist_append(d->req.headers, hdr);
	snprintf(hdr, sizeof(hdr), "X-Collect-Signature: %s", sig);
	d->req.headers = curl_slist_append(d->req.headers, hdr);
	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", m->idempotency_key);
	d->req.headers = curl_slist_append(d->req.headers, hdr);
	d->has_request = true;
}

void
webhook_parse(Delivery *d)
{
	long		st = d->req.status;

	if (st >= 200 && st < 300)
	{
		d->result = DELIVERY_SENT;
		d->provider_ref = json_lookup(d->req.response.data, "id", NULL);
		return;
	}
	delivery_classify_http(d, "webhook");
}

PG_FUNCTION_INFO_V1(webhook_signature_sql);

/* collect.webhook_signature(secret, timestamp, body): what a receiver checks */
Datum
webhook_signature_sql(PG_FUNCTION_ARGS)
{
	char	   *sig = webhook_signature(text_to_cstring(PG_GETARG_TEXT_PP(0)),
										text_to_cstring(PG_GETARG_TEXT_PP(1)),
										text_to_cstring(PG_GETARG_TEXT_PP(2)));

	if (sig == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not compute the HMAC-SHA256 signature")));
	PG_RETURN_TEXT_P(cstring_to_text(sig));
}
