/*
 * template.c: renders collect.message_template rows for a patient: picks
 * the row (variant, language, channel, with fallbacks), fills the
 * whitelisted variables from the account (first name, balance, service
 * date, what insurance paid, a signed pay link, the opt-out line) and
 * hands the substitution to the pure core in template_render.c. Minimum
 * PHI: it never reads a diagnosis, procedure, provider, visit description
 * or ledger note, so none can reach a message.
 */
#include "collect.h"

#include "commands/trigger.h"
#include "utils/rel.h"

#include "dunning.h"
#include "paylink.h"
#include "template_render.h"

static struct
{
	SPIPlanPtr	template;
	SPIPlanPtr	visits;
} plans;

static const char *const months_en[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const months_es[] = {"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"};

static bool
is_spanish(const char *language)
{
	return language != NULL && strncmp(language, "es", 2) == 0;
}

char *
format_local_date(DateADT d, const char *language)
{
	int			y,
				m,
				day;

	j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &day);
	if (is_spanish(language))
		return psprintf("%d %s %d", day, months_es[m - 1], y);
	return psprintf("%s %d, %d", months_en[m - 1], day, y);
}

const char *
opt_out_line(const char *channel, const char *language)
{
	bool		es = is_spanish(language);

	if (strcmp(channel, "sms") == 0)
		return es ? "Responda ALTO para no recibir más mensajes." : "Reply STOP to opt out.";
	if (strcmp(channel, "email") == 0)
		return es ? "Para no recibir más correos, responda ALTO o BAJA." :
			"To stop these e-mails, reply STOP or UNSUBSCRIBE.";
	return "";
}

static const char *
plan_offer_text(const OutreachTarget *t, const char *channel, int days)
{
	const Policy *p = t->policy;

	/* the least likely to pay in full are offered a plan first, from the first step */
	bool		early = t->has_risk && t->risk_score < RISK_FIRM_BELOW;

	if (t->balance <= p->plan_offer_above || (days < p->plan_offer_after_days && !early))
		return "";
	if (strcmp(channel, "sms") == 0)
		return is_spanish(t->language) ? " ¿Prefiere pagar en cuotas? Responda PLAN." :
			" Prefer to pay over time? Reply PLAN.";
	return is_spanish(t->language) ? "\nTambién puede pagar en cuotas mensuales: responda PLAN o llámenos." :
		"\nYou can also pay over time in monthly payments: reply PLAN or call us.";
}

/* the oldest open visit's service date and what insurance paid on open visits */
static void
visit_facts(const OutreachTarget *t, char **service_date, Cents *insurance_paid)
{
	static const Oid types[3] = {TEXTOID, TEXTOID, DATEOID};
	Datum		args[3];
	bool		isnull;
	Datum		d;

	*service_date = NULL;
	*insurance_paid = 0;
	if (!t->has_due)
		return;
	dunning_plan(&plans.visits,
				 "SELECT min(service_date), COALESCE(sum(insurance_paid), 0) FROM collect.ledger"
				 " WHERE practice_id = $1 AND patient_id = $2 AND kind = 'charge'"
				 "   AND posted_at >= $3::timestamp AT TIME ZONE 'UTC' - interval '1 day'", 3, types);
	args[0] = CStringGetTextDatum(t->practice_id);
	args[1] = CStringGetTextDatum(t->patient_id);
	args[2] = DateADTGetDatum(t->due_since);
	if (SPI_execute_plan(plans.visits, args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the visits failed");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	*service_date = format_local_date(isnull ? t->due_since : DatumGetDateADT(d), t->language);
	*insurance_paid = numeric_to_cents(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_freetuptable(SPI_tuptable);
}

static char *
pay_link_for(const OutreachTarget *t, Cents amount, TimestampTz as_of)
{
	char		buf[1024];
	long long	expires;
	int			n;

	if (t->paylink_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("practice \"%s\" has no pay-link key", t->practice_id)));
	/* seconds since the Unix epoch; whole days so a link is stable within a day */
	expires = (long long) ((as_of / USECS_PER_SEC) + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
	expires = (expires / SECS_PER_DAY + t->policy->pay_link_valid_days) * SECS_PER_DAY;
	n = paylink_build(buf, sizeof(buf), t->policy->pay_link_base,
					  (const unsigned char *) VARDATA_ANY(t->paylink_key), VARSIZE_ANY_EXHDR(t->paylink_key),
					  t->practice_id, t->patient_id, (long long) amount, expires);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not build a pay link for patient \"%s\"", t->patient_id)));
	return pstrdup(buf);
}

#define MAX_VARS 40

typedef struct VarList
{
	int			n;
	TrVar		v[MAX_VARS];
} VarList;

static void
var_set(VarList *l, const char *name, const char *value)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
		{
			l->v[i].value = value;
			return;
		}
	if (l->n >= MAX_VARS)
		elog(ERROR, "too many template variables");
	l->v[l->n].name = name;
	l->v[l->n].value = value;
	l->n++;
}

/* extra variables: a flat JSON object of whitelisted names */
static void
add_extra_vars(VarList *l, Jsonb *extra)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (extra == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(extra))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("template variables must be a JSON object")));
	it = JsonbIteratorInit(&extra->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			if (!tr_known_var(key, strlen(key)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown template variable \"%s\"", key),
						 errhint("Allowed variables are listed in docs/dunning.md.")));
		}
		else if (tok == WJB_VALUE)
		{
			const char *value;

			if (v.type == jbvString)
				value = pnstrdup(v.val.string.val, v.val.string.len);
			else if (v.type == jbvNumeric)
				value = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
			else if (v.type == jbvBool)
				value = v.val.boolean ? "true" : "false";
			else if (v.type == jbvNull)
				value = NULL;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("template variable \"%s\" must be a string, number or boolean", key)));
			var_set(l, key, value);
		}
	}
}

static char *
render_or_error(const char *tmpl, const VarList *vars, const char *name)
{
	char		err[256];
	char	   *out = tr_render(tmpl, vars->v, vars->n, err, sizeof(err));
	char	   *copy;

	if (out == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("template \"%s\" cannot be rendered: %s", name, err)));
	copy = pstrdup(out);
	free(out);
	return copy;
}

/* base name of a _gentle or _firm variant */
static char *
template_base(const char *name)
{
	size_t		len = strlen(name);

	if (len > 7 && strcmp(name + len - 7, "_gentle") == 0)
		return pnstrdup(name, len - 7);
	if (len > 5 && strcmp(name + len - 5, "_firm") == 0)
		return pnstrdup(name, len - 5);
	return pstrdup(name);
}

void
template_render_for(const OutreachTarget *t, const char *channel, const char *template_name,
					Jsonb *extra, TimestampTz as_of, RenderedMessage *out)
{
	static const Oid types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	char	   *base = template_base(template_name);
	char	   *subject_tmpl,
			   *body_tmpl;
	VarList		vars;
	char	   *service_date;
	Cents		insurance_paid;
	const char *opt_out = opt_out_line(channel, t->language);
	DateADT		today = local_date(as_of, t->tz);
	int			days = t->has_due ? Max(0, today - t->due_since) : 0;

	dunning_plan(&plans.template,
				 "SELECT subject, body, language, template_name FROM collect.message_template"
				 " WHERE template_name IN ($1, $2) AND language IN ($3, 'en') AND channel IN ($4, 'any')"
				 " ORDER BY language = $3 DESC, template_name = $1 DESC, channel = $4 DESC LIMIT 1", 4, types);
	args[0] = CStringGetTextDatum(template_name);
	args[1] = CStringGetTextDatum(base);
	args[2] = CStringGetTextDatum(t->language ? t->language : "en");
	args[3] = CStringGetTextDatum(channel);
	if (SPI_execute_plan(plans.template, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the template failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no message template \"%s\" for channel %s", template_name, channel),
				 errhint("Add a row to collect.message_template (language en at least).")));
	subject_tmpl = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	body_tmpl = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	out->language = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	out->template_used = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	SPI_freetuptable(SPI_tuptable);

	visit_facts(t, &service_date, &insurance_paid);
	vars.n = 0;
	var_set(&vars, "first_name", t->first_name ? t->first_name : (is_spanish(out->language) ? "paciente" : "there"));
	var_set(&vars, "practice_name", t->practice_name ? t->practice_name : "your care team");
	var_set(&vars, "balance", cents_to_dollars(Max(t->balance, 0)));
	var_set(&vars, "amount", cents_to_dollars(Max(t->balance, 0)));
	var_set(&vars, "service_date", service_date ? service_date : "");
	var_set(&vars, "insurance_paid", cents_to_dollars(insurance_paid));
	var_set(&vars, "days_past_due", psprintf("%d", days));
	var_set(&vars, "channel", channel);
	var_set(&vars, "assistance_link", t->policy->assistance_link);
	var_set(&vars, "plan_offer", plan_offer_text(t, channel, days));
	var_set(&vars, "opt_out", opt_out);
	if (t->appointment_at != DT_NOBEGIN)
	{
		int			minute;
		int			hour = local_hour_of(t->appointment_at, t->tz, &minute);

		var_set(&vars, "appointment_at", psprintf("%s %02d:%02d",
												  format_local_date(local_date(t->appointment_at, t->tz), out->language),
												  hour, minute));
	}
	if (strstr(body_tmpl, "pay_link") != NULL || (subject_tmpl && strstr(subject_tmpl, "pay_link") != NULL))
		var_set(&vars, "pay_link", pay_link_for(t, Max(t->balance, 0), as_of));
	add_extra_vars(&vars, extra);

	out->subject = subject_tmpl && (strcmp(channel, "email") == 0 || strcmp(channel, "letter") == 0) ?
		render_or_error(subject_tmpl, &vars, template_name) : NULL;
	out->body = render_or_error(body_tmpl, &vars, template_name);

	/* every SMS and e-mail carries a plain opt-out line (Reg F 1006.6(e)) */
	if (opt_out[0] != '\0' && strstr(out->body, opt_out) == NULL)
		out->body = psprintf("%s%s%s", out->body, strcmp(channel, "email") == 0 ? "\n\n" : " ", opt_out);
}

/* ---- SQL ---- */

PG_FUNCTION_INFO_V1(message_template_check);
PG_FUNCTION_INFO_V1(collect_render_message);

/* BEFORE INSERT OR UPDATE on collect.message_template: placeholders must be whitelisted */
Datum
message_template_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	TupleDesc	desc;
	static const char *const cols[] = {"subject", "body"};

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "message_template_check: must be a row trigger");
	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);
	for (int i = 0; i < 2; i++)
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, SPI_fnumber(desc, cols[i]), desc, &isnull);
		char		err[256];

		if (!isnull && !tr_check(TextDatumGetCString(d), err, sizeof(err)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid message template %s: %s", cols[i], err),
					 errhint("Allowed variables are listed in docs/dunning.md.")));
	}
	return PointerGetDatum(tup);
}

Datum
collect_render_message(PG_FUNCTION_ARGS)
{
	OutreachTarget t;
	RenderedMessage msg;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz as_of;

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("arguments must not be null")));
	as_of = PG_ARGISNULL(5) ? GetCurrentTransactionStartTimestamp() : PG_GETARG_TIMESTAMPTZ(5);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "render_message must return a record");
	SPI_connect();
	outreach_load_target(text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)), &t);
	template_render_for(&t, text_to_cstring(PG_GETARG_TEXT_PP(2)), text_to_cstring(PG_GETARG_TEXT_PP(3)),
						PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4), as_of, &msg);
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		nulls[0] = msg.subject == NULL;
		values[0] = msg.subject ? CStringGetTextDatum(msg.subject) : (Datum) 0;
		values[1] = CStringGetTextDatum(msg.body);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
