-- Plan quotes: the exact split (remainder cents first), the installment
-- tiers at their boundaries, due dates on plan_day_of_month across month
-- ends, February and leap years, and the errors with their SQLSTATEs.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
\set VERBOSITY terse
\set SHOW_CONTEXT never

-- the split: remainder cents go to the FIRST installments
SELECT collect.plan_split(100.00, 3) AS hundred_in_3,
       collect.plan_split(100.01, 3) AS plus_one_cent,
       collect.plan_split(0.02, 3) AS fewer_cents_than_installments,
       collect.plan_split(1000.00, 6) AS thousand_in_6;
SELECT bool_and((SELECT sum(x) FROM unnest(collect.plan_split(t, n)) x) = t) AS every_split_exact
  FROM generate_series(1, 2000) t0, LATERAL (SELECT t0 * 0.37 AS t) s, generate_series(1, 12) n;

-- due dates: anchor day clamped to the month's end, never drifting
SELECT collect.plan_due_date('2026-01-31', 31, k) AS from_jan_31 FROM generate_series(0, 4) k;
SELECT collect.plan_due_date('2027-12-29', 29, k) AS leap_february FROM generate_series(0, 3) k;
SELECT collect.plan_due_date('2026-11-30', 30, k) AS year_end FROM generate_series(0, 3) k;
-- the first due date: the first plan day at least lead_days + 1 days away
SELECT collect.plan_first_due('2026-01-12', 15, 2) AS jan_12,  -- Jan 15 is 3 days away: ok
       collect.plan_first_due('2026-01-13', 15, 2) AS jan_13,  -- Jan 15 is 2 days away: next month
       collect.plan_first_due('2026-01-31', 28, 2) AS jan_31,
       collect.plan_first_due('2026-12-20', 15, 2) AS dec_20,
       collect.plan_first_due('2028-02-27', 1, 0) AS leap_feb_27;
-- business days skip weekends
SELECT collect.business_days_after('2026-11-20', 5) AS fri_plus_5,  -- Friday
       collect.business_days_after('2026-11-21', 5) AS sat_plus_5,
       collect.business_days_after('2026-11-23', 1) AS mon_plus_1;

-- tiers through quote_plan: 3 under $500, 4 under $1,000, 6 above
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Clinic', 'America/New_York');
INSERT INTO collect.patient (practice_id, patient_id, first_name)
  SELECT 'p1', 'pt' || i, 'P' || i FROM generate_series(1, 8) i;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'pt1', 'c1', 'charge', 499.99, '2026-01-05 15:00Z'),
         ('p1', 'pt2', 'c2', 'charge', 500.00, '2026-01-05 15:00Z'),
         ('p1', 'pt3', 'c3', 'charge', 999.99, '2026-01-05 15:00Z'),
         ('p1', 'pt4', 'c4', 'charge', 1000.00, '2026-01-05 15:00Z'),
         ('p1', 'pt5', 'c5', 'charge', 0.01, '2026-01-05 15:00Z'),
         ('p1', 'pt6', 'c6', 'charge', 50.00, '2026-01-05 15:00Z'),
         ('p1', 'pt6', 'p6', 'payment', 50.00, '2026-01-06 15:00Z');
SELECT a.patient_id, a.balance, count(*) AS installments, sum(q.amount) AS total,
       min(q.amount) AS smallest, max(q.amount) AS largest, min(q.due_date) AS first_due, max(q.due_date) AS last_due
  FROM collect.account a, collect.quote_plan('p1', a.patient_id, NULL, '2026-01-10 15:00Z') q
 WHERE a.patient_id IN ('pt1', 'pt2', 'pt3', 'pt4', 'pt5')
 GROUP BY a.patient_id, a.balance ORDER BY a.balance;
-- the largest installment comes first (remainder rule)
SELECT * FROM collect.quote_plan('p1', 'pt1', NULL, '2026-01-10 15:00Z');
-- an explicit count overrides the tiers
SELECT * FROM collect.quote_plan('p1', 'pt4', 7, '2026-01-10 15:00Z');
-- the practice's own tiers and day of month
UPDATE collect.practice SET policy = '{"plan_installments": [{"under": 300, "count": 2}, {"count": 12}], "plan_day_of_month": 28}';
SELECT count(*) AS n, min(due_date), max(due_date), sum(amount)
  FROM collect.quote_plan('p1', 'pt1', NULL, '2026-01-10 15:00Z');
-- as_of is read in the practice's time zone: 2026-01-26 03:00Z is still the 25th in New York
SELECT min(due_date) AS first_due_ny FROM collect.quote_plan('p1', 'pt1', NULL, '2026-01-26 03:00Z');
SELECT min(due_date) AS first_due_a_day_later FROM collect.quote_plan('p1', 'pt1', NULL, '2026-01-26 05:00Z');
-- quote_plan writes nothing
SELECT count(*) AS plans FROM collect.plan;

-- a given first_due anchors the plan on its day, clamped at month ends
UPDATE collect.practice SET policy = '{}';
SELECT collect.create_plan('p1', 'pt3', 4, '2026-01-31', '2026-01-10 15:00Z') AS plan_id;
SELECT seq, due_date, amount, status FROM collect.installment ORDER BY seq;
SELECT first_due, anchor_day, total, installments, status FROM collect.plan;

-- errors (each followed by its SQLSTATE)
SELECT * FROM collect.quote_plan('p1', 'pt5', 2, '2026-01-10 15:00Z');         -- one cent: one installment
SELECT * FROM collect.quote_plan('p1', 'pt6', NULL, '2026-01-10 15:00Z');      -- paid: 55000
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM collect.quote_plan('p1', 'nobody', NULL, '2026-01-10 15:00Z');   -- no account: 55000
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM collect.quote_plan('p1', 'pt1', 0, '2026-01-10 15:00Z');         -- 22023
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM collect.quote_plan('p1', 'pt1', 61, '2026-01-10 15:00Z');        -- 22023
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM collect.quote_plan('nope', 'pt1', NULL, '2026-01-10 15:00Z');    -- 42704
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM collect.quote_plan('p1', 'pt1', NULL, NULL);                     -- 22004
\echo :LAST_ERROR_SQLSTATE
SELECT collect.create_plan('p1', 'pt1', NULL, '2026-01-01', '2026-01-10 15:00Z'); -- first_due in the past: 22023
\echo :LAST_ERROR_SQLSTATE
SELECT collect.plan_split(10.00, 0);                                            -- 22023
\echo :LAST_ERROR_SQLSTATE
