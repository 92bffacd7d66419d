#!/usr/bin/env bash
# Ticks and events against concurrent postings: 4 pgbench clients post
# charges and payments (single rows and 3-row statements) to 50 patients
# while a loop runs collect.tick over successive hours and records events,
# for CONCURRENCY_SECONDS (default 12). Afterwards: no deadlock in the
# server log, no failed pgbench transaction, no tick error, every account
# still equal to its ledger, and no queued message for a paid-up account.
source "$(dirname "$0")/../lib.sh"
DB=t_dunning_concurrency
SECONDS_TO_RUN=${CONCURRENCY_SECONDS:-12}
dropdb --if-exists "$DB"; createdb "$DB"
W=$(scratch_dir)
trap 'dropdb --if-exists "$DB"; rm -rf "$W"' EXIT
deadlocks() { grep -c 'deadlock detected' "$PGHOST/server.log" || true; }
deadlocks_before=$(deadlocks)

psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION collect;
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('c1', 'Dunning Race Clinic', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent)
SELECT 'c1', 'pt' || i, 'P' || i, '+1555000' || lpad(i::text, 4, '0'), 'p' || i || '@example.com', true, true
  FROM generate_series(1, 50) i;
-- balances posted 10 days before the simulated clock starts, so steps are due at once
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT 'c1', 'pt' || i, 'seed' || i, 'charge', 100 + i, now() - interval '10 days' FROM generate_series(1, 50) i;
SQL

cat > "$W/one.sql" <<'SQL'
\set p random(1, 50)
\set k random(1, 10)
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('c1', 'pt' || :p, gen_random_uuid()::text, CASE WHEN :k <= 6 THEN 'charge' ELSE 'payment' END,
        CASE WHEN :k <= 6 THEN 12.00 ELSE 15.00 END, now());
SQL
cat > "$W/three.sql" <<'SQL'
\set a random(1, 50)
\set b random(1, 50)
\set c random(1, 50)
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('c1', 'pt' || :c, gen_random_uuid()::text, 'charge', 20.00, now()),
       ('c1', 'pt' || :a, gen_random_uuid()::text, 'payment', 30.00, now()),
       ('c1', 'pt' || :b, gen_random_uuid()::text, 'charge', 5.50, now());
SQL

# the clock and the events: one tick per simulated hour, an event now and then
(
  end=$(( $(date +%s) + SECONDS_TO_RUN ))
  h=0
  while [ "$(date +%s)" -lt "$end" ]; do
    h=$((h + 1)); p=$(( (h % 50) + 1 ))
    psql -X -qAt -v ON_ERROR_STOP=1 -d "$DB" \
      -c "SELECT collect.tick(now() + make_interval(hours => $h))" \
      -c "SELECT collect.record_event('c1', 'pt$p', CASE WHEN $h % 3 = 0 THEN 'call_no_answer' WHEN $h % 3 = 1 THEN 'complaint' ELSE 'appointment_no_show' END, '{}', now() + make_interval(hours => $h))" \
      >> "$W/ticks.out" 2>> "$W/ticks.err" || echo "tick loop error at hour $h" >> "$W/ticks.err"
  done
) &
loop=$!
pgbench -n -c 4 -j 2 -T "$SECONDS_TO_RUN" -f "$W/one.sql@3" -f "$W/three.sql@1" "$DB" > "$W/pgbench.out" 2>&1 || { cat "$W/pgbench.out"; exit 1; }
wait "$loop"
grep -E 'number of transactions actually processed|number of failed' "$W/pgbench.out" | sed 's/^/METRIC /'

fail=0
failed_tx=$(grep -oP 'number of failed transactions: \K[0-9]+' "$W/pgbench.out" | sort -n | tail -1 || echo 0)
[ "$failed_tx" = 0 ] || { echo "pgbench had $failed_tx failed transactions"; fail=1; }
if [ -s "$W/ticks.err" ]; then echo "tick/event errors:"; head -20 "$W/ticks.err"; fail=1; fi
ticks=$(wc -l < "$W/ticks.out")
[ "$(deadlocks)" = "$deadlocks_before" ] || { echo "deadlocks in the server log"; fail=1; }

check=$(psql -X -qAt -d "$DB" <<'SQL'
SELECT (SELECT count(*) FROM collect.account a
          WHERE a.balance <> (SELECT COALESCE(sum(CASE WHEN kind IN ('charge','refund','reversal') THEN amount ELSE -amount END), 0)
                                FROM collect.ledger l WHERE l.practice_id = a.practice_id AND l.patient_id = a.patient_id))
       || ' ' ||
       (SELECT count(*) FROM collect.outbox o JOIN collect.account a USING (practice_id, patient_id)
          WHERE o.status = 'queued' AND a.balance <= 0 AND o.step NOT LIKE 'notice:%')
       || ' ' || (SELECT count(*) FROM collect.outbox) || ' ' || (SELECT count(*) FROM collect.audit_log WHERE action = 'tick_error')
SQL
)
read -r mismatched queued_for_paid messages tick_errors <<< "$check"
echo "RESULT dunning concurrency: $ticks tick/event lines, $messages messages, $mismatched accounts off their ledger, $queued_for_paid queued for paid-up accounts, $tick_errors tick errors"
[ "$mismatched" = 0 ] && [ "$queued_for_paid" = 0 ] && [ "$tick_errors" = 0 ] && [ "$messages" -gt 0 ] || fail=1
exit $fail
