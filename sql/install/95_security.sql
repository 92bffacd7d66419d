------------------------------------------------------------------------
-- Security (issue 8): practice isolation with row-level security on every
-- table, the grants of DESIGN.md ("Users and how they touch it"), the
-- append-only audit trail, and the dump marks that let pg_dump keep all
-- collect data. This fragment runs after every other one, so it covers
-- every table and view of the schema by looking them up in the catalog;
-- test security_rls checks that nothing escaped (docs/security.md).
------------------------------------------------------------------------

-- The DBA may map a role to a practice before the PM system creates that
-- practice (the writer can only insert practices it is mapped to), so the
-- mapping does not reference collect.practice.
ALTER TABLE @extschema@.staff_practice DROP CONSTRAINT IF EXISTS staff_practice_practice_id_fkey;

-- Tables without practice_id: reference data replicated to every node on
-- Citus, readable by every collect role, written only by the extension
-- owner. Any other table must carry practice_id first in its primary key.
CREATE FUNCTION @extschema@.reference_tables() RETURNS SETOF regclass
  LANGUAGE sql IMMUTABLE
  AS $$ VALUES ('@extschema@.policy_default'::regclass), ('@extschema@.message_template'::regclass) $$;

-- Tie a role (a login or a group role) to a practice: its members then see
-- and write only the rows of the practices they are mapped to. DBA only.
CREATE FUNCTION @extschema@.grant_practice(role name, practice_id text) RETURNS void
  LANGUAGE sql
  AS $$ INSERT INTO @extschema@.staff_practice (role_name, practice_id)
        SELECT r.rolname, grant_practice.practice_id
          FROM pg_catalog.pg_roles r WHERE r.oid = grant_practice.role::text::regrole
        ON CONFLICT DO NOTHING $$;
REVOKE ALL ON FUNCTION @extschema@.grant_practice(name, text) FROM PUBLIC;

-- Undo grant_practice. DBA only.
CREATE FUNCTION @extschema@.revoke_practice(role name, practice_id text) RETURNS void
  LANGUAGE sql
  AS $$ DELETE FROM @extschema@.staff_practice s
         WHERE s.role_name = revoke_practice.role AND s.practice_id = revoke_practice.practice_id $$;
REVOKE ALL ON FUNCTION @extschema@.revoke_practice(name, text) FROM PUBLIC;

-- ERROR 42501 unless the caller (outside any SECURITY DEFINER function)
-- may act for the practice: SECURITY DEFINER functions call this (or
-- practice_access_check() in C) before they touch a practice's rows.
CREATE FUNCTION @extschema@.check_practice_access(practice_id text) RETURNS void
  AS 'MODULE_PATHNAME', 'collect_check_practice_access' LANGUAGE C STABLE;

------------------------------------------------------------------------
-- The audit trail is append-only; write_offs are audited by the ledger.
------------------------------------------------------------------------
-- UPDATE, DELETE and TRUNCATE of audit_log are refused.
CREATE FUNCTION @extschema@.audit_refuse_change() RETURNS trigger
  AS 'MODULE_PATHNAME', 'audit_refuse_change' LANGUAGE C;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON @extschema@.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON @extschema@.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_refuse_change();

------------------------------------------------------------------------
-- Provider credentials never reach stored error text: last_error of the
-- outbox is scrubbed against the practice's provider
-- secrets (and any echoed Basic/Bearer credential) before they are stored,
-- so neither they nor the contact_attempt/task/audit rows copied from them
-- can hold a secret.
------------------------------------------------------------------------
CREATE FUNCTION @extschema@.outbox_redact_secrets() RETURNS trigger
  AS 'MODULE_PATHNAME', 'outbox_redact_secrets' LANGUAGE C
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER outbox_redact_secrets BEFORE INSERT OR UPDATE OF last_error ON @extschema@.outbox
  FOR EACH ROW WHEN (NEW.last_error IS NOT NULL)
  EXECUTE FUNCTION @extschema@.outbox_redact_secrets();

------------------------------------------------------------------------
-- Row-level security on every table of the schema.
--   practice tables: writer and staff see and write the rows of the
--     practices their roles are mapped to; the worker sees all.
--   reference tables: everyone reads.
--   staff_practice: each role sees its own mappings.
-- Grants below decide which of those rows a role may actually touch.
------------------------------------------------------------------------
DO $rls$
DECLARE t record;
BEGIN
  FOR t IN SELECT c.oid::regclass AS tab, c.relname,
                  EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                            AND a.attname = 'practice_id' AND NOT a.attisdropped) AS has_practice
             FROM pg_class c
            WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind IN ('r', 'p')
  LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.tab);
    IF t.relname = 'staff_practice' THEN
      EXECUTE format('CREATE POLICY own_mappings ON %s FOR SELECT USING (role_name IN '
                     '(SELECT r.rolname FROM pg_catalog.pg_roles r WHERE pg_catalog.pg_has_role(r.oid, ''MEMBER'')))', t.tab);
    ELSIF t.tab IN (SELECT @extschema@.reference_tables()) THEN
      EXECUTE format('CREATE POLICY reference_read ON %s FOR SELECT USING (true)', t.tab);
    ELSIF t.has_practice THEN
      EXECUTE format('CREATE POLICY own_practice ON %s TO collect_writer, collect_staff'
                     ' USING (practice_id IN (SELECT sp.practice_id FROM @extschema@.staff_practice sp))'
                     ' WITH CHECK (practice_id IN (SELECT sp.practice_id FROM @extschema@.staff_practice sp))', t.tab);
      EXECUTE format('CREATE POLICY worker_all ON %s TO collect_worker USING (true)', t.tab);
    END IF;
    -- a table in neither class gets no policy: only its owner and
    -- superusers see it, and test security_rls names it
  END LOOP;
END
$rls$;

------------------------------------------------------------------------
-- Grants. Nothing is granted to PUBLIC; each role gets exactly its part.
------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA @extschema@ FROM PUBLIC;

-- Reference tables and each role's own practice mappings.
GRANT SELECT ON @extschema@.policy_default, @extschema@.message_template, @extschema@.staff_practice
  TO collect_writer, collect_staff, collect_worker;

-- The PM system: inserts practices, patients and ledger rows (and reads
-- them back, e.g. INSERT ... RETURNING), all of its own practices only.
GRANT SELECT, INSERT ON @extschema@.practice, @extschema@.patient, @extschema@.ledger TO collect_writer;

-- Billing staff: reads its practice's work, closes tasks. Approvals go
-- through SECURITY DEFINER functions (granted below).
DO $staff$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['practice', 'patient', 'ledger', 'account', 'event', 'outbox', 'task',
                           'contact_attempt', 'plan', 'installment', 'payment_method',
                           'channel_opt_out', 'audit_log', 'settlement', 'hardship'] LOOP
    IF to_regclass('@extschema@.' || t) IS NOT NULL THEN
      EXECUTE format('GRANT SELECT ON @extschema@.%I TO collect_staff', t);
    END IF;
  END LOOP;
END
$staff$;
GRANT UPDATE (status, closed_at, closed_by) ON @extschema@.task TO collect_staff;
-- provider settings without the secret
GRANT SELECT (practice_id, channel, kind, base_url, account, sender, settings) ON @extschema@.provider TO collect_staff;

-- The worker: drains the outbox, reads provider settings including secrets.
GRANT SELECT, UPDATE ON @extschema@.outbox TO collect_worker;
GRANT SELECT ON @extschema@.provider TO collect_worker;

------------------------------------------------------------------------
-- Views. Analyst views (named kpi_*, or granted to collect_analyst by
-- their module) are cross-practice aggregates: they run with the owner's
-- rights, only the analyst may read them, and they must not expose names,
-- phones, e-mails, message text or secrets (test security_rls checks
-- columns). A grant of such a view to staff, writer or worker is revoked:
-- it would show every practice's rows. Every other view runs with the
-- caller's rights (security_invoker), so the tables' row-level security
-- applies through it, and staff may read it.
------------------------------------------------------------------------
DO $views$
DECLARE v record;
BEGIN
  FOR v IN SELECT c.oid::regclass AS view, c.relname, c.relkind,
                  c.relname LIKE 'kpi\_%' OR has_table_privilege('collect_analyst', c.oid, 'SELECT') AS for_analyst
             FROM pg_class c
            WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind IN ('v', 'm')
  LOOP
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', v.view);
    IF v.for_analyst THEN
      EXECUTE format('REVOKE ALL ON %s FROM collect_writer, collect_staff, collect_worker', v.view);
      EXECUTE format('GRANT SELECT ON %s TO collect_analyst', v.view);
    ELSIF v.relkind = 'v' THEN
      EXECUTE format('ALTER VIEW %s SET (security_invoker = true)', v.view);
      EXECUTE format('GRANT SELECT ON %s TO collect_staff', v.view);
    END IF;
    -- a materialized view is filled with the owner's rights, so RLS cannot
    -- apply to it: unless it is an analyst view nobody is granted it
  END LOOP;
END
$views$;

------------------------------------------------------------------------
-- Entry points. The functions DESIGN.md gives to the writer and the staff
-- write tables those roles cannot touch, so they run with the owner's
-- rights, behind a practice check. Each C function named below is renamed
-- to <name>_unchecked (EXECUTE revoked from PUBLIC) and replaced by a SQL
-- function of the same signature, SECURITY DEFINER with a pinned
-- search_path, that first calls check_practice_access() on the practice
-- the call acts for (its practice_id argument, or the practice of the
-- plan/settlement it names) and then calls the original. The modules
-- keep writing plain C; the rule lives here, once.
------------------------------------------------------------------------
-- (function, roles allowed, SQL giving the practice from the arguments)
CREATE FUNCTION @extschema@.checked_entry_points(OUT fn text, OUT roles text[], OUT practice_expr text)
  RETURNS SETOF record LANGUAGE sql IMMUTABLE
  AS $$ VALUES
    ('record_event',         ARRAY['collect_writer', 'collect_staff'], '$1'),
    ('receive_reply',        ARRAY['collect_writer'], '$1'),
    ('create_plan',          ARRAY['collect_staff'], '$1'),
    ('approve_plan',         ARRAY['collect_staff'], '(SELECT p.practice_id FROM @extschema@.plan p WHERE p.plan_id = $1)'),
    ('cancel_plan',          ARRAY['collect_staff'], '(SELECT p.practice_id FROM @extschema@.plan p WHERE p.plan_id = $1)'),
    ('approve_settlement',   ARRAY['collect_staff'], '(SELECT s.practice_id FROM @extschema@.settlement s WHERE s.settlement_id = $1)'),
    ('record_charge_result', ARRAY['collect_worker'], '$1')
  $$;

DO $entry$
DECLARE e record; f record; r text; args text;
BEGIN
  FOR e IN SELECT * FROM @extschema@.checked_entry_points() LOOP
    FOR f IN SELECT p.oid, p.oid::regprocedure AS sig, p.pronargs, p.proretset, p.proisstrict,
                    pg_get_function_arguments(p.oid) AS arglist, pg_get_function_identity_arguments(p.oid) AS idargs,
                    pg_get_function_result(p.oid) AS result
               FROM pg_proc p
              WHERE p.pronamespace = '@extschema@'::regnamespace AND p.proname = e.fn AND p.prolang =
                    (SELECT oid FROM pg_language WHERE lanname = 'c') LOOP
      EXECUTE format('ALTER FUNCTION %s RENAME TO %I', f.sig, e.fn || '_unchecked');
      EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.oid::regprocedure);
      SELECT string_agg('$' || i, ', ') INTO args FROM generate_series(1, f.pronargs) i;
      EXECUTE format('CREATE FUNCTION @extschema@.%I(%s) RETURNS %s LANGUAGE sql %s VOLATILE'
                     ' SECURITY DEFINER SET search_path = pg_catalog, pg_temp'
                     ' AS %L',
                     e.fn, f.arglist, f.result, CASE WHEN f.proisstrict THEN 'STRICT' ELSE '' END,
                     format('SELECT @extschema@.check_practice_access(coalesce(%s, %L)); SELECT %s@extschema@.%I(%s)',
                            e.practice_expr, '', CASE WHEN f.proretset THEN '* FROM ' ELSE '' END,
                            e.fn || '_unchecked', args));
      EXECUTE format('COMMENT ON FUNCTION @extschema@.%I(%s) IS %L', e.fn, f.idargs,
                     'checks the caller''s practice (collect.check_practice_access), then runs ' || e.fn || '_unchecked');
    END LOOP;
  END LOOP;
END
$entry$;

------------------------------------------------------------------------
-- Functions. SECURITY DEFINER functions are not executable by PUBLIC;
-- each role gets the entry points above that name it.
------------------------------------------------------------------------
DO $funcs$
DECLARE f record; e record;
BEGIN
  FOR f IN SELECT p.oid::regprocedure AS fn, p.proname
             FROM pg_proc p
            WHERE p.pronamespace = '@extschema@'::regnamespace AND p.prosecdef AND p.prokind = 'f'
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.fn);
    FOR e IN SELECT * FROM @extschema@.checked_entry_points() x WHERE x.fn = f.proname LOOP
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', f.fn, array_to_string(e.roles, ', '));
    END LOOP;
  END LOOP;
END
$funcs$;

------------------------------------------------------------------------
-- Backups: pg_dump keeps the rows of every practice table (and the values
-- of their identity sequences). Reference tables are filled by this script
-- and are not dumped. Restore with pg_restore --disable-triggers (or
-- session_replication_role = replica) so that restoring the ledger does
-- not post every row to collect.account a second time (docs/security.md).
------------------------------------------------------------------------
DO $dump$
DECLARE t record;
BEGIN
  FOR t IN SELECT c.oid::regclass AS tab
             FROM pg_class c
            WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind IN ('r', 'p')
              AND c.oid NOT IN (SELECT @extschema@.reference_tables())
  LOOP
    PERFORM pg_catalog.pg_extension_config_dump(t.tab, '');
  END LOOP;
  FOR t IN SELECT s.oid::regclass AS seq
             FROM pg_class s JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
            WHERE s.relkind = 'S' AND s.relnamespace = '@extschema@'::regnamespace
              AND d.refobjid NOT IN (SELECT @extschema@.reference_tables())
  LOOP
    PERFORM pg_catalog.pg_extension_config_dump(t.seq, '');
  END LOOP;
END
$dump$;
