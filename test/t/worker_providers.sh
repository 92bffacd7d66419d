#!/usr/bin/env bash
# worker_providers.sh: the outbox worker against real local servers. Prism
# mocks the official Twilio and SendGrid specs (a 422/400 means the worker
# sent something the spec does not allow: the test fails); a node stub
# injects 500s, 400s, 429 with Retry-After, slow answers and dropped
# connections, validates Stripe bodies with ajv against the Stripe spec and
# checks webhook signatures; Twilio status and inbound polling come back
# from the stub. Also: stop rules at send time, the webhook host
# allow-list and link-local block, secrets never in last_error/tasks/logs.
source "$(dirname "$0")/../lib.sh"
build_install
ensure_node_tools

D=$(scratch_dir)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; cluster_stop "$D/pg"; [ "${KEEP:-0}" = 1 ] || rm -rf "$D"; }
trap cleanup EXIT

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
TW=$(free_port); SG=$(free_port)
"$NODE_TOOLS/.bin/prism" mock -h 127.0.0.1 -p "$TW" "$SHARED/specs/twilio_api_v2010.json" > "$D/prism_twilio.log" 2>&1 & PIDS+=($!)
"$NODE_TOOLS/.bin/prism" mock -h 127.0.0.1 -p "$SG" "$SHARED/specs/sendgrid_v3.json" > "$D/prism_sendgrid.log" 2>&1 & PIDS+=($!)
HOOK_SECRET=SECRET-hook-7f3a node "$ROOT/test/stub/provider_stub.js" "$D/stub_port" "$D/stub.log" \
  "$SHARED/specs/stripe_spec3.json" "$NODE_TOOLS" > "$D/stub.out" 2>&1 & PIDS+=($!)

cluster_start "$D/pg" "collect.database = 'prov'" "collect.worker_idle_timeout = 1" "collect.worker_retry_base = 1" \
  "collect.worker_retry_max = 5" "collect.worker_max_attempts = 3" "collect.worker_timeout = 1500" \
  "collect.worker_poll_interval = 2"
createdb prov

for _ in $(seq 600); do
  [ -s "$D/stub_port" ] && curl -s -o /dev/null "http://127.0.0.1:$TW/" && curl -s -o /dev/null "http://127.0.0.1:$SG/" && break
  sleep 0.1
done
[ -s "$D/stub_port" ] || { cat "$D/stub.out"; exit 1; }
# let the worker see the database without the extension before it is created
# (it re-checks every idle timeout), so the "waiting" line below is not a race
for _ in $(seq 100); do
  grep -q 'extension collect is not installed in database "prov"; waiting' "$PGHOST/server.log" && break
  sleep 0.1
done
ST=$(cat "$D/stub_port")
log "prism twilio :$TW, prism sendgrid :$SG, stub :$ST"
AC=AC0123456789abcdef0123456789abcdef

# The extension and stand-ins for the other modules' functions in one
# transaction, so the worker sees them together. The stand-ins record
# their calls; the real ones (if merged) are set aside in this test DB so
# the test does not depend on their rules (quiet hours, consents...).
psql -X -q -v ON_ERROR_STOP=1 -d prov <<SQL
BEGIN;
CREATE EXTENSION collect CASCADE;
\i $ROOT/test/worker_standins.sql
COMMIT;

INSERT INTO collect.practice (practice_id, name, timezone)
  SELECT p, 'Practice ' || p, 'America/Chicago'
    FROM unnest(ARRAY['pr','e500','e400','r429','slow','drop','stripe','hook','poll','stop','rate']) p;
INSERT INTO collect.patient (practice_id, patient_id, phone, email, sms_consent, email_consent, voice_consent)
  SELECT practice_id, pt, '+15005550006', 'pat@example.com', true, true, true
    FROM collect.practice, unnest(ARRAY['a1', 'optout', 'cus_decline', 'poison']) pt;
INSERT INTO collect.payment_method (practice_id, patient_id, provider_customer, provider_method, consent_at)
  VALUES ('stripe', 'a1', 'cus_ok123', 'pm_card_visa', now()), ('stripe', 'cus_decline', 'cus_decline', 'pm_card_visa', now());

INSERT INTO collect.provider (practice_id, channel, kind, base_url, account, secret, sender, settings) VALUES
  ('pr', 'sms', 'twilio', 'http://127.0.0.1:$TW', '$AC', 'SECRET-twilio-pr', '+15005550001',
     '{"status_callback": "https://pm.example.com/twilio/status"}'),
  ('pr', 'voice', 'twilio', 'http://127.0.0.1:$TW', '$AC', 'SECRET-twilio-pr', '+15005550001', '{}'),
  ('pr', 'email', 'sendgrid', 'http://127.0.0.1:$SG', NULL, 'SECRET-sendgrid-pr', 'billing@clinic.example.com',
     '{"from_name": "Clinic Billing"}'),
  ('e500', 'sms', 'twilio', 'http://127.0.0.1:$ST/e500', '$AC', 'SECRET-twilio-e500', '+15005550001', '{}'),
  ('e400', 'sms', 'twilio', 'http://127.0.0.1:$ST/e400', '$AC', 'SECRET-twilio-e400', '+15005550001', '{}'),
  ('r429', 'sms', 'twilio', 'http://127.0.0.1:$ST/r429', '$AC', 'SECRET-twilio-r429', '+15005550001', '{}'),
  ('slow', 'sms', 'twilio', 'http://127.0.0.1:$ST/slow', '$AC', 'SECRET-twilio-slow', '+15005550001', '{}'),
  ('drop', 'sms', 'twilio', 'http://127.0.0.1:$ST/drop', '$AC', 'SECRET-twilio-drop', '+15005550001', '{}'),
  ('stripe', 'charge', 'stripe', 'http://127.0.0.1:$ST/stripe', NULL, 'sk_test_SECRET-stripe', NULL, '{}'),
  ('hook', 'letter', 'webhook', 'http://127.0.0.1:$ST/hook/letters', NULL, 'SECRET-hook-7f3a', NULL,
     '{"allowed_hosts": ["localhost"]}'),
  ('hook', 'webhook', 'webhook', 'http://169.254.169.254/latest/meta-data', NULL, 'SECRET-hook-7f3a', NULL, '{}'),
  ('poll', 'sms', 'twilio', 'http://127.0.0.1:$ST/poll', '$AC', 'SECRET-twilio-poll', '+15005550002', '{}'),
  ('stop', 'sms', 'twilio', 'http://127.0.0.1:$ST/ok', '$AC', 'SECRET-twilio-stop', '+15005550001', '{}'),
  ('rate', 'sms', 'twilio', 'http://127.0.0.1:$ST/rate', '$AC', 'SECRET-twilio-rate', '+15005550001', '{"rate_per_second": 2}');
INSERT INTO collect.outbox (practice_id, patient_id, channel, to_address, body, send_after, idempotency_key)
  SELECT 'rate', 'a1', 'sms', '+15005550006', 'rate ' || g, now(), 'rate-' || g FROM generate_series(1, 6) g;

INSERT INTO collect.outbox (practice_id, patient_id, channel, step, to_address, subject, body, payload, send_after, idempotency_key) VALUES
  ('pr', 'a1', 'sms', 's1', '+15005550006', NULL, 'You have a balance of \$42.00. Reply STOP to opt out.', '{}', now(), 'pr-sms-1'),
  ('pr', 'a1', 'sms', 's2', '+15005550006', NULL, 'Pay at https://pay.example.com/p/x — gracias & <thanks>', '{}', now(), 'pr-sms-2'),
  ('pr', 'a1', 'voice', 'v1', '+15005550006', NULL, 'This is Clinic Billing calling about your balance.', '{}', now(), 'pr-voice-1'),
  ('pr', 'a1', 'email', 'e1', 'pat@example.com', 'Your statement', E'Hello,\nyou owe \$42.00.\nUnsubscribe: reply STOP', '{}', now(), 'pr-email-1'),
  ('pr', 'a1', 'email', 'e2', 'pat@example.com', NULL, 'No subject given', '{}', now(), 'pr-email-2'),
  ('e500', 'a1', 'sms', 's1', '+15005550006', NULL, 'x', '{}', now(), 'e500-1'),
  ('e400', 'a1', 'sms', 's1', '+15005550006', NULL, 'x', '{}', now(), 'e400-1'),
  ('r429', 'a1', 'sms', 's1', '+15005550006', NULL, 'x', '{}', now(), 'r429-1'),
  ('slow', 'a1', 'sms', 's1', '+15005550006', NULL, 'x', '{}', now(), 'slow-1'),
  ('drop', 'a1', 'sms', 's1', '+15005550006', NULL, 'x', '{}', now(), 'drop-1'),
  ('stripe', 'a1', 'charge', 'i1', NULL, NULL, NULL, '{"amount": "40.00", "currency": "usd", "description": "Installment 1 of 3"}', now(), 'stripe-ok'),
  ('stripe', 'cus_decline', 'charge', 'i1', NULL, NULL, NULL, '{"amount_cents": 2667}', now(), 'stripe-decline'),
  ('hook', 'a1', 'letter', 'l1', '1 Main St, Springfield', 'Statement', 'Statement body', '{"pages": 1}', now(), 'hook-letter'),
  ('hook', 'a1', 'letter', 'l2', 'http://localhost:$ST/hook/pm-callback', NULL, 'callback via allow-listed host', '{}', now(), 'hook-allowed'),
  ('hook', 'a1', 'letter', 'l3', 'http://evil.example.net/steal', NULL, 'not allowed', '{}', now(), 'hook-denied'),
  ('hook', 'a1', 'webhook', 'w1', NULL, NULL, 'to metadata', '{}', now(), 'hook-metadata'),
  ('poll', 'a1', 'sms', 's1', '+15005550006', NULL, 'poll me', '{}', now(), 'poll-1'),
  ('stop', 'optout', 'sms', 's1', '+15005550006', NULL, 'must not go', '{}', now(), 'stop-1'),
  ('stop', 'a1', 'sms', 's1', '+15005550006', NULL, 'may go', '{}', now(), 'stop-2'),
  ('stop', 'poison', 'sms', 's1', '+15005550006', NULL, 'rule check raises', '{}', now() + interval '3 s', 'poison-1'),
  ('stop', 'a1', 'sms', 's2', '+15005550006', NULL, 'queued behind the poison row', '{}', now() + interval '4 s', 'poison-2');
SQL

# everything settles: nothing queued or sending, the poll saw 'delivered'
wait_until 60 "SELECT count(*) FILTER (WHERE status IN ('queued','sending')) = 0
                  AND count(*) FILTER (WHERE status = 'delivered') = 1 FROM collect.outbox" prov || {
  psql -X -d prov -c "SELECT practice_id, idempotency_key, status, attempts, last_error FROM collect.outbox ORDER BY 1, 2"
  tail -30 "$D/pg/server.log"; exit 1; }
sleep 2.5   # one more poll round: inbound must not be handed over twice

pass=0; fail=0
check() {
  local got; got=$(psql -X -qAt -d prov -c "$2" 2>&1)
  if [ "$got" = t ]; then pass=$((pass + 1)); else fail=$((fail + 1)); log "FAIL: $1 (got: $got)"; fi
}
status_of() { echo "(SELECT status FROM collect.outbox WHERE idempotency_key = '$1')"; }

check "prism accepted every Twilio/SendGrid request" \
  "SELECT bool_and(status = 'sent' AND provider_ref IS NOT NULL OR channel = 'email' AND status = 'sent')
     FROM collect.outbox WHERE practice_id = 'pr'"
check "500: dead after 3 attempts with a delivery_failed task" \
  "SELECT status = 'dead' AND attempts = 3 AND last_error LIKE '%HTTP 500%' FROM collect.outbox WHERE idempotency_key = 'e500-1'"
check "delivery_failed task for the 500 patient" \
  "SELECT count(*) = 1 FROM collect.task WHERE practice_id = 'e500' AND kind = 'delivery_failed' AND status = 'open'
      AND summary LIKE '%3 attempt%'"
check "400: dead after 1 attempt, provider message kept" \
  "SELECT status = 'dead' AND attempts = 1 AND last_error LIKE '%HTTP 400%not a valid phone%' FROM collect.outbox WHERE idempotency_key = 'e400-1'"
check "429 then sent on attempt 2" "SELECT $(status_of r429-1) = 'sent' AND (SELECT attempts FROM collect.outbox WHERE idempotency_key = 'r429-1') = 2"
check "slow answer: timed out, then sent on attempt 2" "SELECT $(status_of slow-1) = 'sent' AND (SELECT attempts FROM collect.outbox WHERE idempotency_key = 'slow-1') = 2"
# A connection dropped before any answer is retried: by the worker (attempt
# 2), or by libcurl itself within attempt 1 when the dropped connection was
# a reused keep-alive one (it then reconnects once, as for any stale
# connection). Either way the message is sent, once.
check "dropped connection: sent on attempt 1 (curl reconnect) or 2 (worker retry)" \
  "SELECT $(status_of drop-1) = 'sent' AND (SELECT attempts BETWEEN 1 AND 2 FROM collect.outbox WHERE idempotency_key = 'drop-1')"
check "stripe success: sent with pi_ ref" "SELECT status = 'sent' AND provider_ref LIKE 'pi_%' FROM collect.outbox WHERE idempotency_key = 'stripe-ok'"
check "stripe decline: failed, not retried" \
  "SELECT status = 'failed' AND attempts = 1 AND last_error = 'insufficient_funds' FROM collect.outbox WHERE idempotency_key = 'stripe-decline'"
check "record_charge_result called once per charge with the outcome" \
  "SELECT count(*) = 2 AND bool_and((args->>'succeeded')::boolean = (args->>'failure' IS NULL))
          AND count(*) FILTER (WHERE args->>'ref' LIKE 'pi_%' AND (args->>'succeeded')::boolean) = 1
     FROM public.calls WHERE fn = 'charge'"
check "webhook letter and allow-listed callback sent" "SELECT $(status_of hook-letter) = 'sent' AND $(status_of hook-allowed) = 'sent'"
check "webhook to a host off the allow-list: dead, never requested" \
  "SELECT status = 'dead' AND last_error LIKE '%allow-list%' FROM collect.outbox WHERE idempotency_key = 'hook-denied'"
check "webhook to the metadata address: refused before connecting" \
  "SELECT status = 'dead' AND attempts = 1 AND last_error LIKE '%metadata%' FROM collect.outbox WHERE idempotency_key = 'hook-metadata'"
check "stop rule at send time: cancelled, logged as a contact attempt" \
  "SELECT $(status_of stop-1) = 'cancelled' AND $(status_of stop-2) = 'sent'
      AND EXISTS (SELECT 1 FROM collect.contact_attempt WHERE practice_id = 'stop' AND outcome = 'cancelled' AND detail LIKE '%opted out%')"
check "a row whose claim keeps failing is set aside (dead + task), the one behind it is sent" \
  "SELECT $(status_of poison-1) = 'dead' AND $(status_of poison-2) = 'sent'
      AND (SELECT last_error LIKE 'set aside: claiming it failed: division by zero%' FROM collect.outbox WHERE idempotency_key = 'poison-1')
      AND EXISTS (SELECT 1 FROM collect.task WHERE practice_id = 'stop' AND patient_id = 'poison' AND kind = 'delivery_failed')"
check "twilio status poll: delivered + contact attempt" \
  "SELECT $(status_of poll-1) = 'delivered'
      AND EXISTS (SELECT 1 FROM collect.contact_attempt WHERE practice_id = 'poll' AND outcome = 'delivered')"
check "inbound STOP fed to receive_sms exactly once" \
  "SELECT count(*) = 1 AND min(args->>'body') = 'STOP' AND min(args->>'from') = '+15005550077' AND min(args->>'to') = '+15005550002'
     FROM public.calls WHERE fn = 'sms' AND args->>'from' = '+15005550077'"
check "sent rows logged as contact attempts" \
  "SELECT count(*) >= 10 FROM collect.contact_attempt WHERE outcome = 'sent' AND actor = 'collect.worker'"
check "no secret in last_error, tasks or contact attempts" \
  "SELECT NOT EXISTS (SELECT 1 FROM collect.outbox WHERE last_error ILIKE '%SECRET%')
      AND NOT EXISTS (SELECT 1 FROM collect.task WHERE summary ILIKE '%SECRET%' OR details::text ILIKE '%SECRET%')
      AND NOT EXISTS (SELECT 1 FROM collect.contact_attempt WHERE detail ILIKE '%SECRET%')"
check "worker_status counts" \
  "SELECT sent >= 13 AND dead >= 4 AND errors >= 3 AND failed >= 1 AND cancelled >= 1 AND retried >= 4 AND state = 'running' FROM collect.worker_status"

# what the servers saw
stub_stats=$(curl -s "http://127.0.0.1:$ST/_stats")
log "stub: $stub_stats"
if grep -qE "SECRET-|sk_test_|whsec" "$D/pg/server.log"; then fail=$((fail + 1)); log "FAIL: a secret reached the server log"; else pass=$((pass + 1)); fi
if node -e "const s=JSON.parse(process.argv[1]); process.exit(s.stripe_invalid === 0 && s.hook_bad_signature === 0 && s.by_scenario.stripe === 2 ? 0 : 1)" "$stub_stats"; then
  pass=$((pass + 1)); else fail=$((fail + 1)); log "FAIL: stripe bodies invalid or webhook signatures bad"; fi
# the 429 retry waited for Retry-After (2 s)
if node -e "
  const l=require('fs').readFileSync(process.argv[1],'utf8').trim().split('\n').map(JSON.parse).filter(e=>e.scenario==='r429'&&e.method==='POST');
  process.exit(l.length===2 && l[1].t-l[0].t>=2000 ? 0 : 1)" "$D/stub.log"; then
  pass=$((pass + 1)); else fail=$((fail + 1)); log "FAIL: 429 retry came before Retry-After"; fi
# Prism: no request refused (422 Twilio / 400 SendGrid), at least the 5 sends seen
bad=$(cat "$D/prism_twilio.log" "$D/prism_sendgrid.log" | grep -ciE 'Violation: request' || true)
validated=$(cat "$D/prism_twilio.log" "$D/prism_sendgrid.log" | grep -c 'passed the validation rules' || true)
log "prism validated $validated requests"
if [ "$bad" = 0 ] && [ "$validated" -ge 5 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); log "FAIL: prism reported $bad violations"; grep -iE 'Violation: request' "$D"/prism_*.log | head -20 >&2; fi

# rate limit 2/s: 6 messages spread over >= 1.5 s, none charged an attempt for waiting
check "rate-limited messages all sent on their first attempt" \
  "SELECT count(*) = 6 AND bool_and(status = 'sent' AND attempts = 1) FROM collect.outbox WHERE practice_id = 'rate'"
if node -e "
  const l=require('fs').readFileSync(process.argv[1],'utf8').trim().split('\n').map(JSON.parse).filter(e=>e.scenario==='rate'&&e.method==='POST');
  process.exit(l.length===6 && l[5].t-l[0].t>=1500 ? 0 : 1)" "$D/stub.log"; then
  pass=$((pass + 1)); else fail=$((fail + 1)); log "FAIL: rate limit not applied"; fi

# lifecycle: waited quietly for the database and the extension
for line in 'database "prov" (collect.database) does not exist; waiting' 'extension collect is not installed in database "prov"; waiting'; do
  if grep -qF "$line" "$D/pg/server.log"; then pass=$((pass + 1)); else fail=$((fail + 1)); log "FAIL: no log line: $line"; fi
done
# SIGHUP: collect.worker_enabled = off is picked up on reload, on again after
psql_q prov "ALTER SYSTEM SET collect.worker_enabled = off" >/dev/null; psql_q prov "SELECT pg_reload_conf()" >/dev/null
if wait_until 10 "SELECT state = 'disabled' FROM collect.worker_status" prov; then pass=$((pass + 1)); else fail=$((fail + 1)); log "FAIL: SIGHUP reload"; fi
psql_q prov "ALTER SYSTEM RESET collect.worker_enabled" >/dev/null; psql_q prov "SELECT pg_reload_conf()" >/dev/null
if wait_until 10 "SELECT state = 'running' FROM collect.worker_status" prov; then pass=$((pass + 1)); else fail=$((fail + 1)); log "FAIL: re-enable"; fi
# SIGTERM: a clean exit (no crash restart of the cluster), back within seconds
old=$(psql_q prov "SELECT pid FROM collect.worker_status")
psql_q prov "SELECT pg_terminate_backend($old)" >/dev/null
if wait_until 15 "SELECT pid IS NOT NULL AND pid <> $old AND state = 'running' FROM collect.worker_status" prov \
   && ! grep -q 'terminated by signal\|terminating any other active server processes' "$D/pg/server.log"; then
  pass=$((pass + 1)); else fail=$((fail + 1)); log "FAIL: SIGTERM exit/restart"; fi

echo "RESULT worker_providers checks passed=$pass failed=$fail"
[ "$fail" = 0 ]
