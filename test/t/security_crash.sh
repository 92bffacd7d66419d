#!/usr/bin/env bash
# security_crash: crash safety. A private cluster takes heavy ingest
# (pgbench, 4 clients: new charges and payments, identical reposts of a
# small external_id space), a client that records every commit the server
# acknowledged, collect.tick every simulated 10 minutes (dunning messages
# and autopay charges), and the outbox worker draining to a local stub
# (test/stub/fast_stub.c, which logs each request's Idempotency-Key) for
# SMS, e-mail, letters (webhook) and Stripe charges. CRASH_ROUNDS times
# (default 5) the postmaster is stopped with pg_ctl stop -m immediate (no
# checkpoint, like a power cut) while the worker has a batch in flight
# (rows `sending`, requests at the stub), then restarted; after the last restart ingest and tick stay off and the worker
# finishes the drain. Then:
#   - every acknowledged commit is there, every account balance equals the
#     signed sum of its ledger rows, every patient with ledger rows has an
#     account, no external_id is posted twice;
#   - no outbox message is duplicated, no patient message lost the
#     contact_attempt row queued with it, no message is lost: every row ends sent/delivered, or cancelled/dead/failed with a
#     reason in last_error; the outbox holds at least as many rows as the
#     ticker saw after its last acknowledged tick;
#   - at the stub: every sent row's key arrived, no key arrived that is not
#     an outbox row; no autopay installment reached the provider under two
#     keys, and the autopay payments in the ledger equal the charge keys the
#     provider saw (a charge repeated after a crash carries the same key,
#     which Stripe and webhook receivers deduplicate: delivered once).
#     Repeated requests per key are reported per channel: for SMS and
#     e-mail (Twilio and SendGrid ignore the key) each repeat is a message
#     the patient got twice (at-least-once; docs/worker.md).
source "$(dirname "$0")/../lib.sh"
W=$(scratch_dir)
STUB_PID=
cleanup() { [ -n "$STUB_PID" ] && kill "$STUB_PID" 2>/dev/null; cluster_stop "$W/pg"; [ "${KEEP:-0}" = 1 ] || rm -rf "$W"; }
trap cleanup EXIT
ROUNDS=${CRASH_ROUNDS:-5}

gcc -O2 -o "$W/fast_stub" "$ROOT/test/stub/fast_stub.c"
# 20 ms per answer, one at a time (~50 requests/s): a batch is in flight
# most of the time, so a crash lands between a provider's receipt and the
# worker's finish
"$W/fast_stub" "$W/port" "$W/keys" "${STUB_DELAY_US:-20000}" 2> "$W/stub.log" & STUB_PID=$!
for _ in $(seq 50); do [ -s "$W/port" ] && break; sleep 0.1; done
PORT=$(cat "$W/port")

cluster_start "$W/pg" "fsync = on" "synchronous_commit = on" "max_wal_size = 64MB" \
  "collect.database = 'crash'" "collect.worker_idle_timeout = 1" "collect.worker_batch_size = 50" \
  "collect.worker_concurrency = 16" "collect.worker_poll_interval = 0"
DB=crash
createdb "$DB"
# The worker re-checks the contact rules at send time against the wall
# clock; practice zones a few hours apart around local midday now keep
# quiet hours from cancelling the whole run whatever the hour of the test.
offset=$(( (13 - 10#$(date -u +%H) + 36) % 24 - 12 ))   # UTC+offset is 13:00 now
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION collect;
INSERT INTO collect.practice (practice_id, name, timezone)
SELECT 'C' || i, 'crash ' || i, CASE WHEN o = 0 THEN 'Etc/GMT' WHEN o > 0 THEN 'Etc/GMT-' || o ELSE 'Etc/GMT+' || -o END
  FROM generate_series(0, 3) i, LATERAL (SELECT (($offset + i + 11) % 24 + 24) % 24 - 12 AS o) z;
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent)
SELECT 'C' || (i % 4), 'p' || i, 'P' || i, '+1555' || lpad(i::text, 7, '0'), 'p' || i || '@example.com', true, true
  FROM generate_series(0, 399) i;
INSERT INTO collect.provider (practice_id, channel, kind, base_url, account, secret, sender, settings)
SELECT practice_id, c.channel, c.kind, 'http://127.0.0.1:$PORT' || c.path, c.account, 'secret-' || c.kind, c.sender, '{}'
  FROM collect.practice, (VALUES
    ('sms', 'twilio', '', 'AC0123456789abcdef0123456789abcdef', '+15005550001'),
    ('email', 'sendgrid', '', NULL, 'billing@clinic.example.com'),
    ('letter', 'webhook', '/letters', NULL, NULL),
    ('webhook', 'webhook', '/pm', NULL, NULL),
    ('charge', 'stripe', '', NULL, NULL)) c(channel, kind, path, account, sender);
-- every patient owes an old balance, so the first ticks queue a dunning
-- message to each; every fifth is on an autopay plan whose installments
-- are all due by the simulated clock: ticks queue its charges too (first
-- in the queue: their send_after is older)
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT 'C' || (i % 4), 'p' || i, 'old-' || i, 'charge', 300 + i, '2025-05-01 12:00+00' FROM generate_series(0, 399) i;
INSERT INTO collect.payment_method (practice_id, patient_id, provider_customer, provider_method, consent_at)
SELECT 'C' || (i % 4), 'p' || i, 'cus_' || i, 'pm_' || i, '2025-05-01 12:00+00' FROM generate_series(0, 399, 5) i;
SELECT count(collect.create_plan('C' || (i % 4), 'p' || i, 6, NULL, '2025-05-02 12:00+00')) FROM generate_series(0, 399, 5) i;
SELECT count(collect.approve_plan(plan_id, 'manager', '2025-05-02 13:00+00')) FROM collect.plan WHERE status = 'pending_approval';
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
q() { psql -X -qAt -d "$DB" -c "$1" 2>/dev/null; }
stub_requests() { wc -l < "$W/keys"; }

: > "$W/acked"; : > "$W/ticked"; mid_drain=0
for round in $(seq 1 "$ROUNDS"); do
  pgbench -n -c 4 -j 2 -T 120 -f "$W/ingest.sql" "$DB" > "$W/pgbench.$round.log" 2>&1 &
  bench=$!
  # acknowledged commits, one per line, written only after COMMIT returned
  ( i=0; while :; do
      i=$((i + 1))
      q "INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
         VALUES ('C1', 'p1', 'ack-$round-$i', 'charge', 1, '2026-01-03 12:00+00')" >/dev/null || break
      echo "$round-$i" >> "$W/acked"
    done ) &
  acker=$!
  # the clock, a simulated 10 minutes per call, continuing across rounds;
  # after each acknowledged tick, the outbox size it saw: outbox rows are
  # never deleted, so every later count must be at least that. A tick can
  # lose a deadlock against an ingest transaction that posts to two
  # patients (it is rolled back whole); like pg_cron's next run, the
  # ticker then goes on with the next call while the server is up
  ( n=$(cat "$W/clock" 2>/dev/null || echo 0); while :; do
      n=$((n + 1)); echo "$n" > "$W/clock"
      q "SELECT collect.tick(timestamptz '2026-01-04 14:00+00' + interval '10 minutes' * $n)" >/dev/null 2>&1 ||
        { q "SELECT 1" >/dev/null 2>&1 && { sleep 0.1; continue; }; break; }
      echo "$n $(q "SELECT count(*) FROM collect.outbox")" >> "$W/ticked"
    done ) &
  ticker=$!
  # mid-drain, by progress rather than the clock (the machine may be slow):
  # crash k once the stub has taken k * CRASH_EVERY requests in all (up to
  # ~480 charges come first, fewer when ingest pays them off before their
  # turn, then ~700 dunning messages: the first stops land among the
  # charges, the last among the messages) and the worker holds rows in
  # `sending`.
  # A batch queued again after a crash goes to the back of the queue, so
  # ingest has time to pay what it was charging.
  deadline=$(( $(date +%s) + 60 )); sending=0
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if [ "$(stub_requests)" -ge $(( round * ${CRASH_EVERY:-150} )) ]; then
      sending=$(q "SELECT count(*) FROM collect.outbox WHERE status = 'sending'")
      [ "${sending:-0}" -gt 0 ] && break
    fi
    sleep 0.05
  done
  as_pg "$PGBIN/pg_ctl" -D "$W/pg/data" -m immediate -w stop >/dev/null
  [ "${sending:-0}" -gt 0 ] && mid_drain=$((mid_drain + 1))
  wait $bench || true; wait $acker || true; wait $ticker || true
  log "crash $round: ${sending:-0} rows sending, $(stub_requests) requests at the stub so far, $(wc -l < "$W/ticked") ticks"
  as_pg "$PGBIN/pg_ctl" -D "$W/pg/data" -l "$W/pg/server.log" -w -t 120 start >/dev/null
done
recoveries=$(grep -c 'database system was not properly shut down' "$W/pg/server.log" || true)
[ "$recoveries" -ge "$ROUNDS" ] && [ "$mid_drain" = "$ROUNDS" ] ||
  { echo "RESULT security_crash: $recoveries crash recoveries for $ROUNDS immediate stops, $mid_drain of them mid-drain"; exit 1; }

# the drain finishes with no new load: nothing may stay queued or sending
wait_until 90 "SELECT NOT EXISTS (SELECT 1 FROM collect.outbox WHERE status IN ('queued', 'sending') AND channel <> 'call_task')" "$DB" || {
  psql -X -d "$DB" -c "SELECT channel, status, count(*) FROM collect.outbox GROUP BY 1, 2 ORDER BY 1, 2"
  tail -20 "$W/pg/server.log"; exit 1; }
kill "$STUB_PID"; wait "$STUB_PID" 2>/dev/null || true; STUB_PID=

acked=$(wc -l < "$W/acked")
ticks=$(wc -l < "$W/ticked")
outbox_acked=$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' "$W/ticked")
out=$(psql -X -qAt -v ON_ERROR_STOP=1 -d "$DB" <<SQL
CREATE TEMP TABLE acked (id text);
\copy acked FROM '$W/acked'
CREATE TEMP TABLE hit (key text);
\copy hit FROM '$W/keys'
CREATE TEMP TABLE reached AS SELECT key, count(*) AS n FROM hit GROUP BY key;
WITH sums AS (
  SELECT practice_id, patient_id,
         sum(CASE WHEN kind IN ('charge', 'refund', 'reversal') THEN amount ELSE -amount END) AS s, count(*) AS n
    FROM collect.ledger GROUP BY 1, 2)
SELECT (SELECT count(*) FROM collect.ledger),
       (SELECT count(*) FROM sums s JOIN collect.account a USING (practice_id, patient_id) WHERE a.balance <> s.s),
       (SELECT count(*) FROM sums s LEFT JOIN collect.account a USING (practice_id, patient_id) WHERE a.patient_id IS NULL),
       (SELECT count(*) FROM collect.account a LEFT JOIN sums s USING (practice_id, patient_id) WHERE s.patient_id IS NULL),
       (SELECT count(*) FROM acked k
          WHERE NOT EXISTS (SELECT 1 FROM collect.ledger l WHERE l.practice_id = 'C1' AND l.external_id = 'ack-' || k.id)),
       (SELECT count(*) - count(DISTINCT (practice_id, external_id)) FROM collect.ledger),
       -- keys are unique per practice; this test's patients are unique across practices, so globally
       (SELECT count(*) - count(DISTINCT idempotency_key) FROM collect.outbox),
       (SELECT count(*) FROM collect.outbox),
       (SELECT count(*) FROM collect.outbox o WHERE channel IN ('sms', 'email', 'letter', 'voice') AND NOT EXISTS
          (SELECT 1 FROM collect.contact_attempt c WHERE c.practice_id = o.practice_id AND c.message_id = o.message_id)),
       (SELECT count(*) FROM collect.outbox WHERE status IN ('sent', 'delivered')),
       (SELECT count(*) FROM collect.outbox WHERE status IN ('queued', 'sending') AND channel <> 'call_task'
           OR status IN ('cancelled', 'dead', 'failed') AND last_error IS NULL),
       (SELECT count(*) FROM collect.outbox o WHERE status IN ('sent', 'delivered')
           AND NOT EXISTS (SELECT 1 FROM reached r WHERE r.key = o.idempotency_key)),
       (SELECT count(*) FROM reached r WHERE NOT EXISTS (SELECT 1 FROM collect.outbox o WHERE o.idempotency_key = r.key)),
       (SELECT count(*) FROM (SELECT 1 FROM reached WHERE key LIKE 'charge:%'
           GROUP BY split_part(key, ':', 2), split_part(key, ':', 3) HAVING count(*) > 1) x),
       (SELECT count(*) FROM reached WHERE key LIKE 'charge:%'),
       (SELECT count(*) FROM collect.ledger WHERE method = 'autopay' AND kind = 'payment'),
       (SELECT string_agg(format('%s %s sent, %s requests, %s repeated, %s reached the stub but ended unsent',
                                 channel, sent, requests, requests - keys, reached_unsent), '; ' ORDER BY channel)
          FROM (SELECT o.channel, count(*) FILTER (WHERE o.status IN ('sent', 'delivered')) AS sent,
                       coalesce(sum(r.n), 0) AS requests, count(r.key) AS keys,
                       count(r.key) FILTER (WHERE o.status NOT IN ('sent', 'delivered')) AS reached_unsent
                  FROM collect.outbox o LEFT JOIN reached r ON r.key = o.idempotency_key
                 WHERE o.channel <> 'call_task' GROUP BY 1) c);
SQL
)
IFS='|' read -r rows mismatched no_account orphan lost_acks dup_ext dup_msg messages unlogged sent unresolved \
  unreached unknown two_keys charge_keys autopay per_channel <<< "$out"
requests=$(wc -l < "$W/keys"); distinct=$(sort -u "$W/keys" | wc -l)
echo "RESULT security_crash: $mid_drain immediate stops mid-drain; $rows ledger rows ($acked acknowledged single commits); balance mismatches $mismatched, patients without account $no_account, accounts without ledger $orphan, acknowledged commits lost $lost_acks, duplicate external_ids $dup_ext"
echo "RESULT security_crash outbox: $ticks ticks queued $messages messages (at least $outbox_acked acknowledged), $sent sent; lost or unexplained $unresolved, duplicate keys $dup_msg, without contact_attempt $unlogged, sent but never at the stub $unreached, unknown keys at the stub $unknown"
echo "RESULT security_crash idempotent providers: $charge_keys charge keys at the stub, $autopay autopay payments in the ledger, installments charged under two keys $two_keys"
echo "RESULT security_crash at-least-once: $requests requests, $distinct keys, $((requests - distinct)) repeated after a crash (SMS/e-mail repeats reach the patient twice; Stripe/webhook repeats are deduplicated by key): $per_channel"
echo "METRIC security_crash_repeated_requests $((requests - distinct))"
[ "$rows" -gt 100 ] || { echo "RESULT security_crash: too little ingest before the crashes to mean anything"; exit 1; }
[ "$sent" -gt 0 ] && [ "$charge_keys" -gt 0 ] || { echo "RESULT security_crash: the worker sent nothing (or no charge): not a drain test"; exit 1; }
[ "$messages" -ge "$outbox_acked" ] || { echo "RESULT security_crash: acknowledged outbox rows lost"; exit 1; }
[ "$mismatched$no_account$orphan$lost_acks$dup_ext$dup_msg$unlogged$unresolved$unreached$unknown$two_keys" = "00000000000" ] &&
  [ "$charge_keys" = "$autopay" ]
