/*
 * worker.c: the outbox worker's lifecycle. Defines the worker GUCs,
 * registers the background worker (from shared_preload_libraries), keeps
 * its status in shared memory (collect.worker_status), and runs the loop:
 * claim a batch (one short transaction), send it with no transaction open,
 * finish it (a second short transaction), then sleep until a commit that
 * queued rows sets the latch, the next row falls due, or the idle timeout.
 * Reloads GUCs on SIGHUP, exits cleanly on SIGTERM, waits quietly while
 * collect is not installed, never crash-loops on an error. No SQL text and
 * no HTTP of its own; no dunning decisions.
 */
#include "worker.h"

#include <malloc.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_database.h"
#include "commands/trigger.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

PGDLLEXPORT void collect_worker_main(Datum arg);

char	   *collect_database = NULL;
int			worker_batch_size = 500;
int			worker_concurrency = 64;
int			worker_timeout_ms = 10000;
int			worker_connect_timeout_ms = 3000;
int			worker_max_attempts = 8;
int			worker_lease_seconds = 300;
int			worker_idle_seconds = 10;
int			worker_retry_base_seconds = 30;
int			worker_retry_max_seconds = 21600;
int			worker_poll_seconds = 60;
int			worker_rate_limit = 0;
int			worker_count = 1;
static bool worker_enabled = true;

volatile sig_atomic_t worker_got_sigterm = false;

/* what collect.worker_status shows of one worker; guarded by its spinlock */
typedef struct WorkerSlot
{
	slock_t		mutex;
	pid_t		pid;
	Latch	   *latch;
	TimestampTz started_at;
	TimestampTz last_wake;
	TimestampTz last_batch;
	int			in_flight;
	int64		batches;
	int64		sent;
	int64		retried;
	int64		failed;
	int64		dead;
	int64		cancelled;
	int64		errors;
	char		state[32];
} WorkerSlot;

typedef struct WorkerShared
{
	bool		database_seen;	/* collect.database exists: connect to it */
	WorkerSlot	slots[FLEXIBLE_ARRAY_MEMBER];	/* collect.worker_count of them */
} WorkerShared;

static WorkerShared *shared = NULL;
/* this worker's slot number and status (NULL in other backends) */
int			worker_slot = 0;
static WorkerSlot *me = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool am_worker = false;
static bool wake_pending = false;
static bool wake_callback_registered = false;

/* ---------------------------------------------------------------- GUCs */

static void
define_gucs(void)
{
	DefineCustomStringVariable("collect.database",
							   gettext_noop("Database the collect outbox worker connects to."),
							   NULL, &collect_database, "postgres",
							   PGC_POSTMASTER, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomBoolVariable("collect.worker_enabled",
							 gettext_noop("Whether the outbox worker sends messages (off: it idles)."),
							 NULL, &worker_enabled, true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_batch_size",
							gettext_noop("Outbox rows claimed per batch."),
							NULL, &worker_batch_size, 500, 1, 10000, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_concurrency",
							gettext_noop("HTTP requests the worker keeps in flight at once."),
							NULL, &worker_concurrency, 64, 1, 1024, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_timeout",
							gettext_noop("Timeout of one provider request."),
							NULL, &worker_timeout_ms, 10000, 100, 300000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_connect_timeout",
							gettext_noop("Connect timeout of one provider request."),
							NULL, &worker_connect_timeout_ms, 3000, 100, 60000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_max_attempts",
							gettext_noop("Attempts before a message is dead."),
							NULL, &worker_max_attempts, 8, 1, 100, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_lease",
							gettext_noop("How long a claimed row stays leased to the worker."),
							NULL, &worker_lease_seconds, 300, 5, 86400, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_idle_timeout",
							gettext_noop("Longest sleep between two looks at the outbox."),
							NULL, &worker_idle_seconds, 10, 1, 3600, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_retry_base",
							gettext_noop("First retry delay; doubled on every further attempt, with jitter."),
							NULL, &worker_retry_base_seconds, 30, 0, 86400, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_retry_max",
							gettext_noop("Longest retry delay (also caps Retry-After)."),
							NULL, &worker_retry_max_seconds, 21600, 1, 604800, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_poll_interval",
							gettext_noop("How often delivery status and inbound replies are pulled from Twilio (0: never)."),
							NULL, &worker_poll_seconds, 60, 0, 86400, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_count",
							gettext_noop("Outbox workers draining the queue side by side (one per CPU core at most)."),
							NULL, &worker_count, 1, 1, MAX_OUTBOX_WORKERS, PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("collect.worker_rate_limit",
							gettext_noop("Default requests per second per provider (0: unlimited); provider.settings.rate_per_second overrides."),
							NULL, &worker_rate_limit, 0, 0, 100000, PGC_SIGHUP, 0, NULL, NULL, NULL);
}

/* ------------------------------------------------------- shared memory */

static Size
shared_size(void)
{
	return add_size(offsetof(WorkerShared, slots), mul_size(worker_count, sizeof(WorkerSlot)));
}

static void
worker_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(shared_size()));
}

static void
worker_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("collect worker", shared_size(), &found);
	if (!found)
	{
		memset(shared, 0, shared_size());
		for (int i = 0; i < worker_count; i++)
		{
			SpinLockInit(&shared->slots[i].mutex);
			strlcpy(shared->slots[i].state, "not started", sizeof(shared->slots[i].state));
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
status_state(const char *state)
{
	if (!me)
		return;
	SpinLockAcquire(&me->mutex);
	strlcpy(me->state, state, sizeof(me->state));
	SpinLockRelease(&me->mutex);
}

void
worker_status_add(int sent, int retried, int failed, int dead, int cancelled)
{
	if (!me)
		return;
	SpinLockAcquire(&me->mutex);
	me->sent += sent;
	me->retried += retried;
	me->failed += failed;
	me->dead += dead;
	me->cancelled += cancelled;
	SpinLockRelease(&me->mutex);
}

void
worker_status_in_flight(int n)
{
	if (!me)
		return;
	SpinLockAcquire(&me->mutex);
	me->in_flight = n;
	SpinLockRelease(&me->mutex);
}

/* ------------------------------------------------------------ wake-up */

static void
wake_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_pending && shared)
	{
		for (int i = 0; i < worker_count; i++)
		{
			WorkerSlot *slot = &shared->slots[i];
			Latch	   *latch;

			SpinLockAcquire(&slot->mutex);
			latch = slot->latch;
			SpinLockRelease(&slot->mutex);
			if (latch)
				SetLatch(latch);
		}
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		wake_pending = false;
}

PG_FUNCTION_INFO_V1(outbox_wake);

/*
 * Statement trigger on collect.outbox: wake the worker when the
 * transaction that queued (or re-queued) rows commits. Sets the latch once
 * per transaction, never before commit.
 */
Datum
outbox_wake(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("outbox_wake must be called as a trigger")));
	if (!am_worker)
	{
		if (!wake_callback_registered)
		{
			RegisterXactCallback(wake_xact_callback, NULL);
			wake_callback_registered = true;
		}
		wake_pending = true;
	}
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(worker_status);

/* One row per outbox worker (collect.worker_count) for collect.worker_status */
Datum
worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n = shared == NULL ? 1 : worker_count;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < n; i++)
	{
		Datum		v[14];
		bool		nulls[14] = {0};
		WorkerSlot	s;

		if (shared == NULL)
		{
			memset(&s, 0, sizeof(s));
			strlcpy(s.state, "not preloaded", sizeof(s.state));
		}
		else
		{
			SpinLockAcquire(&shared->slots[i].mutex);
			memcpy(&s, &shared->slots[i], sizeof(s));
			SpinLockRelease(&shared->slots[i].mutex);
		}
		v[0] = CStringGetTextDatum(s.state);
		v[1] = Int32GetDatum(s.pid);
		nulls[1] = s.pid == 0;
		v[2] = TimestampTzGetDatum(s.started_at);
		nulls[2] = s.started_at == 0;
		v[3] = TimestampTzGetDatum(s.last_wake);
		nulls[3] = s.last_wake == 0;
		v[4] = TimestampTzGetDatum(s.last_batch);
		nulls[4] = s.last_batch == 0;
		v[5] = Int32GetDatum(s.in_flight);
		v[6] = Int64GetDatum(s.batches);
		v[7] = Int64GetDatum(s.sent);
		v[8] = Int64GetDatum(s.retried);
		v[9] = Int64GetDatum(s.failed);
		v[10] = Int64GetDatum(s.dead);
		v[11] = Int64GetDatum(s.cancelled);
		v[12] = Int64GetDatum(s.errors);
		v[13] = Int32GetDatum(i);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}

/* ------------------------------------------------------------ lifecycle */

void
WorkerInit(void)
{
	BackgroundWorker bgw;

	define_gucs();
	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = worker_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = worker_shmem_startup;

	for (int i = 0; i < worker_count; i++)
	{
		memset(&bgw, 0, sizeof(bgw));
		bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
		bgw.bgw_restart_time = 1;
		bgw.bgw_main_arg = Int32GetDatum(i);
		strlcpy(bgw.bgw_library_name, "collect", BGW_MAXLEN);
		strlcpy(bgw.bgw_function_name, "collect_worker_main", BGW_MAXLEN);
		if (worker_count == 1)
			strlcpy(bgw.bgw_name, "collect outbox worker", BGW_MAXLEN);
		else
			snprintf(bgw.bgw_name, BGW_MAXLEN, "collect outbox worker %d", i);
		strlcpy(bgw.bgw_type, "collect outbox worker", BGW_MAXLEN);
		RegisterBackgroundWorker(&bgw);
	}
}

static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	worker_got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

void
worker_tx_begin(void)
{
	MemoryContext mcxt = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	/* results outlive the transaction: keep allocating in the caller's context */
	MemoryContextSwitchTo(mcxt);
}

void
worker_tx_commit(void)
{
	MemoryContext mcxt = CurrentMemoryContext;

	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(mcxt);
}

/*
 * One session-level advisory lock per worker slot: a single worker of each
 * slot per database, so that the rows claimed under a slot number belong
 * to the one process that holds it (see outbox_reclaim).
 */
static bool
take_worker_lock(void)
{
	bool		got = false;
	bool		isnull;
	Datum		arg[1] = {Int32GetDatum(worker_slot)};
	Oid			types[1] = {INT4OID};

	worker_tx_begin();
	SPI_connect();
	if (SPI_execute_with_args("SELECT pg_try_advisory_lock(hashtext('collect.outbox_worker'), $1)",
							  1, types, arg, NULL, false, 1) == SPI_OK_SELECT)
		got = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	worker_tx_commit();
	return got;
}

extern void outbox_poll_status(void);

/* one round: returns how long to sleep (ms), 0 to go again at once */
/*
 * A claim that keeps failing with a non-transient error (for example a
 * stop-rule function raising for one row) must not stall the queue: after
 * a failure the worker claims one row at a time, and after three failures
 * in a row it sets the next due row aside as dead (with its error text).
 */
static bool in_claim = false;
static int	claim_failures = 0;
#define CLAIM_FAILURES_BEFORE_QUARANTINE 3

static bool
error_is_transient(int sqlerrcode)
{
	int			class = ERRCODE_TO_CATEGORY(sqlerrcode);

	return class == ERRCODE_TO_CATEGORY(ERRCODE_TRANSACTION_ROLLBACK) ||
		class == ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES) ||
		class == ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION) ||
		class == ERRCODE_TO_CATEGORY(ERRCODE_CONNECTION_EXCEPTION) ||
		class == ERRCODE_TO_CATEGORY(ERRCODE_UNDEFINED_TABLE) ||	/* 42: extension changing */
		sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
}

static char claim_error[256];

/*
 * Record a sent batch. The outcomes exist only in this process once the
 * requests are out: a finish lost to a deadlock or a serialization failure
 * (another worker's finish, a tick) would leave the rows `sending` until
 * their lease expires and then send them again, so a transient error is
 * retried at once, a few times, in a new transaction.
 */
#define FINISH_ATTEMPTS 5

static void
finish_batch(Delivery *ds, int n)
{
	MemoryContext mcxt = CurrentMemoryContext;

	for (int attempt = 1;; attempt++)
	{
		bool		done = false;

		PG_TRY();
		{
			worker_tx_begin();
			outbox_finish(ds, n);
			worker_tx_commit();
			done = true;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(mcxt);
			edata = CopyErrorData();
			if (attempt >= FINISH_ATTEMPTS || !error_is_transient(edata->sqlerrcode))
				PG_RE_THROW();
			FlushErrorState();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(mcxt);
			elog(LOG, "collect worker: recording a batch of %d failed (%s); trying again", n, edata->message);
			pg_usleep(10000L * attempt);
		}
		PG_END_TRY();
		if (done)
			return;
	}
}

static long
worker_round(bool *started)
{
	OutboxMessage *msgs;
	Delivery   *ds;
	int			n;
	static TimestampTz last_ready_check = 0;
	static TimestampTz last_reclaim = 0;
	static TimestampTz last_poll = 0;
	static bool ready = false;
	TimestampTz now = GetCurrentTimestamp();
	double		next;

	if (!worker_enabled)
	{
		status_state("disabled");
		return worker_idle_seconds * 1000L;
	}
	if (!ready || TimestampDifferenceExceeds(last_ready_check, now, 5000))
	{
		bool		was_ready = ready;
		const char *unready;

		worker_tx_begin();
		unready = outbox_extension_unready();
		worker_tx_commit();
		ready = unready == NULL;
		last_ready_check = now;
		if (!ready)
		{
			if (was_ready || !*started)
				elog(LOG, "collect worker: %s in database \"%s\"; waiting", unready, collect_database);
			*started = true;
			status_state("waiting for extension");
			return worker_idle_seconds * 1000L;
		}
		if (!was_ready)
		{
			while (!take_worker_lock())
			{
				status_state("waiting for lock");
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				if (worker_got_sigterm)
					return 0;
			}
			worker_tx_begin();
			n = outbox_reclaim(true);
			worker_tx_commit();
			if (n > 0)
				elog(LOG, "collect worker: %d message(s) left sending by a stopped worker are queued again", n);
			last_reclaim = now;
		}
	}
	*started = true;
	status_state("running");
	if (TimestampDifferenceExceeds(last_reclaim, now, 10000))
	{
		worker_tx_begin();
		outbox_reclaim(false);
		worker_tx_commit();
		last_reclaim = now;
	}

	/*
	 * The claim may commit asynchronously: if it is lost in a crash the rows
	 * are simply still queued. The finish below is durable (it flushes the
	 * claim's WAL too).
	 */
	worker_tx_begin();
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	if (claim_failures >= CLAIM_FAILURES_BEFORE_QUARANTINE)
	{
		n = outbox_quarantine_next(claim_error);
		worker_tx_commit();
		claim_failures = 0;
		if (n > 0)
			elog(WARNING, "collect worker: the claim failed %d times in a row; the next due message was set aside as dead",
				 CLAIM_FAILURES_BEFORE_QUARANTINE);
		return 0;
	}
	in_claim = true;
	n = outbox_claim(claim_failures > 0 ? 1 : worker_batch_size, &msgs);
	in_claim = false;
	worker_tx_commit();
	claim_failures = 0;
	if (n > 0)
	{
		/*
		 * A charge moves money: its claim (attempts + 1) must survive a
		 * crash before the request can reach the provider, or recovery
		 * would show an untried charge that the plans module or the
		 * paid-up rule may cancel although it went through. attempts > 0
		 * then means "may have reached the provider" (see outbox.c).
		 */
		for (int i = 0; i < n; i++)
			if (strcmp(msgs[i].channel, "charge") == 0)
			{
				XLogFlush(XactLastCommitEnd);
				break;
			}
		ds = deliver_batch(msgs, n);	/* no transaction open */
		finish_batch(ds, n);
		SpinLockAcquire(&me->mutex);
		me->batches++;
		me->last_batch = GetCurrentTimestamp();
		SpinLockRelease(&me->mutex);
		pgstat_report_stat(false);
	}
	/* polling also runs under a steady backlog; one worker does it */
	if (worker_slot == 0 && worker_poll_seconds > 0 &&
		TimestampDifferenceExceeds(last_poll, now, worker_poll_seconds * 1000))
	{
		last_poll = now;
		outbox_poll_status();
		llm_classify_pending();
	}
	if (n >= worker_batch_size)
		return 0;
	worker_tx_begin();
	next = outbox_next_due_seconds();
	worker_tx_commit();
	if (next < 0)
		return worker_idle_seconds * 1000L;
	return (long) Min(next * 1000.0 + 1, worker_idle_seconds * 1000.0);
}

/* pg_database read without a database, as the autovacuum launcher does */
static Oid
database_lookup(const char *name)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid			found = InvalidOid;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0)
			found = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return found;
}

/*
 * Phase one, while collect.database does not exist: connected to no
 * database (shared catalogs only), look for it every idle timeout, quietly;
 * once it exists, exit so that the postmaster restarts us (1 s) to connect
 * to it. A background worker can pick its database only once.
 */
static void
wait_for_database(void)
{
	bool		logged = false;

	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	status_state("waiting for database");
	while (!worker_got_sigterm)
	{
		Oid			db;

		db = database_lookup(collect_database);
		if (OidIsValid(db))
		{
			shared->database_seen = true;
			proc_exit(1);		/* restart, then connect */
		}
		if (!logged)
			elog(LOG, "collect worker: database \"%s\" (collect.database) does not exist; waiting", collect_database);
		logged = true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 worker_idle_seconds * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
	status_state("stopped");
	proc_exit(1);				/* as in collect_worker_main: a terminate is a restart */
}

void
collect_worker_main(Datum arg)
{
	MemoryContext loop_ctx;
	bool		started = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, worker_sigterm);
	BackgroundWorkerUnblockSignals();
	am_worker = true;
	worker_slot = DatumGetInt32(arg);
	me = &shared->slots[worker_slot];

	if (!shared->database_seen)
		wait_for_database();
	/* a FATAL here (database dropped meanwhile) restarts us in phase one */
	shared->database_seen = false;
	BackgroundWorkerInitializeConnection(collect_database, NULL, 0);
	shared->database_seen = true;
	pgstat_report_appname("collect outbox worker");
	/*
	 * The worker runs kept plans over batches, whose estimates can pass
	 * jit_above_cost: a kept plan is JIT-compiled again at every execution
	 * (hundreds of ms per batch, far more than running it).
	 */
	SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	/*
	 * Memory freed at the end of a batch stays in the heap for the next one
	 * instead of going back to the kernel at every free (glibc's default
	 * trims and unmaps eagerly, and the next batch page-faults it all back
	 * in). malloc_trim() below still returns it whenever the worker idles.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);

	SpinLockAcquire(&me->mutex);
	me->pid = MyProcPid;
	me->latch = MyLatch;
	me->started_at = GetCurrentTimestamp();
	me->in_flight = 0;
	SpinLockRelease(&me->mutex);

	loop_ctx = AllocSetContextCreate(TopMemoryContext, "collect worker loop", ALLOCSET_DEFAULT_SIZES);

	while (!worker_got_sigterm)
	{
		long		sleep_ms = 0;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(loop_ctx);
		MemoryContextSwitchTo(loop_ctx);
		PG_TRY();
		{
			sleep_ms = worker_round(&started);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(loop_ctx);
			edata = CopyErrorData();
			if (in_claim && !error_is_transient(edata->sqlerrcode))
			{
				claim_failures++;
				strlcpy(claim_error, edata->message ? edata->message : "unknown error", sizeof(claim_error));
			}
			in_claim = false;
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			outbox_reset_plans();
			http_shutdown();
			SpinLockAcquire(&me->mutex);
			me->errors++;
			strlcpy(me->state, "error backoff", sizeof(me->state));
			SpinLockRelease(&me->mutex);
			sleep_ms = 5000;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(TopMemoryContext);
		/* the batch's memory goes before sleeping, not after */
		MemoryContextReset(loop_ctx);
		if (sleep_ms > 0)
			malloc_trim(0);		/* idle: hand freed heap back to the OS */

		if (sleep_ms > 0 && !worker_got_sigterm)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		SpinLockAcquire(&me->mutex);
		me->last_wake = GetCurrentTimestamp();
		SpinLockRelease(&me->mutex);
		CHECK_FOR_INTERRUPTS();
	}
	status_state("stopped");
	SpinLockAcquire(&me->mutex);
	me->latch = NULL;
	me->pid = 0;
	SpinLockRelease(&me->mutex);
	http_shutdown();
	/*
	 * Exit code 1: pg_terminate_backend() acts as a restart (the postmaster
	 * starts us again after 1 s); at server shutdown nothing is restarted.
	 */
	proc_exit(1);
}
