-- Money is never created or lost, whatever happens: 60 patients on plans
-- through collect.tick twice a day for 8 months, with a simulated payment
-- provider answering every charge at random (75% success), random manual
-- payments (some more than the balance), random reversals. Seeded. At
-- the end every invariant below must hold.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SELECT setseed(0.4242);

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Clinic', 'America/New_York');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, sms_consent)
  SELECT 'p1', 'pt' || i, 'P' || i, '+1555555' || lpad(i::text, 4, '0'), random() < 0.8 FROM generate_series(1, 60) i;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  SELECT 'p1', 'pt' || i, 'c' || i, 'charge', round((50 + random() * 1950)::numeric, 2), '2025-12-01 15:00Z'
    FROM generate_series(1, 60) i;
INSERT INTO collect.payment_method (practice_id, patient_id, provider_customer, provider_method, consent_at)
  SELECT 'p1', 'pt' || i, 'cus_' || i, 'pm_' || i, '2025-12-01 15:00Z' FROM generate_series(1, 60) i WHERE random() < 0.67;
SELECT count(collect.create_plan('p1', patient_id, CASE WHEN random() < 0.2 THEN 2 + floor(random() * 10)::int END,
                                 NULL, '2025-12-20 15:00Z')) AS plans
  FROM collect.patient ORDER BY 1;
SELECT count(collect.approve_plan(plan_id, 'manager', '2025-12-21 15:00Z')) AS approved
  FROM collect.plan WHERE status = 'pending_approval';

DO $sim$
DECLARE
  day int; at timestamptz; m record; p record; n int := 0;
BEGIN
  FOR day IN 0 .. 239 LOOP
    FOREACH at IN ARRAY ARRAY[timestamptz '2026-01-01 15:00Z' + day * interval '1 day',
                              timestamptz '2026-01-01 22:00Z' + day * interval '1 day'] LOOP
      PERFORM collect.tick(at);
      -- the provider answers every charge sent
      FOR m IN SELECT message_id FROM collect.outbox WHERE channel = 'charge' AND status = 'queued' AND send_after <= at
               ORDER BY message_id LOOP
        UPDATE collect.outbox SET status = 'sent', sent_at = at WHERE practice_id = 'p1' AND message_id = m.message_id;
        IF random() < 0.75 THEN
          PERFORM collect.record_charge_result('p1', m.message_id, true, 'pi_' || m.message_id, NULL, at + interval '1 minute');
          IF random() < 0.1 THEN  -- the worker reports the same answer twice
            PERFORM collect.record_charge_result('p1', m.message_id, true, 'pi_' || m.message_id, NULL, at + interval '2 minutes');
          END IF;
        ELSE
          PERFORM collect.record_charge_result('p1', m.message_id, false, NULL, 'card_declined', at + interval '1 minute');
        END IF;
      END LOOP;
    END LOOP;
    -- patients pay by hand now and then (sometimes more than they owe); a few payments bounce
    FOR p IN SELECT patient_id, balance FROM collect.account WHERE balance > 0 ORDER BY patient_id LOOP
      IF random() < 0.02 THEN
        n := n + 1;
        INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, method)
          VALUES ('p1', p.patient_id, 'manual' || n, 'payment',
                  greatest(0.01, round((p.balance * (0.1 + random())) :: numeric, 2)),
                  timestamptz '2026-01-01 20:00Z' + day * interval '1 day', 'card');
      ELSIF random() < 0.003 THEN
        n := n + 1;
        INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, method)
          SELECT 'p1', p.patient_id, 'bounce' || n, 'reversal', l.amount, timestamptz '2026-01-01 20:00Z' + day * interval '1 day', 'autopay'
            FROM collect.ledger l WHERE l.patient_id = p.patient_id AND l.method = 'autopay' ORDER BY l.entry_id DESC LIMIT 1;
      END IF;
    END LOOP;
  END LOOP;
END
$sim$;

-- what happened (the spread of the run)
SELECT status, count(*) FROM collect.plan GROUP BY status ORDER BY status;
SELECT (SELECT count(*) FROM collect.outbox WHERE channel = 'charge') AS charges,
       (SELECT count(*) FROM collect.ledger WHERE method = 'autopay' AND kind = 'payment') AS autopay_payments,
       (SELECT count(*) FROM collect.installment WHERE missed_at IS NOT NULL) AS missed,
       (SELECT count(*) FROM collect.installment WHERE paid_by = 'payment') AS paid_by_hand,
       (SELECT count(*) FROM collect.ledger WHERE kind = 'reversal') AS reversals,
       (SELECT count(*) FROM collect.account WHERE balance < 0) AS in_credit;

-- invariants: each is a count of violations (all 0)
SELECT
  (SELECT coalesce(sum(charged_amount), 0) FROM collect.installment)
    - (SELECT coalesce(sum(amount), 0) FROM collect.ledger WHERE method = 'autopay' AND kind = 'payment') AS charged_minus_autopay_rows,
  (SELECT count(*) FROM collect.ledger l WHERE l.method = 'autopay' AND l.kind = 'payment'
      AND NOT EXISTS (SELECT 1 FROM collect.outbox o WHERE o.channel = 'charge' AND 'autopay:' || o.idempotency_key = l.external_id
                        AND (o.payload->>'amount')::bigint = (l.amount * 100)::bigint)) AS autopay_rows_without_their_charge,
  (SELECT count(*) FROM collect.account a
    WHERE a.balance <> (SELECT sum(CASE WHEN l.kind IN ('charge', 'refund', 'reversal') THEN l.amount ELSE -l.amount END)
                          FROM collect.ledger l WHERE l.practice_id = a.practice_id AND l.patient_id = a.patient_id)) AS balances_off,
  (SELECT count(*) FROM collect.plan p
    WHERE p.total <> (SELECT sum(amount) FROM collect.installment i WHERE i.practice_id = p.practice_id AND i.plan_id = p.plan_id)) AS plans_not_summing,
  (SELECT count(*) FROM collect.plan p
    WHERE (SELECT coalesce(sum(paid_amount), 0) FROM collect.installment i
            WHERE i.practice_id = p.practice_id AND i.plan_id = p.plan_id AND i.status = 'paid' AND i.paid_by <> 'autopay')
          > (SELECT coalesce(sum(CASE WHEN l.kind = 'payment' THEN l.amount ELSE -l.amount END), 0)
               FROM collect.ledger l WHERE l.practice_id = p.practice_id AND l.patient_id = p.patient_id
                AND l.kind IN ('payment', 'reversal') AND l.posted_at >= p.credit_from)) AS paid_without_money,
  (SELECT count(*) FROM collect.installment WHERE attempts > 2) AS over_retried,
  (SELECT count(*) FROM collect.outbox o WHERE o.channel = 'charge'
      AND (o.payload->>'amount')::bigint > (SELECT (i.amount * 100)::bigint FROM collect.installment i
                                             WHERE i.plan_id = (o.payload->>'plan_id')::bigint AND i.seq = (o.payload->>'seq')::int)) AS charged_above_installment,
  (SELECT count(*) FROM collect.outbox o JOIN collect.installment i
      ON i.plan_id = (o.payload->>'plan_id')::bigint AND i.seq = (o.payload->>'seq')::int
    WHERE o.channel = 'charge' AND o.send_after < ((i.due_date + time '09:00') AT TIME ZONE 'America/New_York')) AS charged_before_due,
  (SELECT count(*) FROM collect.outbox o JOIN collect.plan p ON o.step LIKE 'plan:' || p.plan_id || ':%'
    WHERE o.status = 'queued' AND p.status <> 'active' AND o.step NOT LIKE '%:defaulted') AS queued_for_ended_plans,
  (SELECT count(*) FROM collect.plan p WHERE p.status = 'defaulted'
      AND (SELECT count(*) FROM collect.installment i WHERE i.plan_id = p.plan_id AND i.missed_at IS NOT NULL) < 2) AS defaulted_without_two_misses,
  (SELECT count(*) FROM collect.plan p WHERE p.status = 'active'
      AND (SELECT count(*) FROM collect.installment i WHERE i.plan_id = p.plan_id AND i.status = 'failed' AND i.missed_at IS NOT NULL) >= 2) AS active_with_two_misses,
  (SELECT count(*) FROM collect.plan p JOIN collect.account a USING (practice_id, patient_id)
    WHERE p.status = 'active' AND a.state <> 'on_plan') AS active_plan_not_on_plan;
