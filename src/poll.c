/*
 * poll.c: pulls delivery status and inbound replies back from Twilio so
 * the database needs no public endpoint. Reads the sms rows sent in the
 * last day (GET Message) and each practice number's inbound messages (GET
 * Messages list filtered by To), then in one short transaction moves the
 * outbox to delivered/failed with a contact_attempt row, and hands each
 * inbound message not seen before to collect.receive_sms when that
 * function exists. HTTP runs with no transaction open. No decisions about
 * the replies themselves (those are the replies module's).
 */
#include "worker.h"

#include "access/xact.h"
#include "utils/snapmgr.h"

#define POLL_LIMIT 200

typedef struct PollItem
{
	bool		inbound;
	char	   *practice_id;
	int64		message_id;
	char	   *number;			/* practice number (inbound) */
	HttpRequest req;
} PollItem;

static void
poll_request(PollItem *it, const char *url, const char *account, const char *secret)
{
	http_prepare(&it->req);
	it->req.method = "GET";
	it->req.url = pstrdup(url);
	it->req.userpwd = psprintf("%s:%s", account, secret);
	it->req.headers = curl_slist_append(NULL, "Accept: application/json");
}

void
outbox_poll_status(void)
{
	PollItem   *items;
	HttpRequest **reqs;
	int			n = 0;
	MemoryContext caller = CurrentMemoryContext;
	static const char *fields[] = {"sid", "from", "to", "body", "date_sent", "direction"};

	worker_tx_begin();
	SPI_connect();
	if (SPI_execute(psprintf(
							 "(SELECT false, o.practice_id, o.message_id, o.provider_ref, p.base_url, p.account, p.secret, p.sender"
							 "   FROM collect.outbox o JOIN collect.provider p ON p.practice_id = o.practice_id AND p.channel = o.channel"
							 "  WHERE o.status = 'sent' AND o.channel = 'sms' AND p.kind = 'twilio' AND o.provider_ref IS NOT NULL"
							 "    AND o.sent_at > now() - interval '1 day' ORDER BY o.sent_at LIMIT %d)"
							 " UNION ALL "
							 "(SELECT true, p.practice_id, 0, NULL, p.base_url, p.account, p.secret, p.sender"
							 "   FROM collect.provider p WHERE p.kind = 'twilio' AND p.channel = 'sms' AND p.sender LIKE '+%%'"
							 "    AND p.secret IS NOT NULL)", POLL_LIMIT),
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "collect worker: poll query failed");
	MemoryContextSwitchTo(caller);
	items = palloc0(sizeof(PollItem) * Max(SPI_processed, 1));
	reqs = palloc(sizeof(HttpRequest *) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		PollItem   *it = &items[n];
		char	   *base = SPI_getvalue(t, d, 5);
		char	   *account = SPI_getvalue(t, d, 6);
		char	   *secret = SPI_getvalue(t, d, 7);

		if (account == NULL || secret == NULL)
			continue;
		it->inbound = strcmp(SPI_getvalue(t, d, 1), "t") == 0;
		it->practice_id = SPI_getvalue(t, d, 2);
		if (it->inbound)
		{
			it->number = SPI_getvalue(t, d, 8);
			poll_request(it, twilio_inbound_url(base, account, it->number,
												text_to_cstring(DatumGetTextPP(DirectFunctionCall2(timestamptz_to_char,
																								   TimestampTzGetDatum(GetCurrentTimestamp() - USECS_PER_DAY),
																								   CStringGetTextDatum("YYYY-MM-DD"))))),
						 account, secret);
		}
		else
		{
			it->message_id = strtoll(SPI_getvalue(t, d, 3), NULL, 10);
			poll_request(it, twilio_message_url(base, account, SPI_getvalue(t, d, 4)), account, secret);
		}
		explicit_bzero(secret, strlen(secret));
		reqs[n] = &it->req;
		n++;
	}
	SPI_finish();
	worker_tx_commit();
	MemoryContextSwitchTo(caller);
	if (n == 0)
		return;

	http_run(reqs, n);			/* no transaction open */

	worker_tx_begin();
	SPI_connect();
	for (int i = 0; i < n; i++)
	{
		PollItem   *it = &items[i];
		Oid			t3[3] = {TEXTOID, INT8OID, TEXTOID};
		Datum		a[4];

		curl_slist_free_all(it->req.headers);
		explicit_bzero(it->req.userpwd, strlen(it->req.userpwd));
		if (it->req.status != 200)
			continue;
		if (!it->inbound)
		{
			char	   *st = json_lookup(it->req.response.data, "status", NULL);
			const char *to = NULL;

			if (st == NULL)
				continue;
			if (strcmp(st, "delivered") == 0 || strcmp(st, "read") == 0)
				to = "delivered";
			else if (strcmp(st, "failed") == 0 || strcmp(st, "undelivered") == 0)
				to = "failed";
			if (to == NULL)
				continue;
			a[0] = CStringGetTextDatum(it->practice_id);
			a[1] = Int64GetDatum(it->message_id);
			a[2] = CStringGetTextDatum(to);
			SPI_execute_with_args(
								  "WITH u AS (UPDATE collect.outbox SET status = $3,"
								  "   last_error = CASE WHEN $3 = 'failed' THEN 'twilio: message ' || $3 ELSE last_error END"
								  "  WHERE practice_id = $1 AND message_id = $2 AND status = 'sent'"
								  "  RETURNING practice_id, patient_id, channel, message_id)"
								  " INSERT INTO collect.contact_attempt (practice_id, patient_id, channel, message_id, at, outcome, actor, detail)"
								  " SELECT practice_id, patient_id, channel, message_id, now(), $3, 'collect.worker', 'twilio status'"
								  "   FROM u",
								  3, t3, a, NULL, false, 0);
		}
		else
		{
			List	   *rows = json_object_rows(it->req.response.data, "messages", fields, 6);
			ListCell   *lc;

			foreach(lc, rows)
			{
				char	  **r = lfirst(lc);
				Oid			t2[2] = {TEXTOID, TEXTOID};
				Oid			t4[4] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
				time_t		sent = r[4] ? curl_getdate(r[4], NULL) : -1;

				if (r[0] == NULL || r[1] == NULL || (r[5] && strncmp(r[5], "inbound", 7) != 0))
					continue;
				a[0] = CStringGetTextDatum(it->practice_id);
				a[1] = CStringGetTextDatum(r[0]);
				if (SPI_execute_with_args("INSERT INTO collect.provider_inbound (practice_id, provider_ref)"
										  " VALUES ($1, $2) ON CONFLICT DO NOTHING",
										  2, t2, a, NULL, false, 0) != SPI_OK_INSERT || SPI_processed != 1)
					continue;	/* seen before */
				if (!outbox_has_receive_sms)
					continue;
				a[0] = CStringGetTextDatum(r[1]);
				a[1] = CStringGetTextDatum(r[2] ? r[2] : it->number);
				a[2] = CStringGetTextDatum(r[3] ? r[3] : "");
				a[3] = TimestampTzGetDatum(sent > 0 ? time_t_to_timestamptz(sent) : GetCurrentTimestamp());
				SPI_execute_with_args("SELECT collect.receive_sms($1, $2, $3, $4)",
									  4, t4, a, NULL, false, 0);
			}
		}
	}
	SPI_finish();
	worker_tx_commit();
	MemoryContextSwitchTo(caller);
}
