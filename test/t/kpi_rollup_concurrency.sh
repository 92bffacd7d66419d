#!/usr/bin/env bash
# The ledger KPI rollup under concurrent writers: 4 pgbench clients post
# single rows and 40-row batches for one practice at once; afterwards the
# rollup must equal the ledger day by day (practice-local days), no
# statement may fail (deadlock, unique violation on a rollup row), and the
# writers must have used more than one rollup slot.
source "$(dirname "$0")/../lib.sh"
DB=kpi_conc_$$
createdb "$DB"
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true' EXIT
q() { psql -X -v ON_ERROR_STOP=1 -qAt -d "$DB" "$@"; }
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION collect CASCADE" >/dev/null
q -c "INSERT INTO collect.practice (practice_id, timezone) VALUES ('c1', 'America/Denver')"
q -c "INSERT INTO collect.patient (practice_id, patient_id) SELECT 'c1', 'pt' || g FROM generate_series(1, 200) g"

W=$(scratch_dir); trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
cat > "$W/one.sql" <<'SQL'
\set p random(1, 200)
\set h random(0, 720)
\set k random(0, 2)
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('c1', 'pt' || :p, 'o' || :client_id || '-' || :h || '-' || random(), (ARRAY['charge','payment','adjustment'])[:k + 1],
        10 + :p, timestamptz '2026-02-01 00:00+00' + :h * interval '1 hour');
SQL
cat > "$W/batch.sql" <<'SQL'
\set s random(1, 1000000000)
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT 'c1', 'pt' || (1 + (:s + g * 7) % 200), 'b' || :client_id || '-' || :s || '-' || g,
       CASE WHEN g % 3 = 0 THEN 'payment' ELSE 'charge' END, 5 + g,
       timestamptz '2026-02-01 00:00+00' + ((:s + g) % 720) * interval '1 hour'
  FROM generate_series(1, 40) g;
SQL
chmod 644 "$W"/*.sql
out=$(as_pg pgbench -n --verbose-errors -c 4 -j 2 -t 150 -f "$W/one.sql@9" -f "$W/batch.sql@1" "$DB" 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -iE "error|deadlock|detail|process [0-9]" | head -20 || true
failed=$(echo "$out" | awk '/^number of failed transactions/ { print $5 }')
echo "$out" | grep -E "^number of (transactions actually processed|failed)" || true

mismatch=$(q -c "
  WITH l AS (SELECT (posted_at AT TIME ZONE 'America/Denver')::date AS day,
                    sum(CASE WHEN kind IN ('charge','refund','reversal') THEN amount ELSE -amount END) AS net,
                    sum(amount) FILTER (WHERE kind = 'charge') AS charges
               FROM collect.ledger WHERE practice_id = 'c1' GROUP BY 1),
       k AS (SELECT day, sum(charges + refunds + reversals - payments - adjustments - write_offs) AS net,
                    sum(charges) AS charges
               FROM collect.kpi_daily WHERE practice_id = 'c1' GROUP BY 1)
  SELECT count(*) FROM l FULL JOIN k USING (day)
   WHERE l.net IS DISTINCT FROM k.net OR COALESCE(l.charges, 0) <> COALESCE(k.charges, 0)")
slots=$(q -c "SELECT count(DISTINCT slot) FROM collect.kpi_daily WHERE practice_id = 'c1'")
rows=$(q -c "SELECT count(*) FROM collect.ledger WHERE practice_id = 'c1'")
ar=$(q -c "SELECT (SELECT sum(balance) FROM collect.account WHERE practice_id = 'c1')
              = (SELECT sum(charges + refunds + reversals - payments - adjustments - write_offs)
                   FROM collect.kpi_daily WHERE practice_id = 'c1')")
echo "RESULT kpi_concurrency ledger_rows=$rows days_mismatched=$mismatch slots=$slots ar_matches_accounts=$ar failed=${failed:-0}"
[ "$mismatch" = 0 ] && [ "$slots" -gt 1 ] && [ "$ar" = t ] && [ "${failed:-0}" = 0 ] && [ "$rows" -gt 1000 ]
