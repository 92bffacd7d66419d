#!/usr/bin/env bash
# worker_crash.sh: 20,000 queued messages; the outbox worker is killed with
# SIGKILL at random moments 5 times while it drains them (the postmaster
# then restarts every backend). Afterwards every message must be `sent`
# and every idempotency key must have reached the stub at least once; the
# number of repeated sends (same key twice: the worker died between the
# HTTP call and its finish transaction) is printed.
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
  "collect.worker_batch_size = 100" "collect.worker_concurrency = 16" "collect.worker_poll_interval = 0"
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

worker_pid() { psql -X -qAt -d crash -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'collect outbox worker'" 2>/dev/null || true; }
kills=0
deadline=$(( $(date +%s) + 120 ))
while [ "$kills" -lt 5 ] && [ "$(date +%s)" -lt "$deadline" ]; do
  pid=$(worker_pid)
  left=$(psql -X -qAt -d crash -c "SELECT count(*) FROM collect.outbox WHERE status <> 'sent'" 2>/dev/null || echo x)
  if [ "$left" = 0 ]; then break; fi
  if [ -n "$pid" ] && [ "$left" != x ] && [ "$left" -lt "$N" ]; then
    sleep "0.$(( RANDOM % 6 ))$(( RANDOM % 10 ))"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); log "kill $kills: worker $pid, $left not yet sent"; fi
    sleep 0.5
  else
    sleep 0.1
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
[ "$sent_rows" = "$N" ] && [ "$distinct" = "$N" ] && [ "$missing" = 0 ]
