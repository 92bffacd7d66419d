/*
 * direct_row.c: primary-key reads and updates of collect's derived rows
 * (collect.account, collect.kpi_daily) straight through the index and the
 * heap, for the ledger trigger. An UPDATE through SPI pays for executor
 * start-up and shutdown at every statement (plan copy, node set-up, the
 * relation's constraints and indexes opened); a posting writes one account
 * and one rollup row, so that set-up was most of its cost. Here it is paid
 * once per trigger call, the way PostgreSQL's own logical replication
 * applies rows (executor/execReplication.c).
 *
 * A write does what an UPDATE by primary key does for these tables: NOT
 * NULL and CHECK constraints, stored generated columns, index entries
 * (none when the update is HOT), numeric typmods. Where an UPDATE would do more, direct_open refuses and
 * the caller runs its SQL: the table has triggers, row-level security
 * applies to the current user, the isolation level uses one snapshot per
 * transaction (an UPDATE there raises a serialization failure on a
 * concurrent update, which this module does not imitate), or the user
 * lacks the privilege. Never: network, wall clock, decisions.
 */
#include "collect.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "direct_row.h"

static const AttrNumber *direct_columns(DirectTable *t, DirectColumns *cols);

struct DirectTable
{
	Relation	rel;
	Relation	index;			/* the primary key */
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *found;		/* the row version found */
	TupleTableSlot *next;		/* the version to write */
	bool	   *replaced;		/* per column: set since direct_begin */
	int			nkeys;
	ScanKeyData keys[INDEX_MAX_KEYS];
};

/* equality scan keys on the first nkeys columns of an index, arguments set later */
static void
init_keys(Relation index, ScanKey keys, int nkeys)
{
	for (int k = 0; k < nkeys; k++)
	{
		Oid			type = index->rd_opcintype[k];
		Oid			op = get_opfamily_member(index->rd_opfamily[k], type, type, BTEqualStrategyNumber);

		if (!OidIsValid(op))
			elog(ERROR, "%s: no equality operator for column %d", RelationGetRelationName(index), k + 1);
		ScanKeyInit(&keys[k], k + 1, BTEqualStrategyNumber, get_opcode(op), (Datum) 0);
		keys[k].sk_collation = index->rd_indcollation[k];
	}
}

/* collect.<relname>, if direct access sees what SQL would: NULL if not */
static Oid
direct_relid(const char *relname, AclMode mode)
{
	Oid			relid;

	if (IsolationUsesXactSnapshot())
		return InvalidOid;
	relid = get_relname_relid(relname, get_namespace_oid("collect", false));
	if (!OidIsValid(relid) ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED ||
		pg_class_aclcheck(relid, GetUserId(), mode) != ACLCHECK_OK)
		return InvalidOid;
	return relid;
}

DirectTable *
direct_open(const char *relname, DirectColumns *cols, const AttrNumber **atts)
{
	Oid			relid;
	Relation	rel;
	DirectTable *t;
	RangeTblEntry *rte;
	Oid			pkey;

	relid = direct_relid(relname, ACL_SELECT | ACL_UPDATE);
	if (!OidIsValid(relid))
		return NULL;
	rel = table_open(relid, RowExclusiveLock);
	pkey = RelationGetPrimaryKeyIndex(rel);
	if (rel->trigdesc != NULL || !OidIsValid(pkey) ||
		rel->rd_rel->relkind != RELKIND_RELATION)
	{
		table_close(rel, RowExclusiveLock);
		return NULL;
	}

	t = palloc0(sizeof(DirectTable));
	t->rel = rel;
	t->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	/* every column counts as updated: stored generated columns are all computed again */
	for (int i = 0; i < RelationGetDescr(rel)->natts; i++)
		if (!TupleDescAttr(RelationGetDescr(rel), i)->attisdropped)
			rte->updatedCols = bms_add_member(rte->updatedCols, i + 1 - FirstLowInvalidHeapAttributeNumber);
	ExecInitRangeTable(t->estate, list_make1(rte));
	t->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(t->rri, rel, 1, NULL, 0);
	ExecOpenIndices(t->rri, false);
	for (int i = 0; i < t->rri->ri_NumIndices; i++)
		if (RelationGetRelid(t->rri->ri_IndexRelationDescs[i]) == pkey)
			t->index = t->rri->ri_IndexRelationDescs[i];
	if (t->index == NULL)
		elog(ERROR, "collect.%s: primary key index not open", relname);

	t->nkeys = IndexRelationGetNumberOfKeyAttributes(t->index);
	init_keys(t->index, t->keys, t->nkeys);
	t->found = table_slot_create(rel, &t->estate->es_tupleTable);
	t->next = ExecInitExtraTupleSlot(t->estate, RelationGetDescr(rel), &TTSOpsVirtual);
	t->replaced = palloc0(sizeof(bool) * RelationGetDescr(rel)->natts);
	*atts = direct_columns(t, cols);
	return t;
}

void
direct_close(DirectTable *t)
{
	ExecResetTupleTable(t->estate->es_tupleTable, false);
	ExecCloseIndices(t->rri);
	table_close(t->rel, NoLock);
	FreeExecutorState(t->estate);
	pfree(t->replaced);
	pfree(t);
}

static AttrNumber
relation_column(Relation rel, const char *name)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), name);

	if (att == InvalidAttrNumber)
		elog(ERROR, "collect.%s has no column \"%s\"", RelationGetRelationName(rel), name);
	return att;
}

/* bumped by every relcache invalidation: column numbers may have changed */
static uint64 relcache_generation = 1;

static void
relcache_changed(Datum arg, Oid relid)
{
	relcache_generation++;
}

static const AttrNumber *
direct_columns(DirectTable *t, DirectColumns *cols)
{
	static bool registered = false;

	if (!registered)
	{
		CacheRegisterRelcacheCallback(relcache_changed, (Datum) 0);
		registered = true;
	}
	if (cols->relid != RelationGetRelid(t->rel) || cols->generation != relcache_generation)
	{
		if (cols->n > DIRECT_MAX_COLUMNS)
			elog(ERROR, "direct_columns: too many columns");
		for (int c = 0; c < cols->n; c++)
			cols->att[c] = relation_column(t->rel, cols->names[c]);
		cols->relid = RelationGetRelid(t->rel);
		cols->generation = relcache_generation;
	}
	return cols->att;
}

/*
 * The index probe with the newest snapshot: the row version found is the
 * newest committed one (or our own). A dirty snapshot, as in
 * execReplication.c, would also see rows being written, but a scan with it
 * can miss a row whose update commits while the scan is between the index
 * page and the heap: the old version is dead by then and the new index
 * entry was not on the page read. An MVCC snapshot keeps what it sees. A
 * row being updated by a transaction in progress is found as it was; the
 * lock (or direct_write) waits for that transaction and then reports the
 * newer version.
 */
bool
direct_fetch(DirectTable *t, const Datum *key, bool lock)
{
	for (int k = 0; k < t->nkeys; k++)
		t->keys[k].sk_argument = key[k];
	for (;;)
	{
		Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
		IndexScanDesc scan = index_beginscan(t->rel, t->index, snapshot, t->nkeys, 0);
		bool		found;
		ItemPointerData tid;

		index_rescan(scan, t->keys, t->nkeys, NULL, 0);
		found = index_getnext_slot(scan, ForwardScanDirection, t->found);
		index_endscan(scan);
		UnregisterSnapshot(snapshot);
		if (!found || !lock)
			return found;
		ItemPointerCopy(&t->found->tts_tid, &tid);
		if (direct_lock_tid(t, &tid))
			return true;
		/* a newer version: find it again */
	}
}

/* true if a lock or update succeeded; false if a transaction updated the row first */
static bool
still_current(DirectTable *t, TM_Result res)
{
	if (res == TM_Ok)
		return true;
	if (res == TM_Updated || res == TM_Deleted)
		return false;
	elog(ERROR, "collect.%s: unexpected result %d writing a row", RelationGetRelationName(t->rel), (int) res);
	return false;				/* keep the compiler quiet */
}

bool
direct_lock_tid(DirectTable *t, ItemPointer tid)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TM_FailureData tmfd;
	TM_Result	res;

	res = table_tuple_lock(t->rel, tid, snapshot, t->found, GetCurrentCommandId(false),
						   LockTupleExclusive, LockWaitBlock, 0, &tmfd);
	UnregisterSnapshot(snapshot);
	return still_current(t, res);
}

void
direct_fetch_tid(DirectTable *t, ItemPointer tid)
{
	if (!table_tuple_fetch_row_version(t->rel, tid, SnapshotAny, t->found))
		elog(ERROR, "collect.%s: locked row version not found", RelationGetRelationName(t->rel));
}

Datum
direct_value(DirectTable *t, AttrNumber att, bool *isnull)
{
	return slot_getattr(t->found, att, isnull);
}

ItemPointer
direct_tid(DirectTable *t)
{
	return &t->found->tts_tid;
}

void
direct_begin(DirectTable *t)
{
	int			natts = RelationGetDescr(t->rel)->natts;

	slot_getallattrs(t->found);
	ExecClearTuple(t->next);
	memcpy(t->next->tts_values, t->found->tts_values, sizeof(Datum) * natts);
	memcpy(t->next->tts_isnull, t->found->tts_isnull, sizeof(bool) * natts);
	memset(t->replaced, 0, sizeof(bool) * natts);
}

void
direct_set(DirectTable *t, AttrNumber att, Datum value, bool isnull)
{
	t->next->tts_values[att - 1] = value;
	t->next->tts_isnull[att - 1] = isnull;
	t->replaced[att - 1] = true;
}

bool
direct_write(DirectTable *t)
{
	TupleDesc	desc = RelationGetDescr(t->rel);
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	bool		update_indexes;
	TM_Result	res;

	ResetPerTupleExprContext(t->estate);
	/* the length coercion an UPDATE applies to the values it assigns */
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (t->replaced[i] && !t->next->tts_isnull[i] && att->atttypid == NUMERICOID && att->atttypmod >= 0)
			t->next->tts_values[i] = DirectFunctionCall2(numeric, t->next->tts_values[i],
														 Int32GetDatum(att->atttypmod));
	}
	ExecStoreVirtualTuple(t->next);
	if (desc->constr != NULL && desc->constr->has_generated_stored)
		ExecComputeStoredGenerated(t->rri, t->estate, t->next, CMD_UPDATE);
	if (desc->constr != NULL)
		ExecConstraints(t->rri, t->next, t->estate);

	t->estate->es_output_cid = GetCurrentCommandId(true);
	t->estate->es_snapshot = GetActiveSnapshot();
	res = table_tuple_update(t->rel, &t->found->tts_tid, t->next, t->estate->es_output_cid,
							 t->estate->es_snapshot, InvalidSnapshot, true /* wait */ ,
							 &tmfd, &lockmode, &update_indexes);
	if (!still_current(t, res))
		return false;
	if (update_indexes && t->rri->ri_NumIndices > 0)
		list_free(ExecInsertIndexTuples(t->rri, t->next, t->estate, true, false, NULL, NIL));
	return true;
}

struct DirectScan
{
	Relation	rel;
	Relation	index;
	Snapshot	snapshot;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	int			nkeys;
	ScanKeyData keys[INDEX_MAX_KEYS];
};

DirectScan *
direct_scan_open(const char *relname, const char *indexname, int nkeys)
{
	Oid			relid = direct_relid(relname, ACL_SELECT);
	Oid			indexid;
	DirectScan *s;

	if (!OidIsValid(relid))
		return NULL;
	indexid = get_relname_relid(indexname, get_namespace_oid("collect", false));
	if (!OidIsValid(indexid))
		return NULL;
	s = palloc0(sizeof(DirectScan));
	s->rel = table_open(relid, AccessShareLock);
	s->index = index_open(indexid, AccessShareLock);
	if (s->index->rd_index->indrelid != relid || IndexRelationGetNumberOfKeyAttributes(s->index) < nkeys)
		elog(ERROR, "collect.%s is not an index of collect.%s with %d columns", indexname, relname, nkeys);
	s->nkeys = nkeys;
	init_keys(s->index, s->keys, nkeys);
	/* what an SQL statement run now would see, this transaction's writes included */
	CommandCounterIncrement();
	s->snapshot = RegisterSnapshot(GetLatestSnapshot());
	s->slot = table_slot_create(s->rel, NULL);
	s->scan = index_beginscan(s->rel, s->index, s->snapshot, nkeys, 0);
	return s;
}

void
direct_scan_begin(DirectScan *s, const Datum *key)
{
	for (int k = 0; k < s->nkeys; k++)
		s->keys[k].sk_argument = key[k];
	index_rescan(s->scan, s->keys, s->nkeys, NULL, 0);
}

TupleTableSlot *
direct_scan_next(DirectScan *s)
{
	return index_getnext_slot(s->scan, ForwardScanDirection, s->slot) ? s->slot : NULL;
}

AttrNumber
direct_scan_column(DirectScan *s, const char *name)
{
	return relation_column(s->rel, name);
}

void
direct_scan_close(DirectScan *s)
{
	index_endscan(s->scan);
	ExecDropSingleTupleTableSlot(s->slot);
	UnregisterSnapshot(s->snapshot);
	index_close(s->index, NoLock);
	table_close(s->rel, NoLock);
	pfree(s);
}
