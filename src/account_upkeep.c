/*
 * account_upkeep.c: writes one ledger statement's deltas to collect.account,
 * in bulk: per practice, the missing accounts created, one locking read of
 * the touched accounts (in key order, so concurrent statements never
 * deadlock), one read of the charges of the accounts whose FIFO due date
 * may have moved, one UPDATE through unnest() of arrays. Three or four
 * statements whatever the number of rows.
 * A single posting (one account) takes a lighter path: read, compute, and
 * write only if the row version read is still current (SinglePlans).
 * Called by the ledger trigger inside SPI; no network, no wall clock: the
 * account's own latest posted_at is its "as of".
 */
#include "collect.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "account.h"
#include "account_upkeep.h"

/* The account as read under its row lock, and as it will be written */
typedef struct AccountRow
{
	PatientDelta *delta;
	const char *patient_id;
	/* read */
	Cents		old_balance;
	Cents		old_charges_total;
	bool		old_has_due;
	DateADT		old_due_since;
	Cents		fifo_from;		/* running charges before the oldest unpaid one */
	Cents		fifo_to;		/* ... and including it */
	char	   *state;
	bool		has_next_action;
	TimestampTz next_action_at;
	AccountFacts facts;
	bool		has_anchor;
	DateADT		anchor;
	int			cadence_step;
	TimestampTz last_posted_at;	/* DT_NOBEGIN: none */
	TimestampTz last_charge_at;
	TimestampTz last_payment_at;
	Cents		last_payment;
	/* computed */
	Cents		balance;
	Cents		charges_total;
	bool		has_due;
	DateADT		due_since;
	bool		needs_fifo;
	bool		settled_now;
} AccountRow;

/* the columns the bulk UPDATE writes, after practice_id */
#define N_WRITE_COLUMNS 19

/*
 * A statement that touches one account (a single-row INSERT, the common
 * case) runs statements by the full primary key, with generic plans kept
 * for the backend's life: their only sensible plan is the primary key, so
 * they cannot degrade whatever the statistics were when they were made.
 * A statement that touches several accounts (a COPY, a multi-row INSERT)
 * runs bulk statements over arrays with a custom plan made for each, so
 * the planner sees how many accounts there really are.
 */
typedef struct UpkeepPlans
{
	SPIPlanPtr	count,
				lock,
				create,
				charges,
				write,
				settle_outbox,
				settle_plan;
} UpkeepPlans;

static UpkeepPlans bulk;

/*
 * One account by its full key: always the primary key, whatever the
 * statistics. A single posting first tries without a row lock: read the
 * account, compute, and write it only if that row version is still the
 * current one: the UPDATE finds it by ctid and also requires its xmin,
 * which a concurrent update's EvalPlanQual recheck compares on the newer
 * version (a TID scan alone would accept that one), so then nothing is
 * written. Only when a concurrent posting got there first does it lock,
 * read and compute again. The common case saves
 * the lock's own WAL record and a second index descent.
 */
typedef struct SinglePlans
{
	SPIPlanPtr	read,
				lock,
				create,
				charges,
				write_if_current,
				write;
} SinglePlans;

/* element types of the written columns */
static const Oid column_types[N_WRITE_COLUMNS] = {TEXTOID, NUMERICOID, NUMERICOID, DATEOID, INT4OID,
	TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, DATEOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	NUMERICOID, TIMESTAMPTZOID, NUMERICOID, NUMERICOID, INT4OID, INT4OID};

static SinglePlans single;
static bool plans_ready = false;

/* the columns the lock reads, in the order read_account_row expects */
#define N_ACCOUNT_COLUMNS 20
#define ACCOUNT_COLUMNS \
	"patient_id, balance, charges_total, due_since, state, next_action_at," \
	" last_response_at IS NOT NULL, failed_contacts, doubt, asked_for_plan, returned_mail," \
	" cadence_anchor, cadence_step, last_posted_at, last_charge_at, last_payment_at," \
	" last_payment_amount, fifo_from, fifo_to, segment"

/* the columns the write sets, in the order of the Column arrays; true = added to */
static const struct
{
	const char *name;
	bool		increment;
}			write_columns[] = {
	{"patient_id", false}, {"balance", false}, {"charges_total", false}, {"due_since", false},
	{"days_past_due", false}, {"aging_bucket", false}, {"segment", false}, {"state", false},
	{"next_action_at", false}, {"cadence_anchor", false}, {"cadence_step", false},
	{"last_posted_at", false}, {"last_payment_at", false}, {"last_payment_amount", false},
	{"last_charge_at", false}, {"fifo_from", false}, {"fifo_to", false},
	{"paid_on_time", true}, {"paid_late", true}
};

/* "col = <source>" for every written column but the key, and updated_at */
static char *
write_set_list(bool from_arrays)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int c = 1; c < (int) lengthof(write_columns); c++)
	{
		const char *name = write_columns[c].name;

		appendStringInfo(&buf, "%s = %s%s%s%s%d, ", name,
						 write_columns[c].increment ? "a." : "", write_columns[c].increment ? name : "",
						 write_columns[c].increment ? " + " : "",
						 from_arrays ? "u.c" : "$", from_arrays ? c : c + 2);
	}
	appendStringInfoString(&buf, from_arrays ? "updated_at = u.c11" : "updated_at = $13");
	return buf.data;
}

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *types, int options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, types, options);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

static void
prepare_plan_set(UpkeepPlans *p, int options)
{
	Oid			key_types[3] = {TEXTOID, TEXTARRAYOID, TIMESTAMPTZOID};
	Oid			write_types[N_WRITE_COLUMNS + 1] = {TEXTOID, TEXTARRAYOID, NUMERICARRAYOID, NUMERICARRAYOID,
		DATEARRAYOID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID,
		DATEARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, NUMERICARRAYOID,
	TIMESTAMPTZARRAYOID, NUMERICARRAYOID, NUMERICARRAYOID, INT4ARRAYOID, INT4ARRAYOID};

	p->count = prepare_kept("SELECT count(*) FROM collect.account WHERE practice_id = $1 AND patient_id = ANY ($2)",
							2, key_types, options);
	p->lock = prepare_kept("SELECT " ACCOUNT_COLUMNS " FROM collect.account"
						   " WHERE practice_id = $1 AND patient_id = ANY ($2)"
						   " ORDER BY patient_id COLLATE \"C\" FOR UPDATE", 2, key_types, options);
	p->create = prepare_kept(
							   "INSERT INTO collect.account (practice_id, patient_id, updated_at)"
							   " SELECT $1, k, $3 FROM unnest($2::text[]) k ORDER BY k COLLATE \"C\""
							   " ON CONFLICT (practice_id, patient_id) DO NOTHING", 3, key_types, options);
	p->charges = prepare_kept(
								"SELECT patient_id, posted_at, amount FROM collect.ledger"
								" WHERE practice_id = $1 AND patient_id = ANY ($2) AND kind = 'charge'"
								" ORDER BY patient_id COLLATE \"C\", posted_at, entry_id", 2, key_types, options);
	p->write = prepare_kept(psprintf("UPDATE collect.account AS a SET %s"
									 " FROM unnest($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
									 "  $16, $17, $18, $19, $20) AS u(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10,"
									 "  c11, c12, c13, c14, c15, c16, c17, c18)"
									 " WHERE a.practice_id = $1 AND a.patient_id = u.c0",
									 write_set_list(true)),
							N_WRITE_COLUMNS + 1, write_types, options);
	p->settle_outbox = prepare_kept(
									  "UPDATE collect.outbox SET status = 'cancelled', last_error = 'cancelled: balance paid in full'"
									  " WHERE practice_id = $1 AND patient_id = ANY ($2) AND status = 'queued'"
									  " AND " OUTBOX_CANCELLABLE, 2, key_types, options);
	p->settle_plan = prepare_kept(
									"UPDATE collect.plan SET status = 'completed'"
									" WHERE practice_id = $1 AND patient_id = ANY ($2) AND status IN ('active', 'pending_approval')",
									2, key_types, options);
}

static void
prepare_plans(void)
{
	Oid			key_types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Oid			write_types[N_WRITE_COLUMNS + 3];

	if (plans_ready)
		return;
	prepare_plan_set(&bulk, CURSOR_OPT_CUSTOM_PLAN);

	write_types[0] = TEXTOID;
	for (int c = 0; c < N_WRITE_COLUMNS; c++)
		write_types[c + 1] = column_types[c];
	single.read = prepare_kept("SELECT " ACCOUNT_COLUMNS ", ctid, xmin FROM collect.account"
							   " WHERE practice_id = $1 AND patient_id = $2",
							   2, key_types, CURSOR_OPT_GENERIC_PLAN);
	single.lock = prepare_kept("SELECT " ACCOUNT_COLUMNS " FROM collect.account"
							   " WHERE practice_id = $1 AND patient_id = $2 FOR UPDATE",
							   2, key_types, CURSOR_OPT_GENERIC_PLAN);
	single.create = prepare_kept("INSERT INTO collect.account (practice_id, patient_id, updated_at)"
								 " VALUES ($1, $2, $3) ON CONFLICT (practice_id, patient_id) DO NOTHING",
								 3, key_types, CURSOR_OPT_GENERIC_PLAN);
	single.charges = prepare_kept("SELECT patient_id, posted_at, amount FROM collect.ledger"
								  " WHERE practice_id = $1 AND patient_id = $2 AND kind = 'charge'"
								  " ORDER BY posted_at, entry_id", 2, key_types, CURSOR_OPT_GENERIC_PLAN);
	single.write = prepare_kept(psprintf("UPDATE collect.account AS a SET %s"
										 " WHERE practice_id = $1 AND patient_id = $2", write_set_list(false)),
								N_WRITE_COLUMNS + 1, write_types, CURSOR_OPT_GENERIC_PLAN);
	write_types[N_WRITE_COLUMNS + 1] = TIDOID;
	write_types[N_WRITE_COLUMNS + 2] = XIDOID;
	single.write_if_current = prepare_kept(psprintf("UPDATE collect.account AS a SET %s"
													" WHERE ctid = $%d AND xmin = $%d AND practice_id = $1 AND patient_id = $2",
													write_set_list(false), N_WRITE_COLUMNS + 2, N_WRITE_COLUMNS + 3),
										   N_WRITE_COLUMNS + 3, write_types, CURSOR_OPT_GENERIC_PLAN);
	plans_ready = true;
}

/* A column of values headed for an array parameter */
typedef struct Column
{
	Oid			type;
	Datum	   *values;
	bool	   *nulls;
} Column;

static void
column_init(Column *c, Oid type, int n)
{
	c->type = type;
	c->values = palloc(sizeof(Datum) * Max(n, 1));
	c->nulls = palloc0(sizeof(bool) * Max(n, 1));
}

static Datum
column_array(Column *c, int n)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(c->type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(c->values, c->nulls, 1, dims, lbs,
											  c->type, typlen, typbyval, typalign));
}

static Datum
patient_ids_array(AccountRow *rows, int n, bool (*pick) (const AccountRow *))
{
	Column		ids;
	int			k = 0;

	column_init(&ids, TEXTOID, n);
	for (int i = 0; i < n; i++)
		if (pick == NULL || pick(&rows[i]))
			ids.values[k++] = CStringGetTextDatum(rows[i].patient_id);
	return column_array(&ids, k);
}

static bool
needs_fifo(const AccountRow *r)
{
	return r->needs_fifo;
}

static bool
settled_now(const AccountRow *r)
{
	return r->settled_now;
}

static TimestampTz
ts_or_none(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
}

/* One locked account row (columns of ACCOUNT_COLUMNS) into *r */
static void
read_account_row(HeapTuple tup, TupleDesc desc, AccountRow *r)
{
	bool		isnull;
	Datum		d;

	if (strcmp(SPI_getvalue(tup, desc, 1), r->patient_id) != 0)
		elog(ERROR, "account lock order does not match the ledger deltas");
	r->old_balance = numeric_to_cents(SPI_getbinval(tup, desc, 2, &isnull));
	r->old_charges_total = numeric_to_cents(SPI_getbinval(tup, desc, 3, &isnull));
	d = SPI_getbinval(tup, desc, 4, &isnull);
	r->old_has_due = !isnull;
	r->old_due_since = isnull ? 0 : DatumGetDateADT(d);
	r->state = SPI_getvalue(tup, desc, 5);
	d = SPI_getbinval(tup, desc, 6, &isnull);
	r->has_next_action = !isnull;
	r->next_action_at = isnull ? 0 : DatumGetTimestampTz(d);
	r->facts.responded = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
	r->facts.failed_contacts = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
	r->facts.doubt = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
	r->facts.asked_for_plan = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
	r->facts.returned_mail = DatumGetBool(SPI_getbinval(tup, desc, 11, &isnull));
	d = SPI_getbinval(tup, desc, 12, &isnull);
	r->has_anchor = !isnull;
	r->anchor = isnull ? 0 : DatumGetDateADT(d);
	r->cadence_step = DatumGetInt32(SPI_getbinval(tup, desc, 13, &isnull));
	r->last_posted_at = ts_or_none(tup, desc, 14);
	r->last_charge_at = ts_or_none(tup, desc, 15);
	r->last_payment_at = ts_or_none(tup, desc, 16);
	d = SPI_getbinval(tup, desc, 17, &isnull);
	r->last_payment = isnull ? 0 : numeric_to_cents(d);
	d = SPI_getbinval(tup, desc, 18, &isnull);
	r->fifo_from = isnull ? 0 : numeric_to_cents(d);
	d = SPI_getbinval(tup, desc, 19, &isnull);
	r->fifo_to = isnull ? 0 : numeric_to_cents(d);
	/* what the KPI rollup files the statement's rows under */
	r->delta->old_balance = r->old_balance;
	strlcpy(r->delta->old_segment, SPI_getvalue(tup, desc, 20), ACCOUNT_SEGMENT_LEN);
}

/* Lock and read the touched accounts; false if some do not exist. */
static bool
lock_accounts(const UpkeepPlans *plans, Datum *args, AccountRow *rows, int n)
{
	if (SPI_execute_plan(plans->lock, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "locking collect.account failed");
	if (SPI_processed != (uint64) n)
	{
		SPI_freetuptable(SPI_tuptable);
		return false;
	}
	for (int i = 0; i < n; i++)
		read_account_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &rows[i]);
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/* A row version of an account: where it is and which transaction wrote it */
typedef struct RowVersion
{
	ItemPointerData ctid;
	TransactionId xmin;
} RowVersion;

/*
 * Read one account without a lock; false (and nothing read) if it does not
 * exist yet. *version is the row version read.
 */
static bool
read_one_account(Datum practice, AccountRow *r, RowVersion *version)
{
	Datum		args[2] = {practice, CStringGetTextDatum(r->patient_id)};
	bool		isnull;

	if (SPI_execute_plan(single.read, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading collect.account failed");
	if (SPI_processed == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return false;
	}
	read_account_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, r);
	ItemPointerCopy((ItemPointer) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
																N_ACCOUNT_COLUMNS + 1, &isnull)), &version->ctid);
	version->xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
														N_ACCOUNT_COLUMNS + 2, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/* Lock and read one account by its key, creating it on first posting. */
static void
lock_one_account(Datum practice, TimestampTz created, AccountRow *r)
{
	Datum		args[3] = {practice, CStringGetTextDatum(r->patient_id), TimestampTzGetDatum(created)};

	for (int attempt = 0; attempt < 2; attempt++)
	{
		if (SPI_execute_plan(single.lock, args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "locking collect.account failed");
		if (SPI_processed == 1)
		{
			read_account_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, r);
			SPI_freetuptable(SPI_tuptable);
			return;
		}
		SPI_freetuptable(SPI_tuptable);
		if (SPI_execute_plan(single.create, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "creating a collect.account row failed");
	}
	elog(ERROR, "collect.account row vanished while locked");
}

/*
 * New balance and due date, first-in-first-out. The oldest unpaid charge
 * spans (fifo_from, fifo_to] of the running sum of charges; while the
 * credits applied (charges_total - balance) stay inside that span and no
 * charge arrives out of posting order, due_since cannot move. Only a
 * payment that finishes the oldest charge, a reversal that re-opens an
 * older one, or a back-dated charge needs the ledger (apply_charges).
 */
static void
apply_delta(AccountRow *r, pg_tz *tz)
{
	const PatientDelta *d = r->delta;
	bool		in_order = d->n_charges == 0 || r->last_charge_at == DT_NOBEGIN ||
		d->first_charge_at >= r->last_charge_at;
	Cents		credits_applied;

	r->balance = r->old_balance + d->balance_delta;
	r->charges_total = r->old_charges_total + d->charges;
	credits_applied = r->charges_total - r->balance;
	r->has_due = r->old_has_due;
	r->due_since = r->old_due_since;
	r->needs_fifo = false;
	r->settled_now = r->balance <= 0 && r->old_balance > 0;

	if (r->balance <= 0)
		r->has_due = false;
	else if (in_order && d->n_rows == 1 && d->n_charges == 1 && r->old_balance <= 0)
	{
		/* everything older is paid: the new charge is the oldest unpaid */
		r->has_due = true;
		r->due_since = local_date(d->last_charge_at, tz);
		r->fifo_from = r->old_charges_total;
		r->fifo_to = r->charges_total;
	}
	else if (!(in_order && r->old_has_due &&
			   credits_applied >= r->fifo_from && credits_applied < r->fifo_to))
		r->needs_fifo = true;

	r->last_posted_at = Max(r->last_posted_at, d->last_posted_at);
	if (d->last_charge_at != DT_NOBEGIN)
		r->last_charge_at = Max(r->last_charge_at, d->last_charge_at);
	if (d->last_payment_at != DT_NOBEGIN && d->last_payment_at >= r->last_payment_at)
	{
		r->last_payment_at = d->last_payment_at;
		r->last_payment = d->last_payment;
	}
}

/*
 * FIFO over the charges in SPI_tuptable (grouped by patient in the order of
 * rows, posting order within) for every row that needs it.
 */
static void
apply_charges(AccountRow *rows, int n, pg_tz *tz)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	uint64		i = 0;

	for (int row = 0; row < n; row++)
	{
		AccountRow *r = &rows[row];
		Cents		credits_applied = r->charges_total - r->balance;
		Cents		covered = 0;

		if (!r->needs_fifo)
			continue;
		r->has_due = false;
		for (; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			bool		isnull;

			if (strcmp(SPI_getvalue(tup, desc, 1), r->patient_id) != 0)
				break;
			if (!r->has_due)
			{
				Cents		amount = numeric_to_cents(SPI_getbinval(tup, desc, 3, &isnull));

				if (covered + amount > credits_applied)
				{
					r->has_due = true;
					r->due_since = local_date(DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull)), tz);
					r->fifo_from = covered;
					r->fifo_to = covered + amount;
				}
				covered += amount;
			}
		}
		if (!r->has_due && r->balance > 0)
		{
			/* owed through refunds or reversals alone: due from the latest posting */
			r->has_due = true;
			r->due_since = local_date(r->delta->last_posted_at, tz);
			r->fifo_from = r->fifo_to = r->charges_total;
		}
	}
	SPI_freetuptable(SPI_tuptable);
}

/* State, aging, segment and next action after the posting */
static void
derive_and_collect(AccountRow *r, pg_tz *tz, Column *cols, int i)
{
	int			days = 0;
	bool		has_next = r->has_next_action;
	TimestampTz next = r->next_action_at;
	bool		has_anchor = r->has_anchor;
	DateADT		anchor = r->anchor;
	int			step = r->cadence_step;
	const char *state = r->state;

	DateADT		as_of = local_date(r->last_posted_at, tz);
	int			old_days = r->old_has_due ? days_between(r->old_due_since, as_of) : 0;

	if (r->has_due)
		days = Max(0, days_between(r->due_since, as_of));

	if (r->balance <= 0)
	{
		/* paid (or in credit): nothing left to chase */
		state = "closed";
		has_next = false;
		has_anchor = false;
		step = 0;
	}
	else if (r->old_balance <= 0)
	{
		/* a new balance: tick plans its cadence from due_since */
		state = "current";
		has_next = true;
		next = r->delta->last_posted_at;
		has_anchor = true;
		anchor = r->due_since;
		step = 0;
	}
	else if (r->delta->has_non_charge && (!has_next || next > r->delta->last_posted_at))
	{
		/* a payment or credit: tick re-plans (postpones, re-words, re-offers) */
		has_next = true;
		next = r->delta->last_posted_at;
	}

	r->facts.balance = r->balance;
	r->facts.days_past_due = days;
	r->facts.high_value_threshold = 30000;	/* tick refines it with the policy */

	cols[0].values[i] = CStringGetTextDatum(r->patient_id);
	cols[1].values[i] = cents_to_numeric(r->balance);
	cols[2].values[i] = cents_to_numeric(r->charges_total);
	cols[3].values[i] = DateADTGetDatum(r->due_since);
	cols[3].nulls[i] = !r->has_due;
	cols[4].values[i] = Int32GetDatum(days);
	cols[5].values[i] = CStringGetTextDatum(aging_bucket_for(days));
	cols[6].values[i] = CStringGetTextDatum(account_segment(&r->facts));
	cols[7].values[i] = CStringGetTextDatum(state);
	cols[8].values[i] = TimestampTzGetDatum(next);
	cols[8].nulls[i] = !has_next;
	cols[9].values[i] = DateADTGetDatum(anchor);
	cols[9].nulls[i] = !has_anchor;
	cols[10].values[i] = Int32GetDatum(step);
	cols[11].values[i] = TimestampTzGetDatum(r->last_posted_at);
	cols[12].values[i] = TimestampTzGetDatum(r->last_payment_at);
	cols[12].nulls[i] = r->last_payment_at == DT_NOBEGIN;
	cols[13].values[i] = cents_to_numeric(r->last_payment);
	cols[13].nulls[i] = r->last_payment_at == DT_NOBEGIN;
	cols[14].values[i] = TimestampTzGetDatum(r->last_charge_at);
	cols[14].nulls[i] = r->last_charge_at == DT_NOBEGIN;
	cols[15].values[i] = cents_to_numeric(r->fifo_from);
	cols[15].nulls[i] = !r->has_due;
	cols[16].values[i] = cents_to_numeric(r->fifo_to);
	cols[16].nulls[i] = !r->has_due;
	/* paid in full on time (within 30 days) or late: gentler cadences next time */
	cols[17].values[i] = Int32GetDatum(r->settled_now && old_days <= 30 ? 1 : 0);
	cols[18].values[i] = Int32GetDatum(r->settled_now && old_days > 30 ? 1 : 0);
}

/*
 * Compute the new state of the accounts read into rows (one practice, key
 * order) and write them. With a version (one account read without a lock),
 * write only if that row version is still current; false if it was not
 * and nothing was written.
 */
static bool
compute_and_write(Datum practice, AccountRow *rows, int n, pg_tz *tz, const RowVersion *version)
{
	Datum		args[N_WRITE_COLUMNS + 3];
	Column		cols[N_WRITE_COLUMNS];
	bool		any_fifo = false;

	for (int i = 0; i < n; i++)
	{
		apply_delta(&rows[i], tz);
		any_fifo |= rows[i].needs_fifo;
		rows[i].delta->new_balance = rows[i].balance;
	}
	if (any_fifo)
	{
		Datum		fifo_args[2] = {practice, n == 1 ? CStringGetTextDatum(rows[0].patient_id)
		: patient_ids_array(rows, n, needs_fifo)};

		if (SPI_execute_plan(n == 1 ? single.charges : bulk.charges, fifo_args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading ledger charges failed");
		apply_charges(rows, n, tz);
	}

	for (int c = 0; c < N_WRITE_COLUMNS; c++)
		column_init(&cols[c], column_types[c], n);
	for (int i = 0; i < n; i++)
	{
		derive_and_collect(&rows[i], tz, cols, i);
		if ((i & 1023) == 1023)
			CHECK_FOR_INTERRUPTS();
	}
	args[0] = practice;
	if (n == 1)
	{
		char		nulls[N_WRITE_COLUMNS + 3];

		nulls[0] = ' ';
		for (int c = 0; c < N_WRITE_COLUMNS; c++)
		{
			args[c + 1] = cols[c].values[0];
			nulls[c + 1] = cols[c].nulls[0] ? 'n' : ' ';
		}
		if (version != NULL)
		{
			args[N_WRITE_COLUMNS + 1] = PointerGetDatum(&version->ctid);
			args[N_WRITE_COLUMNS + 2] = TransactionIdGetDatum(version->xmin);
		}
		nulls[N_WRITE_COLUMNS + 1] = nulls[N_WRITE_COLUMNS + 2] = ' ';
		if (SPI_execute_plan(version != NULL ? single.write_if_current : single.write,
							 args, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "writing collect.account failed");
		if (SPI_processed == 0 && version != NULL)
			return false;
		if (SPI_processed != 1)
			elog(ERROR, "writing collect.account failed");
	}
	else
	{
		for (int c = 0; c < N_WRITE_COLUMNS; c++)
			args[c + 1] = column_array(&cols[c], n);
		if (SPI_execute_plan(bulk.write, args, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != (uint64) n)
			elog(ERROR, "writing collect.account failed");
	}
	return true;
}

static bool
reopens_plans(const AccountRow *r)
{
	return r->delta->reopens_plans;
}

void
account_upkeep(PatientDelta **deltas, int n, pg_tz *tz)
{
	const char *sep = strchr(deltas[0]->key, '\x1f');
	Datum		practice = PointerGetDatum(cstring_to_text_with_len(deltas[0]->key, sep - deltas[0]->key));
	AccountRow *rows = palloc0(sizeof(AccountRow) * n);
	Datum		args[3];
	bool		any_settled = false,
				any_reopens = false;

	prepare_plans();
	for (int i = 0; i < n; i++)
	{
		rows[i].delta = deltas[i];
		rows[i].patient_id = strchr(deltas[i]->key, '\x1f') + 1;
	}

	args[0] = practice;
	args[1] = patient_ids_array(rows, n, NULL);
	args[2] = TimestampTzGetDatum(deltas[0]->last_posted_at);
	if (n == 1)
	{
		RowVersion	version;

		/* without a lock first; again under the lock if another posting came between */
		if (!read_one_account(practice, &rows[0], &version) ||
			!compute_and_write(practice, rows, 1, tz, &version))
		{
			lock_one_account(practice, deltas[0]->last_posted_at, &rows[0]);
			compute_and_write(practice, rows, 1, tz, NULL);
		}
	}
	else
	{
		bool		missing,
					isnull;

		/*
		 * Create the missing accounts before locking any: a statement that
		 * locked the existing ones first and then created the rest would
		 * hold rows out of key order (its new rows) while waiting to lock
		 * rows another statement had just created, and two such
		 * statements deadlock. Created first, then locked in key order,
		 * no wait can close a cycle. A plain read (no lock) tells whether
		 * any is missing, so the common case skips the INSERT.
		 */
		if (SPI_execute_plan(bulk.count, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "counting collect.account rows failed");
		missing = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) < n;
		SPI_freetuptable(SPI_tuptable);
		if (missing && SPI_execute_plan(bulk.create, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "creating collect.account rows failed");
		if (!lock_accounts(&bulk, args, rows, n))
			elog(ERROR, "collect.account rows vanished while locked");
		compute_and_write(practice, rows, n, tz, NULL);
	}

	for (int i = 0; i < n; i++)
	{
		any_settled |= rows[i].settled_now;
		any_reopens |= deltas[i]->reopens_plans;
	}
	if (any_settled)
	{
		args[1] = patient_ids_array(rows, n, settled_now);
		SPI_execute_plan(bulk.settle_outbox, args, NULL, false, 0);
		SPI_execute_plan(bulk.settle_plan, args, NULL, false, 0);
	}
	if (any_reopens)
		plans_flag_settle(practice, patient_ids_array(rows, n, reopens_plans));
}
