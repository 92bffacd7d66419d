/*
 * why.c: explainability for auditors and billing managers.
 * collect.preview lists the steps the cadence plans for the next days and
 * every one a rule would hold back, with the rule's name and reason;
 * collect.why / collect.why_task turn the decision record kept with a
 * message or task (outbox.decision, task.decision, written when it was
 * decided) into plain words. Read-only; never reads the wall clock.
 */
#include "collect.h"

#include "cadence.h"
#include "dunning.h"

PG_FUNCTION_INFO_V1(collect_preview);
PG_FUNCTION_INFO_V1(collect_why_message);
PG_FUNCTION_INFO_V1(collect_why_task);

static void
preview_row(Tuplestorestate *ts, TupleDesc desc, TimestampTz at, const char *step, const char *channel,
			const char *tmpl, const char *status, const char *rule, const char *reason)
{
	Datum		v[7];
	bool		n[7] = {0};
	const char *s[6] = {step, channel, tmpl, status, rule, reason};

	v[0] = TimestampTzGetDatum(at);
	for (int i = 0; i < 6; i++)
	{
		n[i + 1] = s[i] == NULL;
		v[i + 1] = s[i] ? CStringGetTextDatum(s[i]) : (Datum) 0;
	}
	tuplestore_putvalues(ts, desc, v, n);
}

/* rules about one channel only: the cadence substitutes another channel */
static bool
preview_substitutable(const char *rule)
{
	return strcmp(rule, "no_consent") == 0 || strcmp(rule, "no_address") == 0 ||
		strcmp(rule, "opted_out") == 0 || strcmp(rule, "channel_request") == 0 ||
		strcmp(rule, "touch_cap_7d") == 0;
}

Datum
collect_preview(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			days = PG_GETARG_INT32(2);
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(3);
	TimestampTz horizon;
	OutreachTarget t;
	CadenceFacts f;
	DateADT		last = 0;

	if (days < 1 || days > 730)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("preview days must be between 1 and 730, not %d", days)));
	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("preview needs a finite as_of")));
	InitMaterializedSRF(fcinfo, 0);
	horizon = as_of + (TimestampTz) days * USECS_PER_DAY;

	SPI_connect();
	outreach_load_target(text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)), &t);
	if (!t.has_account || !t.has_anchor || t.balance < Max(t.policy->min_outreach_balance, 1))
	{
		preview_row(rsinfo->setResult, rsinfo->setDesc, as_of, NULL, NULL, NULL, "none", "balance_paid",
					"nothing (or less than the minimum) is owed, or no due date to run a cadence from");
		SPI_finish();
		return (Datum) 0;
	}
	memset(&f, 0, sizeof(f));
	f.policy = t.policy;
	f.as_of = as_of;
	f.today = local_date(as_of, t.tz);
	f.has_anchor = true;
	f.anchor = t.cadence_anchor;
	f.paid_on_time = t.paid_on_time;
	f.paid_late = t.paid_late;
	f.last_response_at = t.last_response_at;
	f.last_step_date = t.last_contact_at == DT_NOBEGIN ? 0 : local_date(t.last_contact_at, t.tz);
	for (int i = t.cadence_step; i < t.policy->n_cadence; i++)
	{
		const CadenceStep *s = &t.policy->cadence[i];
		DateADT		due;
		TimestampTz at;
		ContactDecision d;
		char	   *step = psprintf("cadence step %d (day %d)", i + 1, s->day);

		CHECK_FOR_INTERRUPTS();
		f.step = i;
		due = Max(cadence_step_date(&f, i), f.today);
		at = outreach_send_time(Max(local_time_at(due, 0, t.tz), as_of), t.tz, t.policy->contact_hour_start,
								t.policy->contact_hour_end, t.best_hour);
		if (at > horizon)
			break;
		d = outreach_check(&t, s->channel, CK_COLLECTION, at);
		if (!d.allowed && preview_substitutable(d.rule))
		{
			/* the cadence takes another channel when this one cannot be used */
			static const char *const alts[] = {"email", "sms", "letter"};
			const char *alt = NULL;

			for (int k = 0; k < 3 && alt == NULL; k++)
				if (strcmp(alts[k], s->channel) != 0 && outreach_check(&t, alts[k], CK_COLLECTION, at).allowed)
					alt = alts[k];
			if (alt != NULL && !t.has_validation && t.has_due)
			{
				preview_row(rsinfo->setResult, rsinfo->setDesc, at, "validation notice (with the first contact)",
							strcmp(alt, "letter") == 0 || outreach_check(&t, "letter", CK_NOTICE, at).allowed ? "letter" : "email",
							"validation_notice", "planned", NULL, NULL);
				t.has_validation = true;
			}
			if (alt != NULL)
			{
				const char *tmpl = strcmp(alt, "letter") == 0 ? "statement" :
					strcmp(alt, "email") == 0 && strcmp(s->template_name, "first_text") == 0 ? "first_email" :
					strcmp(alt, "sms") == 0 ? "reminder" : s->template_name;

				preview_row(rsinfo->setResult, rsinfo->setDesc, at, step, alt, tmpl, "planned", d.rule,
							psprintf("%s cannot be used (%s: %s); the step goes by %s instead",
									 s->channel, d.rule, d.reason, alt));
				f.last_step_date = local_date(at, t.tz);
				last = f.last_step_date;
				continue;
			}
		}
		if (d.allowed && !t.has_validation && t.has_due)
		{
			/* the tick sends the validation notice with the first contact; a first letter is the notice */
			bool		letter = strcmp(s->channel, "letter") == 0;

			if (!letter)
				preview_row(rsinfo->setResult, rsinfo->setDesc, at, "validation notice (with the first contact)",
							outreach_check(&t, "letter", CK_NOTICE, at).allowed ? "letter" : "email",
							"validation_notice", "planned", NULL, NULL);
			t.has_validation = true;
			if (letter)
			{
				preview_row(rsinfo->setResult, rsinfo->setDesc, at, step, s->channel, "validation_notice",
							"planned", NULL, NULL);
				f.last_step_date = local_date(at, t.tz);
				last = f.last_step_date;
				continue;
			}
		}
		if (d.allowed)
			preview_row(rsinfo->setResult, rsinfo->setDesc, at, step, s->channel, s->template_name,
						"planned", NULL, NULL);
		else
			preview_row(rsinfo->setResult, rsinfo->setDesc, at, step, s->channel, s->template_name,
						"held", d.rule, psprintf("%s (%s)", d.reason, d.source));
		f.last_step_date = local_date(at, t.tz);
		last = f.last_step_date;
	}
	/* after the cadence: the placement review and its gates */
	{
		TimestampTz at = local_time_at(Max(last, t.cadence_anchor + t.policy->placement_review_after_days),
									   t.policy->contact_hour_start, t.tz);
		TimestampTz first = t.first_statement_at;
		EcaDecision g;

		if (first == DT_NOBEGIN)
			first = as_of;		/* assume the next letter is the first statement */
		at = Max(at, first + (TimestampTz) ECA_MIN_DAYS_AFTER_STATEMENT * USECS_PER_DAY);
		at = Max(at, as_of);
		if (at <= horizon)
		{
			OutreachTarget tt = t;

			tt.first_statement_at = first;
			g = eca_check(&tt, ECA_PLACEMENT, at);
			if (!g.allowed && strcmp(g.rule, "eca_notice_missing") == 0)
			{
				/* the tick sends the written notice then, and reviews 30 days later */
				preview_row(rsinfo->setResult, rsinfo->setDesc, at, "written notice before placement", "letter",
							"eca_notice", "planned", g.rule, psprintf("%s (%s)", g.reason, g.source));
				tt.eca_notice_at = at;
				at += (TimestampTz) ECA_NOTICE_DAYS_BEFORE * USECS_PER_DAY;
				g = eca_check(&tt, ECA_PLACEMENT, at);
			}
			if (at > horizon)
				;
			else if (g.allowed)
				preview_row(rsinfo->setResult, rsinfo->setDesc, at, "placement review", NULL, NULL,
							"planned", NULL, NULL);
			else
				preview_row(rsinfo->setResult, rsinfo->setDesc, at, "placement review", NULL, NULL,
							"held", g.rule, psprintf("%s (%s)", g.reason, g.source));
		}
	}
	SPI_finish();
	return (Datum) 0;
}

/* a member of a jsonb object as text ("" when missing or null) */
static char *
jget(Jsonb *j, const char *obj, const char *key)
{
	JsonbValue *v;
	JsonbContainer *c = &j->root;

	if (obj != NULL)
	{
		v = getKeyJsonValueFromContainer(c, obj, strlen(obj), NULL);
		if (v == NULL || v->type != jbvBinary)
			return "";
		c = v->val.binary.data;
	}
	v = getKeyJsonValueFromContainer(c, key, strlen(key), NULL);
	if (v == NULL || v->type == jbvNull)
		return "";
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvBool)
		return v->val.boolean ? "yes" : "no";
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	return "";
}

static const char *
or_none(const char *s, const char *none)
{
	return s[0] ? s : none;
}

/* the decision record in plain words */
static char *
explain_decision(const char *what, Jsonb *j)
{
	StringInfoData b;
	const char *consent = jget(j, "facts", "consent");

	initStringInfo(&b);
	appendStringInfo(&b, "%s came from %s", what, or_none(jget(j, NULL, "step"), "a direct request"));
	if (jget(j, "policy", "cadence")[0] && strncmp(jget(j, NULL, "step"), "cadence", 7) == 0)
		appendStringInfo(&b, " (policy key cadence: %s; the channel follows text_first_below, email_first_above "
						 "and which channels may be used)", jget(j, "policy", "cadence"));
	appendStringInfo(&b, ", decided for %s. ", jget(j, NULL, "decided_at"));
	appendStringInfo(&b, "Policy keys: state_preset %s, contact hours %s:00 to %s:00, call_max_attempts_7d %s, "
					 "min_outreach_balance $%s, nonprofit_hospital %s. ",
					 jget(j, "policy", "state_preset"), jget(j, "policy", "contact_hour_start"),
					 jget(j, "policy", "contact_hour_end"), jget(j, "policy", "call_max_attempts_7d"),
					 jget(j, "policy", "min_outreach_balance"), jget(j, "policy", "nonprofit_hospital"));
	appendStringInfo(&b, "Facts then: balance $%s, account %s, due since %s, consent for the channel %s "
					 "(recorded source: %s), phone number from %s, opted out of %s, channel request %s, "
					 "open dispute %s, open assistance request %s, open legal holds %s, first statement %s. ",
					 jget(j, "facts", "balance"), jget(j, "facts", "state"), or_none(jget(j, "facts", "due_since"), "-"),
					 consent[0] ? consent : "not needed", or_none(jget(j, "facts", "consent_source"), "not recorded"),
					 or_none(jget(j, "facts", "phone_source"), "an unrecorded source"),
					 or_none(jget(j, "facts", "opted_out"), "nothing"), or_none(jget(j, "facts", "channel_request"), "none"),
					 jget(j, "facts", "dispute_open"), jget(j, "facts", "assistance_open"),
					 or_none(jget(j, "facts", "open_holds"), "none"),
					 or_none(jget(j, "facts", "first_statement_at"), "not sent yet"));
	if (jget(j, NULL, "held_by")[0])
		appendStringInfo(&b, "It was held back by the rule %s.", jget(j, NULL, "held_by"));
	else if (strcmp(jget(j, NULL, "channel"), "task") == 0)
		appendStringInfoString(&b, "The event itself opened it; the facts above are those before the event.");
	else if (strcmp(jget(j, NULL, "channel"), "placement") == 0)
		appendStringInfoString(&b, "Every extraordinary-action gate passed: 120 days since the first statement, "
							   "a written notice at least 30 days before, no open hold, dispute or assistance request.");
	else
		appendStringInfoString(&b, "Every contact rule passed: consent, opt-outs, contact hours, legal holds, "
							   "disputes, assistance, call and text frequency.");
	return b.data;
}

static Datum
why_of(FunctionCallInfo fcinfo, const char *sql, const char *what)
{
	int64		id = PG_GETARG_INT64(0);
	Datum		arg = Int64GetDatum(id);
	Oid			type = INT8OID;
	MemoryContext caller = CurrentMemoryContext;
	char	   *result;
	bool		isnull;
	Datum		d;

	SPI_connect();
	if (SPI_execute_with_args(sql, 1, &type, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the decision failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s %lld does not exist (or is not visible to you)", what, (long long) id)));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	{
		char	   *head = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		MemoryContext old = MemoryContextSwitchTo(caller);

		result = isnull ?
			psprintf("%s. No decision record was kept for it (it was not written by the dunning rules).", head) :
			explain_decision(head, DatumGetJsonbPCopy(d));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

Datum
collect_why_message(PG_FUNCTION_ARGS)
{
	return why_of(fcinfo,
				  "SELECT format('Message %s (%s, template %s, %s) to patient %s', message_id, channel,"
				  " COALESCE(template, '-'), status, patient_id), decision"
				  " FROM collect.outbox WHERE message_id = $1", "message");
}

Datum
collect_why_task(PG_FUNCTION_ARGS)
{
	return why_of(fcinfo,
				  "SELECT format('Task %s (%s, %s) for patient %s', task_id, kind, status, patient_id), decision"
				  " FROM collect.task WHERE task_id = $1", "task");
}
