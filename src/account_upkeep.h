/*
 * account_upkeep.h: what the ledger trigger (ledger.c) hands to the account
 * upkeep (account_upkeep.c) and to the KPI rollup (kpi_ledger.c): one
 * statement's rows summed per patient, and the account as it was before
 * the statement and after it.
 */
#ifndef COLLECT_ACCOUNT_UPKEEP_H
#define COLLECT_ACCOUNT_UPKEEP_H

#include "collect.h"

#include "commands/trigger.h"

/* practice_id and patient_id are at most 64 characters (CHECKs in 00_core.sql) */
#define ACCOUNT_KEY_LEN 136
#define ACCOUNT_SEGMENT_LEN 24

/* collect.ledger.kind */
typedef enum LedgerKind
{
	LEDGER_CHARGE, LEDGER_PAYMENT, LEDGER_REVERSAL, LEDGER_REFUND, LEDGER_ADJUSTMENT,
	LEDGER_WRITE_OFF, LEDGER_KINDS
} LedgerKind;

/* one charge row of the statement */
typedef struct StatementCharge
{
	TimestampTz posted_at;
	int64		entry_id;
	Cents		amount;
} StatementCharge;

/* one patient's rows of one practice-local day, summed by kind */
typedef struct LedgerDay
{
	DateADT		day;
	Cents		sums[LEDGER_KINDS];
} LedgerDay;

typedef struct PatientDelta
{
	char		key[ACCOUNT_KEY_LEN];	/* practice_id US(0x1f) patient_id */
	/* the statement's rows (ledger.c) */
	Cents		charges;		/* sum of charge rows */
	Cents		balance_delta;	/* signed sum of all rows */
	int			n_rows;
	int			n_charges;
	bool		has_non_charge;
	bool		reopens_plans;	/* a payment, reversal, adjustment or write-off */
	TimestampTz first_charge_at;
	TimestampTz last_posted_at;
	TimestampTz last_charge_at; /* DT_NOBEGIN when none */
	TimestampTz last_payment_at;	/* DT_NOBEGIN when none */
	Cents		last_payment;
	DateADT		last_posted_day;	/* practice-local date of last_posted_at */
	int			n_days,
				cap_days;
	LedgerDay  *days;
	StatementCharge *charge_list;	/* n_charges of them, in the order read */
	int			cap_charges;
	/* the account before and after the statement (account_upkeep.c) */
	Cents		old_balance;
	char		old_segment[ACCOUNT_SEGMENT_LEN];
	Cents		new_balance;
} PatientDelta;

/*
 * Apply the deltas of one practice (sorted by key) to collect.account, flag
 * the patients' plans for re-settling, and fill old_balance, old_segment
 * and new_balance; inside SPI.
 */
extern void account_upkeep(PatientDelta **deltas, int n, pg_tz *tz);

/* Add the statement's rows to collect.kpi_daily (kpi_ledger.c); inside SPI, after account_upkeep. */
extern void kpi_ledger_write(PatientDelta **deltas, long n);

/* Flag the plans of these patients (text[]) for the next settle pass (plan_tick.c); inside SPI. */
extern void plans_flag_settle(Datum practice_id, Datum patient_ids);

/* One audit row per write_off row of the statement (audit.c); inside SPI. */
extern void audit_ledger_write_offs(TriggerData *td);

#endif
