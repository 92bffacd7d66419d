/*
 * plan_settlement.c: settlement offers. An offer only for balances at
 * least settlement_min_age_days old with documented contact attempts, a
 * discount of at most settlement_max_discount_pct, manager approval above
 * settlement_approval_above; once the patient has paid the settled amount
 * (after accepting, or by paying it), tick posts the discount as an
 * adjustment. Never the network, never the wall clock.
 */
#include "collect.h"

#include "outreach.h"
#include "plan.h"
#include "plan_internal.h"

PG_FUNCTION_INFO_V1(offer_settlement);
PG_FUNCTION_INFO_V1(approve_settlement);
PG_FUNCTION_INFO_V1(accept_settlement);

static void
send_offer(const char *practice_id, const char *patient_id, int64 settlement_id, Cents amount, TimestampTz as_of)
{
	plan_notify(practice_id, patient_id, psprintf("settlement:" INT64_FORMAT ":offer", settlement_id),
				"settlement_offer", plan_vars("amount", cents_to_dollars(amount), NULL), DATEVAL_NOBEGIN,
				as_of, as_of);
}

/* collect.offer_settlement(practice_id, patient_id, discount_pct, as_of) */
Datum
offer_settlement(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr facts = NULL,
				ins = NULL;
	Oid			tf[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Oid			ti[8] = {TEXTOID, TEXTOID, NUMERICOID, INT4OID, NUMERICOID, NUMERICOID, TEXTOID, TIMESTAMPTZOID};
	char	   *practice_id,
			   *patient_id;
	TimestampTz as_of;
	Policy		policy;
	pg_tz	   *tz;
	int			pct,
				age = 0,
				attempts;
	Cents		balance,
				discount;
	bool		isnull,
				has_due,
				needs_approval;
	DateADT		due_since = 0;
	const char *reason;
	int64		settlement_id;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("practice_id, patient_id and as_of must not be null")));
	practice_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	patient_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	as_of = PG_GETARG_TIMESTAMPTZ(3);
	policy_load(practice_id, &policy);
	tz = plan_practice_tz(practice_id);
	pct = PG_ARGISNULL(2) ? policy.settlement_max_discount_pct : PG_GETARG_INT32(2);
	if (pct < 0 || pct > policy.settlement_max_discount_pct)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("settlement discount %d%% is outside 0 to %d%% (settlement_max_discount_pct)",
						pct, policy.settlement_max_discount_pct)));

	SPI_connect();
	{
		Datum		a[3] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id), TimestampTzGetDatum(as_of)};

		plan_exec(plan_prepare(&facts,
							   "SELECT a.balance, a.due_since,"
							   "  (SELECT count(DISTINCT COALESCE('m' || c.message_id, 't' || c.task_id, 'a' || c.attempt_id))::int"
							   "     FROM collect.contact_attempt c WHERE c.practice_id = $1 AND c.patient_id = $2"
							   "      AND c.at <= $3 AND c.outcome NOT IN ('queued', 'cancelled', 'failed'))"
							   " FROM collect.account a WHERE a.practice_id = $1 AND a.patient_id = $2", 3, tf),
				  a, NULL, true, 1);
	}
	if (SPI_processed != 1)
		balance = 0;
	else
		balance = numeric_to_cents(plan_getdatum(0, 1, &isnull));
	if (balance <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("patient \"%s\" has no balance to settle", patient_id)));
	due_since = DatumGetDateADT(plan_getdatum(0, 2, &isnull));
	has_due = !isnull;
	attempts = DatumGetInt32(plan_getdatum(0, 3, &isnull));
	SPI_finish();
	if (has_due)
		age = local_date(as_of, tz) - due_since;

	reason = settlement_block_reason(&policy, age, attempts, pct);
	if (reason != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no settlement offer for patient \"%s\"", patient_id),
				 errdetail("%s", reason)));

	discount = settlement_discount(balance, pct);
	needs_approval = balance > policy.settlement_approval_above;
	SPI_connect();
	{
		Datum		a[8] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id), cents_to_numeric(balance),
			Int32GetDatum(pct), cents_to_numeric(discount), cents_to_numeric(balance - discount),
		CStringGetTextDatum(needs_approval ? "pending_approval" : "offered"), TimestampTzGetDatum(as_of)};

		plan_exec(plan_prepare(&ins, "INSERT INTO collect.settlement (practice_id, patient_id, balance, discount_pct,"
							   " discount, amount, status, offered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
							   " ON CONFLICT (practice_id, patient_id) WHERE status IN ('pending_approval', 'offered', 'accepted')"
							   " DO NOTHING RETURNING settlement_id", 8, ti), a, NULL, false, 1);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("patient \"%s\" already has an open settlement offer", patient_id)));
		settlement_id = DatumGetInt64(plan_getdatum(0, 1, &isnull));
	}
	SPI_finish();

	audit_record(practice_id, patient_id, as_of, "collect", "settlement_offered",
				 psprintf("settlement:" INT64_FORMAT, settlement_id),
				 needs_approval ? psprintf("%s is above %s: needs approval", cents_to_dollars(balance),
										   cents_to_dollars(policy.settlement_approval_above))
				 : "within the settlement limits",
				 plan_vars("balance", cents_to_cstring(balance), "discount_pct", psprintf("%d", pct),
						   "attempts", psprintf("%d", attempts), "age_days", psprintf("%d", age), NULL));
	if (needs_approval)
		task_open(practice_id, patient_id, "settlement_approval",
				  task_summary(practice_id, patient_id,
							   psprintf("approving a settlement of %s for %s (%d%% off, settlement %lld)",
										cents_to_dollars(balance - discount), cents_to_dollars(balance), pct,
										(long long) settlement_id), as_of),
				  as_of + USECS_PER_DAY, as_of);
	else
		send_offer(practice_id, patient_id, settlement_id, balance - discount, as_of);
	PG_RETURN_INT64(settlement_id);
}

/* collect.approve_settlement(settlement_id, approver, as_of) */
Datum
approve_settlement(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr upd = NULL,
				close_task = NULL;
	Oid			t[3] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	Oid			tt[4] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	int64		settlement_id;
	char	   *approver,
			   *practice_id,
			   *patient_id;
	Cents		amount;
	TimestampTz as_of;
	bool		isnull;
	MemoryContext cxt = CurrentMemoryContext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("settlement_id, approver and as_of must not be null")));
	settlement_id = PG_GETARG_INT64(0);
	approver = text_to_cstring(PG_GETARG_TEXT_PP(1));
	as_of = PG_GETARG_TIMESTAMPTZ(2);
	if (approver[0] == '\0')
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("approver must not be empty")));
	SPI_connect();
	{
		Datum		a[3] = {Int64GetDatum(settlement_id), CStringGetTextDatum(approver), TimestampTzGetDatum(as_of)};

		plan_exec(plan_prepare(&upd, "UPDATE collect.settlement SET status = 'offered', approved_by = $2, offered_at = $3"
							   " WHERE settlement_id = $1 AND status = 'pending_approval'"
							   " RETURNING practice_id, patient_id, amount", 3, t), a, NULL, false, 1);
	}
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("settlement " INT64_FORMAT " is not pending approval", settlement_id)));
	practice_id = plan_getstr(0, 1, cxt);
	patient_id = plan_getstr(0, 2, cxt);
	amount = numeric_to_cents(plan_getdatum(0, 3, &isnull));
	{
		Datum		a[4] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id),
		CStringGetTextDatum(approver), TimestampTzGetDatum(as_of)};

		plan_exec(plan_prepare(&close_task, "UPDATE collect.task SET status = 'done', closed_by = $3, closed_at = $4"
							   " WHERE practice_id = $1 AND patient_id = $2 AND kind = 'settlement_approval'"
							   " AND status = 'open'", 4, tt), a, NULL, false, 0);
	}
	SPI_finish();
	audit_record(practice_id, patient_id, as_of, approver, "settlement_approved",
				 psprintf("settlement:" INT64_FORMAT, settlement_id), "approved by staff", NULL);
	send_offer(practice_id, patient_id, settlement_id, amount, as_of);
	PG_RETURN_VOID();
}

/* collect.accept_settlement(practice_id, patient_id, at) */
Datum
accept_settlement(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr upd = NULL;
	Oid			t[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	int64		settlement_id;
	bool		isnull;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("practice_id, patient_id and at must not be null")));
	SPI_connect();
	{
		Datum		a[3] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2)};

		plan_exec(plan_prepare(&upd, "UPDATE collect.settlement SET status = 'accepted', accepted_at = $3"
							   " WHERE practice_id = $1 AND patient_id = $2 AND status = 'offered'"
							   " RETURNING settlement_id", 3, t), a, NULL, false, 1);
	}
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("patient \"%s\" has no settlement offer to accept", text_to_cstring(PG_GETARG_TEXT_PP(1)))));
	settlement_id = DatumGetInt64(plan_getdatum(0, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(settlement_id);
}

/*
 * Offers paid in full (payments minus reversals since the offer reach the
 * settled amount): the discount is posted as an adjustment, at most the
 * balance left, and the settlement is settled. Paying the offer counts as
 * accepting it.
 */
int64
settlement_tick(TimestampTz as_of)
{
	static SPIPlanPtr q = NULL,
				done = NULL;
	Oid			t1[1] = {TIMESTAMPTZOID};
	Oid			t3[3] = {TEXTOID, INT8OID, TIMESTAMPTZOID};
	Datum		a[1] = {TimestampTzGetDatum(as_of)};
	MemoryContext cxt = CurrentMemoryContext;
	int			n;
	char	  **practice,
			  **patient;
	int64	   *ids;
	Cents	   *post;
	int64		actions = 0;

	SPI_connect();
	plan_exec(plan_prepare(&q,
						   "SELECT s.practice_id, s.patient_id, s.settlement_id, LEAST(s.discount, GREATEST(a.balance, 0))"
						   " FROM collect.settlement s JOIN collect.account a USING (practice_id, patient_id)"
						   " WHERE s.status IN ('offered', 'accepted') AND s.offered_at <= $1"
						   "   AND COALESCE((SELECT sum(CASE WHEN l.kind = 'payment' THEN l.amount ELSE -l.amount END)"
						   "        FROM collect.ledger l WHERE l.practice_id = s.practice_id AND l.patient_id = s.patient_id"
						   "         AND l.kind IN ('payment', 'reversal') AND l.posted_at >= s.offered_at"
						   "         AND l.posted_at <= $1), 0) >= s.amount"
						   " ORDER BY s.practice_id, s.settlement_id", 1, t1), a, NULL, true, 0);
	n = plan_due_rows(cxt, &practice, &patient, &ids);
	post = MemoryContextAlloc(cxt, sizeof(Cents) * Max(n, 1));
	for (int r = 0; r < n; r++)
	{
		bool		isnull;

		post[r] = numeric_to_cents(plan_getdatum(r, 4, &isnull));
	}
	SPI_finish();

	for (int r = 0; r < n; r++)
	{
		CHECK_FOR_INTERRUPTS();
		if (post[r] > 0)
			plan_post_ledger(practice[r], patient[r], psprintf("settlement:" INT64_FORMAT, ids[r]), "adjustment",
							 post[r], as_of, "settlement",
							 psprintf("settlement discount (settlement " INT64_FORMAT ")", ids[r]));
		SPI_connect();
		{
			Datum		da[3] = {CStringGetTextDatum(practice[r]), Int64GetDatum(ids[r]), TimestampTzGetDatum(as_of)};

			plan_exec(plan_prepare(&done, "UPDATE collect.settlement SET status = 'settled', settled_at = $3,"
								   " accepted_at = COALESCE(accepted_at, $3)"
								   " WHERE practice_id = $1 AND settlement_id = $2", 3, t3), da, NULL, false, 0);
		}
		SPI_finish();
		audit_record(practice[r], patient[r], as_of, "collect", "settlement_settled",
					 psprintf("settlement:" INT64_FORMAT, ids[r]),
					 psprintf("settled amount paid; discount %s posted", cents_to_dollars(post[r])), NULL);
		actions++;
	}
	return actions;
}
