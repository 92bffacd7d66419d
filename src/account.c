/*
 * account.c: pure account arithmetic shared by the ledger trigger and
 * tick: first-in-first-out due date, aging bucket and segment. Inputs in,
 * answer out: no SPI, no clock (the caller passes as_of).
 */
#include "collect.h"

#include "account.h"

int
days_between(DateADT from, DateADT to)
{
	return (int) (to - from);
}

const char *
aging_bucket_for(int days_past_due)
{
	if (days_past_due <= 30)
		return "0-30";
	if (days_past_due <= 60)
		return "31-60";
	if (days_past_due <= 90)
		return "61-90";
	if (days_past_due <= 120)
		return "91-120";
	return "120+";
}

/*
 * First in, first out: credits pay the oldest charges first. Given the
 * charges in posting order and the credits applied so far (charges_total -
 * balance), the index of the oldest charge not fully paid, or -1 when all
 * are paid.
 */
int
fifo_first_unpaid(const Cents *charges, int n_charges, Cents credits_applied)
{
	Cents		covered = 0;

	for (int i = 0; i < n_charges; i++)
	{
		covered += charges[i];
		if (covered > credits_applied)
			return i;
	}
	return -1;
}

/*
 * The day after which the account moves to its next aging bucket (so tick
 * can refresh it then and only then); DATEVAL_NOEND once it is 120+.
 */
DateADT
next_aging_boundary(DateADT due_since, int days_past_due)
{
	static const int bounds[] = {30, 60, 90, 120};

	for (int i = 0; i < (int) lengthof(bounds); i++)
		if (days_past_due <= bounds[i])
			return due_since + bounds[i] + 1;
	return DATEVAL_NOEND;
}

/*
 * Segment of an account from its facts. Precedence: money first (credit,
 * settled), then doubt (an open dispute or confusion signal), then
 * engagement of high balances, then age and silence.
 */
const char *
account_segment(const AccountFacts *f)
{
	if (f->balance < 0)
		return "credit";
	if (f->balance == 0)
		return "settled";
	if (f->doubt)
		return "documentation_doubt";
	if (f->balance >= f->high_value_threshold && (f->responded || f->asked_for_plan))
		return "high_value_engaged";
	if (f->days_past_due > 90 || f->returned_mail || f->failed_contacts >= 2)
		return "silent_aged";
	if (f->days_past_due > 30)
		return "early_stall";
	return "fresh";
}

/* The calendar date of a moment in a time zone (DST-correct). */
DateADT
local_date(TimestampTz ts, pg_tz *tz)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	if (TIMESTAMP_NOT_FINITE(ts) || timestamp2tm(ts, &tzoff, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
}

PG_FUNCTION_INFO_V1(aging_bucket_sql);

/* collect.aging_bucket(days_past_due int): the bucket the views and tick use */
Datum
aging_bucket_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(aging_bucket_for(PG_GETARG_INT32(0))));
}
