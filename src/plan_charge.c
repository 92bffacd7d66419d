/*
 * plan_charge.c: autopay. Queues a 'charge' outbox row for an installment
 * (the worker turns its payload into a Stripe PaymentIntent) and takes the
 * provider's answer back through collect.record_charge_result: a success
 * posts a `payment` ledger row and marks the installment paid; a failure
 * schedules the retry after payment_retry_after_hours, and once the
 * retries are spent, a payment_failed task and a gentle message. Never
 * the network (the worker sends), never the wall clock.
 */
#include "collect.h"

#include "outreach.h"
#include "plan.h"
#include "plan_internal.h"

PG_FUNCTION_INFO_V1(record_charge_result);

/* Post a ledger row; false when the same external_id was posted before (identical repost) */
bool
plan_post_ledger(const char *practice_id, const char *patient_id, const char *external_id,
				 const char *kind, Cents amount, TimestampTz posted_at, const char *method, const char *note)
{
	static SPIPlanPtr p = NULL;
	Oid			t[8] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID, TIMESTAMPTZOID, TEXTOID, TEXTOID};
	Datum		a[8] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id),
		CStringGetTextDatum(external_id), CStringGetTextDatum(kind), cents_to_numeric(amount),
	TimestampTzGetDatum(posted_at), CStringGetTextDatum(method), CStringGetTextDatum(note)};

	bool		inserted;

	SPI_connect();
	plan_exec(plan_prepare(&p, "INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount,"
						   " posted_at, method, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING entry_id", 8, t),
			  a, NULL, false, 0);
	inserted = SPI_processed == 1;
	SPI_finish();
	return inserted;
}

int64
plan_queue_charge(const char *practice_id, const char *patient_id, int64 plan_id, int seq, int attempt,
				  Cents amount, const char *customer, const char *method, TimestampTz at)
{
	static SPIPlanPtr ins = NULL,
				mark = NULL;
	Oid			t[11] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT4OID, INT4OID,
	INT8OID, TEXTOID};
	Oid			tm[5] = {TEXTOID, INT8OID, INT4OID, INT8OID, INT4OID};
	char	   *step = psprintf("plan:" INT64_FORMAT ":%d:charge:%d", plan_id, seq, attempt);
	char	   *key = psprintf("charge:" INT64_FORMAT ":%d:%d", plan_id, seq, attempt);
	Datum		a[11] = {CStringGetTextDatum(practice_id), CStringGetTextDatum(patient_id),
		CStringGetTextDatum(step), CStringGetTextDatum(customer), TimestampTzGetDatum(at),
		CStringGetTextDatum(key), Int64GetDatum(plan_id), Int32GetDatum(seq), Int32GetDatum(attempt),
	Int64GetDatum(amount), CStringGetTextDatum(method)};
	int64		message_id = 0;

	SPI_connect();
	plan_exec(plan_prepare(&ins,
						   "INSERT INTO collect.outbox (practice_id, patient_id, channel, step, to_address, send_after,"
						   "  idempotency_key, payload, created_at)"
						   " VALUES ($1, $2, 'charge', $3, $4, $5, $6,"
						   "  jsonb_build_object('plan_id', $7, 'seq', $8, 'attempt', $9, 'amount', $10,"
						   "    'amount_cents', $10, 'currency', 'usd', 'customer', $4,"
						   "    'payment_method', $11, 'idempotency_key', $6,"
						   "    'description', 'Payment plan installment ' || $8), $5)"
						   " ON CONFLICT (practice_id, idempotency_key) DO NOTHING RETURNING message_id",
						   11, t), a, NULL, false, 1);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		ma[5];

		message_id = DatumGetInt64(plan_getdatum(0, 1, &isnull));
		ma[0] = a[0];
		ma[1] = Int64GetDatum(plan_id);
		ma[2] = Int32GetDatum(seq);
		ma[3] = Int64GetDatum(message_id);
		ma[4] = Int32GetDatum(attempt);
		plan_exec(plan_prepare(&mark, "UPDATE collect.installment SET last_message_id = $4, attempts = $5,"
							   " charge_after = NULL WHERE practice_id = $1 AND plan_id = $2 AND seq = $3",
							   5, tm), ma, NULL, false, 0);
	}
	SPI_finish();
	return message_id;
}

/* collect.record_charge_result(practice_id, message_id, succeeded, provider_ref, failure, at) */
Datum
record_charge_result(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr msg = NULL,
				inst = NULL,
				paid = NULL,
				failed = NULL;
	Oid			tmsg[2] = {TEXTOID, INT8OID};
	Oid			tinst[3] = {TEXTOID, INT8OID, INT4OID};
	Oid			tpaid[6] = {TEXTOID, INT8OID, INT4OID, TIMESTAMPTZOID, NUMERICOID, NUMERICOID};
	Oid			tfail[7] = {TEXTOID, INT8OID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, BOOLOID};
	char	   *practice_id,
			   *patient_id,
			   *channel,
			   *key,
			   *inst_status;
	int64		message_id,
				plan_id,
				last_message_id;
	int			seq,
				attempts;
	Cents		amount,
				inst_amount;
	bool		succeeded,
				plan_active,
				isnull;
	char	   *provider_ref = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *failure = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	TimestampTz at;
	MemoryContext cxt = CurrentMemoryContext;
	Policy		policy;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("practice_id, message_id, succeeded and at must not be null")));
	practice_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	message_id = PG_GETARG_INT64(1);
	succeeded = PG_GETARG_BOOL(2);
	at = PG_GETARG_TIMESTAMPTZ(5);

	SPI_connect();
	{
		Datum		a[2] = {CStringGetTextDatum(practice_id), Int64GetDatum(message_id)};

		plan_exec(plan_prepare(&msg, "SELECT patient_id, channel, idempotency_key, (payload->>'plan_id')::bigint,"
							   " (payload->>'seq')::int, (payload->>'amount')::bigint"
							   " FROM collect.outbox WHERE practice_id = $1 AND message_id = $2", 2, tmsg),
				  a, NULL, true, 1);
	}
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("outbox message " INT64_FORMAT " of practice \"%s\" does not exist", message_id, practice_id)));
	patient_id = plan_getstr(0, 1, cxt);
	channel = plan_getstr(0, 2, cxt);
	key = plan_getstr(0, 3, cxt);
	if (strcmp(channel, "charge") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("outbox message " INT64_FORMAT " is a %s message, not a charge", message_id, channel)));
	plan_id = DatumGetInt64(plan_getdatum(0, 4, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("charge " INT64_FORMAT " does not belong to a plan installment", message_id)));
	seq = DatumGetInt32(plan_getdatum(0, 5, &isnull));
	amount = DatumGetInt64(plan_getdatum(0, 6, &isnull));

	{
		Datum		a[3] = {CStringGetTextDatum(practice_id), Int64GetDatum(plan_id), Int32GetDatum(seq)};

		plan_exec(plan_prepare(&inst, "SELECT i.status, i.attempts, i.last_message_id, i.amount, p.status = 'active'"
							   " FROM collect.installment i JOIN collect.plan p USING (practice_id, plan_id)"
							   " WHERE i.practice_id = $1 AND i.plan_id = $2 AND i.seq = $3", 3, tinst),
				  a, NULL, false, 1);
	}
	if (SPI_processed != 1)
		elog(ERROR, "installment %d of plan " INT64_FORMAT " is gone", seq, plan_id);
	inst_status = plan_getstr(0, 1, cxt);
	attempts = DatumGetInt32(plan_getdatum(0, 2, &isnull));
	last_message_id = DatumGetInt64(plan_getdatum(0, 3, &isnull));
	if (isnull)
		last_message_id = 0;
	inst_amount = numeric_to_cents(plan_getdatum(0, 4, &isnull));
	plan_active = DatumGetBool(plan_getdatum(0, 5, &isnull));
	SPI_finish();

	/*
	 * No lock was taken above: the ledger insert locks the account and then
	 * the plan (its triggers), and only then is the installment updated,
	 * the lock order of plan_lock_account().
	 */
	if (succeeded)
	{
		/* the money moved: always post it (idempotent by external_id); a repeated answer changes nothing */
		if (!plan_post_ledger(practice_id, patient_id, psprintf("autopay:%s", key), "payment", amount, at, "autopay",
						 psprintf("autopay, plan " INT64_FORMAT " installment %d%s%s", plan_id, seq,
								  provider_ref ? ", ref " : "", provider_ref ? provider_ref : "")))
			PG_RETURN_VOID();
		SPI_connect();
		{
			Datum		a[6] = {CStringGetTextDatum(practice_id), Int64GetDatum(plan_id), Int32GetDatum(seq),
			TimestampTzGetDatum(at), cents_to_numeric(inst_amount), cents_to_numeric(amount)};

			/* an installment settled meanwhile keeps how it was paid; the charge is still counted */
			plan_exec(plan_prepare(&paid, "UPDATE collect.installment SET"
								   " charged_amount = COALESCE(charged_amount, 0) + $6,"
								   " paid_at = CASE WHEN status = 'paid' THEN paid_at ELSE $4 END,"
								   " paid_amount = CASE WHEN status = 'paid' THEN paid_amount ELSE $5 END,"
								   " paid_by = CASE WHEN status = 'paid' THEN paid_by ELSE 'autopay' END,"
								   " status = 'paid', charge_after = NULL, last_error = NULL"
								   " WHERE practice_id = $1 AND plan_id = $2 AND seq = $3",
								   6, tpaid), a, NULL, false, 0);
		}
		SPI_finish();
		audit_record(practice_id, patient_id, at, "provider", "autopay_succeeded",
					 psprintf("plan:" INT64_FORMAT ":%d", plan_id, seq),
					 psprintf("charge of %s succeeded", cents_to_dollars(amount)),
					 plan_vars("message_id", psprintf(INT64_FORMAT, message_id), "provider_ref", provider_ref, NULL));
		PG_RETURN_VOID();
	}

	/* a failure of an old attempt, of an installment settled since, or of a plan that ended, changes nothing */
	if (strcmp(inst_status, "paid") == 0 || strcmp(inst_status, "waived") == 0 || last_message_id != message_id ||
		!plan_active)
		PG_RETURN_VOID();

	policy_load(practice_id, &policy);
	plan_lock_account(practice_id, patient_id);
	{
		bool		retry = attempts <= policy.payment_max_retries;
		TimestampTz retry_at = plan_retry_at(at, policy.payment_retry_after_hours);
		Datum		a[7] = {CStringGetTextDatum(practice_id), Int64GetDatum(plan_id), Int32GetDatum(seq),
			TimestampTzGetDatum(at), TimestampTzGetDatum(retry_at),
		CStringGetTextDatum(failure ? failure : "charge failed"), BoolGetDatum(retry)};
		char		nulls[7] = {' ', ' ', ' ', ' ', retry ? ' ' : 'n', ' ', ' '};
		bool		changed;

		SPI_connect();
		plan_exec(plan_prepare(&failed, "UPDATE collect.installment SET status = 'failed', failed_at = $4,"
							   " charge_after = $5, last_error = $6,"
							   " missed_at = CASE WHEN $7 THEN missed_at ELSE COALESCE(missed_at, $4) END"
							   " WHERE practice_id = $1 AND plan_id = $2 AND seq = $3"
							   " AND (status <> 'failed' OR failed_at IS DISTINCT FROM $4 AND failed_at < $4)",
							   7, tfail), a, nulls, false, 0);
		changed = SPI_processed == 1;
		SPI_finish();
		if (!changed)
			PG_RETURN_VOID();
		audit_record(practice_id, patient_id, at, "provider", "autopay_failed",
					 psprintf("plan:" INT64_FORMAT ":%d", plan_id, seq),
					 retry ? psprintf("charge failed (%s); retry after %d hours", failure ? failure : "no reason given",
									  policy.payment_retry_after_hours)
					 : psprintf("charge failed (%s) after %d attempts", failure ? failure : "no reason given", attempts),
					 NULL);
		if (!retry)
		{
			char	   *summary = task_summary(practice_id, patient_id,
											   psprintf("a call to update the card or take the payment: autopay for installment %d of plan " INT64_FORMAT " (%s) failed %d times (%s)",
														seq, plan_id, cents_to_dollars(inst_amount), attempts,
														failure ? failure : "no reason given"), at);

			task_open(practice_id, patient_id, "payment_failed", summary, at + USECS_PER_DAY, at);
			plan_notify(practice_id, patient_id, psprintf("plan:" INT64_FORMAT ":%d:failed", plan_id, seq),
						"plan_payment_failed",
						plan_vars("installment_amount", cents_to_dollars(inst_amount), NULL), DATEVAL_NOBEGIN, at, at);
		}
	}
	PG_RETURN_VOID();
}
