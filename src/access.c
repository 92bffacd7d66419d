/*
 * access.c: who may act for which practice. The same rule as the
 * row-level security policies of sql/install/95_security.sql, for the C
 * and SQL functions that run as SECURITY DEFINER and therefore bypass
 * those policies. Reads collect.staff_practice and pg_roles; never writes.
 */
#include "collect.h"

#include "catalog/pg_authid.h"
#include "utils/acl.h"
#include "utils/syscache.h"

#include "access.h"

PG_FUNCTION_INFO_V1(collect_check_practice_access);

static bool
role_bypasses_rls(Oid role)
{
	HeapTuple	tup;
	bool		bypass = false;

	if (superuser_arg(role))
		return true;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
	if (HeapTupleIsValid(tup))
	{
		bypass = ((Form_pg_authid) GETSTRUCT(tup))->rolbypassrls;
		ReleaseSysCache(tup);
	}
	return bypass;
}

bool
practice_access_allowed(Oid role, const char *practice_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			worker = get_role_oid("collect_worker", true);
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		args[2];
	bool		found;

	if (role_bypasses_rls(role))
		return true;
	if (OidIsValid(worker) && has_privs_of_role(role, worker))
		return true;

	SPI_connect();
	if (plan == NULL)
	{
		plan = SPI_prepare("SELECT 1 FROM collect.staff_practice sp"
						   " JOIN pg_catalog.pg_roles r ON r.rolname = sp.role_name"
						   " WHERE sp.practice_id = $1 AND pg_catalog.pg_has_role($2, r.oid, 'MEMBER')"
						   " LIMIT 1", 2, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
	}
	args[0] = CStringGetTextDatum(practice_id);
	args[1] = ObjectIdGetDatum(role);
	if (SPI_execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading collect.staff_practice failed");
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

void
practice_access_check(const char *practice_id)
{
	Oid			caller = GetOuterUserId();

	if (!practice_access_allowed(caller, practice_id))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for practice \"%s\"", practice_id),
				 errdetail("Role \"%s\" is not mapped to this practice.", GetUserNameFromId(caller, false)),
				 errhint("A DBA maps roles to practices with collect.grant_practice(role, practice_id).")));
}

/* collect.check_practice_access(practice_id text) RETURNS void */
Datum
collect_check_practice_access(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("practice_id must not be null")));
	practice_access_check(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
