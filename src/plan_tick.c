/*
 * plan_tick.c: the plan pass of collect.tick. At as_of it settles
 * installments with the payments posted since the plan began (paying
 * ahead), queues reminders plan_reminder_days_before each due date,
 * queues autopay charges on the due date and retries after
 * payment_retry_after_hours, marks missed installments, defaults plans
 * with two misses (the account back in the cadence at a firmer step),
 * opens hardship reviews, and runs the settlement and refund passes.
 * Every action is recorded on its row so a second call with the same
 * as_of takes none. Decisions come from plan_quote.c; no network, no
 * wall clock.
 */
#include "collect.h"

#include "commands/trigger.h"

#include "account_upkeep.h"
#include "outreach.h"
#include "plan.h"
#include "plan_internal.h"

PG_FUNCTION_INFO_V1(plans_tick_sql);

/* One installment row a pass looks at */
typedef struct DueRow
{
	char	   *practice_id;
	char	   *patient_id;
	char	   *timezone;
	int64		plan_id;
	int			seq;
	DateADT		due_date;
	Cents		amount;
	int			attempts;
	char	   *customer;		/* NULL: no card on file */
	char	   *method;
	Cents		balance;
	Cents		free_credit;	/* payments since the plan began not yet attributed */
	bool		is_first;		/* the first unpaid installment */
} DueRow;

/* the installment rows a pass looks at; DUE_CREDIT adds what charges need */
#define DUE_COLUMNS \
	"SELECT i.practice_id, p.patient_id, pr.timezone, i.plan_id, i.seq, i.due_date, i.amount, i.attempts," \
	"  m.provider_customer, m.provider_method, COALESCE(a.balance, 0), "
#define DUE_CREDIT \
	"  COALESCE((SELECT sum(CASE WHEN l.kind = 'payment' THEN l.amount ELSE -l.amount END) FROM collect.ledger l" \
	"            WHERE l.practice_id = p.practice_id AND l.patient_id = p.patient_id" \
	"              AND l.kind IN ('payment', 'reversal') AND l.posted_at >= p.credit_from AND l.posted_at <= $1), 0)" \
	"  - COALESCE((SELECT sum(j.paid_amount) FROM collect.installment j" \
	"              WHERE j.practice_id = i.practice_id AND j.plan_id = i.plan_id AND j.status = 'paid'), 0)," \
	"  i.seq = (SELECT min(j.seq) FROM collect.installment j WHERE j.practice_id = i.practice_id" \
	"           AND j.plan_id = i.plan_id AND j.status IN ('due', 'failed'))"
#define DUE_NO_CREDIT " 0::numeric, false"
#define DUE_FROM \
	" FROM collect.installment i" \
	" JOIN collect.plan p ON p.practice_id = i.practice_id AND p.plan_id = i.plan_id" \
	" JOIN collect.practice pr ON pr.practice_id = i.practice_id" \
	" LEFT JOIN collect.payment_method m ON m.practice_id = p.practice_id AND m.patient_id = p.patient_id" \
	"   AND m.revoked_at IS NULL AND m.consent_at <= $1" \
	" LEFT JOIN collect.account a ON a.practice_id = p.practice_id AND a.patient_id = p.patient_id" \
	" WHERE p.status || '' = 'active' AND "
/*
 * the practice's plan_reminder_days_before, in SQL (the C decision
 * re-checks it exactly); "+ 15" (the largest lead, 14, plus a day) lets
 * the due-date index bound the scan
 */
#define REMINDER_LEAD \
	"(COALESCE(pr.policy -> 'plan_reminder_days_before'," \
	"  (SELECT d.value FROM collect.policy_default d WHERE d.key = 'plan_reminder_days_before')))::int"
/*
 * "p.status || ''" keeps the planner off plan_one_live_idx (whose predicate
 * "status = 'active'" would match): with stale statistics it probed that
 * index by practice alone for every installment (16 s for 10,000 plans
 * instead of 0.3 s); the primary key is the right path.
 */
#define DUE_ORDER " ORDER BY i.practice_id, i.plan_id, i.seq"
/* due dates are local dates: a day of slack around UTC finds every candidate */
#define UTC_DATE "($1 AT TIME ZONE 'UTC')::date"

static DueRow *
load_due(SPIPlanPtr *slot, const char *sql, TimestampTz as_of, int *n)
{
	Oid			t[1] = {TIMESTAMPTZOID};
	Datum		a[1] = {TimestampTzGetDatum(as_of)};
	MemoryContext cxt = CurrentMemoryContext;
	DueRow	   *rows;

	SPI_connect();
	plan_exec(plan_prepare(slot, sql, 1, t), a, NULL, true, 0);
	*n = (int) SPI_processed;
	rows = MemoryContextAllocZero(cxt, sizeof(DueRow) * Max(*n, 1));
	for (int r = 0; r < *n; r++)
	{
		DueRow	   *d = &rows[r];
		bool		isnull;

		d->practice_id = plan_getstr(r, 1, cxt);
		d->patient_id = plan_getstr(r, 2, cxt);
		d->timezone = plan_getstr(r, 3, cxt);
		d->plan_id = DatumGetInt64(plan_getdatum(r, 4, &isnull));
		d->seq = DatumGetInt32(plan_getdatum(r, 5, &isnull));
		d->due_date = DatumGetDateADT(plan_getdatum(r, 6, &isnull));
		d->amount = numeric_to_cents(plan_getdatum(r, 7, &isnull));
		d->attempts = DatumGetInt32(plan_getdatum(r, 8, &isnull));
		d->customer = plan_getstr(r, 9, cxt);
		d->method = plan_getstr(r, 10, cxt);
		d->balance = numeric_to_cents(plan_getdatum(r, 11, &isnull));
		d->free_credit = numeric_to_cents(plan_getdatum(r, 12, &isnull));
		d->is_first = DatumGetBool(plan_getdatum(r, 13, &isnull));
	}
	SPI_finish();
	return rows;
}

/* The policy of the practice of the row (rows come ordered by practice) */
typedef struct PolicyCache
{
	char		practice_id[72];
	Policy		policy;
	pg_tz	   *tz;
} PolicyCache;

static const Policy *
cached_policy(PolicyCache *c, const DueRow *d)
{
	if (strcmp(c->practice_id, d->practice_id) != 0)
	{
		policy_load(d->practice_id, &c->policy);
		c->tz = timezone_lookup(d->timezone);
		if (c->tz == NULL)
			elog(ERROR, "practice \"%s\" has an invalid time zone", d->practice_id);
		strlcpy(c->practice_id, d->practice_id, sizeof(c->practice_id));
	}
	return &c->policy;
}

static void
set_installment(const DueRow *d, const char *sql_set, SPIPlanPtr *slot, TimestampTz as_of)
{
	Oid			t[4] = {TEXTOID, INT8OID, INT4OID, TIMESTAMPTZOID};
	Datum		a[4] = {CStringGetTextDatum(d->practice_id), Int64GetDatum(d->plan_id), Int32GetDatum(d->seq),
	TimestampTzGetDatum(as_of)};

	SPI_connect();
	plan_exec(plan_prepare(slot, psprintf("UPDATE collect.installment SET %s"
										  " WHERE practice_id = $1 AND plan_id = $2 AND seq = $3", sql_set), 4, t),
			  a, NULL, false, 0);
	SPI_finish();
}

static char *
date_text(DateADT d)
{
	return DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(d)));
}

/* Reminders: plan_reminder_days_before each due date, once */
static int64
reminders_pass(TimestampTz as_of, MemoryContext loop)
{
	static SPIPlanPtr q = NULL,
				mark = NULL;
	PolicyCache cache = {""};
	int			n;
	DueRow	   *rows = load_due(&q, DUE_COLUMNS DUE_NO_CREDIT DUE_FROM "i.status = 'due' AND i.reminded_at IS NULL"
								" AND i.due_date <= " UTC_DATE " + 15 AND i.due_date <= " UTC_DATE " + 1 + " REMINDER_LEAD DUE_ORDER, as_of, &n);
	int64		actions = 0;

	for (int r = 0; r < n; r++)
	{
		DueRow	   *d = &rows[r];
		const Policy *policy = cached_policy(&cache, d);
		MemoryContext old = MemoryContextSwitchTo(loop);
		DateADT		today = local_date(as_of, cache.tz);
		DateADT		remind_on = d->due_date - policy->plan_reminder_days_before;

		CHECK_FOR_INTERRUPTS();
		if (today >= remind_on)
		{
			if (today <= d->due_date)
			{
				TimestampTz not_before = Max(as_of, plan_local_time(remind_on, PLAN_REMINDER_HOUR, cache.tz));

				if (plan_notify(d->practice_id, d->patient_id,
							psprintf("plan:" INT64_FORMAT ":%d:reminder", d->plan_id, d->seq),
							d->customer ? "plan_reminder_autopay" : "plan_reminder",
							plan_vars("installment_amount", cents_to_dollars(d->amount), NULL),
							d->due_date, not_before, as_of) != 0)
					actions++;
			}
			/* too late for a reminder: marked all the same so it is not looked at again */
			set_installment(d, "reminded_at = $4", &mark, as_of);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop);
	}
	return actions;
}

/* Autopay: the first attempt on the due date at PLAN_CHARGE_HOUR local time, then retries */
static int64
charges_pass(TimestampTz as_of, MemoryContext loop)
{
	static SPIPlanPtr first = NULL,
				retry = NULL;
	int64		actions = 0;

	for (int pass = 0; pass < 2; pass++)
	{
		PolicyCache cache = {""};
		int			n;
		DueRow	   *rows = pass == 0
			? load_due(&first, DUE_COLUMNS DUE_CREDIT DUE_FROM "i.status = 'due' AND i.last_message_id IS NULL AND m.patient_id IS NOT NULL"
					   " AND i.due_date <= " UTC_DATE " + 1" DUE_ORDER, as_of, &n)
			: load_due(&retry, DUE_COLUMNS DUE_CREDIT DUE_FROM "i.status = 'failed' AND i.charge_after <= $1 AND m.patient_id IS NOT NULL"
					   DUE_ORDER, as_of, &n);

		for (int r = 0; r < n; r++)
		{
			DueRow	   *d = &rows[r];
			MemoryContext old;
			Cents		amount;

			cached_policy(&cache, d);
			old = MemoryContextSwitchTo(loop);
			CHECK_FOR_INTERRUPTS();
			if (pass == 0 && plan_local_time(d->due_date, PLAN_CHARGE_HOUR, cache.tz) > as_of)
			{
				MemoryContextSwitchTo(old);
				continue;
			}
			/* what was paid ahead comes off the first unpaid installment; never more than the balance */
			amount = d->amount - (d->is_first && d->free_credit > 0 ? d->free_credit : 0);
			amount = Min(amount, d->balance);
			if (amount > 0 &&
				plan_queue_charge(d->practice_id, d->patient_id, d->plan_id, d->seq, d->attempts + 1,
								  amount, d->customer, d->method, as_of) != 0)
				actions++;
			MemoryContextSwitchTo(old);
			MemoryContextReset(loop);
		}
	}
	return actions;
}

/* Installments nobody paid: no card and past the grace, or a retry due with the card gone */
static int64
misses_pass(TimestampTz as_of, MemoryContext loop)
{
	static SPIPlanPtr q = NULL,
				mark = NULL;
	PolicyCache cache = {""};
	int			n;
	DueRow	   *rows = load_due(&q, DUE_COLUMNS DUE_NO_CREDIT DUE_FROM "m.patient_id IS NULL AND i.missed_at IS NULL AND"
								" ((i.status = 'due' AND i.due_date <= " UTC_DATE " + 1)"
								"  OR (i.status = 'failed' AND i.charge_after <= $1))" DUE_ORDER, as_of, &n);
	int64		actions = 0;

	for (int r = 0; r < n; r++)
	{
		DueRow	   *d = &rows[r];
		const Policy *policy = cached_policy(&cache, d);
		MemoryContext old = MemoryContextSwitchTo(loop);
		TimestampTz grace_end = plan_retry_at(plan_local_time(d->due_date, PLAN_CHARGE_HOUR, cache.tz),
											  policy->payment_retry_after_hours);

		CHECK_FOR_INTERRUPTS();
		if (grace_end <= as_of)
		{
			set_installment(d, "status = 'failed', failed_at = COALESCE(failed_at, $4), missed_at = $4,"
							" charge_after = NULL, last_error = COALESCE(last_error, 'not paid by its due date')",
							&mark, as_of);
			audit_record(d->practice_id, d->patient_id, as_of, "collect", "installment_missed",
						 psprintf("plan:" INT64_FORMAT ":%d", d->plan_id, d->seq),
						 psprintf("%s due %s was not paid", cents_to_dollars(d->amount), date_text(d->due_date)),
						 NULL);
			actions++;
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop);
	}
	return actions;
}

/*
 * Payments posted since the plan began settle its installments in order
 * (paying ahead settles the next ones). A completed plan waives what is
 * left; an active plan with nothing left unpaid completes. Only plans
 * flagged settle_pending are looked at: the ledger trigger below flags a
 * patient's plans when a payment, reversal, adjustment or write-off is
 * posted, and plan creation and approval flag the plan, so an idle tick
 * costs nothing per plan.
 */
static int64
settle_pass(TimestampTz as_of, MemoryContext loop)
{
	static SPIPlanPtr unflag = NULL;
	static SPIPlanPtr q = NULL,
				unpaid = NULL,
				paid = NULL,
				waive = NULL,
				complete = NULL;
	Oid			t1[1] = {TIMESTAMPTZOID};
	Oid			t2[2] = {TEXTOID, INT8OID};
	Oid			t4[4] = {TEXTOID, INT8OID, INT4OID, TIMESTAMPTZOID};
	Oid			t3[3] = {TEXTOID, INT8OID, TIMESTAMPTZOID};
	Datum		a[1] = {TimestampTzGetDatum(as_of)};
	MemoryContext cxt = CurrentMemoryContext;
	int			n;
	char	  **practice,
			  **patient,
			  **status;
	int64	   *plan_id;
	Cents	   *free_credit;
	Cents	   *balance;
	int64		actions = 0;

	SPI_connect();
	plan_exec(plan_prepare(&q,
						   "SELECT p.practice_id, p.patient_id, p.plan_id, p.status,"
						   "  COALESCE((SELECT sum(CASE WHEN l.kind = 'payment' THEN l.amount ELSE -l.amount END)"
						   "    FROM collect.ledger l WHERE l.practice_id = p.practice_id AND l.patient_id = p.patient_id"
						   "     AND l.kind IN ('payment', 'reversal') AND l.posted_at >= p.credit_from AND l.posted_at <= $1), 0)"
						   "  - COALESCE((SELECT sum(j.paid_amount) FROM collect.installment j"
						   "    WHERE j.practice_id = p.practice_id AND j.plan_id = p.plan_id AND j.status = 'paid'), 0),"
						   "  COALESCE(a.balance, 0)"
						   " FROM collect.plan p"
						   " LEFT JOIN collect.account a ON a.practice_id = p.practice_id AND a.patient_id = p.patient_id"
						   " WHERE p.settle_pending"
						   " ORDER BY p.practice_id, p.plan_id", 1, t1), a, NULL, true, 0);
	n = plan_due_rows(cxt, &practice, &patient, &plan_id);
	status = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
	free_credit = MemoryContextAlloc(cxt, sizeof(Cents) * Max(n, 1));
	balance = MemoryContextAlloc(cxt, sizeof(Cents) * Max(n, 1));
	for (int r = 0; r < n; r++)
	{
		bool		isnull;

		status[r] = plan_getstr(r, 4, cxt);
		free_credit[r] = numeric_to_cents(plan_getdatum(r, 5, &isnull));
		balance[r] = numeric_to_cents(plan_getdatum(r, 6, &isnull));
	}
	SPI_finish();

	for (int r = 0; r < n; r++)
	{
		bool		completed = strcmp(status[r], "completed") == 0;
		MemoryContext old;
		int			left = 0;
		Cents		credit = free_credit[r];
		int		   *seqs;
		Cents	   *amounts;
		int			k;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(loop);
		/* account, then plan, then installments (plan_lock_account) */
		plan_lock_account(practice[r], patient[r]);
		SPI_connect();
		{
			Datum		fa[3] = {CStringGetTextDatum(practice[r]), Int64GetDatum(plan_id[r]), TimestampTzGetDatum(as_of)};

			/* looked at now; the flag stays only where a payment posted after as_of will count later */
			plan_exec(plan_prepare(&unflag,
								   "UPDATE collect.plan p SET settle_pending = p.status IN ('active', 'completed') AND EXISTS"
								   "  (SELECT 1 FROM collect.ledger l WHERE l.practice_id = p.practice_id AND l.patient_id = p.patient_id"
								   "    AND l.kind IN ('payment', 'reversal') AND l.posted_at > $3)"
								   " WHERE p.practice_id = $1 AND p.plan_id = $2", 3, t3), fa, NULL, false, 0);
		}
		/* ended plans only lose their flag; an active one with nothing unpaid completes below */
		if (!completed && strcmp(status[r], "active") != 0)
		{
			SPI_finish();
			MemoryContextSwitchTo(old);
			MemoryContextReset(loop);
			continue;
		}
		{
			Datum		ua[2] = {CStringGetTextDatum(practice[r]), Int64GetDatum(plan_id[r])};

			plan_exec(plan_prepare(&unpaid, "SELECT seq, amount FROM collect.installment WHERE practice_id = $1"
								   " AND plan_id = $2 AND status IN ('due', 'failed') ORDER BY seq FOR UPDATE", 2, t2),
					  ua, NULL, false, 0);
		}
		k = (int) SPI_processed;
		seqs = MemoryContextAlloc(loop, sizeof(int) * Max(k, 1));
		amounts = MemoryContextAlloc(loop, sizeof(Cents) * Max(k, 1));
		for (int i = 0; i < k; i++)
		{
			bool		isnull;

			seqs[i] = DatumGetInt32(plan_getdatum(i, 1, &isnull));
			amounts[i] = numeric_to_cents(plan_getdatum(i, 2, &isnull));
		}
		for (int i = 0; i < k; i++)
		{
			Datum		pa[4] = {CStringGetTextDatum(practice[r]), Int64GetDatum(plan_id[r]),
			Int32GetDatum(seqs[i]), TimestampTzGetDatum(as_of)};

			if (credit >= amounts[i])
			{
				credit -= amounts[i];
				plan_exec(plan_prepare(&paid, "UPDATE collect.installment SET status = 'paid', paid_at = $4,"
									   " paid_amount = amount, paid_by = 'payment', charge_after = NULL"
									   " WHERE practice_id = $1 AND plan_id = $2 AND seq = $3", 4, t4),
						  pa, NULL, false, 0);
				actions++;
			}
			else if (completed)
			{
				plan_exec(plan_prepare(&waive, "UPDATE collect.installment SET status = 'waived', charge_after = NULL"
									   " WHERE practice_id = $1 AND plan_id = $2 AND seq = $3", 4, t4),
						  pa, NULL, false, 0);
				actions++;
			}
			else
			{
				left = k - i;
				break;
			}
		}
		if (!completed && left == 0)
		{
			Datum		ca[3] = {CStringGetTextDatum(practice[r]), Int64GetDatum(plan_id[r]), TimestampTzGetDatum(as_of)};

			plan_exec(plan_prepare(&complete, "UPDATE collect.plan SET status = 'completed', ended_at = $3"
								   " WHERE practice_id = $1 AND plan_id = $2", 3, t3), ca, NULL, false, 0);
		}
		SPI_finish();
		/* settled installments need no reminder or charge */
		for (int i = 0; i < k - left; i++)
			plan_cancel_outbox(practice[r], patient[r], plan_id[r], seqs[i], "cancelled: installment paid");
		if (!completed && left == 0)
		{
			plan_cancel_outbox(practice[r], patient[r], plan_id[r], 0, "cancelled: plan completed");
			/* a balance left over (new charges) goes back to the cadence */
			if (balance[r] > 0)
				plan_set_account_state(practice[r], patient[r], "in_cadence", as_of, 0);
			audit_record(practice[r], patient[r], as_of, "collect", "plan_completed",
						 psprintf("plan:" INT64_FORMAT, plan_id[r]), "every installment is paid", NULL);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop);
	}
	return actions;
}

/* Two missed installments: the plan defaults and the account returns to the cadence, one step firmer */
static int64
defaults_pass(TimestampTz as_of, MemoryContext loop)
{
	static SPIPlanPtr q = NULL,
				upd = NULL;
	Oid			t1[1] = {TIMESTAMPTZOID};
	Oid			t3[3] = {TEXTOID, INT8OID, TIMESTAMPTZOID};
	Datum		a[1] = {TimestampTzGetDatum(as_of)};
	MemoryContext cxt = CurrentMemoryContext;
	int			n;
	char	  **practice,
			  **patient;
	int64	   *plan_id;
	int64		actions = 0;

	SPI_connect();
	plan_exec(plan_prepare(&q, "SELECT p.practice_id, p.patient_id, p.plan_id FROM collect.plan p"
						   " JOIN (SELECT i.practice_id, i.plan_id FROM collect.installment i"
						   "        WHERE i.status = 'failed' AND i.missed_at IS NOT NULL AND i.missed_at <= $1"
						   "        GROUP BY i.practice_id, i.plan_id"
						   "       HAVING count(*) >= " CppAsString2(PLAN_DEFAULT_AFTER_MISSED) ") m"
						   "   ON m.practice_id = p.practice_id AND m.plan_id = p.plan_id"
						   " WHERE p.status = 'active'"
						   " ORDER BY p.practice_id, p.plan_id", 1, t1), a, NULL, true, 0);
	n = plan_due_rows(cxt, &practice, &patient, &plan_id);
	SPI_finish();

	for (int r = 0; r < n; r++)
	{
		MemoryContext old = MemoryContextSwitchTo(loop);
		Policy		policy;
		Datum		ua[3] = {CStringGetTextDatum(practice[r]), Int64GetDatum(plan_id[r]), TimestampTzGetDatum(as_of)};

		CHECK_FOR_INTERRUPTS();
		plan_lock_account(practice[r], patient[r]);
		SPI_connect();
		plan_exec(plan_prepare(&upd, "UPDATE collect.plan SET status = 'defaulted', ended_at = $3, settle_pending = false"
							   " WHERE practice_id = $1 AND plan_id = $2", 3, t3), ua, NULL, false, 0);
		SPI_finish();
		plan_cancel_outbox(practice[r], patient[r], plan_id[r], 0, "cancelled: plan defaulted");
		policy_load(practice[r], &policy);
		/* firmer: the cadence resumes at its last (firmest) step */
		plan_set_account_state(practice[r], patient[r], "in_cadence", as_of, Max(policy.n_cadence - 1, 0));
		plan_notify(practice[r], patient[r], psprintf("plan:" INT64_FORMAT ":defaulted", plan_id[r]),
					"plan_defaulted", NULL, DATEVAL_NOBEGIN, as_of, as_of);
		audit_record(practice[r], patient[r], as_of, "collect", "plan_defaulted",
					 psprintf("plan:" INT64_FORMAT, plan_id[r]),
					 psprintf("%d installments missed", PLAN_DEFAULT_AFTER_MISSED), NULL);
		actions++;
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop);
	}
	return actions;
}

/* Hardship arrangements whose support period ended: a hardship_review task */
static int64
hardship_reviews_pass(TimestampTz as_of, MemoryContext loop)
{
	static SPIPlanPtr q = NULL,
				mark = NULL;
	Oid			t1[1] = {TIMESTAMPTZOID};
	Oid			t3[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		a[1] = {TimestampTzGetDatum(as_of)};
	MemoryContext cxt = CurrentMemoryContext;
	int			n;
	char	  **practice,
			  **patient,
			  **outcome,
			  **approved;
	int64	   *hardship_id;
	int64		actions = 0;

	SPI_connect();
	plan_exec(plan_prepare(&q, "SELECT practice_id, patient_id, hardship_id, outcome, to_char(approved_at, 'YYYY-MM-DD')"
						   " FROM collect.hardship WHERE review_task_id IS NULL AND review_at <= $1"
						   " ORDER BY practice_id, hardship_id", 1, t1), a, NULL, true, 0);
	n = plan_due_rows(cxt, &practice, &patient, &hardship_id);
	outcome = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
	approved = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
	for (int r = 0; r < n; r++)
	{
		outcome[r] = plan_getstr(r, 4, cxt);
		approved[r] = plan_getstr(r, 5, cxt);
	}
	SPI_finish();

	for (int r = 0; r < n; r++)
	{
		MemoryContext old = MemoryContextSwitchTo(loop);
		char	   *summary = task_summary(practice[r], patient[r],
										   psprintf("reviewing the patient's situation and deciding the next step: the hardship support (%s) approved %s has run its course",
													strcmp(outcome[r], "longer_term") == 0 ? "longer term"
													: strcmp(outcome[r], "lower_minimum") == 0 ? "lower minimum"
													: strcmp(outcome[r], "pause") == 0 ? "a pause" : "reduction",
													approved[r]), as_of);
		int64		task_id = task_open(practice[r], patient[r], "hardship_review", summary,
										as_of + USECS_PER_DAY, as_of);
		Datum		ma[3] = {CStringGetTextDatum(practice[r]), Int64GetDatum(hardship_id[r]), Int64GetDatum(task_id)};

		CHECK_FOR_INTERRUPTS();
		SPI_connect();
		plan_exec(plan_prepare(&mark, "UPDATE collect.hardship SET review_task_id = $3"
							   " WHERE practice_id = $1 AND hardship_id = $2", 3, t3), ma, NULL, false, 0);
		SPI_finish();
		actions++;
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop);
	}
	return actions;
}

/*
 * One plan pass at a time per database, and never beside collect.tick's
 * cadence pass: the same transaction-level advisory lock key as tick.c's
 * TICK_LOCK_KEY ("collec"). Inside collect.tick the lock is already held
 * by this transaction and is taken again at once; collect.plans_tick
 * called while a tick runs returns 0.
 */
#define PLANS_LOCK_KEY INT64CONST(0x636f6c6c6563)

int64
plans_tick(TimestampTz as_of)
{
	MemoryContext loop;
	int64		actions = 0;

	if (!DatumGetBool(DirectFunctionCall1(pg_try_advisory_xact_lock_int8, Int64GetDatum(PLANS_LOCK_KEY))))
		return 0;
	loop = AllocSetContextCreate(CurrentMemoryContext, "collect plans tick", ALLOCSET_DEFAULT_SIZES);

	actions += settle_pass(as_of, loop);
	actions += misses_pass(as_of, loop);
	actions += defaults_pass(as_of, loop);
	actions += reminders_pass(as_of, loop);
	actions += charges_pass(as_of, loop);
	actions += hardship_reviews_pass(as_of, loop);
	actions += settlement_tick(as_of);
	actions += plan_refund_sweep(as_of);
	MemoryContextDelete(loop);
	return actions;
}

static SPIPlanPtr flag_settle_probe,
			flag_settle_plan;

/*
 * Called by the ledger trigger (account_upkeep.c) for the patients of one
 * practice whose payments, reversals, adjustments or write-offs were
 * posted: flag their plans for the next settle pass. Writes only
 * plan.settle_pending. Most payers have no plan: a read finds that out
 * without the UPDATE, whose statement trigger (the plan KPI rollup) would
 * fire even for no row. A plan created after the read is created flagged.
 */
void
plans_flag_settle(Datum practice_id, Datum patient_ids)
{
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		args[2] = {practice_id, patient_ids};
	bool		isnull;

	plan_prepare(&flag_settle_probe,
				 "SELECT EXISTS (SELECT 1 FROM collect.plan WHERE practice_id = $1 AND patient_id = ANY ($2)"
				 "   AND status IN ('pending_approval', 'active', 'completed') AND NOT settle_pending)", 2, types);
	if (SPI_execute_plan(flag_settle_probe, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "looking for plans to settle failed");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		SPI_freetuptable(SPI_tuptable);
		return;
	}
	SPI_freetuptable(SPI_tuptable);
	plan_prepare(&flag_settle_plan,
				 "UPDATE collect.plan SET settle_pending = true WHERE practice_id = $1 AND patient_id = ANY ($2)"
				 "   AND status IN ('pending_approval', 'active', 'completed') AND NOT settle_pending", 2, types);
	if (SPI_execute_plan(flag_settle_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "flagging plans for settling failed");
}

/* collect.plans_tick(as_of) */
Datum
plans_tick_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("as_of must not be null")));
	PG_RETURN_INT64(plans_tick(PG_GETARG_TIMESTAMPTZ(0)));
}
