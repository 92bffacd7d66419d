/*
 * cadence.h: the dunning state machine of one account as a pure function:
 * facts (account, policy, channel availability, as_of) in, one decision
 * out. No SPI, no clock.
 */
#ifndef COLLECT_CADENCE_H
#define COLLECT_CADENCE_H

#include "collect.h"

typedef enum CadenceAction
{
	CA_WAIT,					/* nothing now; wake at wake_at (DT_NOBEGIN: only an event wakes it) */
	CA_MESSAGE,					/* queue channel/template for step_index */
	CA_CALL_TASK,				/* open a call task for step_index */
	CA_SKIP_STEP,				/* step_index cannot be taken (no channel): move on */
	CA_PLACEMENT_REVIEW			/* open a placement_review task */
} CadenceAction;

typedef struct CadenceFacts
{
	const Policy *policy;
	TimestampTz as_of;
	DateADT		today;			/* patient-local date of as_of */
	Cents		balance;
	const char *state;
	bool		has_anchor;
	DateADT		anchor;			/* the due date the cadence runs from */
	int			step;			/* index of the next cadence step */
	DateADT		last_step_date;	/* local date the previous step was taken; 0 none */
	TimestampTz last_payment_at;	/* DT_NOBEGIN: none (for every TimestampTz here) */
	TimestampTz last_response_at;
	TimestampTz last_conversation_at;
	TimestampTz paused_until;
	TimestampTz no_show_until;
	TimestampTz hardship_until;
	TimestampTz appointment_at;
	TimestampTz first_statement_at;
	TimestampTz placement_hold_until;
	bool		dispute_open;
	bool		assistance_open;
	bool		can_sms;		/* consent, phone, not opted out */
	bool		can_email;
	bool		can_letter;		/* address good, no returned mail, not opted out */
	bool		can_call;		/* a phone number (staff call task) */
	bool		can_voice;		/* voice consent, phone, not opted out, within call caps */
	int			failed_digital;	/* sms/email attempts since the last response (call steps only) */
	int			paid_on_time;
	int			paid_late;
	const char *legal_hold;		/* reason of a legal hold in force at as_of, or NULL */
	TimestampTz legal_hold_until;	/* DT_NOBEGIN: until released */
	bool		has_risk;		/* the practice's propensity model scored this account */
	double		risk_score;		/* probability of paying within 30 days (collect.train) */
	const char *learned_channel;	/* the channel bandit's pick for this step, NULL: the cadence's */
} CadenceFacts;

typedef struct CadenceDecision
{
	CadenceAction action;
	int			step_index;
	char		channel[16];
	char		template_name[64];
	const char *state;			/* the account state to set */
	TimestampTz wake_at;		/* next_action_at after this decision */
	const char *reason;			/* plain words, for the audit log */
	bool		cancel_queued;	/* cancel queued cadence messages (a recent touch) */
} CadenceDecision;

/* patient-local date of a moment: needed to place wake_at at local hours */
typedef TimestampTz (*LocalTimeFn) (DateADT date, int hour, void *arg);

extern void cadence_decide(const CadenceFacts *f, LocalTimeFn local_time, void *arg, CadenceDecision *d);
extern bool cadence_is_gentle(const CadenceFacts *f);
extern bool cadence_is_firm(const CadenceFacts *f);
extern DateADT cadence_step_date(const CadenceFacts *f, int i);

#endif
