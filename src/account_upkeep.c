/*
 * account_upkeep.c: writes one ledger statement's deltas to collect.account,
 * in bulk: per practice, the missing accounts created, one locking read of
 * the touched accounts (in key order, so concurrent statements never
 * deadlock), one read of the charges of the accounts whose FIFO due date
 * may have moved, one UPDATE through unnest() of arrays. Three or four
 * statements whatever the number of rows.
 * A single posting (one account) takes a lighter path: read, compute, and
 * write only if the row version read is still current.
 * Existing accounts are read, locked and written straight through the
 * primary key and the heap (direct_row.c) when that is what an UPDATE
 * would do; SQL creates missing ones, and does everything when the table
 * has triggers or row-level security applies.
 * Called by the ledger trigger inside SPI; no network, no wall clock: the
 * account's own latest posted_at is its "as of".
 */
#include "collect.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "account.h"
#include "account_upkeep.h"
#include "direct_row.h"

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
	ItemPointerData tid;		/* the locked row version (direct writes) */
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
 * statistics. A single posting first tries without a row lock (directly,
 * see account_upkeep): read the account, compute, and write it only if
 * that row version is still the current one. Only when the account is
 * new, a concurrent posting got there first, or direct writes are not
 * possible does it lock (creating the account if needed), read and
 * compute again with these. The common case saves the lock's own WAL
 * record and a second index descent.
 */
typedef struct SinglePlans
{
	SPIPlanPtr	lock,
				create,
				charges,
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
	Oid			write_types[N_WRITE_COLUMNS + 1];

	if (plans_ready)
		return;
	prepare_plan_set(&bulk, CURSOR_OPT_CUSTOM_PLAN);

	write_types[0] = TEXTOID;
	for (int c = 0; c < N_WRITE_COLUMNS; c++)
		write_types[c + 1] = column_types[c];
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
ts_or_none(const Datum *v, const bool *nulls, int col)
{
	return nulls[col] ? DT_NOBEGIN : DatumGetTimestampTz(v[col]);
}

static Cents
cents_or_zero(const Datum *v, const bool *nulls, int col)
{
	return nulls[col] ? 0 : numeric_to_cents(v[col]);
}

/* One locked account row (values of ACCOUNT_COLUMNS, in that order) into *r */
static void
read_account_row(const Datum *v, const bool *nulls, AccountRow *r)
{
	if (strcmp(TextDatumGetCString(v[0]), r->patient_id) != 0)
		elog(ERROR, "account lock order does not match the ledger deltas");
	r->old_balance = numeric_to_cents(v[1]);
	r->old_charges_total = numeric_to_cents(v[2]);
	r->old_has_due = !nulls[3];
	r->old_due_since = nulls[3] ? 0 : DatumGetDateADT(v[3]);
	r->state = TextDatumGetCString(v[4]);
	r->has_next_action = !nulls[5];
	r->next_action_at = nulls[5] ? 0 : DatumGetTimestampTz(v[5]);
	r->facts.responded = DatumGetBool(v[6]);
	r->facts.failed_contacts = DatumGetInt32(v[7]);
	r->facts.doubt = DatumGetBool(v[8]);
	r->facts.asked_for_plan = DatumGetBool(v[9]);
	r->facts.returned_mail = DatumGetBool(v[10]);
	r->has_anchor = !nulls[11];
	r->anchor = nulls[11] ? 0 : DatumGetDateADT(v[11]);
	r->cadence_step = DatumGetInt32(v[12]);
	r->last_posted_at = ts_or_none(v, nulls, 13);
	r->last_charge_at = ts_or_none(v, nulls, 14);
	r->last_payment_at = ts_or_none(v, nulls, 15);
	r->last_payment = cents_or_zero(v, nulls, 16);
	r->fifo_from = cents_or_zero(v, nulls, 17);
	r->fifo_to = cents_or_zero(v, nulls, 18);
	/* what the KPI rollup files the statement's rows under */
	r->delta->old_balance = r->old_balance;
	text_to_cstring_buffer(DatumGetTextPP(v[19]), r->delta->old_segment, ACCOUNT_SEGMENT_LEN);
}

static void
read_spi_account_row(HeapTuple tup, TupleDesc desc, AccountRow *r)
{
	Datum		v[N_ACCOUNT_COLUMNS];
	bool		nulls[N_ACCOUNT_COLUMNS];

	heap_deform_tuple(tup, desc, v, nulls);
	read_account_row(v, nulls, r);
}

/* collect.account opened for direct writes, with its columns' numbers */
typedef struct DirectAccounts
{
	DirectTable *t;
	const AttrNumber *att;		/* READ_ATT, WRITE_ATT, UPDATED_AT_ATT */
} DirectAccounts;

/* the columns of ACCOUNT_COLUMNS; the 7th is read as IS NOT NULL */
static const char *const read_columns[N_ACCOUNT_COLUMNS] = {
	"patient_id", "balance", "charges_total", "due_since", "state", "next_action_at",
	"last_response_at", "failed_contacts", "doubt", "asked_for_plan", "returned_mail",
	"cadence_anchor", "cadence_step", "last_posted_at", "last_charge_at", "last_payment_at",
	"last_payment_amount", "fifo_from", "fifo_to", "segment"
};
#define READ_RESPONDED 6
#define READ_ATT(da, c) ((da)->att[(c)])
#define WRITE_ATT(da, c) ((da)->att[N_ACCOUNT_COLUMNS + (c)])
#define UPDATED_AT_ATT(da) ((da)->att[N_ACCOUNT_COLUMNS + N_WRITE_COLUMNS])

static bool
direct_accounts_open(DirectAccounts *da)
{
	static const char *names[N_ACCOUNT_COLUMNS + N_WRITE_COLUMNS + 1];
	static DirectColumns columns = {lengthof(names), names};

	if (names[0] == NULL)
	{
		for (int c = 0; c < N_ACCOUNT_COLUMNS; c++)
			names[c] = read_columns[c];
		for (int c = 0; c < N_WRITE_COLUMNS; c++)
			names[N_ACCOUNT_COLUMNS + c] = write_columns[c].name;
		names[N_ACCOUNT_COLUMNS + N_WRITE_COLUMNS] = "updated_at";
	}
	da->t = direct_open("account", &columns, &da->att);
	return da->t != NULL;
}

/* The account direct_fetch found into *r */
static void
read_direct_account_row(DirectAccounts *da, AccountRow *r)
{
	Datum		v[N_ACCOUNT_COLUMNS];
	bool		nulls[N_ACCOUNT_COLUMNS];

	for (int c = 0; c < N_ACCOUNT_COLUMNS; c++)
		v[c] = direct_value(da->t, READ_ATT(da, c), &nulls[c]);
	v[READ_RESPONDED] = BoolGetDatum(!nulls[READ_RESPONDED]);
	nulls[READ_RESPONDED] = false;
	read_account_row(v, nulls, r);
	ItemPointerCopy(direct_tid(da->t), &r->tid);
}

/*
 * Write row i of cols (the SET list of the UPDATE statements) over the
 * account direct_fetch found; false if that version is no longer current.
 */
static bool
write_direct_account_row(DirectAccounts *da, Column *cols, int i)
{
	direct_begin(da->t);
	for (int c = 1; c < N_WRITE_COLUMNS; c++)
	{
		Datum		value = cols[c].values[i];

		if (write_columns[c].increment)
		{
			bool		isnull;
			Datum		old = direct_value(da->t, WRITE_ATT(da, c), &isnull);

			value = Int32GetDatum(DatumGetInt32(old) + DatumGetInt32(value));
		}
		direct_set(da->t, WRITE_ATT(da, c), value, cols[c].nulls[i]);
	}
	direct_set(da->t, UPDATED_AT_ATT(da), cols[11].values[i], cols[11].nulls[i]);
	return direct_write(da->t);
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
		read_spi_account_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &rows[i]);
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/*
 * Find the touched accounts without locking them, remembering where each
 * is; true if some do not exist yet.
 */
static bool
find_direct_accounts(DirectAccounts *da, Datum practice, AccountRow *rows, int n)
{
	bool		missing = false;

	for (int i = 0; i < n; i++)
	{
		Datum		key[2] = {practice, CStringGetTextDatum(rows[i].patient_id)};

		if (direct_fetch(da->t, key, false))
			ItemPointerCopy(direct_tid(da->t), &rows[i].tid);
		else
		{
			ItemPointerSetInvalid(&rows[i].tid);
			missing = true;
		}
		if ((i & 1023) == 1023)
			CHECK_FOR_INTERRUPTS();
	}
	return missing;
}

/*
 * Lock and read the touched accounts directly, one by one in key order:
 * where find_direct_accounts saw it if that version is still current,
 * else found again by key. False if some do not exist.
 */
static bool
lock_direct_accounts(DirectAccounts *da, Datum practice, AccountRow *rows, int n)
{
	CommandCounterIncrement();	/* see the accounts just created */
	for (int i = 0; i < n; i++)
	{
		Datum		key[2] = {practice, CStringGetTextDatum(rows[i].patient_id)};

		if (!(ItemPointerIsValid(&rows[i].tid) && direct_lock_tid(da->t, &rows[i].tid)) &&
			!direct_fetch(da->t, key, true))
			return false;
		read_direct_account_row(da, &rows[i]);
		if ((i & 1023) == 1023)
			CHECK_FOR_INTERRUPTS();
	}
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
			read_spi_account_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, r);
			SPI_freetuptable(SPI_tuptable);
			return;
		}
		SPI_freetuptable(SPI_tuptable);
		if (SPI_execute_plan(single.create, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "creating a collect.account row failed");
	}
	elog(ERROR, "collect.account row vanished while locked");
}

static int
compare_charges(const void *a, const void *b)
{
	const StatementCharge *x = a;
	const StatementCharge *y = b;

	if (x->posted_at != y->posted_at)
		return x->posted_at < y->posted_at ? -1 : 1;
	return x->entry_id < y->entry_id ? -1 : x->entry_id > y->entry_id;
}

/*
 * First-in-first-out over charges in posting order, the first of them at
 * running sum covered: the oldest one the credits applied do not pay off
 * is due. None (owed through refunds or reversals alone): due from the
 * latest posting.
 */
static void
fifo_over(AccountRow *r, const StatementCharge *charges, int n, Cents covered, pg_tz *tz)
{
	Cents		credits_applied = r->charges_total - r->balance;

	r->has_due = false;
	for (int i = 0; i < n && !r->has_due; i++)
	{
		if (covered + charges[i].amount > credits_applied)
		{
			r->has_due = true;
			r->due_since = local_date(charges[i].posted_at, tz);
			r->fifo_from = covered;
			r->fifo_to = covered + charges[i].amount;
		}
		covered += charges[i].amount;
	}
	if (!r->has_due)
	{
		r->has_due = true;
		r->due_since = local_date(r->delta->last_posted_at, tz);
		r->fifo_from = r->fifo_to = r->charges_total;
	}
}

/*
 * FIFO over the statement's own charges, when every older charge is paid
 * (credits applied reach the charges before the statement) and all of them
 * are posted after the older ones: what reading the ledger would find.
 */
static void
fifo_statement_charges(AccountRow *r, pg_tz *tz)
{
	PatientDelta *d = r->delta;

	qsort(d->charge_list, d->n_charges, sizeof(StatementCharge), compare_charges);
	fifo_over(r, d->charge_list, d->n_charges, r->old_charges_total, tz);
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
	/* every new charge strictly after every older one (no tie to break by entry_id) */
	bool		after_older = d->n_charges > 0 &&
		(r->last_charge_at == DT_NOBEGIN || d->first_charge_at > r->last_charge_at);

	/*
	 * Every new charge (back-dated or not) posted after the oldest unpaid
	 * one, whose local date is due_since: then the charges before that one
	 * are unchanged, and so is its span. Two days of margin, because a
	 * practice that changed time zone computed due_since in the old one
	 * (local dates of one moment differ by at most two days across zones).
	 */
	bool		after_oldest_unpaid = in_order ||
		(r->old_has_due && local_date(d->first_charge_at, tz) > r->old_due_since + 2);
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
	else if (!(after_oldest_unpaid && r->old_has_due &&
			   credits_applied >= r->fifo_from && credits_applied < r->fifo_to))
	{
		/* among the statement's own charges if every older one is paid, else from the ledger */
		if (after_older && (credits_applied >= r->old_charges_total || r->old_charges_total == 0))
			fifo_statement_charges(r, tz);
		else
			r->needs_fifo = true;
	}

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
	StatementCharge *charges = palloc(sizeof(StatementCharge) * Max(SPI_processed, 1));
	uint64		i = 0;

	for (int row = 0; row < n; row++)
	{
		AccountRow *r = &rows[row];
		int			k = 0;

		if (!r->needs_fifo)
			continue;
		for (; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			bool		isnull;

			if (strcmp(SPI_getvalue(tup, desc, 1), r->patient_id) != 0)
				break;
			charges[k].posted_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
			charges[k++].amount = numeric_to_cents(SPI_getbinval(tup, desc, 3, &isnull));
		}
		fifo_over(r, charges, k, 0, tz);
	}
	pfree(charges);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The same, reading each patient's charges through the ledger's
 * (practice_id, patient_id, posted_at) index: no sort of every row read,
 * no copy into SPI. False if direct reads are not possible.
 */
static bool
apply_charges_direct(Datum practice, AccountRow *rows, int n, pg_tz *tz)
{
	DirectScan *scan = direct_scan_open("ledger", "ledger_patient_idx", 2);
	AttrNumber	entry_att,
				kind_att,
				amount_att,
				posted_att;
	int			cap = 16;
	StatementCharge *charges;

	if (scan == NULL)
		return false;
	entry_att = direct_scan_column(scan, "entry_id");
	kind_att = direct_scan_column(scan, "kind");
	amount_att = direct_scan_column(scan, "amount");
	posted_att = direct_scan_column(scan, "posted_at");
	charges = palloc(sizeof(StatementCharge) * cap);
	for (int row = 0; row < n; row++)
	{
		AccountRow *r = &rows[row];
		Datum		key[2] = {practice, CStringGetTextDatum(r->patient_id)};
		TupleTableSlot *slot;
		int			k = 0;

		if (!r->needs_fifo)
			continue;
		direct_scan_begin(scan, key);
		while ((slot = direct_scan_next(scan)) != NULL)
		{
			bool		isnull;
			text	   *kind = DatumGetTextPP(slot_getattr(slot, kind_att, &isnull));

			if (VARSIZE_ANY_EXHDR(kind) != 6 || memcmp(VARDATA_ANY(kind), "charge", 6) != 0)
				continue;
			if (k == cap)
			{
				cap *= 2;
				charges = repalloc(charges, sizeof(StatementCharge) * cap);
			}
			charges[k].entry_id = DatumGetInt64(slot_getattr(slot, entry_att, &isnull));
			charges[k].posted_at = DatumGetTimestampTz(slot_getattr(slot, posted_att, &isnull));
			charges[k++].amount = numeric_to_cents(slot_getattr(slot, amount_att, &isnull));
		}
		qsort(charges, k, sizeof(StatementCharge), compare_charges);
		fifo_over(r, charges, k, 0, tz);
		if ((row & 255) == 255)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(charges);
	direct_scan_close(scan);
	return true;
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
 * order) and write them. With da, write them directly over the versions
 * read: for one account read without a lock, only if that version is
 * still current (false if it was not and nothing was written); several
 * accounts are locked.
 */
static bool
compute_and_write(Datum practice, AccountRow *rows, int n, pg_tz *tz, DirectAccounts *da)
{
	Datum		args[N_WRITE_COLUMNS + 1];
	Column		cols[N_WRITE_COLUMNS];
	bool		any_fifo = false;

	for (int i = 0; i < n; i++)
	{
		apply_delta(&rows[i], tz);
		any_fifo |= rows[i].needs_fifo;
		rows[i].delta->new_balance = rows[i].balance;
	}
	if (any_fifo && !(da != NULL && apply_charges_direct(practice, rows, n, tz)))
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
	if (da != NULL)
	{
		for (int i = 0; i < n; i++)
		{
			if (n > 1)
				direct_fetch_tid(da->t, &rows[i].tid);
			if (!write_direct_account_row(da, cols, i))
			{
				if (n == 1)
					return false;
				elog(ERROR, "collect.account row changed while locked");
			}
			if ((i & 1023) == 1023)
				CHECK_FOR_INTERRUPTS();
		}
		CommandCounterIncrement();
		return true;
	}
	args[0] = practice;
	if (n == 1)
	{
		char		nulls[N_WRITE_COLUMNS + 1];

		nulls[0] = ' ';
		for (int c = 0; c < N_WRITE_COLUMNS; c++)
		{
			args[c + 1] = cols[c].values[0];
			nulls[c + 1] = cols[c].nulls[0] ? 'n' : ' ';
		}
		if (SPI_execute_plan(single.write, args, nulls, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
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
	DirectAccounts da;
	bool		direct;
	bool		any_settled = false,
				any_reopens = false;

	prepare_plans();
	for (int i = 0; i < n; i++)
	{
		rows[i].delta = deltas[i];
		rows[i].patient_id = strchr(deltas[i]->key, '\x1f') + 1;
	}

	args[0] = practice;
	args[1] = n == 1 ? (Datum) 0 : patient_ids_array(rows, n, NULL);
	args[2] = TimestampTzGetDatum(deltas[0]->last_posted_at);
	direct = direct_accounts_open(&da);
	if (n == 1)
	{
		Datum		key[2] = {practice, CStringGetTextDatum(rows[0].patient_id)};
		bool		written = false;

		/*
		 * Without a lock first; again under the lock (through SQL, which
		 * also creates a new account) if another posting came between.
		 */
		if (direct && direct_fetch(da.t, key, false))
		{
			read_direct_account_row(&da, &rows[0]);
			written = compute_and_write(practice, rows, 1, tz, &da);
		}
		if (!written)
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
		 * any is missing, so the common case skips the INSERT; read
		 * directly, it also tells where each account is, so the lock needs
		 * no second index search.
		 */
		if (direct)
			missing = find_direct_accounts(&da, practice, rows, n);
		else
		{
			if (SPI_execute_plan(bulk.count, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "counting collect.account rows failed");
			missing = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) < n;
			SPI_freetuptable(SPI_tuptable);
		}
		if (missing && SPI_execute_plan(bulk.create, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "creating collect.account rows failed");
		if (!(direct ? lock_direct_accounts(&da, practice, rows, n) : lock_accounts(&bulk, args, rows, n)))
			elog(ERROR, "collect.account rows vanished while locked");
		compute_and_write(practice, rows, n, tz, direct ? &da : NULL);
	}
	if (direct)
		direct_close(da.t);

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
