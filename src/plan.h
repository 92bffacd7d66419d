/*
 * plan.h: payment plans, autopay, hardship, settlements and refunds.
 * The pure decisions (plan_quote.c) take numbers and dates and answer
 * with numbers and dates; the rest (plan.c, plan_charge.c, plan_tick.c,
 * plan_hardship.c, plan_settlement.c, plan_refund.c) reads and writes the
 * tables through SPI. Nothing here reads the wall clock or the network.
 */
#ifndef COLLECT_PLAN_H
#define COLLECT_PLAN_H

#include "collect.h"

/* Limits of the plan and installment tables (00_core.sql CHECKs) */
#define PLAN_MAX_INSTALLMENTS 60
/* Local hour at which an installment's autopay charge is queued on its due date */
#define PLAN_CHARGE_HOUR 9
/* Local hour of the reminder's earliest send time (outreach keeps quiet hours) */
#define PLAN_REMINDER_HOUR 9
/* Clean history looks back this many months (missed installments, reversals) */
#define PLAN_CLEAN_HISTORY_MONTHS 12
/* Missed installments that default a plan */
#define PLAN_DEFAULT_AFTER_MISSED 2
/* Documented contact attempts a settlement offer needs */
#define SETTLEMENT_MIN_ATTEMPTS 2
/* Local hour at which refund tasks fall due, and the weekly sweep's slot */
#define REFUND_DUE_HOUR 17
#define REFUND_SWEEP_HOUR 6

/* ---- plan_quote.c: pure arithmetic (no SPI, no clock) ---- */

/* installment count for a balance: the first tier whose "under" exceeds it */
extern int	plan_installment_count(const Policy *policy, Cents balance);

/*
 * Split total into n installments exact to the cent: each gets total / n,
 * and the remainder cents (total % n) go one each to the FIRST installments.
 * n is lowered to total when total < n cents so no installment is zero.
 * Returns the number of installments written to amounts[].
 */
extern int	plan_split(Cents total, int n, Cents *amounts);

/* month arithmetic: the anchor day of the k-th month after first, clamped to the month's end */
extern DateADT plan_due_date(DateADT first_due, int anchor_day, int k);

/* the first day_of_month at least lead_days + 1 days after today */
extern DateADT plan_first_due(DateADT today, int day_of_month, int lead_days);

/* local wall-clock hour of a date in tz, as an instant (DST-correct) */
extern TimestampTz plan_local_time(DateADT date, int hour, pg_tz *tz);

/* the retry of a failed charge: exactly hours elapsed hours after the failure */
extern TimestampTz plan_retry_at(TimestampTz failed_at, int hours);

/* date + n business days (Monday to Friday) */
extern DateADT plan_business_days_after(DateADT date, int n);

/* date + months, clamped to the month's end */
extern DateADT plan_add_months(DateADT date, int months);

/*
 * NULL when a plan of n installments for total may be approved at once,
 * else the reason it needs a manager (for the task summary).
 */
extern const char *plan_approval_reason(const Policy *policy, Cents total, int n,
										bool clean_history);

/*
 * Spread credit over the family's open balances in the given order:
 * applied[i] = what goes to open[i]; returns what is left for a refund.
 */
extern Cents plan_family_allocate(Cents credit, const Cents *open, int n, Cents *applied);

/* the largest discount pct of balance allows (rounded down to the cent) */
extern Cents settlement_discount(Cents balance, int pct);

/* NULL when a settlement of pct may be offered, else why not */
extern const char *settlement_block_reason(const Policy *policy, int days_past_due,
										   int documented_attempts, int pct);

/* ---- plan.c: quotes and plans (SPI) ---- */

/* prepare a statement once per backend (SPI_keepplan) */
extern SPIPlanPtr plan_prepare(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *types);

/* the practice's time zone */
extern pg_tz *plan_practice_tz(const char *practice_id);

/*
 * Create a plan for the patient's balance (or for `total` when > 0), with
 * auto-approval or a plan_approval task; returns plan_id. source is kept on
 * the plan ('staff', 'request', 'partial', 'hardship'); approver non-NULL
 * approves it outright (hardship decisions).
 */
extern int64 plan_create(const char *practice_id, const char *patient_id,
						 int installments, DateADT first_due, bool first_due_given,
						 const char *source, const char *approver, TimestampTz as_of);

/*
 * A patient asked for a plan (a "rest next month" reply, a plan request):
 * after a partial payment in the last 30 days the remainder is split into
 * the original balance's tier count minus one (at least 1); otherwise the
 * tier count. Returns plan_id, or the live plan's id when there is one.
 * Callable by reply.c; also collect.request_plan().
 */
extern int64 plan_request(const char *practice_id, const char *patient_id,
						  int installments, TimestampTz as_of);

/* ---- plan_tick.c ---- */

/*
 * The plan pass of collect.tick: settle installments by payments, queue
 * reminders and autopay charges due at or before as_of, retries, misses
 * and defaults, hardship reviews, settlement completion and the refund
 * sweep. Returns the number of actions taken. Idempotent for one as_of.
 */
extern int64 plans_tick(TimestampTz as_of);

/* ---- plan_hardship.c ---- */

/*
 * events.c calls this for record_event(..., 'hardship_approved', details, at).
 * details: {"outcome": "reduction" | "longer_term" | "lower_minimum" | "pause" (default),
 *           "amount": dollars (reduction: adjustment posted),
 *           "installments": n (longer_term; default twice the tier count),
 *           "minimum": dollars (lower_minimum: floor(balance/minimum) installments, each >= minimum),
 *           "months": n (support months; default policy hardship_support_months)}
 * Records collect.hardship with its review date; tick opens a
 * hardship_review task on that date.
 */
extern void plan_hardship_approved(const char *practice_id, const char *patient_id,
								   Jsonb *details, TimestampTz at);

/* ---- plan_refund.c, plan_settlement.c (called from plans_tick) ---- */
extern int64 plan_refund_sweep(TimestampTz as_of);
extern int64 settlement_tick(TimestampTz as_of);

#endif							/* COLLECT_PLAN_H */
