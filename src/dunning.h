/*
 * dunning.h: declarations shared by the dunning engine's own files
 * (outreach.c, template.c, task.c, tick.c, events.c, explain.c). Other
 * modules use outreach.h instead.
 */
#ifndef COLLECT_DUNNING_H
#define COLLECT_DUNNING_H

#include "collect.h"
#include "contact_rules.h"
#include "holds.h"
#include "outreach.h"

#define ID_LEN 72

/* Everything about one patient and account that outreach decides on */
typedef struct OutreachTarget
{
	char		practice_id[ID_LEN];
	char		patient_id[ID_LEN];
	char	   *first_name;
	char	   *phone;
	char	   *email;
	char	   *language;
	char	   *practice_name;
	char	   *tzname;			/* patient's, else the practice's */
	pg_tz	   *tz;
	bool		sms_consent,
				email_consent,
				voice_consent,
				address_ok;
	char		opt_outs[64];	/* "sms,email": channels opted out */
	bytea	   *paylink_key;
	Policy	   *policy;
	/* the account (has_account false: no ledger activity yet) */
	bool		has_account;
	Cents		balance;
	char		state[24];
	bool		has_due;
	DateADT		due_since;
	int			cadence_step;
	bool		has_anchor;
	DateADT		cadence_anchor;
	TimestampTz first_statement_at;	/* DT_NOBEGIN: none (same for all below) */
	TimestampTz last_contact_at;
	TimestampTz last_response_at;
	TimestampTz last_payment_at;
	Cents		last_payment_amount;
	TimestampTz paused_until;
	TimestampTz hardship_until;
	TimestampTz no_show_until;
	TimestampTz appointment_at;
	TimestampTz last_conversation_at;
	TimestampTz placement_hold_until;
	int			failed_contacts;
	int			paid_on_time;
	int			paid_late;
	bool		doubt,
				asked_for_plan,
				returned_mail,
				dispute_open,
				assistance_open;
	int			best_hour;		/* -1: unknown */
	bool		has_risk;		/* risk_score set by collect.train */
	double		risk_score;
	/* compliance: legal holds, confidential-communications request, sources */
	int			n_holds;
	LegalHold	holds[MAX_HOLDS];
	char		only_channel[16];	/* "" none */
	char	   *only_address;
	char	   *phone_source;
	char	   *consent_source;
	bool		has_validation;
	DateADT		validation_end;
	TimestampTz eca_notice_at;
} OutreachTarget;

/* compliance.c: facts the decisions above recorded, for collect.why */
extern Jsonb *decision_facts(const OutreachTarget *t, const char *channel, const char *step,
							 const char *template_name, TimestampTz at, const char *why);
extern void compliance_load_target(OutreachTarget *t);
extern int	validation_notice_first_contact(OutreachTarget *t, TimestampTz as_of);
extern int64 validation_notice_enqueue(OutreachTarget *t, const char *channel, const char *step,
									   ContactKind kind, TimestampTz as_of);
extern void eca_notice_sent(const OutreachTarget *t, TimestampTz at);
extern void decision_attach_task(const char *practice_id, int64 task_id, Jsonb *decision);

/* compliance_sql.c */
extern EcaDecision eca_check(const OutreachTarget *t, EcaAction action, TimestampTz at);

/* outreach.c */
extern void outreach_load_target(const char *practice_id, const char *patient_id, OutreachTarget *t);
extern Policy *outreach_policy(const char *practice_id);
extern void outreach_cache_begin(void);
extern void outreach_cache_end(void);
extern TimestampTz outreach_send_time(TimestampTz not_before, pg_tz *tz, int hour_start,
									  int hour_end, int best_hour);
extern ContactDecision outreach_check(const OutreachTarget *t, const char *channel,
									  ContactKind kind, TimestampTz at);
extern int64 outreach_enqueue_target(const OutreachTarget *t, const char *channel, const char *step,
									 ContactKind kind, const char *template_name, Jsonb *extra,
									 TimestampTz not_before, TimestampTz as_of);
extern void contact_attempt_log(const char *practice_id, const char *patient_id, const char *channel,
								int64 message_id, int64 task_id, TimestampTz at,
								const char *outcome, const char *actor, const char *detail);
extern bool target_opted_out(const OutreachTarget *t, const char *channel);
extern TimestampTz local_time_at(DateADT date, int hour, pg_tz *tz);
extern int	local_hour_of(TimestampTz ts, pg_tz *tz, int *minute);

/* template.c */
typedef struct RenderedMessage
{
	char	   *subject;
	char	   *body;
	char	   *language;
	char	   *template_used;
} RenderedMessage;

extern void template_render_for(const OutreachTarget *t, const char *channel, const char *template_name,
								Jsonb *extra, TimestampTz as_of, RenderedMessage *out);
extern char *format_local_date(DateADT d, const char *language);
extern const char *opt_out_line(const char *channel, const char *language);

/* SPI helper shared by the dunning files */
extern SPIPlanPtr dunning_plan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *types);

#endif
