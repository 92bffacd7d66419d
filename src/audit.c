/*
 * audit.c: the audit trail's own guards. audit_log is append-only (UPDATE,
 * DELETE and TRUNCATE are refused, like the ledger), and every write_off
 * posted to the ledger leaves an audit row naming the role that posted it.
 * The ledger's statement trigger (ledger.c) calls the write_off audit only
 * when its scan of the new rows met a write_off: a single INSERT ... SELECT
 * over the transition table. No network, no wall clock (the audit time is
 * the row's posted_at).
 */
#include "collect.h"

#include "commands/trigger.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "account_upkeep.h"

PG_FUNCTION_INFO_V1(audit_refuse_change);

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

/* The write_off rows of the ledger statement whose trigger data is td; inside SPI. */
void
audit_ledger_write_offs(TriggerData *td)
{
	Datum		actor;
	Oid			argtypes[1] = {TEXTOID};

	/* the role that posted, not the function owner this trigger runs as */
	actor = CStringGetTextDatum(GetUserNameFromId(GetOuterUserId(), false));
	if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed");
	if (SPI_execute_with_args("INSERT INTO collect.audit_log (practice_id, patient_id, at, actor, action, subject, reason, facts)"
							  " SELECT n.practice_id, n.patient_id, n.posted_at, $1, 'write_off', n.external_id,"
							  "        COALESCE(NULLIF(n.note, ''), 'write_off posted to the ledger'),"
							  "        pg_catalog.jsonb_build_object('entry_id', n.entry_id, 'amount', n.amount, 'method', n.method)"
							  "   FROM new_rows n WHERE n.kind = 'write_off' ORDER BY n.entry_id",
							  1, argtypes, &actor, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not audit the write_off rows");
}
