------------------------------------------------------------------------
-- Input guards and the ledger triggers (src/practice.c, src/ledger.c)
------------------------------------------------------------------------
-- Time zone and policy of a practice are checked on every write.
CREATE FUNCTION @extschema@.practice_check() RETURNS trigger
  AS 'MODULE_PATHNAME', 'practice_check' LANGUAGE C;
CREATE TRIGGER practice_check BEFORE INSERT OR UPDATE ON @extschema@.practice
  FOR EACH ROW EXECUTE FUNCTION @extschema@.practice_check();

-- A new practice gets its own pay-link signing key.
CREATE FUNCTION @extschema@.practice_created() RETURNS trigger
  AS 'MODULE_PATHNAME', 'practice_created' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER practice_created AFTER INSERT ON @extschema@.practice
  FOR EACH ROW EXECUTE FUNCTION @extschema@.practice_created();

-- Phone (E.164), e-mail, time zone and language of a patient.
CREATE FUNCTION @extschema@.patient_check() RETURNS trigger
  AS 'MODULE_PATHNAME', 'patient_check' LANGUAGE C;
CREATE TRIGGER patient_check BEFORE INSERT OR UPDATE ON @extschema@.patient
  FOR EACH ROW EXECUTE FUNCTION @extschema@.patient_check();

-- Idempotent external_id: an identical repost is skipped, a different one refused.
CREATE FUNCTION @extschema@.ledger_before_insert() RETURNS trigger
  AS 'MODULE_PATHNAME', 'ledger_before_insert' LANGUAGE C;
CREATE TRIGGER ledger_idempotent BEFORE INSERT ON @extschema@.ledger
  FOR EACH ROW EXECUTE FUNCTION @extschema@.ledger_before_insert();

-- Once per statement over the rows it inserted: account upkeep, plan
-- flags for re-settling, the KPI ledger rollup and the write-off audit
-- (src/ledger.c), in one trigger so a single-row INSERT pays for one call.
CREATE FUNCTION @extschema@.ledger_after_insert() RETURNS trigger
  AS 'MODULE_PATHNAME', 'ledger_after_insert' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER ledger_account_upkeep AFTER INSERT ON @extschema@.ledger
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_after_insert();

-- The ledger is append-only.
CREATE FUNCTION @extschema@.ledger_refuse_change() RETURNS trigger
  AS 'MODULE_PATHNAME', 'ledger_refuse_change' LANGUAGE C;
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON @extschema@.ledger
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_refuse_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON @extschema@.ledger
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_refuse_change();

-- The practice policy in force: defaults overlaid by the practice's keys.
CREATE FUNCTION @extschema@.effective_policy(practice_id text) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$ SELECT jsonb_object_agg(d.key, COALESCE(p.policy -> d.key, d.value))
          FROM @extschema@.policy_default d, @extschema@.practice p
         WHERE p.practice_id = effective_policy.practice_id $$;

-- The aging bucket of a number of days past due: '0-30' ... '120+'.
CREATE FUNCTION @extschema@.aging_bucket(days_past_due int) RETURNS text
  AS 'MODULE_PATHNAME', 'aging_bucket_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
