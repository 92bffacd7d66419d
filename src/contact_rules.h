/*
 * contact_rules.h: the hard contact rules as data. Facts in, a decision
 * (rule name and reason, or allowed) out. Pure: no SPI, no clock. The
 * compliance module extends the table in contact_rules.c.
 */
#ifndef COLLECT_CONTACT_RULES_H
#define COLLECT_CONTACT_RULES_H

#include "collect.h"

/* what a message is for: collection steps obey every rule */
typedef enum ContactKind
{
	CK_COLLECTION,				/* a dunning step, plan offer, reminder */
	CK_NOTICE,					/* receipts, plan notices: skip balance and hold rules */
	CK_OPT_OUT_CONFIRMATION		/* the one confirmation after STOP: skips consent and opt-out */
} ContactKind;

typedef struct ContactFacts
{
	const char *channel;		/* sms, email, letter, voice, call_task */
	ContactKind kind;
	TimestampTz at;
	int			local_hour;		/* patient-local hour and minute of `at` */
	int			local_minute;
	int			hour_start;		/* policy contact_hour_start / _end (end exclusive) */
	int			hour_end;
	bool		has_address;	/* phone, e-mail or a good postal address */
	bool		consent;		/* the channel's consent flag (letter, call_task: true) */
	bool		opted_out;		/* channel_opt_out row without opted_in_at */
	Cents		balance;
	Cents		min_outreach_balance;
	bool		dispute_open;
	bool		assistance_open;
	bool		hardship_open;
	bool		legal_hold;		/* compliance module; false until it sets it */
	bool		placed;
	TimestampTz paused_until;	/* DT_NOBEGIN: not paused */
	int			calls_7d;		/* call attempts in the 7 days before `at` */
	int			call_max_7d;
	TimestampTz last_conversation_at;	/* DT_NOBEGIN: none */
	int			call_quiet_days;
	/* contact-frequency preset (contact_preset_apply fills these) */
	const char *frequency_source;	/* the law behind the call and touch caps */
	int			touches_7d;		/* calls and texts in the 7 days before `at` */
	int			touch_max_7d;	/* 0: no cap on calls and texts together */
	const char *hold_reason;	/* plain words of the open legal hold */
	const char *only_channel;	/* HIPAA confidential-communications request, or NULL */
	int			confirmations_sent;	/* opt-out confirmations on this channel since the opt-out */
} ContactFacts;

/* a state's contact-frequency rules as data (contact_rules.c) */
typedef struct FrequencyPreset
{
	const char *name;			/* policy state_preset: federal, MA, CA */
	int			call_max_7d;	/* call attempts per 7 days per debt */
	int			call_quiet_days;	/* no calls this many days after a conversation */
	int			touch_max_7d;	/* calls and texts together per 7 days; 0 none */
	const char *source;
} FrequencyPreset;

typedef struct ContactDecision
{
	bool		allowed;
	const char *rule;			/* the first rule that held the message back */
	const char *reason;			/* plain words */
	const char *source;			/* the regulation or policy key */
} ContactDecision;

extern ContactDecision contact_decide(const ContactFacts *facts);
extern const FrequencyPreset *frequency_preset(const char *name);
extern void contact_preset_apply(ContactFacts *facts, const char *preset, int policy_call_max,
								 int policy_quiet_days);
extern bool channel_is_call(const char *channel);
extern ContactKind contact_kind_from_name(const char *step_kind);

#endif
