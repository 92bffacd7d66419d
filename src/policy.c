/*
 * policy.c: the practice policy. Validates practice.policy against
 * collect.policy_default (known keys, JSON types, numeric bounds that keep
 * hard rules from being loosened, the shape of the cadence and installment
 * tiers) and loads the merged policy into a typed struct for the decision
 * code. Reads the defaults table and the practice row; nothing else.
 */
#include "collect.h"

typedef enum PolicyKind
{
	PK_CENTS, PK_INT, PK_BOOL, PK_STRING, PK_CADENCE, PK_TIERS
} PolicyKind;

typedef struct PolicyField
{
	const char *key;
	PolicyKind	kind;
	size_t		offset;
	size_t		size;			/* PK_STRING: buffer size */
} PolicyField;

#define FIELD(key, kind) {#key, kind, offsetof(Policy, key), 0}
#define STRING_FIELD(key) {#key, PK_STRING, offsetof(Policy, key), sizeof(((Policy *) 0)->key)}

static const PolicyField policy_fields[] = {
	FIELD(min_outreach_balance, PK_CENTS),
	{"cadence", PK_CADENCE, 0, 0},
	FIELD(text_first_below, PK_CENTS),
	FIELD(email_first_above, PK_CENTS),
	FIELD(plan_offer_above, PK_CENTS),
	FIELD(plan_offer_after_days, PK_INT),
	{"plan_installments", PK_TIERS, 0, 0},
	FIELD(plan_auto_approve_max_installments, PK_INT),
	FIELD(plan_auto_approve_max_balance, PK_CENTS),
	FIELD(plan_day_of_month, PK_INT),
	FIELD(plan_reminder_days_before, PK_INT),
	FIELD(payment_retry_after_hours, PK_INT),
	FIELD(payment_max_retries, PK_INT),
	FIELD(placement_review_after_days, PK_INT),
	FIELD(settlement_min_age_days, PK_INT),
	FIELD(settlement_max_discount_pct, PK_INT),
	FIELD(settlement_approval_above, PK_CENTS),
	FIELD(hardship_support_months, PK_INT),
	STRING_FIELD(refund_sweep),
	FIELD(refund_due_business_days, PK_INT),
	FIELD(no_show_pause_hours, PK_INT),
	FIELD(contact_hour_start, PK_INT),
	FIELD(contact_hour_end, PK_INT),
	FIELD(call_max_attempts_7d, PK_INT),
	FIELD(call_quiet_days_after_conversation, PK_INT),
	FIELD(recent_touch_quiet_hours, PK_INT),
	STRING_FIELD(state_preset),
	FIELD(nonprofit_hospital, PK_BOOL),
	STRING_FIELD(pay_link_base),
	STRING_FIELD(assistance_link),
	FIELD(pay_link_valid_days, PK_INT),
};

static const char *const cadence_channels[] = {"sms", "email", "letter", "voice", "call_task", NULL};
static const char *const state_presets[] = {"federal", "MA", "CA", NULL};
static const char *const refund_sweeps[] = {"weekly", "daily", NULL};

static const PolicyField *
policy_field(const char *key)
{
	for (size_t i = 0; i < lengthof(policy_fields); i++)
		if (strcmp(policy_fields[i].key, key) == 0)
			return &policy_fields[i];
	return NULL;
}

static pg_attribute_noreturn() void
policy_error(const char *key, const char *fmt, const char *arg)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid policy value for \"%s\"", key),
			 errdetail_internal(fmt, arg)));
}

static bool
in_list(const char *value, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(value, *list) == 0)
			return true;
	return false;
}

static const char *
json_type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "array" : "object";
		default:
			return "scalar";
	}
}

static char *
json_string(JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* a JSON number that is a whole number within [min, max] */
static int
json_int(const char *key, JsonbValue *v, int min, int max)
{
	char	   *text;
	char	   *end;
	long		n;

	if (v->type != jbvNumeric)
		policy_error(key, "expected a number, got %s", json_type_name(v));
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	errno = 0;
	n = strtol(text, &end, 10);
	if (*end != '\0' || errno != 0 || n < min || n > max)
		policy_error(key, "expected a whole number in range, got %s", text);
	return (int) n;
}

static Cents
json_cents(const char *key, JsonbValue *v)
{
	Cents		c;

	if (v->type != jbvNumeric)
		policy_error(key, "expected a number of dollars, got %s", json_type_name(v));
	/* bound before converting: a huge number would overflow int8 (22003) */
	if (numeric_is_nan(v->val.numeric) || numeric_is_inf(v->val.numeric) ||
		DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(v->val.numeric),
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(INT64CONST(100000000))))) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(v->val.numeric),
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(0)))))
		c = -1;
	else
		c = numeric_to_cents(NumericGetDatum(v->val.numeric));
	if (c < 0 || c > INT64CONST(10000000000))
		policy_error(key, "expected a dollar amount between 0 and 100000000, got %s",
					 DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric))));
	return c;
}

/* cadence: [{"day": n, "channel": c, "template": t}, ...], days ascending */
static void
parse_cadence(JsonbValue *v, Policy *out)
{
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			n = 0;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		policy_error("cadence", "expected an array of steps, got %s", json_type_name(v));
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		JsonbIterator *sit;
		JsonbValue	kv;
		JsonbIteratorToken stok;
		CadenceStep step = {-1, "", ""};
		char	   *key = NULL;

		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvBinary || !JsonContainerIsObject(elem.val.binary.data))
			policy_error("cadence", "each step must be an object, got %s", json_type_name(&elem));
		if (n >= MAX_CADENCE_STEPS)
			policy_error("cadence", "at most %s steps are allowed", CppAsString2(MAX_CADENCE_STEPS));
		sit = JsonbIteratorInit(elem.val.binary.data);
		while ((stok = JsonbIteratorNext(&sit, &kv, true)) != WJB_DONE)
		{
			if (stok == WJB_KEY)
				key = json_string(&kv);
			else if (stok == WJB_VALUE && strcmp(key, "day") == 0)
				step.day = json_int("cadence", &kv, 0, 365);
			else if (stok == WJB_VALUE && (strcmp(key, "channel") == 0 || strcmp(key, "template") == 0))
			{
				char	   *s;

				if (kv.type != jbvString)
					policy_error("cadence", "step %s must be a string", key);
				s = json_string(&kv);
				if (key[0] == 'c')
				{
					if (!in_list(s, cadence_channels))
						policy_error("cadence", "unknown channel \"%s\" (sms, email, letter, voice, call_task)", s);
					strlcpy(step.channel, s, sizeof(step.channel));
				}
				else
				{
					if (strlen(s) == 0 || strlen(s) >= sizeof(step.template_name) ||
						strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(s))
						policy_error("cadence", "template name \"%s\" must be 1-47 of a-z, 0-9, _", s);
					strlcpy(step.template_name, s, sizeof(step.template_name));
				}
			}
			else if (stok == WJB_VALUE)
				policy_error("cadence", "unknown step key \"%s\" (day, channel, template)", key);
		}
		if (step.day < 0 || step.channel[0] == '\0')
			policy_error("cadence", "%s", "each step needs \"day\" and \"channel\"");
		if (step.template_name[0] == '\0')
			strlcpy(step.template_name, step.channel, sizeof(step.template_name));
		if (n > 0 && step.day < out->cadence[n - 1].day)
			policy_error("cadence", "%s", "steps must be in order of day");
		out->cadence[n++] = step;
	}
	out->n_cadence = n;
}

/* plan_installments: [{"under": dollars, "count": n}, ..., {"count": n}] */
static void
parse_tiers(JsonbValue *v, Policy *out)
{
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			n = 0;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		policy_error("plan_installments", "expected an array of tiers, got %s", json_type_name(v));
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		JsonbIterator *sit;
		JsonbValue	kv;
		JsonbIteratorToken stok;
		InstallmentTier tier = {-1, 0};
		char	   *key = NULL;

		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvBinary || !JsonContainerIsObject(elem.val.binary.data))
			policy_error("plan_installments", "each tier must be an object, got %s", json_type_name(&elem));
		if (n >= MAX_INSTALLMENT_TIERS)
			policy_error("plan_installments", "at most %s tiers are allowed", CppAsString2(MAX_INSTALLMENT_TIERS));
		sit = JsonbIteratorInit(elem.val.binary.data);
		while ((stok = JsonbIteratorNext(&sit, &kv, true)) != WJB_DONE)
		{
			if (stok == WJB_KEY)
				key = json_string(&kv);
			else if (stok == WJB_VALUE && strcmp(key, "under") == 0)
				tier.under = json_cents("plan_installments", &kv);
			else if (stok == WJB_VALUE && strcmp(key, "count") == 0)
				tier.count = json_int("plan_installments", &kv, 1, 60);
			else if (stok == WJB_VALUE)
				policy_error("plan_installments", "unknown tier key \"%s\" (under, count)", key);
		}
		if (tier.count == 0)
			policy_error("plan_installments", "%s", "each tier needs \"count\"");
		if (n > 0 && (out->tiers[n - 1].under < 0 || (tier.under >= 0 && tier.under <= out->tiers[n - 1].under)))
			policy_error("plan_installments", "%s", "tiers must rise by \"under\", the open-ended one last");
		out->tiers[n++] = tier;
	}
	if (n == 0 || out->tiers[n - 1].under >= 0)
		policy_error("plan_installments", "%s", "the last tier must have no \"under\" (it covers every larger balance)");
	out->n_tiers = n;
}

/* Set one field of *out from a JSON value, checking type and shape. */
static void
policy_apply(Policy *out, const PolicyField *f, JsonbValue *v)
{
	char	   *base = (char *) out;

	switch (f->kind)
	{
		case PK_CENTS:
			*(Cents *) (base + f->offset) = json_cents(f->key, v);
			break;
		case PK_INT:
			*(int *) (base + f->offset) = json_int(f->key, v, 0, 100000);
			break;
		case PK_BOOL:
			if (v->type != jbvBool)
				policy_error(f->key, "expected true or false, got %s", json_type_name(v));
			*(bool *) (base + f->offset) = v->val.boolean;
			break;
		case PK_STRING:
			{
				char	   *s;

				if (v->type != jbvString)
					policy_error(f->key, "expected a string, got %s", json_type_name(v));
				s = json_string(v);
				if (strlen(s) >= f->size)
					policy_error(f->key, "longer than %s", psprintf("%d characters", (int) f->size - 1));
				if (strcmp(f->key, "state_preset") == 0 && !in_list(s, state_presets))
					policy_error(f->key, "unknown preset \"%s\" (federal, MA, CA)", s);
				if (strcmp(f->key, "refund_sweep") == 0 && !in_list(s, refund_sweeps))
					policy_error(f->key, "unknown sweep \"%s\" (weekly, daily)", s);
				if (strstr(f->key, "link") != NULL && strncmp(s, "https://", 8) != 0)
					policy_error(f->key, "links must start with https://, got \"%s\"", s);
				strlcpy(base + f->offset, s, f->size);
				break;
			}
		case PK_CADENCE:
			parse_cadence(v, out);
			break;
		case PK_TIERS:
			parse_tiers(v, out);
			break;
	}
}

/* The numeric bounds of collect.policy_default for one key. */
static void
check_bounds(const char *key, JsonbValue *v, Datum min_value, bool min_null,
			 Datum max_value, bool max_null)
{
	Datum		n;

	if (v->type != jbvNumeric)
		return;
	n = NumericGetDatum(v->val.numeric);
	if ((!min_null && DatumGetBool(DirectFunctionCall2(numeric_lt, n, min_value))) ||
		(!max_null && DatumGetBool(DirectFunctionCall2(numeric_gt, n, max_value))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("policy value for \"%s\" is out of range", key),
				 errdetail("Allowed: %s to %s; a practice may make a rule stricter, never looser.",
						   min_null ? "any" : DatumGetCString(DirectFunctionCall1(numeric_out, min_value)),
						   max_null ? "any" : DatumGetCString(DirectFunctionCall1(numeric_out, max_value)))));
}

/*
 * Merge the defaults and the practice's overrides into *out. With
 * overrides == NULL only the defaults are applied. Every override is
 * checked: a key collect.policy_default does not know, a wrong type, a
 * value out of bounds or a malformed cadence is an error.
 */
static void
policy_merge(Jsonb *overrides, Policy *out)
{
	static SPIPlanPtr defaults_plan = NULL;
	int			ret;

	memset(out, 0, sizeof(*out));
	if (overrides != NULL && !JB_ROOT_IS_OBJECT(overrides))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("practice policy must be a JSON object")));

	SPI_connect();
	if (defaults_plan == NULL)
	{
		defaults_plan = SPI_prepare("SELECT key, value, min_value, max_value FROM collect.policy_default", 0, NULL);
		if (defaults_plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(defaults_plan);
	}
	ret = SPI_execute_plan(defaults_plan, NULL, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading collect.policy_default failed: %s", SPI_result_code_string(ret));

	for (uint64 row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tup = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull,
					min_null,
					max_null;
		char	   *key = SPI_getvalue(tup, desc, 1);
		Jsonb	   *dflt = DatumGetJsonbP(SPI_getbinval(tup, desc, 2, &isnull));
		Datum		min_value = SPI_getbinval(tup, desc, 3, &min_null);
		Datum		max_value = SPI_getbinval(tup, desc, 4, &max_null);
		const PolicyField *f = policy_field(key);
		JsonbValue	v;
		JsonbValue	keyv;
		JsonbValue *override = NULL;

		if (f == NULL)
			elog(ERROR, "collect.policy_default has key \"%s\" that the library does not know", key);
		if (overrides != NULL)
		{
			keyv.type = jbvString;
			keyv.val.string.val = key;
			keyv.val.string.len = strlen(key);
			override = findJsonbValueFromContainer(&overrides->root, JB_FOBJECT, &keyv);
		}
		if (override != NULL)
		{
			check_bounds(key, override, min_value, min_null, max_value, max_null);
			policy_apply(out, f, override);
		}
		else
		{
			if (JB_ROOT_IS_SCALAR(dflt))
				JsonbExtractScalar(&dflt->root, &v);
			else
			{
				v.type = jbvBinary;
				v.val.binary.data = &dflt->root;
				v.val.binary.len = VARSIZE(dflt) - VARHDRSZ;
			}
			policy_apply(out, f, &v);
		}
	}
	SPI_finish();

	/* keys the defaults table does not list */
	if (overrides != NULL)
	{
		JsonbIterator *it = JsonbIteratorInit(&overrides->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_KEY && policy_field(json_string(&v)) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown policy key \"%s\"", json_string(&v)),
						 errhint("The keys are listed in collect.policy_default.")));
	}
	if (out->contact_hour_start >= out->contact_hour_end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("policy contact hours are empty: contact_hour_start %d is not before contact_hour_end %d",
						out->contact_hour_start, out->contact_hour_end)));
}

void
policy_validate(Jsonb *policy)
{
	Policy		scratch;

	policy_merge(policy, &scratch);
}

/* Load a practice's merged policy; the practice must exist. */
void
policy_load(const char *practice_id, Policy *out)
{
	static SPIPlanPtr practice_plan = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Jsonb	   *overrides;
	bool		isnull;
	MemoryContext caller = CurrentMemoryContext;

	SPI_connect();
	if (practice_plan == NULL)
	{
		practice_plan = SPI_prepare("SELECT policy FROM collect.practice WHERE practice_id = $1", 1, argtypes);
		if (practice_plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(practice_plan);
	}
	args[0] = CStringGetTextDatum(practice_id);
	if (SPI_execute_plan(practice_plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading collect.practice failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("unknown practice \"%s\"", practice_id)));
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		overrides = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	policy_merge(overrides, out);
}
