/*
 * audit.c: the audit trail's own guards. audit_log is append-only (UPDATE,
 * DELETE and TRUNCATE are refused, like the ledger), and every write_off
 * posted to the ledger leaves an audit row naming the role that posted it.
 * The write_off audit is one statement-level trigger: it scans the
 * statement's new rows in memory and only when one is a write_off runs a
 * single INSERT ... SELECT over the transition table. No network, no
 * wall clock (the audit time is the row's posted_at).
 */
#include "collect.h"

#include "commands/trigger.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(audit_refuse_change);
PG_FUNCTION_INFO_V1(audit_ledger_write_off);

/* "UPDATE", "DELETE" or "TRUNCATE": what an append-only guard trigger refuses */
const char *
refused_change_name(FunctionCallInfo fcinfo, const char *caller)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "%s: not called as a trigger", caller);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return "UPDATE";
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return "DELETE";
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		return "TRUNCATE";
	return "change";
}

/* BEFORE UPDATE OR DELETE OR TRUNCATE, for each statement */
Datum
audit_refuse_change(PG_FUNCTION_ARGS)
{
	const char *what = refused_change_name(fcinfo, "audit_refuse_change");
	TriggerData *td = (TriggerData *) fcinfo->context;

	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("collect.%s is append-only: %s is not allowed",
					RelationGetRelationName(td->tg_relation), what),
			 errhint("The audit trail keeps every decision; add a new row instead.")));
	PG_RETURN_NULL();
}

/* does the statement's transition table hold a write_off row? */
static bool
has_write_off(TriggerData *td)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	int			kind_att = SPI_fnumber(desc, "kind");
	TupleTableSlot *slot;
	bool		found = false;
	uint64		rows = 0;

	if (kind_att <= 0)
		elog(ERROR, "collect.ledger has no column \"kind\"");
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	tuplestore_rescan(td->tg_newtable);
	while (!found && tuplestore_gettupleslot(td->tg_newtable, true, false, slot))
	{
		bool		isnull;
		Datum		kind = slot_getattr(slot, kind_att, &isnull);
		text	   *t = DatumGetTextPP(kind);

		found = !isnull && VARSIZE_ANY_EXHDR(t) == 9 && memcmp(VARDATA_ANY(t), "write_off", 9) == 0;
		if ((++rows & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_rescan(td->tg_newtable);
	return found;
}

/* AFTER INSERT on collect.ledger, for each statement, REFERENCING NEW TABLE AS new_rows */
Datum
audit_ledger_write_off(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Datum		actor;
	Oid			argtypes[1] = {TEXTOID};

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || td->tg_newtable == NULL)
		elog(ERROR, "audit_ledger_write_off: must be an AFTER INSERT statement trigger with a NEW TABLE");
	if (!has_write_off(td))
		return PointerGetDatum(NULL);

	/* the role that posted, not the function owner this trigger runs as */
	actor = CStringGetTextDatum(GetUserNameFromId(GetOuterUserId(), false));
	SPI_connect();
	if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed");
	if (SPI_execute_with_args("INSERT INTO collect.audit_log (practice_id, patient_id, at, actor, action, subject, reason, facts)"
							  " SELECT n.practice_id, n.patient_id, n.posted_at, $1, 'write_off', n.external_id,"
							  "        COALESCE(NULLIF(n.note, ''), 'write_off posted to the ledger'),"
							  "        pg_catalog.jsonb_build_object('entry_id', n.entry_id, 'amount', n.amount, 'method', n.method)"
							  "   FROM new_rows n WHERE n.kind = 'write_off' ORDER BY n.entry_id",
							  1, argtypes, &actor, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not audit the write_off rows");
	SPI_finish();
	return PointerGetDatum(NULL);
}
