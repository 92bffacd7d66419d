/*
 * practice.c: the triggers that guard collect.practice and collect.patient:
 * IANA time zones, the policy against its defaults, E.164 phones, e-mail
 * shape and language tags, and the per-practice pay-link signing key made
 * when a practice is created. No network, no clock.
 */
#include "collect.h"

#include "commands/trigger.h"
#include "common/hashfn.h"
#include "utils/inval.h"
#include "utils/rel.h"

#define PAYLINK_KEY_BYTES 32

PG_FUNCTION_INFO_V1(practice_check);
PG_FUNCTION_INFO_V1(practice_created);
PG_FUNCTION_INFO_V1(patient_check);

static char *
text_column(HeapTuple tup, TupleDesc desc, const char *name, bool *isnull)
{
	int			attnum = SPI_fnumber(desc, name);
	Datum		d;

	if (attnum <= 0)
		elog(ERROR, "column \"%s\" not found", name);
	d = heap_getattr(tup, attnum, desc, isnull);
	return *isnull ? NULL : TextDatumGetCString(d);
}

static TriggerData *
row_trigger(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "%s: must be called as a row trigger", name);
	return td;
}

static HeapTuple
new_row(TriggerData *td)
{
	return TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
}

/* BEFORE INSERT OR UPDATE on collect.practice */
Datum
practice_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = row_trigger(fcinfo, "practice_check");
	HeapTuple	tup = new_row(td);
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	bool		isnull;
	char	   *tz = text_column(tup, desc, "timezone", &isnull);
	Datum		policy;

	if (!isnull)
		validate_timezone(tz, "practice");
	policy = heap_getattr(tup, SPI_fnumber(desc, "policy"), desc, &isnull);
	if (!isnull)
		policy_validate(DatumGetJsonbP(policy));
	/* backends keep practices' time zones (ledger.c): tell them at commit */
	CacheInvalidateRelcache(td->tg_relation);
	return PointerGetDatum(tup);
}

/* AFTER INSERT on collect.practice: its pay-link signing key */
Datum
practice_created(PG_FUNCTION_ARGS)
{
	TriggerData *td = row_trigger(fcinfo, "practice_created");
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	bool		isnull;
	char	   *practice_id = text_column(td->tg_trigtuple, desc, "practice_id", &isnull);
	bytea	   *key = palloc(VARHDRSZ + PAYLINK_KEY_BYTES);
	Datum		args[2];
	Oid			types[2] = {TEXTOID, BYTEAOID};

	SET_VARSIZE(key, VARHDRSZ + PAYLINK_KEY_BYTES);
	if (!pg_strong_random(VARDATA(key), PAYLINK_KEY_BYTES))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random pay-link key")));
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = PointerGetDatum(key);
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO collect.practice_secret (practice_id, paylink_key) VALUES ($1, $2)",
							  2, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store the practice's pay-link key");
	SPI_finish();
	return PointerGetDatum(NULL);
}

/* BEFORE INSERT OR UPDATE on collect.patient */
Datum
patient_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = row_trigger(fcinfo, "patient_check");
	HeapTuple	tup = new_row(td);
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	bool		isnull;
	char	   *value;

	if ((value = text_column(tup, desc, "phone", &isnull)) != NULL)
		validate_e164(value);
	if ((value = text_column(tup, desc, "email", &isnull)) != NULL)
		validate_email(value);
	if ((value = text_column(tup, desc, "timezone", &isnull)) != NULL)
		validate_timezone(value, "patient");
	if ((value = text_column(tup, desc, "language", &isnull)) != NULL)
		validate_language(value);
	return PointerGetDatum(tup);
}
