/*
 * plan_quote.c: the pure arithmetic of payment plans: installment counts
 * by balance tier, the exact split to the cent, due dates across month
 * ends and February, local charge times across DST, retry timing,
 * business days, the approval rule, family credit allocation and
 * settlement limits. Numbers in, numbers out: never SPI, never the clock.
 * The SQL wrappers at the end exist so pg_regress can test each rule.
 */
#include "collect.h"

#include "utils/array.h"

#include "plan.h"

int
plan_installment_count(const Policy *policy, Cents balance)
{
	for (int i = 0; i < policy->n_tiers; i++)
		if (policy->tiers[i].under < 0 || balance < policy->tiers[i].under)
			return policy->tiers[i].count;
	/* policy.c guarantees an open-ended last tier */
	elog(ERROR, "plan_installments has no tier for %s", cents_to_dollars(balance));
}

int
plan_split(Cents total, int n, Cents *amounts)
{
	Cents		base,
				rest;

	if (total <= 0 || n <= 0)
		return 0;
	if (total < n)
		n = (int) total;
	base = total / n;
	rest = total % n;
	for (int i = 0; i < n; i++)
		amounts[i] = base + (i < rest ? 1 : 0);
	return n;
}

static int
days_in_month(int year, int month)
{
	return day_tab[isleap(year)][month - 1];
}

DateADT
plan_add_months(DateADT date, int months)
{
	int			y,
				m,
				d,
				idx;

	j2date(date + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	idx = y * 12 + (m - 1) + months;
	y = idx / 12;
	m = idx % 12 + 1;
	d = Min(d, days_in_month(y, m));
	return date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
}

DateADT
plan_due_date(DateADT first_due, int anchor_day, int k)
{
	int			y,
				m,
				d,
				idx;

	j2date(first_due + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	idx = y * 12 + (m - 1) + k;
	y = idx / 12;
	m = idx % 12 + 1;
	d = Min(anchor_day, days_in_month(y, m));
	return date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
}

DateADT
plan_first_due(DateADT today, int day_of_month, int lead_days)
{
	DateADT		earliest = today + lead_days + 1;
	int			y,
				m,
				d;

	j2date(earliest + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	if (d <= Min(day_of_month, days_in_month(y, m)))
		return date2j(y, m, Min(day_of_month, days_in_month(y, m))) - POSTGRES_EPOCH_JDATE;
	return plan_due_date(date2j(y, m, 1) - POSTGRES_EPOCH_JDATE, day_of_month, 1);
}

TimestampTz
plan_local_time(DateADT date, int hour, pg_tz *tz)
{
	struct pg_tm tm;
	int			tzoff;
	TimestampTz result;

	memset(&tm, 0, sizeof(tm));
	j2date(date + POSTGRES_EPOCH_JDATE, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_hour = hour;
	tzoff = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, 0, &tzoff, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("date out of range for a plan")));
	return result;
}

TimestampTz
plan_retry_at(TimestampTz failed_at, int hours)
{
	return failed_at + (TimestampTz) hours * USECS_PER_HOUR;
}

DateADT
plan_business_days_after(DateADT date, int n)
{
	DateADT		d = date;

	while (n > 0)
	{
		int			dow;

		d++;
		dow = j2day(d + POSTGRES_EPOCH_JDATE);	/* 0 = Sunday */
		if (dow != 0 && dow != 6)
			n--;
	}
	return d;
}

const char *
plan_approval_reason(const Policy *policy, Cents total, int n, bool clean_history)
{
	if (n > policy->plan_auto_approve_max_installments)
		return psprintf("%d installments is more than the %d that are approved automatically",
						n, policy->plan_auto_approve_max_installments);
	if (total > policy->plan_auto_approve_max_balance)
		return psprintf("%s is more than the %s that is approved automatically",
						cents_to_dollars(total), cents_to_dollars(policy->plan_auto_approve_max_balance));
	if (!clean_history)
		return pstrdup("a missed installment or a reversed payment in the last 12 months");
	return NULL;
}

Cents
plan_family_allocate(Cents credit, const Cents *open, int n, Cents *applied)
{
	for (int i = 0; i < n; i++)
	{
		applied[i] = Max(0, Min(credit, open[i]));
		credit -= applied[i];
	}
	return credit;
}

Cents
settlement_discount(Cents balance, int pct)
{
	if (balance <= 0 || pct <= 0)
		return 0;
	return balance * pct / 100;	/* rounds down: never above pct */
}

const char *
settlement_block_reason(const Policy *policy, int days_past_due, int documented_attempts, int pct)
{
	if (days_past_due < policy->settlement_min_age_days)
		return psprintf("the balance is %d days old; settlements start at %d days",
						days_past_due, policy->settlement_min_age_days);
	if (documented_attempts < SETTLEMENT_MIN_ATTEMPTS)
		return psprintf("%d documented contact attempts; a settlement needs at least %d",
						documented_attempts, SETTLEMENT_MIN_ATTEMPTS);
	if (pct < 0 || pct > policy->settlement_max_discount_pct)
		return psprintf("a %d%% discount is above the %d%% the policy allows",
						pct, policy->settlement_max_discount_pct);
	return NULL;
}

/* ---- SQL wrappers of the pure rules, for tests and for staff tools ---- */

PG_FUNCTION_INFO_V1(plan_split_sql);
PG_FUNCTION_INFO_V1(plan_due_date_sql);
PG_FUNCTION_INFO_V1(plan_first_due_sql);
PG_FUNCTION_INFO_V1(plan_business_days_after_sql);

/* collect.plan_split(total numeric, n int) RETURNS numeric[] */
Datum
plan_split_sql(PG_FUNCTION_ARGS)
{
	Cents		total = numeric_to_cents(PG_GETARG_DATUM(0));
	int			n = PG_GETARG_INT32(1);
	Cents	   *amounts;
	Datum	   *elems;
	int			got;

	if (n < 1 || n > PLAN_MAX_INSTALLMENTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("installments must be between 1 and %d, got %d", PLAN_MAX_INSTALLMENTS, n)));
	amounts = palloc(sizeof(Cents) * n);
	elems = palloc(sizeof(Datum) * n);
	got = plan_split(total, n, amounts);
	for (int i = 0; i < got; i++)
		elems[i] = cents_to_numeric(amounts[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, got, NUMERICOID, -1, false, TYPALIGN_INT));
}

/* collect.plan_due_date(first_due date, anchor_day int, k int) RETURNS date */
Datum
plan_due_date_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATEADT(plan_due_date(PG_GETARG_DATEADT(0), PG_GETARG_INT32(1), PG_GETARG_INT32(2)));
}

/* collect.plan_first_due(today date, day_of_month int, lead_days int) RETURNS date */
Datum
plan_first_due_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATEADT(plan_first_due(PG_GETARG_DATEADT(0), PG_GETARG_INT32(1), PG_GETARG_INT32(2)));
}

/* collect.business_days_after(d date, n int) RETURNS date */
Datum
plan_business_days_after_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATEADT(plan_business_days_after(PG_GETARG_DATEADT(0), PG_GETARG_INT32(1)));
}
