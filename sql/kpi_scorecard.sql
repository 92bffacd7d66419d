-- The KPI scorecard on a hand-computed fixture: practice p1 (America/Chicago)
-- over 13 ISO weeks, 2026-01-05 .. 2026-04-05. Every ledger row is its own
-- statement (resolutions are detected per statement). Times are 16:00 UTC
-- (10:00 CST / 11:00 CDT, same local date) unless noted. The expected values
-- are written out by hand below, with the arithmetic, and compared exactly.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SET TimeZone = 'UTC';

INSERT INTO collect.practice (practice_id, name, timezone) VALUES
  ('p1', 'Fixture Dental', 'America/Chicago'),
  ('p2', 'Other Practice', 'UTC');
INSERT INTO collect.patient (practice_id, patient_id, first_name)
SELECT 'p1', x, 'Pat ' || x FROM unnest(ARRAY['A','B','C','D','E','F','G']) x;
INSERT INTO collect.patient (practice_id, patient_id) VALUES ('p2', 'Z');

-- ledger, one statement per row, in posting order
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','A','l01','charge',     100.00, '2026-01-05 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','B','l02','charge',     200.00, '2026-01-06 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','C','l03','charge',     300.00, '2026-01-13 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','A','l04','payment',    100.00, '2026-01-14 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','B','l05','payment',     50.00, '2026-01-20 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','A','l06','reversal',   100.00, '2026-01-21 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','E','l07','charge',      50.00, '2026-01-26 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','A','l08','payment',    100.00, '2026-01-28 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','D','l09','charge',     400.00, '2026-02-02 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','E','l10','adjustment',  50.00, '2026-02-06 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','D','l11','payment',    100.00, '2026-02-14 16:00+00');
-- tasks exist before the postings that resolve C and B
INSERT INTO collect.task (practice_id, patient_id, kind, summary, due_at, status, created_at, closed_at) VALUES
  ('p1','C','dispute_review','review dispute','2026-01-22 16:00+00','done','2026-01-20 16:00+00','2026-02-03 16:00+00'),
  ('p1','B','call','call about balance','2026-02-11 16:00+00','open','2026-02-10 16:00+00',NULL);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','C','l12','payment',    300.00, '2026-02-20 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','F','l13','charge',      80.00, '2026-03-02 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','B','l14','write_off',  150.00, '2026-03-03 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','F','l15','payment',    100.00, '2026-03-04 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','F','l16','refund',      20.00, '2026-03-10 16:00+00');
-- 03:00 UTC on 03-16 is 22:00 CDT on Sunday 03-15: counted in the week of 03-09
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','G','l17','charge',      60.00, '2026-03-16 03:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','D','l18','payment',    100.00, '2026-03-17 16:00+00');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','A','l19','charge',      40.00, '2026-04-01 16:00+00');
-- an identical repost is a no-op and must not count twice
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1','A','l19','charge',      40.00, '2026-04-01 16:00+00');
-- another practice, one bulk statement: must not leak into p1
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT 'p2', 'Z', 'z' || g, 'charge', 10.00, '2026-01-05 12:00+00'::timestamptz + g * interval '1 hour'
  FROM generate_series(1, 1500) g;

-- outreach: contacts are outbox rows that reached sent/delivered on a patient channel
INSERT INTO collect.outbox (practice_id, patient_id, channel, step, send_after, status, idempotency_key, sent_at) VALUES
  ('p1','A','sms',   'day3',  '2026-01-08 16:00+00','delivered','o1','2026-01-08 16:00+00'),
  ('p1','B','sms',   'day3',  '2026-01-09 16:00+00','delivered','o2','2026-01-09 16:00+00'),
  ('p1','B','letter','day10', '2026-01-16 16:00+00','sent',     'o3','2026-01-16 16:00+00'),
  ('p1','E','sms',   'day3',  '2026-01-30 16:00+00','sent',     'o5','2026-01-30 16:00+00'),
  ('p1','B','sms',   'day17', '2026-01-20 16:00+00','failed',   'o6',NULL),
  ('p1','A','charge','autopay','2026-01-14 16:00+00','sent',    'o7','2026-01-14 16:00+00'),
  ('p1','D','email', 'day3',  '2026-02-05 16:00+00','queued',   'o8',NULL);
-- C's e-mail goes out in two steps (queued, then sent by an UPDATE):
-- 04:00 UTC on 01-18 is 22:00 CST on Saturday 01-17
INSERT INTO collect.outbox (practice_id, patient_id, channel, step, send_after, status, idempotency_key) VALUES
  ('p1','C','email','day3','2026-01-18 04:00+00','queued','o4');
UPDATE collect.outbox SET status = 'sending' WHERE idempotency_key = 'o4';
UPDATE collect.outbox SET status = 'sent', sent_at = '2026-01-18 04:00+00' WHERE idempotency_key = 'o4';
UPDATE collect.outbox SET status = 'sent', sent_at = '2026-02-05 16:00+00' WHERE idempotency_key = 'o8';
-- a later delivery receipt is not a second contact
UPDATE collect.outbox SET status = 'delivered' WHERE idempotency_key = 'o3';
INSERT INTO collect.contact_attempt (practice_id, patient_id, channel, at, outcome) VALUES
  ('p1','B','sms','2026-01-10 16:00+00','replied');

-- events
INSERT INTO collect.event (practice_id, patient_id, kind, at) VALUES
  ('p1','B','complaint',        '2026-01-16 18:00+00'),
  ('p1','D','complaint',        '2026-03-05 16:00+00'),
  ('p1','C','dispute_opened',   '2026-01-20 16:00+00'),
  ('p1','C','dispute_resolved', '2026-02-03 16:00+00'),
  ('p1','E','dispute_opened',   '2026-02-01 16:00+00'),
  ('p1','E','dispute_resolved', '2026-02-05 16:00+00'),
  ('p1','G','placed_with_agency','2026-03-25 16:00+00');

-- D's plan: 4 x 100.00 on the 15th; the first paid early, the second late
INSERT INTO collect.plan (plan_id, practice_id, patient_id, total, installments, status, created_at)
VALUES (1, 'p1', 'D', 400.00, 4, 'active', '2026-02-05 16:00+00');
INSERT INTO collect.installment (practice_id, plan_id, seq, due_date, amount, status, paid_at) VALUES
  ('p1', 1, 1, '2026-02-15', 100.00, 'paid', '2026-02-14 16:00+00'),
  ('p1', 1, 2, '2026-03-15', 100.00, 'paid', '2026-03-17 16:00+00'),
  ('p1', 1, 3, '2026-04-15', 100.00, 'due', NULL),
  ('p1', 1, 4, '2026-05-15', 100.00, 'due', NULL);

-- A's plan: pending (not counted), approved (due 03-18, week 03-16: 0 of 1),
-- paid on time (1 of 1), then cancelled (no longer counted).
INSERT INTO collect.plan (plan_id, practice_id, patient_id, total, installments, status, created_at)
VALUES (2, 'p1', 'A', 40.00, 1, 'pending_approval', '2026-03-10 16:00+00');
INSERT INTO collect.installment (practice_id, plan_id, seq, due_date, amount) VALUES ('p1', 2, 1, '2026-03-18', 40.00);
SELECT promise_kept_rate FROM collect.kpi_scorecard WHERE practice_id = 'p1' AND week = '2026-03-16';
UPDATE collect.plan SET status = 'active' WHERE plan_id = 2;
SELECT promise_kept_rate FROM collect.kpi_scorecard WHERE practice_id = 'p1' AND week = '2026-03-16';
UPDATE collect.installment SET status = 'paid', paid_at = '2026-03-18 16:00+00' WHERE plan_id = 2;
SELECT promise_kept_rate FROM collect.kpi_scorecard WHERE practice_id = 'p1' AND week = '2026-03-16';
UPDATE collect.plan SET status = 'cancelled' WHERE plan_id = 2;
SELECT promise_kept_rate FROM collect.kpi_scorecard WHERE practice_id = 'p1' AND week = '2026-03-16';

-- Expected, by hand. Weekly ledger (week = Monday):
--  week   charges  net pay  other          net change  A/R end  chg 90d  net pay 90d  chg to date  pay to date
--  01-05   300       0                        +300        300      300       0          300            0
--  01-12   300     100                        +200        500      600     100          600          100
--  01-19     0     -50 (B 50, A rev -100)      +50        550      600      50          600           50
--  01-26    50     100                         -50        500      650     150          650          150
--  02-02   400       0    adj 50              +350        850     1050     150         1050          150
--  02-09     0     100                        -100        750     1050     250         1050          250
--  02-16     0     300                        -300        450     1050     550         1050          550
--  02-23     0       0                           0        450     1050     550         1050          550
--  03-02    80     100    w/o 150             -170        280     1130     650         1130          650
--  03-09    60       0    refund 20            +80        360     1190     650         1190          650
--  03-16     0     100                        -100        260     1190     750         1190          750
--  03-23     0       0                           0        260     1190     750         1190          750
--  03-30    40       0                         +40        300     1130*    750         1230          750
--  * 90 days ending Sunday 04-05 start on 01-06: A's 100.00 of 01-05 drops out.
-- days_in_ar = A/R end * 90 / chg 90d; collection_rate_90d = net pay 90d / chg 90d;
-- patient_pay_yield = pay to date / chg to date.
--  e.g. 01-26: 500*90/650 = 69.2307 -> 69.23; 150/650 = 0.230769 -> 0.2308
--       03-02: 280*90/1130 = 22.3008 -> 22.30; 650/1130 = 0.575221 -> 0.5752
--       03-09: 360*90/1190 = 27.2268 -> 27.23; 650/1190 = 0.546218 -> 0.5462
--       03-16: 260*90/1190 = 19.6638 -> 19.66; 750/1190 = 0.630252 -> 0.6303
--       03-30: 300*90/1130 = 23.8938 -> 23.89; 750/1130 = 0.663717 -> 0.6637; 750/1230 = 0.609756 -> 0.6098
-- Resolutions (balance > 0 -> <= 0): A 01-14, A 01-28, E 02-06, F 03-04 (no task);
--  C 02-20 and B 03-03 (tasks created 01-20 and 02-10) -> no_touch 1,1,1,0,(1 of 2) = 0.5.
-- First contacts after a charge, on the charge's week: A 3.00 d, B 3.00 d (01-05);
--  C 01-13 16:00 -> 01-18 04:00 = 4.50 d (01-12); E 4.00 d (01-26); D 3.00 d (02-02).
--  B's letter has no new charge since B's sms; F, G and A's 04-01 charge have no contact.
-- Contacts per week: 01-05: 2; 01-12: 2 (B letter, C e-mail on local 01-17); 01-26: 1; 02-02: 1.
--  Complaints: 01-12: 1 -> 1000*1/2 = 500.00; 03-02: 1 with no contacts -> NULL.
-- Disputes resolved in week 02-02: C 14 d, E 4 d -> median 9.00, p90 4 + 0.9*10 = 13.00.
-- Placement 03-25 (week 03-23): G owes 60.00; A/R 260.00 -> 0.2308.
-- Installments: due 02-15 paid 02-14 -> week 02-09 kept 1/1; due 03-15 paid 03-17 -> week 03-09 0/1.
CREATE TEMP TABLE expected (week date, days_to_first_contact numeric, patient_pay_yield numeric,
  promise_kept_rate numeric, dispute_resolution_days numeric, complaints_per_1000 numeric,
  placed_pct numeric, days_in_ar numeric, collection_rate_90d numeric, write_offs numeric,
  no_touch_share numeric, dispute_resolution_days_p90 numeric);
INSERT INTO expected VALUES
 ('2026-01-05', 3.00, 0.0000, NULL,   NULL, 0.00,   0.0000, 90.00, 0.0000,   0.00, NULL,   NULL),
 ('2026-01-12', 4.50, 0.1667, NULL,   NULL, 500.00, 0.0000, 75.00, 0.1667,   0.00, 1.0000, NULL),
 ('2026-01-19', NULL, 0.0833, NULL,   NULL, NULL,   0.0000, 82.50, 0.0833,   0.00, NULL,   NULL),
 ('2026-01-26', 4.00, 0.2308, NULL,   NULL, 0.00,   0.0000, 69.23, 0.2308,   0.00, 1.0000, NULL),
 ('2026-02-02', 3.00, 0.1429, NULL,   9.00, 0.00,   0.0000, 72.86, 0.1429,   0.00, 1.0000, 13.00),
 ('2026-02-09', NULL, 0.2381, 1.0000, NULL, NULL,   0.0000, 64.29, 0.2381,   0.00, NULL,   NULL),
 ('2026-02-16', NULL, 0.5238, NULL,   NULL, NULL,   0.0000, 38.57, 0.5238,   0.00, 0.0000, NULL),
 ('2026-02-23', NULL, 0.5238, NULL,   NULL, NULL,   0.0000, 38.57, 0.5238,   0.00, NULL,   NULL),
 ('2026-03-02', NULL, 0.5752, NULL,   NULL, NULL,   0.0000, 22.30, 0.5752, 150.00, 0.5000, NULL),
 ('2026-03-09', NULL, 0.5462, 0.0000, NULL, NULL,   0.0000, 27.23, 0.5462,   0.00, NULL,   NULL),
 ('2026-03-16', NULL, 0.6303, NULL,   NULL, NULL,   0.0000, 19.66, 0.6303,   0.00, NULL,   NULL),
 ('2026-03-23', NULL, 0.6303, NULL,   NULL, NULL,   0.2308, 19.66, 0.6303,   0.00, NULL,   NULL),
 ('2026-03-30', NULL, 0.6098, NULL,   NULL, NULL,   0.0000, 23.89, 0.6637,   0.00, NULL,   NULL);

SELECT * FROM collect.kpi_scorecard WHERE practice_id = 'p1' ORDER BY week;

-- exact match both ways (no rows = pass)
(SELECT week, days_to_first_contact, patient_pay_yield, promise_kept_rate, dispute_resolution_days,
        complaints_per_1000, placed_pct, days_in_ar, collection_rate_90d, write_offs, no_touch_share,
        dispute_resolution_days_p90
   FROM collect.kpi_scorecard WHERE practice_id = 'p1'
 EXCEPT SELECT * FROM expected)
UNION ALL
(SELECT * FROM expected
 EXCEPT SELECT week, days_to_first_contact, patient_pay_yield, promise_kept_rate, dispute_resolution_days,
        complaints_per_1000, placed_pct, days_in_ar, collection_rate_90d, write_offs, no_touch_share,
        dispute_resolution_days_p90
   FROM collect.kpi_scorecard WHERE practice_id = 'p1');

-- the rollups agree with the ledger they summarize
SELECT (SELECT sum(CASE WHEN kind IN ('charge','refund','reversal') THEN amount ELSE -amount END)
          FROM collect.ledger WHERE practice_id = 'p1') AS ledger_ar,
       (SELECT sum(balance) FROM collect.account WHERE practice_id = 'p1') AS account_ar,
       (SELECT sum(charges + refunds + reversals - payments - adjustments - write_offs)
          FROM collect.kpi_daily WHERE practice_id = 'p1') AS rollup_ar;
-- p2 is its own practice: one week row per ISO week it posted in, 1500 x 10.00 charged
SELECT count(*) AS weeks, min(week), max(week), sum(write_offs) FROM collect.kpi_scorecard WHERE practice_id = 'p2';
SELECT sum(charges) FROM collect.kpi_daily WHERE practice_id = 'p2';

-- Recovery by segment (the account's segment before each posting; all of
-- p1's accounts were 'fresh' when paid, A was 'settled' when its payment
-- bounced). Jan: fresh 100+50+100 = 250 of 250; settled -100 of -100.
-- Feb: fresh 100+300 = 400 of 400+50 (E's adjustment) = 0.8889.
-- Mar: fresh 100+100 = 200 of 200+150 (B's write-off) = 0.5714. F's refund
-- (segment credit) is no recovery and no reduction: no row.
SELECT month, segment, recovered, reduced, recovery_rate
  FROM collect.kpi_recovery_by_segment WHERE practice_id = 'p1' ORDER BY month, segment;

-- Channel effectiveness: sms day3 A, B (delivered), E (sent): B replied
-- within 7 days, A paid within 6 days; B's letter of 01-16 was followed by
-- B's payment on 01-20; the e-mails of C and D were not (paid after 33 and
-- 9 days); the failed sms counts only as failed; the autopay charge is not
-- outreach.
SELECT channel, step, sent, delivered, failed, replied, paid_7d
  FROM collect.kpi_channel_effectiveness WHERE practice_id = 'p1' ORDER BY channel, step;

-- A third practice with dates relative to now() so that aging buckets and
-- queues are exercised (the outcome does not depend on the day it runs).
INSERT INTO collect.practice (practice_id, timezone) VALUES ('p3', 'UTC');
INSERT INTO collect.patient (practice_id, patient_id) VALUES ('p3','X'), ('p3','Y'), ('p3','W'), ('p3','V');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES
  ('p3','X','x1','charge', 25.00, now() - interval '3 days'),
  ('p3','Y','y1','charge', 70.00, now() - interval '45 days'),
  ('p3','V','v1','charge', 90.00, now() - interval '100 days'),
  ('p3','W','w1','charge',100.00, now() - interval '200 days');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES
  ('p3','W','w2','payment',150.00, now() - interval '10 days');
INSERT INTO collect.task (practice_id, patient_id, kind, summary, due_at, status, created_at) VALUES
  ('p3','X','call','new balance call', now() + interval '1 day', 'open', now() - interval '1 day'),
  ('p3','W','refund','refund credit', now() - interval '5 days', 'open', now() - interval '10 days'),
  ('p3','Y','address_check','returned mail', now() + interval '2 days', 'open', now() - interval '40 days'),
  ('p3','Y','plan_approval','approve plan', now() + interval '30 days', 'open', now()),
  ('p3','V','call','old call', now() - interval '1 day', 'done', now() - interval '3 days');

-- Aging as of today: p1's three open balances (A 40, D 200, G 60) are all
-- older than 120 days; p3: X 3 days, Y 45 days, V 100 days; W's credit is
-- not counted.
SELECT practice_id, bucket, accounts, balance FROM collect.ar_aging
 WHERE practice_id IN ('p1', 'p3') ORDER BY practice_id, accounts DESC, bucket;

-- Staff queues: X's call is a new balance (due 3 days ago); W's overdue
-- refund is a follow-up due this week; Y's returned mail is a return; Y's
-- plan approval is due in 30 days (later); V's done task is not listed.
-- p1: B's call of 02-10 is an overdue follow-up.
SELECT practice_id, queue, kind, age, tasks, overdue FROM collect.staff_queue
 WHERE practice_id IN ('p1', 'p3') ORDER BY practice_id, queue, kind;

-- Analysts read the five views and nothing else; no view has a column for
-- a name, phone or e-mail.
SELECT count(*) AS personal_columns FROM information_schema.columns
 WHERE table_schema = 'collect'
   AND table_name IN ('kpi_scorecard','kpi_recovery_by_segment','ar_aging','kpi_channel_effectiveness','staff_queue')
   AND (column_name ~ '(name|phone|email|address)');
SET ROLE collect_analyst;
SELECT (SELECT count(*) FROM collect.kpi_scorecard) > 0 AS scorecard,
       (SELECT count(*) FROM collect.kpi_recovery_by_segment) > 0 AS recovery,
       (SELECT count(*) FROM collect.ar_aging) = 15 AS aging,
       (SELECT count(*) FROM collect.kpi_channel_effectiveness) > 0 AS channels,
       (SELECT count(*) FROM collect.staff_queue) > 0 AS queue;
SELECT count(*) FROM collect.patient;
SELECT count(*) FROM collect.kpi_daily;
RESET ROLE;
