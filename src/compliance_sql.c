/*
 * compliance_sql.c: SQL entry points of the compliance rules that read
 * rows: the calendar functions, collect.validation_notice (Reg F
 * itemization) and collect.eca_block_reason. Decisions are holds.c's and
 * calendar.c's; this file gathers facts and formats answers. Never reads
 * the wall clock: every function takes its date or as_of.
 */
#include "collect.h"

#include "calendar.h"
#include "dunning.h"
#include "holds.h"

PG_FUNCTION_INFO_V1(collect_federal_holiday);
PG_FUNCTION_INFO_V1(collect_is_business_day);
PG_FUNCTION_INFO_V1(collect_add_business_days);
PG_FUNCTION_INFO_V1(collect_validation_period_end);
PG_FUNCTION_INFO_V1(collect_validation_notice);
PG_FUNCTION_INFO_V1(collect_eca_block_reason);

static DateADT
finite_date(DateADT d)
{
	if (DATE_NOT_FINITE(d))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("the date must be finite")));
	return d;
}

Datum
collect_federal_holiday(PG_FUNCTION_ARGS)
{
	const char *name = NULL;

	if (!calendar_is_federal_holiday(finite_date(PG_GETARG_DATEADT(0)), &name))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(name));
}

Datum
collect_is_business_day(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(calendar_is_business_day(finite_date(PG_GETARG_DATEADT(0))));
}

Datum
collect_add_business_days(PG_FUNCTION_ARGS)
{
	int			n = PG_GETARG_INT32(1);

	if (n < 0 || n > 3660)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("business days to add must be between 0 and 3660, not %d", n)));
	PG_RETURN_DATEADT(calendar_add_business_days(finite_date(PG_GETARG_DATEADT(0)), n));
}

Datum
collect_validation_period_end(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATEADT(validation_period_end(finite_date(PG_GETARG_DATEADT(0))));
}

/*
 * Itemization (12 CFR 1006.34(c)(2)(vi)-(viii)): the itemization date is
 * the transaction date of the oldest unpaid charge (account.due_since,
 * 1006.34(b)(3)(v)); the amount then is the signed ledger sum up to the
 * end of that day; since then: interest (collect charges none), new
 * charges as fees, payments net of reversals, credits (adjustments and
 * write-offs net of refunds); the amount now is the balance at sent_at.
 */
Datum
collect_validation_notice(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2)};
	TupleDesc	desc;
	Datum		values[8];
	bool		nulls[8] = {0};
	HeapTuple	row;
	bool		isnull;
	Cents		then, fees, payments, credits;
	DateADT		item;
	pg_tz	   *tz;
	MemoryContext caller = CurrentMemoryContext;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "validation_notice must return a row");
	SPI_connect();
	dunning_plan(&plan,
				 "WITH a AS (SELECT ac.due_since, COALESCE(p.timezone, pr.timezone) AS tz"
				 "  FROM collect.patient p JOIN collect.practice pr USING (practice_id)"
				 "  LEFT JOIN collect.account ac ON ac.practice_id = p.practice_id AND ac.patient_id = p.patient_id"
				 "  WHERE p.practice_id = $1 AND p.patient_id = $2),"
				 " l AS (SELECT l.kind, l.amount, (l.posted_at AT TIME ZONE a.tz)::date AS day, a.due_since"
				 "  FROM collect.ledger l, a WHERE l.practice_id = $1 AND l.patient_id = $2 AND l.posted_at <= $3)"
				 " SELECT a.due_since, a.tz,"
				 "  COALESCE((SELECT sum(CASE WHEN kind IN ('charge','refund','reversal') THEN amount ELSE -amount END)"
				 "            FROM l WHERE day <= l.due_since), 0),"
				 "  COALESCE((SELECT sum(amount) FROM l WHERE day > l.due_since AND kind = 'charge'), 0),"
				 "  COALESCE((SELECT sum(CASE WHEN kind = 'payment' THEN amount ELSE -amount END) FROM l"
				 "            WHERE day > l.due_since AND kind IN ('payment','reversal')), 0),"
				 "  COALESCE((SELECT sum(CASE WHEN kind = 'refund' THEN -amount ELSE amount END) FROM l"
				 "            WHERE day > l.due_since AND kind IN ('adjustment','write_off','refund')), 0)"
				 " FROM a", 3, types);
	if (SPI_execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the ledger failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("patient \"%s\" of practice \"%s\" does not exist",
						TextDatumGetCString(args[1]), TextDatumGetCString(args[0]))));
	row = SPI_tuptable->vals[0];
	item = DatumGetDateADT(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("patient \"%s\" has no unpaid balance to validate", TextDatumGetCString(args[1]))));
	tz = timezone_lookup(SPI_getvalue(row, SPI_tuptable->tupdesc, 2));
	then = numeric_to_cents(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull));
	fees = numeric_to_cents(SPI_getbinval(row, SPI_tuptable->tupdesc, 4, &isnull));
	payments = numeric_to_cents(SPI_getbinval(row, SPI_tuptable->tupdesc, 5, &isnull));
	credits = numeric_to_cents(SPI_getbinval(row, SPI_tuptable->tupdesc, 6, &isnull));
	SPI_finish();
	MemoryContextSwitchTo(caller);

	values[0] = DateADTGetDatum(item);
	values[1] = cents_to_numeric(then);
	values[2] = cents_to_numeric(0);
	values[3] = cents_to_numeric(fees);
	values[4] = cents_to_numeric(payments);
	values[5] = cents_to_numeric(credits);
	values[6] = cents_to_numeric(then + fees - payments - credits);
	values[7] = DateADTGetDatum(validation_period_end(local_date(PG_GETARG_TIMESTAMPTZ(2), tz)));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* the facts of the extraordinary-action gates for a loaded target */
EcaDecision
eca_check(const OutreachTarget *t, EcaAction action, TimestampTz at)
{
	EcaFacts	f;
	const LegalHold *h = hold_active(t->holds, t->n_holds, at, false);

	memset(&f, 0, sizeof(f));
	f.action = action;
	f.at = at;
	f.first_statement_at = t->first_statement_at;
	f.notice_sent_at = t->eca_notice_at;
	f.balance = t->balance;
	f.open_hold = h ? h->kind : t->dispute_open ? "dispute" : t->assistance_open ? "assistance" :
		(t->hardship_until != DT_NOBEGIN && t->hardship_until > at) ? "hardship" : NULL;
	return eca_decide(&f);
}

Datum
collect_eca_block_reason(PG_FUNCTION_ARGS)
{
	OutreachTarget t;
	EcaDecision d;
	EcaAction action = eca_action_from_name(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	MemoryContext caller = CurrentMemoryContext;
	char	   *result = NULL;

	SPI_connect();
	outreach_load_target(text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)), &t);
	d = eca_check(&t, action, PG_GETARG_TIMESTAMPTZ(3));
	if (!d.allowed)
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		result = psprintf("%s: %s (%s)", d.rule, d.reason, d.source);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
