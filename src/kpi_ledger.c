/*
 * kpi_ledger.c: the ledger's KPI rollup. An AFTER INSERT statement trigger
 * over the transition table that adds the statement's rows to
 * collect.kpi_daily: sums by kind per (practice, practice-local day, the
 * account's segment before the statement), and resolutions (a patient whose
 * balance was > 0 before the statement and is <= 0 after it), with or
 * without a staff task ever created for that patient up to the resolving
 * posting.
 *
 * Cost: one pass over the rows in memory, one account read per patient
 * (plus one task probe per resolution), then one upsert per (practice, day,
 * segment), written in key order so that concurrent statements never
 * deadlock. The trigger is named to fire before the account upkeep
 * (ledger_account_kpi < ledger_account_upkeep), so the account row it reads
 * is the state before the statement.
 *
 * Never: network, wall clock (days come from posted_at), decisions about
 * accounts, per-row SQL.
 */
#include "collect.h"

#include "commands/trigger.h"
#include "utils/hsearch.h"

#include "dunning.h"
#include "kpi.h"

PG_FUNCTION_INFO_V1(kpi_ledger_rollup);

/* practice_id and patient_id are at most 64 characters (CHECKs in 00_core.sql) */
#define KPI_ID_LEN 65
#define KPI_PATIENT_KEY_LEN (2 * KPI_ID_LEN + 2)
#define KPI_SEGMENT_LEN 24

enum
{
	K_CHARGE, K_PAYMENT, K_REVERSAL, K_REFUND, K_ADJUSTMENT, K_WRITE_OFF, K_KINDS
};

static const char *const kind_names[K_KINDS] = {
	"charge", "payment", "reversal", "refund", "adjustment", "write_off"
};

/* one patient's rows of one local day */
typedef struct KpiDay
{
	DateADT		day;
	Cents		sums[K_KINDS];
} KpiDay;

/* what the statement did to one patient */
typedef struct KpiPatient
{
	char		key[KPI_PATIENT_KEY_LEN];	/* practice_id US patient_id */
	int			practice;		/* index into the statement's practices */
	Cents		delta;			/* signed sum */
	TimestampTz last_at;
	int			n_days,
				cap_days;
	KpiDay	   *days;
} KpiPatient;

/* one kpi_daily row to upsert */
typedef struct KpiRowKey
{
	char		practice[KPI_ID_LEN];
	DateADT		day;
	char		segment[KPI_SEGMENT_LEN];
} KpiRowKey;

typedef struct KpiRow
{
	KpiRowKey	key;
	Cents		sums[K_KINDS];
	int			resolved,
				no_touch;
} KpiRow;

typedef struct KpiPractice
{
	char		id[KPI_ID_LEN];
	pg_tz	   *tz;
} KpiPractice;

typedef struct KpiLedgerPlans
{
	SPIPlanPtr	timezone;
	SPIPlanPtr	account;
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
	dunning_plan(&kplans.timezone, "SELECT timezone FROM collect.practice WHERE practice_id = $1", 1, t3);
	dunning_plan(&kplans.account, "SELECT balance, segment FROM collect.account"
				 " WHERE practice_id = $1 AND patient_id = $2", 2, t3);
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

static int
kpi_kind(text *kind)
{
	int			len = VARSIZE_ANY_EXHDR(kind);

	for (int k = 0; k < K_KINDS; k++)
		if ((int) strlen(kind_names[k]) == len && memcmp(VARDATA_ANY(kind), kind_names[k], len) == 0)
			return k;
	elog(ERROR, "ledger row of unknown kind \"%.*s\"", len, VARDATA_ANY(kind));
	return -1;					/* keep the compiler quiet */
}

/* the statement's practices, each looked up once */
static int
kpi_practice(List **practices, const char *id, int len)
{
	ListCell   *lc;
	KpiPractice *p;
	Datum		arg;
	int			i = 0;

	foreach(lc, *practices)
	{
		p = lfirst(lc);
		if ((int) strlen(p->id) == len && memcmp(p->id, id, len) == 0)
			return i;
		i++;
	}
	p = palloc0(sizeof(KpiPractice));
	memcpy(p->id, id, len);
	arg = PointerGetDatum(cstring_to_text_with_len(id, len));
	if (SPI_execute_plan(kplans.timezone, &arg, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ledger row for a practice that does not exist");
	p->tz = timezone_lookup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_freetuptable(SPI_tuptable);
	if (p->tz == NULL)
		elog(ERROR, "practice has an invalid time zone");
	*practices = lappend(*practices, p);
	return i;
}

static void
kpi_add_row(HTAB *patients, List **practices, TupleTableSlot *slot, const int *att)
{
	text	   *practice = DatumGetTextPP(slot->tts_values[att[0]]);
	text	   *patient = DatumGetTextPP(slot->tts_values[att[1]]);
	int			kind = kpi_kind(DatumGetTextPP(slot->tts_values[att[2]]));
	Cents		amount = numeric_to_cents(slot->tts_values[att[3]]);
	TimestampTz at = DatumGetTimestampTz(slot->tts_values[att[4]]);
	int			plen = VARSIZE_ANY_EXHDR(practice);
	int			qlen = VARSIZE_ANY_EXHDR(patient);
	char		key[KPI_PATIENT_KEY_LEN];
	KpiPatient *p;
	KpiPractice *pr;
	DateADT		day;
	KpiDay	   *d = NULL;
	bool		found;

	if (plen >= KPI_ID_LEN || qlen >= KPI_ID_LEN)
		elog(ERROR, "practice_id or patient_id too long");
	memset(key, 0, sizeof(key));
	memcpy(key, VARDATA_ANY(practice), plen);
	key[plen] = '\x1f';
	memcpy(key + plen + 1, VARDATA_ANY(patient), qlen);

	p = hash_search(patients, key, HASH_ENTER, &found);
	if (!found)
	{
		p->practice = kpi_practice(practices, VARDATA_ANY(practice), plen);
		p->delta = 0;
		p->last_at = at;
		p->n_days = 0;
		p->cap_days = 2;
		p->days = palloc(sizeof(KpiDay) * p->cap_days);
	}
	pr = list_nth(*practices, p->practice);
	day = local_date(at, pr->tz);
	for (int i = p->n_days - 1; i >= 0 && d == NULL; i--)
		if (p->days[i].day == day)
			d = &p->days[i];
	if (d == NULL)
	{
		if (p->n_days == p->cap_days)
		{
			p->cap_days *= 2;
			p->days = repalloc(p->days, sizeof(KpiDay) * p->cap_days);
		}
		d = &p->days[p->n_days++];
		memset(d, 0, sizeof(KpiDay));
		d->day = day;
	}
	d->sums[kind] += amount;
	p->delta += (kind == K_CHARGE || kind == K_REFUND || kind == K_REVERSAL) ? amount : -amount;
	p->last_at = Max(p->last_at, at);
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
	strlcpy(key.segment, segment, KPI_SEGMENT_LEN);
	row = hash_search(rows, &key, HASH_ENTER, &found);
	if (!found)
	{
		memset(row->sums, 0, sizeof(row->sums));
		row->resolved = row->no_touch = 0;
	}
	return row;
}

/* Read the patient's account before the statement and add its rows to the output. */
static void
kpi_patient_rows(HTAB *rows, List *practices, KpiPatient *p)
{
	const char *sep = strchr(p->key, '\x1f');
	KpiPractice *pr = list_nth(practices, p->practice);
	Datum		args[3];
	Cents		old_balance = 0;
	char		segment[KPI_SEGMENT_LEN] = "settled";

	args[0] = PointerGetDatum(cstring_to_text_with_len(p->key, sep - p->key));
	args[1] = CStringGetTextDatum(sep + 1);
	if (SPI_execute_plan(kplans.account, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the account failed");
	if (SPI_processed == 1)
	{
		bool		isnull;

		old_balance = numeric_to_cents(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		strlcpy(segment, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), KPI_SEGMENT_LEN);
	}
	SPI_freetuptable(SPI_tuptable);

	for (int i = 0; i < p->n_days; i++)
	{
		KpiRow	   *row = kpi_row(rows, pr->id, p->days[i].day, segment);

		for (int k = 0; k < K_KINDS; k++)
			row->sums[k] += p->days[i].sums[k];
	}

	if (old_balance > 0 && old_balance + p->delta <= 0)
	{
		KpiRow	   *row = kpi_row(rows, pr->id, local_date(p->last_at, pr->tz), segment);
		bool		isnull;
		bool		touched;

		args[2] = TimestampTzGetDatum(p->last_at);
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

static void
kpi_upsert(const KpiRow *row)
{
	Datum		args[12];

	args[0] = CStringGetTextDatum(row->key.practice);
	args[1] = DateADTGetDatum(row->key.day);
	args[2] = CStringGetTextDatum(row->key.segment);
	args[3] = Int16GetDatum((int16) (MyProcPid % KPI_SLOTS));
	for (int k = 0; k < K_KINDS; k++)
		args[4 + k] = cents_to_numeric(row->sums[k]);
	args[10] = Int32GetDatum(row->resolved);
	args[11] = Int32GetDatum(row->no_touch);
	if (SPI_execute_plan(kplans.upsert, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "KPI rollup upsert failed");
}

static int
kpi_attnum(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	elog(ERROR, "collect.ledger has no column \"%s\"", name);
	return -1;
}

/*
 * AFTER INSERT ON collect.ledger FOR EACH STATEMENT, REFERENCING NEW TABLE.
 */
Datum
kpi_ledger_rollup(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	int			att[5];
	MemoryContext ctx,
				loop_ctx,
				old_ctx;
	HTAB	   *patients,
			   *rows;
	HASHCTL		ctl;
	HASH_SEQ_STATUS seq;
	TupleTableSlot *slot;
	List	   *practices = NIL;
	KpiPatient *p;
	KpiRow	   *row;
	KpiRow	  **sorted;
	long		n = 0;
	uint64		count = 0;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || td->tg_newtable == NULL)
		elog(ERROR, "kpi_ledger_rollup: must be an AFTER INSERT statement trigger with a NEW TABLE");
	if (tuplestore_tuple_count(td->tg_newtable) == 0)
		return PointerGetDatum(NULL);

	desc = RelationGetDescr(td->tg_relation);
	att[0] = kpi_attnum(desc, "practice_id");
	att[1] = kpi_attnum(desc, "patient_id");
	att[2] = kpi_attnum(desc, "kind");
	att[3] = kpi_attnum(desc, "amount");
	att[4] = kpi_attnum(desc, "posted_at");

	ctx = AllocSetContextCreate(CurrentMemoryContext, "collect KPI rollup", ALLOCSET_DEFAULT_SIZES);
	old_ctx = MemoryContextSwitchTo(ctx);
	SPI_connect();
	kpi_prepare_plans();
	MemoryContextSwitchTo(ctx);	/* SPI_connect switched to its own context */

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = KPI_PATIENT_KEY_LEN;
	ctl.entrysize = sizeof(KpiPatient);
	ctl.hcxt = ctx;
	patients = hash_create("collect KPI patients", 256, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	ctl.keysize = sizeof(KpiRowKey);
	ctl.entrysize = sizeof(KpiRow);
	rows = hash_create("collect KPI rows", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/* 1. one pass over the rows: per patient, per local day, sums by kind */
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	tuplestore_rescan(td->tg_newtable);
	while (tuplestore_gettupleslot(td->tg_newtable, true, false, slot))
	{
		if ((++count & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		slot_getallattrs(slot);
		kpi_add_row(patients, &practices, slot, att);
	}
	ExecDropSingleTupleTableSlot(slot);

	/* 2. per patient: the account before the statement, resolutions */
	loop_ctx = AllocSetContextCreate(ctx, "collect KPI patient", ALLOCSET_SMALL_SIZES);
	hash_seq_init(&seq, patients);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		MemoryContextSwitchTo(loop_ctx);
		kpi_patient_rows(rows, practices, p);
		MemoryContextSwitchTo(ctx);
		MemoryContextReset(loop_ctx);
		if ((++n & 255) == 0)
			CHECK_FOR_INTERRUPTS();
	}

	/* 3. one upsert per (practice, day, segment), in key order */
	sorted = palloc(sizeof(KpiRow *) * Max(hash_get_num_entries(rows), 1));
	n = 0;
	hash_seq_init(&seq, rows);
	while ((row = hash_seq_search(&seq)) != NULL)
		sorted[n++] = row;
	qsort(sorted, n, sizeof(KpiRow *), kpi_compare_rows);
	for (long i = 0; i < n; i++)
	{
		MemoryContextSwitchTo(loop_ctx);
		kpi_upsert(sorted[i]);
		MemoryContextSwitchTo(ctx);
		MemoryContextReset(loop_ctx);
	}

	SPI_finish();
	MemoryContextSwitchTo(old_ctx);
	MemoryContextDelete(ctx);
	return PointerGetDatum(NULL);
}
