/*
 * outreach.h: the contract every module uses to reach a patient or a
 * person. Implemented by the dunning engine (src/outreach.c, src/template.c,
 * src/contact_rules.c, src/task.c); used by plans, replies, compliance and
 * the worker. Every function takes as_of and never reads the wall clock.
 */
#ifndef COLLECT_OUTREACH_H
#define COLLECT_OUTREACH_H

#include "collect.h"

/*
 * Queue one message for a patient: renders template_name (a row of
 * collect.message_template in the patient's language, falling back to en)
 * with the whitelisted variables of the account plus extra_vars (a flat
 * JSON object of extra {{name}} values, may be NULL), puts send_after at
 * or after not_before inside the patient's allowed hours, checks consent,
 * opt-outs and holds (send_block_reason), writes collect.outbox and a
 * collect.contact_attempt row, and returns the message_id; returns 0 when
 * a rule held the message back (the reason is logged in audit_log).
 * idempotency_key is derived from (practice, patient, step) so the same
 * step is never queued twice.
 */
extern int64 outreach_enqueue(const char *practice_id, const char *patient_id,
							  const char *channel, const char *step,
							  const char *template_name, Jsonb *extra_vars,
							  TimestampTz not_before, TimestampTz as_of);

/*
 * Why a message on this channel may not go out at `at`, or NULL when it may:
 * no consent, opted out, balance paid, dispute/hardship/assistance hold,
 * paused, outside allowed hours, call caps. Also callable from SQL as
 * collect.send_block_reason(practice_id, patient_id, channel, at).
 * step_kind "notice" (STOP confirmations, plan receipts) skips the balance
 * and hold checks that apply to collection steps ("collection").
 */
extern const char *send_block_reason(const char *practice_id, const char *patient_id,
									 const char *channel, const char *step_kind,
									 TimestampTz at);

/*
 * Open a task for staff (one open task per patient and kind: an existing
 * one is returned with its summary refreshed). summary reads like DESIGN.md
 * ("Owes $420.00 from a visit 52 days ago. ..."); task_summary() builds the
 * standard account part of it.
 */
extern int64 task_open(const char *practice_id, const char *patient_id,
					   const char *kind, const char *summary,
					   TimestampTz due_at, TimestampTz as_of);
extern char *task_summary(const char *practice_id, const char *patient_id,
						  const char *recommendation, TimestampTz as_of);

/* Append to collect.audit_log: who or what decided, and why. */
extern void audit_record(const char *practice_id, const char *patient_id,
						 TimestampTz at, const char *actor, const char *action,
						 const char *subject, const char *reason, Jsonb *facts);

#endif
