-- Compliance: extraordinary-action gates (placement, credit reporting):
-- 120 days after the first statement, a written notice 30 days before,
-- no open hold, $500 and one year for credit reporting; the tick's
-- placement review obeys them. Explainability: collect.preview lists
-- planned and held steps with the rule; collect.why / why_task explain a
-- message or task from the facts recorded when it was decided.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SET TIME ZONE 'UTC';
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Maple Dental', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent, voice_consent,
                             phone_source, consent_source) VALUES
 ('p1', 'al', 'Al', '+15550000001', 'al@example.com', true, true, true, 'PM import', 'signed intake form 2025-12-01'),
 ('p1', 'lo', 'Lo', '+15550000002', 'lo@example.com', true, true, true, NULL, NULL),
 ('p1', 'hi', 'Hi', '+15550000003', 'hi@example.com', true, true, true, NULL, NULL);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES
 ('p1', 'al', 'a1', 'charge', 420.00, '2026-01-05 15:00Z'),
 ('p1', 'lo', 'l1', 'charge', 499.99, '2026-01-05 15:00Z'),
 ('p1', 'hi', 'h1', 'charge', 500.00, '2026-01-05 15:00Z');
UPDATE collect.account SET first_statement_at = '2026-01-15 15:00Z';

-- placement: day 119 refused, day 120 needs the written notice, then 30 days
SELECT collect.eca_block_reason('p1', 'al', 'placement', '2026-05-14 15:00Z') AS day_119;
SELECT collect.eca_block_reason('p1', 'al', 'placement', '2026-05-15 15:00Z') AS day_120_no_notice;
SELECT collect.record_event('p1', 'al', 'eca_notice_sent', '{}', '2026-04-15 15:00Z') > 0 AS notice;
SELECT collect.eca_block_reason('p1', 'al', 'placement', '2026-05-14 15:00Z') AS day_119_with_notice,
       collect.eca_block_reason('p1', 'al', 'placement', '2026-05-15 15:00Z') IS NULL AS day_120_ok;
SELECT collect.record_event('p1', 'lo', 'eca_notice_sent', '{}', '2026-06-01 15:00Z') > 0 AS late_notice;
SELECT collect.eca_block_reason('p1', 'lo', 'placement', '2026-06-30 15:00Z') AS day_29_after_notice,
       collect.eca_block_reason('p1', 'lo', 'placement', '2026-07-01 15:00Z') IS NULL AS day_30_after_notice;
-- a hold or an open dispute blocks it whatever the dates
SELECT collect.record_event('p1', 'al', 'dispute_opened', '{"reason": "x"}', '2026-06-01 15:00Z') > 0 AS disputed;
SELECT collect.eca_block_reason('p1', 'al', 'placement', '2026-06-02 15:00Z') AS while_disputed;
SELECT collect.record_event('p1', 'al', 'dispute_resolved', '{"outcome": "denied"}', '2026-06-03 15:00Z') > 0 AS resolved;

-- credit reporting: $499.99 never, $500.00 after one year (and the notice)
SELECT collect.record_event('p1', 'hi', 'eca_notice_sent', '{}', '2026-06-01 15:00Z') > 0 AS notice;
SELECT collect.eca_block_reason('p1', 'lo', 'credit_reporting', '2027-02-01 15:00Z') AS lo_499_99,
       collect.eca_block_reason('p1', 'hi', 'credit_reporting', '2027-02-01 15:00Z') IS NULL AS hi_500_00_ok;
SELECT collect.eca_block_reason('p1', 'hi', 'credit_reporting', '2027-01-14 15:00Z') AS hi_day_364,
       collect.eca_block_reason('p1', 'hi', 'credit_reporting', '2027-01-15 15:00Z') IS NULL AS hi_day_365_ok;
SELECT collect.eca_block_reason('p1', 'hi', 'placement', '2026-07-01 15:00Z') IS NULL AS hi_placement_ok;
SELECT collect.eca_block_reason('p1', 'hi', 'lawsuit', '2027-02-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- the tick: no placement review without the notice; it sends the notice and waits 30 days
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent, phone_source, consent_source)
VALUES ('p1', 'zed', 'Zed', '+15550000009', 'zed@example.com', true, true, 'PM import 2026-01-02', 'web form 2026-01-02 (e-mail and texts)');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'zed', 'z1', 'charge', 800.00, '2026-01-05 15:00Z');
SELECT sum(collect.tick(t)) > 0 AS ran FROM generate_series('2026-01-06 15:00Z'::timestamptz, '2026-07-15 15:00Z', '1 day') t;
SELECT (first_statement_at AT TIME ZONE 'America/Chicago')::date AS first_statement,
       (eca_notice_at AT TIME ZONE 'America/Chicago')::date AS eca_notice, state
  FROM collect.account WHERE patient_id = 'zed';
SELECT template, channel FROM collect.outbox WHERE patient_id = 'zed' AND step = 'notice:eca';
SELECT kind, (created_at AT TIME ZONE 'America/Chicago')::date AS opened,
       created_at >= (SELECT eca_notice_at + interval '30 days' FROM collect.account WHERE patient_id = 'zed') AS after_30_days,
       created_at >= (SELECT first_statement_at + interval '120 days' FROM collect.account WHERE patient_id = 'zed') AS after_120_days
  FROM collect.task WHERE patient_id = 'zed' AND kind = 'placement_review';
SELECT reason FROM collect.audit_log WHERE patient_id = 'zed' AND action = 'placement_review_held' ORDER BY audit_id;

-- why: a message and a task explain themselves from the recorded facts
SELECT message_id AS zmsg FROM collect.outbox WHERE patient_id = 'zed' ORDER BY message_id LIMIT 1 \gset
-- what changed later does not change the explanation: it reads the facts of decision time
UPDATE collect.patient SET email_consent = false, consent_source = 'changed later', phone_source = 'changed later' WHERE patient_id = 'zed';
SELECT collect.why(:zmsg);
SELECT collect.why_task(task_id) FROM collect.task WHERE patient_id = 'zed' AND kind = 'placement_review';
SELECT collect.why(999999);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.why_task(999999);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- preview: planned steps and held ones, with the rule
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent)
VALUES ('p1', 'pv', 'Pia', '+15550000010', 'pia@example.com', false, true);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pv', 'pv1', 'charge', 250.00, '2026-03-02 15:00Z');
SELECT at, step, channel, template, status, rule FROM collect.preview('p1', 'pv', 60, '2026-03-02 16:00Z');
SELECT at, step, status, rule, reason FROM collect.preview('p1', 'pv', 200, '2026-03-02 16:00Z') WHERE step IN ('placement review', 'written notice before placement') ORDER BY at;
SELECT collect.record_event('p1', 'pv', 'bankruptcy_notice', '{}', '2026-03-03 15:00Z') > 0 AS bankrupt;
SELECT count(*) AS steps, count(*) FILTER (WHERE status = 'held' AND rule = 'legal_hold') AS held_by_hold
  FROM collect.preview('p1', 'pv', 60, '2026-03-04 16:00Z');
SELECT DISTINCT reason FROM collect.preview('p1', 'pv', 60, '2026-03-04 16:00Z') WHERE step LIKE 'cadence%';
SELECT * FROM collect.preview('p1', 'pv', 0, '2026-03-04 16:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
