/*
 * compliance.c: the compliance facts of an OutreachTarget (legal holds,
 * the HIPAA confidential-communications request, where the phone number
 * and consent came from, the validation period) and the decision record
 * written with every message, task and held step, so that collect.why
 * explains from what was known at decision time. Reads rows only; decides
 * nothing (holds.c and contact_rules.c do) and never reads the clock.
 */
#include "collect.h"

#include "common/jsonapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/json.h"

#include "calendar.h"
#include "dunning.h"

static struct
{
	SPIPlanPtr	extra;
} plans;

void
compliance_load_target(OutreachTarget *t)
{
	static const Oid types[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(t->practice_id), CStringGetTextDatum(t->patient_id)};
	MemoryContext caller = CurrentMemoryContext;
	bool		isnull;
	Datum		d;

	/* one round trip: the request, the sources, the notices and up to MAX_HOLDS holds as arrays */
	dunning_plan(&plans.extra,
				 "SELECT r.channel, r.address, p.phone_source, p.consent_source,"
				 " a.validation_period_end, a.eca_notice_at, h.kinds, h.starts, h.ends"
				 " FROM collect.patient p"
				 " LEFT JOIN collect.channel_request r ON r.practice_id = p.practice_id AND r.patient_id = p.patient_id"
				 " LEFT JOIN collect.account a ON a.practice_id = p.practice_id AND a.patient_id = p.patient_id"
				 " LEFT JOIN LATERAL (SELECT array_agg(kind) AS kinds, array_agg(starts_at) AS starts,"
				 "   array_agg(COALESCE(ends_at, 'infinity')) AS ends FROM (SELECT kind, starts_at, ends_at"
				 "   FROM collect.legal_hold l WHERE l.practice_id = p.practice_id AND l.patient_id = p.patient_id"
				 "   ORDER BY ends_at DESC NULLS FIRST, starts_at DESC LIMIT " CppAsString2(MAX_HOLDS) ") x) h ON true"
				 " WHERE p.practice_id = $1 AND p.patient_id = $2", 2, types);
	if (SPI_execute_plan(plans.extra, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading compliance facts failed");
	t->n_holds = 0;
	if (SPI_processed == 1)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spi = MemoryContextSwitchTo(caller);
		char	   *ch = SPI_getvalue(row, desc, 1);

		strlcpy(t->only_channel, ch ? ch : "", sizeof(t->only_channel));
		t->only_address = SPI_getvalue(row, desc, 2);
		t->phone_source = SPI_getvalue(row, desc, 3);
		t->consent_source = SPI_getvalue(row, desc, 4);
		d = SPI_getbinval(row, desc, 5, &isnull);
		t->has_validation = !isnull;
		t->validation_end = isnull ? 0 : DatumGetDateADT(d);
		d = SPI_getbinval(row, desc, 6, &isnull);
		t->eca_notice_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
		d = SPI_getbinval(row, desc, 7, &isnull);
		if (!isnull)
		{
			Datum	   *kinds,
					   *starts,
					   *ends;
			int			n,
						n2,
						n3;

			deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &kinds, NULL, &n);
			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, desc, 8, &isnull)), TIMESTAMPTZOID,
							  sizeof(TimestampTz), true, TYPALIGN_DOUBLE, &starts, NULL, &n2);
			deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(row, desc, 9, &isnull)), TIMESTAMPTZOID,
							  sizeof(TimestampTz), true, TYPALIGN_DOUBLE, &ends, NULL, &n3);
			t->n_holds = Min(Min(n, n2), Min(n3, MAX_HOLDS));
			for (int i = 0; i < t->n_holds; i++)
			{
				text_to_cstring_buffer(DatumGetTextPP(kinds[i]), t->holds[i].kind, sizeof(t->holds[i].kind));
				t->holds[i].starts_at = DatumGetTimestampTz(starts[i]);
				t->holds[i].ends_at = DatumGetTimestampTz(ends[i]);
			}
		}
		MemoryContextSwitchTo(spi);
	}
	SPI_freetuptable(SPI_tuptable);
}

static void
json_key(StringInfo b, const char *key, bool *first)
{
	if (!*first)
		appendStringInfoString(b, ", ");
	*first = false;
	escape_json(b, key);
	appendStringInfoString(b, ": ");
}

static void
json_str(StringInfo b, const char *key, const char *val, bool *first)
{
	json_key(b, key, first);
	if (val == NULL)
		appendStringInfoString(b, "null");
	else
		escape_json(b, val);
}

static void
json_raw(StringInfo b, const char *key, const char *val, bool *first)
{
	json_key(b, key, first);
	appendStringInfoString(b, val);
}

static const char *
ts_text(TimestampTz ts)
{
	if (ts == DT_NOBEGIN || ts == DT_NOEND)
		return NULL;
	return timestamptz_to_str(ts);
}

/*
 * What a decision about one message or task rested on: the policy keys
 * and the patient and account facts, as of `at`. why: the rule that held
 * it back (NULL: it went ahead).
 */
Jsonb *
decision_facts(const OutreachTarget *t, const char *channel, const char *step,
			   const char *template_name, TimestampTz at, const char *why)
{
	StringInfoData b;
	const Policy *p = t->policy;
	bool		first = true,
				inner;
	const char *consent = strcmp(channel, "sms") == 0 ? (t->sms_consent ? "true" : "false") :
		strcmp(channel, "voice") == 0 ? (t->voice_consent ? "true" : "false") :
		strcmp(channel, "email") == 0 ? (t->email_consent ? "true" : "false") : "null";

	initStringInfo(&b);
	appendStringInfoChar(&b, '{');
	json_str(&b, "decided_at", ts_text(at), &first);
	json_str(&b, "channel", channel, &first);
	json_str(&b, "step", step, &first);
	json_str(&b, "template", template_name, &first);
	json_str(&b, "held_by", why, &first);

	json_key(&b, "policy", &first);
	inner = true;
	appendStringInfoChar(&b, '{');
	json_str(&b, "state_preset", p->state_preset[0] ? p->state_preset : "federal", &inner);
	json_raw(&b, "contact_hour_start", psprintf("%d", p->contact_hour_start), &inner);
	json_raw(&b, "contact_hour_end", psprintf("%d", p->contact_hour_end), &inner);
	json_raw(&b, "call_max_attempts_7d", psprintf("%d", p->call_max_attempts_7d), &inner);
	json_raw(&b, "min_outreach_balance", cents_to_cstring(p->min_outreach_balance), &inner);
	json_raw(&b, "nonprofit_hospital", p->nonprofit_hospital ? "true" : "false", &inner);
	if (t->cadence_step < p->n_cadence)
		json_str(&b, "cadence", psprintf("day %d %s", p->cadence[t->cadence_step].day,
										 p->cadence[t->cadence_step].channel), &inner);
	appendStringInfoChar(&b, '}');

	json_key(&b, "facts", &first);
	inner = true;
	appendStringInfoChar(&b, '{');
	json_raw(&b, "balance", cents_to_cstring(t->balance), &inner);
	json_str(&b, "state", t->state, &inner);
	json_str(&b, "due_since", t->has_due ?
			 DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(t->due_since))) : NULL, &inner);
	json_raw(&b, "cadence_step", psprintf("%d", t->cadence_step), &inner);
	json_raw(&b, "consent", consent, &inner);
	json_str(&b, "consent_source", t->consent_source, &inner);
	json_str(&b, "phone_source", t->phone_source, &inner);
	json_str(&b, "opted_out", t->opt_outs, &inner);
	json_str(&b, "channel_request", t->only_channel[0] ? t->only_channel : NULL, &inner);
	json_raw(&b, "dispute_open", t->dispute_open ? "true" : "false", &inner);
	json_raw(&b, "assistance_open", t->assistance_open ? "true" : "false", &inner);
	json_str(&b, "first_statement_at", ts_text(t->first_statement_at), &inner);
	json_str(&b, "last_conversation_at", ts_text(t->last_conversation_at), &inner);
	{
		StringInfoData h;

		initStringInfo(&h);
		for (int i = 0; i < t->n_holds; i++)
			if (t->holds[i].starts_at <= at && t->holds[i].ends_at > at)
				appendStringInfo(&h, "%s%s", h.len ? "," : "", t->holds[i].kind);
		json_str(&b, "open_holds", h.len ? h.data : NULL, &inner);
	}
	appendStringInfoChar(&b, '}');
	appendStringInfoChar(&b, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(b.data)));
}

/* record what a task rested on (task_open keeps its own signature) */
void
decision_attach_task(const char *practice_id, int64 task_id, Jsonb *decision)
{
	static const Oid types[3] = {TEXTOID, INT8OID, JSONBOID};
	Datum		args[3] = {CStringGetTextDatum(practice_id), Int64GetDatum(task_id), JsonbPGetDatum(decision)};
	static SPIPlanPtr plan = NULL;

	SPI_connect();
	dunning_plan(&plan, "UPDATE collect.task SET decision = $3 WHERE practice_id = $1 AND task_id = $2", 3, types);
	if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "recording the task decision failed");
	SPI_finish();
}

/*
 * Reg F 1006.34(a)(1)(i): the validation information goes out with the
 * first contact or within 5 days of it. At the first contact of an
 * account the tick queues the validation notice (a letter, else e-mail)
 * with the itemization, and records when the validation period ends; a
 * first cadence letter is the notice itself (tick.c). Returns the
 * messages queued (0 or 1).
 */
int
validation_notice_first_contact(OutreachTarget *t, TimestampTz as_of)
{
	TimestampTz send_at;
	const char *channel = "letter";

	if (t->has_validation || !t->has_due)
		return 0;
	send_at = outreach_send_time(as_of, t->tz, t->policy->contact_hour_start, t->policy->contact_hour_end, -1);
	if (!outreach_check(t, "letter", CK_NOTICE, send_at).allowed)
		channel = "email";
	return validation_notice_enqueue(t, channel, "notice:validation", CK_NOTICE, as_of) > 0 ? 1 : 0;
}

/* queue the validation notice as `step` and record the validation period; the message id or 0 */
int64
validation_notice_enqueue(OutreachTarget *t, const char *channel, const char *step, ContactKind kind,
						  TimestampTz as_of)
{
	static const Oid types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, DATEOID};
	static SPIPlanPtr item_plan = NULL;
	static SPIPlanPtr plan = NULL;
	Datum		args[4];
	TimestampTz send_at;
	DateADT		end;
	StringInfoData extra;
	int64		id;

	send_at = outreach_send_time(as_of, t->tz, t->policy->contact_hour_start, t->policy->contact_hour_end, -1);
	end = validation_period_end(local_date(send_at, t->tz));

	args[0] = CStringGetTextDatum(t->practice_id);
	args[1] = CStringGetTextDatum(t->patient_id);
	args[2] = TimestampTzGetDatum(as_of);
	args[3] = DateADTGetDatum(end);
	dunning_plan(&item_plan,
				 "SELECT itemization_date, amount_then, fees, payments, credits"
				 " FROM collect.validation_notice($1, $2, $3)", 3, types);
	if (SPI_execute_plan(item_plan, args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the itemization failed");
	initStringInfo(&extra);
	appendStringInfoChar(&extra, '{');
	{
		static const char *const names[] = {"itemization_date", "amount_then", "fees_since", "payments_since", "credits_since"};

		for (int i = 0; i < 5; i++)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1);
			bool		isnull;

			if (i == 0)
				v = format_local_date(DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
									  t->language ? t->language : "en");
			else
				v = cents_to_dollars(numeric_to_cents(DirectFunctionCall3(numeric_in, CStringGetDatum(v),
																		  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1))));
			appendStringInfo(&extra, "%s", i ? ", " : "");
			escape_json(&extra, names[i]);
			appendStringInfoString(&extra, ": ");
			escape_json(&extra, v);
		}
	}
	SPI_freetuptable(SPI_tuptable);
	appendStringInfoString(&extra, ", \"validation_end\": ");
	escape_json(&extra, format_local_date(end, t->language ? t->language : "en"));
	appendStringInfoChar(&extra, '}');

	id = outreach_enqueue_target(t, channel, step, kind, "validation_notice",
								 DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(extra.data))),
								 as_of, as_of);
	if (id <= 0)
		return 0;
	dunning_plan(&plan, "UPDATE collect.account SET validation_notice_at = $3, validation_period_end = $4"
				 " WHERE practice_id = $1 AND patient_id = $2 AND validation_notice_at IS NULL", 4, types);
	if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "recording the validation notice failed");
	t->has_validation = true;
	t->validation_end = end;
	return id;
}

/* the written notice of a planned extraordinary action went out */
void
eca_notice_sent(const OutreachTarget *t, TimestampTz at)
{
	static const Oid types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	static SPIPlanPtr plan = NULL;
	Datum		args[3] = {CStringGetTextDatum(t->practice_id), CStringGetTextDatum(t->patient_id),
		TimestampTzGetDatum(at)};

	dunning_plan(&plan, "UPDATE collect.account SET eca_notice_at = $3 WHERE practice_id = $1 AND patient_id = $2",
				 3, types);
	if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "recording the notice failed");
}
