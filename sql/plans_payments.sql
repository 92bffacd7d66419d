-- Payments and plans: a partial payment with a "rest next month" request
-- becomes a plan for the remainder; paying ahead settles the next
-- installments (and a part-payment comes off the next autopay charge);
-- paying the whole balance completes the plan and cancels its queued
-- reminders and charges; unpaid installments of a plan without a card
-- are missed after the grace and two misses default the plan.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Clinic', 'America/Los_Angeles');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, sms_consent)
  SELECT 'p1', n, initcap(n), '+1555555' || lpad(i::text, 4, '0'), true
    FROM unnest(ARRAY['ann', 'bob', 'cy', 'dee', 'eve', 'fay']) WITH ORDINALITY u(n, i);

-- $215 due, $100 paid, "rest next month": a two-payment plan for $115
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'ann', 'a-c', 'charge', 215.00, '2026-01-05 18:00Z'),
         ('p1', 'ann', 'a-p', 'payment', 100.00, '2026-01-20 18:00Z');
SELECT collect.request_plan('p1', 'ann', NULL, '2026-01-21 18:00Z') AS ann_plan;
SELECT total, installments, status, source FROM collect.plan WHERE patient_id = 'ann';
SELECT seq, due_date, amount FROM collect.installment i JOIN collect.plan p USING (practice_id, plan_id)
 WHERE p.patient_id = 'ann' ORDER BY seq;
SELECT collect.request_plan('p1', 'ann', NULL, '2026-01-22 18:00Z') AS same_plan_again;
-- without a recent partial payment the tiers decide
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'fay', 'f-c', 'charge', 215.00, '2025-10-05 18:00Z'),
         ('p1', 'fay', 'f-p', 'payment', 100.00, '2025-11-01 18:00Z');
SELECT collect.request_plan('p1', 'fay', NULL, '2026-01-21 18:00Z') AS fay_plan;
SELECT total, installments, source FROM collect.plan WHERE patient_id = 'fay';

-- paying ahead (no card): $200 of a $300 plan settles installments 1 and 2
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'bob', 'b-c', 'charge', 300.00, '2026-01-05 18:00Z');
SELECT collect.create_plan('p1', 'bob', NULL, NULL, '2026-01-06 18:00Z') AS bob_plan \gset
SELECT collect.plans_tick('2026-01-13 18:00Z') AS first_reminder;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'bob', 'b-p1', 'payment', 200.00, '2026-01-14 18:00Z');
SELECT collect.plans_tick('2026-01-14 18:05Z') AS settled;
SELECT seq, due_date, status, paid_amount, paid_by FROM collect.installment WHERE plan_id = :bob_plan ORDER BY seq;
SELECT step, status, last_error FROM collect.outbox WHERE patient_id = 'bob' AND step LIKE '%reminder' ORDER BY message_id;
-- no reminder for the settled second installment; the third one is reminded as usual
SELECT collect.plans_tick('2026-02-13 18:00Z') AS feb_tick, collect.plans_tick('2026-03-13 18:00Z') AS mar_tick;
SELECT step FROM collect.outbox WHERE patient_id = 'bob' AND step LIKE '%reminder' ORDER BY message_id;
SELECT status FROM collect.plan WHERE plan_id = :bob_plan;

-- autopay with a part-payment: $30 paid ahead comes off the next charge
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'cy', 'c-c', 'charge', 300.00, '2026-01-05 18:00Z');
INSERT INTO collect.payment_method (practice_id, patient_id, provider_customer, provider_method, consent_at)
  VALUES ('p1', 'cy', 'cus_cy', 'pm_cy', '2026-01-05 18:00Z');
SELECT collect.create_plan('p1', 'cy', NULL, NULL, '2026-01-06 18:00Z') AS cy_plan \gset
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'cy', 'c-p1', 'payment', 30.00, '2026-01-10 18:00Z');
SELECT collect.plans_tick('2026-01-15 17:00Z') AS charge_tick;  -- 09:00 PST
SELECT step, payload->>'amount' AS amount_cents FROM collect.outbox WHERE channel = 'charge' AND patient_id = 'cy';
SELECT message_id AS cy1 FROM collect.outbox WHERE step = 'plan:' || :cy_plan || ':1:charge:1' \gset
SELECT collect.record_charge_result('p1', :cy1, true, 'pi_cy_1', NULL, '2026-01-15 17:01Z');
SELECT seq, status, paid_amount, paid_by FROM collect.installment WHERE plan_id = :cy_plan ORDER BY seq;
SELECT balance FROM collect.account WHERE patient_id = 'cy';

-- paying the whole balance completes the plan and cancels what is queued
SELECT collect.plans_tick('2026-02-13 18:00Z') AS reminder;
SELECT collect.plans_tick('2026-02-15 17:00Z') AS charge;
SELECT step, status FROM collect.outbox WHERE patient_id = 'cy' AND status = 'queued' ORDER BY message_id;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'cy', 'c-p2', 'payment', 200.00, '2026-02-15 17:00:30Z');
SELECT status FROM collect.plan WHERE plan_id = :cy_plan;
SELECT count(*) FILTER (WHERE status = 'queued') AS queued_left,
       count(*) FILTER (WHERE status = 'cancelled' AND step LIKE '%plan:%') AS plan_rows_cancelled
  FROM collect.outbox WHERE patient_id = 'cy';
SELECT collect.plans_tick('2026-02-15 17:05Z') AS settles_the_rest;
SELECT seq, status, paid_amount, paid_by FROM collect.installment WHERE plan_id = :cy_plan ORDER BY seq;
SELECT balance, state FROM collect.account WHERE patient_id = 'cy';
SELECT collect.plans_tick('2026-03-15 17:05Z') AS nothing_more_for_cy;
SELECT count(*) AS cy_charges FROM collect.outbox WHERE patient_id = 'cy' AND channel = 'charge';

-- no card and no payment: missed 48 hours after 09:00 local on the due date; two misses default
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'dee', 'd-c', 'charge', 400.00, '2026-01-05 18:00Z');
SELECT collect.create_plan('p1', 'dee', 4, NULL, '2026-01-06 18:00Z') AS dee_plan \gset
SELECT collect.plans_tick('2026-01-17 16:59Z') AS at_47h59m, collect.plans_tick('2026-01-17 17:00Z') AS at_48h;
SELECT seq, status, missed_at FROM collect.installment WHERE plan_id = :dee_plan AND seq = 1;
SELECT status FROM collect.plan WHERE plan_id = :dee_plan;
SELECT collect.plans_tick('2026-02-17 17:00Z') AS second_miss_and_default;
SELECT status FROM collect.plan WHERE plan_id = :dee_plan;
SELECT state, cadence_step FROM collect.account WHERE patient_id = 'dee';
-- the history now needs a manager for the next plan
SELECT collect.create_plan('p1', 'dee', NULL, NULL, '2026-02-18 17:00Z') AS dee_plan_2 \gset
SELECT status, approval_note FROM collect.plan WHERE plan_id = :dee_plan_2;

-- new charges after a plan: the plan completes when its installments are paid, the rest goes to the cadence
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'eve', 'e-c', 'charge', 100.00, '2026-01-05 18:00Z');
SELECT collect.create_plan('p1', 'eve', 2, NULL, '2026-01-06 18:00Z') AS eve_plan \gset
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'eve', 'e-c2', 'charge', 80.00, '2026-01-08 18:00Z'),
         ('p1', 'eve', 'e-p', 'payment', 100.00, '2026-01-09 18:00Z');
SELECT collect.plans_tick('2026-01-09 18:05Z') AS completes;
SELECT status FROM collect.plan WHERE plan_id = :eve_plan;
SELECT balance, state FROM collect.account WHERE patient_id = 'eve';

-- a payment posted with a later posted_at counts from that time on, not before (fay's first
-- installment was missed by the March ticks above; the clock may be replayed earlier)
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'fay', 'f-p2', 'payment', 38.34, '2026-01-25 18:00Z');
SELECT collect.plans_tick('2026-01-24 18:00Z') AS before_it_counts;
SELECT i.seq, i.status FROM collect.installment i JOIN collect.plan p USING (practice_id, plan_id) WHERE p.patient_id = 'fay' AND i.seq = 1;
SELECT settle_pending FROM collect.plan WHERE patient_id = 'fay';
SELECT collect.plans_tick('2026-01-25 18:00Z') AS when_it_counts;
SELECT i.seq, i.status, i.paid_by FROM collect.installment i JOIN collect.plan p USING (practice_id, plan_id) WHERE p.patient_id = 'fay' AND i.seq = 1;
SELECT settle_pending FROM collect.plan WHERE patient_id = 'fay';

-- money: the ledger and the accounts agree after everything above
SELECT bool_and(a.balance = (SELECT sum(CASE WHEN l.kind IN ('charge', 'refund', 'reversal') THEN l.amount ELSE -l.amount END)
                               FROM collect.ledger l WHERE l.practice_id = a.practice_id AND l.patient_id = a.patient_id))
       AS balances_match_ledger FROM collect.account a;
SELECT bool_and(p.total = (SELECT sum(amount) FROM collect.installment i WHERE i.practice_id = p.practice_id AND i.plan_id = p.plan_id))
       AS installments_sum_to_totals FROM collect.plan p;
SELECT (SELECT sum(charged_amount) FROM collect.installment) AS charged_for_installments,
       (SELECT sum(amount) FROM collect.ledger WHERE method = 'autopay') AS autopay_rows;
-- no installment is paid without money: what installments consumed <= payments since each plan began
SELECT bool_and((SELECT coalesce(sum(paid_amount), 0) FROM collect.installment i
                  WHERE i.practice_id = p.practice_id AND i.plan_id = p.plan_id AND i.status = 'paid')
                <= (SELECT coalesce(sum(CASE WHEN l.kind = 'payment' THEN l.amount ELSE -l.amount END), 0)
                      FROM collect.ledger l WHERE l.practice_id = p.practice_id AND l.patient_id = p.patient_id
                       AND l.kind IN ('payment', 'reversal') AND l.posted_at >= p.credit_from)) AS never_paid_without_money
  FROM collect.plan p;

-- errors (each followed by its SQLSTATE)
SELECT collect.request_plan('p1', 'bob', 0, '2026-04-01 18:00Z');
\echo :LAST_ERROR_SQLSTATE
SELECT collect.request_plan('p1', 'nobody', NULL, '2026-04-01 18:00Z');
\echo :LAST_ERROR_SQLSTATE
SELECT collect.plans_tick(NULL);
\echo :LAST_ERROR_SQLSTATE
