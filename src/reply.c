/*
 * reply.c: collect.receive_reply, collect.receive_sms and
 * collect.classify_reply. Classifies a patient's reply (reply_classify.c)
 * and acts on it through the outreach API (outreach.h) and the event
 * functions (collect.record_event): opt-outs, dispute holds, assistance
 * requests, upset-patient holds, answers, plan quotes and plans. Every
 * reply is stored in collect.reply with its effects and audited. A reply
 * the rules leave unknown waits for the practice's LLM when it has one
 * (llm_status 'pending'); collect.apply_llm_intent applies the label the
 * worker got back (src/llm_poll.c) like any other intent. Never reads the
 * wall clock (the reply's `at` is the time of every decision) and never
 * calls a provider: messages go to the outbox.
 */
#include "collect.h"

#include "access/xact.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"

#include "learn.h"
#include "outreach.h"
#include "reply_classify.h"

PG_FUNCTION_INFO_V1(collect_classify_reply);
PG_FUNCTION_INFO_V1(collect_receive_reply);
PG_FUNCTION_INFO_V1(collect_receive_sms);
PG_FUNCTION_INFO_V1(collect_apply_llm_intent);

#define MAX_BODY 10000
#define QUOTE_CHARS 300
#define UPSET_HOLD_DAYS 7
#define OFFER_LOOKBACK_DAYS 30

typedef struct ReplyContext
{
	const char *practice_id;
	const char *patient_id;
	const char *channel;		/* the channel the reply came on */
	const char *body;
	TimestampTz at;
	bool		has_account;
	bool		confirm_stop;	/* send the STOP confirmation (once per phone) */
	ReplyClass	rc;
	StringInfoData effects;		/* JSON array body, comma-separated strings */
} ReplyContext;

static void
effect(ReplyContext *c, const char *fmt,...) pg_attribute_printf(2, 3);

static void
effect(ReplyContext *c, const char *fmt,...)
{
	char		buf[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c->effects.len > 0)
		appendStringInfoString(&c->effects, ", ");
	escape_json(&c->effects, buf);
}

/* ---- small SPI helpers (each connects and finishes by itself) ---- */

static const Oid T2[] = {TEXTOID, TEXTOID};

static uint64
exec_sql(const char *sql, int nargs, const Oid *types, Datum *args, bool read_only)
{
	int			rc;
	uint64		n;

	SPI_connect();
	rc = SPI_execute_with_args(sql, nargs, (Oid *) types, args, NULL, read_only, 0);
	if (rc < 0)
		elog(ERROR, "reply statement failed: %s", SPI_result_code_string(rc));
	n = SPI_processed;
	SPI_finish();
	return n;
}

/* First column of the first row as a string in the caller's context, or NULL */
static char *
query_text(const char *sql, int nargs, const Oid *types, Datum *args)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *out = NULL;

	SPI_connect();
	if (SPI_execute_with_args(sql, nargs, (Oid *) types, args, NULL, false, 1) < 0)
		elog(ERROR, "reply query failed");
	if (SPI_processed > 0)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (v)
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			out = pstrdup(v);
			MemoryContextSwitchTo(spi);
		}
	}
	SPI_finish();
	return out;
}

/*
 * Run a statement in a subtransaction: an error in a helper module (a plan
 * that cannot be quoted, a missing function) becomes an effect note
 * instead of losing the reply. Returns the first column or NULL; *err set
 * on failure.
 */
static char *
guarded_text(const char *sql, int nargs, const Oid *types, Datum *args, char **err)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile out = NULL;

	*err = NULL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		out = query_text(sql, nargs, types, args);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		*err = edata->message;
		out = NULL;
	}
	PG_END_TRY();
	return out;
}

static Jsonb *
jsonb_object2(const char *k1, const char *v1, const char *k2, const char *v2)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoChar(&b, '{');
	escape_json(&b, k1);
	appendStringInfoChar(&b, ':');
	escape_json(&b, v1);
	if (k2)
	{
		appendStringInfoChar(&b, ',');
		escape_json(&b, k2);
		appendStringInfoChar(&b, ':');
		escape_json(&b, v2);
	}
	appendStringInfoChar(&b, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(b.data)));
}

/* Unix seconds of at: a step key that is the same for the same reply */
static char *
epoch_key(TimestampTz at)
{
	return psprintf(INT64_FORMAT, (int64) (at / USECS_PER_SEC) +
					(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
}

/* The patient's words, cut and on one line, for a task summary */
static char *
quote_body(const char *body)
{
	StringInfoData b;
	int			n = 0;

	initStringInfo(&b);
	for (const unsigned char *p = (const unsigned char *) body; *p && n < QUOTE_CHARS; p++, n++)
		appendStringInfoChar(&b, (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : (char) *p);
	/* never cut a UTF-8 sequence in half */
	while (b.len > 0 && ((unsigned char) b.data[b.len - 1] & 0xC0) == 0x80)
		b.data[--b.len] = '\0';
	if (b.len > 0 && ((unsigned char) b.data[b.len - 1] & 0xC0) == 0xC0)
		b.data[--b.len] = '\0';
	if (n >= QUOTE_CHARS)
		appendStringInfoString(&b, "...");
	return b.data;
}

static void
record_event(ReplyContext *c, const char *kind, Jsonb *details)
{
	static const Oid types[5] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID};
	Datum		args[5] = {CStringGetTextDatum(c->practice_id), CStringGetTextDatum(c->patient_id),
	CStringGetTextDatum(kind), JsonbPGetDatum(details), TimestampTzGetDatum(c->at)};

	exec_sql("SELECT collect.record_event($1, $2, $3, $4, $5)", 5, types, args, false);
	effect(c, "event:%s", kind);
}

/* A task with the standard account summary plus the patient's words */
static void
open_task(ReplyContext *c, const char *kind, const char *recommendation)
{
	char	   *summary;
	int64		id;

	summary = c->has_account ?
		task_summary(c->practice_id, c->patient_id, recommendation, c->at) :
		psprintf("No open balance. Recommend %s.", recommendation);
	summary = psprintf("%s Patient replied by %s: \"%s\"", summary, c->channel, quote_body(c->body));
	id = task_open(c->practice_id, c->patient_id, kind, summary, c->at + USECS_PER_DAY, c->at);
	effect(c, "task:%s:" INT64_FORMAT, kind, id);
}

/* Queue a message on the reply's channel when it can carry one */
static void
answer(ReplyContext *c, const char *what, const char *template_name, Jsonb *vars)
{
	int64		id;
	const char *ch = c->channel;

	if (strcmp(ch, "sms") != 0 && strcmp(ch, "email") != 0)
	{
		effect(c, "%s:not_sent:channel_%s", what, ch);
		return;
	}
	id = outreach_enqueue(c->practice_id, c->patient_id, ch,
						  psprintf("notice:%s:%s", what, epoch_key(c->at)),
						  template_name, vars, c->at, c->at);
	if (id > 0)
		effect(c, "%s:queued:" INT64_FORMAT, what, id);
	else
		effect(c, "%s:held_back", what);
}

/* ---- effects per intent ---- */

static void
do_stop(ReplyContext *c)
{
	const char *ch = c->channel;
	Datum		args[3];
	static const Oid types[3] = {TEXTOID, TEXTOID, TEXTOID};
	bool		already;

	if (strcmp(ch, "voice") == 0 || strcmp(ch, "call_task") == 0)
		ch = "voice";
	else if (strcmp(ch, "portal") == 0)
		ch = "all";
	args[0] = CStringGetTextDatum(c->practice_id);
	args[1] = CStringGetTextDatum(c->patient_id);
	args[2] = CStringGetTextDatum(ch);
	already = exec_sql("SELECT 1 FROM collect.channel_opt_out WHERE practice_id = $1 AND patient_id = $2"
					   " AND channel = $3 AND opted_in_at IS NULL", 3, types, args, false) > 0;
	if (already)
	{
		/* opted out before: nothing to cancel, nothing to confirm again */
		effect(c, "opt_out:%s:already", ch);
		return;
	}
	record_event(c, "opt_out", jsonb_object2("channel", ch, "source", "reply"));
	{
		static const Oid t4[4] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
		Datum		a4[4] = {args[0], args[1], args[2], TimestampTzGetDatum(c->at)};

		exec_sql("UPDATE collect.channel_opt_out SET source = 'reply:STOP'"
				 " WHERE practice_id = $1 AND patient_id = $2 AND ($3 = 'all' OR channel = $3)"
				 "   AND opted_out_at = $4 AND opted_in_at IS NULL", 4, t4, a4, false);
	}
	effect(c, "opt_out:%s", ch);
	if (c->confirm_stop && (strcmp(ch, "sms") == 0 || strcmp(ch, "email") == 0))
	{
		int64		id = outreach_enqueue(c->practice_id, c->patient_id, ch,
										  psprintf("opt_out_confirmation:%s:%s", ch, epoch_key(c->at)),
										  "stop_confirmation", NULL, c->at, c->at);

		if (id > 0)
			effect(c, "confirmation:queued:" INT64_FORMAT, id);
		else
			effect(c, "confirmation:held_back");
	}
}

static void
do_doubt(ReplyContext *c, ReplyIntent intent)
{
	const char *rec;

	record_event(c, "dispute_opened",
				 jsonb_object2("reason", reply_intent_name(intent), "source", "reply"));
	rec = intent == RI_ALREADY_PAID ?
		"finding the payment the patient says was made and posting it, or showing the patient the record; outreach is stopped meanwhile" :
		intent == RI_INSURANCE ?
		"checking the claim with the insurer and rebilling if it should have been covered; outreach is stopped meanwhile" :
		"checking the visit and the charges and answering the patient in writing; outreach is stopped until the dispute is resolved";
	open_task(c, "dispute_review", rec);
}

static void
do_hold_upset(ReplyContext *c)
{
	static const Oid types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3] = {CStringGetTextDatum(c->practice_id), CStringGetTextDatum(c->patient_id),
	TimestampTzGetDatum(c->at + (TimestampTz) UPSET_HOLD_DAYS * USECS_PER_DAY)};

	open_task(c, "upset_patient",
			  "a personal call from a manager before any further automated message; automated outreach is on hold");
	exec_sql("UPDATE collect.account SET paused_until = GREATEST(coalesce(paused_until, $3), $3),"
			 " state = CASE WHEN state IN ('current', 'in_cadence', 'escalated') THEN 'paused' ELSE state END,"
			 " next_action_at = CASE WHEN next_action_at IS NOT NULL THEN GREATEST(next_action_at, $3) END"
			 " WHERE practice_id = $1 AND patient_id = $2", 3, types, args, false);
	exec_sql("UPDATE collect.outbox SET status = 'cancelled', last_error = 'cancelled: upset patient, held for a person'"
			 " WHERE practice_id = $1 AND patient_id = $2 AND status = 'queued'"
			 "   AND channel IN ('sms', 'email', 'letter', 'voice', 'call_task')"
			 "   AND coalesce(step, '') NOT LIKE 'notice:%' AND coalesce(step, '') NOT LIKE 'opt_out_confirmation%'",
			 2, T2, args, false);
	effect(c, "hold:%d_days", UPSET_HOLD_DAYS);
}

static void
do_question(ReplyContext *c)
{
	static const Oid types[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(c->practice_id), CStringGetTextDatum(c->patient_id)};
	char	   *err;
	char	   *text = guarded_text("SELECT collect.explain_balance($1, $2)", 2, types, args, &err);

	if (text == NULL)
	{
		effect(c, "explain_balance:failed:%s", err ? err : "no answer");
		return;
	}
	answer(c, "answer", "balance_answer", jsonb_object2("reason", text, NULL, NULL));
}

/* Quote a plan and send it; returns false if no quote could be made */
static bool
send_quote(ReplyContext *c)
{
	static const Oid types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3] = {CStringGetTextDatum(c->practice_id), CStringGetTextDatum(c->patient_id),
	TimestampTzGetDatum(c->at)};
	char	   *err;
	char	   *q = guarded_text("SELECT json_build_object('plan_total', '$' || to_char(sum(amount), 'FM999,999,990.00'),"
								 " 'installments', count(*)::text,"
								 " 'installment_amount', '$' || to_char((array_agg(amount ORDER BY seq))[1], 'FM999,999,990.00'),"
								 " 'installment_due', to_char((array_agg(due_date ORDER BY seq))[1], 'YYYY-MM-DD'))::text"
								 " FROM collect.quote_plan($1, $2, NULL, $3) HAVING count(*) > 0",
								 3, types, args, &err);

	if (q == NULL)
	{
		effect(c, "plan_quote:failed:%s", err ? err : "no quote");
		return false;
	}
	answer(c, "plan_quote", "plan_quote", DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(q))));
	return true;
}

static void
do_plan(ReplyContext *c)
{
	exec_sql("UPDATE collect.account SET asked_for_plan = true WHERE practice_id = $1 AND patient_id = $2",
			 2, T2, (Datum[]) {CStringGetTextDatum(c->practice_id), CStringGetTextDatum(c->patient_id)}, false);
	(void) send_quote(c);
}

static void
do_accept(ReplyContext *c)
{
	static const Oid types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3] = {CStringGetTextDatum(c->practice_id), CStringGetTextDatum(c->patient_id),
	TimestampTzGetDatum(c->at)};
	bool		offered;
	char	   *err;
	char	   *plan_id;

	/* an offer: a plan quote, or a message that offered a plan, in the last 30 days */
	offered = exec_sql("SELECT 1 FROM collect.outbox o WHERE o.practice_id = $1 AND o.patient_id = $2"
					   " AND o.status <> 'cancelled' AND o.send_after <= $3"
					   " AND o.send_after > $3 - interval '" CppAsString2(OFFER_LOOKBACK_DAYS) " days'"
					   " AND (o.template = 'plan_quote' OR o.step LIKE '%plan_offer%'"
					   "      OR o.body ILIKE '%payment plan%' OR o.body ILIKE '%plan de pago%')",
					   3, types, args, false) > 0;
	if (!offered)
	{
		effect(c, "accept:no_offer_found");
		do_plan(c);
		return;
	}
	plan_id = guarded_text("SELECT collect.create_plan($1, $2, NULL, NULL, $3)", 3, types, args, &err);
	if (plan_id == NULL)
		effect(c, "plan_create:failed:%s", err ? err : "no plan");
	else
		effect(c, "plan_created:%s", plan_id);
}

/* ---- the reply itself ---- */

static void
check_args(FunctionCallInfo fcinfo, int n, const char *const *names)
{
	for (int i = 0; i < n; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", names[i])));
}

static void
check_body(const char *body, TimestampTz at)
{
	if (strlen(body) > MAX_BODY)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("reply body is longer than %d bytes", MAX_BODY)));
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("reply time must be finite")));
}

/* What an intent does, whether the rules or the practice's LLM named it */
static void
apply_intent(ReplyContext *c, ReplyIntent intent, bool strongly_negative)
{
	Datum		key[2] = {CStringGetTextDatum(c->practice_id), CStringGetTextDatum(c->patient_id)};

	switch (intent)
	{
		case RI_STOP:
			do_stop(c);
			break;
		case RI_ALREADY_PAID:
		case RI_INSURANCE:
		case RI_DISPUTE:
			do_doubt(c, intent);
			break;
		case RI_HARDSHIP:
			record_event(c, "financial_assistance_requested",
						 jsonb_object2("source", "reply", NULL, NULL));
			break;
		case RI_QUESTION:
			do_question(c);
			break;
		case RI_PLAN:
			do_plan(c);
			break;
		case RI_ACCEPT:
			do_accept(c);
			break;
		case RI_PAY:
			{
				char	   *owes = query_text("SELECT (balance > 0)::text FROM collect.account"
											  " WHERE practice_id = $1 AND patient_id = $2", 2, T2, key);

				if (owes != NULL && strcmp(owes, "true") == 0)
					answer(c, "pay_link", "pay_link_reply", NULL);
				else
					effect(c, "pay_link:nothing_owed");
			}
			break;
		case RI_UPSET:
		case RI_UNKNOWN:
		case RI_N_INTENTS:
			break;
	}
	/* upset, or strongly negative whatever the intent: a person takes over */
	if (intent != RI_STOP && (intent == RI_UPSET || strongly_negative))
		do_hold_upset(c);
}

/* Handle one reply for one patient; returns the intent name */
static const char *
handle_reply(const char *practice_id, const char *patient_id, const char *channel,
			 const char *body, TimestampTz at, bool confirm_stop)
{
	ReplyContext c;
	Datum		key[2] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id)};
	char	   *found;
	ReplyIntent intent;
	bool		strongly_negative;
	bool		llm;
	static const char *const channels[] = {"sms", "email", "letter", "voice", "call_task", "portal", NULL};
	bool		ok = false;

	for (int i = 0; channels[i]; i++)
		if (strcmp(channel, channels[i]) == 0)
			ok = true;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown reply channel \"%s\"", channel),
				 errhint("Use sms, email, letter, voice, call_task or portal.")));
	check_body(body, at);

	found = query_text("SELECT (a.patient_id IS NOT NULL)::text FROM collect.patient p"
					   " LEFT JOIN collect.account a USING (practice_id, patient_id)"
					   " WHERE p.practice_id = $1 AND p.patient_id = $2", 2, T2, key);
	if (found == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("unknown patient \"%s\" of practice \"%s\"", patient_id, practice_id)));

	/* the same reply delivered twice (a provider retry) acts once */
	{
		static const Oid types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
		Datum		args[5] = {key[0], key[1], CStringGetTextDatum(channel), CStringGetTextDatum(body),
		TimestampTzGetDatum(at)};
		char	   *prev = query_text("SELECT intent FROM collect.reply WHERE practice_id = $1 AND patient_id = $2"
									  " AND channel = $3 AND body = $4 AND at = $5", 5, types, args);

		if (prev != NULL)
			return prev;
	}

	memset(&c, 0, sizeof(c));
	c.practice_id = practice_id;
	c.patient_id = patient_id;
	c.channel = channel;
	c.body = body;
	c.at = at;
	c.has_account = strcmp(found, "true") == 0;
	c.confirm_stop = confirm_stop;
	initStringInfo(&c.effects);
	reply_classify(body, strlen(body), &c.rc);
	intent = c.rc.intent;
	strongly_negative = c.rc.sentiment <= REPLY_STRONGLY_NEGATIVE;

	/* every reply: a response (segments, quiet hours), an attempt outcome, an hour observation */
	{
		static const Oid types[5] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID};
		Datum		args[5] = {key[0], key[1], TimestampTzGetDatum(at), CStringGetTextDatum(channel),
		CStringGetTextDatum(reply_intent_name(intent))};

		exec_sql("UPDATE collect.account SET last_response_at = GREATEST(coalesce(last_response_at, $3), $3)"
				 " WHERE practice_id = $1 AND patient_id = $2", 3, types, args, false);
		exec_sql("INSERT INTO collect.contact_attempt (practice_id, patient_id, channel, at, outcome, actor, detail)"
				 " VALUES ($1, $2, $4, $3, 'replied', 'patient', 'intent: ' || $5)", 5, types, args, false);
		learn_observe_event(practice_id, patient_id, "reply", at);
	}

	apply_intent(&c, intent, strongly_negative);
	llm = intent == RI_UNKNOWN &&
		query_text("SELECT 1 FROM collect.provider WHERE practice_id = $1 AND channel = 'llm' AND kind = 'llm'",
				   1, T2, key) != NULL;
	if (llm)
		effect(&c, "llm:pending");

	{
		StringInfoData facts;
		static const Oid types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID,
		FLOAT4OID, TEXTOID, JSONBOID, TEXTOID};
		Datum		args[10];
		char		nulls[10];
		Jsonb	   *eff;

		eff = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												 CStringGetDatum(psprintf("[%s]", c.effects.data))));
		initStringInfo(&facts);
		appendStringInfo(&facts, "{\"channel\": ");
		escape_json(&facts, channel);
		appendStringInfo(&facts, ", \"sentiment\": %.3f, \"sarcasm\": %s, \"effects\": [%s]}",
						 c.rc.sentiment, c.rc.sarcasm ? "true" : "false", c.effects.data);
		memset(nulls, ' ', sizeof(nulls));
		args[0] = key[0];
		args[1] = key[1];
		args[2] = CStringGetTextDatum(channel);
		args[3] = CStringGetTextDatum(body);
		args[4] = TimestampTzGetDatum(at);
		args[5] = CStringGetTextDatum(reply_intent_name(intent));
		args[6] = Float4GetDatum((float4) c.rc.sentiment);
		args[7] = CStringGetTextDatum(c.rc.rule);
		if (c.rc.rule[0] == '\0')
			nulls[7] = 'n';
		args[8] = JsonbPGetDatum(eff);
		args[9] = CStringGetTextDatum("pending");
		nulls[9] = llm ? ' ' : 'n';
		SPI_connect();
		if (SPI_execute_with_args("INSERT INTO collect.reply (practice_id, patient_id, channel, body, at, intent,"
								  " sentiment, rule, effects, llm_status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
								  10, (Oid *) types, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "storing the reply failed");
		SPI_finish();
		audit_record(practice_id, patient_id, at, "collect.receive_reply", "reply",
					 reply_intent_name(intent),
					 c.rc.rule[0] ? psprintf("classified by rule \"%s\"", c.rc.rule) : "no rule matched",
					 DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(facts.data))));
	}
	return reply_intent_name(intent);
}

Datum
collect_receive_reply(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"practice_id", "patient_id", "channel", "body", "at"};

	check_args(fcinfo, 5, names);
	PG_RETURN_TEXT_P(cstring_to_text(handle_reply(text_to_cstring(PG_GETARG_TEXT_PP(0)),
												  text_to_cstring(PG_GETARG_TEXT_PP(1)),
												  text_to_cstring(PG_GETARG_TEXT_PP(2)),
												  text_to_cstring(PG_GETARG_TEXT_PP(3)),
												  PG_GETARG_TIMESTAMPTZ(4), true)));
}

/*
 * receive_sms: the practice is the one whose sms provider sends from
 * to_phone; the patient the one with phone from_phone there. Several
 * patients on one phone (a family): the reply is about the one last
 * texted on that phone (then the largest balance); a STOP opts out every
 * patient on that phone and is confirmed once.
 */
Datum
collect_receive_sms(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"from_phone", "to_phone", "body", "at"};
	static const Oid types[2] = {TEXTOID, TEXTOID};
	char	   *from,
			   *to,
			   *body;
	TimestampTz at;
	Datum		args[2];
	MemoryContext caller = CurrentMemoryContext;
	char	  **practices,
			  **patients;
	uint64		n;
	const char *intent = NULL;
	ReplyClass	rc;

	check_args(fcinfo, 4, names);
	from = text_to_cstring(PG_GETARG_TEXT_PP(0));
	to = text_to_cstring(PG_GETARG_TEXT_PP(1));
	body = text_to_cstring(PG_GETARG_TEXT_PP(2));
	at = PG_GETARG_TIMESTAMPTZ(3);
	check_body(body, at);
	args[0] = CStringGetTextDatum(from);
	args[1] = CStringGetTextDatum(to);

	SPI_connect();
	if (SPI_execute_with_args("SELECT p.practice_id, p.patient_id FROM collect.patient p"
							  " JOIN collect.provider pr ON pr.practice_id = p.practice_id AND pr.channel = 'sms'"
							  " LEFT JOIN collect.account a ON a.practice_id = p.practice_id AND a.patient_id = p.patient_id"
							  " WHERE pr.sender = $2 AND p.phone = $1"
							  " ORDER BY (SELECT max(o.created_at) FROM collect.outbox o"
							  "            WHERE o.practice_id = p.practice_id AND o.patient_id = p.patient_id"
							  "              AND o.channel = 'sms' AND o.to_address = $1) DESC NULLS LAST,"
							  "          a.balance DESC NULLS LAST, p.practice_id, p.patient_id",
							  2, (Oid *) types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "finding the sender failed");
	n = SPI_processed;
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		practices = palloc(sizeof(char *) * (n + 1));
		patients = palloc(sizeof(char *) * (n + 1));
		for (uint64 r = 0; r < n; r++)
		{
			practices[r] = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
			patients[r] = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2);
		}
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no patient with phone \"%s\" at a practice that texts from \"%s\"", from, to),
				 errhint("The practice's number is collect.provider.sender for channel sms.")));

	reply_classify(body, strlen(body), &rc);
	if (rc.intent == RI_STOP)
	{
		/* the phone's owner revoked consent: every patient on it, confirmed once */
		for (uint64 r = 0; r < n; r++)
		{
			const char *i = handle_reply(practices[r], patients[r], "sms", body, at, r == 0);

			if (r == 0)
				intent = i;
		}
	}
	else
		intent = handle_reply(practices[0], patients[0], "sms", body, at, true);
	PG_RETURN_TEXT_P(cstring_to_text(intent));
}

Datum
collect_classify_reply(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	ReplyClass *rc = palloc(sizeof(ReplyClass));
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	reply_classify(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), rc);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "classify_reply must return a record");
	desc = BlessTupleDesc(desc);
	values[0] = CStringGetTextDatum(reply_intent_name(rc->intent));
	values[1] = Float4GetDatum((float4) rc->sentiment);
	values[2] = BoolGetDatum(rc->stop_like != 0);
	if (rc->rule[0])
		values[3] = CStringGetTextDatum(rc->rule);
	else
		nulls[3] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/*
 * collect.apply_llm_intent(practice_id, reply_id, label): the worker's
 * answer for a pending reply. A label from the fixed list is applied as
 * the intent (at the reply's time, with the reply's own effects before
 * it); unknown or anything else changes nothing but the status. Returns the
 * intent, or NULL when the reply was not pending (applied already).
 */
Datum
collect_apply_llm_intent(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"practice_id", "reply_id", "label"};
	static const Oid types[2] = {TEXTOID, INT8OID};
	MemoryContext caller = CurrentMemoryContext;
	ReplyContext c;
	ReplyIntent intent = RI_UNKNOWN;
	Datum		args[2];
	char	   *label;
	Jsonb	   *eff;

	check_args(fcinfo, 3, names);
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);
	label = text_to_cstring(PG_GETARG_TEXT_PP(2));
	for (int i = 0; i < RI_N_INTENTS; i++)
		if (strcmp(label, reply_intent_name((ReplyIntent) i)) == 0)
			intent = (ReplyIntent) i;

	memset(&c, 0, sizeof(c));
	SPI_connect();
	if (SPI_execute_with_args("SELECT r.patient_id, r.channel, r.body, r.at, a.patient_id IS NOT NULL"
							  "  FROM collect.reply r LEFT JOIN collect.account a USING (practice_id, patient_id)"
							  " WHERE r.practice_id = $1 AND r.reply_id = $2 AND r.llm_status = 'pending'"
							  "   FOR UPDATE OF r",
							  2, (Oid *) types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the pending reply failed");
	if (SPI_processed == 0)
	{
		SPI_finish();
		PG_RETURN_NULL();
	}
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext spi = MemoryContextSwitchTo(caller);

		c.practice_id = TextDatumGetCString(args[0]);
		c.patient_id = SPI_getvalue(row, desc, 1);
		c.channel = SPI_getvalue(row, desc, 2);
		c.body = SPI_getvalue(row, desc, 3);
		c.at = DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull));
		c.has_account = DatumGetBool(SPI_getbinval(row, desc, 5, &isnull));
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	c.confirm_stop = true;
	initStringInfo(&c.effects);
	if (intent != RI_UNKNOWN)
		apply_intent(&c, intent, false);

	eff = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(psprintf("[%s]", c.effects.data))));
	{
		static const Oid utypes[4] = {TEXTOID, INT8OID, TEXTOID, JSONBOID};
		Datum		uargs[4] = {args[0], args[1], CStringGetTextDatum(reply_intent_name(intent)),
		JsonbPGetDatum(eff)};

		exec_sql("UPDATE collect.reply SET llm_status = 'done', intent = $3, effects = effects || $4,"
				 " rule = CASE WHEN $3 = 'unknown' THEN rule ELSE 'llm' END"
				 " WHERE practice_id = $1 AND reply_id = $2", 4, utypes, uargs, false);
	}
	audit_record(c.practice_id, c.patient_id, c.at, "collect.apply_llm_intent", "reply",
				 reply_intent_name(intent),
				 intent == RI_UNKNOWN ? "the practice's LLM gave no usable intent" :
				 "classified by the practice's LLM", eff);
	PG_RETURN_TEXT_P(cstring_to_text(reply_intent_name(intent)));
}
