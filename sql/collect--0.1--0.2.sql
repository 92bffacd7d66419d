-- collect 0.1 -> 0.2. 0.1 is frozen in sql/releases/collect--0.1.sql.
-- Every change to sql/install/*.sql since 0.1 is repeated here, so that
-- ALTER EXTENSION collect UPDATE ends in the same schema as a fresh install
-- of 0.2 (test/t/security_upgrade.sh compares the two catalogs).
\echo Use "ALTER EXTENSION collect UPDATE TO '0.2'" to load this file. \quit

-- The ledger's four statement triggers become one: ledger_after_insert
-- (ledger_account_upkeep) now also flags plans, rolls up the KPIs and
-- audits write-offs. The old C symbols stay exported (src/retired.c).
DROP TRIGGER ledger_account_kpi ON @extschema@.ledger;
DROP TRIGGER ledger_plan_settle ON @extschema@.ledger;
DROP TRIGGER ledger_write_off_audit ON @extschema@.ledger;
DROP FUNCTION @extschema@.kpi_ledger_rollup();
DROP FUNCTION @extschema@.plan_ledger_posted();
DROP FUNCTION @extschema@.audit_ledger_write_off();

-- account_credit_idx reads a stored in_credit flag instead of balance < 0,
-- and pages are left half free, so that a posting's account update can be
-- HOT (sql/install/30_plans.sql)
DROP INDEX @extschema@.account_credit_idx;
ALTER TABLE @extschema@.account ADD COLUMN in_credit boolean GENERATED ALWAYS AS (balance < 0) STORED;
ALTER TABLE @extschema@.account SET (fillfactor = 50);
CREATE INDEX account_credit_idx ON @extschema@.account (practice_id) WHERE in_credit;

-- contact_attempt.segment: the account's segment at the attempt, which the
-- channel bandit credits (src/learn.c learn_update)
ALTER TABLE @extschema@.contact_attempt ADD COLUMN segment text;

-- The optional LLM fallback for replies the rules leave unknown
ALTER TABLE @extschema@.reply
  ADD COLUMN llm_status text CHECK (llm_status IN ('pending', 'done'));
CREATE INDEX reply_llm_pending_idx ON @extschema@.reply (practice_id, reply_id) WHERE llm_status = 'pending';
CREATE FUNCTION @extschema@.apply_llm_intent(practice_id text, reply_id bigint, label text) RETURNS text
  AS 'MODULE_PATHNAME', 'collect_apply_llm_intent' LANGUAGE C
  SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.apply_llm_intent(text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.apply_llm_intent(text, bigint, text) TO collect_worker;

-- Several outbox workers (collect.worker_count): the claiming worker is
-- recorded per row, and worker_status shows one row per worker.
ALTER TABLE @extschema@.outbox ADD COLUMN claimed_by smallint;
DROP VIEW @extschema@.worker_status;
DROP FUNCTION @extschema@.worker_status_row();
CREATE FUNCTION @extschema@.worker_status_row(
    OUT state text, OUT pid int, OUT started_at timestamptz, OUT last_wake timestamptz,
    OUT last_batch timestamptz, OUT in_flight int, OUT batches bigint, OUT sent bigint,
    OUT retried bigint, OUT failed bigint, OUT dead bigint, OUT cancelled bigint, OUT errors bigint,
    OUT worker int)
  RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'worker_status';
CREATE VIEW @extschema@.worker_status AS
  SELECT s.*, current_setting('collect.database') AS database,
         (SELECT count(*) FROM @extschema@.outbox o WHERE o.status = 'queued') AS queued,
         (SELECT count(*) FROM @extschema@.outbox o WHERE o.status = 'queued' AND o.send_after <= now()) AS due,
         (SELECT count(*) FROM @extschema@.outbox o WHERE o.status = 'sending') AS sending
    FROM @extschema@.worker_status_row() s;
GRANT SELECT ON @extschema@.worker_status TO collect_staff, collect_worker;
REVOKE ALL ON @extschema@.worker_status FROM PUBLIC;
ALTER VIEW @extschema@.worker_status SET (security_invoker = true);
