/*
 * explain.c: collect.explain_balance(practice_id, patient_id): plain words
 * a voice agent or the front desk can read out: each open visit (date,
 * what was billed, what insurance paid, the patient's part), payments and
 * credits, what is left, and the options. Minimum PHI: dates and amounts
 * only, never a procedure, diagnosis, provider or ledger note. Read-only.
 */
#include "collect.h"

#include "lib/stringinfo.h"

#include "dunning.h"

PG_FUNCTION_INFO_V1(collect_explain_balance);

static const char *
money_or_none(HeapTuple row, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, desc, col, &isnull);

	return isnull ? NULL : cents_to_dollars(numeric_to_cents(d));
}

Datum
collect_explain_balance(PG_FUNCTION_ARGS)
{
	static const Oid types[2] = {TEXTOID, TEXTOID};
	char	   *practice_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *patient_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Datum		args[2] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id)};
	MemoryContext caller = CurrentMemoryContext;
	OutreachTarget t;
	StringInfoData s;
	char	   *result;
	Cents		credits = 0;
	int			nvisits;

	SPI_connect();
	outreach_load_target(practice_id, patient_id, &t);
	initStringInfo(&s);
	if (!t.has_account || t.balance == 0)
	{
		appendStringInfo(&s, "%s has no balance with %s. Nothing is owed.",
						 t.first_name ? t.first_name : "This patient", t.practice_name ? t.practice_name : "the practice");
		goto done;
	}
	if (t.balance < 0)
	{
		appendStringInfo(&s, "%s has a credit of %s with %s. The practice will refund it or apply it to the next visit.",
						 t.first_name ? t.first_name : "This patient", cents_to_dollars(-t.balance),
						 t.practice_name ? t.practice_name : "the practice");
		goto done;
	}

	appendStringInfo(&s, "%s owes %s to %s.", t.first_name ? t.first_name : "This patient",
					 cents_to_dollars(t.balance), t.practice_name ? t.practice_name : "the practice");

	/* visits: charges grouped by visit (or service date), oldest first */
	if (SPI_execute_with_args("SELECT COALESCE(min(service_date), min(posted_at)::date), sum(billed_amount),"
							  " sum(insurance_paid), sum(amount)"
							  " FROM collect.ledger WHERE practice_id = $1 AND patient_id = $2 AND kind = 'charge'"
							  " GROUP BY COALESCE(visit_id, service_date::text, external_id)"
							  " ORDER BY 1 LIMIT 20", 2, (Oid *) types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the visits failed");
	nvisits = (int) SPI_processed;
	for (int i = 0; i < nvisits; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		DateADT		d = DatumGetDateADT(SPI_getbinval(row, desc, 1, &isnull));
		const char *billed = money_or_none(row, desc, 2);
		const char *ins = money_or_none(row, desc, 3);

		appendStringInfo(&s, " Visit on %s:", format_local_date(d, "en"));
		if (billed)
			appendStringInfo(&s, " billed %s,", billed);
		if (ins)
			appendStringInfo(&s, " insurance paid %s,", ins);
		else
			appendStringInfoString(&s, " no insurance payment on file,");
		appendStringInfo(&s, " the patient's part was %s.", money_or_none(row, desc, 4));
	}
	SPI_freetuptable(SPI_tuptable);

	if (SPI_execute_with_args("SELECT COALESCE(sum(amount) FILTER (WHERE kind IN ('payment', 'adjustment', 'write_off')), 0)"
							  " - COALESCE(sum(amount) FILTER (WHERE kind IN ('refund', 'reversal')), 0)"
							  " FROM collect.ledger WHERE practice_id = $1 AND patient_id = $2",
							  2, (Oid *) types, args, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;

		credits = numeric_to_cents(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_freetuptable(SPI_tuptable);
	}
	if (credits > 0)
		appendStringInfo(&s, " Payments and credits so far: %s.", cents_to_dollars(credits));
	if (t.last_payment_at != DT_NOBEGIN)
		appendStringInfo(&s, " The last payment was %s on %s.", cents_to_dollars(t.last_payment_amount),
						 format_local_date(local_date(t.last_payment_at, t.tz), "en"));
	appendStringInfo(&s, " What is left: %s.", cents_to_dollars(t.balance));

	if (t.dispute_open)
		appendStringInfoString(&s, " A question about this bill is being reviewed; no payment is asked for until it is answered.");
	else if (t.assistance_open)
		appendStringInfoString(&s, " A financial-assistance application is being reviewed; collection is paused meanwhile.");
	else if (strcmp(t.state, "on_plan") == 0)
		appendStringInfoString(&s, " A payment plan is in place.");
	else
	{
		appendStringInfoString(&s, " Options: pay in full with the secure link or by phone");
		if (t.balance > t.policy->plan_offer_above)
			appendStringInfoString(&s, ", set up a monthly payment plan");
		appendStringInfoString(&s, ", or ask about financial assistance.");
	}

done:
	result = MemoryContextStrdup(caller, s.data);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
