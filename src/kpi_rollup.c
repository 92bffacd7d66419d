/*
 * kpi_rollup.c: keeps the contact, event and promise rollups
 * (collect.kpi_contact_daily, kpi_event_daily, kpi_dispute,
 * kpi_installment_daily) current, once per statement, over the transition
 * tables of outbox, event, installment and plan (the ledger's rollup is
 * kpi_ledger.c). The KPI views read these rollups instead of scanning the
 * ledger, outbox or events, so a scorecard costs a few hundred rows per
 * practice whatever the tables' size.
 *
 * One trigger function serves these triggers; its first argument names the
 * rollup (rollups[] below). Each rollup is ONE aggregated upsert (INSERT
 * ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE with relative deltas),
 * so a statement of many rows writes one row per (practice, day). Rows are
 * spread over a few slots (backend pid modulo KPI_SLOTS) so concurrent
 * writers of one practice do not queue on one hot rollup row; the views
 * sum the slots.
 *
 * Plans are prepared once per backend and kept, one for small statements
 * and one for bulk ones, because the planner sizes joins by the transition
 * table's row count. Never: network, wall clock (days come from the rows'
 * posted_at / sent_at), decisions about accounts.
 */
#include "collect.h"

#include "commands/trigger.h"

#include "dunning.h"
#include "kpi.h"

PG_FUNCTION_INFO_V1(kpi_rollup);

/* statements with at least this many rows use the bulk plan */
#define KPI_BULK_ROWS 1000

/*
 * Outbox rows that became contacts (status sent or delivered, a patient
 * channel) in this statement: one contact on the local day of sent_at;
 * and, when it is the patient's first contact after a charge posting, the
 * seconds from the earliest such charge to this contact, on the charge's
 * local day. "After" means after the patient's previous contact, ordered
 * by (sent_at, message_id). "No contact between the charge and this one"
 * is a NOT EXISTS per charge row rather than a max() over the patient's
 * contacts: the max() was an index runtime key, computed for every new
 * contact even when the patient has no charge, and it reads all of the
 * patient's earlier contacts (quadratic for a patient with many messages).
 */
#define CONTACT_ROLLUP_SQL(entering) \
"WITH c AS MATERIALIZED (" entering "),"\
" f AS ("\
"  SELECT c.practice_id, c.at, (SELECT min(l.posted_at) FROM collect.ledger l"\
"            WHERE l.practice_id = c.practice_id AND l.patient_id = c.patient_id AND l.kind = 'charge'"\
"              AND l.posted_at <= c.at AND NOT EXISTS ("\
"                SELECT 1 FROM collect.outbox x"\
"                 WHERE x.practice_id = c.practice_id AND x.patient_id = c.patient_id"\
"                   AND x.status IN ('sent', 'delivered') AND x.channel NOT IN ('webhook', 'charge')"\
"                   AND COALESCE(x.sent_at, x.send_after) >= l.posted_at"\
"                   AND (COALESCE(x.sent_at, x.send_after), x.message_id) < (c.at, c.message_id))) AS charge_at"\
"    FROM c),"\
" contrib AS ("\
"  SELECT practice_id, at, 1 AS contacts, 0 AS ftc_n, 0::numeric AS ftc_seconds FROM c"\
"  UNION ALL"\
"  SELECT practice_id, charge_at, 0, 1, extract(epoch FROM at - charge_at) FROM f WHERE charge_at IS NOT NULL)"\
" INSERT INTO collect.kpi_contact_daily AS k (practice_id, day, slot, contacts, ftc_n, ftc_seconds)"\
" SELECT c.practice_id, (c.at AT TIME ZONE p.timezone)::date, $1, sum(c.contacts), sum(c.ftc_n), sum(c.ftc_seconds)"\
"   FROM contrib c JOIN collect.practice p ON p.practice_id = c.practice_id"\
"  GROUP BY 1, 2"\
" ON CONFLICT (practice_id, day, slot) DO UPDATE SET"\
"   contacts = k.contacts + EXCLUDED.contacts, ftc_n = k.ftc_n + EXCLUDED.ftc_n,"\
"   ftc_seconds = k.ftc_seconds + EXCLUDED.ftc_seconds"

#define IS_CONTACT(r) "(" r ".status IN ('sent', 'delivered') AND " r ".channel NOT IN ('webhook', 'charge'))"

static const char *const outbox_insert_sql = CONTACT_ROLLUP_SQL(
"  SELECT n.practice_id, n.patient_id, n.message_id, COALESCE(n.sent_at, n.send_after) AS at"
"    FROM new_rows n WHERE " IS_CONTACT("n"));

static const char *const outbox_update_sql = CONTACT_ROLLUP_SQL(
"  SELECT n.practice_id, n.patient_id, n.message_id, COALESCE(n.sent_at, n.send_after) AS at"
"    FROM new_rows n JOIN old_rows o ON o.practice_id = n.practice_id AND o.message_id = n.message_id"
"   WHERE " IS_CONTACT("n") " AND NOT " IS_CONTACT("o"));

/*
 * Events, as they are recorded: complaints and balances placed with an
 * agency (the patient's signed ledger sum up to the placement, if positive)
 * per practice-local day; each resolved dispute with the days since the
 * patient's latest dispute_opened at or before it (kept one row each, for
 * the median and p90).
 */
static const char *const event_insert_sql =
"WITH e AS MATERIALIZED ("
"  SELECT n.practice_id, n.patient_id, n.event_id, n.kind, n.at, (n.at AT TIME ZONE p.timezone)::date AS day"
"    FROM new_rows n JOIN collect.practice p ON p.practice_id = n.practice_id"
"   WHERE n.kind IN ('complaint', 'placed_with_agency', 'dispute_resolved')),"
" d AS ("
"  INSERT INTO collect.kpi_dispute (practice_id, day, event_id, days)"
"  SELECT e.practice_id, e.day, e.event_id, extract(epoch FROM e.at - o.opened_at) / 86400"
"    FROM e CROSS JOIN LATERAL ("
"      SELECT max(o.at) AS opened_at FROM collect.event o"
"       WHERE o.practice_id = e.practice_id AND o.patient_id = e.patient_id"
"         AND o.kind = 'dispute_opened' AND o.at <= e.at) o"
"   WHERE e.kind = 'dispute_resolved' AND o.opened_at IS NOT NULL"
"  ON CONFLICT DO NOTHING RETURNING 1)"
" INSERT INTO collect.kpi_event_daily AS k (practice_id, day, slot, complaints, placed)"
" SELECT e.practice_id, e.day, $1, count(*) FILTER (WHERE e.kind = 'complaint'),"
"        COALESCE(sum(GREATEST(b.balance, 0)), 0)"
"   FROM e LEFT JOIN LATERAL ("
"      SELECT COALESCE(sum(CASE WHEN l.kind IN ('charge', 'refund', 'reversal') THEN l.amount ELSE -l.amount END), 0) AS balance"
"        FROM collect.ledger l"
"       WHERE e.kind = 'placed_with_agency' AND l.practice_id = e.practice_id"
"         AND l.patient_id = e.patient_id AND l.posted_at <= e.at) b ON e.kind = 'placed_with_agency'"
"  WHERE e.kind IN ('complaint', 'placed_with_agency')"
"  GROUP BY 1, 2"
" ON CONFLICT (practice_id, day, slot) DO UPDATE SET"
"   complaints = k.complaints + EXCLUDED.complaints, placed = k.placed + EXCLUDED.placed";

/*
 * Promises: installments per practice and due date, counted while their
 * plan was agreed (active, completed, defaulted) and they are not waived;
 * kept = paid on or before the due date (practice-local date of paid_at).
 * A change subtracts the old rows' contribution and adds the new one's; a
 * plan's status change re-counts its installments.
 */
#define INSTALLMENT_ROLLUP_SQL(changes) \
"WITH c AS (" changes ")"\
" INSERT INTO collect.kpi_installment_daily AS k (practice_id, due_date, slot, due, kept)"\
" SELECT c.practice_id, c.due_date, $1, sum(c.sign),"\
"        COALESCE(sum(c.sign) FILTER (WHERE c.status = 'paid'"\
"                 AND (c.paid_at AT TIME ZONE p.timezone)::date <= c.due_date), 0)"\
"   FROM c JOIN collect.practice p ON p.practice_id = c.practice_id"\
"  WHERE c.plan_status IN ('active', 'completed', 'defaulted') AND c.status <> 'waived'"\
"  GROUP BY 1, 2"\
" ON CONFLICT (practice_id, due_date, slot) DO UPDATE SET"\
"   due = k.due + EXCLUDED.due, kept = k.kept + EXCLUDED.kept"

#define INSTALLMENT_ROWS(rows, sign) \
"  SELECT i.practice_id, i.due_date, " sign " AS sign, i.status, i.paid_at, pn.status AS plan_status"\
"    FROM " rows " i JOIN collect.plan pn ON pn.practice_id = i.practice_id AND pn.plan_id = i.plan_id"

static const char *const installment_insert_sql = INSTALLMENT_ROLLUP_SQL(INSTALLMENT_ROWS("new_rows", "1"));

static const char *const installment_update_sql = INSTALLMENT_ROLLUP_SQL(
INSTALLMENT_ROWS("new_rows", "1") " UNION ALL " INSTALLMENT_ROWS("old_rows", "-1"));

static const char *const plan_update_sql = INSTALLMENT_ROLLUP_SQL(
"  SELECT i.practice_id, i.due_date, s.sign, i.status, i.paid_at, s.plan_status"
"    FROM new_rows n JOIN old_rows o ON o.practice_id = n.practice_id AND o.plan_id = n.plan_id"
"    JOIN collect.installment i ON i.practice_id = n.practice_id AND i.plan_id = n.plan_id"
"    CROSS JOIN LATERAL (VALUES (1, n.status), (-1, o.status)) AS s(sign, plan_status)"
"   WHERE n.status IS DISTINCT FROM o.status");

typedef struct KpiRollup
{
	const char *name;			/* the trigger's first argument */
	const char *const *sql;
	SPIPlanPtr	plan[2];		/* [0] small statements, [1] bulk */
} KpiRollup;

static KpiRollup rollups[] = {
	{"outbox_insert", &outbox_insert_sql, {NULL, NULL}},
	{"outbox_update", &outbox_update_sql, {NULL, NULL}},
	{"event_insert", &event_insert_sql, {NULL, NULL}},
	{"installment_insert", &installment_insert_sql, {NULL, NULL}},
	{"installment_update", &installment_update_sql, {NULL, NULL}},
	{"plan_update", &plan_update_sql, {NULL, NULL}},
};

static KpiRollup *
kpi_find_rollup(const char *name)
{
	for (int i = 0; i < lengthof(rollups); i++)
		if (strcmp(rollups[i].name, name) == 0)
			return &rollups[i];
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown KPI rollup \"%s\"", name),
			 errhint("The trigger argument must be outbox_insert, outbox_update, event_insert, installment_insert, installment_update or plan_update.")));
	return NULL;				/* keep the compiler quiet */
}

/*
 * AFTER ... FOR EACH STATEMENT, REFERENCING NEW TABLE AS new_rows [OLD
 * TABLE AS old_rows]: run the named rollup's upsert over the transition
 * tables.
 */
Datum
kpi_rollup(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	KpiRollup  *r;
	int			bulk;
	Datum		slot;
	int			ret;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || td->tg_newtable == NULL ||
		td->tg_trigger->tgnargs != 1)
		elog(ERROR, "kpi_rollup: must be an AFTER statement trigger with a NEW TABLE and one argument");

	r = kpi_find_rollup(td->tg_trigger->tgargs[0]);
	if (tuplestore_tuple_count(td->tg_newtable) == 0)
		return PointerGetDatum(NULL);
	bulk = tuplestore_tuple_count(td->tg_newtable) >= KPI_BULK_ROWS ? 1 : 0;

	SPI_connect();
	ret = SPI_register_trigger_data(td);
	if (ret != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed: %s", SPI_result_code_string(ret));
	if (r->plan[bulk] == NULL)
	{
		Oid			argtypes[1] = {INT2OID};

		dunning_plan(&r->plan[bulk], *r->sql, 1, argtypes);
	}
	slot = Int16GetDatum((int16) (MyProcPid % KPI_SLOTS));
	ret = SPI_execute_plan(r->plan[bulk], &slot, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "KPI rollup \"%s\" failed: %s", r->name, SPI_result_code_string(ret));
	SPI_finish();
	return PointerGetDatum(NULL);
}
