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
#include "catalog/pg_collation.h"
#include "commands/trigger.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "account.h"

/* practice_id and patient_id are at most 64 characters (CHECKs in 00_core.sql) */
#define ACCOUNT_KEY_LEN 136

/* Column numbers of collect.ledger, looked up by name once per relation */
typedef struct LedgerColumns
{
	Oid			relid;
	Oid			external_index;	/* UNIQUE (practice_id, external_id) */
	AttrNumber	practice,
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

/* What one statement did to one patient's account */
typedef struct PatientDelta
{
	char		key[ACCOUNT_KEY_LEN];	/* practice_id US patient_id */
	Cents		charges;		/* sum of charge rows */
	Cents		balance_delta;	/* signed sum of all rows */
	int			n_rows;
	int			n_charges;
	bool		has_non_charge;
	TimestampTz first_charge_at;
	TimestampTz last_posted_at;
	TimestampTz last_charge_at;
	TimestampTz last_payment_at;
	Cents		last_payment;
} PatientDelta;

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

/* +1 for kinds that raise what the patient owes, -1 for those that lower it */
static int
kind_sign(const char *kind, int len)
{
	if ((len == 6 && memcmp(kind, "charge", 6) == 0) ||
		(len == 6 && memcmp(kind, "refund", 6) == 0) ||
		(len == 8 && memcmp(kind, "reversal", 8) == 0))
		return 1;
	return -1;
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
	TriggerData *td = (TriggerData *) fcinfo->context;
	const char *what = "change";

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "ledger_refuse_change: not called as a trigger");
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		what = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		what = "DELETE";
	else if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		what = "TRUNCATE";
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

static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

typedef struct UpkeepPlans
{
	SPIPlanPtr	practice_tz;
	SPIPlanPtr	upsert;
	SPIPlanPtr	charges;
	SPIPlanPtr	derived;
	SPIPlanPtr	settle_outbox;
	SPIPlanPtr	settle_plan;
} UpkeepPlans;

static UpkeepPlans plans;

static void
prepare_upkeep_plans(void)
{
	Oid			t2[2] = {TEXTOID, TEXTOID};
	Oid			upsert_types[9] = {TEXTOID, TEXTOID, NUMERICOID, NUMERICOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, NUMERICOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Oid			derived_types[10] = {TEXTOID, TEXTOID, DATEOID, INT4OID, TEXTOID, TEXTOID, TEXTOID,
	TIMESTAMPTZOID, DATEOID, INT4OID};

	if (plans.derived != NULL)
		return;
	plans.practice_tz = keep_plan("SELECT timezone FROM collect.practice WHERE practice_id = $1", 1, t2);
	plans.upsert = keep_plan(
							 "INSERT INTO collect.account AS a (practice_id, patient_id, balance, charges_total, last_posted_at,"
							 "  last_payment_at, last_payment_amount, last_charge_at, updated_at)"
							 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
							 " ON CONFLICT (practice_id, patient_id) DO UPDATE SET"
							 "  balance = a.balance + EXCLUDED.balance,"
							 "  charges_total = a.charges_total + EXCLUDED.charges_total,"
							 "  last_posted_at = GREATEST(a.last_posted_at, EXCLUDED.last_posted_at),"
							 "  last_payment_amount = CASE WHEN EXCLUDED.last_payment_at >= a.last_payment_at OR a.last_payment_at IS NULL"
							 "     THEN COALESCE(EXCLUDED.last_payment_amount, a.last_payment_amount) ELSE a.last_payment_amount END,"
							 "  last_payment_at = GREATEST(a.last_payment_at, EXCLUDED.last_payment_at),"
							 "  last_charge_at = GREATEST(a.last_charge_at, EXCLUDED.last_charge_at),"
							 "  updated_at = EXCLUDED.updated_at"
							 " RETURNING balance, charges_total, due_since, state, last_charge_at, next_action_at,"
							 "  last_response_at IS NOT NULL, failed_contacts, doubt, asked_for_plan, returned_mail,"
							 "  cadence_anchor, cadence_step, last_posted_at",
							 9, upsert_types);
	plans.charges = keep_plan("SELECT posted_at, amount FROM collect.ledger"
							  " WHERE practice_id = $1 AND patient_id = $2 AND kind = 'charge'"
							  " ORDER BY posted_at, entry_id", 2, t2);
	plans.derived = keep_plan("UPDATE collect.account SET due_since = $3, days_past_due = $4, aging_bucket = $5,"
							  " segment = $6, state = $7, next_action_at = $8, cadence_anchor = $9, cadence_step = $10"
							  " WHERE practice_id = $1 AND patient_id = $2", 10, derived_types);
	plans.settle_outbox = keep_plan("UPDATE collect.outbox SET status = 'cancelled', last_error = 'cancelled: balance paid in full'"
									" WHERE practice_id = $1 AND patient_id = $2 AND status = 'queued'", 2, t2);
	plans.settle_plan = keep_plan("UPDATE collect.plan SET status = 'completed'"
								  " WHERE practice_id = $1 AND patient_id = $2 AND status IN ('active', 'pending_approval')",
								  2, t2);
}

static Datum
nullable_ts(TimestampTz ts, char *nulls, int i)
{
	nulls[i] = ts == DT_NOBEGIN ? 'n' : ' ';
	return TimestampTzGetDatum(ts);
}

/* FIFO over the patient's charges: the local date of the oldest unpaid one */
static bool
fifo_due_since(Datum *key, Cents credits_applied, pg_tz *tz, DateADT *due)
{
	int			ret = SPI_execute_plan(plans.charges, key, NULL, false, 0);
	Cents	   *charges;
	int			first;

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the ledger failed: %s", SPI_result_code_string(ret));
	charges = palloc(sizeof(Cents) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		charges[i] = numeric_to_cents(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}
	first = fifo_first_unpaid(charges, (int) SPI_processed, credits_applied);
	if (first < 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return false;
	}
	{
		bool		isnull;
		TimestampTz at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[first],
														   SPI_tuptable->tupdesc, 1, &isnull));

		*due = local_date(at, tz);
	}
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/* Write one patient's delta to collect.account and refresh what derives from it. */
static void
account_upkeep(const PatientDelta *d, pg_tz *tz)
{
	const char *sep = strchr(d->key, '\x1f');
	Datum		key[2];
	Datum		args[10];
	char		nulls[10];
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull,
				due_null;
	Cents		balance,
				old_balance,
				charges_total;
	DateADT		due_since = 0;
	bool		has_due;
	char	   *state;
	TimestampTz next_action;
	bool		next_null;
	DateADT		anchor;
	bool		anchor_null;
	int			cadence_step;
	int			days_past_due = 0;
	DateADT		as_of_date;
	AccountFacts facts;
	TimestampTz last_charge_at;
	bool		last_charge_null;

	key[0] = PointerGetDatum(cstring_to_text_with_len(d->key, sep - d->key));
	key[1] = CStringGetTextDatum(sep + 1);

	memset(nulls, ' ', sizeof(nulls));
	args[0] = key[0];
	args[1] = key[1];
	args[2] = cents_to_numeric(d->balance_delta);
	args[3] = cents_to_numeric(d->charges);
	args[4] = TimestampTzGetDatum(d->last_posted_at);
	args[5] = nullable_ts(d->last_payment_at, nulls, 5);
	args[6] = cents_to_numeric(d->last_payment);
	nulls[6] = nulls[5];
	args[7] = nullable_ts(d->last_charge_at, nulls, 7);
	args[8] = TimestampTzGetDatum(d->last_posted_at);
	if (SPI_execute_plan(plans.upsert, args, nulls, false, 1) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "account upsert failed");

	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	last_charge_at = DatumGetTimestampTz(SPI_getbinval(row, desc, 5, &last_charge_null));
	balance = numeric_to_cents(SPI_getbinval(row, desc, 1, &isnull));
	charges_total = numeric_to_cents(SPI_getbinval(row, desc, 2, &isnull));
	due_since = DatumGetDateADT(SPI_getbinval(row, desc, 3, &due_null));
	state = SPI_getvalue(row, desc, 4);
	next_action = DatumGetTimestampTz(SPI_getbinval(row, desc, 6, &next_null));
	facts.responded = DatumGetBool(SPI_getbinval(row, desc, 7, &isnull));
	facts.failed_contacts = DatumGetInt32(SPI_getbinval(row, desc, 8, &isnull));
	facts.doubt = DatumGetBool(SPI_getbinval(row, desc, 9, &isnull));
	facts.asked_for_plan = DatumGetBool(SPI_getbinval(row, desc, 10, &isnull));
	facts.returned_mail = DatumGetBool(SPI_getbinval(row, desc, 11, &isnull));
	anchor = DatumGetDateADT(SPI_getbinval(row, desc, 12, &anchor_null));
	cadence_step = DatumGetInt32(SPI_getbinval(row, desc, 13, &isnull));
	/* aging is as of the account's latest posting: a backdated row does not rewind it */
	as_of_date = local_date(DatumGetTimestampTz(SPI_getbinval(row, desc, 14, &isnull)), tz);
	SPI_freetuptable(SPI_tuptable);
	old_balance = balance - d->balance_delta;
	has_due = !due_null;

	/* due_since: cheap when one newest charge arrives, else FIFO over the charges */
	if (balance <= 0)
		has_due = false;
	else if (d->n_rows == 1 && d->n_charges == 1 &&
			 !last_charge_null && last_charge_at == d->last_charge_at &&
			 (old_balance <= 0 || has_due))
	{
		if (old_balance <= 0)
		{
			due_since = local_date(d->last_charge_at, tz);
			has_due = true;
		}
	}
	else
		has_due = fifo_due_since(key, charges_total - balance, tz, &due_since);

	if (!has_due && balance > 0)
	{
		/* owed through refunds or reversals alone: due from this posting */
		due_since = local_date(d->last_posted_at, tz);
		has_due = true;
	}
	if (has_due)
		days_past_due = Max(0, days_between(due_since, as_of_date));

	if (balance <= 0)
	{
		/* paid (or in credit): nothing left to chase */
		if (old_balance > 0)
		{
			SPI_execute_plan(plans.settle_outbox, key, NULL, false, 0);
			SPI_execute_plan(plans.settle_plan, key, NULL, false, 0);
		}
		state = "closed";
		next_null = true;
		anchor_null = true;
		cadence_step = 0;
	}
	else if (old_balance <= 0)
	{
		/* a new balance: tick plans its cadence from due_since */
		state = "current";
		next_action = d->last_posted_at;
		next_null = false;
		anchor = due_since;
		anchor_null = !has_due;
		cadence_step = 0;
	}
	else if (d->has_non_charge && (next_null || next_action > d->last_posted_at))
	{
		/* a payment or credit: tick re-plans (postpones, re-words, re-offers) */
		next_action = d->last_posted_at;
		next_null = false;
	}

	facts.balance = balance;
	facts.days_past_due = days_past_due;
	facts.high_value_threshold = 30000;	/* refined by tick with the policy */

	memset(nulls, ' ', sizeof(nulls));
	args[2] = DateADTGetDatum(due_since);
	nulls[2] = has_due ? ' ' : 'n';
	args[3] = Int32GetDatum(days_past_due);
	args[4] = CStringGetTextDatum(aging_bucket_for(days_past_due));
	args[5] = CStringGetTextDatum(account_segment(&facts));
	args[6] = CStringGetTextDatum(state);
	args[7] = TimestampTzGetDatum(next_action);
	nulls[7] = next_null ? 'n' : ' ';
	args[8] = DateADTGetDatum(anchor);
	nulls[8] = anchor_null ? 'n' : ' ';
	args[9] = Int32GetDatum(cadence_step);
	if (SPI_execute_plan(plans.derived, args, nulls, false, 1) != SPI_OK_UPDATE)
		elog(ERROR, "account update failed");
}

static pg_tz *
practice_timezone(const char *key)
{
	const char *sep = strchr(key, '\x1f');
	Datum		arg = PointerGetDatum(cstring_to_text_with_len(key, sep - key));
	pg_tz	   *tz;

	if (SPI_execute_plan(plans.practice_tz, &arg, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ledger row for a practice that does not exist");
	tz = timezone_lookup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_freetuptable(SPI_tuptable);
	if (tz == NULL)
		elog(ERROR, "practice has an invalid time zone");
	return tz;
}

static void
add_row(HTAB *deltas, TupleTableSlot *slot, const LedgerColumns *c)
{
	text	   *practice = DatumGetTextPP(slot->tts_values[c->practice - 1]);
	text	   *patient = DatumGetTextPP(slot->tts_values[c->patient - 1]);
	text	   *kind = DatumGetTextPP(slot->tts_values[c->kind - 1]);
	Cents		amount = numeric_to_cents(slot->tts_values[c->amount - 1]);
	TimestampTz posted = DatumGetTimestampTz(slot->tts_values[c->posted_at - 1]);
	char		key[ACCOUNT_KEY_LEN];
	int			plen = VARSIZE_ANY_EXHDR(practice);
	int			qlen = VARSIZE_ANY_EXHDR(patient);
	PatientDelta *d;
	bool		found;
	bool		is_charge;
	int			sign;

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
	is_charge = VARSIZE_ANY_EXHDR(kind) == 6 && memcmp(VARDATA_ANY(kind), "charge", 6) == 0;
	sign = kind_sign(VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind));
	d->n_rows++;
	d->balance_delta += sign * amount;
	d->last_posted_at = Max(d->last_posted_at, posted);
	if (is_charge)
	{
		d->charges += amount;
		d->n_charges++;
		d->first_charge_at = Min(d->first_charge_at, posted);
		d->last_charge_at = Max(d->last_charge_at, posted);
	}
	else
		d->has_non_charge = true;
	if (VARSIZE_ANY_EXHDR(kind) == 7 && memcmp(VARDATA_ANY(kind), "payment", 7) == 0 &&
		posted >= d->last_payment_at)
	{
		d->last_payment_at = posted;
		d->last_payment = amount;
	}
}

/*
 * AFTER INSERT, for each statement, over the transition table: sum the new
 * rows per patient, then write each account once, in key order.
 */
Datum
ledger_after_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	const LedgerColumns *c;
	MemoryContext upkeep_ctx,
				per_account,
				old_ctx;
	HTAB	   *deltas;
	HASHCTL		ctl;
	TupleTableSlot *slot;
	HASH_SEQ_STATUS seq;
	PatientDelta **sorted;
	PatientDelta *d;
	long		n = 0;
	uint64		rows = 0;
	char		current_practice[ACCOUNT_KEY_LEN] = "";
	pg_tz	   *tz = NULL;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || td->tg_newtable == NULL)
		elog(ERROR, "ledger_after_insert: must be an AFTER INSERT statement trigger with a NEW TABLE");

	c = ledger_columns(td->tg_relation);
	upkeep_ctx = AllocSetContextCreate(CurrentMemoryContext, "collect ledger upkeep", ALLOCSET_DEFAULT_SIZES);
	old_ctx = MemoryContextSwitchTo(upkeep_ctx);

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
		add_row(deltas, slot, c);
	}
	ExecDropSingleTupleTableSlot(slot);

	sorted = palloc(sizeof(PatientDelta *) * Max(hash_get_num_entries(deltas), 1));
	hash_seq_init(&seq, deltas);
	while ((d = hash_seq_search(&seq)) != NULL)
		sorted[n++] = d;
	qsort(sorted, n, sizeof(PatientDelta *), compare_deltas);

	SPI_connect();
	prepare_upkeep_plans();
	per_account = AllocSetContextCreate(upkeep_ctx, "collect account upkeep", ALLOCSET_DEFAULT_SIZES);
	for (long i = 0; i < n; i++)
	{
		MemoryContext spi_ctx;

		size_t		plen = strchr(sorted[i]->key, '\x1f') - sorted[i]->key;

		if (tz == NULL || strncmp(current_practice, sorted[i]->key, plen + 1) != 0)
		{
			tz = practice_timezone(sorted[i]->key);
			memcpy(current_practice, sorted[i]->key, plen + 1);
			current_practice[plen + 1] = '\0';
		}
		spi_ctx = MemoryContextSwitchTo(per_account);
		account_upkeep(sorted[i], tz);
		MemoryContextSwitchTo(spi_ctx);
		MemoryContextReset(per_account);
		if ((i & 255) == 255)
			CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();

	MemoryContextSwitchTo(old_ctx);
	MemoryContextDelete(upkeep_ctx);
	return PointerGetDatum(NULL);
}
