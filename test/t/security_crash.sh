#!/usr/bin/env bash
# security_crash: crash safety. A private cluster takes heavy ingest
# (pgbench, 4 clients: new charges and payments, identical reposts of a
# small external_id space) plus a client that records every commit the
# server acknowledged; mid-stream the postmaster is stopped with
# pg_ctl stop -m immediate (no checkpoint, like a power cut). After crash
# recovery: every acknowledged commit is there, every account balance
# equals the signed sum of its ledger rows, every patient with ledger rows
# has an account, no external_id is posted twice; and, with collect.tick
# running every simulated 10 minutes during the load, no outbox message is
# duplicated or lost its contact_attempt row (written in one transaction).
source "$(dirname "$0")/../lib.sh"
W=$(scratch_dir)
trap 'cluster_stop "$W/pg"; rm -rf "$W"' EXIT
cluster_start "$W/pg" "fsync = on" "synchronous_commit = on" "max_wal_size = 64MB"
DB=crash
createdb "$DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION collect;
INSERT INTO collect.practice (practice_id, name, timezone)
SELECT 'C' || i, 'crash ' || i, (ARRAY['America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles'])[1 + i % 4]
  FROM generate_series(0, 3) i;
INSERT INTO collect.patient (practice_id, patient_id) SELECT 'C' || (i % 4), 'p' || i FROM generate_series(0, 399) i;
SQL
cat > "$W/ingest.sql" <<'EOF2'
\set p random(0, 399)
\set amt random(100, 50000)
\set r random(1, 100)
\set k random(1, 3000)
BEGIN;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('C' || (:p % 4), 'p' || :p, 'n-' || :client_id || '-' || txid_current(),
        CASE WHEN :r <= 70 THEN 'charge' WHEN :r <= 95 THEN 'payment' ELSE 'write_off' END,
        :amt / 100.0, timestamptz '2026-01-01 12:00+00' + (:r || ' hours')::interval);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('C' || (:k % 4), 'p' || (:k % 400), 'r-' || :k, 'charge', (:k % 97 + 1), timestamptz '2026-01-02 12:00+00');
COMMIT;
EOF2
pgbench -n -c 4 -j 2 -T 60 -f "$W/ingest.sql" "$DB" > "$W/pgbench.log" 2>&1 &
bench=$!
# acknowledged commits, one per line, written only after COMMIT returned
( i=0; while :; do
    i=$((i + 1))
    psql -X -qAt -d "$DB" -c "INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
                              VALUES ('C1', 'p1', 'ack-$i', 'charge', 1, '2026-01-03 12:00+00')" >/dev/null 2>&1 || break
    echo "$i" >> "$W/acked"
  done ) &
acker=$!
# the clock, when this build has one: a simulated 10 minutes per call
ticker=
if [ "$(psql -X -qAt -d "$DB" -c "SELECT count(*) FROM pg_proc WHERE proname = 'tick' AND pronamespace = 'collect'::regnamespace")" != 0 ]; then
  ( n=0; while :; do
      n=$((n + 1))
      psql -X -qAt -d "$DB" -c "SELECT collect.tick(timestamptz '2026-01-04 14:00+00' + interval '10 minutes' * $n)" >/dev/null 2>&1 || break
      echo "$n" >> "$W/ticked"
    done ) &
  ticker=$!
fi
sleep "${CRASH_AFTER:-8}"
as_pg "$PGBIN/pg_ctl" -D "$W/pg/data" -m immediate -w stop >/dev/null
wait $bench || true; wait $acker || true; [ -z "$ticker" ] || wait $ticker || true
before=$(grep -oE 'number of transactions actually processed: [0-9]+' "$W/pgbench.log" | grep -oE '[0-9]+$' || echo "?")
as_pg "$PGBIN/pg_ctl" -D "$W/pg/data" -l "$W/pg/server.log" -w -t 120 start >/dev/null
grep -q 'database system was not properly shut down' "$W/pg/server.log" ||
  { echo "RESULT security_crash: the server did not go through crash recovery"; exit 1; }

acked=$(wc -l < "$W/acked" 2>/dev/null || echo 0)
out=$(psql -X -qAt -v ON_ERROR_STOP=1 -d "$DB" <<SQL
WITH sums AS (
  SELECT practice_id, patient_id,
         sum(CASE WHEN kind IN ('charge', 'refund', 'reversal') THEN amount ELSE -amount END) AS s, count(*) AS n
    FROM collect.ledger GROUP BY 1, 2)
SELECT (SELECT count(*) FROM collect.ledger),
       (SELECT count(*) FROM sums s JOIN collect.account a USING (practice_id, patient_id) WHERE a.balance <> s.s),
       (SELECT count(*) FROM sums s LEFT JOIN collect.account a USING (practice_id, patient_id) WHERE a.patient_id IS NULL),
       (SELECT count(*) FROM collect.account a LEFT JOIN sums s USING (practice_id, patient_id) WHERE s.patient_id IS NULL),
       (SELECT count(*) FROM generate_series(1, $acked) i
          WHERE NOT EXISTS (SELECT 1 FROM collect.ledger l WHERE l.practice_id = 'C1' AND l.external_id = 'ack-' || i)),
       (SELECT count(*) - count(DISTINCT (practice_id, external_id)) FROM collect.ledger),
       (SELECT count(*) - count(DISTINCT (practice_id, idempotency_key)) FROM collect.outbox),
       (SELECT count(*) FROM collect.outbox),
       (SELECT count(*) FROM collect.outbox o WHERE NOT EXISTS
          (SELECT 1 FROM collect.contact_attempt c WHERE c.practice_id = o.practice_id AND c.message_id = o.message_id));
SQL
)
IFS='|' read -r rows mismatched no_account orphan lost_acks dup_ext dup_msg messages unlogged <<< "$out"
ticks=$(wc -l < "$W/ticked" 2>/dev/null || echo 0)
echo "RESULT security_crash: $rows ledger rows after recovery ($acked acknowledged single commits); balance mismatches $mismatched, patients without account $no_account, accounts without ledger $orphan, acknowledged commits lost $lost_acks, duplicate external_ids $dup_ext; $ticks tick calls queued $messages messages: duplicate outbox keys $dup_msg, messages without their contact_attempt $unlogged"
[ "$rows" -gt 100 ] || { echo "RESULT security_crash: too little ingest before the crash to mean anything"; exit 1; }
[ "$mismatched$no_account$orphan$lost_acks$dup_ext$dup_msg$unlogged" = "0000000" ]
