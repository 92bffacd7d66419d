-- The ledger trigger keeps collect.account exact: balance is the signed sum
-- of the ledger, due_since the posting date (practice-local) of the oldest
-- charge not yet covered first-in-first-out, aging from posted_at.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;

INSERT INTO collect.practice VALUES ('p1', 'Smile Dental', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name)
SELECT 'p1', 'pt' || i, 'P' || i FROM generate_series(1, 8) i;

-- reference: the same facts recomputed from the ledger in plain SQL
CREATE FUNCTION pg_temp.reference() RETURNS TABLE (patient_id text, balance numeric, due_since date)
LANGUAGE sql AS $$
  WITH signed AS (
    SELECT l.patient_id, l.kind, l.amount, l.posted_at, l.entry_id,
           CASE WHEN l.kind IN ('charge','refund','reversal') THEN l.amount ELSE -l.amount END AS delta
      FROM collect.ledger l WHERE l.practice_id = 'p1'),
  totals AS (
    SELECT s.patient_id, sum(s.delta) AS balance,
           sum(s.amount) FILTER (WHERE s.kind = 'charge') AS charges
      FROM signed s GROUP BY s.patient_id),
  charges AS (
    SELECT s.patient_id, s.posted_at,
           sum(s.amount) OVER (PARTITION BY s.patient_id ORDER BY s.posted_at, s.entry_id) AS running
      FROM signed s WHERE s.kind = 'charge')
  SELECT t.patient_id, t.balance,
         CASE WHEN t.balance > 0 THEN coalesce(
           (SELECT min(c.posted_at AT TIME ZONE 'America/Chicago')::date FROM charges c
             WHERE c.patient_id = t.patient_id AND c.running > coalesce(t.charges, 0) - t.balance),
           -- owed through refunds/reversals alone: due from the last posting
           (SELECT max(s.posted_at AT TIME ZONE 'America/Chicago')::date FROM signed s
             WHERE s.patient_id = t.patient_id))
         END
    FROM totals t
$$;
CREATE FUNCTION pg_temp.exact() RETURNS boolean LANGUAGE sql AS $$
  SELECT NOT EXISTS (
    SELECT r.patient_id, r.balance, r.due_since FROM pg_temp.reference() r
    EXCEPT SELECT a.patient_id, a.balance, a.due_since FROM collect.account a WHERE a.practice_id = 'p1')
$$;

-- one charge: due from its local posting date (00:30 UTC is the evening before in Chicago)
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pt1', 'c1', 'charge', 100.00, '2026-01-10 00:30+00');
SELECT balance, due_since, days_past_due, aging_bucket, segment, state, next_action_at
  FROM collect.account WHERE patient_id = 'pt1';

-- a second, newer charge leaves due_since on the first one
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pt1', 'c2', 'charge', 50.00, '2026-02-20 15:00+00');
SELECT balance, due_since, days_past_due, aging_bucket FROM collect.account WHERE patient_id = 'pt1';

-- a payment that covers the first charge moves due_since to the second (FIFO)
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pt1', 'p1', 'payment', 100.00, '2026-02-21 15:00+00');
SELECT balance, due_since, days_past_due, last_payment_amount, state FROM collect.account WHERE patient_id = 'pt1';

-- a partial payment does not move it
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pt1', 'p2', 'payment', 49.99, '2026-02-22 15:00+00');
SELECT balance, due_since FROM collect.account WHERE patient_id = 'pt1';

-- the payment bounces: a reversal re-opens the oldest charge it had paid
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pt1', 'r1', 'reversal', 100.00, '2026-03-01 15:00+00');
SELECT balance, due_since, days_past_due, aging_bucket FROM collect.account WHERE patient_id = 'pt1';

-- a backdated charge (older than due_since) becomes the oldest unpaid
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pt1', 'c0', 'charge', 10.00, '2025-12-01 15:00+00');
SELECT balance, due_since, aging_bucket FROM collect.account WHERE patient_id = 'pt1';

-- paying everything closes the account, cancels queued messages and completes the plan
INSERT INTO collect.outbox (practice_id, patient_id, channel, step, send_after, idempotency_key)
VALUES ('p1', 'pt1', 'sms', 'day3', '2026-03-05 15:00+00', 'k1'),
       ('p1', 'pt1', 'email', 'day18', '2026-03-06 15:00+00', 'k2');
INSERT INTO collect.plan (practice_id, patient_id, total, installments, status)
VALUES ('p1', 'pt1', 160.01, 2, 'active');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pt1', 'p3', 'payment', 110.01, '2026-03-02 15:00+00');
SELECT balance, due_since, segment, state, next_action_at FROM collect.account WHERE patient_id = 'pt1';
SELECT status, count(*) FROM collect.outbox WHERE patient_id = 'pt1' GROUP BY status;
SELECT status FROM collect.plan WHERE patient_id = 'pt1';

-- overpaying leaves a credit; a refund brings it back to zero
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pt2', 'c3', 'charge', 80.00, '2026-01-02 15:00+00'),
       ('p1', 'pt2', 'p4', 'payment', 100.00, '2026-01-03 15:00+00');
SELECT balance, due_since, segment, state FROM collect.account WHERE patient_id = 'pt2';
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pt2', 'f1', 'refund', 20.00, '2026-01-10 15:00+00');
SELECT balance, due_since, segment, state FROM collect.account WHERE patient_id = 'pt2';

-- a credit absorbs part of a new charge: due from that charge
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pt3', 'p5', 'payment', 30.00, '2026-01-02 15:00+00'),
       ('p1', 'pt3', 'c4', 'charge', 45.00, '2026-01-05 15:00+00');
SELECT balance, due_since, state FROM collect.account WHERE patient_id = 'pt3';

-- adjustments and write-offs lower the balance like payments
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pt4', 'c5', 'charge', 300.00, '2025-09-01 15:00+00'),
       ('p1', 'pt4', 'a1', 'adjustment', 50.00, '2026-01-01 15:00+00'),
       ('p1', 'pt4', 'w1', 'write_off', 25.00, '2026-01-02 15:00+00');
SELECT balance, due_since, days_past_due, aging_bucket, segment FROM collect.account WHERE patient_id = 'pt4';

INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT 'p1', 'pt5', 'age-' || d, 'charge', 1.00, '2026-06-01 15:00+00'::timestamptz - make_interval(days => d)
  FROM (VALUES (121), (120), (91), (90), (61), (60), (31), (30)) v(d);
SELECT balance, due_since, days_past_due, aging_bucket FROM collect.account WHERE patient_id = 'pt5';
SELECT d, collect.aging_bucket(d) FROM unnest(ARRAY[0, 30, 31, 60, 61, 90, 91, 120, 121]) d;

-- one COPY with many patients and kinds: every account equals the reference
COPY collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) FROM stdin;
p1	pt6	k-1	charge	10.00	2026-01-01 10:00+00
p1	pt6	k-2	charge	20.00	2026-01-02 10:00+00
p1	pt7	k-3	charge	30.00	2026-01-03 10:00+00
p1	pt6	k-4	payment	15.00	2026-01-04 10:00+00
p1	pt7	k-5	payment	30.00	2026-01-05 10:00+00
p1	pt8	k-6	refund	5.00	2026-01-06 10:00+00
p1	pt7	k-7	reversal	30.00	2026-01-07 10:00+00
p1	pt6	k-8	charge	5.00	2025-12-31 10:00+00
\.
SELECT patient_id, balance, due_since, state FROM collect.account WHERE patient_id IN ('pt6', 'pt7', 'pt8') ORDER BY 1;
SELECT pg_temp.exact() AS every_account_matches_the_ledger;
SELECT count(*) AS accounts, sum(balance) = (SELECT sum(balance) FROM pg_temp.reference()) AS totals_match
  FROM collect.account;

-- charges posted out of order but after the oldest unpaid one leave its
-- span alone (no ledger read); payments inside it and past it, one
-- statement at a time and in a COPY
INSERT INTO collect.patient (practice_id, patient_id) VALUES ('p1', 'bd1'), ('p1', 'bd2');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'bd1', 'bd-1', 'charge', 40.00, '2026-01-05 15:00+00'),
       ('p1', 'bd1', 'bd-2', 'charge', 60.00, '2026-01-20 15:00+00'),
       ('p1', 'bd1', 'bd-3', 'charge', 80.00, '2026-03-01 15:00+00'),
       ('p1', 'bd2', 'bd-4', 'charge', 25.00, '2026-02-01 15:00+00');
-- one statement each: a charge back-dated after the oldest unpaid (Jan 5),
-- a payment inside its span; then a back-dated charge with a payment past it
CREATE FUNCTION pg_temp.post_bd1(rows text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)'
       || ' SELECT ''p1'', ''bd1'', e, k, a, t::timestamptz FROM (VALUES ' || rows || ') v(e, k, a, t)';
END $$;
SELECT pg_temp.post_bd1($$('bd-5', 'charge', 30.00, '2026-02-10 15:00+00')$$);
SELECT pg_temp.post_bd1($$('bd-6', 'payment', 10.00, '2026-03-02 15:00+00')$$);
SELECT balance, due_since, fifo_from, fifo_to FROM collect.account WHERE patient_id = 'bd1';
SELECT pg_temp.post_bd1($$('bd-7', 'charge', 5.00, '2026-01-10 15:00+00'), ('bd-8', 'payment', 45.00, '2026-03-03 15:00+00')$$);
SELECT balance, due_since, fifo_from, fifo_to FROM collect.account WHERE patient_id = 'bd1';
COPY collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) FROM stdin;
p1	bd2	bd-9	payment	25.00	2026-02-02 15:00+00
p1	bd1	bd-10	charge	10.00	2026-01-06 15:00+00
p1	bd1	bd-11	charge	15.00	2026-02-20 15:00+00
\.
SELECT patient_id, balance, due_since, fifo_from, fifo_to FROM collect.account WHERE patient_id LIKE 'bd%' ORDER BY 1;
SELECT pg_temp.exact() AS every_account_matches_the_ledger;

-- a practice's new time zone counts from the next posting (the zone is
-- cached per backend; the practice write invalidates it): 03:00 UTC is the
-- day before in Chicago and the same day in Tokyo
INSERT INTO collect.patient (practice_id, patient_id) VALUES ('p1', 'tz1'), ('p1', 'tz2');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'tz1', 'tz-1', 'charge', 10.00, '2026-03-02 03:00+00');
UPDATE collect.practice SET timezone = 'Asia/Tokyo' WHERE practice_id = 'p1';
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'tz2', 'tz-2', 'charge', 10.00, '2026-03-02 03:00+00');
SELECT patient_id, due_since FROM collect.account WHERE patient_id IN ('tz1', 'tz2') ORDER BY 1;
-- and in a transaction that rolls back, the old zone comes back
BEGIN;
UPDATE collect.practice SET timezone = 'America/Chicago' WHERE practice_id = 'p1';
ROLLBACK;
INSERT INTO collect.patient (practice_id, patient_id) VALUES ('p1', 'tz3');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'tz3', 'tz-3', 'charge', 10.00, '2026-03-02 03:00+00');
SELECT patient_id, due_since FROM collect.account WHERE patient_id = 'tz3';
UPDATE collect.practice SET timezone = 'America/Chicago' WHERE practice_id = 'p1';
