/*
 * plan_refund.c: the refund sweep (weekly by default, policy refund_sweep).
 * Once per sweep slot (Monday 06:00 practice time, or 06:00 every day for
 * "daily"), every credit balance is first applied to open balances of the
 * same family (same guarantor), documented on both sides of the ledger,
 * and what is left becomes a `refund` task due within
 * refund_due_business_days business days. Never the network, never the
 * wall clock.
 */
#include "collect.h"

#include "catalog/namespace.h"
#include "utils/lsyscache.h"

#include "outreach.h"
#include "plan.h"
#include "plan_internal.h"

/* The latest sweep slot at or before as_of */
static TimestampTz
sweep_slot(const Policy *policy, TimestampTz as_of, pg_tz *tz)
{
	bool		daily = strcmp(policy->refund_sweep, "daily") == 0;
	DateADT		today = local_date(as_of, tz);
	int			dow = j2day(today + POSTGRES_EPOCH_JDATE);	/* 0 = Sunday */
	DateADT		slot_date = daily ? today : today - ((dow + 6) % 7);
	TimestampTz slot = plan_local_time(slot_date, REFUND_SWEEP_HOUR, tz);

	if (slot > as_of)
		slot = plan_local_time(slot_date - (daily ? 1 : 7), REFUND_SWEEP_HOUR, tz);
	return slot;
}

/*
 * The test for a credit balance: 0.2 indexes the stored flag in_credit
 * (balance < 0, 30_plans.sql); a 0.1 database, which this library serves
 * until it is updated, has only balance.
 */
static const char *
credit_test(void)
{
	Oid			account = get_relname_relid("account", get_namespace_oid("collect", false));

	return get_attnum(account, "in_credit") != InvalidAttrNumber ? "a.in_credit" : "a.balance < 0";
}

/* Sweep one practice; returns the actions taken (transfers and tasks) */
static int64
sweep_practice(const char *practice_id, const Policy *policy, pg_tz *tz, TimestampTz slot, TimestampTz as_of)
{
	static SPIPlanPtr credits = NULL,
				family = NULL;
	Oid			t1[1] = {TEXTOID};
	Oid			t3[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		a1[1] = {CStringGetTextDatum(practice_id)};
	MemoryContext cxt = CurrentMemoryContext;
	int			n;
	char	  **patient,
			  **guarantor;
	Cents	   *credit;
	int64		actions = 0;
	DateADT		today = local_date(as_of, tz);
	char	   *slot_text = DatumGetCString(DirectFunctionCall1(date_out,
																DateADTGetDatum(local_date(slot, tz))));

	SPI_connect();
	plan_exec(plan_prepare(&credits, psprintf("SELECT a.patient_id, COALESCE(p.guarantor_id, p.patient_id), -a.balance"
											  " FROM collect.account a JOIN collect.patient p USING (practice_id, patient_id)"
											  " WHERE a.practice_id = $1 AND %s ORDER BY a.patient_id", credit_test()), 1, t1),
			  a1, NULL, true, 0);
	n = (int) SPI_processed;
	patient = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
	guarantor = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
	credit = MemoryContextAlloc(cxt, sizeof(Cents) * Max(n, 1));
	for (int r = 0; r < n; r++)
	{
		bool		isnull;

		patient[r] = plan_getstr(r, 1, cxt);
		guarantor[r] = plan_getstr(r, 2, cxt);
		credit[r] = numeric_to_cents(plan_getdatum(r, 3, &isnull));
	}
	SPI_finish();

	for (int r = 0; r < n; r++)
	{
		int			k;
		char	  **member;
		Cents	   *open,
				   *applied;
		Cents		left,
					moved = 0;

		CHECK_FOR_INTERRUPTS();
		SPI_connect();
		{
			Datum		a[3] = {a1[0], CStringGetTextDatum(guarantor[r]), CStringGetTextDatum(patient[r])};

			plan_exec(plan_prepare(&family, "SELECT a.patient_id, a.balance FROM collect.account a"
								   " JOIN collect.patient p USING (practice_id, patient_id)"
								   " WHERE a.practice_id = $1 AND COALESCE(p.guarantor_id, p.patient_id) = $2"
								   "   AND a.patient_id <> $3 AND a.balance > 0"
								   " ORDER BY a.due_since NULLS LAST, a.patient_id", 3, t3), a, NULL, true, 0);
		}
		k = (int) SPI_processed;
		member = MemoryContextAlloc(cxt, sizeof(char *) * Max(k, 1));
		open = MemoryContextAlloc(cxt, sizeof(Cents) * Max(k, 1));
		applied = MemoryContextAlloc(cxt, sizeof(Cents) * Max(k, 1));
		for (int i = 0; i < k; i++)
		{
			bool		isnull;

			member[i] = plan_getstr(i, 1, cxt);
			open[i] = numeric_to_cents(plan_getdatum(i, 2, &isnull));
		}
		SPI_finish();

		left = plan_family_allocate(credit[r], open, k, applied);
		for (int i = 0; i < k; i++)
		{
			char	   *xfer;

			if (applied[i] <= 0)
				continue;
			xfer = psprintf("credit_transfer:%s:%s:%s", slot_text, patient[r], member[i]);
			/* the credit side: money leaves the credit (a positive `refund` row, method credit_transfer) */
			plan_post_ledger(practice_id, patient[r], psprintf("%s:out", xfer), "refund", applied[i], as_of,
							 "credit_transfer", psprintf("credit applied to family member %s", member[i]));
			/* the owing side: an adjustment brings the family member's balance down */
			plan_post_ledger(practice_id, member[i], psprintf("%s:in", xfer), "adjustment", applied[i], as_of,
							 "credit_transfer", psprintf("credit from family member %s", patient[r]));
			audit_record(practice_id, patient[r], as_of, "collect", "credit_applied", member[i],
						 psprintf("%s of credit applied to the same guarantor's open balance",
								  cents_to_dollars(applied[i])), NULL);
			moved += applied[i];
			actions++;
		}
		if (left > 0)
		{
			DateADT		due = plan_business_days_after(today, policy->refund_due_business_days);

			task_open(practice_id, patient[r], "refund",
					  psprintf("Credit balance of %s%s. Refund it to the patient by %s (%d business days).",
							   cents_to_dollars(left),
							   moved > 0 ? psprintf(" after %s went to family balances", cents_to_dollars(moved)) : "",
							   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(due))),
							   policy->refund_due_business_days),
					  plan_local_time(due, REFUND_DUE_HOUR, tz), as_of);
			actions++;
		}
	}
	return actions;
}

int64
plan_refund_sweep(TimestampTz as_of)
{
	static SPIPlanPtr q = NULL,
				mark = NULL;
	Oid			t2[2] = {TEXTOID, TIMESTAMPTZOID};
	MemoryContext cxt = CurrentMemoryContext;
	int			n;
	char	  **practice,
			  **tzname;
	TimestampTz *last_run;
	bool	   *never;
	int64		actions = 0;

	SPI_connect();
	plan_exec(plan_prepare(&q, psprintf("SELECT pr.practice_id, pr.timezone, r.last_run_at FROM collect.practice pr"
										" LEFT JOIN collect.refund_sweep_run r ON r.practice_id = pr.practice_id"
										" WHERE EXISTS (SELECT 1 FROM collect.account a WHERE a.practice_id = pr.practice_id"
										"               AND %s) ORDER BY pr.practice_id", credit_test()), 0, NULL),
			  NULL, NULL, true, 0);
	n = (int) SPI_processed;
	practice = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
	tzname = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
	last_run = MemoryContextAlloc(cxt, sizeof(TimestampTz) * Max(n, 1));
	never = MemoryContextAlloc(cxt, sizeof(bool) * Max(n, 1));
	for (int r = 0; r < n; r++)
	{
		practice[r] = plan_getstr(r, 1, cxt);
		tzname[r] = plan_getstr(r, 2, cxt);
		last_run[r] = DatumGetTimestampTz(plan_getdatum(r, 3, &never[r]));
	}
	SPI_finish();

	for (int r = 0; r < n; r++)
	{
		Policy		policy;
		pg_tz	   *tz = timezone_lookup(tzname[r]);
		TimestampTz slot;

		if (tz == NULL)
			elog(ERROR, "practice \"%s\" has an invalid time zone", practice[r]);
		policy_load(practice[r], &policy);
		slot = sweep_slot(&policy, as_of, tz);
		if (!never[r] && last_run[r] >= slot)
			continue;
		actions += sweep_practice(practice[r], &policy, tz, slot, as_of);
		SPI_connect();
		{
			Datum		a[2] = {CStringGetTextDatum(practice[r]), TimestampTzGetDatum(as_of)};

			plan_exec(plan_prepare(&mark, "INSERT INTO collect.refund_sweep_run AS r (practice_id, last_run_at)"
								   " VALUES ($1, $2) ON CONFLICT (practice_id) DO UPDATE SET last_run_at = EXCLUDED.last_run_at",
								   2, t2), a, NULL, false, 0);
		}
		SPI_finish();
	}
	return actions;
}
