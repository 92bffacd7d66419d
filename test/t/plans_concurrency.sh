#!/usr/bin/env bash
# 6 pgbench clients for 15 s against 30 patients on plans: PM payments,
# collect.tick and collect.plans_tick side by side, and a simulated payment
# provider answering queued autopay charges (70% success). Afterwards: no
# deadlock in the server log, no failed transaction, and the money
# invariants of docs/plans.md hold (autopay money = autopay ledger rows,
# balances = ledger, installments sum to plan totals, no installment paid
# without money).
source "$(dirname "$0")/../lib.sh"
DB=t_plans_concurrency
SECONDS_TO_RUN=${CONCURRENCY_SECONDS:-15}
dropdb --if-exists "$DB"; createdb "$DB"
trap 'dropdb --if-exists "$DB"' EXIT
LOG=$PGHOST/server.log
deadlocks_before=$(grep -c 'deadlock detected' "$LOG" || true)

psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION collect;
INSERT INTO collect.practice VALUES ('c1', 'Plans Clinic', 'America/Denver');
INSERT INTO collect.patient (practice_id, patient_id, phone, sms_consent)
  SELECT 'c1', 'pt' || i, '+1555555' || lpad(i::text, 4, '0'), true FROM generate_series(1, 30) i;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  SELECT 'c1', 'pt' || i, 'c' || i, 'charge', 300 + i * 10, now() - interval '200 days' FROM generate_series(1, 30) i;
INSERT INTO collect.payment_method (practice_id, patient_id, provider_customer, provider_method, consent_at)
  SELECT 'c1', 'pt' || i, 'cus_' || i, 'pm_' || i, now() - interval '200 days' FROM generate_series(1, 30) i WHERE i % 3 <> 0;
-- plans made six months ago: every installment is due now, so ticks queue charges at once
SELECT count(collect.create_plan('c1', 'pt' || i, 6, NULL, now() - interval '190 days')) FROM generate_series(1, 30) i;
SELECT count(collect.approve_plan(plan_id, 'manager', now() - interval '189 days'))
  FROM collect.plan WHERE status = 'pending_approval';
SQL

W=$(scratch_dir)
cat > "$W/pay.sql" <<'SQL'
\set p random(1, 30)
\set cents random(100, 3000)
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('c1', 'pt' || :p, gen_random_uuid()::text, 'payment', :cents / 100.0, now() - interval '1 second');
SQL
cat > "$W/tick.sql" <<'SQL'
SELECT collect.tick(now());
SQL
cat > "$W/plans.sql" <<'SQL'
SELECT collect.plans_tick(now());
SQL
# the provider, as the worker does it: claim a queued charge (queued -> sending) in one
# transaction, then record the answer and finish the row in a second
cat > "$W/provider.sql" <<'SQL'
WITH m AS (SELECT practice_id, message_id FROM collect.outbox
            WHERE channel = 'charge' AND status = 'queued' ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED),
     u AS (UPDATE collect.outbox o SET status = 'sending' FROM m
            WHERE o.practice_id = m.practice_id AND o.message_id = m.message_id RETURNING o.message_id)
SELECT coalesce(max(message_id), 0) AS mid FROM u \gset
BEGIN;
UPDATE collect.outbox SET status = 'sent', sent_at = now() WHERE practice_id = 'c1' AND message_id = :mid AND status = 'sending';
SELECT collect.record_charge_result('c1', :mid, random() < 0.7, 'pi_' || :mid, 'card_declined', now()) WHERE :mid > 0;
COMMIT;
SQL
rc=0
pgbench -n -c 6 -j 2 -T "$SECONDS_TO_RUN" -f "$W/pay.sql@1" -f "$W/tick.sql@1" -f "$W/plans.sql@1" -f "$W/provider.sql@3" \
  "$DB" > "$W/pgbench.out" 2>&1 || rc=$?
grep -E 'number of transactions actually processed|number of failed|tps' "$W/pgbench.out" | sed 's/^/METRIC /'
if [ "$rc" -ne 0 ]; then cat "$W/pgbench.out"; exit 1; fi

read -r violations charged autopay plans_done < <(psql -X -qAt -F ' ' -d "$DB" <<'SQL'
SELECT
  (SELECT count(*) FROM collect.account a
    WHERE a.balance <> (SELECT sum(CASE WHEN l.kind IN ('charge', 'refund', 'reversal') THEN l.amount ELSE -l.amount END)
                          FROM collect.ledger l WHERE l.practice_id = a.practice_id AND l.patient_id = a.patient_id))
  + (SELECT count(*) FROM collect.plan p
      WHERE p.total <> (SELECT sum(amount) FROM collect.installment i WHERE i.practice_id = p.practice_id AND i.plan_id = p.plan_id))
  + (SELECT count(*) FROM collect.plan p
      WHERE (SELECT coalesce(sum(paid_amount), 0) FROM collect.installment i
              WHERE i.practice_id = p.practice_id AND i.plan_id = p.plan_id AND i.status = 'paid' AND i.paid_by <> 'autopay')
            > (SELECT coalesce(sum(CASE WHEN l.kind = 'payment' THEN l.amount ELSE -l.amount END), 0)
                 FROM collect.ledger l WHERE l.practice_id = p.practice_id AND l.patient_id = p.patient_id
                  AND l.kind IN ('payment', 'reversal') AND l.posted_at >= p.credit_from))
  + (SELECT count(*) FROM collect.installment WHERE attempts > 2),
  (SELECT coalesce(sum(charged_amount), 0) FROM collect.installment),
  (SELECT coalesce(sum(amount), 0) FROM collect.ledger WHERE method = 'autopay' AND kind = 'payment'),
  (SELECT count(*) FROM collect.plan WHERE status <> 'active');
SQL
)
deadlocks=$(( $(grep -c 'deadlock detected' "$LOG" || true) - deadlocks_before ))
echo "RESULT plans under concurrency: violations=$violations autopay_charged=$charged autopay_rows=$autopay plans_ended=$plans_done deadlocks=$deadlocks"
[ "$violations" = 0 ] && [ "$charged" = "$autopay" ] && [ "$deadlocks" = 0 ]
