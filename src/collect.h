/*
 * collect.h: the one prelude every collect C file includes: PostgreSQL
 * headers, the shared types (money in integer cents, the practice policy)
 * and each module's entry points. No logic here.
 */
#ifndef COLLECT_H
#define COLLECT_H

#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "pgtime.h"

/*
 * The outbox rows other modules may cancel while queued (an SQL predicate
 * over collect.outbox): not a charge the worker has already tried
 * (attempts > 0, made durable before its request went out). Such a charge,
 * queued again after a crash or a retryable answer, may have gone through;
 * cancelling it would leave money taken and never recorded. The worker
 * retries it with the same idempotency key, the provider answers with the
 * first outcome, and record_charge_result counts it even on a settled
 * installment or balance (an overpayment, not a lost payment).
 */
#define OUTBOX_CANCELLABLE "(channel <> 'charge' OR attempts = 0)"

/* Money is integer cents in C, numeric in SQL; never floating point. */
typedef int64 Cents;

/* money.c */
extern Cents numeric_to_cents(Datum numeric);
extern Datum cents_to_numeric(Cents cents);
extern char *cents_to_cstring(Cents cents);	/* "1234.50" */
extern char *cents_to_dollars(Cents cents);	/* "$1,234.50" */

/* validate.c: shared input checks, each ereports with its own SQLSTATE */
extern void validate_timezone(const char *tzname, const char *what);
extern void validate_e164(const char *phone);
extern void validate_email(const char *email);
extern void validate_language(const char *language);
extern pg_tz *timezone_lookup(const char *tzname);

/* One cadence step of the practice policy */
typedef struct CadenceStep
{
	int			day;			/* days after the balance came due */
	char		channel[16];	/* sms, email, letter, voice, call_task */
	char		template_name[48];
} CadenceStep;

#define MAX_CADENCE_STEPS 16
#define MAX_INSTALLMENT_TIERS 8

typedef struct InstallmentTier
{
	Cents		under;			/* -1: no upper bound */
	int			count;
} InstallmentTier;

/* policy.c: the practice policy merged over collect.policy_default */
typedef struct Policy
{
	Cents		min_outreach_balance;
	int			n_cadence;
	CadenceStep cadence[MAX_CADENCE_STEPS];
	Cents		text_first_below;
	Cents		email_first_above;
	Cents		plan_offer_above;
	int			plan_offer_after_days;
	int			n_tiers;
	InstallmentTier tiers[MAX_INSTALLMENT_TIERS];
	int			plan_auto_approve_max_installments;
	Cents		plan_auto_approve_max_balance;
	int			plan_day_of_month;
	int			plan_reminder_days_before;
	int			payment_retry_after_hours;
	int			payment_max_retries;
	int			placement_review_after_days;
	int			settlement_min_age_days;
	int			settlement_max_discount_pct;
	Cents		settlement_approval_above;
	int			hardship_support_months;
	char		refund_sweep[16];
	int			refund_due_business_days;
	int			no_show_pause_hours;
	int			contact_hour_start;
	int			contact_hour_end;
	int			call_max_attempts_7d;
	int			call_quiet_days_after_conversation;
	int			recent_touch_quiet_hours;
	char		state_preset[16];
	bool		nonprofit_hospital;
	char		pay_link_base[256];
	char		assistance_link[256];
	int			pay_link_valid_days;
} Policy;

/*
 * account.risk_score below this: firm wording, and a plan offer without
 * waiting plan_offer_after_days (collect.risk_tone uses the same number)
 */
#define RISK_FIRM_BELOW 0.35

extern void policy_validate(Jsonb *policy);
extern void policy_load(const char *practice_id, Policy *out);	/* via SPI */

/* audit.c: the operation an append-only guard trigger refuses ("UPDATE", ...) */
extern const char *refused_change_name(FunctionCallInfo fcinfo, const char *caller);

/* account.c: pure account arithmetic (no SPI, no clock) */
extern const char *aging_bucket_for(int days_past_due);
extern int	days_between(DateADT from, DateADT to);
extern DateADT local_date(TimestampTz ts, pg_tz *tz);

#endif							/* COLLECT_H */
