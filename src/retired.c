/*
 * retired.c: C entry points that a released install script names but the
 * current version no longer uses. CREATE FUNCTION of a C function checks
 * that its symbol exists, so a frozen release (sql/releases/) can only be
 * installed, and then updated, while these stay exported.
 *
 * 0.1 ran four statement triggers on every ledger insert; 0.2 does their
 * work in the one upkeep trigger (ledger.c: ledger_after_insert, the same
 * symbol 0.1 binds for the upkeep). In a 0.1 database served by this
 * library, before ALTER EXTENSION collect UPDATE drops the old triggers,
 * the upkeep trigger already does the KPI rollup, the plan flags and the
 * write-off audit, so the old triggers must do nothing, or they would
 * count twice.
 */
#include "collect.h"

#include "commands/trigger.h"

PG_FUNCTION_INFO_V1(kpi_ledger_rollup);
PG_FUNCTION_INFO_V1(plan_ledger_posted);
PG_FUNCTION_INFO_V1(audit_ledger_write_off);

static Datum
retired_trigger(FunctionCallInfo fcinfo, const char *name)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "%s: not called as a trigger", name);
	return PointerGetDatum(NULL);
}

/* 0.1: ledger KPI rollup; now kpi_ledger_write, called by ledger_after_insert */
Datum
kpi_ledger_rollup(PG_FUNCTION_ARGS)
{
	return retired_trigger(fcinfo, "kpi_ledger_rollup");
}

/* 0.1: plan flags on payments; now plans_flag_settle, called by account_upkeep */
Datum
plan_ledger_posted(PG_FUNCTION_ARGS)
{
	return retired_trigger(fcinfo, "plan_ledger_posted");
}

/* 0.1: write-off audit; now audit_ledger_write_offs, called by ledger_after_insert */
Datum
audit_ledger_write_off(PG_FUNCTION_ARGS)
{
	return retired_trigger(fcinfo, "audit_ledger_write_off");
}
