/*
 * plan.c: quotes and plans: collect.quote_plan, create_plan, approve_plan,
 * cancel_plan and request_plan. Reads the balance and the policy, applies
 * the pure rules of plan_quote.c, writes collect.plan and
 * collect.installment, the account state, the approval task and the
 * confirmation message. Never the network; never the wall clock (as_of).
 */
#include "collect.h"

#include "utils/json.h"

#include "dunning.h"
#include "outreach.h"
#include "plan.h"
#include "plan_internal.h"

PG_FUNCTION_INFO_V1(quote_plan);
PG_FUNCTION_INFO_V1(create_plan);
PG_FUNCTION_INFO_V1(approve_plan);
PG_FUNCTION_INFO_V1(cancel_plan);
PG_FUNCTION_INFO_V1(request_plan);
PG_FUNCTION_INFO_V1(offer_plan);

SPIPlanPtr
plan_prepare(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *types)
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

int
plan_exec(SPIPlanPtr plan, Datum *args, const char *nulls, bool read_only, long count)
{
	/* never read_only: each statement must see the writes made before it in this call */
	int			ret = SPI_execute_plan(plan, args, nulls, false, count);

	(void) read_only;

	if (ret < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	return ret;
}

/* text column of the current SPI result, palloc'd in the caller's context */
char *
plan_getstr(int row, int col, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v == NULL ? NULL : MemoryContextStrdup(cxt, v);
}

Datum
plan_getdatum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/*
 * The leading (practice_id, patient_id, id) columns of every row of the
 * current SPI result, copied into cxt: how a plan pass lists its due work
 * before acting on each item outside the query's SPI connection.
 */
int
plan_due_rows(MemoryContext cxt, char ***practice, char ***patient, int64 **ids)
{
	int			n = (int) SPI_processed;

	*practice = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
	*patient = MemoryContextAlloc(cxt, sizeof(char *) * Max(n, 1));
	*ids = MemoryContextAlloc(cxt, sizeof(int64) * Max(n, 1));
	for (int r = 0; r < n; r++)
	{
		bool		isnull;

		(*practice)[r] = plan_getstr(r, 1, cxt);
		(*patient)[r] = plan_getstr(r, 2, cxt);
		(*ids)[r] = DatumGetInt64(plan_getdatum(r, 3, &isnull));
	}
	return n;
}

pg_tz *
plan_practice_tz(const char *practice_id)
{
	static SPIPlanPtr p = NULL;
	Oid			t[1] = {TEXTOID};
	Datum		a[1] = {CStringGetTextDatum(practice_id)};
	pg_tz	   *tz;

	SPI_connect();
	plan_exec(plan_prepare(&p, "SELECT timezone FROM collect.practice WHERE practice_id = $1", 1, t),
			  a, NULL, true, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("unknown practice \"%s\"", practice_id)));
	tz = timezone_lookup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_finish();
	if (tz == NULL)
		elog(ERROR, "practice \"%s\" has an invalid time zone", practice_id);
	return tz;
}

/*
 * Lock order, everywhere a plan is changed: the account row first, then
 * the plan, then its installments, the same order as a ledger insert
 * (the account upkeep trigger, then the plan flag trigger), so concurrent
 * postings, ticks, provider answers and staff actions never deadlock.
 */
void
plan_lock_account(const char *practice_id, const char *patient_id)
{
	static SPIPlanPtr p = NULL;
	Oid			t[2] = {TEXTOID, TEXTOID};
	Datum		a[2] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id)};

	SPI_connect();
	plan_exec(plan_prepare(&p, "SELECT 1 FROM collect.account WHERE practice_id = $1 AND patient_id = $2 FOR UPDATE",
						   2, t), a, NULL, false, 1);
	SPI_finish();
}

/* The patient's balance (0 without an account), last payment and its time */
void
plan_account_facts(const char *practice_id, const char *patient_id, Cents *balance,
				   Cents *last_payment, TimestampTz *last_payment_at)
{
	static SPIPlanPtr p = NULL;
	Oid			t[2] = {TEXTOID, TEXTOID};
	Datum		a[2] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id)};
	bool		isnull;

	SPI_connect();
	plan_exec(plan_prepare(&p, "SELECT balance, last_payment_amount, last_payment_at FROM collect.account"
						   " WHERE practice_id = $1 AND patient_id = $2", 2, t), a, NULL, true, 1);
	*balance = 0;
	*last_payment = 0;
	*last_payment_at = DT_NOBEGIN;
	if (SPI_processed == 1)
	{
		Datum		d;

		*balance = numeric_to_cents(plan_getdatum(0, 1, &isnull));
		d = plan_getdatum(0, 2, &isnull);
		if (!isnull)
			*last_payment = numeric_to_cents(d);
		d = plan_getdatum(0, 3, &isnull);
		if (!isnull)
			*last_payment_at = DatumGetTimestampTz(d);
	}
	SPI_finish();
}

/*
 * The quote: count, split and due dates. installments <= 0 takes the
 * policy's tier count; first_due_given anchors the dates on first_due.
 */
void
plan_build_quote(const Policy *policy, Cents total, int installments, DateADT today,
				 DateADT first_due, bool first_due_given, PlanQuote *q)
{
	int			n = installments > 0 ? installments : plan_installment_count(policy, total);

	if (n < 1 || n > PLAN_MAX_INSTALLMENTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("installments must be between 1 and %d, got %d", PLAN_MAX_INSTALLMENTS, n)));
	if (total <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no balance to put on a plan"),
				 errdetail("The balance is %s.", cents_to_dollars(total))));
	if (first_due_given)
	{
		int			y,
					m,
					d;

		if (first_due < today)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("first_due must not be before today's date in the practice's time zone")));
		j2date(first_due + POSTGRES_EPOCH_JDATE, &y, &m, &d);
		q->first_due = first_due;
		q->anchor_day = d;
	}
	else
	{
		q->first_due = plan_first_due(today, policy->plan_day_of_month, policy->plan_reminder_days_before);
		q->anchor_day = policy->plan_day_of_month;
	}
	q->total = total;
	q->n = plan_split(total, n, q->amounts);
	for (int k = 0; k < q->n; k++)
		q->due[k] = plan_due_date(q->first_due, q->anchor_day, k);
}

/* ---- SQL argument checks shared by the entry points ---- */

static char *
arg_text(FunctionCallInfo fcinfo, int i, const char *name)
{
	if (PG_ARGISNULL(i))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

static TimestampTz
arg_as_of(FunctionCallInfo fcinfo, int i)
{
	if (PG_ARGISNULL(i))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("as_of must not be null")));
	return PG_GETARG_TIMESTAMPTZ(i);
}

/* an installment count argument: 0 when NULL (the policy decides) */
static int
arg_installments(FunctionCallInfo fcinfo, int i)
{
	int			n;

	if (PG_ARGISNULL(i))
		return 0;
	n = PG_GETARG_INT32(i);
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("installments must be between 1 and %d, got %d", PLAN_MAX_INSTALLMENTS, n)));
	return n;
}

/* The quote for the patient's balance at as_of; *today is as_of's local date */
static void
quote_for_patient(const char *practice_id, const char *patient_id, int installments, TimestampTz as_of,
				  PlanQuote *q, DateADT *today)
{
	Policy		policy;
	pg_tz	   *tz;
	Cents		balance,
				last_payment;
	TimestampTz last_payment_at;

	policy_load(practice_id, &policy);
	tz = plan_practice_tz(practice_id);
	plan_account_facts(practice_id, patient_id, &balance, &last_payment, &last_payment_at);
	*today = local_date(as_of, tz);
	plan_build_quote(&policy, balance, installments, *today, 0, false, q);
}

/* collect.quote_plan(practice_id, patient_id, installments, as_of) */
Datum
quote_plan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *practice_id = arg_text(fcinfo, 0, "practice_id");
	char	   *patient_id = arg_text(fcinfo, 1, "patient_id");
	int			installments = arg_installments(fcinfo, 2);
	TimestampTz as_of = arg_as_of(fcinfo, 3);
	PlanQuote	q;
	DateADT		today;

	quote_for_patient(practice_id, patient_id, installments, as_of, &q, &today);
	InitMaterializedSRF(fcinfo, 0);
	for (int k = 0; k < q.n; k++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int32GetDatum(k + 1);
		values[1] = DateADTGetDatum(q.due[k]);
		values[2] = cents_to_numeric(q.amounts[k]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* No missed installment and no reversal in the 12 months before as_of */
static bool
clean_history(const char *practice_id, const char *patient_id, TimestampTz as_of)
{
	static SPIPlanPtr p = NULL;
	Oid			t[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		a[3] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id),
	TimestampTzGetDatum(as_of)};
	bool		clean,
				isnull;

	SPI_connect();
	plan_exec(plan_prepare(&p,
						   "SELECT NOT EXISTS (SELECT 1 FROM collect.plan p WHERE p.practice_id = $1 AND p.patient_id = $2"
						   "                    AND EXISTS (SELECT 1 FROM collect.installment i"
						   "                                 WHERE i.practice_id = p.practice_id AND i.plan_id = p.plan_id"
						   "                                   AND i.missed_at > $3 - interval '" CppAsString2(PLAN_CLEAN_HISTORY_MONTHS) " months'"
						   "                                   AND i.missed_at <= $3))"
						   "   AND NOT EXISTS (SELECT 1 FROM collect.ledger l"
						   "                    WHERE l.practice_id = $1 AND l.patient_id = $2 AND l.kind = 'reversal'"
						   "                      AND l.posted_at > $3 - interval '" CppAsString2(PLAN_CLEAN_HISTORY_MONTHS) " months'"
						   "                      AND l.posted_at <= $3)", 3, t), a, NULL, true, 1);
	clean = DatumGetBool(plan_getdatum(0, 1, &isnull));
	SPI_finish();
	return clean;
}

/* {"k": "v", ...} from pairs of C strings (NULL-terminated list) */
Jsonb *
plan_vars(const char *first,...)
{
	StringInfoData buf;
	va_list		ap;
	const char *k;
	bool		sep = false;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	va_start(ap, first);
	for (k = first; k != NULL; k = va_arg(ap, const char *))
	{
		const char *v = va_arg(ap, const char *);

		if (sep)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, k);
		appendStringInfoChar(&buf, ':');
		escape_json(&buf, v ? v : "");
		sep = true;
	}
	va_end(ap);
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * The channel for a plan message: SMS with consent and a phone, else
 * e-mail with consent and an address, else NULL (no automated message;
 * staff see the plan in the task list). outreach_enqueue applies the
 * opt-outs, holds and quiet hours on top.
 */
const char *
plan_message_channel(const char *practice_id, const char *patient_id, char **language)
{
	static SPIPlanPtr p = NULL;
	Oid			t[2] = {TEXTOID, TEXTOID};
	Datum		a[2] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id)};
	const char *channel = NULL;
	MemoryContext cxt = CurrentMemoryContext;

	*language = "en";
	SPI_connect();
	plan_exec(plan_prepare(&p, "SELECT CASE WHEN sms_consent AND phone IS NOT NULL THEN 'sms'"
						   " WHEN email_consent AND email IS NOT NULL THEN 'email' END, language"
						   " FROM collect.patient WHERE practice_id = $1 AND patient_id = $2", 2, t),
			  a, NULL, true, 1);
	if (SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (v != NULL)
			channel = strcmp(v, "sms") == 0 ? "sms" : "email";
		*language = plan_getstr(0, 2, cxt);
	}
	SPI_finish();
	return channel;
}

/*
 * Queue a plan message on the patient's channel; date (unless
 * DATEVAL_NOBEGIN) becomes {{due_date}}, written in the patient's language.
 */
int64
plan_notify(const char *practice_id, const char *patient_id, const char *step,
			const char *template_name, Jsonb *vars, DateADT date, TimestampTz not_before, TimestampTz as_of)
{
	char	   *language;
	const char *channel = plan_message_channel(practice_id, patient_id, &language);

	if (channel == NULL)
		return 0;
	if (date != DATEVAL_NOBEGIN)
	{
		Jsonb	   *d = plan_vars("due_date", format_local_date(date, language), NULL);

		vars = vars == NULL ? d : DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(vars),
																	 JsonbPGetDatum(d)));
	}
	return outreach_enqueue(practice_id, patient_id, channel, step, template_name, vars, not_before, as_of);
}

/* Account state while a plan is active: on_plan, no cadence action pending */
void
plan_set_account_state(const char *practice_id, const char *patient_id, const char *state,
					   TimestampTz next_action, int cadence_step_at_least)
{
	static SPIPlanPtr p = NULL;
	Oid			t[5] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID};
	Datum		a[5] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id),
	CStringGetTextDatum(state), TimestampTzGetDatum(next_action), Int32GetDatum(cadence_step_at_least)};
	char		nulls[5] = {' ', ' ', ' ', next_action == DT_NOBEGIN ? 'n' : ' ', ' '};

	SPI_connect();
	plan_exec(plan_prepare(&p, "UPDATE collect.account SET state = $3, next_action_at = $4,"
						   " cadence_step = GREATEST(cadence_step, $5)"
						   " WHERE practice_id = $1 AND patient_id = $2 AND balance > 0", 5, t),
			  a, nulls, false, 0);
	SPI_finish();
}

/* A plan became active: the account leaves the cadence, the patient hears the terms */
static void
plan_activated(const char *practice_id, const char *patient_id, int64 plan_id, TimestampTz as_of)
{
	static SPIPlanPtr p = NULL;
	Oid			t[2] = {TEXTOID, INT8OID};
	Datum		a[2] = {CStringGetTextDatum(practice_id), Int64GetDatum(plan_id)};
	char	   *total,
			   *n,
			   *first_amount;
	DateADT		first_due;
	MemoryContext cxt = CurrentMemoryContext;

	plan_set_account_state(practice_id, patient_id, "on_plan", DT_NOBEGIN, 0);

	SPI_connect();
	plan_exec(plan_prepare(&p, "SELECT p.total, p.installments, i.amount, i.due_date"
						   " FROM collect.plan p JOIN collect.installment i USING (practice_id, plan_id)"
						   " WHERE p.practice_id = $1 AND p.plan_id = $2 AND i.seq = 1", 2, t), a, NULL, true, 1);
	if (SPI_processed != 1)
		elog(ERROR, "plan " INT64_FORMAT " has no first installment", plan_id);
	{
		bool		isnull;

		total = MemoryContextStrdup(cxt, cents_to_dollars(numeric_to_cents(plan_getdatum(0, 1, &isnull))));
		n = plan_getstr(0, 2, cxt);
		first_amount = MemoryContextStrdup(cxt, cents_to_dollars(numeric_to_cents(plan_getdatum(0, 3, &isnull))));
		first_due = DatumGetDateADT(plan_getdatum(0, 4, &isnull));
	}
	SPI_finish();
	plan_notify(practice_id, patient_id, psprintf("notice:plan:" INT64_FORMAT ":confirmation", plan_id),
				"plan_confirmation",
				plan_vars("plan_total", total, "installments", n, "installment_amount", first_amount, NULL),
				first_due, as_of, as_of);
}

int64
plan_create(const char *practice_id, const char *patient_id, int installments, DateADT first_due,
			bool first_due_given, const char *source, const char *approver, TimestampTz as_of)
{
	static SPIPlanPtr live = NULL,
				ins_plan = NULL,
				ins_inst = NULL;
	Oid			t_live[2] = {TEXTOID, TEXTOID};
	Oid			t_plan[11] = {TEXTOID, TEXTOID, NUMERICOID, INT4OID, TEXTOID, TEXTOID, TIMESTAMPTZOID,
	DATEOID, INT4OID, TEXTOID, TEXTOID};
	Oid			t_inst[5] = {TEXTOID, INT8OID, INT4OID, DATEOID, NUMERICOID};
	Policy		policy;
	pg_tz	   *tz;
	Cents		balance,
				last_payment;
	TimestampTz last_payment_at;
	PlanQuote	q;
	const char *reason = NULL;
	int64		plan_id;
	bool		isnull;
	Datum		a[11];
	char		nulls[11];

	plan_lock_account(practice_id, patient_id);
	policy_load(practice_id, &policy);
	tz = plan_practice_tz(practice_id);
	plan_account_facts(practice_id, patient_id, &balance, &last_payment, &last_payment_at);
	plan_build_quote(&policy, balance, installments, local_date(as_of, tz), first_due, first_due_given, &q);
	if (approver == NULL)
		reason = plan_approval_reason(&policy, q.total, q.n, clean_history(practice_id, patient_id, as_of));

	SPI_connect();
	a[0] = CStringGetTextDatum(practice_id);
	a[1] = CStringGetTextDatum(patient_id);
	plan_exec(plan_prepare(&live, "SELECT plan_id FROM collect.plan WHERE practice_id = $1 AND patient_id = $2"
						   " AND status IN ('pending_approval', 'active') FOR UPDATE", 2, t_live), a, NULL, false, 1);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("patient \"%s\" already has a live plan", patient_id),
				 errdetail("Plan %s is %s.", SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						   "pending approval or active"),
				 errhint("Cancel it with collect.cancel_plan() first.")));

	memset(nulls, ' ', sizeof(nulls));
	a[2] = cents_to_numeric(q.total);
	a[3] = Int32GetDatum(q.n);
	a[4] = CStringGetTextDatum(reason == NULL ? "active" : "pending_approval");
	a[5] = approver ? CStringGetTextDatum(approver) : (Datum) 0;
	nulls[5] = approver ? ' ' : 'n';
	a[6] = TimestampTzGetDatum(as_of);
	a[7] = DateADTGetDatum(q.first_due);
	a[8] = Int32GetDatum(q.anchor_day);
	a[9] = CStringGetTextDatum(source);
	a[10] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[10] = reason ? ' ' : 'n';
	plan_exec(plan_prepare(&ins_plan,
						   "INSERT INTO collect.plan (practice_id, patient_id, total, installments, status, approved_by,"
						   "  created_at, credit_from, first_due, anchor_day, approved_at, source, approval_note)"
						   " VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, CASE WHEN $5 = 'active' THEN $7 END, $10, $11)"
						   " RETURNING plan_id", 11, t_plan), a, nulls, false, 1);
	plan_id = DatumGetInt64(plan_getdatum(0, 1, &isnull));

	for (int k = 0; k < q.n; k++)
	{
		Datum		ia[5] = {a[0], Int64GetDatum(plan_id), Int32GetDatum(k + 1), DateADTGetDatum(q.due[k]),
		cents_to_numeric(q.amounts[k])};

		plan_exec(plan_prepare(&ins_inst, "INSERT INTO collect.installment (practice_id, plan_id, seq, due_date, amount)"
							   " VALUES ($1, $2, $3, $4, $5)", 5, t_inst), ia, NULL, false, 0);
	}
	SPI_finish();

	audit_record(practice_id, patient_id, as_of, approver ? approver : "collect", "plan_created",
				 psprintf("plan:" INT64_FORMAT, plan_id),
				 reason ? psprintf("needs approval: %s", reason) : "approved within the auto-approval limits",
				 plan_vars("total", cents_to_cstring(q.total), "installments", psprintf("%d", q.n),
						   "source", source, NULL));
	if (reason == NULL)
		plan_activated(practice_id, patient_id, plan_id, as_of);
	else
	{
		char	   *summary = task_summary(practice_id, patient_id,
										   psprintf("approving or changing the plan of %d payments for %s (plan %lld): %s",
													q.n, cents_to_dollars(q.total), (long long) plan_id, reason),
										   as_of);

		task_open(practice_id, patient_id, "plan_approval", summary,
				  as_of + USECS_PER_DAY, as_of);
	}
	return plan_id;
}

/* collect.create_plan(practice_id, patient_id, installments, first_due, as_of) */
Datum
create_plan(PG_FUNCTION_ARGS)
{
	char	   *practice_id = arg_text(fcinfo, 0, "practice_id");
	char	   *patient_id = arg_text(fcinfo, 1, "patient_id");
	int			installments = arg_installments(fcinfo, 2);
	TimestampTz as_of = arg_as_of(fcinfo, 4);

	PG_RETURN_INT64(plan_create(practice_id, patient_id, installments,
								PG_ARGISNULL(3) ? 0 : PG_GETARG_DATEADT(3), !PG_ARGISNULL(3),
								"staff", NULL, as_of));
}

/* Lock a plan by id; its practice, patient and status */
static void
plan_lock(int64 plan_id, char **practice_id, char **patient_id, char **status)
{
	static SPIPlanPtr p = NULL;
	Oid			t[1] = {INT8OID};
	Datum		a[1] = {Int64GetDatum(plan_id)};
	MemoryContext cxt = CurrentMemoryContext;

	static SPIPlanPtr locked = NULL;

	SPI_connect();
	plan_exec(plan_prepare(&p, "SELECT practice_id, patient_id FROM collect.plan WHERE plan_id = $1", 1, t),
			  a, NULL, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("plan " INT64_FORMAT " does not exist", plan_id)));
	*practice_id = plan_getstr(0, 1, cxt);
	*patient_id = plan_getstr(0, 2, cxt);
	SPI_finish();
	plan_lock_account(*practice_id, *patient_id);
	SPI_connect();
	plan_exec(plan_prepare(&locked, "SELECT status FROM collect.plan WHERE plan_id = $1 FOR UPDATE", 1, t),
			  a, NULL, false, 1);
	*status = plan_getstr(0, 1, cxt);
	SPI_finish();
}

/*
 * A plan approved after its first due date came too close (the reminder
 * day has passed) moves its due dates: the same anchor day, from the first
 * one at least plan_reminder_days_before + 1 days after the approval. The
 * amounts do not change.
 */
static void
plan_redate(const char *practice_id, int64 plan_id, TimestampTz as_of)
{
	static SPIPlanPtr get = NULL,
				set = NULL;
	Oid			tg[2] = {TEXTOID, INT8OID};
	Oid			ts[4] = {TEXTOID, INT8OID, INT4OID, DATEOID};
	Datum		a[2] = {CStringGetTextDatum(practice_id), Int64GetDatum(plan_id)};
	Policy		policy;
	pg_tz	   *tz = plan_practice_tz(practice_id);
	DateADT		today = local_date(as_of, tz),
				first_due,
				new_first;
	int			anchor,
				n;
	bool		isnull;

	policy_load(practice_id, &policy);
	SPI_connect();
	plan_exec(plan_prepare(&get, "SELECT first_due, anchor_day, installments FROM collect.plan"
						   " WHERE practice_id = $1 AND plan_id = $2", 2, tg), a, NULL, true, 1);
	first_due = DatumGetDateADT(plan_getdatum(0, 1, &isnull));
	anchor = DatumGetInt32(plan_getdatum(0, 2, &isnull));
	n = DatumGetInt32(plan_getdatum(0, 3, &isnull));
	if (first_due <= today + policy.plan_reminder_days_before)
	{
		new_first = plan_first_due(today, anchor, policy.plan_reminder_days_before);
		for (int k = 0; k < n; k++)
		{
			Datum		sa[4] = {a[0], a[1], Int32GetDatum(k + 1), DateADTGetDatum(plan_due_date(new_first, anchor, k))};

			plan_exec(plan_prepare(&set, "UPDATE collect.installment SET due_date = $4"
								   " WHERE practice_id = $1 AND plan_id = $2 AND seq = $3", 4, ts), sa, NULL, false, 0);
		}
		{
			static SPIPlanPtr upd = NULL;
			Oid			tu[3] = {TEXTOID, INT8OID, DATEOID};
			Datum		ua[3] = {a[0], a[1], DateADTGetDatum(new_first)};

			plan_exec(plan_prepare(&upd, "UPDATE collect.plan SET first_due = $3 WHERE practice_id = $1 AND plan_id = $2",
								   3, tu), ua, NULL, false, 0);
		}
	}
	SPI_finish();
}

/* collect.approve_plan(plan_id, approver, as_of) */
Datum
approve_plan(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr upd = NULL,
				close_task = NULL;
	Oid			t[3] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	Oid			tt[4] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	int64		plan_id;
	char	   *approver,
			   *practice_id,
			   *patient_id,
			   *status;
	TimestampTz as_of;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("plan_id and as_of must not be null")));
	plan_id = PG_GETARG_INT64(0);
	approver = arg_text(fcinfo, 1, "approver");
	as_of = PG_GETARG_TIMESTAMPTZ(2);
	if (approver[0] == '\0')
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("approver must not be empty")));

	plan_lock(plan_id, &practice_id, &patient_id, &status);
	if (strcmp(status, "pending_approval") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("plan " INT64_FORMAT " is %s, not pending_approval", plan_id, status)));
	SPI_connect();
	{
		Datum		a[3] = {Int64GetDatum(plan_id), CStringGetTextDatum(approver), TimestampTzGetDatum(as_of)};
		Datum		ta[4] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id),
		CStringGetTextDatum(approver), TimestampTzGetDatum(as_of)};

		plan_exec(plan_prepare(&upd, "UPDATE collect.plan SET status = 'active', approved_by = $2, approved_at = $3,"
							   " credit_from = LEAST(credit_from, $3), settle_pending = true WHERE plan_id = $1", 3, t), a, NULL, false, 0);
		plan_exec(plan_prepare(&close_task, "UPDATE collect.task SET status = 'done', closed_by = $3, closed_at = $4"
							   " WHERE practice_id = $1 AND patient_id = $2 AND kind = 'plan_approval' AND status = 'open'",
							   4, tt), ta, NULL, false, 0);
	}
	SPI_finish();
	plan_redate(practice_id, plan_id, as_of);
	audit_record(practice_id, patient_id, as_of, approver, "plan_approved",
				 psprintf("plan:" INT64_FORMAT, plan_id), "approved by staff", NULL);
	plan_activated(practice_id, patient_id, plan_id, as_of);
	PG_RETURN_VOID();
}

/*
 * Cancel the queued messages and charges of a plan (steps "plan:<id>:...");
 * a charge already tried is left to the worker (OUTBOX_CANCELLABLE).
 */
void
plan_cancel_outbox(const char *practice_id, const char *patient_id, int64 plan_id, int seq, const char *why)
{
	static SPIPlanPtr p = NULL;
	Oid			t[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	/* "plan:<id>:..." and "notice:plan:<id>:..." (the confirmation) */
	char	   *prefix = seq > 0 ? psprintf("%%plan:" INT64_FORMAT ":%d:%%", plan_id, seq)
		: psprintf("%%plan:" INT64_FORMAT ":%%", plan_id);
	Datum		a[4] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id),
	CStringGetTextDatum(prefix), CStringGetTextDatum(why)};

	SPI_connect();
	plan_exec(plan_prepare(&p, "UPDATE collect.outbox SET status = 'cancelled', last_error = $4"
						   " WHERE practice_id = $1 AND patient_id = $2 AND status = 'queued' AND step LIKE $3"
						   " AND " OUTBOX_CANCELLABLE,
						   4, t), a, NULL, false, 0);
	SPI_finish();
}

/* collect.cancel_plan(plan_id, actor, as_of) */
Datum
cancel_plan(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr upd = NULL;
	Oid			t[2] = {INT8OID, TIMESTAMPTZOID};
	int64		plan_id;
	char	   *actor,
			   *practice_id,
			   *patient_id,
			   *status;
	TimestampTz as_of;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("plan_id and as_of must not be null")));
	plan_id = PG_GETARG_INT64(0);
	actor = arg_text(fcinfo, 1, "actor");
	as_of = PG_GETARG_TIMESTAMPTZ(2);
	plan_lock(plan_id, &practice_id, &patient_id, &status);
	if (strcmp(status, "pending_approval") != 0 && strcmp(status, "active") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("plan " INT64_FORMAT " is %s and cannot be cancelled", plan_id, status)));
	SPI_connect();
	{
		Datum		a[2] = {Int64GetDatum(plan_id), TimestampTzGetDatum(as_of)};

		plan_exec(plan_prepare(&upd, "UPDATE collect.plan SET status = 'cancelled', ended_at = $2 WHERE plan_id = $1",
							   2, t), a, NULL, false, 0);
	}
	SPI_finish();
	plan_cancel_outbox(practice_id, patient_id, plan_id, 0, "cancelled: plan cancelled");
	if (strcmp(status, "active") == 0)
		plan_set_account_state(practice_id, patient_id, "in_cadence", as_of, 0);
	audit_record(practice_id, patient_id, as_of, actor, "plan_cancelled",
				 psprintf("plan:" INT64_FORMAT, plan_id), "cancelled by staff", NULL);
	PG_RETURN_VOID();
}

int64
plan_request(const char *practice_id, const char *patient_id, int installments, TimestampTz as_of)
{
	static SPIPlanPtr live = NULL;
	Oid			t[2] = {TEXTOID, TEXTOID};
	Datum		a[2] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id)};
	int64		existing = 0;
	Cents		balance,
				last_payment;
	TimestampTz last_payment_at;
	const char *source = "request";

	SPI_connect();
	plan_exec(plan_prepare(&live, "SELECT plan_id FROM collect.plan WHERE practice_id = $1 AND patient_id = $2"
						   " AND status IN ('pending_approval', 'active')", 2, t), a, NULL, true, 1);
	if (SPI_processed == 1)
	{
		bool		isnull;

		existing = DatumGetInt64(plan_getdatum(0, 1, &isnull));
	}
	SPI_finish();
	if (existing != 0)
		return existing;

	plan_account_facts(practice_id, patient_id, &balance, &last_payment, &last_payment_at);
	if (installments <= 0 && balance > 0 && last_payment > 0 && last_payment_at != DT_NOBEGIN &&
		last_payment_at <= as_of && as_of - last_payment_at <= 30 * USECS_PER_DAY)
	{
		Policy		policy;

		/* the partial payment was the first of the original balance's plan */
		policy_load(practice_id, &policy);
		installments = Max(1, plan_installment_count(&policy, balance + last_payment) - 1);
		source = "partial";
	}
	return plan_create(practice_id, patient_id, installments, 0, false, source, NULL, as_of);
}

/* collect.request_plan(practice_id, patient_id, installments, as_of) */
Datum
request_plan(PG_FUNCTION_ARGS)
{
	char	   *practice_id = arg_text(fcinfo, 0, "practice_id");
	char	   *patient_id = arg_text(fcinfo, 1, "patient_id");
	int			installments = arg_installments(fcinfo, 2);

	PG_RETURN_INT64(plan_request(practice_id, patient_id, installments, arg_as_of(fcinfo, 3)));
}

/*
 * Cancel the patient's live plan, if any (a hardship decision replaces
 * it); returns how many installments were left unpaid, 0 without a plan.
 */
int
plan_cancel_live(const char *practice_id, const char *patient_id, TimestampTz as_of, const char *why)
{
	static SPIPlanPtr p = NULL;
	Oid			t[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		a[3] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id), TimestampTzGetDatum(as_of)};
	int64		plan_id = 0;
	int			left = 0;
	bool		isnull;

	SPI_connect();
	plan_exec(plan_prepare(&p, "UPDATE collect.plan p SET status = 'cancelled', ended_at = $3"
						   " WHERE practice_id = $1 AND patient_id = $2 AND status IN ('pending_approval', 'active')"
						   " RETURNING plan_id, (SELECT count(*) FROM collect.installment i WHERE i.practice_id = p.practice_id"
						   "   AND i.plan_id = p.plan_id AND i.status IN ('due', 'failed'))::int", 3, t), a, NULL, false, 0);
	if (SPI_processed == 1)
	{
		plan_id = DatumGetInt64(plan_getdatum(0, 1, &isnull));
		left = DatumGetInt32(plan_getdatum(0, 2, &isnull));
	}
	SPI_finish();
	if (plan_id != 0)
	{
		plan_cancel_outbox(practice_id, patient_id, plan_id, 0, psprintf("cancelled: %s", why));
		audit_record(practice_id, patient_id, as_of, "collect", "plan_cancelled",
					 psprintf("plan:" INT64_FORMAT, plan_id), why, NULL);
	}
	return left;
}

/*
 * collect.offer_plan(practice_id, patient_id, installments, as_of): the
 * quote sent as a plan_offer message (step "plan_offer:<local date>", one
 * a day at most); a "yes" or "PLAN" reply then creates the plan. Returns
 * the message_id, or 0 when no channel or rule allowed it.
 */
Datum
offer_plan(PG_FUNCTION_ARGS)
{
	char	   *practice_id = arg_text(fcinfo, 0, "practice_id");
	char	   *patient_id = arg_text(fcinfo, 1, "patient_id");
	int			installments = arg_installments(fcinfo, 2);
	TimestampTz as_of = arg_as_of(fcinfo, 3);
	PlanQuote	q;
	DateADT		today;

	quote_for_patient(practice_id, patient_id, installments, as_of, &q, &today);
	PG_RETURN_INT64(plan_notify(practice_id, patient_id,
								psprintf("plan_offer:%s", DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(today)))),
								"plan_offer",
								plan_vars("plan_total", cents_to_dollars(q.total), "installments", psprintf("%d", q.n),
										  "installment_amount", cents_to_dollars(q.amounts[0]), NULL),
								q.first_due, as_of, as_of));
}
