/*
 * plan_internal.h: helpers shared by the plan files (plan.c and friends);
 * not for other modules (they use plan.h).
 */
#ifndef COLLECT_PLAN_INTERNAL_H
#define COLLECT_PLAN_INTERNAL_H

#include "plan.h"

typedef struct PlanQuote
{
	int			n;
	Cents		total;
	DateADT		first_due;
	int			anchor_day;
	Cents		amounts[PLAN_MAX_INSTALLMENTS];
	DateADT		due[PLAN_MAX_INSTALLMENTS];
} PlanQuote;

extern void plan_build_quote(const Policy *policy, Cents total, int installments, DateADT today,
							 DateADT first_due, bool first_due_given, PlanQuote *q);

/* SPI helpers: run inside SPI_connect/SPI_finish */
extern int	plan_exec(SPIPlanPtr plan, Datum *args, const char *nulls, bool read_only, long count);
extern char *plan_getstr(int row, int col, MemoryContext cxt);
extern Datum plan_getdatum(int row, int col, bool *isnull);
extern int	plan_due_rows(MemoryContext cxt, char ***practice, char ***patient, int64 **ids);

/* these connect to SPI themselves */
extern void plan_lock_account(const char *practice_id, const char *patient_id);
extern void plan_account_facts(const char *practice_id, const char *patient_id, Cents *balance,
							   Cents *last_payment, TimestampTz *last_payment_at);
extern Jsonb *plan_vars(const char *first,...);
extern const char *plan_message_channel(const char *practice_id, const char *patient_id, char **language);
extern int64 plan_notify(const char *practice_id, const char *patient_id, const char *step,
						 const char *template_name, Jsonb *vars, DateADT date, TimestampTz not_before,
						 TimestampTz as_of);
extern void plan_set_account_state(const char *practice_id, const char *patient_id, const char *state,
								   TimestampTz next_action, int cadence_step_at_least);
extern void plan_cancel_outbox(const char *practice_id, const char *patient_id, int64 plan_id, int seq,
							   const char *why);
extern bool plan_post_ledger(const char *practice_id, const char *patient_id, const char *external_id,
							 const char *kind, Cents amount, TimestampTz posted_at, const char *method,
							 const char *note);

extern int	plan_cancel_live(const char *practice_id, const char *patient_id, TimestampTz as_of,
							 const char *why);

/* plan_charge.c: queue one autopay attempt; 0 when that attempt was queued before */
extern int64 plan_queue_charge(const char *practice_id, const char *patient_id, int64 plan_id, int seq,
							   int attempt, Cents amount, const char *customer, const char *method,
							   TimestampTz at);

#endif
