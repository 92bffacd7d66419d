#!/usr/bin/env bash
# worker_crash.sh: 20,000 queued messages drained by two outbox workers
# (collect.worker_count = 2); one of them, at random, is killed with
# SIGKILL 5 times while they drain (at about 15/30/45/60/75% sent) (the
# postmaster then restarts every backend). Afterwards every message must be
# `sent` and every idempotency key must have reached the stub at least
# once; the number of repeated sends (same key twice: a worker died between
# the HTTP call and its finish transaction) is printed. Then: a worker that
# restarts alone (pg_terminate_backend) puts back only the rows it had
# claimed, never the other worker's.
source "$(dirname "$0")/../lib.sh"
build_install

D=$(scratch_dir)
STUB_PID=
cleanup() { [ -n "$STUB_PID" ] && kill "$STUB_PID" 2>/dev/null; cluster_stop "$D/pg"; [ "${KEEP:-0}" = 1 ] || rm -rf "$D"; }
trap cleanup EXIT

gcc -O2 -o "$D/fast_stub" "$ROOT/test/stub/fast_stub.c"
"$D/fast_stub" "$D/port" "$D/keys" 2> "$D/stub.log" & STUB_PID=$!
for _ in $(seq 50); do [ -s "$D/port" ] && break; sleep 0.1; done
PORT=$(cat "$D/port")

cluster_start "$D/pg" "collect.database = 'crash'" "collect.worker_idle_timeout = 1" \
  "collect.worker_batch_size = 100" "collect.worker_concurrency = 16" "collect.worker_poll_interval = 0" \
  "collect.worker_count = 2"
createdb crash
psql -X -q -v ON_ERROR_STOP=1 -d crash -c "BEGIN" -c "CREATE EXTENSION collect CASCADE" -f "$ROOT/test/worker_standins.sql" -c "COMMIT" >/dev/null 2>&1
N=20000
psql -X -q -v ON_ERROR_STOP=1 -d crash <<SQL
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Crash Dental', 'America/New_York');
INSERT INTO collect.patient (practice_id, patient_id, phone, sms_consent) VALUES ('p1', 'a1', '+15005550006', true);
INSERT INTO collect.provider (practice_id, channel, kind, base_url, account, secret, sender)
  VALUES ('p1', 'sms', 'twilio', 'http://127.0.0.1:$PORT', 'AC0123456789abcdef0123456789abcdef', 'tok', '+15005550001');
INSERT INTO collect.outbox (practice_id, patient_id, channel, to_address, body, send_after, idempotency_key)
  SELECT 'p1', 'a1', 'sms', '+15005550006', 'Message ' || g, now(), 'crash-' || g FROM generate_series(1, $N) g;
SQL

worker_pid() { psql -X -qAt -d crash -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'collect outbox worker' ORDER BY random() LIMIT 1" 2>/dev/null || true; }
# Kill schedule driven by progress, not by the clock: kill k (k = 1..5)
# lands once at least 15k% (plus a random 0-4%) of the queue is sent, on a
# worker that is not the one killed last. The worker drains fast, so a
# clock-based schedule could run out of queue before the 5th kill.
kills=0; last_pid=
deadline=$(( $(date +%s) + 120 ))
while [ "$kills" -lt 5 ] && [ "$(date +%s)" -lt "$deadline" ]; do
  pid=$(worker_pid)
  left=$(psql -X -qAt -d crash -c "SELECT count(*) FROM collect.outbox WHERE status <> 'sent'" 2>/dev/null || echo x)
  if [ "$left" = 0 ]; then break; fi
  threshold=$(( N - N * (15 * (kills + 1) + RANDOM % 5) / 100 ))
  if [ -n "$pid" ] && [ "$pid" != "$last_pid" ] && [ "$left" != x ] && [ "$left" -le "$threshold" ]; then
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); last_pid=$pid; log "kill $kills: worker $pid, $left not yet sent"; fi
  else
    sleep 0.02
  fi
done

wait_until 120 "SELECT count(*) = $N FROM collect.outbox WHERE status = 'sent'" crash || {
  psql -X -d crash -c "SELECT status, count(*) FROM collect.outbox GROUP BY 1"; tail -20 "$D/pg/server.log"; exit 1; }
kill "$STUB_PID"; wait "$STUB_PID" 2>/dev/null || true; STUB_PID=

sends=$(wc -l < "$D/keys")
distinct=$(sort -u "$D/keys" | wc -l)
missing=$(psql_q crash "SELECT idempotency_key FROM collect.outbox" | sort -u | comm -23 - <(sort -u "$D/keys") | wc -l)
sent_rows=$(psql_q crash "SELECT count(*) FROM collect.outbox WHERE status = 'sent' AND provider_ref LIKE 'SM%'")
restarts=$(grep -c 'terminated by signal 9' "$D/pg/server.log" || true)
echo "RESULT worker_crash kills=$kills restarts=$restarts messages=$N sent_rows=$sent_rows stub_sends=$sends distinct_keys=$distinct missing=$missing"
echo "METRIC worker_crash_duplicates $((sends - distinct))"
[ "$kills" -ge 5 ] || { echo "only $kills kills happened before the queue drained"; exit 1; }
[ "$sent_rows" = "$N" ] && [ "$distinct" = "$N" ] && [ "$missing" = 0 ] || exit 1

# One worker restarting alone: two rows stand `sending` under a lease that
# has not expired, one claimed by worker 0, one by worker 1 (as if each were
# in the middle of sending it). Worker 0 is terminated and starts again: it
# must queue again (and send) its own row only.
"$D/fast_stub" "$D/port2" /dev/null 2>> "$D/stub.log" & STUB_PID=$!
for _ in $(seq 50); do [ -s "$D/port2" ] && break; sleep 0.1; done
psql_q crash "UPDATE collect.provider SET base_url = 'http://127.0.0.1:$(cat "$D/port2")' WHERE practice_id = 'p1'" >/dev/null
# both workers up (past their start-up reclaim) before the rows appear
wait_until 30 "SELECT count(*) = 2 FROM collect.worker_status WHERE state = 'running' AND last_wake IS NOT NULL" crash
psql_q crash "INSERT INTO collect.outbox (practice_id, patient_id, channel, to_address, body, send_after, idempotency_key,
                status, attempts, lease_until, claimed_by)
              VALUES ('p1', 'a1', 'sms', '+15005550006', 'Own', now(), 'restart-own', 'sending', 1, now() + interval '1 hour', 0),
                     ('p1', 'a1', 'sms', '+15005550006', 'Other', now(), 'restart-other', 'sending', 1, now() + interval '1 hour', 1)" >/dev/null
w0=$(psql_q crash "SELECT pid FROM collect.worker_status WHERE worker = 0")
w1=$(psql_q crash "SELECT pid FROM collect.worker_status WHERE worker = 1")
psql_q crash "SELECT pg_terminate_backend($w0)" >/dev/null
own_ok=0; other_ok=0
wait_until 30 "SELECT status = 'sent' FROM collect.outbox WHERE idempotency_key = 'restart-own'" crash && own_ok=1
other=$(psql_q crash "SELECT status FROM collect.outbox WHERE idempotency_key = 'restart-other'")
w1_now=$(psql_q crash "SELECT pid FROM collect.worker_status WHERE worker = 1")
log "worker 0 ($w0) restarted: own row sent=$own_ok; worker 1's row: $other (worker 1: $w1, now $w1_now)"
[ "$other" = sending ] && [ "$w1_now" = "$w1" ] && other_ok=1
# worker 1 restarting takes its row back
psql_q crash "SELECT pg_terminate_backend($w1)" >/dev/null
wait_until 30 "SELECT status = 'sent' FROM collect.outbox WHERE idempotency_key = 'restart-other'" crash && other_ok=$((other_ok + 1))
echo "RESULT worker_crash restart_alone own_row_requeued=$own_ok other_row_kept_then_requeued_by_its_worker=$other_ok"

# The two workers share a provider's rate limit: at 100/s in all (each
# takes 50/s, with a second's burst), 300 messages (three batches of 100,
# so both workers get some) need at least 2 s from queueing to the last
# send; two workers each allowing the full rate would be done in about 1 s.
wait_until 30 "SELECT count(*) = 2 FROM collect.worker_status WHERE state = 'running' AND last_wake IS NOT NULL" crash
psql_q crash "UPDATE collect.provider SET settings = '{\"rate_per_second\": 100}' WHERE practice_id = 'p1'" >/dev/null
psql_q crash "INSERT INTO collect.outbox (practice_id, patient_id, channel, to_address, body, send_after, idempotency_key)
              SELECT 'p1', 'a1', 'sms', '+15005550006', 'Rate ' || g, now(), 'rate-' || g FROM generate_series(1, 300) g" >/dev/null
rate_ok=0
wait_until 30 "SELECT count(*) = 300 FROM collect.outbox WHERE idempotency_key LIKE 'rate-%' AND status = 'sent'" crash &&
  span=$(psql_q crash "SELECT round(extract(epoch FROM max(sent_at) - min(created_at))::numeric, 2) FROM collect.outbox
                       WHERE idempotency_key LIKE 'rate-%'") &&
  workers=$(psql_q crash "SELECT count(DISTINCT claimed_by) FROM collect.outbox WHERE idempotency_key LIKE 'rate-%'") &&
  [ "$(echo "$span >= 1.6" | bc)" = 1 ] && rate_ok=1
echo "RESULT worker_crash shared_rate_limit span_s=${span:-none} workers_used=${workers:-none} ok=$rate_ok"
[ "$own_ok" = 1 ] && [ "$other_ok" = 2 ] && [ "$rate_ok" = 1 ]
