-- Plan approval: automatic within plan_auto_approve_max_installments and
-- plan_auto_approve_max_balance (inclusive) for a clean history; otherwise
-- pending_approval with a plan_approval task, until approve_plan.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Clinic', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, sms_consent)
  SELECT 'p1', 'pt' || i, 'P' || i, '+1555555' || lpad(i::text, 4, '0'), true FROM generate_series(1, 9) i;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'pt1', 'c1', 'charge', 1500.00, '2026-01-05 15:00Z'),   -- exactly the balance limit
         ('p1', 'pt2', 'c2', 'charge', 1500.01, '2026-01-05 15:00Z'),   -- a cent above
         ('p1', 'pt3', 'c3', 'charge', 600.00, '2026-01-05 15:00Z'),
         ('p1', 'pt4', 'c4', 'charge', 600.00, '2026-01-05 15:00Z'),
         ('p1', 'pt5', 'c5', 'charge', 300.00, '2025-01-05 15:00Z'),
         ('p1', 'pt5', 'p5', 'payment', 100.00, '2025-01-06 15:00Z'),
         ('p1', 'pt5', 'r5', 'reversal', 100.00, '2025-01-20 15:00Z'),   -- reversal 12 months before as_of
         ('p1', 'pt6', 'c6', 'charge', 300.00, '2025-01-05 15:00Z'),
         ('p1', 'pt6', 'p6', 'payment', 100.00, '2025-01-06 15:00Z'),
         ('p1', 'pt6', 'r6', 'reversal', 100.00, '2025-01-10 15:00Z');   -- just over 12 months before

SELECT collect.create_plan('p1', 'pt1', NULL, NULL, '2026-01-10 15:00Z') AS limit_balance;   -- 6 installments, $1,500.00
SELECT collect.create_plan('p1', 'pt2', NULL, NULL, '2026-01-10 15:00Z') AS above_balance;   -- $1,500.01
SELECT collect.create_plan('p1', 'pt3', 6, NULL, '2026-01-10 15:00Z') AS limit_count;        -- exactly 6
SELECT collect.create_plan('p1', 'pt4', 7, NULL, '2026-01-10 15:00Z') AS above_count;        -- 7
SELECT collect.create_plan('p1', 'pt5', NULL, NULL, '2026-01-19 15:00Z') AS recent_reversal;
SELECT collect.create_plan('p1', 'pt6', NULL, NULL, '2026-01-19 15:00Z') AS old_reversal;
SELECT p.patient_id, p.total, p.installments, p.status, p.approved_by, p.approval_note, a.state
  FROM collect.plan p JOIN collect.account a USING (practice_id, patient_id) ORDER BY p.plan_id;
-- a plan_approval task for each pending plan, nothing for the others
SELECT patient_id, kind, status, due_at, summary LIKE '%Recommend approving or changing the plan of % payments for $%' AS says_what
  FROM collect.task ORDER BY task_id;
-- active plans got a confirmation message, pending ones none
SELECT patient_id, channel, template, step FROM collect.outbox ORDER BY message_id;

-- approval
SELECT collect.approve_plan(2, 'manager.mary', '2026-01-11 16:00Z');
SELECT status, approved_by, approved_at FROM collect.plan WHERE plan_id = 2;
SELECT state FROM collect.account WHERE patient_id = 'pt2';
SELECT status, closed_by FROM collect.task WHERE patient_id = 'pt2';
SELECT template, step FROM collect.outbox WHERE patient_id = 'pt2';
SELECT action, actor FROM collect.audit_log WHERE patient_id = 'pt2' ORDER BY audit_id;

-- approved after its first due date came too close: the due dates move on (same day, same amounts)
SELECT seq, due_date, amount FROM collect.installment WHERE plan_id = 4 ORDER BY seq LIMIT 2;
SELECT collect.approve_plan(4, 'manager.mary', '2026-01-14 16:00Z');
SELECT seq, due_date, amount FROM collect.installment WHERE plan_id = 4 ORDER BY seq;
SELECT first_due, status FROM collect.plan WHERE plan_id = 4;

-- errors (each followed by its SQLSTATE)
SELECT collect.approve_plan(2, 'manager.mary', '2026-01-11 16:00Z');   -- already active
\echo :LAST_ERROR_SQLSTATE
SELECT collect.approve_plan(999, 'manager.mary', '2026-01-11 16:00Z'); -- no such plan
\echo :LAST_ERROR_SQLSTATE
SELECT collect.approve_plan(4, '', '2026-01-11 16:00Z');               -- empty approver
\echo :LAST_ERROR_SQLSTATE
SELECT collect.create_plan('p1', 'pt1', NULL, NULL, '2026-01-12 15:00Z');  -- a live plan exists
\echo :LAST_ERROR_SQLSTATE

-- cancel: the account goes back to the cadence, queued plan messages are cancelled
SELECT collect.cancel_plan(1, 'front.desk', '2026-01-12 15:00Z');
SELECT status, ended_at FROM collect.plan WHERE plan_id = 1;
SELECT state, next_action_at FROM collect.account WHERE patient_id = 'pt1';
SELECT status, last_error FROM collect.outbox WHERE patient_id = 'pt1';
SELECT collect.cancel_plan(1, 'front.desk', '2026-01-12 15:00Z');   -- already cancelled
\echo :LAST_ERROR_SQLSTATE
-- a missed installment in the last 12 months also needs approval
UPDATE collect.installment SET status = 'failed', missed_at = '2025-06-01 12:00Z' WHERE plan_id = 1 AND seq = 1;
SELECT collect.create_plan('p1', 'pt1', NULL, NULL, '2026-01-12 15:00Z') AS after_missed;
SELECT status, approval_note FROM collect.plan WHERE plan_id = currval(pg_get_serial_sequence('collect.plan', 'plan_id'));
