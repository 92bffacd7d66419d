/*
 * account.h: the facts the pure account functions of account.c decide on.
 */
#ifndef COLLECT_ACCOUNT_H
#define COLLECT_ACCOUNT_H

#include "collect.h"

typedef struct AccountFacts
{
	Cents		balance;
	int			days_past_due;
	Cents		high_value_threshold;	/* policy plan_offer_above */
	bool		doubt;			/* open dispute, already-paid/insurance claim */
	bool		responded;		/* ever replied, paid or talked */
	bool		asked_for_plan;
	bool		returned_mail;
	int			failed_contacts;
} AccountFacts;

extern int	fifo_first_unpaid(const Cents *charges, int n_charges, Cents credits_applied);
extern DateADT next_aging_boundary(DateADT due_since, int days_past_due);
extern const char *account_segment(const AccountFacts *facts);

#endif
