-- Property test: 10,000 random balances under 40 random policies (tiers,
-- day of month, reminder lead, time zone) through collect.quote_plan, with
-- a random explicit count for some and a random as_of. Every quote must
-- sum to the balance to the cent and respect every rule; each check below
-- counts the violations (all must be 0). Seeded: the same cases every run.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SELECT setseed(0.20261123);

-- 40 practices with random policies
CREATE TEMP TABLE pol AS
SELECT i AS k, 'pp' || i AS practice_id,
       (ARRAY['America/New_York', 'America/Los_Angeles', 'Pacific/Auckland', 'Asia/Kolkata', 'Europe/London',
              'UTC', 'Australia/Lord_Howe', 'America/St_Johns'])[1 + floor(random() * 8)::int] AS tz,
       1 + floor(random() * 28)::int AS dom,
       floor(random() * 15)::int AS lead,
       1 + floor(random() * 4)::int AS n_tiers
  FROM generate_series(1, 40) i;
CREATE TEMP TABLE tier AS
SELECT p.k, t AS i,
       CASE WHEN t < p.n_tiers THEN sum(round((50 + random() * 950)::numeric, 2)) OVER (PARTITION BY p.k ORDER BY t) END AS under,
       1 + floor(random() * 24)::int AS count
  FROM pol p, generate_series(1, 4) t WHERE t <= p.n_tiers;
INSERT INTO collect.practice (practice_id, name, timezone, policy)
SELECT p.practice_id, 'Practice ' || p.k, p.tz,
       jsonb_build_object('plan_day_of_month', p.dom, 'plan_reminder_days_before', p.lead,
                          'plan_installments', (SELECT jsonb_agg(CASE WHEN t.under IS NULL THEN jsonb_build_object('count', t.count)
                                                                      ELSE jsonb_build_object('under', t.under, 'count', t.count) END
                                                                 ORDER BY t.i) FROM tier t WHERE t.k = p.k))
  FROM pol p;

-- 10,000 balances: a third near a tier boundary (-1, 0, +1 cent), the rest spread from $0.01 to $5,000
CREATE TEMP TABLE cases AS
SELECT c, 'pp' || (1 + floor(random() * 40)::int) AS practice_id, 'q' || c AS patient_id,
       random() AS r1, random() AS r2, random() AS r3, random() AS r4
  FROM generate_series(1, 10000) c;
ALTER TABLE cases ADD COLUMN balance numeric, ADD COLUMN n_given int, ADD COLUMN as_of timestamptz;
UPDATE cases s SET
  balance = CASE WHEN s.r1 < 0.33 AND b.under IS NOT NULL THEN greatest(0.01, b.under + (floor(s.r2 * 3) - 1) / 100.0)
                 WHEN s.r1 < 0.40 THEN round((1 + s.r2 * 99)::numeric) / 100.0   -- a few cents: fewer cents than installments
                 ELSE round((1 + s.r2 * 499999)::numeric) / 100.0 END,
  n_given = CASE WHEN s.r3 < 0.3 THEN 1 + floor(s.r4 * 60)::int END,
  as_of = timestamptz '2024-01-01 00:00Z' + (s.r4 * 1600) * interval '1 day'
  FROM (SELECT DISTINCT ON (s2.c) s2.c, t.under FROM cases s2 JOIN pol p ON p.practice_id = s2.practice_id
          LEFT JOIN tier t ON t.k = p.k AND t.under IS NOT NULL
         ORDER BY s2.c, random()) b
 WHERE b.c = s.c;
INSERT INTO collect.patient (practice_id, patient_id) SELECT practice_id, patient_id FROM cases;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT practice_id, patient_id, 'x' || c, 'charge', balance, '2023-12-01 00:00Z' FROM cases;
SELECT count(*) AS cases, count(*) FILTER (WHERE n_given IS NOT NULL) AS explicit_counts,
       count(DISTINCT practice_id) AS practices, min(balance) AS smallest, max(balance) AS largest FROM cases;

-- the quotes
CREATE TEMP TABLE q AS
SELECT s.c, x.seq, x.due_date, x.amount
  FROM cases s, collect.quote_plan(s.practice_id, s.patient_id, s.n_given, s.as_of) x;

CREATE INDEX ON q (c, seq);
ANALYZE q;

-- what the rules say for each case
CREATE TEMP TABLE want AS
SELECT s.c, s.balance,
       least((s.balance * 100)::int,
             coalesce(s.n_given, (SELECT t.count FROM tier t WHERE t.k = p.k AND (t.under IS NULL OR s.balance < t.under)
                                   ORDER BY t.i LIMIT 1))) AS n,
       p.dom,
       ((s.as_of AT TIME ZONE p.tz)::date + p.lead + 1) AS earliest
  FROM cases s JOIN pol p ON p.practice_id = s.practice_id;
ALTER TABLE want ADD COLUMN first_due date;
UPDATE want SET first_due = CASE WHEN extract(day FROM earliest) <= dom
                                 THEN make_date(extract(year FROM earliest)::int, extract(month FROM earliest)::int, dom)
                                 ELSE (make_date(extract(year FROM earliest)::int, extract(month FROM earliest)::int, dom)
                                       + interval '1 month')::date END;

CREATE TEMP TABLE per_case AS SELECT c, sum(amount) AS total, count(*) AS n FROM q GROUP BY c;
SELECT
  (SELECT count(*) FROM want w LEFT JOIN per_case p USING (c) WHERE p.total IS DISTINCT FROM w.balance) AS sum_not_exact,
  (SELECT count(*) FROM want w LEFT JOIN per_case p USING (c) WHERE p.n IS DISTINCT FROM w.n) AS wrong_count,
  (SELECT count(*) FROM q WHERE amount <= 0 OR amount <> round(amount, 2)) AS bad_amounts,
  (SELECT count(*) FROM (SELECT c FROM q GROUP BY c HAVING max(amount) - min(amount) > 0.01) d) AS uneven_split,
  (SELECT count(*) FROM q a JOIN q b ON a.c = b.c AND b.seq = a.seq + 1 WHERE b.amount > a.amount) AS remainder_not_first,
  (SELECT count(*) FROM (SELECT c FROM q GROUP BY c HAVING min(seq) <> 1 OR max(seq) <> count(*)) d) AS bad_seq,
  (SELECT count(*) FROM q JOIN want w USING (c) WHERE q.due_date <> (w.first_due + (q.seq - 1) * interval '1 month')::date) AS wrong_due_date,
  (SELECT count(*) FROM q JOIN want w USING (c) WHERE extract(day FROM q.due_date) <> w.dom) AS off_plan_day,
  (SELECT count(*) FROM q JOIN want w USING (c) WHERE q.seq = 1 AND q.due_date < w.earliest) AS too_soon_for_reminder,
  (SELECT count(*) FROM (SELECT c FROM q GROUP BY c HAVING count(*) > 60) d) AS over_60;
-- the spread of what was tested
SELECT count(DISTINCT c) AS quoted, count(*) AS installments, max(seq) AS most_installments,
       count(DISTINCT extract(day FROM due_date)) AS distinct_plan_days FROM q;
SELECT count(*) AS plans_written FROM collect.plan;
