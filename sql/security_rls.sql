-- security_rls: practice isolation (row-level security on every table and
-- view), the role grants of DESIGN.md, SECURITY DEFINER hygiene, the
-- append-only audit trail and the write_off audit. Every catalog query
-- below lists offenders by name, so a table or function added later that
-- escapes the rules shows up in the diff.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;

-- 1. Catalog rules ------------------------------------------------------
-- every table has row-level security and at least one policy
SELECT c.relname AS table_without_rls
  FROM pg_class c
 WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind IN ('r', 'p')
   AND (NOT c.relrowsecurity OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))
 ORDER BY 1;
-- every table has practice_id first in its primary key, or is a reference table
SELECT c.relname AS table_not_distributable
  FROM pg_class c
 WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind IN ('r', 'p')
   AND c.oid NOT IN (SELECT collect.reference_tables())
   AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                    WHERE i.indrelid = c.oid AND i.indisprimary AND a.attname = 'practice_id')
 ORDER BY 1;
-- every foreign key and unique index of a practice table includes practice_id (Citus colocation)
SELECT c.conrelid::regclass || ' ' || c.conname AS constraint_without_practice_id
  FROM pg_constraint c
 WHERE c.connamespace = 'collect'::regnamespace AND c.contype IN ('f', 'u', 'p')
   AND c.conrelid NOT IN (SELECT collect.reference_tables())
   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                     AND a.attname = 'practice_id')
UNION ALL
SELECT i.indexrelid::regclass::text
  FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
 WHERE t.relnamespace = 'collect'::regnamespace AND i.indisunique
   AND t.oid NOT IN (SELECT collect.reference_tables())
   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                     AND a.attname = 'practice_id')
 ORDER BY 1;
-- a view that runs with its owner's rights (bypassing RLS) is readable by the analyst only
SELECT c.relname AS view_bypassing_rls
  FROM pg_class c
 WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind IN ('v', 'm')
   AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)
   AND (has_table_privilege('collect_staff', c.oid, 'SELECT') OR has_table_privilege('collect_writer', c.oid, 'SELECT')
        OR has_table_privilege('collect_worker', c.oid, 'SELECT'))
 ORDER BY 1;
-- SECURITY DEFINER functions pin search_path and are not executable by PUBLIC
SELECT p.oid::regprocedure AS definer_function_unsafe
  FROM pg_proc p
 WHERE p.pronamespace = 'collect'::regnamespace AND p.prosecdef
   AND (NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')
        OR has_function_privilege('public', p.oid, 'EXECUTE') AND p.prorettype <> 'trigger'::regtype)
 ORDER BY 1;
-- no table or sequence is granted to PUBLIC
SELECT c.relname AS granted_to_public
  FROM pg_class c
 WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
   AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0)
 ORDER BY 1;
-- the analyst cannot read any table (directly) nor any identifying column anywhere
SELECT c.relname AS analyst_reads_table
  FROM pg_class c
 WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind IN ('r', 'p')
   AND has_any_column_privilege('collect_analyst', c.oid, 'SELECT')
 ORDER BY 1;
SELECT c.relname || '.' || a.attname AS analyst_sees_identifying_column
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'collect'::regnamespace
   AND a.attname ~ '(first_name|last_name|^name$|phone|email|to_address|secret|paylink_key|^body$|^subject$|birth_date)'
   AND has_column_privilege('collect_analyst', c.oid, a.attnum, 'SELECT')
 ORDER BY 1;
-- provider secrets: the worker reads them; writer, staff and analyst do not
SELECT r AS role, has_column_privilege(r, 'collect.provider', 'secret', 'SELECT') AS reads_provider_secret,
       has_table_privilege(r, 'collect.practice_secret', 'SELECT') AS reads_paylink_key
  FROM unnest(ARRAY['collect_writer', 'collect_staff', 'collect_analyst', 'collect_worker']) r;
-- the writer's grants: exactly INSERT (and read-back) on practice, patient, ledger
SELECT c.relname, string_agg(a.privilege_type, ',' ORDER BY a.privilege_type) AS writer_privileges
  FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.relnamespace = 'collect'::regnamespace AND a.grantee = 'collect_writer'::regrole
 GROUP BY c.relname ORDER BY 1;

-- 2. Two practices, their people ----------------------------------------
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['regress_sec_staff_a', 'regress_sec_staff_b', 'regress_sec_writer_a',
                           'regress_sec_analyst', 'regress_sec_nobody', 'regress_sec_worker'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN EXECUTE format('DROP ROLE %I', r); END IF;
  END LOOP;
END $$;
CREATE ROLE regress_sec_staff_a IN ROLE collect_staff;
CREATE ROLE regress_sec_staff_b IN ROLE collect_staff;
CREATE ROLE regress_sec_writer_a IN ROLE collect_writer;
CREATE ROLE regress_sec_analyst IN ROLE collect_analyst;
CREATE ROLE regress_sec_nobody;
CREATE ROLE regress_sec_worker IN ROLE collect_worker;
SELECT collect.grant_practice('regress_sec_staff_a', 'A'), collect.grant_practice('regress_sec_writer_a', 'A'),
       collect.grant_practice('regress_sec_staff_b', 'B');
-- mapping an unknown role fails
SELECT collect.grant_practice('regress_no_such_role', 'A');

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('B', 'Bayside Dental', 'America/New_York');
INSERT INTO collect.patient (practice_id, patient_id, first_name, last_name, phone, email, sms_consent)
VALUES ('B', 'b1', 'Bea', 'Bright', '+15555550111', 'bea@example.com', true);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('B', 'b1', 'B-1', 'charge', 250, '2026-01-05 10:00+00'), ('B', 'b1', 'B-2', 'write_off', 50, '2026-02-05 10:00+00');
INSERT INTO collect.event (practice_id, patient_id, kind, at) VALUES ('B', 'b1', 'call_completed', '2026-02-06 10:00+00');
INSERT INTO collect.outbox (practice_id, patient_id, channel, step, to_address, body, send_after, idempotency_key)
VALUES ('B', 'b1', 'sms', 'day3', '+15555550111', 'You owe $200.00. Reply STOP to opt out.', '2026-01-08 15:00+00', 'B-b1-day3');
INSERT INTO collect.task (practice_id, patient_id, kind, summary, due_at) VALUES ('B', 'b1', 'call', 'Owes $200.00.', '2026-02-10 15:00+00');
INSERT INTO collect.contact_attempt (practice_id, patient_id, channel, at, outcome) VALUES ('B', 'b1', 'sms', '2026-01-08 15:00+00', 'sent');
INSERT INTO collect.plan (practice_id, patient_id, total, installments, status) VALUES ('B', 'b1', 200, 2, 'pending_approval');
INSERT INTO collect.installment (practice_id, plan_id, seq, due_date, amount)
SELECT 'B', plan_id, s, date '2026-03-15' + (s - 1) * 30, 100 FROM collect.plan, generate_series(1, 2) s;
INSERT INTO collect.payment_method VALUES ('B', 'b1', 'cus_B', 'pm_B', '2026-01-05 10:00+00', 'front desk', NULL);
INSERT INTO collect.provider (practice_id, channel, kind, base_url, account, secret, sender)
VALUES ('B', 'sms', 'twilio', 'http://127.0.0.1:1', 'ACb', 'tw-secret-B-0123456789', '+15555550100');
INSERT INTO collect.channel_opt_out VALUES ('B', 'b1', 'voice', '2026-01-09 10:00+00', 'event:opt_out', NULL);
INSERT INTO collect.audit_log (practice_id, patient_id, at, actor, action, reason) VALUES ('B', 'b1', '2026-01-08 15:00+00', 'collect', 'cadence_step', 'day 3 text');

-- 3. The writer of practice A ----------------------------------------
SET ROLE regress_sec_writer_a;
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('A', 'Acme Vet', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone) VALUES ('A', 'a1', 'Al', '+15555550122');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, note)
VALUES ('A', 'a1', 'A-1', 'charge', 120, '2026-01-05 10:00+00', NULL),
       ('A', 'a1', 'A-2', 'write_off', 20, '2026-03-01 10:00+00', 'small balance policy')
RETURNING practice_id, external_id, kind;
-- an identical repost is a no-op, also for the writer
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, note)
VALUES ('A', 'a1', 'A-2', 'write_off', 20, '2026-03-01 10:00+00', 'small balance policy');
-- it sees its own practice only
SELECT practice_id, count(*) FROM collect.ledger GROUP BY 1;
SELECT practice_id FROM collect.practice;
-- and cannot write another practice's rows
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('C', 'Not mine', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id) VALUES ('B', 'intruder');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount) VALUES ('B', 'b1', 'X-1', 'payment', 200);
UPDATE collect.patient SET phone = '+15555550199' WHERE practice_id = 'A';
SELECT collect.check_practice_access('A');
SELECT collect.check_practice_access('B');
-- entry points: allowed for its practice, refused for another
SELECT collect.record_event('A', 'a1', 'call_completed', '{}', '2026-03-02 16:00+00') IS NOT NULL AS event_recorded;
SELECT collect.record_event('B', 'b1', 'call_completed', '{}', '2026-03-02 16:00+00');
SELECT collect.approve_plan((SELECT 1::bigint), 'writer');
SELECT collect.record_event_unchecked('B', 'b1', 'call_completed', '{}', '2026-03-02 16:00+00');
-- nor read what is not its to read
SELECT count(*) FROM collect.account;
SELECT count(*) FROM collect.audit_log;
RESET ROLE;

-- the write_off was audited with the posting role, once
SELECT practice_id, patient_id, actor, action, subject, reason, facts->>'amount' AS amount
  FROM collect.audit_log WHERE action = 'write_off' ORDER BY practice_id, subject;
-- the audit trail is append-only
UPDATE collect.audit_log SET reason = 'rewritten';
DELETE FROM collect.audit_log;
TRUNCATE collect.audit_log;
SELECT count(*) AS audit_rows FROM collect.audit_log;

-- 4. Staff of practice A: zero rows of practice B, from every table and view
CREATE TEMP TABLE b_plan AS SELECT plan_id FROM collect.plan WHERE practice_id = 'B';
GRANT SELECT ON b_plan TO PUBLIC;
SET ROLE regress_sec_staff_a;
CREATE TEMP TABLE leak_check AS
WITH rels AS MATERIALIZED (
  SELECT c.oid, c.oid::regclass::text AS relation
    FROM pg_class c
   WHERE c.relnamespace = 'collect'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
     AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'practice_id' AND NOT a.attisdropped))
SELECT relation, NULL::bigint AS rows_of_b, NULL::bigint AS rows_of_a
  FROM rels WHERE has_column_privilege(oid, 'practice_id', 'SELECT');
DO $$
DECLARE r record; nb bigint; na bigint;
BEGIN
  FOR r IN SELECT relation FROM leak_check LOOP
    EXECUTE format('SELECT count(*) FILTER (WHERE practice_id = ''B''), count(*) FILTER (WHERE practice_id = ''A'') FROM %s', r.relation)
      INTO nb, na;
    UPDATE leak_check SET rows_of_b = nb, rows_of_a = na WHERE relation = r.relation;
  END LOOP;
END $$;
SELECT relation AS staff_a_sees_rows_of_b FROM leak_check WHERE rows_of_b <> 0 ORDER BY 1;
-- (the check did read: practice A's own rows are visible)
SELECT count(*) >= 6 AS relations_checked, sum(rows_of_a) > 0 AS sees_own_rows FROM leak_check;
SELECT balance FROM collect.account;
-- no writes into practice B
WITH u AS (UPDATE collect.task SET status = 'done', closed_by = 'regress_sec_staff_a' WHERE practice_id = 'B' RETURNING 1)
SELECT count(*) AS b_tasks_closed_by_a FROM u;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount) VALUES ('B', 'b1', 'X-2', 'payment', 200);
INSERT INTO collect.task (practice_id, patient_id, kind, summary, due_at) VALUES ('B', 'b1', 'call', 'x', now());
SELECT secret FROM collect.provider;
SELECT count(*) FROM collect.practice_secret;
SELECT collect.approve_plan(plan_id, 'regress_sec_staff_a') FROM collect.plan;  -- sees none of B's plans
SELECT collect.approve_plan((SELECT plan_id FROM pg_temp.b_plan), 'regress_sec_staff_a');
SELECT collect.cancel_plan((SELECT plan_id FROM pg_temp.b_plan), 'regress_sec_staff_a');
SELECT collect.record_event('B', 'b1', 'complaint', '{}', '2026-03-02 16:00+00');
RESET ROLE;
SELECT status, approved_by FROM collect.plan WHERE practice_id = 'B';
SELECT count(*) AS b_events FROM collect.event WHERE practice_id = 'B';
SELECT status FROM collect.task WHERE practice_id = 'B';

-- staff of practice B sees B, and can close B's task
SET ROLE regress_sec_staff_b;
SELECT practice_id, patient_id, balance FROM collect.account;
SELECT practice_id, channel, kind, account FROM collect.provider;
UPDATE collect.task SET status = 'done', closed_by = 'regress_sec_staff_b', closed_at = '2026-02-11 10:00+00' WHERE practice_id = 'B';
UPDATE collect.task SET practice_id = 'A';
UPDATE collect.task SET summary = 'rewritten';
SELECT collect.approve_plan((SELECT plan_id FROM pg_temp.b_plan), 'regress_sec_staff_b');
RESET ROLE;
SELECT status, closed_by FROM collect.task WHERE practice_id = 'B' ORDER BY task_id;
SELECT status, approved_by FROM collect.plan WHERE practice_id = 'B';

-- the worker reads every practice's outbox and provider secrets
SET ROLE regress_sec_worker;
SELECT practice_id, count(*) FROM collect.outbox GROUP BY 1;
SELECT practice_id, channel, secret IS NOT NULL AS has_secret FROM collect.provider;
SELECT count(*) FROM collect.practice_secret;
RESET ROLE;

-- 5. The analyst: permission errors on names, phones, e-mails, secrets --
SET ROLE regress_sec_analyst;
SELECT first_name FROM collect.patient;
SELECT phone FROM collect.patient;
SELECT email FROM collect.patient;
SELECT to_address FROM collect.outbox;
SELECT secret FROM collect.provider;
SELECT paylink_key FROM collect.practice_secret;
SELECT count(*) FROM collect.ledger;
RESET ROLE;

-- 6. A role with no collect role sees nothing and may call nothing ----
SET ROLE regress_sec_nobody;
SELECT count(*) FROM collect.account;
SELECT collect.grant_practice('regress_sec_nobody', 'B');
RESET ROLE;

-- clean up the cluster-wide roles
DROP TABLE leak_check, b_plan;
DROP EXTENSION collect CASCADE;
DROP ROLE regress_sec_staff_a, regress_sec_staff_b, regress_sec_writer_a, regress_sec_analyst, regress_sec_nobody, regress_sec_worker;
