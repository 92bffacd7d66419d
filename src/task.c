/*
 * task.c: tasks for people. task_open keeps one open task per patient and
 * kind (an existing one gets its summary refreshed); task_summary writes
 * the standard account paragraph ("Owes $420.00 from a visit 52 days ago.
 * No response to 2 texts and 1 email. ..."). Reads and writes rows only;
 * decides nothing and never reads the clock.
 */
#include "collect.h"

#include "dunning.h"

static struct
{
	SPIPlanPtr	find;
	SPIPlanPtr	refresh;
	SPIPlanPtr	insert;
	SPIPlanPtr	summary;
} plans;

int64
task_open(const char *practice_id, const char *patient_id, const char *kind,
		  const char *summary, TimestampTz due_at, TimestampTz as_of)
{
	static const Oid find_types[3] = {TEXTOID, TEXTOID, TEXTOID};
	static const Oid ins_types[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[6];
	bool		isnull;
	int64		id;

	SPI_connect();
	dunning_plan(&plans.find,
				 "SELECT task_id FROM collect.task WHERE practice_id = $1 AND patient_id = $2 AND kind = $3"
				 " AND status = 'open' ORDER BY task_id LIMIT 1 FOR UPDATE", 3, find_types);
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = CStringGetTextDatum(patient_id);
	args[2] = CStringGetTextDatum(kind);
	args[3] = CStringGetTextDatum(summary);
	args[4] = TimestampTzGetDatum(due_at);
	args[5] = TimestampTzGetDatum(as_of);
	if (SPI_execute_plan(plans.find, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading open tasks failed");
	if (SPI_processed == 1)
	{
		static const Oid ref_types[2] = {INT8OID, TEXTOID};
		Datum		rargs[2];

		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		dunning_plan(&plans.refresh, "UPDATE collect.task SET summary = $2 WHERE task_id = $1 AND status = 'open'",
					 2, ref_types);
		rargs[0] = Int64GetDatum(id);
		rargs[1] = args[3];
		SPI_execute_plan(plans.refresh, rargs, NULL, false, 0);
	}
	else
	{
		dunning_plan(&plans.insert,
					 "INSERT INTO collect.task (practice_id, patient_id, kind, summary, due_at, created_at)"
					 " VALUES ($1, $2, $3, $4, $5, $6) RETURNING task_id", 6, ins_types);
		if (SPI_execute_plan(plans.insert, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "opening the task failed");
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	return id;
}

static void
append_count(StringInfo s, int n, const char *one, const char *many, int *listed, int total)
{
	if (n == 0)
		return;
	if (*listed > 0)
		appendStringInfoString(s, *listed == total - 1 ? " and " : ", ");
	appendStringInfo(s, "%d %s", n, n == 1 ? one : many);
	(*listed)++;
}

char *
task_summary(const char *practice_id, const char *patient_id, const char *recommendation, TimestampTz as_of)
{
	static const Oid types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3];
	MemoryContext caller = CurrentMemoryContext;
	StringInfoData s;
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	pg_tz	   *tz;
	DateADT		today;
	Cents		balance;
	int			texts,
				emails,
				letters,
				calls,
				total;
	bool		responded;
	char	   *result;

	SPI_connect();
	dunning_plan(&plans.summary,
				 "SELECT a.balance, a.due_since, a.last_payment_at, a.last_payment_amount, a.last_response_at,"
				 " COALESCE(p.timezone, pr.timezone), c.texts, c.emails, c.letters, c.calls"
				 " FROM collect.account a"
				 " JOIN collect.patient p ON p.practice_id = a.practice_id AND p.patient_id = a.patient_id"
				 " JOIN collect.practice pr ON pr.practice_id = a.practice_id,"
				 " LATERAL (SELECT count(*) FILTER (WHERE channel = 'sms')::int AS texts,"
				 "   count(*) FILTER (WHERE channel = 'email')::int AS emails,"
				 "   count(*) FILTER (WHERE channel = 'letter')::int AS letters,"
				 "   count(*) FILTER (WHERE channel IN ('voice', 'call_task'))::int AS calls"
				 "   FROM collect.contact_attempt ca WHERE ca.practice_id = a.practice_id AND ca.patient_id = a.patient_id"
				 "   AND ca.at <= $3 AND ca.at > COALESCE(a.last_response_at, '-infinity')"
				 "   AND ca.outcome IN ('queued', 'sent', 'delivered', 'task_opened', 'no_answer', 'failed')) c"
				 " WHERE a.practice_id = $1 AND a.patient_id = $2", 3, types);
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = CStringGetTextDatum(patient_id);
	args[2] = TimestampTzGetDatum(as_of);
	if (SPI_execute_plan(plans.summary, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the account failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("patient \"%s\" of practice \"%s\" has no account", patient_id, practice_id)));
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	tz = timezone_lookup(SPI_getvalue(row, desc, 6));
	today = local_date(as_of, tz);
	initStringInfo(&s);
	balance = numeric_to_cents(SPI_getbinval(row, desc, 1, &isnull));
	d = SPI_getbinval(row, desc, 2, &isnull);
	if (balance <= 0)
		appendStringInfo(&s, "Owes nothing (balance %s).", cents_to_dollars(balance));
	else if (isnull)
		appendStringInfo(&s, "Owes %s.", cents_to_dollars(balance));
	else
	{
		int			days = today - DatumGetDateADT(d);

		appendStringInfo(&s, "Owes %s from a visit %d day%s ago.", cents_to_dollars(balance), days, days == 1 ? "" : "s");
	}
	texts = DatumGetInt32(SPI_getbinval(row, desc, 7, &isnull));
	emails = DatumGetInt32(SPI_getbinval(row, desc, 8, &isnull));
	letters = DatumGetInt32(SPI_getbinval(row, desc, 9, &isnull));
	calls = DatumGetInt32(SPI_getbinval(row, desc, 10, &isnull));
	total = (texts > 0) + (emails > 0) + (letters > 0) + (calls > 0);
	d = SPI_getbinval(row, desc, 5, &isnull);
	responded = !isnull;
	if (total > 0)
	{
		int			listed = 0;

		appendStringInfoString(&s, responded ? " Since the last reply, no response to " : " No response to ");
		append_count(&s, texts, "text", "texts", &listed, total);
		append_count(&s, emails, "email", "emails", &listed, total);
		append_count(&s, letters, "letter", "letters", &listed, total);
		append_count(&s, calls, "call", "calls", &listed, total);
		appendStringInfoChar(&s, '.');
	}
	else if (responded)
		appendStringInfo(&s, " Last replied %d days ago.", today - local_date(DatumGetTimestampTz(d), tz));
	else
		appendStringInfoString(&s, " No contact attempts yet.");
	d = SPI_getbinval(row, desc, 3, &isnull);
	if (isnull)
		appendStringInfoString(&s, " No payments yet.");
	else
	{
		int			days = today - local_date(DatumGetTimestampTz(d), tz);

		appendStringInfo(&s, " Last payment %s, %d day%s ago.",
						 cents_to_dollars(numeric_to_cents(SPI_getbinval(row, desc, 4, &isnull))),
						 days, days == 1 ? "" : "s");
	}
	/* "a payment plan" reads "Recommend a payment plan."; a full sentence stands as it is */
	if (recommendation != NULL && recommendation[0] != '\0')
		appendStringInfo(&s, " %s%s%s",
						 (recommendation[0] >= 'A' && recommendation[0] <= 'Z') ? "" : "Recommend ",
						 recommendation, recommendation[strlen(recommendation) - 1] == '.' ? "" : ".");
	SPI_freetuptable(SPI_tuptable);
	result = MemoryContextStrdup(caller, s.data);
	SPI_finish();
	return result;
}

PG_FUNCTION_INFO_V1(collect_task_summary);

Datum
collect_task_summary(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("practice_id, patient_id and as_of must not be null")));
	PG_RETURN_TEXT_P(cstring_to_text(task_summary(text_to_cstring(PG_GETARG_TEXT_PP(0)),
												  text_to_cstring(PG_GETARG_TEXT_PP(1)),
												  PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
												  PG_GETARG_TIMESTAMPTZ(3))));
}
