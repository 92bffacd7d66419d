/*
 * explain.c: collect.explain_balance(practice_id, patient_id): plain words
 * a voice agent or the front desk can read out, in the patient's language
 * (English or Spanish): each visit (date, what was billed, what insurance
 * paid, the patient's part), payments and credits, what is left, and the
 * options. Minimum PHI: dates and amounts only, never a procedure,
 * diagnosis, provider or ledger note. Read-only.
 */
#include "collect.h"

#include "lib/stringinfo.h"

#include "dunning.h"

/* The sentences, one set per language; %s are filled in order */
typedef struct Phrases
{
	const char *lang;
	const char *someone;
	const char *practice;
	const char *nothing;		/* name, practice */
	const char *credit;			/* name, amount, practice */
	const char *owes;			/* name, amount, practice */
	const char *visit;			/* date */
	const char *billed;			/* amount */
	const char *insurance;		/* amount */
	const char *no_insurance;
	const char *part;			/* amount */
	const char *credits;		/* amount */
	const char *last_payment;	/* amount, date */
	const char *left;			/* amount */
	const char *dispute;
	const char *assistance;
	const char *plan;
	const char *options;
	const char *options_plan;
	const char *options_end;
} Phrases;

static const Phrases phrases[] = {
	{"en", "This patient", "the practice",
		"%s has no balance with %s. Nothing is owed.",
		"%s has a credit of %s with %s. The practice will refund it or apply it to the next visit.",
		"%s owes %s to %s.", " Visit on %s:", " billed %s,", " insurance paid %s,",
		" no insurance payment on file,", " the patient's part was %s.",
		" Payments and credits so far: %s.", " The last payment was %s on %s.", " What is left: %s.",
		" A question about this bill is being reviewed; no payment is asked for until it is answered.",
		" A financial-assistance application is being reviewed; collection is paused meanwhile.",
		" A payment plan is in place.",
		" Options: pay in full with the secure link or by phone", ", set up a monthly payment plan",
	", or ask about financial assistance."},
	{"es", "Este paciente", "la clínica",
		"%s no tiene saldo con %s. No debe nada.",
		"%s tiene un crédito de %s con %s. La clínica se lo devolverá o lo aplicará a la próxima visita.",
		"%s debe %s a %s.", " Visita del %s:", " se facturó %s,", " el seguro pagó %s,",
		" no hay pago del seguro registrado,", " la parte del paciente fue %s.",
		" Pagos y créditos hasta ahora: %s.", " El último pago fue de %s el %s.", " Queda por pagar: %s.",
		" Se está revisando una pregunta sobre esta factura; no se pide ningún pago hasta responderla.",
		" Se está revisando una solicitud de asistencia financiera; el cobro está en pausa mientras tanto.",
		" Hay un plan de pagos en curso.",
		" Opciones: pagar el total con el enlace seguro o por teléfono", ", acordar un plan de pagos mensual",
	", o preguntar por la asistencia financiera."},
};

PG_FUNCTION_INFO_V1(collect_explain_balance);

static const char *
money_or_none(HeapTuple row, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, desc, col, &isnull);

	return isnull ? NULL : cents_to_dollars(numeric_to_cents(d));
}

static void
explain_visits(StringInfo s, const Phrases *ph, Datum *args, const char *language)
{
	static const Oid types[2] = {TEXTOID, TEXTOID};

	/* charges grouped by visit (or service date), oldest first */
	if (SPI_execute_with_args("SELECT COALESCE(min(service_date), min(posted_at)::date), sum(billed_amount),"
							  " sum(insurance_paid), sum(amount)"
							  " FROM collect.ledger WHERE practice_id = $1 AND patient_id = $2 AND kind = 'charge'"
							  " GROUP BY COALESCE(visit_id, service_date::text, external_id)"
							  " ORDER BY 1 LIMIT 20", 2, (Oid *) types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the visits failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		DateADT		d = DatumGetDateADT(SPI_getbinval(row, desc, 1, &isnull));
		const char *billed = money_or_none(row, desc, 2);
		const char *ins = money_or_none(row, desc, 3);

		appendStringInfo(s, ph->visit, format_local_date(d, language));
		if (billed)
			appendStringInfo(s, ph->billed, billed);
		if (ins)
			appendStringInfo(s, ph->insurance, ins);
		else
			appendStringInfoString(s, ph->no_insurance);
		appendStringInfo(s, ph->part, money_or_none(row, desc, 4));
	}
	SPI_freetuptable(SPI_tuptable);
}

static Cents
credits_so_far(Datum *args)
{
	static const Oid types[2] = {TEXTOID, TEXTOID};
	Cents		credits = 0;

	if (SPI_execute_with_args("SELECT COALESCE(sum(amount) FILTER (WHERE kind IN ('payment', 'adjustment', 'write_off')), 0)"
							  " - COALESCE(sum(amount) FILTER (WHERE kind IN ('refund', 'reversal')), 0)"
							  " FROM collect.ledger WHERE practice_id = $1 AND patient_id = $2",
							  2, (Oid *) types, args, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;

		credits = numeric_to_cents(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_freetuptable(SPI_tuptable);
	}
	return credits;
}

Datum
collect_explain_balance(PG_FUNCTION_ARGS)
{
	char	   *practice_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *patient_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Datum		args[2] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id)};
	MemoryContext caller = CurrentMemoryContext;
	OutreachTarget t;
	StringInfoData s;
	char	   *result;
	Cents		credits;
	const Phrases *ph = &phrases[0];
	const char *name,
			   *practice;

	SPI_connect();
	outreach_load_target(practice_id, patient_id, &t);
	for (size_t i = 0; i < lengthof(phrases); i++)
		if (t.language != NULL && strncmp(t.language, phrases[i].lang, 2) == 0)
			ph = &phrases[i];
	name = t.first_name ? t.first_name : ph->someone;
	practice = t.practice_name ? t.practice_name : ph->practice;
	initStringInfo(&s);

	if (!t.has_account || t.balance == 0)
		appendStringInfo(&s, ph->nothing, name, practice);
	else if (t.balance < 0)
		appendStringInfo(&s, ph->credit, name, cents_to_dollars(-t.balance), practice);
	else
	{
		appendStringInfo(&s, ph->owes, name, cents_to_dollars(t.balance), practice);
		explain_visits(&s, ph, args, ph->lang);
		credits = credits_so_far(args);
		if (credits > 0)
			appendStringInfo(&s, ph->credits, cents_to_dollars(credits));
		if (t.last_payment_at != DT_NOBEGIN)
			appendStringInfo(&s, ph->last_payment, cents_to_dollars(t.last_payment_amount),
							 format_local_date(local_date(t.last_payment_at, t.tz), ph->lang));
		appendStringInfo(&s, ph->left, cents_to_dollars(t.balance));
		if (t.dispute_open)
			appendStringInfoString(&s, ph->dispute);
		else if (t.assistance_open)
			appendStringInfoString(&s, ph->assistance);
		else if (strcmp(t.state, "on_plan") == 0)
			appendStringInfoString(&s, ph->plan);
		else
		{
			appendStringInfoString(&s, ph->options);
			if (t.balance > t.policy->plan_offer_above)
				appendStringInfoString(&s, ph->options_plan);
			appendStringInfoString(&s, ph->options_end);
		}
	}
	result = MemoryContextStrdup(caller, s.data);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
