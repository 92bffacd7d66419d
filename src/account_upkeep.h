/*
 * account_upkeep.h: what the ledger trigger hands to the account upkeep:
 * one statement's rows summed per patient.
 */
#ifndef COLLECT_ACCOUNT_UPKEEP_H
#define COLLECT_ACCOUNT_UPKEEP_H

#include "collect.h"

/* practice_id and patient_id are at most 64 characters (CHECKs in 00_core.sql) */
#define ACCOUNT_KEY_LEN 136

typedef struct PatientDelta
{
	char		key[ACCOUNT_KEY_LEN];	/* practice_id US(0x1f) patient_id */
	Cents		charges;		/* sum of charge rows */
	Cents		balance_delta;	/* signed sum of all rows */
	int			n_rows;
	int			n_charges;
	bool		has_non_charge;
	TimestampTz first_charge_at;
	TimestampTz last_posted_at;
	TimestampTz last_charge_at; /* DT_NOBEGIN when none */
	TimestampTz last_payment_at;	/* DT_NOBEGIN when none */
	Cents		last_payment;
} PatientDelta;

/* Apply the deltas of one practice (sorted by key) to collect.account; in SPI. */
extern void account_upkeep(PatientDelta **deltas, int n);

#endif
