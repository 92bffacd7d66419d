/*
 * events.c: collect.record_event(practice_id, patient_id, kind, details,
 * at). Checks the event, stores it in collect.event and applies its
 * effect on the account, the outbox and the tasks, all in the caller's
 * transaction (an error leaves nothing half-written). The timing and
 * wording of what follows is the cadence's (tick.c); this file only sets
 * facts, holds and wake-ups. Never reads the wall clock: `at` is given.
 */
#include "collect.h"

#include "utils/jsonb.h"

#include "dunning.h"
#include "plan.h"

typedef enum EventKind
{
	EV_DISPUTE_OPENED, EV_DISPUTE_RESOLVED, EV_ASSISTANCE_REQUESTED, EV_HARDSHIP_APPROVED,
	EV_HARDSHIP_DENIED, EV_RETURNED_MAIL, EV_ADDRESS_UPDATED, EV_APPOINTMENT_BOOKED,
	EV_APPOINTMENT_NO_SHOW, EV_CALL_COMPLETED, EV_CALL_NO_ANSWER, EV_COMPLAINT, EV_OPT_OUT,
	EV_OPT_IN, EV_PLACED,
	/* compliance (docs/compliance.md) */
	EV_VERIFICATION_SENT, EV_ORIGINAL_CREDITOR, EV_GFE_DISPUTE, EV_BANKRUPTCY, EV_DECEASED,
	EV_CHANNEL_REQUEST, EV_HOLD_RELEASED, EV_ECA_NOTICE
} EventKind;

static const char *const event_names[] = {
	"dispute_opened", "dispute_resolved", "financial_assistance_requested", "hardship_approved",
	"hardship_denied", "returned_mail", "address_updated", "appointment_booked",
	"appointment_no_show", "call_completed", "call_no_answer", "complaint", "opt_out",
	"opt_in", "placed_with_agency",
	"verification_sent", "original_creditor_requested", "gfe_dispute", "bankruptcy_notice", "deceased",
	"channel_request", "hold_released", "eca_notice_sent"
};

/* run one statement with text/timestamptz arguments; returns SPI_processed */
static uint64
exec(const char *sql, int nargs, const Oid *types, Datum *args, const char *nulls)
{
	int			rc = SPI_execute_with_args(sql, nargs, (Oid *) types, args, nulls, false, 0);

	if (rc < 0)
		elog(ERROR, "event statement failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

static const Oid T2[] = {TEXTOID, TEXTOID};
static const Oid T2TS[] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
static const Oid T2TSTXT[] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID};

static pg_attribute_noreturn() void
bad_details(const char *kind, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid details for event \"%s\": %s", kind, what)));
}

/* a string member of details, or NULL */
static char *
detail_string(Jsonb *details, const char *key, const char *kind)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&details->root, key, strlen(key), NULL);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		bad_details(kind, psprintf("\"%s\" must be a string", key));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* a timestamptz member of details (required) */
static TimestampTz
detail_timestamp(Jsonb *details, const char *key, const char *kind)
{
	char	   *s = detail_string(details, key, kind);
	Datum		d;

	if (s == NULL)
		bad_details(kind, psprintf("\"%s\" (a timestamp with time zone) is required", key));
	d = DirectFunctionCall3(timestamptz_in, CStringGetDatum(s), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	if (TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(d)))
		bad_details(kind, psprintf("\"%s\" must be a finite timestamp", key));
	return DatumGetTimestampTz(d);
}

static const char *
detail_channel(Jsonb *details, const char *kind)
{
	char	   *c = detail_string(details, "channel", kind);

	if (c == NULL)
		bad_details(kind, "\"channel\" (sms, email, letter, voice or all) is required");
	if (strcmp(c, "sms") != 0 && strcmp(c, "email") != 0 && strcmp(c, "letter") != 0 &&
		strcmp(c, "voice") != 0 && strcmp(c, "all") != 0)
		bad_details(kind, psprintf("unknown channel \"%s\" (sms, email, letter, voice or all)", c));
	return c;
}

/* cancel queued messages: all but notices, or every message on one channel; never the STOP confirmation */
static void
cancel_queued(Datum *key, const char *channel, const char *why)
{
	static const Oid types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4] = {key[0], key[1], CStringGetTextDatum(why), (Datum) 0};
	char		nulls[4] = {' ', ' ', ' ', 'n'};

	if (channel != NULL && strcmp(channel, "all") != 0)
	{
		args[3] = CStringGetTextDatum(channel);
		nulls[3] = ' ';
	}
	exec("UPDATE collect.outbox SET status = 'cancelled', last_error = $3"
		 " WHERE practice_id = $1 AND patient_id = $2 AND status = 'queued'"
		 " AND ($4::text IS NULL OR channel = $4)"
		 " AND step NOT LIKE 'opt_out_confirmation%'"
		 " AND ($4::text IS NOT NULL OR step NOT LIKE 'notice:%')",
		 4, types, args, nulls);
}

static void
close_tasks(Datum *key, const char *kind, TimestampTz at, const char *by)
{
	static const Oid types[5] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID};
	Datum		args[5] = {key[0], key[1], CStringGetTextDatum(kind), TimestampTzGetDatum(at), CStringGetTextDatum(by)};

	exec("UPDATE collect.task SET status = 'done', closed_at = $4, closed_by = $5"
		 " WHERE practice_id = $1 AND patient_id = $2 AND kind = $3 AND status = 'open'", 5, types, args, NULL);
}

/* set columns of the account: sql is "SET ..." with $1 practice, $2 patient, $3 at */
static void
account_set(Datum *key, TimestampTz at, const char *set_clause)
{
	Datum		args[3] = {key[0], key[1], TimestampTzGetDatum(at)};

	exec(psprintf("UPDATE collect.account SET %s WHERE practice_id = $1 AND patient_id = $2", set_clause),
		 3, T2TS, args, NULL);
}

/* the first usable digital channel (then letter) for a notice, or NULL */
static const char *
notice_channel(const OutreachTarget *t, TimestampTz at, ContactKind kind)
{
	static const char *const order[] = {"email", "sms", "letter"};

	for (int i = 0; i < 3; i++)
	{
		TimestampTz when = outreach_send_time(at, t->tz, t->policy->contact_hour_start,
											  t->policy->contact_hour_end, -1);
		ContactDecision d = outreach_check(t, order[i], kind, when);

		if (d.allowed)
			return order[i];
	}
	return NULL;
}

/* a moment as UTC "YYYY-MM-DDTHH:MM:SSZ", whatever the session's DateStyle and TimeZone (idempotency keys) */
static char *
day_key(TimestampTz at)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(at, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool
has_open_balance(const OutreachTarget *t)
{
	return t->has_account && t->balance >= Max(t->policy->min_outreach_balance, 1);
}

/* open a legal hold (ends_at DT_NOEND: until released) unless one of the kind is open */
static void
hold_open(Datum *key, const char *kind, TimestampTz at, TimestampTz ends_at, const char *reason, Jsonb *details)
{
	static const Oid types[7] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, JSONBOID};
	Datum		args[7] = {key[0], key[1], CStringGetTextDatum(kind), TimestampTzGetDatum(at),
	TimestampTzGetDatum(ends_at), CStringGetTextDatum(reason), JsonbPGetDatum(details)};
	char		nulls[7] = {' ', ' ', ' ', ' ', ends_at == DT_NOEND ? 'n' : ' ', ' ', ' '};

	exec("INSERT INTO collect.legal_hold (practice_id, patient_id, kind, starts_at, ends_at, reason, details)"
		 " SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM collect.legal_hold"
		 "  WHERE practice_id = $1 AND patient_id = $2 AND kind = $3 AND starts_at <= $4"
		 "  AND (ends_at IS NULL OR ends_at > $4))", 7, types, args, nulls);
}

/* end the open holds of a kind at `at`; returns how many */
static uint64
hold_close(Datum *key, const char *kind, TimestampTz at)
{
	Datum		args[4] = {key[0], key[1], TimestampTzGetDatum(at), CStringGetTextDatum(kind)};

	return exec("UPDATE collect.legal_hold SET ends_at = $3"
				" WHERE practice_id = $1 AND patient_id = $2 AND kind = $4 AND starts_at <= $3"
				" AND (ends_at IS NULL OR ends_at > $3)", 4, T2TSTXT, args, NULL);
}

/* a hold stops the cadence; releasing the last one wakes it */
static void
hold_wake(Datum *key, TimestampTz at)
{
	account_set(key, at, "next_action_at = CASE WHEN balance > 0 AND NOT dispute_open AND NOT assistance_open"
				" AND state NOT IN ('placed', 'on_plan', 'closed') THEN $3 END");
}

/* inside the Reg F validation period (account.validation_period_end, patient-local date)? */
static bool
in_validation_period(const OutreachTarget *t, TimestampTz at)
{
	return t->has_validation && local_date(at, t->tz) <= t->validation_end;
}

static Cents
detail_cents(Jsonb *details, const char *key, const char *kind)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&details->root, key, strlen(key), NULL);

	if (v == NULL || v->type == jbvNull)
		bad_details(kind, psprintf("\"%s\" (an amount) is required", key));
	if (v->type == jbvNumeric)
		return numeric_to_cents(NumericGetDatum(v->val.numeric));
	if (v->type == jbvString)
		return numeric_to_cents(DirectFunctionCall3(numeric_in, CStringGetDatum(pnstrdup(v->val.string.val, v->val.string.len)),
													ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	bad_details(kind, psprintf("\"%s\" must be a number", key));
}

static void
cancel_everything(Datum *key, const char *why, TimestampTz at)
{
	static const Oid types[4] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[4] = {key[0], key[1], CStringGetTextDatum(why), TimestampTzGetDatum(at)};

	exec("UPDATE collect.outbox SET status = 'cancelled', last_error = $3"
		 " WHERE practice_id = $1 AND patient_id = $2 AND status = 'queued'", 3, types, args, NULL);
	exec("UPDATE collect.task SET status = 'cancelled', closed_at = $4, closed_by = $3"
		 " WHERE practice_id = $1 AND patient_id = $2 AND status = 'open' AND kind IN ('call', 'placement_review')",
		 4, types, args, NULL);
	account_set(key, at, "next_action_at = NULL");
}

static void
apply_event(EventKind kind, const char *kind_name, OutreachTarget *t, Jsonb *details, TimestampTz at)
{
	Datum		key[2] = {CStringGetTextDatum(t->practice_id), CStringGetTextDatum(t->patient_id)};
	char	   *summary;

	switch (kind)
	{
		case EV_DISPUTE_OPENED:
			(void) detail_string(details, "reason", kind_name);
			account_set(key, at, "dispute_open = true, doubt = true, state = 'disputed', next_action_at = NULL,"
						" segment = 'documentation_doubt'");
			hold_open(key, "dispute", at, DT_NOEND, "dispute opened", details);
			{
				JsonbValue *w = getKeyJsonValueFromContainer(&details->root, "written", 7, NULL);

				if (w != NULL && w->type == jbvBool && w->val.boolean && in_validation_period(t, at))
					hold_open(key, "validation", at, DT_NOEND,
							  "written dispute inside the validation period: collection waits for verification", details);
			}
			cancel_queued(key, NULL, "cancelled: dispute opened");
			if (t->has_account)
			{
				summary = task_summary(t->practice_id, t->patient_id,
									   "checking the visit and insurance records and answering the patient in writing; "
									   "outreach on this balance is stopped until the dispute is resolved", at);
				task_open(t->practice_id, t->patient_id, "dispute_review", summary, at + USECS_PER_DAY, at);
			}
			break;
		case EV_DISPUTE_RESOLVED:
			(void) detail_string(details, "outcome", kind_name);
			account_set(key, at, "dispute_open = false, doubt = false, state = CASE WHEN balance > 0 THEN 'in_cadence' ELSE 'closed' END,"
						" next_action_at = CASE WHEN balance > 0 THEN $3 END");
			close_tasks(key, "dispute_review", at, "event:dispute_resolved");
			(void) hold_close(key, "dispute", at);
			/* a validation hold stays until verification_sent */
			break;
		case EV_ASSISTANCE_REQUESTED:
			account_set(key, at, "assistance_open = true, state = 'paused', next_action_at = NULL");
			if (assistance_window_open(t->policy->nonprofit_hospital, t->first_statement_at, at))
				hold_open(key, "assistance", at, DT_NOEND,
						  "financial-assistance application inside the 240-day application period", details);
			cancel_queued(key, NULL, "cancelled: financial-assistance request");
			{
				const char *ch = notice_channel(t, at, CK_NOTICE);

				if (ch != NULL)
					(void) outreach_enqueue_target(t, ch, psprintf("notice:assistance:%s", day_key(at)), CK_NOTICE,
												   "assistance_application", NULL, at, at);
			}
			if (t->has_account)
			{
				summary = task_summary(t->practice_id, t->patient_id,
									   "reviewing the financial-assistance application; collection and placement are paused", at);
				task_open(t->practice_id, t->patient_id, "hardship_review", summary, at + 2 * USECS_PER_DAY, at);
			}
			break;
		case EV_HARDSHIP_APPROVED:
			{
				Datum		args[4] = {key[0], key[1], TimestampTzGetDatum(at),
				CStringGetTextDatum(psprintf("%d months", t->policy->hardship_support_months))};

				exec("UPDATE collect.account SET assistance_open = false, state = 'hardship',"
					 " hardship_until = $3 + $4::interval, next_action_at = $3 + $4::interval"
					 " WHERE practice_id = $1 AND patient_id = $2", 4, T2TSTXT, args, NULL);
				close_tasks(key, "hardship_review", at, "event:hardship_approved");
				(void) hold_close(key, "assistance", at);
			}
			/* the outcome (reduction, longer term, lower minimum) and the review date: plan_hardship.c */
			plan_hardship_approved(t->practice_id, t->patient_id, details, at);
			break;
		case EV_HARDSHIP_DENIED:
			account_set(key, at, "assistance_open = false, hardship_until = NULL,"
						" state = CASE WHEN balance > 0 THEN 'in_cadence' ELSE state END,"
						" next_action_at = CASE WHEN balance > 0 THEN $3 END");
			close_tasks(key, "hardship_review", at, "event:hardship_denied");
			(void) hold_close(key, "assistance", at);
			break;
		case EV_RETURNED_MAIL:
			account_set(key, at, "returned_mail = true, failed_contacts = failed_contacts + 1,"
						" next_action_at = CASE WHEN next_action_at IS NOT NULL OR state IN ('current', 'in_cadence', 'escalated') THEN $3 END");
			exec("UPDATE collect.patient SET address_ok = false WHERE practice_id = $1 AND patient_id = $2",
				 2, T2, key, NULL);
			cancel_queued(key, "letter", "cancelled: returned mail");
			summary = t->has_account ?
				task_summary(t->practice_id, t->patient_id, "confirming the mailing address; mail steps go to other channels meanwhile", at) :
				pstrdup("Mail came back. Recommend confirming the mailing address.");
			task_open(t->practice_id, t->patient_id, "address_check", summary, at + 2 * USECS_PER_DAY, at);
			break;
		case EV_ADDRESS_UPDATED:
			account_set(key, at, "returned_mail = false");
			exec("UPDATE collect.patient SET address_ok = true WHERE practice_id = $1 AND patient_id = $2",
				 2, T2, key, NULL);
			close_tasks(key, "address_check", at, "event:address_updated");
			break;
		case EV_APPOINTMENT_BOOKED:
			{
				TimestampTz appt = detail_timestamp(details, "appointment_at", kind_name);
				Datum		args[3] = {key[0], key[1], TimestampTzGetDatum(appt)};

				exec("UPDATE collect.account SET appointment_at = $3 WHERE practice_id = $1 AND patient_id = $2",
					 3, T2TS, args, NULL);
				t->appointment_at = appt;
				if (has_open_balance(t) && appt > at && !t->dispute_open && !t->assistance_open &&
					strcmp(t->state, "on_plan") != 0 && strcmp(t->state, "placed") != 0)
				{
					const char *ch = notice_channel(t, at, CK_COLLECTION);
					int64		id = 0;

					if (ch != NULL && strcmp(ch, "letter") != 0)
						id = outreach_enqueue_target(t, ch, psprintf("appointment:%s", day_key(appt)), CK_COLLECTION,
													 "appointment_and_balance", NULL, at, at);
					/* the bundled message stands in for the next cadence step if it is near */
					if (id > 0)
						account_set(key, at, "last_contact_at = $3");
				}
			}
			break;
		case EV_APPOINTMENT_NO_SHOW:
			{
				Datum		args[4] = {key[0], key[1], TimestampTzGetDatum(at),
				CStringGetTextDatum(psprintf("%d hours", t->policy->no_show_pause_hours))};
				const char *ch;

				exec("UPDATE collect.account SET no_show_until = $3 + $4::interval,"
					 " next_action_at = CASE WHEN next_action_at IS NOT NULL THEN GREATEST(next_action_at, $3 + $4::interval) END"
					 " WHERE practice_id = $1 AND patient_id = $2", 4, T2TSTXT, args, NULL);
				cancel_queued(key, NULL, "cancelled: no-show, rebooking goes first");
				t->no_show_until = at + (TimestampTz) t->policy->no_show_pause_hours * USECS_PER_HOUR;
				ch = notice_channel(t, at, CK_NOTICE);
				if (ch != NULL && strcmp(ch, "letter") != 0)
					(void) outreach_enqueue_target(t, ch, psprintf("notice:rebook:%s", day_key(at)), CK_NOTICE,
												   "rebook", NULL, at, at);
			}
			break;
		case EV_CALL_COMPLETED:
			{
				char	   *by = detail_string(details, "staff", kind_name);
				int			hour = local_hour_of(at, t->tz, NULL);
				Datum		args[4] = {key[0], key[1], TimestampTzGetDatum(at), Int32GetDatum(hour)};
				static const Oid types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID};

				exec("UPDATE collect.account SET last_conversation_at = $3,"
					 " last_response_at = GREATEST(last_response_at, $3), best_hour = $4,"
					 " next_action_at = CASE WHEN next_action_at IS NOT NULL THEN LEAST(next_action_at, $3) END"
					 " WHERE practice_id = $1 AND patient_id = $2", 4, types, args, NULL);
				contact_attempt_log(t->practice_id, t->patient_id, "call_task", 0, 0, at, "conversation",
									by ? by : "staff", detail_string(details, "outcome", kind_name));
				close_tasks(key, "call", at, by ? by : "event:call_completed");
			}
			break;
		case EV_CALL_NO_ANSWER:
			{
				char	   *by = detail_string(details, "staff", kind_name);

				account_set(key, at, "failed_contacts = failed_contacts + 1");
				contact_attempt_log(t->practice_id, t->patient_id, "call_task", 0, 0, at, "no_answer",
									by ? by : "staff", NULL);
			}
			break;
		case EV_COMPLAINT:
			audit_record(t->practice_id, t->patient_id, at, "pm", "complaint", detail_string(details, "channel", kind_name),
						 "complaint recorded", details);
			break;
		case EV_OPT_OUT:
			{
				const char *ch = detail_channel(details, kind_name);
				static const char *const all[] = {"sms", "email", "letter", "voice"};

				for (int i = 0; i < 4; i++)
				{
					Datum		args[4] = {key[0], key[1], TimestampTzGetDatum(at), CStringGetTextDatum(all[i])};

					if (strcmp(ch, "all") != 0 && strcmp(ch, all[i]) != 0)
						continue;
					exec("INSERT INTO collect.channel_opt_out (practice_id, patient_id, channel, opted_out_at, source)"
						 " VALUES ($1, $2, $4, $3, 'event:opt_out')"
						 " ON CONFLICT (practice_id, patient_id, channel) DO UPDATE"
						 " SET opted_out_at = EXCLUDED.opted_out_at, source = EXCLUDED.source, opted_in_at = NULL",
						 4, T2TSTXT, args, NULL);
					cancel_queued(key, all[i], "cancelled: opted out");
				}
			}
			break;
		case EV_OPT_IN:
			{
				const char *ch = detail_channel(details, kind_name);
				Datum		args[4] = {key[0], key[1], TimestampTzGetDatum(at), CStringGetTextDatum(ch)};

				exec("UPDATE collect.channel_opt_out SET opted_in_at = $3"
					 " WHERE practice_id = $1 AND patient_id = $2 AND ($4 = 'all' OR channel = $4) AND opted_in_at IS NULL",
					 4, T2TSTXT, args, NULL);
			}
			break;
		case EV_PLACED:
			{
				TimestampTz earliest = t->first_statement_at == DT_NOBEGIN ? DT_NOEND :
					t->first_statement_at + (TimestampTz) 120 * USECS_PER_DAY;

				if (t->dispute_open || t->assistance_open ||
					(t->hardship_until != DT_NOBEGIN && t->hardship_until > at))
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("patient \"%s\" cannot be placed with an agency while a dispute, hardship or assistance request is open",
									t->patient_id)));
				if (hold_active(t->holds, t->n_holds, at, false) != NULL)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("patient \"%s\" cannot be placed with an agency while a %s hold is open",
									t->patient_id, hold_active(t->holds, t->n_holds, at, false)->kind),
							 errhint("Release the hold with record_event(..., 'hold_released', ...) when the law allows.")));
				if (at < earliest)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("patient \"%s\" cannot be placed with an agency before 120 days from the first statement",
									t->patient_id),
							 errhint("IRS 501(r): no extraordinary collection action within 120 days of the first statement.")));
				account_set(key, at, "state = 'placed', next_action_at = NULL");
				cancel_queued(key, NULL, "cancelled: placed with an agency");
				close_tasks(key, "placement_review", at, "event:placed_with_agency");
			}
			break;
		case EV_VERIFICATION_SENT:
			if (hold_close(key, "validation", at) > 0)
				hold_wake(key, at);
			break;
		case EV_ORIGINAL_CREDITOR:
			if (in_validation_period(t, at))
			{
				hold_open(key, "validation", at, DT_NOEND,
						  "request for the original creditor inside the validation period: collection waits for the answer", details);
				account_set(key, at, "next_action_at = NULL");
				cancel_queued(key, NULL, "cancelled: original-creditor request in the validation period");
			}
			else
				audit_record(t->practice_id, t->patient_id, at, "pm", "hold_not_required", "validation",
							 "the request came after the validation period; answer it, collection goes on", details);
			break;
		case EV_GFE_DISPUTE:
			{
				Cents		billed = detail_cents(details, "billed_amount", kind_name);
				Cents		estimate = detail_cents(details, "estimate_amount", kind_name);
				char	   *bd = detail_string(details, "bill_date", kind_name);
				DateADT		bill_date;
				const char *no;

				if (bd == NULL)
					bad_details(kind_name, "\"bill_date\" (a date) is required");
				bill_date = DatumGetDateADT(DirectFunctionCall1(date_in, CStringGetDatum(bd)));
				no = gfe_dispute_ineligible(billed, estimate, bill_date, local_date(at, t->tz));
				if (no != NULL)
					audit_record(t->practice_id, t->patient_id, at, "pm", "hold_not_required", "gfe_dispute", no, details);
				else
				{
					hold_open(key, "gfe_dispute", at, DT_NOEND,
							  psprintf("bill %s is %s above the good-faith estimate", cents_to_dollars(billed),
									   cents_to_dollars(billed - estimate)), details);
					account_set(key, at, "next_action_at = NULL");
					cancel_queued(key, NULL, "cancelled: good-faith-estimate dispute");
					if (t->has_account)
						task_open(t->practice_id, t->patient_id, "dispute_review",
								  task_summary(t->practice_id, t->patient_id,
											   "answering the good-faith-estimate dispute; the bill may not go to collection meanwhile", at),
								  at + USECS_PER_DAY, at);
				}
			}
			break;
		case EV_BANKRUPTCY:
			hold_open(key, "bankruptcy", at, DT_NOEND, "bankruptcy notice received (automatic stay)", details);
			cancel_everything(key, "cancelled: bankruptcy notice", at);
			break;
		case EV_DECEASED:
			hold_open(key, "deceased", at, DT_NOEND, "the patient has died", details);
			cancel_everything(key, "cancelled: patient deceased", at);
			task_open(t->practice_id, t->patient_id, "estate_review",
					  t->has_account && t->balance > 0 ?
					  psprintf("The patient has died. %s is open. Recommend contacting the estate's personal representative; "
							   "no messages go to the patient.", cents_to_dollars(t->balance)) :
					  pstrdup("The patient has died. Recommend closing the record; no messages go to the patient."),
					  at + 2 * USECS_PER_DAY, at);
			break;
		case EV_CHANNEL_REQUEST:
			{
				const char *ch = detail_channel(details, kind_name);
				char	   *addr = detail_string(details, "address", kind_name);

				if (strcmp(ch, "all") == 0)
					exec("DELETE FROM collect.channel_request WHERE practice_id = $1 AND patient_id = $2", 2, T2, key, NULL);
				else
				{
					static const Oid types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
					Datum		args[5] = {key[0], key[1], CStringGetTextDatum(ch),
					addr ? CStringGetTextDatum(addr) : (Datum) 0, TimestampTzGetDatum(at)};
					char		nulls[5] = {' ', ' ', ' ', addr ? ' ' : 'n', ' '};
					static const char *const all[] = {"sms", "email", "letter", "voice"};

					if (addr != NULL && (strcmp(ch, "sms") == 0 || strcmp(ch, "voice") == 0))
						validate_e164(addr);
					else if (addr != NULL && strcmp(ch, "email") == 0)
						validate_email(addr);
					exec("INSERT INTO collect.channel_request (practice_id, patient_id, channel, address, requested_at)"
						 " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (practice_id, patient_id) DO UPDATE"
						 " SET channel = EXCLUDED.channel, address = EXCLUDED.address, requested_at = EXCLUDED.requested_at",
						 5, types, args, nulls);
					for (int i = 0; i < 4; i++)
						if (strcmp(all[i], ch) != 0)
						{
							Datum		cargs[4] = {key[0], key[1], CStringGetTextDatum("cancelled: patient asked for another channel only"),
							CStringGetTextDatum(all[i])};
							static const Oid ctypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};

							exec("UPDATE collect.outbox SET status = 'cancelled', last_error = $3"
								 " WHERE practice_id = $1 AND patient_id = $2 AND status = 'queued' AND channel = $4",
								 4, ctypes, cargs, NULL);
						}
				}
			}
			break;
		case EV_HOLD_RELEASED:
			{
				char	   *hk = detail_string(details, "kind", kind_name);

				if (!hold_kind_valid(hk))
					bad_details(kind_name, "\"kind\" must be one of dispute, validation, assistance, gfe_dispute, bankruptcy, deceased");
				if (hold_close(key, hk, at) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("patient \"%s\" has no open %s hold", t->patient_id, hk)));
				hold_wake(key, at);
			}
			break;
		case EV_ECA_NOTICE:
			account_set(key, at, "eca_notice_at = $3");
			break;
	}
}

PG_FUNCTION_INFO_V1(collect_record_event);

Datum
collect_record_event(PG_FUNCTION_ARGS)
{
	static const Oid types[5] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID};
	char	   *practice_id,
			   *patient_id,
			   *kind_name;
	Jsonb	   *details;
	TimestampTz at;
	int			kind = -1;
	OutreachTarget t;
	Datum		args[5];
	int64		event_id;
	bool		isnull;

	for (int i = 0; i < 5; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("record_event: %s must not be null",
							(const char *[]) {"practice_id", "patient_id", "kind", "details", "at"}[i])));
	practice_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	patient_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	kind_name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	details = PG_GETARG_JSONB_P(3);
	at = PG_GETARG_TIMESTAMPTZ(4);

	for (int i = 0; i < (int) lengthof(event_names); i++)
		if (strcmp(kind_name, event_names[i]) == 0)
			kind = i;
	if (kind < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown event kind \"%s\"", kind_name),
				 errhint("Known kinds: dispute_opened, dispute_resolved, financial_assistance_requested, "
						 "hardship_approved, hardship_denied, returned_mail, address_updated, appointment_booked, "
						 "appointment_no_show, call_completed, call_no_answer, complaint, opt_out, opt_in, placed_with_agency, "
						 "verification_sent, original_creditor_requested, gfe_dispute, bankruptcy_notice, deceased, "
						 "channel_request, hold_released, eca_notice_sent.")));
	if (!JB_ROOT_IS_OBJECT(details) || JB_ROOT_IS_SCALAR(details))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event details must be a JSON object")));
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("event time must be finite")));

	SPI_connect();
	{
		Datum		k[2] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id)};

		if (exec("SELECT 1 FROM collect.patient WHERE practice_id = $1 AND patient_id = $2", 2, T2, k, NULL) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("patient \"%s\" of practice \"%s\" does not exist", patient_id, practice_id),
					 errhint("Insert the patient into collect.patient first.")));
		/* lock the account so a concurrent tick applies its decision before or after, not across */
		exec("SELECT 1 FROM collect.account WHERE practice_id = $1 AND patient_id = $2 FOR UPDATE", 2, T2, k, NULL);
	}
	outreach_load_target(practice_id, patient_id, &t);
	apply_event((EventKind) kind, kind_name, &t, details, at);
	{
		/* tasks this event opened: record what they rested on (collect.why_task) */
		static const Oid dtypes[4] = {TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID};
		Datum		dargs[4] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id),
			JsonbPGetDatum(decision_facts(&t, "task", psprintf("event %s", kind_name), NULL, at, NULL)),
		TimestampTzGetDatum(at)};

		exec("UPDATE collect.task SET decision = $3 WHERE practice_id = $1 AND patient_id = $2"
			 " AND status = 'open' AND decision IS NULL AND created_at = $4", 4, dtypes, dargs, NULL);
	}

	args[0] = CStringGetTextDatum(practice_id);
	args[1] = CStringGetTextDatum(patient_id);
	args[2] = CStringGetTextDatum(kind_name);
	args[3] = JsonbPGetDatum(details);
	args[4] = TimestampTzGetDatum(at);
	if (SPI_execute_with_args("INSERT INTO collect.event (practice_id, patient_id, kind, details, at)"
							  " VALUES ($1, $2, $3, $4, $5) RETURNING event_id", 5, (Oid *) types, args, NULL,
							  false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "storing the event failed");
	event_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(event_id);
}
