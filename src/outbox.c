/*
 * outbox.c: the worker's SQL. Claims due outbox rows with FOR UPDATE SKIP
 * LOCKED under a lease (marking them `sending`, cancelling the ones a stop
 * rule now blocks), finishes a sent batch in one statement (sent / retry
 * at a backed-off time / dead with a delivery_failed task / declined
 * charge), reclaims rows whose lease expired, and finds the next due time.
 * Each function runs inside a transaction the caller opened and closes
 * right after: never while an HTTP call is in flight. Plans are prepared
 * once and kept. No HTTP, no dunning decisions of its own (the stop rules
 * are collect.send_block_reason's).
 */
#include "worker.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

/*
 * Delay before a succeeded charge whose result could not be recorded is
 * tried again: the cause is a lock conflict in this database, not the
 * provider, so no provider backoff.
 */
#define CHARGE_RECORD_RETRY_MS 1000

static SPIPlanPtr claim_plan = NULL;
static int	claim_limit = 0;
static SPIPlanPtr finish_plan = NULL;
static SPIPlanPtr reclaim_plan = NULL;
static SPIPlanPtr next_due_plan = NULL;
static SPIPlanPtr charge_plan = NULL;

/* what the installed database offers (checked by outbox_extension_ready) */
static Oid	extension_oid = InvalidOid;
static bool has_block_reason = false;
static int	block_reason_nargs = 0;	/* 5: takes step_kind */
static bool has_charge_result = false;
bool		outbox_has_receive_sms = false;

static void
free_plan(SPIPlanPtr *p)
{
	if (*p)
		SPI_freeplan(*p);
	*p = NULL;
}

/* Forget every kept plan (after an error or when the extension changed) */
void
outbox_reset_plans(void)
{
	/* SPI_freeplan needs no SPI connection */
	free_plan(&claim_plan);
	free_plan(&finish_plan);
	free_plan(&reclaim_plan);
	free_plan(&next_due_plan);
	free_plan(&charge_plan);
	extension_oid = InvalidOid;
}

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

	if (p == NULL)
		elog(ERROR, "collect worker: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(p);
	return p;
}

/*
 * The argument count of collect.<name> callable with `nargs` arguments
 * (trailing defaults allowed), or 0 when there is none.
 */
static int
function_nargs(const char *name, int nargs)
{
	char	   *sql = psprintf("SELECT max(p.pronargs) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
							   " WHERE n.nspname = 'collect' AND p.proname = '%s'"
							   "   AND %d BETWEEN p.pronargs - p.pronargdefaults AND p.pronargs",
							   name, nargs);
	bool		isnull;
	Datum		v;

	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		return 0;
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt16(v);
}

/*
 * Is collect installed in this database, at a version this library can
 * drain? Returns NULL when it is, else why not. Also notes which optional
 * functions of other modules exist, and drops the kept plans when the
 * extension was re-created or a function appeared.
 */
const char *
outbox_extension_unready(void)
{
	Oid			oid = InvalidOid;
	bool		isnull;
	int			block;
	bool		charge;

	SPI_connect();
	if (SPI_execute("SELECT oid FROM pg_extension WHERE extname = 'collect'", true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
		oid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!OidIsValid(oid))
	{
		SPI_finish();
		outbox_reset_plans();
		return "extension collect is not installed";
	}
	/* 0.1's outbox has no claimed_by: the claim would fail on every row */
	if (SPI_execute("SELECT 1 FROM pg_attribute WHERE attrelid = 'collect.outbox'::regclass"
					" AND attname = 'claimed_by' AND NOT attisdropped", true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
	{
		SPI_finish();
		outbox_reset_plans();
		return "extension collect needs ALTER EXTENSION collect UPDATE";
	}
	block = function_nargs("send_block_reason", 4);
	charge = function_nargs("record_charge_result", 6) > 0;
	outbox_has_receive_sms = function_nargs("receive_sms", 4) > 0;
	SPI_finish();
	if (oid != extension_oid || block != block_reason_nargs || charge != has_charge_result)
	{
		outbox_reset_plans();
		extension_oid = oid;
		block_reason_nargs = block;
		has_block_reason = block > 0;
		has_charge_result = charge;
	}
	return NULL;
}

/*
 * Put `sending` rows back in the queue. When a worker starts: the rows its
 * slot claimed (one process per slot and database, held by an advisory
 * lock, so they belong to a dead predecessor), and for slot 0 also those of
 * slots that no longer exist (collect.worker_count lowered) or claimed
 * before slots were recorded; otherwise only expired leases. They keep
 * their idempotency key, so a provider that saw the first try recognises
 * the second.
 */
int
outbox_reclaim(bool at_start)
{
	Datum		arg[3] = {BoolGetDatum(at_start), Int32GetDatum(worker_slot), Int32GetDatum(worker_count)};
	Oid			types[3] = {BOOLOID, INT4OID, INT4OID};
	int			n;

	SPI_connect();
	if (reclaim_plan == NULL)
		reclaim_plan = prepare_kept(
									"UPDATE collect.outbox SET status = 'queued', lease_until = NULL, send_after = now(),"
									" last_error = 'lease expired: the worker stopped while sending'"
									" WHERE status = 'sending'"
									"   AND (lease_until < now() OR $1 AND (claimed_by = $2"
									"        OR $2 = 0 AND (claimed_by IS NULL OR claimed_by >= $3)))",
									3, types);
	if (SPI_execute_plan(reclaim_plan, arg, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "collect worker: reclaim failed");
	n = (int) SPI_processed;
	SPI_finish();
	return n;
}

/*
 * The update finds the locked rows by ctid (a TID scan per row, stable
 * while the row lock is held): joined by primary key, the planner's
 * generic plan hashed the whole outbox for every batch.
 */
#define CLAIM_SQL \
	"WITH due AS (" \
	"  SELECT o.ctid, o.practice_id, o.message_id, %s AS block" \
	"    FROM collect.outbox o" \
	"   WHERE o.status = 'queued' AND o.send_after <= now() AND o.channel <> 'call_task'" \
	"   ORDER BY o.send_after" \
	"   LIMIT %d" \
	"   FOR UPDATE OF o SKIP LOCKED" \
	"), claimed AS (" \
	"  UPDATE collect.outbox o" \
	"     SET status = CASE WHEN due.block IS NULL THEN 'sending' ELSE 'cancelled' END," \
	"         attempts = o.attempts + CASE WHEN due.block IS NULL THEN 1 ELSE 0 END," \
	"         lease_until = CASE WHEN due.block IS NULL THEN now() + make_interval(secs => $2) END," \
	"         claimed_by = $3," \
	"         last_error = CASE WHEN due.block IS NULL THEN o.last_error" \
	"                           ELSE 'cancelled at send time: ' || due.block END" \
	"    FROM due" \
	"   WHERE o.ctid = due.ctid AND o.practice_id = due.practice_id AND o.message_id = due.message_id" \
	"  RETURNING o.*" \
	"), cancelled AS (" \
	"  INSERT INTO collect.contact_attempt (practice_id, patient_id, channel, message_id, at, outcome, actor, detail)" \
	"  SELECT practice_id, patient_id, channel, message_id, now(), 'cancelled', 'collect.worker', last_error" \
	"    FROM claimed WHERE status = 'cancelled'" \
	")" \
	"SELECT c.practice_id, c.message_id, c.patient_id, c.channel, c.to_address, c.subject, c.body," \
	"       c.payload::text, c.idempotency_key, c.attempts," \
	"       p.kind, p.base_url, p.account, p.secret, p.sender, p.settings::text," \
	"       pm.provider_customer, pm.provider_method, c.status" \
	"  FROM claimed c" \
	"  LEFT JOIN collect.provider p ON p.practice_id = c.practice_id AND p.channel = c.channel" \
	"  LEFT JOIN collect.payment_method pm ON c.channel = 'charge' AND pm.practice_id = c.practice_id" \
	"        AND pm.patient_id = c.patient_id AND pm.revoked_at IS NULL"

/* a paid-up account blocks a charge only before its first attempt (OUTBOX_CANCELLABLE) */
#define CHARGE_PAID_UP \
	"     WHEN o.channel = 'charge' AND o.attempts = 0 AND EXISTS (SELECT 1 FROM collect.account a" \
	"          WHERE a.practice_id = o.practice_id AND a.patient_id = o.patient_id AND a.balance <= 0)" \
	"     THEN 'balance paid in full' END"
/* stop rules at send time: the dunning module's, plus a paid-up charge */
#define BLOCK_WITH_RULES \
	"CASE WHEN o.channel IN ('sms','email','letter','voice')" \
	"     THEN collect.send_block_reason(o.practice_id, o.patient_id, o.channel, now()%s)" \
	CHARGE_PAID_UP
/* dunning's step kinds: steps "notice:..." and "opt_out_confirmation..." */
#define STEP_KIND \
	", CASE WHEN o.step LIKE 'notice:%' THEN 'notice'" \
	"       WHEN o.step LIKE 'opt_out_confirmation%' THEN 'opt_out_confirmation'" \
	"       ELSE 'collection' END"
#define BLOCK_CHARGE_ONLY "CASE" CHARGE_PAID_UP

/*
 * A text column as a C string in the current memory context, NULL for
 * NULL (SPI_getvalue would look up and call the type's output function
 * for every value).
 */
static char *
text_value(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		v = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(v);
}

static Datum
binary_value(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		v = SPI_getbinval(tup, desc, col, &isnull);

	Assert(!isnull);
	return v;
}

/*
 * Claim up to `limit` due rows; returns how many are to be sent and
 * points *out at them (allocated in the caller's memory context). Rows a
 * stop rule blocks are cancelled in the same statement and not returned.
 */
int
outbox_claim(int limit, OutboxMessage **out)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		args[3];
	Oid			types[3] = {INT4OID, FLOAT8OID, INT4OID};
	OutboxMessage *msgs;
	int			n = 0;
	int			cancelled = 0;

	SPI_connect();
	/*
	 * The batch size is written into the plan as a constant: with LIMIT $1
	 * a generic plan guesses 10% of the queue and may pick a full scan and
	 * a sort, which costs O(queue) per batch on a large backlog.
	 */
	if (claim_plan != NULL && claim_limit != limit)
		free_plan(&claim_plan);
	if (claim_plan == NULL)
	{
		char	   *block = has_block_reason
			? psprintf(BLOCK_WITH_RULES, block_reason_nargs >= 5 ? STEP_KIND : "")
			: pstrdup(BLOCK_CHARGE_ONLY);

		claim_plan = prepare_kept(psprintf(CLAIM_SQL, block, limit), 3, types);
		claim_limit = limit;
	}
	args[0] = Int32GetDatum(limit);
	args[1] = Float8GetDatum((double) worker_lease_seconds);
	args[2] = Int32GetDatum(worker_slot);
	if (SPI_execute_plan(claim_plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "collect worker: claim failed");

	MemoryContextSwitchTo(caller);
	msgs = palloc0(sizeof(OutboxMessage) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		OutboxMessage *m = &msgs[n];
		char	   *status = text_value(t, d, 19);

		if (strcmp(status, "sending") != 0)
		{
			cancelled++;
			continue;
		}
		m->practice_id = text_value(t, d, 1);
		m->message_id = DatumGetInt64(binary_value(t, d, 2));
		m->patient_id = text_value(t, d, 3);
		m->channel = text_value(t, d, 4);
		m->to_address = text_value(t, d, 5);
		m->subject = text_value(t, d, 6);
		m->body = text_value(t, d, 7);
		m->payload = text_value(t, d, 8);
		m->idempotency_key = text_value(t, d, 9);
		m->attempts = DatumGetInt32(binary_value(t, d, 10));
		m->kind = text_value(t, d, 11);
		m->base_url = text_value(t, d, 12);
		m->account = text_value(t, d, 13);
		m->secret = text_value(t, d, 14);
		m->sender = text_value(t, d, 15);
		m->settings = text_value(t, d, 16);
		m->pm_customer = text_value(t, d, 17);
		m->pm_method = text_value(t, d, 18);
		n++;
	}
	SPI_finish();
	if (cancelled)
		worker_status_add(0, 0, 0, 0, cancelled);
	*out = msgs;
	return n;
}

/*
 * Set the next due row aside as dead when the claim keeps failing on it
 * (see worker.c); the delivery_failed task tells staff why. Returns 1 if a
 * row was set aside. Not prepared: it runs rarely.
 */
int
outbox_quarantine_next(const char *error)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(error)};
	int			n;

	SPI_connect();
	if (SPI_execute_with_args(
							  "WITH due AS (SELECT practice_id, message_id FROM collect.outbox"
							  "  WHERE status = 'queued' AND send_after <= now() AND channel <> 'call_task'"
							  "  ORDER BY send_after LIMIT 1 FOR UPDATE SKIP LOCKED),"
							  " u AS (UPDATE collect.outbox o SET status = 'dead', lease_until = NULL,"
							  "   last_error = 'set aside: claiming it failed: ' || $1"
							  "  FROM due WHERE o.practice_id = due.practice_id AND o.message_id = due.message_id"
							  "  RETURNING o.*)"
							  " INSERT INTO collect.task (practice_id, patient_id, kind, summary, details, due_at)"
							  " SELECT practice_id, patient_id, 'delivery_failed',"
							  "   format('A %s message was set aside unsent: %s', channel, last_error),"
							  "   jsonb_build_object('message_id', message_id, 'channel', channel), now() FROM u",
							  1, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "collect worker: quarantine failed");
	n = (int) SPI_processed;
	SPI_finish();
	return n;
}

#define FINISH_SQL \
	"WITH u AS (" \
	"  UPDATE collect.outbox o" \
	"     SET status = r.status," \
	"         provider_ref = COALESCE(r.ref, o.provider_ref)," \
	"         last_error = r.err," \
	"         sent_at = CASE WHEN r.status = 'sent' THEN now() ELSE o.sent_at END," \
	"         send_after = CASE WHEN r.status = 'queued'" \
	"                           THEN now() + greatest(r.delay_ms, 0) * interval '1 millisecond'" \
	"                           ELSE o.send_after END," \
	"         attempts = CASE WHEN r.delay_ms < 0 THEN greatest(o.attempts - 1, 0) ELSE o.attempts END," \
	"         lease_until = NULL" \
	"    FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::int4[])" \
	"         AS r(practice_id, message_id, status, ref, err, delay_ms)" \
	"   WHERE o.practice_id = r.practice_id AND o.message_id = r.message_id AND o.status = 'sending'" \
	"  RETURNING o.practice_id, o.message_id, o.patient_id, o.channel, o.status, o.last_error, o.attempts" \
	"), ca AS (" \
	"  INSERT INTO collect.contact_attempt (practice_id, patient_id, channel, message_id, at, outcome, actor, detail)" \
	"  SELECT practice_id, patient_id, channel, message_id, now()," \
	"         CASE status WHEN 'sent' THEN 'sent' ELSE 'failed' END, 'collect.worker', last_error" \
	"    FROM u WHERE status IN ('sent', 'failed', 'dead')" \
	"), t AS (" \
	"  INSERT INTO collect.task (practice_id, patient_id, kind, summary, details, due_at)" \
	"  SELECT DISTINCT ON (u.practice_id, u.patient_id) u.practice_id, u.patient_id, 'delivery_failed'," \
	"         format('A %s message could not be delivered after %s attempt(s): %s. Check the patient''s contact details and the %s provider settings.'," \
	"                u.channel, u.attempts, u.last_error, u.channel)," \
	"         jsonb_build_object('message_id', u.message_id, 'channel', u.channel), now()" \
	"    FROM u WHERE u.status = 'dead' AND NOT EXISTS (SELECT 1 FROM collect.task t" \
	"         WHERE t.practice_id = u.practice_id AND t.patient_id = u.patient_id" \
	"           AND t.kind = 'delivery_failed' AND t.status = 'open')" \
	"   ORDER BY u.practice_id, u.patient_id, u.message_id" \
	")" \
	"SELECT count(*) FROM u"

/* exponential backoff with jitter: base * 2^(attempt-1), capped, x [0.5, 1) */
static int
backoff_ms(int attempts, int retry_after)
{
	double		ms;

	if (retry_after >= 0)
		return (int) Min((double) retry_after * 1000.0 + random() % 250, (double) worker_retry_max_seconds * 1000.0);
	ms = (double) worker_retry_base_seconds * 1000.0 * pow(2.0, Min(attempts - 1, 30));
	ms = Min(ms, (double) worker_retry_max_seconds * 1000.0);
	ms = ms * (0.5 + (random() % 1000) / 2000.0);
	return (int) Max(ms, 1.0);
}

static Datum
text_array(char **vals, bool *nulls, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
		d[i] = nulls[i] ? (Datum) 0 : CStringGetTextDatum(vals[i]);
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * A charge's outcome to the plans module, in a subtransaction of its own;
 * returns NULL, or the error message if recording it failed.
 */
static char *
record_charge(Delivery *d, const char *status)
{
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	Oid			types[5] = {TEXTOID, INT8OID, BOOLOID, TEXTOID, TEXTOID};
	MemoryContext mcxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	if (!has_charge_result)
		return NULL;
	if (charge_plan == NULL)
		charge_plan = prepare_kept("SELECT collect.record_charge_result($1, $2, $3, $4, $5, now())", 5, types);
	args[0] = CStringGetTextDatum(d->msg->practice_id);
	args[1] = Int64GetDatum(d->msg->message_id);
	args[2] = BoolGetDatum(strcmp(status, "sent") == 0);
	args[3] = d->provider_ref ? CStringGetTextDatum(d->provider_ref) : (Datum) 0;
	nulls[3] = d->provider_ref ? ' ' : 'n';
	args[4] = d->error ? CStringGetTextDatum(d->error) : (Datum) 0;
	nulls[4] = d->error ? ' ' : 'n';

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(mcxt);
	PG_TRY();
	{
		SPI_execute_plan(charge_plan, args, nulls, false, 0);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(mcxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
		ereport(WARNING,
				(errmsg("collect worker: record_charge_result failed for message " INT64_FORMAT ": %s",
						d->msg->message_id, e->message)));
		return e->message;
	}
	PG_END_TRY();
	return NULL;
}

/*
 * Record a batch's outcomes: first hand charge outcomes to
 * collect.record_charge_result when it exists, then one statement: sent
 * (with the provider's id), queued again at a backed-off time, dead (with a
 * delivery_failed task) or failed (a declined charge). A succeeded charge
 * whose result could not be recorded (say a deadlock with a concurrent
 * posting) is queued again with the same idempotency key rather than left
 * `sent` without its ledger payment: the provider answers the repeat with
 * the first outcome and the next batch records it.
 */
void
outbox_finish(Delivery *ds, int n)
{
	char	  **practice = palloc(sizeof(char *) * Max(n, 1));
	Datum	   *ids = palloc(sizeof(Datum) * Max(n, 1));
	char	  **status = palloc(sizeof(char *) * Max(n, 1));
	char	  **ref = palloc(sizeof(char *) * Max(n, 1));
	char	  **err = palloc(sizeof(char *) * Max(n, 1));
	Datum	   *delay = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nonull = palloc0(sizeof(bool) * Max(n, 1));
	bool	   *refnull = palloc0(sizeof(bool) * Max(n, 1));
	bool	   *errnull = palloc0(sizeof(bool) * Max(n, 1));
	Datum		args[6];
	Oid			types[6] = {TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID};
	int			sent = 0,
				retried = 0,
				failed = 0,
				dead = 0;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
	{
		Delivery   *d = &ds[i];
		int			ms = 0;

		practice[i] = d->msg->practice_id;
		ids[i] = Int64GetDatum(d->msg->message_id);
		switch (d->result)
		{
			case DELIVERY_SENT:
				status[i] = "sent";
				sent++;
				break;
			case DELIVERY_DECLINED:
				status[i] = "failed";
				failed++;
				break;
			case DELIVERY_FAILED:
				status[i] = "dead";
				dead++;
				break;
			case DELIVERY_RETRY:
				if (d->msg->attempts >= worker_max_attempts)
				{
					status[i] = "dead";
					dead++;
				}
				else
				{
					status[i] = "queued";
					ms = backoff_ms(d->msg->attempts, d->retry_after);
					retried++;
				}
				break;
			case DELIVERY_DEFERRED:
				status[i] = "queued";
				ms = -1;
				break;
		}
		ref[i] = d->provider_ref;
		refnull[i] = d->provider_ref == NULL;
		err[i] = d->error;
		errnull[i] = d->error == NULL;
		delay[i] = Int32GetDatum(ms);
	}
	SPI_connect();
	for (int i = 0; i < n; i++)
	{
		char	   *failure;

		if (strcmp(ds[i].msg->channel, "charge") != 0 ||
			(strcmp(status[i], "sent") != 0 && strcmp(status[i], "failed") != 0 && strcmp(status[i], "dead") != 0))
			continue;
		failure = record_charge(&ds[i], status[i]);
		if (failure != NULL && strcmp(status[i], "sent") == 0 && ds[i].msg->attempts < worker_max_attempts)
		{
			status[i] = "queued";
			sent--;
			retried++;
			err[i] = psprintf("recording the charge failed (%s); retried with the same idempotency key", failure);
			errnull[i] = false;
			delay[i] = Int32GetDatum(CHARGE_RECORD_RETRY_MS);
		}
	}
	args[0] = text_array(practice, nonull, n);
	args[1] = PointerGetDatum(construct_md_array(ids, NULL, 1, dims, lbs, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[2] = text_array(status, nonull, n);
	args[3] = text_array(ref, refnull, n);
	args[4] = text_array(err, errnull, n);
	args[5] = PointerGetDatum(construct_md_array(delay, NULL, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT));

	/*
	 * The batch joins the outbox by primary key; with the statistics saying
	 * "few rows are sending" the planner would otherwise loop over the batch
	 * once per sending row (O(batch^2)). Set only now, after the charge
	 * results: under enable_nestloop = off the plans module's statements
	 * were planned at disable_cost and JIT-compiled at every call.
	 */
	(void) set_config_option("enable_nestloop", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	if (finish_plan == NULL)
		finish_plan = prepare_kept(FINISH_SQL, 6, types);
	if (SPI_execute_plan(finish_plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "collect worker: finish failed");
	SPI_finish();
	worker_status_add(sent, retried, failed, dead, 0);
}

/* seconds until the next queued row is due (<= 0: due now; -1: none) */
double
outbox_next_due_seconds(void)
{
	double		secs = -1;
	bool		isnull;
	Datum		v;

	SPI_connect();
	/* a row parked at 'infinity' is never due; '-infinity' is due now */
	if (next_due_plan == NULL)
		next_due_plan = prepare_kept("SELECT EXTRACT(epoch FROM GREATEST(min(send_after), now()) - now())::float8"
									 " FROM collect.outbox WHERE status = 'queued' AND channel <> 'call_task'"
									 "   AND send_after < 'infinity'",
									 0, NULL);
	if (SPI_execute_plan(next_due_plan, NULL, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			secs = Max(DatumGetFloat8(v), 0.0);
	}
	SPI_finish();
	return secs;
}
