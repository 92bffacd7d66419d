/*
 * llm_poll.c: the worker's side of the optional LLM fallback for replies.
 * In one short transaction it reads the replies the rules left unknown at
 * practices with a collect.provider row of kind 'llm' (llm_status
 * 'pending'), asks each practice's model with no transaction open
 * (providers/llm.c builds and reads the requests, http.c sends them), then
 * in one short transaction hands every label to collect.apply_llm_intent,
 * which applies it like any other intent. A transport error, 429 or 5xx
 * leaves the reply pending for the next poll; a refused request (4xx) or
 * an answer without a label ends as "unknown". Only the reply text is sent.
 */
#include "worker.h"

#define LLM_BATCH 50

void
llm_classify_pending(void)
{
	MemoryContext caller = CurrentMemoryContext;
	OutboxMessage *msgs;
	Delivery   *ds;
	HttpRequest **reqs;
	int			n = 0,
				n_req = 0;
	bool		isnull;

	worker_tx_begin();
	SPI_connect();
	/* an extension not updated to 0.2 has no llm_status column yet */
	if (SPI_execute("SELECT to_regprocedure('collect.apply_llm_intent(text,bigint,text)') IS NOT NULL",
					true, 1) != SPI_OK_SELECT ||
		!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) ||
		SPI_execute("SELECT r.practice_id, r.reply_id, r.body, p.base_url, p.secret, p.settings::text"
					"  FROM collect.reply r JOIN collect.provider p"
					"    ON p.practice_id = r.practice_id AND p.channel = 'llm' AND p.kind = 'llm'"
					" WHERE r.llm_status = 'pending' ORDER BY r.at LIMIT " CppAsString2(LLM_BATCH),
					true, 0) != SPI_OK_SELECT)
	{
		SPI_finish();
		worker_tx_commit();
		MemoryContextSwitchTo(caller);
		return;
	}
	MemoryContextSwitchTo(caller);
	msgs = palloc0(sizeof(OutboxMessage) * Max(SPI_processed, 1));
	ds = palloc0(sizeof(Delivery) * Max(SPI_processed, 1));
	reqs = palloc(sizeof(HttpRequest *) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++, n++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		OutboxMessage *m = &msgs[n];

		m->practice_id = SPI_getvalue(t, desc, 1);
		m->message_id = strtoll(SPI_getvalue(t, desc, 2), NULL, 10);
		m->body = SPI_getvalue(t, desc, 3);
		m->base_url = SPI_getvalue(t, desc, 4);
		m->secret = SPI_getvalue(t, desc, 5);
		m->settings = SPI_getvalue(t, desc, 6);
		m->channel = "llm";
		m->kind = "llm";
		m->idempotency_key = psprintf("llm:%s:" INT64_FORMAT, m->practice_id, m->message_id);
		ds[n].msg = m;
		ds[n].retry_after = -1;
		http_prepare(&ds[n].req);
		llm_build(&ds[n]);
		if (m->secret)
			explicit_bzero(m->secret, strlen(m->secret));
		if (ds[n].has_request)
			reqs[n_req++] = &ds[n].req;
	}
	SPI_finish();
	worker_tx_commit();
	MemoryContextSwitchTo(caller);
	if (n == 0)
		return;

	http_run(reqs, n_req);		/* no transaction open */

	worker_tx_begin();
	SPI_connect();
	for (int i = 0; i < n; i++)
	{
		Delivery   *d = &ds[i];
		Oid			types[3] = {TEXTOID, INT8OID, TEXTOID};
		Datum		a[3];

		if (d->has_request)
		{
			curl_slist_free_all(d->req.headers);
			llm_parse(d);
		}
		if (d->result == DELIVERY_RETRY)
			continue;
		if (d->result != DELIVERY_SENT)
			ereport(LOG,
					(errmsg("collect worker: llm for reply " INT64_FORMAT " of practice %s: %s",
							d->msg->message_id, d->msg->practice_id, d->error ? d->error : "no answer")));
		a[0] = CStringGetTextDatum(d->msg->practice_id);
		a[1] = Int64GetDatum(d->msg->message_id);
		a[2] = CStringGetTextDatum(d->result == DELIVERY_SENT ? d->provider_ref : "unknown");
		SPI_execute_with_args("SELECT collect.apply_llm_intent($1, $2, $3)", 3, types, a, NULL, false, 0);
	}
	SPI_finish();
	worker_tx_commit();
	MemoryContextSwitchTo(caller);
}
