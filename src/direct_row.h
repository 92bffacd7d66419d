/*
 * direct_row.h: primary-key reads and updates of collect's derived rows
 * (account, KPI rollups) straight through the index and the heap, for the
 * ledger trigger (direct_row.c).
 */
#ifndef COLLECT_DIRECT_ROW_H
#define COLLECT_DIRECT_ROW_H

#include "collect.h"

#include "executor/tuptable.h"
#include "storage/itemptr.h"

typedef struct DirectTable DirectTable;

extern void direct_close(DirectTable *t);

/*
 * The numbers of the columns named in cols (static, one per caller), kept
 * across calls and looked up again only after a relcache invalidation.
 */
#define DIRECT_MAX_COLUMNS 64
typedef struct DirectColumns
{
	int			n;
	const char *const *names;
	Oid			relid;
	uint64		generation;
	AttrNumber	att[DIRECT_MAX_COLUMNS];
} DirectColumns;

/*
 * Open collect.<relname> for direct updates, *atts set to the numbers of
 * the columns named in cols; NULL when an UPDATE statement would do more
 * than a direct write (triggers, row-level security that applies,
 * REPEATABLE READ or SERIALIZABLE, no privilege): the caller then runs its
 * SQL.
 */
extern DirectTable *direct_open(const char *relname, DirectColumns *cols, const AttrNumber **atts);

/*
 * Find the newest committed (or our own) version of the row whose primary
 * key is key (one value per key column); false if there is none. With
 * lock, also lock it as SELECT ... FOR UPDATE does (waiting for a writer
 * in progress, then taking its newer version).
 * Its columns are then read with direct_value.
 */
extern bool direct_fetch(DirectTable *t, const Datum *key, bool lock);

/*
 * Lock the row version at tid (one direct_fetch found) as SELECT ... FOR
 * UPDATE does: true if it is still the current version, now locked and
 * read; false if a transaction updated it since (nothing locked).
 */
extern bool direct_lock_tid(DirectTable *t, ItemPointer tid);

/* The row version at tid (one this transaction holds locked) */
extern void direct_fetch_tid(DirectTable *t, ItemPointer tid);

extern Datum direct_value(DirectTable *t, AttrNumber att, bool *isnull);
extern ItemPointer direct_tid(DirectTable *t);

/* Start a new version of the row found: every column as found, until set. */
extern void direct_begin(DirectTable *t);
extern void direct_set(DirectTable *t, AttrNumber att, Datum value, bool isnull);

/*
 * Write the new version. False when the row found is no longer the current
 * version (a concurrent transaction updated it and committed; nothing was
 * written): the caller reads again.
 */
extern bool direct_write(DirectTable *t);

/*
 * Read-only equality scans of collect.<relname> on the first nkeys columns
 * of one of its indexes, with one snapshot taken at open that sees what an
 * SQL statement run then would (this transaction's writes included); NULL
 * where SQL would see something else (row-level security that applies,
 * REPEATABLE READ or SERIALIZABLE, no privilege).
 */
typedef struct DirectScan DirectScan;

extern DirectScan *direct_scan_open(const char *relname, const char *indexname, int nkeys);
extern AttrNumber direct_scan_column(DirectScan *s, const char *name);
extern void direct_scan_begin(DirectScan *s, const Datum *key);
/* the next row (valid until the next call), NULL at the end */
extern TupleTableSlot *direct_scan_next(DirectScan *s);
extern void direct_scan_close(DirectScan *s);

#endif
