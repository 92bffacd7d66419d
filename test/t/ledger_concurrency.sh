#!/usr/bin/env bash
# 8 pgbench clients post charges, payments, adjustments, refunds and
# reversals (single rows and 3-row statements over random patients, with
# back-dated postings) to the same 20 patients for 30 s. Afterwards every
# account must equal its ledger (balance and FIFO due_since recomputed in
# plain SQL) and the server log must show no deadlock.
source "$(dirname "$0")/../lib.sh"
DB=t_ledger_concurrency
SECONDS_TO_RUN=${CONCURRENCY_SECONDS:-30}
dropdb --if-exists "$DB"; createdb "$DB"
trap 'dropdb --if-exists "$DB"' EXIT
LOG=$PGHOST/server.log
deadlocks_before=$(grep -c 'deadlock detected' "$LOG" || true)

psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION collect;
INSERT INTO collect.practice VALUES ('c1', 'Concurrency Clinic', 'America/Denver');
INSERT INTO collect.patient (practice_id, patient_id) SELECT 'c1', 'pt' || i FROM generate_series(1, 20) i;
SQL

W=$(scratch_dir)
cat > "$W/one.sql" <<'SQL'
\set p random(1, 20)
\set k random(1, 20)
\set cents random(1, 20000)
\set back random(0, 90)
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('c1', 'pt' || :p, gen_random_uuid()::text,
        CASE WHEN :k <= 11 THEN 'charge' WHEN :k <= 17 THEN 'payment' WHEN :k = 18 THEN 'adjustment'
             WHEN :k = 19 THEN 'reversal' ELSE 'refund' END,
        :cents / 100.0, now() - make_interval(days => :back));
SQL
cat > "$W/three.sql" <<'SQL'
\set a random(1, 20)
\set b random(1, 20)
\set c random(1, 20)
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('c1', 'pt' || :a, gen_random_uuid()::text, 'charge', 25.00, now() - interval '3 days'),
       ('c1', 'pt' || :b, gen_random_uuid()::text, 'payment', 10.00, now()),
       ('c1', 'pt' || :c, gen_random_uuid()::text, 'charge', 5.50, now() - interval '40 days');
SQL
pgbench -n -c 8 -j 2 -T "$SECONDS_TO_RUN" -f "$W/one.sql@4" -f "$W/three.sql@1" "$DB" > "$W/pgbench.out" 2>&1 || { cat "$W/pgbench.out"; exit 1; }
grep -E 'number of transactions actually processed|number of failed|tps' "$W/pgbench.out" | sed 's/^/METRIC /'

mismatches=$(psql -X -qAt -d "$DB" <<'SQL'
WITH signed AS (
  SELECT patient_id, kind, amount, posted_at, entry_id,
         CASE WHEN kind IN ('charge','refund','reversal') THEN amount ELSE -amount END AS delta
    FROM collect.ledger WHERE practice_id = 'c1'),
totals AS (
  SELECT patient_id, sum(delta) AS balance, coalesce(sum(amount) FILTER (WHERE kind = 'charge'), 0) AS charges,
         max(posted_at) AS last_posted
    FROM signed GROUP BY patient_id),
charges AS (
  SELECT patient_id, posted_at, sum(amount) OVER (PARTITION BY patient_id ORDER BY posted_at, entry_id) AS running
    FROM signed WHERE kind = 'charge'),
reference AS (
  SELECT t.patient_id, t.balance,
         CASE WHEN t.balance > 0 THEN coalesce(
           (SELECT min(c.posted_at AT TIME ZONE 'America/Denver')::date FROM charges c
             WHERE c.patient_id = t.patient_id AND c.running > t.charges - t.balance),
           (t.last_posted AT TIME ZONE 'America/Denver')::date) END AS due_since
    FROM totals t)
SELECT count(*) FROM (
  (SELECT * FROM reference EXCEPT SELECT patient_id, balance, due_since FROM collect.account WHERE practice_id = 'c1')
  UNION ALL
  (SELECT patient_id, balance, due_since FROM collect.account WHERE practice_id = 'c1' EXCEPT SELECT * FROM reference)) m;
SQL
)
rows=$(psql -X -qAt -d "$DB" -c "SELECT count(*) FROM collect.ledger")
deadlocks_after=$(grep -c 'deadlock detected' "$LOG" || true)
echo "RESULT ledger rows=$rows accounts_mismatching=$mismatches deadlocks=$((deadlocks_after - deadlocks_before))"
rm -rf "$W"
[ "$mismatches" = 0 ] && [ "$deadlocks_after" = "$deadlocks_before" ] && [ "$rows" -gt 1000 ]
