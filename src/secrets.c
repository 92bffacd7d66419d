/*
 * secrets.c: the outbox's safety net for provider credentials. A BEFORE
 * INSERT OR UPDATE trigger on collect.outbox scrubs last_error and
 * provider_ref with redact_secret() against every provider secret of the
 * message's practice, so a provider that echoes the Authorization header
 * back (or a library error that quotes a URL with a key) never puts a
 * secret into the table, nor into the contact_attempt, task and audit rows
 * the worker copies from it. Reads collect.provider; writes nothing itself.
 */
#include "collect.h"

#include "commands/trigger.h"
#include "utils/rel.h"

#include "redact.h"

PG_FUNCTION_INFO_V1(outbox_redact_secrets);

Datum
outbox_redact_secrets(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tup;
	int			cols[2];
	char	   *texts[2];
	bool		changed[2] = {false, false};
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int			ncols = 0;
	bool		isnull;
	Datum		practice;
	Oid			argtypes[1] = {TEXTOID};

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "outbox_redact_secrets: must be a BEFORE row trigger");
	desc = RelationGetDescr(td->tg_relation);
	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;

	cols[0] = SPI_fnumber(desc, "last_error");
	cols[1] = SPI_fnumber(desc, "provider_ref");
	for (int i = 0; i < 2; i++)
	{
		Datum		d = cols[i] > 0 ? heap_getattr(tup, cols[i], desc, &isnull) : (Datum) 0;

		texts[i] = (cols[i] > 0 && !isnull) ? TextDatumGetCString(d) : NULL;
		ncols += texts[i] != NULL;
	}
	if (ncols == 0)
		return PointerGetDatum(tup);

	practice = heap_getattr(tup, SPI_fnumber(desc, "practice_id"), desc, &isnull);
	SPI_connect();
	if (plan == NULL)
	{
		plan = SPI_prepare("SELECT account, secret FROM collect.provider"
						   " WHERE practice_id = $1 AND secret IS NOT NULL AND secret <> ''", 1, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
	}
	if (SPI_execute_plan(plan, &practice, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading collect.provider failed");
	for (int i = 0; i < 2; i++)
	{
		if (texts[i] == NULL)
			continue;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			char	   *account = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
			char	   *secret = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2);

			changed[i] |= redact_secret(texts[i], account, secret);
		}
		if (SPI_processed == 0)
			changed[i] |= redact_secret(texts[i], NULL, NULL);
	}
	SPI_finish();

	ncols = 0;
	for (int i = 0; i < 2; i++)
		if (changed[i])
		{
			cols[ncols] = cols[i];
			values[ncols] = CStringGetTextDatum(texts[i]);
			nulls[ncols] = false;
			ncols++;
		}
	if (ncols == 0)
		return PointerGetDatum(tup);
	return PointerGetDatum(heap_modify_tuple_by_cols(tup, desc, ncols, cols, values, nulls));
}
