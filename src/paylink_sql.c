/*
 * paylink_sql.c: SQL entry points over the pure pay-link signer in
 * paylink.c: collect.pay_link() and collect.verify_pay_link(). Reads the
 * practice's key; no decisions, no clock (as_of is an argument).
 */
#include "collect.h"

#include "dunning.h"
#include "paylink.h"

PG_FUNCTION_INFO_V1(collect_pay_link);
PG_FUNCTION_INFO_V1(collect_verify_pay_link);

static bytea *
practice_key(const char *practice_id, bool missing_ok)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(practice_id)};
	bytea	   *key = NULL;
	MemoryContext caller = CurrentMemoryContext;

	SPI_connect();
	if (SPI_execute_with_args("SELECT paylink_key FROM collect.practice_secret WHERE practice_id = $1",
							  1, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the pay-link key failed");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContext old = MemoryContextSwitchTo(caller);

		key = DatumGetByteaPCopy(d);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (key == NULL && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("practice \"%s\" does not exist or has no pay-link key", practice_id)));
	return key;
}

static long long
unix_seconds(TimestampTz ts)
{
	return (long long) (ts / USECS_PER_SEC + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
}

Datum
collect_pay_link(PG_FUNCTION_ARGS)
{
	char	   *practice = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *patient = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Cents		amount = numeric_to_cents(PG_GETARG_DATUM(2));
	bytea	   *key = practice_key(practice, false);
	Policy		pol;
	char		buf[1024];

	SPI_connect();
	policy_load(practice, &pol);
	SPI_finish();
	if (amount < 0 || paylink_build(buf, sizeof(buf), pol.pay_link_base,
									(const unsigned char *) VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
									practice, patient, (long long) amount,
									unix_seconds(PG_GETARG_TIMESTAMPTZ(3))) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot build a pay link for these values")));
	PG_RETURN_TEXT_P(cstring_to_text(buf));
}

Datum
collect_verify_pay_link(PG_FUNCTION_ARGS)
{
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(1);
	char		practice[ID_LEN] = "",
				patient[ID_LEN] = "";
	long long	cents = 0,
				expires = 0;
	TupleDesc	desc;
	Datum		values[5];
	bool		nulls[5] = {false, true, true, true, true};
	const char *status = "invalid";
	char	   *p = strstr(url, "?p=") ? strstr(url, "?p=") + 1 : strstr(url, "&p=") ? strstr(url, "&p=") + 1 : NULL;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "verify_pay_link must return a record");
	if (p != NULL)
	{
		char		pid[ID_LEN];
		size_t		len = strcspn(p + 2, "&#");
		bytea	   *key;

		if (len > 0 && len < sizeof(pid))
		{
			memcpy(pid, p + 2, len);
			pid[len] = '\0';
			key = practice_key(pid, true);
			if (key != NULL)
			{
				int			r = paylink_verify(url, (const unsigned char *) VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
											   unix_seconds(as_of), practice, patient, sizeof(practice),
											   &cents, &expires);

				if (r != 0 && strcmp(practice, pid) == 0)
				{
					status = r > 0 ? "valid" : "expired";
					values[1] = CStringGetTextDatum(practice);
					values[2] = CStringGetTextDatum(patient);
					values[3] = cents_to_numeric((Cents) cents);
					values[4] = TimestampTzGetDatum((TimestampTz) (expires - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY) * USECS_PER_SEC);
					nulls[1] = nulls[2] = nulls[3] = nulls[4] = false;
				}
			}
		}
	}
	values[0] = CStringGetTextDatum(status);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
