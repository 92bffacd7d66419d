/*
 * plan_hardship.c: an approved hardship (record_event 'hardship_approved').
 * The outcome is a temporary reduction (an adjustment on the ledger), a
 * longer term or a lower minimum (the live plan replaced by a hardship
 * plan), recorded in collect.hardship with a review date
 * hardship_support_months later, when tick opens a hardship_review task.
 * Never the network, never the wall clock (the event's time).
 */
#include "collect.h"

#include "outreach.h"
#include "plan.h"
#include "plan_internal.h"

static JsonbValue *
detail(Jsonb *details, const char *key)
{
	JsonbValue	k;

	if (details == NULL || !JB_ROOT_IS_OBJECT(details))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&details->root, JB_FOBJECT, &k);
}

static pg_attribute_noreturn() void
bad_detail(const char *key, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("hardship_approved details: \"%s\" must be %s", key, expected)));
}

/* a positive amount in dollars (number or numeric string) -> cents; 0 when absent */
static Cents
detail_cents(Jsonb *details, const char *key)
{
	JsonbValue *v = detail(details, key);
	Datum		num;

	if (v == NULL || v->type == jbvNull)
		return 0;
	if (v->type == jbvNumeric)
		num = NumericGetDatum(v->val.numeric);
	else if (v->type == jbvString)
	{
		char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

		if (strspn(s, "0123456789.") != strlen(s) || s[0] == '\0')
			bad_detail(key, "a positive amount in dollars");
		num = DirectFunctionCall3(numeric_in, CStringGetDatum(s), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	}
	else
		bad_detail(key, "a positive amount in dollars");
	if (numeric_to_cents(num) <= 0)
		bad_detail(key, "a positive amount in dollars");
	return numeric_to_cents(num);
}

static int
detail_int(Jsonb *details, const char *key, int min, int max)
{
	JsonbValue *v = detail(details, key);
	int			n;

	if (v == NULL || v->type == jbvNull)
		return 0;
	if (v->type != jbvNumeric)
		bad_detail(key, psprintf("a whole number from %d to %d", min, max));
	n = DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(v->val.numeric)));
	if (n < min || n > max)
		bad_detail(key, psprintf("a whole number from %d to %d", min, max));
	return n;
}

/* Returns the hardship_id. */
static int64
hardship_apply(const char *practice_id, const char *patient_id, Jsonb *details, TimestampTz at)
{
	static SPIPlanPtr ins = NULL,
				upd = NULL;
	Oid			ti[6] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, JSONBOID, TIMESTAMPTZOID};
	Oid			tu[4] = {TEXTOID, INT8OID, NUMERICOID, INT8OID};
	JsonbValue *ov = detail(details, "outcome");
	char	   *outcome;
	Policy		policy;
	pg_tz	   *tz;
	int			months;
	DateADT		review_date;
	TimestampTz review_at;
	Cents		balance,
				last_payment,
				reduction = 0;
	TimestampTz last_payment_at;
	int64		hardship_id,
				plan_id = 0;
	bool		isnull;
	int			left;

	/* without an outcome the hardship is a pause of collection until the review */
	if (ov == NULL || ov->type == jbvNull)
		outcome = "pause";
	else if (ov->type != jbvString)
		bad_detail("outcome", "one of reduction, longer_term, lower_minimum, pause");
	else
		outcome = pnstrdup(ov->val.string.val, ov->val.string.len);
	if (strcmp(outcome, "reduction") != 0 && strcmp(outcome, "longer_term") != 0 &&
		strcmp(outcome, "lower_minimum") != 0 && strcmp(outcome, "pause") != 0)
		bad_detail("outcome", "one of reduction, longer_term, lower_minimum, pause");

	policy_load(practice_id, &policy);
	tz = plan_practice_tz(practice_id);
	months = detail_int(details, "months", 6, 12);
	if (months == 0)
		months = policy.hardship_support_months;
	review_date = plan_add_months(local_date(at, tz), months);
	review_at = plan_local_time(review_date, PLAN_REMINDER_HOUR, tz);
	plan_account_facts(practice_id, patient_id, &balance, &last_payment, &last_payment_at);

	SPI_connect();
	{
		Datum		a[6] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id), TimestampTzGetDatum(at),
		CStringGetTextDatum(outcome), JsonbPGetDatum(details), TimestampTzGetDatum(review_at)};

		plan_exec(plan_prepare(&ins, "INSERT INTO collect.hardship (practice_id, patient_id, approved_at, outcome, details,"
							   " review_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING hardship_id", 6, ti),
				  a, NULL, false, 1);
		hardship_id = DatumGetInt64(plan_getdatum(0, 1, &isnull));
	}
	SPI_finish();

	if (strcmp(outcome, "reduction") == 0)
	{
		reduction = detail_cents(details, "amount");
		if (reduction == 0)
			bad_detail("amount", "given for a reduction");
		if (reduction > balance)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hardship reduction %s is more than the balance %s",
							cents_to_dollars(reduction), cents_to_dollars(balance))));
		plan_post_ledger(practice_id, patient_id, psprintf("hardship:" INT64_FORMAT, hardship_id), "adjustment",
						 reduction, at, "hardship", psprintf("hardship reduction until %s",
															 DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(review_date)))));
		balance -= reduction;
	}
	left = plan_cancel_live(practice_id, patient_id, at, "replaced by a hardship arrangement");
	if (balance > 0)
	{
		int			n = 0;

		if (strcmp(outcome, "longer_term") == 0)
		{
			n = detail_int(details, "installments", 1, PLAN_MAX_INSTALLMENTS);
			if (n == 0)
				n = Min(PLAN_MAX_INSTALLMENTS, 2 * plan_installment_count(&policy, balance));
		}
		else if (strcmp(outcome, "lower_minimum") == 0)
		{
			Cents		minimum = detail_cents(details, "minimum");

			if (minimum == 0)
				bad_detail("minimum", "given for a lower minimum");
			/* as many installments as keep each at or above the minimum */
			n = (int) Max((Cents) 1, Min((Cents) PLAN_MAX_INSTALLMENTS, balance / minimum));
		}
		else if (strcmp(outcome, "reduction") == 0 && left > 0)
			n = left;			/* a reduction keeps the plan's remaining count */
		if (n > 0)
			plan_id = plan_create(practice_id, patient_id, n, 0, false, "hardship", "hardship", at);
	}
	SPI_connect();
	{
		Datum		a[4] = {CStringGetTextDatum(practice_id), Int64GetDatum(hardship_id), cents_to_numeric(reduction),
		Int64GetDatum(plan_id)};
		char		nulls[4] = {' ', ' ', reduction > 0 ? ' ' : 'n', plan_id != 0 ? ' ' : 'n'};

		plan_exec(plan_prepare(&upd, "UPDATE collect.hardship SET adjustment = $3, plan_id = $4"
							   " WHERE practice_id = $1 AND hardship_id = $2", 4, tu), a, nulls, false, 0);
	}
	SPI_finish();
	/*
	 * With a plan the plan is the arrangement: its reminders and charges go
	 * on (no hardship hold). Without one, the hold events.c set
	 * (hardship_until) rests collection until the review.
	 */
	if (plan_id != 0)
	{
		static SPIPlanPtr hold = NULL;
		Oid			th[2] = {TEXTOID, TEXTOID};
		Datum		ha[2] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id)};

		SPI_connect();
		plan_exec(plan_prepare(&hold, "UPDATE collect.account SET hardship_until = NULL, state = 'on_plan',"
							   " next_action_at = NULL WHERE practice_id = $1 AND patient_id = $2", 2, th),
				  ha, NULL, false, 0);
		SPI_finish();
	}

	plan_notify(practice_id, patient_id, psprintf("notice:hardship:" INT64_FORMAT ":confirmation", hardship_id),
				"hardship_confirmation", NULL, review_date, at, at);
	audit_record(practice_id, patient_id, at, "collect", "hardship_approved",
				 psprintf("hardship:" INT64_FORMAT, hardship_id),
				 psprintf("%s; review on %s", outcome,
						  DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(review_date)))),
				 details);
	return hardship_id;
}

void
plan_hardship_approved(const char *practice_id, const char *patient_id, Jsonb *details, TimestampTz at)
{
	(void) hardship_apply(practice_id, patient_id, details, at);
}
