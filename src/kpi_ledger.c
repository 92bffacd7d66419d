/*
 * kpi_ledger.c: the ledger's KPI rollup. Called by the ledger's statement
 * trigger (ledger.c) after the account upkeep, with the statement's rows
 * summed per patient and practice-local day, and each account's balance
 * and segment before the statement and its balance after. It adds them to
 * collect.kpi_daily: sums by kind per (practice, local day, the account's
 * segment before the statement), and resolutions (a patient whose balance
 * was > 0 before the statement and is <= 0 after it), with or without a
 * staff task ever created for that patient up to the resolving posting.
 *
 * Cost: one task probe per resolution, then one upsert per (practice, day,
 * segment), written in key order so that concurrent statements never
 * deadlock. A row that exists is added to directly through its primary key
 * (direct_row.c) when that is what the upsert's UPDATE would do; the
 * upsert creates the rest. Never: network, wall clock (days come from posted_at),
 * decisions about accounts, per-row SQL.
 */
#include "collect.h"

#include "utils/hsearch.h"

#include "access/xact.h"
#include "utils/fmgrprotos.h"

#include "account_upkeep.h"
#include "direct_row.h"
#include "dunning.h"
#include "kpi.h"

/* practice_id is at most 64 characters (CHECK in 00_core.sql) */
#define KPI_ID_LEN 65

/* one kpi_daily row to upsert */
typedef struct KpiRowKey
{
	char		practice[KPI_ID_LEN];
	DateADT		day;
	char		segment[ACCOUNT_SEGMENT_LEN];
} KpiRowKey;

typedef struct KpiRow
{
	KpiRowKey	key;
	Cents		sums[LEDGER_KINDS];
	int			resolved,
				no_touch;
} KpiRow;

typedef struct KpiLedgerPlans
{
	SPIPlanPtr	task;
	SPIPlanPtr	upsert;
} KpiLedgerPlans;

static KpiLedgerPlans kplans;

static void
kpi_prepare_plans(void)
{
	Oid			t3[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Oid			upsert_types[12] = {TEXTOID, DATEOID, TEXTOID, INT2OID, NUMERICOID, NUMERICOID,
	NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, INT4OID, INT4OID};

	if (kplans.upsert != NULL)
		return;
	dunning_plan(&kplans.task, "SELECT EXISTS (SELECT 1 FROM collect.task"
				 " WHERE practice_id = $1 AND patient_id = $2 AND created_at <= $3)", 3, t3);
	dunning_plan(&kplans.upsert,
				 "INSERT INTO collect.kpi_daily AS k (practice_id, day, segment, slot, charges, payments,"
				 "  reversals, refunds, adjustments, write_offs, resolved, resolved_no_touch)"
				 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
				 " ON CONFLICT (practice_id, day, segment, slot) DO UPDATE SET"
				 "  charges = k.charges + EXCLUDED.charges, payments = k.payments + EXCLUDED.payments,"
				 "  reversals = k.reversals + EXCLUDED.reversals, refunds = k.refunds + EXCLUDED.refunds,"
				 "  adjustments = k.adjustments + EXCLUDED.adjustments,"
				 "  write_offs = k.write_offs + EXCLUDED.write_offs,"
				 "  resolved = k.resolved + EXCLUDED.resolved,"
				 "  resolved_no_touch = k.resolved_no_touch + EXCLUDED.resolved_no_touch",
				 12, upsert_types);
}

static KpiRow *
kpi_row(HTAB *rows, const char *practice, DateADT day, const char *segment)
{
	KpiRowKey	key;
	KpiRow	   *row;
	bool		found;

	memset(&key, 0, sizeof(key));
	strlcpy(key.practice, practice, KPI_ID_LEN);
	key.day = day;
	strlcpy(key.segment, segment, ACCOUNT_SEGMENT_LEN);
	row = hash_search(rows, &key, HASH_ENTER, &found);
	if (!found)
	{
		memset(row->sums, 0, sizeof(row->sums));
		row->resolved = row->no_touch = 0;
	}
	return row;
}

/* Add one patient's rows (and resolution) to the output. */
static void
kpi_patient_rows(HTAB *rows, const PatientDelta *p)
{
	const char *sep = strchr(p->key, '\x1f');
	char		practice[KPI_ID_LEN];

	strlcpy(practice, p->key, Min(sep - p->key + 1, KPI_ID_LEN));
	for (int i = 0; i < p->n_days; i++)
	{
		KpiRow	   *row = kpi_row(rows, practice, p->days[i].day, p->old_segment);

		for (int k = 0; k < LEDGER_KINDS; k++)
			row->sums[k] += p->days[i].sums[k];
	}

	if (p->old_balance > 0 && p->new_balance <= 0)
	{
		KpiRow	   *row = kpi_row(rows, practice, p->last_posted_day, p->old_segment);
		Datum		args[3];
		bool		isnull;
		bool		touched;

		args[0] = CStringGetTextDatum(practice);
		args[1] = CStringGetTextDatum(sep + 1);
		args[2] = TimestampTzGetDatum(p->last_posted_at);
		if (SPI_execute_plan(kplans.task, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "reading the tasks failed");
		touched = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_freetuptable(SPI_tuptable);
		row->resolved++;
		if (!touched)
			row->no_touch++;
	}
}

static int
kpi_compare_rows(const void *a, const void *b)
{
	const KpiRowKey *x = &(*(KpiRow *const *) a)->key;
	const KpiRowKey *y = &(*(KpiRow *const *) b)->key;
	int			c = strcmp(x->practice, y->practice);

	if (c != 0)
		return c;
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return strcmp(x->segment, y->segment);
}

/* collect.kpi_daily opened for direct writes, with the numbers of the columns added to */
typedef struct DirectKpi
{
	DirectTable *t;
	const AttrNumber *att;		/* the sums by LedgerKind, then KPI_RESOLVED, KPI_NO_TOUCH */
} DirectKpi;
#define KPI_RESOLVED LEDGER_KINDS
#define KPI_NO_TOUCH (LEDGER_KINDS + 1)

static bool
kpi_direct_open(DirectKpi *dk)
{
	static const char *const names[LEDGER_KINDS + 2] = {
		"charges", "payments", "reversals", "refunds", "adjustments", "write_offs",
		"resolved", "resolved_no_touch"
	};
	static DirectColumns columns = {lengthof(names), names};

	dk->t = direct_open("kpi_daily", &columns, &dk->att);
	return dk->t != NULL;
}

static void
kpi_direct_add_int(DirectKpi *dk, AttrNumber att, int add)
{
	bool		isnull;

	if (add != 0)
		direct_set(dk->t, att, Int32GetDatum(DatumGetInt32(direct_value(dk->t, att, &isnull)) + add), false);
}

/* Add the row to its existing kpi_daily row (key: args[0..3]); false if there is none. */
static bool
kpi_add_direct(DirectKpi *dk, const KpiRow *row, const Datum *key)
{
	for (;;)
	{
		if (!direct_fetch(dk->t, key, false))
			return false;
		direct_begin(dk->t);
		for (int k = 0; k < LEDGER_KINDS; k++)
		{
			bool		isnull;

			/* a posting touches one or two of the six sums: read only those */
			if (row->sums[k] != 0)
				direct_set(dk->t, dk->att[k],
						   DirectFunctionCall2(numeric_add, direct_value(dk->t, dk->att[k], &isnull),
											   cents_to_numeric(row->sums[k])), false);
		}
		kpi_direct_add_int(dk, dk->att[KPI_RESOLVED], row->resolved);
		kpi_direct_add_int(dk, dk->att[KPI_NO_TOUCH], row->no_touch);
		if (direct_write(dk->t))
			return true;
		/* a concurrent statement added to it first: read it again */
	}
}

static void
kpi_upsert(const KpiRow *row, DirectKpi *dk)
{
	Datum		args[12];

	args[0] = CStringGetTextDatum(row->key.practice);
	args[1] = DateADTGetDatum(row->key.day);
	args[2] = CStringGetTextDatum(row->key.segment);
	args[3] = Int16GetDatum((int16) (MyProcPid % KPI_SLOTS));
	if (dk != NULL && kpi_add_direct(dk, row, args))
		return;
	for (int k = 0; k < LEDGER_KINDS; k++)
		args[4 + k] = cents_to_numeric(row->sums[k]);
	args[10] = Int32GetDatum(row->resolved);
	args[11] = Int32GetDatum(row->no_touch);
	if (SPI_execute_plan(kplans.upsert, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "KPI rollup upsert failed");
}

/* Add the statement's per-patient sums to collect.kpi_daily, rows in key order. */
void
kpi_ledger_write(PatientDelta **deltas, long n)
{
	MemoryContext ctx,
				loop_ctx,
				old_ctx;
	HTAB	   *rows;
	HASHCTL		ctl;
	HASH_SEQ_STATUS seq;
	KpiRow	   *row;
	KpiRow	  **sorted;
	long		n_rows = 0;
	DirectKpi	dk;
	bool		direct;

	ctx = AllocSetContextCreate(CurrentMemoryContext, "collect KPI rollup", ALLOCSET_DEFAULT_SIZES);
	old_ctx = MemoryContextSwitchTo(ctx);
	kpi_prepare_plans();

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(KpiRowKey);
	ctl.entrysize = sizeof(KpiRow);
	ctl.hcxt = ctx;
	rows = hash_create("collect KPI rows", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	loop_ctx = AllocSetContextCreate(ctx, "collect KPI patient", ALLOCSET_SMALL_SIZES);
	for (long i = 0; i < n; i++)
	{
		MemoryContextSwitchTo(loop_ctx);
		kpi_patient_rows(rows, deltas[i]);
		MemoryContextSwitchTo(ctx);
		MemoryContextReset(loop_ctx);
		if ((i & 255) == 255)
			CHECK_FOR_INTERRUPTS();
	}

	sorted = palloc(sizeof(KpiRow *) * Max(hash_get_num_entries(rows), 1));
	hash_seq_init(&seq, rows);
	while ((row = hash_seq_search(&seq)) != NULL)
		sorted[n_rows++] = row;
	qsort(sorted, n_rows, sizeof(KpiRow *), kpi_compare_rows);
	direct = kpi_direct_open(&dk);
	for (long i = 0; i < n_rows; i++)
	{
		MemoryContextSwitchTo(loop_ctx);
		kpi_upsert(sorted[i], direct ? &dk : NULL);
		MemoryContextSwitchTo(ctx);
		MemoryContextReset(loop_ctx);
	}
	if (direct)
	{
		direct_close(dk.t);
		CommandCounterIncrement();
	}

	MemoryContextSwitchTo(old_ctx);
	MemoryContextDelete(ctx);
}
