/*
 * plan_outreach_fallback.c: TEMPORARY weak stand-ins for the outreach
 * contract (src/outreach.h) until the dunning engine lands in main; the
 * real definitions override these at link time. Removed after the merge.
 */
#include "collect.h"

#include "outreach.h"

int64 __attribute__((weak))
outreach_enqueue(const char *practice_id, const char *patient_id, const char *channel, const char *step,
				 const char *template_name, Jsonb *extra_vars, TimestampTz not_before, TimestampTz as_of)
{
	Oid			t[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		a[6] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id), CStringGetTextDatum(channel),
	CStringGetTextDatum(step), CStringGetTextDatum(template_name), TimestampTzGetDatum(not_before)};
	int64		id = 0;
	bool		isnull;

	SPI_connect();
	SPI_execute_with_args("INSERT INTO collect.outbox (practice_id, patient_id, channel, step, template, send_after, idempotency_key)"
						  " VALUES ($1, $2, $3, $4, $5, $6, $1 || ':' || $2 || ':' || $4) ON CONFLICT DO NOTHING RETURNING message_id",
						  6, t, a, NULL, false, 1);
	if (SPI_processed == 1)
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return id;
}

int64 __attribute__((weak))
task_open(const char *practice_id, const char *patient_id, const char *kind, const char *summary,
		  TimestampTz due_at, TimestampTz as_of)
{
	Oid			t[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		a[5] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id), CStringGetTextDatum(kind),
	CStringGetTextDatum(summary), TimestampTzGetDatum(due_at)};
	int64		id = 0;
	bool		isnull;

	SPI_connect();
	SPI_execute_with_args("SELECT task_id FROM collect.task WHERE practice_id = $1 AND patient_id = $2 AND kind = $3 AND status = 'open'"
						  " AND $4 IS NOT NULL AND $5 IS NOT NULL",
						  5, t, a, NULL, true, 1);
	if (SPI_processed == 0)
		SPI_execute_with_args("INSERT INTO collect.task (practice_id, patient_id, kind, summary, due_at) VALUES ($1, $2, $3, $4, $5)"
							  " RETURNING task_id", 5, t, a, NULL, false, 1);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	(void) as_of;
	return id;
}

char *__attribute__((weak))
task_summary(const char *practice_id, const char *patient_id, const char *recommendation, TimestampTz as_of)
{
	return pstrdup(recommendation);
}

void		__attribute__((weak))
audit_record(const char *practice_id, const char *patient_id, TimestampTz at, const char *actor, const char *action,
			 const char *subject, const char *reason, Jsonb *facts)
{
	Oid			t[6] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		a[6] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id), TimestampTzGetDatum(at),
	CStringGetTextDatum(actor), CStringGetTextDatum(action), CStringGetTextDatum(reason)};

	SPI_connect();
	SPI_execute_with_args("INSERT INTO collect.audit_log (practice_id, patient_id, at, actor, action, reason) VALUES ($1, $2, $3, $4, $5, $6)",
						  6, t, a, NULL, false, 0);
	SPI_finish();
}
