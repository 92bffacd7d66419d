-- Credits and refunds: the weekly sweep (Monday 06:00 practice time)
-- applies a credit balance to open balances of the same family (same
-- guarantor) first, documented on both sides of the ledger, and opens a
-- refund task due within refund_due_business_days business days for the
-- rest. The sum of all balances never changes.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Clinic', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, guarantor_id)
  VALUES ('p1', 'mom', 'Mom', NULL), ('p1', 'kid1', 'Kid', 'mom'), ('p1', 'kid2', 'Kid', 'mom'),
         ('p1', 'sol', 'Sol', NULL),
         ('p1', 'dad', 'Dad', NULL), ('p1', 'kid3', 'Kid', 'dad'),
         ('p1', 'other', 'Other', NULL);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'mom', 'm-c', 'charge', 50.00, '2026-01-05 18:00Z'),
         ('p1', 'kid2', 'k2-c', 'charge', 100.00, '2026-01-20 18:00Z'),
         ('p1', 'kid1', 'k1-c', 'charge', 20.00, '2026-01-05 18:00Z'),
         ('p1', 'kid1', 'k1-p', 'payment', 100.00, '2026-02-10 18:00Z'),     -- credit 80
         ('p1', 'sol', 's-c', 'charge', 75.00, '2026-01-05 18:00Z'),
         ('p1', 'sol', 's-p', 'payment', 100.00, '2026-02-10 18:00Z'),       -- credit 25
         ('p1', 'dad', 'd-c', 'charge', 10.00, '2026-01-05 18:00Z'),
         ('p1', 'dad', 'd-p', 'payment', 110.00, '2026-02-10 18:00Z'),       -- credit 100
         ('p1', 'kid3', 'k3-c', 'charge', 40.00, '2026-01-05 18:00Z'),
         ('p1', 'other', 'o-c', 'charge', 60.00, '2026-01-05 18:00Z');       -- not family of anyone
SELECT sum(balance) AS total_before FROM collect.account \gset
SELECT patient_id, balance FROM collect.account ORDER BY patient_id;

-- the first tick runs the sweep of the current week (Monday 2026-03-02 06:00 CST = 12:00Z)
SELECT collect.plans_tick('2026-03-02 12:00Z') AS sweep;
SELECT patient_id, balance FROM collect.account ORDER BY patient_id;
SELECT patient_id, kind, amount, method, note FROM collect.ledger WHERE method = 'credit_transfer' ORDER BY entry_id;
-- refund tasks: 5 business days later (Monday March 9), 17:00 local, after the DST change (CDT = 22:00Z)
SELECT patient_id, kind, status, due_at, summary FROM collect.task ORDER BY task_id;
SELECT sum(balance) = :total_before AS no_money_created_or_lost FROM collect.account;
SELECT collect.plans_tick('2026-03-02 12:00Z') AS same_as_of_again;

-- a credit arising mid-week waits for next Monday's slot
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'other', 'o-p', 'payment', 70.00, '2026-03-04 18:00Z');
SELECT collect.plans_tick('2026-03-05 18:00Z') AS thursday;
SELECT collect.plans_tick('2026-03-09 10:59Z') AS monday_0559_cdt;   -- 05:59 CDT
SELECT collect.plans_tick('2026-03-09 11:00Z') AS monday_0600_cdt;   -- 06:00 CDT
SELECT patient_id, kind, due_at, summary FROM collect.task WHERE patient_id = 'other';
-- a refund task already open is refreshed, not duplicated, by later sweeps
SELECT collect.plans_tick('2026-03-16 11:00Z') AS next_monday;
SELECT patient_id, count(*) AS refund_tasks FROM collect.task WHERE kind = 'refund' GROUP BY patient_id ORDER BY patient_id;
SELECT sum(balance) = :total_before - 70.00 AS only_the_payment_changed_the_total FROM collect.account;

-- a daily sweep: 06:00 every day
UPDATE collect.practice SET policy = '{"refund_sweep": "daily", "refund_due_business_days": 2}';
INSERT INTO collect.patient (practice_id, patient_id, first_name) VALUES ('p1', 'new', 'New');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'new', 'n-p', 'payment', 5.00, '2026-03-17 12:00Z');
SELECT collect.plans_tick('2026-03-17 12:00Z') AS tuesday;   -- 07:00 CDT Tuesday: today's slot not yet swept
SELECT due_at FROM collect.task WHERE patient_id = 'new';      -- Thursday 17:00 CDT
