/*
 * outreach.c: the outreach contract of outreach.h. Loads a patient and
 * account into an OutreachTarget, checks the contact rules, places
 * send_after inside the patient's allowed hours and writes the outbox row
 * and its contact_attempt. Decisions come from contact_rules.c; this file
 * only gathers facts and writes. Never reads the wall clock: as_of and
 * not_before come from the caller.
 */
#include "collect.h"

#include "storage/proc.h"
#include "utils/hsearch.h"

#include "dunning.h"

static struct
{
	SPIPlanPtr	target;
	SPIPlanPtr	calls;
	SPIPlanPtr	insert_outbox;
	SPIPlanPtr	existing;
	SPIPlanPtr	attempt;
	SPIPlanPtr	audit;
} plans;

SPIPlanPtr
dunning_plan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, (Oid *) types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*slot = p;
	}
	return *slot;
}

/* ---- policy cache: one load per practice within a tick ---- */

typedef struct PolicyEntry
{
	char		practice_id[ID_LEN];
	Policy		policy;
} PolicyEntry;

static HTAB *policy_cache = NULL;
static MemoryContext policy_cache_ctx = NULL;
static LocalTransactionId policy_cache_lxid = InvalidLocalTransactionId;

/* the cache lives in the transaction that made it (an error ends both) */
static bool
policy_cache_valid(void)
{
	return policy_cache != NULL && policy_cache_lxid == MyProc->lxid;
}

void
outreach_cache_begin(void)
{
	HASHCTL		ctl;

	outreach_cache_end();
	policy_cache_ctx = AllocSetContextCreate(TopTransactionContext, "collect policy cache",
											 ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = ID_LEN;
	ctl.entrysize = sizeof(PolicyEntry);
	ctl.hcxt = policy_cache_ctx;
	policy_cache = hash_create("collect policy cache", 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	policy_cache_lxid = MyProc->lxid;
}

void
outreach_cache_end(void)
{
	if (policy_cache_valid() && policy_cache_ctx != NULL)
		MemoryContextDelete(policy_cache_ctx);
	policy_cache = NULL;
	policy_cache_ctx = NULL;
	policy_cache_lxid = InvalidLocalTransactionId;
}

Policy *
outreach_policy(const char *practice_id)
{
	PolicyEntry *e;
	bool		found;
	char		key[ID_LEN];

	if (!policy_cache_valid())
	{
		Policy	   *p = palloc(sizeof(Policy));

		policy_load(practice_id, p);
		return p;
	}
	memset(key, 0, sizeof(key));
	strlcpy(key, practice_id, sizeof(key));
	e = hash_search(policy_cache, key, HASH_ENTER, &found);
	if (!found)
		policy_load(practice_id, &e->policy);
	return &e->policy;
}

/* ---- time: patient-local hours, DST-correct through the tz database ---- */

int
local_hour_of(TimestampTz ts, pg_tz *tz, int *minute)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	if (timestamp2tm(ts, &tzoff, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
	if (minute)
		*minute = tm.tm_min;
	return tm.tm_hour;
}

/* date at hour:00 local time in tz */
TimestampTz
local_time_at(DateADT date, int hour, pg_tz *tz)
{
	struct pg_tm tm;
	int			tzoff;
	TimestampTz ts;

	memset(&tm, 0, sizeof(tm));
	j2date(date + POSTGRES_EPOCH_JDATE, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_hour = hour;
	tzoff = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, 0, &tzoff, &ts) != 0)
		ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
	return ts;
}

/*
 * The first moment at or after not_before whose patient-local hour is in
 * [hour_start, hour_end); later the same day at best_hour when the patient
 * has answered at that hour before and it is still ahead.
 */
TimestampTz
outreach_send_time(TimestampTz not_before, pg_tz *tz, int hour_start, int hour_end, int best_hour)
{
	TimestampTz ts = not_before;

	if (hour_start < 0 || hour_end > 24 || hour_start >= hour_end)
		elog(ERROR, "invalid contact hours %d-%d", hour_start, hour_end);
	for (int guard = 0; guard < 4; guard++)
	{
		int			hour = local_hour_of(ts, tz, NULL);
		DateADT		day = local_date(ts, tz);

		if (hour >= hour_start && hour < hour_end)
		{
			if (best_hour > hour && best_hour >= hour_start && best_hour < hour_end)
			{
				TimestampTz best = local_time_at(day, best_hour, tz);

				if (best > ts && local_hour_of(best, tz, NULL) == best_hour)
					return best;
			}
			return ts;
		}
		if (hour < hour_start)
			ts = local_time_at(day, Max(hour_start, best_hour >= hour_start && best_hour < hour_end ? best_hour : hour_start), tz);
		else
			ts = local_time_at(day + 1, best_hour >= hour_start && best_hour < hour_end ? best_hour : hour_start, tz);
		if (ts < not_before)	/* cannot happen; never go back in time */
			ts = not_before + USECS_PER_HOUR;
	}
	elog(ERROR, "no allowed contact time found after %s", timestamptz_to_str(not_before));
}

/* ---- the target ---- */

static TimestampTz
ts_or_none(HeapTuple row, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, desc, col, &isnull);

	return isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
}

static char *
text_or_null(HeapTuple row, TupleDesc desc, int col)
{
	return SPI_getvalue(row, desc, col);
}

static bool
bool_col(HeapTuple row, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, desc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

static int
int_col(HeapTuple row, TupleDesc desc, int col, int dflt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, desc, col, &isnull);

	return isnull ? dflt : DatumGetInt32(d);
}

/*
 * Fill *t for one patient (in the caller's memory context). Unknown
 * patient: ERROR 42704 (no half-written state: nothing was written yet).
 */
void
outreach_load_target(const char *practice_id, const char *patient_id, OutreachTarget *t)
{
	static const Oid types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext spi_ctx;

	dunning_plan(&plans.target,
				 "SELECT p.first_name, p.phone, p.email, COALESCE(p.timezone, pr.timezone), p.language,"
				 " p.sms_consent, p.email_consent, p.voice_consent, p.address_ok, pr.name,"
				 " (SELECT string_agg(o.channel, ',') FROM collect.channel_opt_out o"
				 "   WHERE o.practice_id = p.practice_id AND o.patient_id = p.patient_id AND o.opted_in_at IS NULL),"
				 " s.paylink_key,"
				 " a.patient_id IS NOT NULL, a.balance, a.state, a.due_since, a.cadence_step, a.cadence_anchor,"
				 " a.first_statement_at, a.last_contact_at, a.last_response_at, a.last_payment_at, a.last_payment_amount,"
				 " a.paused_until, a.hardship_until, a.no_show_until, a.appointment_at, a.last_conversation_at,"
				 " a.placement_hold_until, a.failed_contacts, a.paid_on_time, a.paid_late,"
				 " a.doubt, a.asked_for_plan, a.returned_mail, a.dispute_open, a.assistance_open, a.best_hour::int,"
				 " a.risk_score::float8"
				 " FROM collect.patient p JOIN collect.practice pr ON pr.practice_id = p.practice_id"
				 " LEFT JOIN collect.practice_secret s ON s.practice_id = p.practice_id"
				 " LEFT JOIN collect.account a ON a.practice_id = p.practice_id AND a.patient_id = p.patient_id"
				 " WHERE p.practice_id = $1 AND p.patient_id = $2", 2, types);
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = CStringGetTextDatum(patient_id);
	if (SPI_execute_plan(plans.target, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the patient failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("patient \"%s\" of practice \"%s\" does not exist", patient_id, practice_id),
				 errhint("Insert the patient into collect.patient first.")));
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	spi_ctx = MemoryContextSwitchTo(caller);

	memset(t, 0, sizeof(*t));
	strlcpy(t->practice_id, practice_id, ID_LEN);
	strlcpy(t->patient_id, patient_id, ID_LEN);
	t->first_name = text_or_null(row, desc, 1);
	t->phone = text_or_null(row, desc, 2);
	t->email = text_or_null(row, desc, 3);
	t->tzname = text_or_null(row, desc, 4);
	t->language = text_or_null(row, desc, 5);
	t->sms_consent = bool_col(row, desc, 6);
	t->email_consent = bool_col(row, desc, 7);
	t->voice_consent = bool_col(row, desc, 8);
	t->address_ok = bool_col(row, desc, 9);
	t->practice_name = text_or_null(row, desc, 10);
	{
		char	   *o = text_or_null(row, desc, 11);

		strlcpy(t->opt_outs, o ? o : "", sizeof(t->opt_outs));
	}
	d = SPI_getbinval(row, desc, 12, &isnull);
	t->paylink_key = isnull ? NULL : DatumGetByteaPCopy(d);
	t->has_account = bool_col(row, desc, 13);
	d = SPI_getbinval(row, desc, 14, &isnull);
	t->balance = isnull ? 0 : numeric_to_cents(d);
	{
		char	   *s = text_or_null(row, desc, 15);

		strlcpy(t->state, s ? s : "current", sizeof(t->state));
	}
	d = SPI_getbinval(row, desc, 16, &isnull);
	t->has_due = !isnull;
	t->due_since = isnull ? 0 : DatumGetDateADT(d);
	t->cadence_step = int_col(row, desc, 17, 0);
	d = SPI_getbinval(row, desc, 18, &isnull);
	t->has_anchor = !isnull;
	t->cadence_anchor = isnull ? 0 : DatumGetDateADT(d);
	t->first_statement_at = ts_or_none(row, desc, 19);
	t->last_contact_at = ts_or_none(row, desc, 20);
	t->last_response_at = ts_or_none(row, desc, 21);
	t->last_payment_at = ts_or_none(row, desc, 22);
	d = SPI_getbinval(row, desc, 23, &isnull);
	t->last_payment_amount = isnull ? 0 : numeric_to_cents(d);
	t->paused_until = ts_or_none(row, desc, 24);
	t->hardship_until = ts_or_none(row, desc, 25);
	t->no_show_until = ts_or_none(row, desc, 26);
	t->appointment_at = ts_or_none(row, desc, 27);
	t->last_conversation_at = ts_or_none(row, desc, 28);
	t->placement_hold_until = ts_or_none(row, desc, 29);
	t->failed_contacts = int_col(row, desc, 30, 0);
	t->paid_on_time = int_col(row, desc, 31, 0);
	t->paid_late = int_col(row, desc, 32, 0);
	t->doubt = bool_col(row, desc, 33);
	t->asked_for_plan = bool_col(row, desc, 34);
	t->returned_mail = bool_col(row, desc, 35);
	t->dispute_open = bool_col(row, desc, 36);
	t->assistance_open = bool_col(row, desc, 37);
	t->best_hour = int_col(row, desc, 38, -1);
	d = SPI_getbinval(row, desc, 39, &isnull);
	t->has_risk = !isnull;
	t->risk_score = isnull ? 0 : DatumGetFloat8(d);
	t->tz = timezone_lookup(t->tzname);
	if (t->tz == NULL)
		elog(ERROR, "patient \"%s\" has an invalid time zone", patient_id);
	MemoryContextSwitchTo(spi_ctx);
	SPI_freetuptable(SPI_tuptable);
	spi_ctx = MemoryContextSwitchTo(caller);
	t->policy = outreach_policy(practice_id);
	MemoryContextSwitchTo(spi_ctx);
	compliance_load_target(t);
}

bool
target_opted_out(const OutreachTarget *t, const char *channel)
{
	const char *p = t->opt_outs;
	size_t		len = strlen(channel);

	while ((p = strstr(p, channel)) != NULL)
	{
		if ((p == t->opt_outs || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return true;
		p += len;
	}
	return false;
}

/* call attempts, and calls plus texts, in the 7 days before `at`, and the last conversation */
static void
call_history(const OutreachTarget *t, TimestampTz at, int *calls_7d, int *touches_7d,
			 TimestampTz *last_conversation)
{
	static const Oid types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3];
	bool		isnull;
	Datum		d;

	dunning_plan(&plans.calls,
				 "SELECT count(*) FILTER (WHERE at > $3 - interval '7 days' AND at <= $3 AND channel <> 'sms'"
				 "   AND outcome NOT IN ('blocked', 'cancelled', 'conversation'))::int,"
				 " max(at) FILTER (WHERE outcome = 'conversation' AND at <= $3),"
				 " count(*) FILTER (WHERE at > $3 - interval '7 days' AND at <= $3"
				 "   AND outcome NOT IN ('blocked', 'cancelled', 'conversation'))::int"
				 " FROM collect.contact_attempt"
				 " WHERE practice_id = $1 AND patient_id = $2 AND channel IN ('voice', 'call_task', 'sms')"
				 "   AND at > $3 - interval '61 days'", 3, types);
	args[0] = CStringGetTextDatum(t->practice_id);
	args[1] = CStringGetTextDatum(t->patient_id);
	args[2] = TimestampTzGetDatum(at);
	if (SPI_execute_plan(plans.calls, args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading call attempts failed");
	*calls_7d = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	*last_conversation = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	*touches_7d = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	SPI_freetuptable(SPI_tuptable);
}

/* opt-out confirmations queued on a channel since its latest opt-out (TCPA: one at most) */
static int
opt_out_confirmations(const OutreachTarget *t, const char *channel)
{
	static SPIPlanPtr plan = NULL;
	static const Oid types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		args[3] = {CStringGetTextDatum(t->practice_id), CStringGetTextDatum(t->patient_id),
	CStringGetTextDatum(channel)};
	bool		isnull;
	int			n;

	dunning_plan(&plan,
				 "SELECT count(*)::int FROM collect.outbox m JOIN collect.channel_opt_out o"
				 "  ON o.practice_id = m.practice_id AND o.patient_id = m.patient_id AND o.channel = m.channel"
				 " WHERE m.practice_id = $1 AND m.patient_id = $2 AND m.channel = $3 AND o.opted_in_at IS NULL"
				 "   AND m.step LIKE 'opt\\_out\\_confirmation%' AND m.created_at >= o.opted_out_at", 3, types);
	if (SPI_execute_plan(plan, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "counting opt-out confirmations failed");
	n = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return n;
}

/* The contact rules for this target, channel and moment. */
ContactDecision
outreach_check(const OutreachTarget *t, const char *channel, ContactKind kind, TimestampTz at)
{
	ContactFacts f;
	const Policy *pol = t->policy;

	memset(&f, 0, sizeof(f));
	f.channel = channel;
	f.kind = kind;
	f.at = at;
	f.local_hour = local_hour_of(at, t->tz, &f.local_minute);
	f.hour_start = pol->contact_hour_start;
	f.hour_end = pol->contact_hour_end;
	if (strcmp(channel, "sms") == 0 || strcmp(channel, "voice") == 0 || strcmp(channel, "call_task") == 0)
		f.has_address = t->phone != NULL;
	else if (strcmp(channel, "email") == 0)
		f.has_address = t->email != NULL;
	else if (strcmp(channel, "letter") == 0)
		f.has_address = t->address_ok && !t->returned_mail;
	f.consent = strcmp(channel, "sms") == 0 ? t->sms_consent :
		strcmp(channel, "voice") == 0 ? t->voice_consent :
		strcmp(channel, "email") == 0 ? t->email_consent : true;
	f.opted_out = target_opted_out(t, channel);
	f.balance = t->balance;
	f.min_outreach_balance = pol->min_outreach_balance;
	f.dispute_open = t->dispute_open;
	f.assistance_open = t->assistance_open;
	f.hardship_open = t->hardship_until != DT_NOBEGIN && t->hardship_until > at;
	f.placed = strcmp(t->state, "placed") == 0;
	f.paused_until = t->paused_until;
	contact_preset_apply(&f, pol->state_preset, pol->call_max_attempts_7d,
						 pol->call_quiet_days_after_conversation);
	f.last_conversation_at = t->last_conversation_at;
	f.only_channel = t->only_channel[0] ? t->only_channel : NULL;
	{
		const LegalHold *h = hold_active(t->holds, t->n_holds, at, kind != CK_COLLECTION);

		f.legal_hold = h != NULL;
		f.hold_reason = h ? hold_kind_info(h->kind)->reason : NULL;
	}
	if (channel_is_call(channel) || (strcmp(channel, "sms") == 0 && f.touch_max_7d > 0))
	{
		TimestampTz logged;

		call_history(t, at, &f.calls_7d, &f.touches_7d, &logged);
		if (logged != DT_NOBEGIN && (f.last_conversation_at == DT_NOBEGIN || logged > f.last_conversation_at))
			f.last_conversation_at = logged;
	}
	if (kind == CK_OPT_OUT_CONFIRMATION)
		f.confirmations_sent = opt_out_confirmations(t, channel);
	return contact_decide(&f);
}

void
contact_attempt_log(const char *practice_id, const char *patient_id, const char *channel,
					int64 message_id, int64 task_id, TimestampTz at,
					const char *outcome, const char *actor, const char *detail)
{
	static const Oid types[9] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID,
	TEXTOID, TEXTOID, TEXTOID};
	Datum		args[9];
	char		nulls[9] = "         ";

	dunning_plan(&plans.attempt,
				 "INSERT INTO collect.contact_attempt (practice_id, patient_id, channel, message_id, task_id,"
				 " at, outcome, actor, detail, segment) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9,"
				 " (SELECT a.segment FROM collect.account a WHERE a.practice_id = $1 AND a.patient_id = $2)",
				 9, types);
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = CStringGetTextDatum(patient_id);
	args[2] = CStringGetTextDatum(channel);
	args[3] = Int64GetDatum(message_id);
	nulls[3] = message_id > 0 ? ' ' : 'n';
	args[4] = Int64GetDatum(task_id);
	nulls[4] = task_id > 0 ? ' ' : 'n';
	args[5] = TimestampTzGetDatum(at);
	args[6] = CStringGetTextDatum(outcome);
	args[7] = CStringGetTextDatum(actor ? actor : "collect");
	args[8] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	nulls[8] = detail ? ' ' : 'n';
	if (SPI_execute_plan(plans.attempt, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "logging the contact attempt failed");
}

static const char *
to_address(const OutreachTarget *t, const char *channel)
{
	/* HIPAA 164.522(b): the address the patient asked for */
	if (t->only_address != NULL && strcmp(t->only_channel, channel) == 0)
		return t->only_address;
	if (strcmp(channel, "sms") == 0 || strcmp(channel, "voice") == 0)
		return t->phone;
	if (strcmp(channel, "email") == 0)
		return t->email;
	return NULL;				/* letters: the PM system's mailing address */
}

/*
 * Queue one message for a loaded target; 0 when a rule held it back (the
 * reason goes to audit_log). An existing message for the same step is
 * returned as is.
 */
int64
outreach_enqueue_target(const OutreachTarget *t, const char *channel, const char *step,
						ContactKind kind, const char *template_name, Jsonb *extra,
						TimestampTz not_before, TimestampTz as_of)
{
	static const Oid types[12] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, JSONBOID};
	const Policy *pol = t->policy;
	TimestampTz send_after;
	ContactDecision dec;
	RenderedMessage msg;
	Datum		args[12];
	char		nulls[12] = "            ";
	const char *addr;
	char	   *key;
	int64		id;
	bool		isnull;

	if (strcmp(channel, "call_task") == 0 || strcmp(channel, "webhook") == 0 || strcmp(channel, "charge") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("outreach_enqueue does not queue \"%s\" messages", channel),
				 errhint("Open a call task with task_open(); charges and webhooks have their own writers.")));
	if (step == NULL || step[0] == '\0' || strlen(step) > 200)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a message needs a step name of 1 to 200 characters")));

	send_after = outreach_send_time(Max(not_before, as_of), t->tz, pol->contact_hour_start,
									pol->contact_hour_end, t->best_hour);
	dec = outreach_check(t, channel, kind, send_after);
	if (!dec.allowed)
	{
		audit_record(t->practice_id, t->patient_id, as_of, "collect", "message_held",
					 psprintf("%s %s", channel, step), psprintf("%s: %s", dec.rule, dec.reason),
					 decision_facts(t, channel, step, template_name, send_after,
									psprintf("%s (%s)", dec.rule, dec.source)));
		return 0;
	}

	template_render_for(t, channel, template_name, extra, as_of, &msg);
	addr = to_address(t, channel);
	key = psprintf("%s:%s", t->patient_id, step);

	dunning_plan(&plans.insert_outbox,
				 "INSERT INTO collect.outbox (practice_id, patient_id, channel, step, template, language,"
				 " to_address, subject, body, send_after, idempotency_key, created_at, decision)"
				 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10, $12)"
				 " ON CONFLICT (practice_id, idempotency_key) DO NOTHING RETURNING message_id", 12, types);
	args[0] = CStringGetTextDatum(t->practice_id);
	args[1] = CStringGetTextDatum(t->patient_id);
	args[2] = CStringGetTextDatum(channel);
	args[3] = CStringGetTextDatum(step);
	args[4] = CStringGetTextDatum(msg.template_used);
	args[5] = CStringGetTextDatum(msg.language);
	args[6] = addr ? CStringGetTextDatum(addr) : (Datum) 0;
	nulls[6] = addr ? ' ' : 'n';
	args[7] = msg.subject ? CStringGetTextDatum(msg.subject) : (Datum) 0;
	nulls[7] = msg.subject ? ' ' : 'n';
	args[8] = CStringGetTextDatum(msg.body);
	args[9] = TimestampTzGetDatum(send_after);
	args[10] = CStringGetTextDatum(key);
	args[11] = JsonbPGetDatum(decision_facts(t, channel, step, msg.template_used, send_after, NULL));
	if (SPI_execute_plan(plans.insert_outbox, args, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "queueing the message failed");
	if (SPI_processed == 1)
	{
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_freetuptable(SPI_tuptable);
		contact_attempt_log(t->practice_id, t->patient_id, channel, id, 0, as_of, "queued", "collect", step);
		return id;
	}
	SPI_freetuptable(SPI_tuptable);
	{
		static const Oid ktypes[2] = {TEXTOID, TEXTOID};
		Datum		kargs[2] = {args[0], args[10]};

		dunning_plan(&plans.existing,
					 "SELECT message_id FROM collect.outbox WHERE practice_id = $1 AND idempotency_key = $2",
					 2, ktypes);
		if (SPI_execute_plan(plans.existing, kargs, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "reading the queued message failed");
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_freetuptable(SPI_tuptable);
	}
	return id;
}

/* ---- outreach.h ---- */

int64
outreach_enqueue(const char *practice_id, const char *patient_id, const char *channel,
				 const char *step, const char *template_name, Jsonb *extra_vars,
				 TimestampTz not_before, TimestampTz as_of)
{
	OutreachTarget t;
	int64		id;
	ContactKind kind = CK_COLLECTION;

	if (strncmp(step, "notice:", 7) == 0)
		kind = CK_NOTICE;
	else if (strncmp(step, "opt_out_confirmation", 20) == 0)
		kind = CK_OPT_OUT_CONFIRMATION;
	SPI_connect();
	outreach_load_target(practice_id, patient_id, &t);
	id = outreach_enqueue_target(&t, channel, step, kind, template_name, extra_vars, not_before, as_of);
	SPI_finish();
	return id;
}

const char *
send_block_reason(const char *practice_id, const char *patient_id, const char *channel,
				  const char *step_kind, TimestampTz at)
{
	OutreachTarget t;
	ContactDecision d;
	ContactKind kind = contact_kind_from_name(step_kind);
	MemoryContext caller = CurrentMemoryContext;
	char	   *result = NULL;

	SPI_connect();
	outreach_load_target(practice_id, patient_id, &t);
	d = outreach_check(&t, channel, kind, at);
	if (!d.allowed)
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		result = psprintf("%s: %s", d.rule, d.reason);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

void
audit_record(const char *practice_id, const char *patient_id, TimestampTz at, const char *actor,
			 const char *action, const char *subject, const char *reason, Jsonb *facts)
{
	static const Oid types[8] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID};
	Datum		args[8];
	char		nulls[8] = "        ";

	SPI_connect();
	dunning_plan(&plans.audit,
				 "INSERT INTO collect.audit_log (practice_id, patient_id, at, actor, action, subject, reason, facts)"
				 " VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, '{}'))", 8, types);
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = patient_id ? CStringGetTextDatum(patient_id) : (Datum) 0;
	nulls[1] = patient_id ? ' ' : 'n';
	args[2] = TimestampTzGetDatum(at);
	args[3] = CStringGetTextDatum(actor ? actor : "collect");
	args[4] = CStringGetTextDatum(action);
	args[5] = subject ? CStringGetTextDatum(subject) : (Datum) 0;
	nulls[5] = subject ? ' ' : 'n';
	args[6] = CStringGetTextDatum(reason ? reason : "");
	args[7] = facts ? JsonbPGetDatum(facts) : (Datum) 0;
	nulls[7] = facts ? ' ' : 'n';
	if (SPI_execute_plan(plans.audit, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "writing the audit log failed");
	SPI_finish();
}

/* ---- SQL wrappers ---- */

PG_FUNCTION_INFO_V1(collect_send_block_reason);
PG_FUNCTION_INFO_V1(collect_enqueue_message);
PG_FUNCTION_INFO_V1(collect_next_send_time);

Datum
collect_send_block_reason(PG_FUNCTION_ARGS)
{
	const char *r = send_block_reason(text_to_cstring(PG_GETARG_TEXT_PP(0)),
									  text_to_cstring(PG_GETARG_TEXT_PP(1)),
									  text_to_cstring(PG_GETARG_TEXT_PP(2)),
									  text_to_cstring(PG_GETARG_TEXT_PP(4)),
									  PG_GETARG_TIMESTAMPTZ(3));

	if (r == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(r));
}

static char *
required_text(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

Datum
collect_enqueue_message(PG_FUNCTION_ARGS)
{
	char	   *practice = required_text(fcinfo, 0, "practice_id");
	char	   *patient = required_text(fcinfo, 1, "patient_id");
	char	   *channel = required_text(fcinfo, 2, "channel");
	char	   *step = required_text(fcinfo, 3, "step");
	char	   *tmpl = required_text(fcinfo, 4, "template");
	Jsonb	   *extra = PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5);
	TimestampTz as_of = PG_ARGISNULL(7) ? GetCurrentTransactionStartTimestamp() : PG_GETARG_TIMESTAMPTZ(7);
	TimestampTz not_before = PG_ARGISNULL(6) ? as_of : PG_GETARG_TIMESTAMPTZ(6);

	PG_RETURN_INT64(outreach_enqueue(practice, patient, channel, step, tmpl, extra, not_before, as_of));
}

Datum
collect_next_send_time(PG_FUNCTION_ARGS)
{
	OutreachTarget t;
	TimestampTz ts;

	SPI_connect();
	outreach_load_target(text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)), &t);
	ts = outreach_send_time(PG_GETARG_TIMESTAMPTZ(2), t.tz, t.policy->contact_hour_start,
							t.policy->contact_hour_end, t.best_hour);
	SPI_finish();
	PG_RETURN_TIMESTAMPTZ(ts);
}
