/*
 * ledger.c: the ledger triggers. They run for every posted row: external_id
 * idempotency (an identical repost is a no-op, a different one an error),
 * append-only enforcement, and the account upkeep (balance, FIFO due_since,
 * aging, segment, state) in the same transaction as the insert. No
 * network, no wall clock: dates come from the rows' posted_at.
 *
 * The upkeep is a statement-level trigger over the transition table: rows
 * are summed per patient in memory and each touched account is written
 * once, in key order so that concurrent statements never deadlock. The
 * account row is updated with relative deltas under its row lock, so
 * concurrent inserts for one patient never lose an update.
 */
#include "collect.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "commands/trigger.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "account.h"
#include "account_upkeep.h"
#include "dunning.h"

/* Column numbers of collect.ledger, looked up by name once per relation */
typedef struct LedgerColumns
{
	Oid			relid;
	Oid			external_index;	/* UNIQUE (practice_id, external_id) */
	AttrNumber	practice,
				entry,
				patient,
				external,
				kind,
				amount,
				posted_at;
	/* compared for idempotency: everything the PM system sends but posted_at */
	int			n_compared;
	AttrNumber	compared[10];
} LedgerColumns;

static LedgerColumns ledger_columns_cache;

PG_FUNCTION_INFO_V1(ledger_before_insert);
PG_FUNCTION_INFO_V1(ledger_after_insert);
PG_FUNCTION_INFO_V1(ledger_refuse_change);

static AttrNumber
column_number(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	elog(ERROR, "collect.ledger has no column \"%s\"", name);
}

static const LedgerColumns *
ledger_columns(Relation rel)
{
	LedgerColumns *c = &ledger_columns_cache;
	TupleDesc	desc = RelationGetDescr(rel);
	static const char *const compared[] = {
		"patient_id", "kind", "amount", "service_date", "visit_id",
		"billed_amount", "insurance_paid", "method", "note"
	};
	List	   *indexes;
	ListCell   *lc;

	if (c->relid == RelationGetRelid(rel))
		return c;

	c->practice = column_number(desc, "practice_id");
	c->entry = column_number(desc, "entry_id");
	c->patient = column_number(desc, "patient_id");
	c->external = column_number(desc, "external_id");
	c->kind = column_number(desc, "kind");
	c->amount = column_number(desc, "amount");
	c->posted_at = column_number(desc, "posted_at");
	c->n_compared = lengthof(compared);
	for (int i = 0; i < c->n_compared; i++)
		c->compared[i] = column_number(desc, compared[i]);

	c->external_index = InvalidOid;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;

		if (form->indisunique && form->indnkeyatts == 2 &&
			form->indkey.values[0] == c->practice && form->indkey.values[1] == c->external)
			c->external_index = RelationGetRelid(index);
		index_close(index, AccessShareLock);
	}
	list_free(indexes);
	if (!OidIsValid(c->external_index))
		elog(ERROR, "collect.ledger has lost its UNIQUE (practice_id, external_id) index");
	c->relid = RelationGetRelid(rel);
	return c;
}

/*
 * BEFORE INSERT, for each row: an external_id already posted is a no-op
 * when every value matches and an error when one differs. The probe uses
 * the unique index with SnapshotSelf, so it also sees rows posted earlier
 * in the same statement (a COPY with a repeated line).
 */
Datum
ledger_before_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	newtup;
	const LedgerColumns *c;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	old;
	bool		isnull;
	Datum		posted_at;
	HeapTuple	result;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		elog(ERROR, "ledger_before_insert: must be a BEFORE INSERT row trigger");

	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	newtup = td->tg_trigtuple;
	result = newtup;
	c = ledger_columns(rel);

	posted_at = heap_getattr(newtup, c->posted_at, desc, &isnull);
	if (!isnull && TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(posted_at)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("ledger posted_at must be a finite timestamp")));

	/* a missing key is the NOT NULL constraint's to report */
	if (heap_attisnull(newtup, c->practice, desc) || heap_attisnull(newtup, c->external, desc))
		return PointerGetDatum(newtup);
	ScanKeyInit(&keys[0], c->practice, BTEqualStrategyNumber, F_TEXTEQ,
				heap_getattr(newtup, c->practice, desc, &isnull));
	ScanKeyInit(&keys[1], c->external, BTEqualStrategyNumber, F_TEXTEQ,
				heap_getattr(newtup, c->external, desc, &isnull));
	keys[0].sk_collation = keys[1].sk_collation = DEFAULT_COLLATION_OID;
	scan = systable_beginscan(rel, c->external_index, true, SnapshotSelf, 2, keys);
	old = systable_getnext(scan);
	if (HeapTupleIsValid(old))
	{
		const char *differs = NULL;

		for (int i = 0; i < c->n_compared && differs == NULL; i++)
		{
			AttrNumber	att = c->compared[i];
			Form_pg_attribute form = TupleDescAttr(desc, att - 1);
			bool		old_null,
						new_null;
			Datum		old_value = heap_getattr(old, att, desc, &old_null);
			Datum		new_value = heap_getattr(newtup, att, desc, &new_null);

			if (old_null != new_null ||
				(!old_null && !datum_image_eq(old_value, new_value, form->attbyval, form->attlen)))
				differs = NameStr(form->attname);
		}
		if (differs != NULL)
		{
			bool		n;
			char	   *external = TextDatumGetCString(heap_getattr(newtup, c->external, desc, &n));

			systable_endscan(scan);
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("ledger entry \"%s\" was already posted with different values", external),
					 errdetail("Column \"%s\" differs from the posted entry.", differs),
					 errhint("The ledger is append-only: post a correction (adjustment, reversal, refund) with a new external_id.")));
		}
		result = NULL;			/* identical repost: nothing to do */
	}
	systable_endscan(scan);
	return PointerGetDatum(result);
}

/* UPDATE, DELETE and TRUNCATE of the ledger are refused. */
Datum
ledger_refuse_change(PG_FUNCTION_ARGS)
{
	const char *what = refused_change_name(fcinfo, "ledger_refuse_change");

	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("collect.ledger is append-only: %s is not allowed", what),
			 errhint("Post a correction as a new row: an adjustment, reversal or refund.")));
	PG_RETURN_NULL();
}

static int
compare_deltas(const void *a, const void *b)
{
	return strcmp((*(PatientDelta *const *) a)->key, (*(PatientDelta *const *) b)->key);
}

static LedgerKind
ledger_kind(text *kind)
{
	static const char *const names[LEDGER_KINDS] = {
		"charge", "payment", "reversal", "refund", "adjustment", "write_off"
	};
	int			len = VARSIZE_ANY_EXHDR(kind);

	for (int k = 0; k < LEDGER_KINDS; k++)
		if ((int) strlen(names[k]) == len && memcmp(VARDATA_ANY(kind), names[k], len) == 0)
			return (LedgerKind) k;
	elog(ERROR, "ledger row of unknown kind \"%.*s\"", len, VARDATA_ANY(kind));
	return LEDGER_KINDS;		/* keep the compiler quiet */
}

/*
 * The practices' time zones, kept for the backend's life: every posting
 * needs its practice's zone, and zones rarely change. Every write of
 * collect.practice sends a relcache invalidation of that table
 * (practice.c: practice_check), and each backend drops this cache when the
 * invalidation reaches it, before its next statement reads the ledger.
 */
typedef struct PracticeZone
{
	char		practice_id[ACCOUNT_KEY_LEN];
	pg_tz	   *tz;
} PracticeZone;

static HTAB *practice_zones;
static Oid	practice_relid = InvalidOid;
static SPIPlanPtr practice_tz_plan;

static void
practice_zones_invalidate(Datum arg, Oid relid)
{
	if (practice_zones != NULL && (relid == InvalidOid || relid == practice_relid))
	{
		hash_destroy(practice_zones);
		practice_zones = NULL;
	}
}

static pg_tz *
practice_tz(text *practice)
{
	static bool callback_registered = false;
	char		key[ACCOUNT_KEY_LEN];
	int			len = VARSIZE_ANY_EXHDR(practice);
	PracticeZone *zone;
	Datum		arg = PointerGetDatum(practice);
	Oid			text_type = TEXTOID;
	pg_tz	   *tz;

	if (len >= ACCOUNT_KEY_LEN)
		elog(ERROR, "practice_id too long");
	memset(key, 0, sizeof(key));
	memcpy(key, VARDATA_ANY(practice), len);
	if (practice_zones != NULL &&
		(zone = hash_search(practice_zones, key, HASH_FIND, NULL)) != NULL)
		return zone->tz;

	dunning_plan(&practice_tz_plan, "SELECT timezone FROM collect.practice WHERE practice_id = $1", 1, &text_type);
	if (SPI_execute_plan(practice_tz_plan, &arg, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ledger rows for a practice that does not exist");
	tz = timezone_lookup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_freetuptable(SPI_tuptable);
	if (tz == NULL)
		elog(ERROR, "practice has an invalid time zone");

	/* made after the query: an invalidation it accepted may have dropped the cache */
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(practice_zones_invalidate, (Datum) 0);
		callback_registered = true;
	}
	if (practice_zones == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = ACCOUNT_KEY_LEN;
		ctl.entrysize = sizeof(PracticeZone);
		ctl.hcxt = TopMemoryContext;
		practice_zones = hash_create("collect practice time zones", 16, &ctl,
									 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		practice_relid = get_relname_relid("practice", get_namespace_oid("collect", false));
	}
	zone = hash_search(practice_zones, key, HASH_ENTER, NULL);
	zone->tz = tz;
	return tz;
}

/* the patient's sums of one local day, for the KPI rollup */
static LedgerDay *
patient_day(PatientDelta *d, DateADT day)
{
	for (int i = d->n_days - 1; i >= 0; i--)
		if (d->days[i].day == day)
			return &d->days[i];
	if (d->n_days == d->cap_days)
	{
		d->cap_days = d->cap_days == 0 ? 2 : d->cap_days * 2;
		d->days = d->days == NULL ? palloc(sizeof(LedgerDay) * d->cap_days)
			: repalloc(d->days, sizeof(LedgerDay) * d->cap_days);
	}
	memset(&d->days[d->n_days], 0, sizeof(LedgerDay));
	d->days[d->n_days].day = day;
	return &d->days[d->n_days++];
}

/* Add one new ledger row to its patient's delta; true if it is a write_off. */
static bool
add_row(HTAB *deltas, TupleTableSlot *slot, const LedgerColumns *c)
{
	text	   *practice = DatumGetTextPP(slot->tts_values[c->practice - 1]);
	text	   *patient = DatumGetTextPP(slot->tts_values[c->patient - 1]);
	LedgerKind	kind = ledger_kind(DatumGetTextPP(slot->tts_values[c->kind - 1]));
	Cents		amount = numeric_to_cents(slot->tts_values[c->amount - 1]);
	TimestampTz posted = DatumGetTimestampTz(slot->tts_values[c->posted_at - 1]);
	pg_tz	   *tz = practice_tz(practice);
	DateADT		day = local_date(posted, tz);
	char		key[ACCOUNT_KEY_LEN];
	int			plen = VARSIZE_ANY_EXHDR(practice);
	int			qlen = VARSIZE_ANY_EXHDR(patient);
	PatientDelta *d;
	bool		found;

	if (plen + qlen + 2 > ACCOUNT_KEY_LEN)
		elog(ERROR, "practice_id or patient_id too long");
	memset(key, 0, sizeof(key));
	memcpy(key, VARDATA_ANY(practice), plen);
	key[plen] = '\x1f';
	memcpy(key + plen + 1, VARDATA_ANY(patient), qlen);

	d = hash_search(deltas, key, HASH_ENTER, &found);
	if (!found)
	{
		memset(((char *) d) + ACCOUNT_KEY_LEN, 0, sizeof(PatientDelta) - ACCOUNT_KEY_LEN);
		d->first_charge_at = DT_NOEND;
		d->last_posted_at = d->last_charge_at = d->last_payment_at = DT_NOBEGIN;
	}
	d->n_rows++;
	d->balance_delta += (kind == LEDGER_CHARGE || kind == LEDGER_REFUND || kind == LEDGER_REVERSAL) ? amount : -amount;
	if (posted >= d->last_posted_at)
	{
		d->last_posted_at = posted;
		d->last_posted_day = day;
	}
	patient_day(d, day)->sums[kind] += amount;
	if (kind == LEDGER_CHARGE)
	{
		if (d->n_charges == d->cap_charges)
		{
			d->cap_charges = d->cap_charges == 0 ? 4 : d->cap_charges * 2;
			d->charge_list = d->charge_list == NULL ? palloc(sizeof(StatementCharge) * d->cap_charges)
				: repalloc(d->charge_list, sizeof(StatementCharge) * d->cap_charges);
		}
		d->charge_list[d->n_charges].posted_at = posted;
		d->charge_list[d->n_charges].entry_id = DatumGetInt64(slot->tts_values[c->entry - 1]);
		d->charge_list[d->n_charges].amount = amount;
		d->charges += amount;
		d->n_charges++;
		d->first_charge_at = Min(d->first_charge_at, posted);
		d->last_charge_at = Max(d->last_charge_at, posted);
	}
	else
		d->has_non_charge = true;
	if (kind != LEDGER_CHARGE && kind != LEDGER_REFUND)
		d->reopens_plans = true;
	if (kind == LEDGER_PAYMENT && posted >= d->last_payment_at)
	{
		d->last_payment_at = posted;
		d->last_payment = amount;
	}
	return kind == LEDGER_WRITE_OFF;
}

/*
 * AFTER INSERT, for each statement, over the transition table: sum the new
 * rows per patient in one pass, then per practice write each account once,
 * in key order, and flag the plans to re-settle; then add the rows to the
 * KPI rollup and audit the write-offs. One trigger does all of it so that
 * a single-row INSERT pays for one trigger call and one scan of its rows.
 */
Datum
ledger_after_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	const LedgerColumns *c;
	MemoryContext upkeep_ctx,
				old_ctx;
	HTAB	   *deltas;
	HASHCTL		ctl;
	TupleTableSlot *slot;
	HASH_SEQ_STATUS seq;
	PatientDelta **sorted;
	PatientDelta *d;
	bool		any_write_off = false;
	long		n = 0;
	uint64		rows = 0;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || td->tg_newtable == NULL)
		elog(ERROR, "ledger_after_insert: must be an AFTER INSERT statement trigger with a NEW TABLE");
	if (tuplestore_tuple_count(td->tg_newtable) == 0)
		return PointerGetDatum(NULL);

	c = ledger_columns(td->tg_relation);
	upkeep_ctx = AllocSetContextCreate(CurrentMemoryContext, "collect ledger upkeep", ALLOCSET_DEFAULT_SIZES);
	old_ctx = MemoryContextSwitchTo(upkeep_ctx);
	SPI_connect();
	MemoryContextSwitchTo(upkeep_ctx);	/* SPI_connect switched to its own context */

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = ACCOUNT_KEY_LEN;
	ctl.entrysize = sizeof(PatientDelta);
	ctl.hcxt = upkeep_ctx;
	deltas = hash_create("collect ledger deltas", 256, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	slot = MakeSingleTupleTableSlot(RelationGetDescr(td->tg_relation), &TTSOpsMinimalTuple);
	tuplestore_rescan(td->tg_newtable);
	while (tuplestore_gettupleslot(td->tg_newtable, true, false, slot))
	{
		if ((++rows & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		slot_getallattrs(slot);
		any_write_off |= add_row(deltas, slot, c);
	}
	ExecDropSingleTupleTableSlot(slot);

	sorted = palloc(sizeof(PatientDelta *) * Max(hash_get_num_entries(deltas), 1));
	hash_seq_init(&seq, deltas);
	while ((d = hash_seq_search(&seq)) != NULL)
		sorted[n++] = d;
	qsort(sorted, n, sizeof(PatientDelta *), compare_deltas);

	/* one bulk write per practice, patients in key order */
	for (long first = 0; first < n;)
	{
		size_t		plen = strchr(sorted[first]->key, '\x1f') - sorted[first]->key;
		long		last = first;

		while (last + 1 < n && strncmp(sorted[last + 1]->key, sorted[first]->key, plen + 1) == 0)
			last++;
		account_upkeep(sorted + first, (int) (last - first + 1),
					   practice_tz(cstring_to_text_with_len(sorted[first]->key, plen)));
		first = last + 1;
	}
	kpi_ledger_write(sorted, n);
	if (any_write_off)
		audit_ledger_write_offs(td);
	SPI_finish();

	MemoryContextSwitchTo(old_ctx);
	MemoryContextDelete(upkeep_ctx);
	return PointerGetDatum(NULL);
}
