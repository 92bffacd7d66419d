#!/usr/bin/env bash
# replies_llm.sh: the optional LLM fallback for replies the rules leave
# unknown, against a local OpenAI-compatible stub (test/stub/llm_stub.js).
# Without an llm provider nothing is asked; with one, the worker sends the
# reply text only (no name, phone, e-mail or practice), applies a label
# from the fixed list like any other intent (a plan quote for "Plan."),
# ends a label outside the list as unknown, retries after a 500, and never
# asks about replies the rules classified.
source "$(dirname "$0")/../lib.sh"
build_install
command -v node >/dev/null || ensure_packages nodejs

D=$(scratch_dir)
STUB=
cleanup() { [ -n "$STUB" ] && kill "$STUB" 2>/dev/null; cluster_stop "$D/pg"; [ "${KEEP:-0}" = 1 ] || rm -rf "$D"; }
trap cleanup EXIT
node "$ROOT/test/stub/llm_stub.js" "$D/port" "$D/requests.log" > "$D/stub.out" 2>&1 & STUB=$!
cluster_start "$D/pg" "collect.database = 'llm'" "collect.worker_idle_timeout = 1" "collect.worker_poll_interval = 1"
for _ in $(seq 100); do [ -s "$D/port" ] && break; sleep 0.1; done
[ -s "$D/port" ] || { cat "$D/stub.out"; exit 1; }
PORT=$(cat "$D/port")
createdb llm
fail=0
check() { [ "$2" = "$3" ] && echo "ok   $1" || { echo "FAIL $1: got '$2', want '$3'"; fail=1; }; }

psql -X -q -v ON_ERROR_STOP=1 -d llm <<SQL
CREATE EXTENSION collect CASCADE;
INSERT INTO collect.practice (practice_id, name, timezone) VALUES
  ('withllm', 'Lakeside Pediatrics', 'America/Chicago'), ('nollm', 'Hillside Dental', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, last_name, phone, email, sms_consent, email_consent)
SELECT pr, 'pat', 'Rosalind', 'Quennell', '+15557770101', 'rosalind.q@example.com', true, true
  FROM unnest(ARRAY['withllm', 'nollm']) pr;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT pr, 'pat', 'c1', 'charge', 420, now() - interval '20 days' FROM unnest(ARRAY['withllm', 'nollm']) pr;
INSERT INTO collect.provider (practice_id, channel, kind, base_url, secret, settings)
VALUES ('withllm', 'llm', 'llm', 'http://127.0.0.1:$PORT', 'KEY-llm-test', '{"model": "stub-model"}');
SQL

q() { psql_q llm "$1"; }
# off by default: a practice without the provider keeps unknown and asks nobody
check "no provider: unknown" "$(q "SELECT collect.receive_reply('nollm', 'pat', 'sms', 'my cousin handles my mail', now())")" unknown
check "no provider: not pending" "$(q "SELECT coalesce(llm_status, 'none') FROM collect.reply WHERE practice_id = 'nollm'")" none
# with the provider: the rules answer first; only unknown replies wait for the model
check "rules first" "$(q "SELECT collect.receive_reply('withllm', 'pat', 'sms', 'what is this bill for?', now() - interval '3 hours')")" question
check "cousin: unknown at first" "$(q "SELECT collect.receive_reply('withllm', 'pat', 'sms', 'my cousin handles my mail', now() - interval '2 hours')")" unknown
q "SELECT collect.receive_reply('withllm', 'pat', 'sms', 'purple elephant on the roof', now() - interval '1 hour')" >/dev/null
q "SELECT collect.receive_reply('withllm', 'pat', 'sms', 'flaky connection here, the purple thing', now())" >/dev/null
check "three pending" "$(q "SELECT count(*) FROM collect.reply WHERE llm_status = 'pending'")" 3

wait_until 30 "SELECT count(*) = 0 FROM collect.reply WHERE llm_status = 'pending'" llm \
  || { echo "FAIL replies still pending"; q "SELECT reply_id, body, llm_status FROM collect.reply"; tail -20 "$PGHOST/server.log"; fail=1; }
check "cousin -> plan by llm" "$(q "SELECT intent || ' ' || rule FROM collect.reply WHERE body LIKE 'my cousin%' AND practice_id = 'withllm'")" "plan llm"
check "plan applied: quote queued" "$(q "SELECT count(*) > 0 FROM collect.outbox WHERE practice_id = 'withllm' AND template = 'plan_quote'")" t
check "plan applied: asked_for_plan" "$(q "SELECT asked_for_plan FROM collect.account WHERE practice_id = 'withllm'")" t
check "label outside the list -> unknown" "$(q "SELECT intent || ' ' || llm_status FROM collect.reply WHERE body LIKE 'purple%'")" "unknown done"
check "500 then retried -> question" "$(q "SELECT intent FROM collect.reply WHERE body LIKE 'flaky%'")" question
check "audited" "$(q "SELECT count(*) FROM collect.audit_log WHERE actor = 'collect.apply_llm_intent'")" 3
check "applied once" "$(q "SELECT collect.apply_llm_intent('withllm', reply_id, 'stop') IS NULL FROM collect.reply WHERE body LIKE 'my cousin%' AND practice_id = 'withllm'")" t

# what the stub saw: 4 requests (one retry), the key as Bearer, the model from settings, no PHI
check "requests" "$(wc -l < "$D/requests.log")" 4
check "path" "$(grep -c '"path":"/v1/chat/completions"' "$D/requests.log")" 4
check "bearer key" "$(grep -c '"auth":"Bearer KEY-llm-test"' "$D/requests.log")" 4
check "model" "$(grep -c 'stub-model' "$D/requests.log")" 4
check "no PHI" "$(grep -ciE 'Rosalind|Quennell|5557770101|example.com|Lakeside|withllm|420' "$D/requests.log")" 0
check "classified replies never asked" "$(grep -c 'what is this bill' "$D/requests.log")" 0
echo "RESULT replies_llm: $(q "SELECT string_agg(body || ' -> ' || intent, '; ' ORDER BY reply_id) FROM collect.reply WHERE practice_id = 'withllm'")"
echo "RESULT replies_llm $([ $fail = 0 ] && echo pass || echo FAIL)"
exit $fail
