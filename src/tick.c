/*
 * tick.c: collect.tick(as_of), the clock. Runs each pass in order and
 * sums the actions they took; the cadence pass finds the accounts due
 * through the index on account.next_action_at (its cost follows the due
 * accounts, not all accounts), gathers each one's facts, asks cadence.c
 * for a decision and applies it: queue a message, open a task, refresh
 * state, segment and aging, and set the next wake-up. Decides nothing
 * itself and never reads the wall clock (as_of is an argument).
 */
#include "collect.h"

#include "access/xact.h"
#include "utils/resowner.h"

#include "account.h"
#include "cadence.h"
#include "dunning.h"
#include "learn.h"
#include "plan.h"
#include "tick.h"

typedef struct TickPassEntry
{
	const char *name;
	TickPass	run;
} TickPassEntry;

/*
 * The passes, in order. The cadence pass runs first so that a plan pass
 * or a sweep sees the states it set.
 *
 * LEAD: plug further passes in here, e.g.
 *   {"plans", plans_tick},          -- issue 4: reminders, autopay charges, retries
 *   {"refund_sweep", refund_tick},  -- sweeps
 * Each must be idempotent for a given as_of and return its action count.
 */
static const TickPassEntry tick_passes[] = {
	{"cadence", cadence_tick},
	{"plans", plans_tick},		/* plan.h: settle, reminders, autopay, retries, defaults, reviews, sweeps */
};

#define TICK_BATCH 500
#define TICK_LOCK_KEY INT64CONST(0x636f6c6c6563)	/* "collec" */

static struct
{
	SPIPlanPtr	due;
	SPIPlanPtr	lock;
	SPIPlanPtr	failed_digital;
	SPIPlanPtr	update;
	SPIPlanPtr	cancel;
} plans;

PG_FUNCTION_INFO_V1(collect_tick);

Datum
collect_tick(PG_FUNCTION_ARGS)
{
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(0);
	int64		total = 0;
	bool		got;

	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("tick needs a finite as_of")));

	/* one tick at a time per database: a slow tick is not overtaken by the next */
	got = DatumGetBool(DirectFunctionCall1(pg_try_advisory_xact_lock_int8, Int64GetDatum(TICK_LOCK_KEY)));
	if (!got)
		PG_RETURN_INT64(0);

	outreach_cache_begin();
	for (size_t i = 0; i < lengthof(tick_passes); i++)
	{
		total += tick_passes[i].run(as_of);
		CHECK_FOR_INTERRUPTS();
	}
	outreach_cache_end();
	PG_RETURN_INT64(total);
}

/* ---- the cadence pass ---- */

static TimestampTz
tick_local_time(DateADT date, int hour, void *arg)
{
	return local_time_at(date, hour, (pg_tz *) arg);
}

static Datum
nullable_ts(TimestampTz ts, char *nulls, int i)
{
	nulls[i] = ts == DT_NOBEGIN ? 'n' : ' ';
	return TimestampTzGetDatum(ts);
}

/* sms/email attempts since the last response (and since the cadence began) */
static int
failed_digital_attempts(const OutreachTarget *t, TimestampTz as_of)
{
	TimestampTz since = Max(t->last_response_at, local_time_at(t->cadence_anchor, 0, t->tz));
	static const Oid types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[4];
	bool		isnull;
	int			n;

	dunning_plan(&plans.failed_digital,
				 "SELECT count(*)::int FROM collect.contact_attempt"
				 " WHERE practice_id = $1 AND patient_id = $2 AND channel IN ('sms', 'email')"
				 "   AND at > $3 AND at <= $4 AND outcome IN ('queued', 'sent', 'delivered', 'failed')",
				 4, types);
	args[0] = CStringGetTextDatum(t->practice_id);
	args[1] = CStringGetTextDatum(t->patient_id);
	args[2] = TimestampTzGetDatum(since);
	args[3] = TimestampTzGetDatum(as_of);
	if (SPI_execute_plan(plans.failed_digital, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "counting contact attempts failed");
	n = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return n;
}

static bool
can_use(const OutreachTarget *t, const char *channel, TimestampTz at)
{
	ContactDecision d = outreach_check(t, channel, CK_COLLECTION, at);

	/* hours are placed by send_after; every other rule must pass */
	return d.allowed || strcmp(d.rule, "quiet_hours") == 0;
}

static void
fill_facts(const OutreachTarget *t, TimestampTz as_of, CadenceFacts *f)
{
	memset(f, 0, sizeof(*f));
	f->policy = t->policy;
	f->as_of = as_of;
	f->today = local_date(as_of, t->tz);
	f->balance = t->balance;
	f->state = t->state;
	f->has_anchor = t->has_anchor;
	f->anchor = t->cadence_anchor;
	f->step = t->cadence_step;
	f->last_step_date = t->last_contact_at == DT_NOBEGIN ? 0 : local_date(t->last_contact_at, t->tz);
	f->last_payment_at = t->last_payment_at;
	f->last_response_at = t->last_response_at;
	f->last_conversation_at = t->last_conversation_at;
	f->paused_until = t->paused_until;
	f->no_show_until = t->no_show_until;
	f->hardship_until = t->hardship_until;
	f->appointment_at = t->appointment_at;
	f->first_statement_at = t->first_statement_at;
	f->placement_hold_until = t->placement_hold_until;
	f->dispute_open = t->dispute_open;
	f->assistance_open = t->assistance_open;
	f->paid_on_time = t->paid_on_time;
	f->paid_late = t->paid_late;
	f->failed_digital = 0;
	f->can_call = t->phone != NULL;
	f->has_risk = t->has_risk;
	f->risk_score = t->risk_score;
	{
		const LegalHold *h = hold_active(t->holds, t->n_holds, as_of, false);

		f->legal_hold = h ? hold_kind_info(h->kind)->reason : NULL;
		f->legal_hold_until = h == NULL || h->ends_at == DT_NOEND ? DT_NOBEGIN : h->ends_at;
	}
	/* channel checks need a balance and no hold; cadence_decide stops earlier otherwise */
	if (t->balance >= Max(t->policy->min_outreach_balance, 1) && !t->dispute_open && !t->assistance_open)
	{
		TimestampTz probe = outreach_send_time(as_of, t->tz, t->policy->contact_hour_start,
											   t->policy->contact_hour_end, -1);

		f->can_sms = can_use(t, "sms", probe);
		f->can_email = can_use(t, "email", probe);
		f->can_letter = can_use(t, "letter", probe);
		if (f->step < t->policy->n_cadence && strcmp(t->policy->cadence[f->step].channel, "voice") == 0)
			f->can_voice = can_use(t, "voice", probe);
	}
}

/*
 * The channel bandit's pick for the step due now (learn.c), drawn among the
 * channels the contact rules allow at this moment; a call only after two
 * unanswered digital attempts, as the cadence itself does. NULL (the
 * cadence's own channel) for a step not due yet, a voice step, or while
 * the segment has too little evidence.
 */
static const char *
learned_channel(const OutreachTarget *t, const CadenceFacts *f, TimestampTz as_of)
{
	ChannelArm	arms[LEARN_CHANNELS];
	TimestampTz probe;
	bool		digital = f->can_sms || f->can_email;

	if (!f->has_anchor || f->step >= t->policy->n_cadence ||
		strcmp(t->policy->cadence[f->step].channel, "voice") == 0 ||
		f->today < cadence_step_date(f, f->step) ||
		!learn_segment_arms(t->practice_id, t->patient_id, arms))
		return NULL;
	probe = outreach_send_time(as_of, t->tz, t->policy->contact_hour_start, t->policy->contact_hour_end, -1);
	arms[0].allowed = f->can_sms;
	arms[1].allowed = f->can_email;
	arms[2].allowed = f->can_letter;
	arms[3].allowed = f->can_call && can_use(t, "call_task", probe) &&
		(!digital || failed_digital_attempts(t, as_of) >= 2);
	return learn_draw_channel(arms, t->practice_id, t->patient_id, as_of);
}

static void
cancel_queued_cadence(const OutreachTarget *t, const char *why)
{
	static const Oid types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		args[3];

	dunning_plan(&plans.cancel,
				 "UPDATE collect.outbox SET status = 'cancelled', last_error = $3"
				 " WHERE practice_id = $1 AND patient_id = $2 AND status = 'queued' AND step LIKE 'cadence:%'",
				 3, types);
	args[0] = CStringGetTextDatum(t->practice_id);
	args[1] = CStringGetTextDatum(t->patient_id);
	args[2] = CStringGetTextDatum(why);
	SPI_execute_plan(plans.cancel, args, NULL, false, 0);
}

static const char *
call_recommendation(const OutreachTarget *t)
{
	if (t->balance > t->policy->plan_offer_above)
		return "a call to offer a payment plan or a financial-assistance talk";
	return "a friendly reminder call with the pay link";
}

/* Process one due account; returns the actions taken (messages, tasks). */
static int64
process_account(const char *practice_id, const char *patient_id, TimestampTz as_of)
{
	static const Oid lock_types[2] = {TEXTOID, TEXTOID};
	static const Oid upd_types[11] = {TEXTOID, TEXTOID, INT4OID, TEXTOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID, TEXTOID, TEXTOID, DATEOID};
	Datum		args[11];
	char		nulls[11] = "           ";
	OutreachTarget t;
	CadenceFacts f;
	CadenceDecision d;
	int64		actions = 0;
	TimestampTz wake = DT_NOBEGIN;
	const char *state = NULL;
	AccountFacts af;
	int			days = 0;

	/*
	 * Lock the account row (already ours when the due query locked it, again
	 * after a batch was rolled back). The tick never waits for a row lock: an
	 * account a posting or an event holds is skipped and stays due for the
	 * next tick, so a tick cannot deadlock with the ledger trigger.
	 */
	dunning_plan(&plans.lock,
				 "SELECT 1 FROM collect.account WHERE practice_id = $1 AND patient_id = $2 FOR UPDATE SKIP LOCKED",
				 2, lock_types);
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = CStringGetTextDatum(patient_id);
	if (SPI_execute_plan(plans.lock, args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		return 0;
	outreach_load_target(practice_id, patient_id, &t);
	state = t.state;
	/* an account loaded without a cadence anchor runs from its due date */
	if (!t.has_anchor && t.has_due)
	{
		t.has_anchor = true;
		t.cadence_anchor = t.due_since;
	}
	/* prefer the hour the patient answered at before (a reply, a call) */
	if (t.best_hour < 0 && t.last_response_at != DT_NOBEGIN)
		t.best_hour = local_hour_of(t.last_response_at, t.tz, NULL);

	for (int guard = 0; guard <= t.policy->n_cadence + 1; guard++)
	{
		fill_facts(&t, as_of, &f);
		if (f.step < t.policy->n_cadence && f.has_anchor &&
			(strcmp(t.policy->cadence[f.step].channel, "call_task") == 0 ||
			 strcmp(t.policy->cadence[f.step].channel, "voice") == 0))
			f.failed_digital = failed_digital_attempts(&t, as_of);
		f.learned_channel = learned_channel(&t, &f, as_of);
		cadence_decide(&f, tick_local_time, t.tz, &d);
		state = d.state;
		wake = d.wake_at;

		if (d.action == CA_MESSAGE)
		{
			char	   *step = psprintf("cadence:%s:%d",
										DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(t.cadence_anchor))),
										d.step_index + 1);
			int64		id;

			/* a first letter is the validation notice itself (Reg F 1006.34) */
			if (strcmp(d.channel, "letter") == 0 && !t.has_validation && t.has_due)
				id = validation_notice_enqueue(&t, "letter", step, CK_COLLECTION, as_of);
			else
				id = outreach_enqueue_target(&t, d.channel, step, CK_COLLECTION, d.template_name,
											 NULL, as_of, as_of);

			t.cadence_step = d.step_index + 1;
			if (id > 0)
			{
				actions++;
				t.last_contact_at = as_of;
				if (strcmp(d.channel, "letter") == 0 && t.first_statement_at == DT_NOBEGIN)
					t.first_statement_at = as_of;
				actions += validation_notice_first_contact(&t, as_of);
			}
			break;
		}
		else if (d.action == CA_CALL_TASK)
		{
			TimestampTz due_at = outreach_send_time(as_of, t.tz, t.policy->contact_hour_start,
													t.policy->contact_hour_end, t.best_hour);
			ContactDecision cd = outreach_check(&t, "call_task", CK_COLLECTION, due_at);

			t.cadence_step = d.step_index + 1;
			if (cd.allowed)
			{
				char	   *summary = task_summary(t.practice_id, t.patient_id, call_recommendation(&t), as_of);
				int64		task_id = task_open(t.practice_id, t.patient_id, "call", summary, due_at, as_of);

				contact_attempt_log(t.practice_id, t.patient_id, "call_task", 0, task_id, as_of,
									"task_opened", "collect", "cadence call step");
				decision_attach_task(t.practice_id, task_id,
									 decision_facts(&t, "call_task", "cadence call step", d.template_name, due_at, NULL));
				actions += validation_notice_first_contact(&t, as_of);
				t.last_contact_at = as_of;
				actions++;
			}
			else
				audit_record(t.practice_id, t.patient_id, as_of, "collect", "step_skipped", "call_task",
							 psprintf("%s: %s", cd.rule, cd.reason), NULL);
			break;
		}
		else if (d.action == CA_SKIP_STEP)
		{
			audit_record(t.practice_id, t.patient_id, as_of, "collect", "step_skipped",
						 psprintf("cadence step %d", d.step_index + 1), d.reason, NULL);
			t.cadence_step = d.step_index + 1;
			continue;			/* decide again for the next step */
		}
		else if (d.action == CA_PLACEMENT_REVIEW)
		{
			EcaDecision gate = eca_check(&t, ECA_PLACEMENT, as_of);
			char	   *summary;
			int64		task_id;

			if (!gate.allowed)
			{
				/* no recommendation yet: send the written notice, or wait for the gate */
				state = t.state;
				wake = gate.earliest != DT_NOEND && gate.earliest > as_of ? gate.earliest : DT_NOBEGIN;
				if (strcmp(gate.rule, "eca_notice_missing") == 0)
				{
					const char *ch = outreach_check(&t, "letter", CK_NOTICE,
													outreach_send_time(as_of, t.tz, t.policy->contact_hour_start,
																	   t.policy->contact_hour_end, -1)).allowed ? "letter" : "email";
					int64		id = outreach_enqueue_target(&t, ch, "notice:eca", CK_NOTICE, "eca_notice", NULL, as_of, as_of);

					if (id > 0)
					{
						t.eca_notice_at = as_of;
						eca_notice_sent(&t, as_of);
						wake = as_of + (TimestampTz) ECA_NOTICE_DAYS_BEFORE * USECS_PER_DAY;
						actions++;
					}
				}
				audit_record(t.practice_id, t.patient_id, as_of, "collect", "placement_review_held", "placement",
							 psprintf("%s: %s (%s)", gate.rule, gate.reason, gate.source),
							 decision_facts(&t, "placement", "placement review", NULL, as_of, gate.rule));
				break;
			}
			summary = task_summary(t.practice_id, t.patient_id, "a placement review: the cadence has run out", as_of);
			task_id = task_open(t.practice_id, t.patient_id, "placement_review", summary,
								outreach_send_time(as_of, t.tz, t.policy->contact_hour_start, t.policy->contact_hour_end, -1),
								as_of);
			decision_attach_task(t.practice_id, task_id,
								 decision_facts(&t, "placement", "placement review", NULL, as_of, NULL));
			audit_record(t.practice_id, t.patient_id, as_of, "collect", "placement_review", NULL, d.reason, NULL);
			actions++;
			break;
		}
		else
		{
			if (d.cancel_queued)
				cancel_queued_cadence(&t, "cancelled: a recent payment, reply or conversation");
			break;
		}
	}

	/* refresh aging and segment now, and wake again when the aging bucket changes */
	if (t.has_due)
	{
		DateADT		boundary;

		days = Max(0, local_date(as_of, t.tz) - t.due_since);
		boundary = next_aging_boundary(t.due_since, days);
		if (boundary != DATEVAL_NOEND && t.balance > 0)
		{
			TimestampTz b = local_time_at(boundary, 0, t.tz);

			if (wake == DT_NOBEGIN || b < wake)
				wake = b;
		}
	}
	if (wake != DT_NOBEGIN && wake <= as_of)
		wake = as_of + USECS_PER_SEC;	/* the next tick, never this one again */
	memset(&af, 0, sizeof(af));
	af.balance = t.balance;
	af.days_past_due = days;
	af.high_value_threshold = t.policy->email_first_above;
	af.doubt = t.doubt || t.dispute_open;
	af.responded = t.last_response_at != DT_NOBEGIN;
	af.asked_for_plan = t.asked_for_plan;
	af.returned_mail = t.returned_mail;
	af.failed_contacts = t.failed_contacts;

	dunning_plan(&plans.update,
				 "UPDATE collect.account SET cadence_step = $3, state = $4, next_action_at = $5,"
				 " last_contact_at = $6, first_statement_at = $7, days_past_due = $8,"
				 " aging_bucket = $9, segment = $10, cadence_anchor = $11"
				 " WHERE practice_id = $1 AND patient_id = $2", 11, upd_types);
	args[2] = Int32GetDatum(t.cadence_step);
	args[3] = CStringGetTextDatum(state);
	args[4] = nullable_ts(wake, nulls, 4);
	args[5] = nullable_ts(t.last_contact_at, nulls, 5);
	args[6] = nullable_ts(t.first_statement_at, nulls, 6);
	args[7] = Int32GetDatum(days);
	args[8] = CStringGetTextDatum(aging_bucket_for(days));
	args[9] = CStringGetTextDatum(account_segment(&af));
	args[10] = DateADTGetDatum(t.cadence_anchor);
	nulls[10] = t.has_anchor ? ' ' : 'n';
	if (SPI_execute_plan(plans.update, args, nulls, false, 1) != SPI_OK_UPDATE)
		elog(ERROR, "updating the account failed");
	return actions;
}

typedef struct DueKey
{
	char		practice_id[ID_LEN];
	char		patient_id[ID_LEN];
} DueKey;

/*
 * Process keys[from, to) in a subtransaction: on an error (a practice's
 * cadence naming a template that does not exist, say) roll the batch back
 * and return false with the message, so one bad account cannot stop the
 * clock for everyone. Cancels and shutdowns are re-thrown.
 */
static bool
run_batch(DueKey *keys, uint64 from, uint64 to, TimestampTz as_of, MemoryContext per_account,
		  int64 *actions, char **error)
{
	MemoryContext outer = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int64		taken = 0;
	bool		ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(outer);
	PG_TRY();
	{
		for (uint64 i = from; i < to; i++)
		{
			MemoryContext old;

			CHECK_FOR_INTERRUPTS();
			old = MemoryContextSwitchTo(per_account);
			taken += process_account(keys[i].practice_id, keys[i].patient_id, as_of);
			MemoryContextSwitchTo(old);
			MemoryContextReset(per_account);
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(outer);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(outer);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(outer);
		CurrentResourceOwner = owner;
		MemoryContextReset(per_account);
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
			edata->sqlerrcode == ERRCODE_CRASH_SHUTDOWN || edata->elevel >= FATAL)
			ReThrowError(edata);
		*error = edata->message;
		ok = false;
	}
	PG_END_TRY();
	if (ok)
		*actions += taken;
	return ok;
}

/* an account tick could not process: try again in an hour, say why in the audit log */
static void
mark_failed(const DueKey *key, TimestampTz as_of, const char *error)
{
	static SPIPlanPtr retry = NULL;
	static const Oid types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3];

	dunning_plan(&retry, "UPDATE collect.account SET next_action_at = $3"
				 " WHERE practice_id = $1 AND patient_id = $2", 3, types);
	args[0] = CStringGetTextDatum(key->practice_id);
	args[1] = CStringGetTextDatum(key->patient_id);
	args[2] = TimestampTzGetDatum(as_of + USECS_PER_HOUR);
	SPI_execute_plan(retry, args, NULL, false, 0);
	audit_record(key->practice_id, key->patient_id, as_of, "collect", "tick_error", "cadence",
				 error ? error : "unknown error", NULL);
	ereport(WARNING,
			(errmsg("collect.tick: account %s/%s failed and is retried in an hour: %s",
					key->practice_id, key->patient_id, error ? error : "unknown error")));
}

int64
cadence_tick(TimestampTz as_of)
{
	static const Oid types[1] = {TIMESTAMPTZOID};
	Datum		arg = TimestampTzGetDatum(as_of);
	MemoryContext per_account,
				batch_ctx;
	int64		actions = 0;
	DueKey	   *keys;
	char	   *error = NULL;

	SPI_connect();
	dunning_plan(&plans.due,
				 "SELECT practice_id, patient_id FROM collect.account"
				 " WHERE next_action_at <= $1 ORDER BY next_action_at LIMIT " CppAsString2(TICK_BATCH)
				 " FOR UPDATE SKIP LOCKED",
				 1, types);
	batch_ctx = AllocSetContextCreate(CurrentMemoryContext, "collect tick batch", ALLOCSET_DEFAULT_SIZES);
	per_account = AllocSetContextCreate(CurrentMemoryContext, "collect tick account", ALLOCSET_DEFAULT_SIZES);
	keys = MemoryContextAlloc(batch_ctx, sizeof(DueKey) * TICK_BATCH);
	for (;;)
	{
		uint64		n;

		if (SPI_execute_plan(plans.due, &arg, NULL, false, TICK_BATCH) != SPI_OK_SELECT)
			elog(ERROR, "reading due accounts failed");
		n = SPI_processed;
		for (uint64 i = 0; i < n; i++)
		{
			strlcpy(keys[i].practice_id, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1), ID_LEN);
			strlcpy(keys[i].patient_id, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2), ID_LEN);
		}
		SPI_freetuptable(SPI_tuptable);
		if (n == 0)
			break;
		if (!run_batch(keys, 0, n, as_of, per_account, &actions, &error))
		{
			/* one account spoiled the batch: redo it account by account */
			for (uint64 i = 0; i < n; i++)
				if (!run_batch(keys, i, i + 1, as_of, per_account, &actions, &error))
					mark_failed(&keys[i], as_of, error);
		}
	}
	MemoryContextDelete(per_account);
	MemoryContextDelete(batch_ctx);
	SPI_finish();
	return actions;
}
