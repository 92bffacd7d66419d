-- Autopay over a plan's life, in America/New_York across the March DST
-- change: reminders plan_reminder_days_before each due date, a charge row
-- at 09:00 local on the due date, results posted back, the retry exactly
-- payment_retry_after_hours later, then a payment_failed task and a
-- gentle message, and a default after two missed installments. Money is
-- never created or lost: installments paid by autopay = autopay ledger rows.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice (practice_id, name, timezone, policy)
  VALUES ('p1', 'Clinic', 'America/New_York', '{"plan_day_of_month": 8}');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, sms_consent)
  VALUES ('p1', 'ann', 'Ann', '+15555550101', true), ('p1', 'bob', 'Bob', '+15555550102', true);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'ann', 'c1', 'charge', 300.00, '2026-01-05 15:00Z'),
         ('p1', 'bob', 'c2', 'charge', 200.00, '2026-01-05 15:00Z');
INSERT INTO collect.payment_method (practice_id, patient_id, provider_customer, provider_method, consent_at, consent_source)
  VALUES ('p1', 'ann', 'cus_ann', 'pm_ann', '2026-01-20 15:00Z', 'front desk form'),
         ('p1', 'bob', 'cus_bob', 'pm_bob', '2026-01-20 15:00Z', 'pay page');
SELECT collect.create_plan('p1', 'ann', NULL, NULL, '2026-01-20 15:00Z') AS ann_plan,
       collect.create_plan('p1', 'bob', 2, NULL, '2026-01-20 15:00Z') AS bob_plan;
SELECT plan_id, seq, due_date, amount FROM collect.installment ORDER BY plan_id, seq;

-- reminders: on the local day 2 days before (Feb 6 starts at 05:00Z in New York)
SELECT collect.plans_tick('2026-02-06 04:59Z') AS before_local_midnight;
SELECT collect.plans_tick('2026-02-06 05:00Z') AS at_local_midnight;
SELECT collect.plans_tick('2026-02-06 05:00Z') AS same_as_of_again;
SELECT patient_id, template, step, send_after FROM collect.outbox WHERE step LIKE '%reminder' ORDER BY message_id;

-- the first charge: 09:00 EST on Feb 8 = 14:00Z
SELECT collect.plans_tick('2026-02-08 13:59Z') AS before_nine;
SELECT collect.plans_tick('2026-02-08 14:00Z') AS at_nine;
SELECT patient_id, channel, step, to_address, send_after, idempotency_key, payload
  FROM collect.outbox WHERE channel = 'charge' ORDER BY message_id;
SELECT collect.plans_tick('2026-02-08 14:00Z') AS same_as_of_again;

-- the provider answers: both succeed (and the worker repeats one answer)
SELECT message_id AS ann1 FROM collect.outbox WHERE step = 'plan:1:1:charge:1' \gset
SELECT message_id AS bob1 FROM collect.outbox WHERE step = 'plan:2:1:charge:1' \gset
SELECT collect.record_charge_result('p1', :ann1, true, 'pi_ann_1', NULL, '2026-02-08 14:01Z');
SELECT collect.record_charge_result('p1', :ann1, true, 'pi_ann_1', NULL, '2026-02-08 14:02Z');
SELECT collect.record_charge_result('p1', :bob1, true, 'pi_bob_1', NULL, '2026-02-08 14:01Z');
SELECT patient_id, external_id, kind, amount, posted_at, method FROM collect.ledger WHERE method = 'autopay' ORDER BY entry_id;
SELECT plan_id, seq, status, paid_at, paid_amount, paid_by, attempts FROM collect.installment WHERE seq = 1 ORDER BY plan_id;
SELECT patient_id, balance, state FROM collect.account ORDER BY patient_id;

-- March 8 is the DST change: 09:00 EDT = 13:00Z
SELECT collect.plans_tick('2026-03-06 05:00Z') AS march_reminders;
SELECT collect.plans_tick('2026-03-08 12:59Z') AS before_nine_edt;
SELECT collect.plans_tick('2026-03-08 13:00Z') AS at_nine_edt;
SELECT patient_id, step, send_after FROM collect.outbox WHERE channel = 'charge' AND step LIKE '%:2:charge:1' ORDER BY message_id;
SELECT message_id AS ann2 FROM collect.outbox WHERE step = 'plan:1:2:charge:1' \gset
SELECT message_id AS bob2 FROM collect.outbox WHERE step = 'plan:2:2:charge:1' \gset
-- Bob's last installment succeeds: his plan completes, his account closes
SELECT collect.record_charge_result('p1', :bob2, true, 'pi_bob_2', NULL, '2026-03-08 13:02Z');
SELECT status FROM collect.plan WHERE plan_id = 2;
SELECT balance, state FROM collect.account WHERE patient_id = 'bob';
-- Ann's card is declined: retry 48 hours later, to the minute
SELECT collect.record_charge_result('p1', :ann2, false, NULL, 'card_declined', '2026-03-08 13:05Z');
SELECT collect.record_charge_result('p1', :ann2, false, NULL, 'card_declined', '2026-03-08 13:05Z');  -- repeated answer
SELECT seq, status, attempts, failed_at, charge_after, missed_at, last_error FROM collect.installment WHERE plan_id = 1 AND seq = 2;
SELECT collect.plans_tick('2026-03-10 13:04Z') AS at_47h59m;
SELECT collect.plans_tick('2026-03-10 13:05Z') AS at_48h;
SELECT step, send_after, idempotency_key, payload->>'attempt' AS attempt, payload->>'amount' AS amount
  FROM collect.outbox WHERE step LIKE 'plan:1:2:charge:%' ORDER BY message_id;
-- the retry fails too: a payment_failed task and a gentle message
SELECT message_id AS ann2b FROM collect.outbox WHERE step = 'plan:1:2:charge:2' \gset
SELECT collect.record_charge_result('p1', :ann2, false, NULL, 'late answer to the old attempt', '2026-03-10 13:06Z');
SELECT collect.record_charge_result('p1', :ann2b, false, NULL, 'insufficient_funds', '2026-03-10 13:07Z');
SELECT seq, status, attempts, charge_after, missed_at, last_error FROM collect.installment WHERE plan_id = 1 AND seq = 2;
SELECT kind, status, due_at, summary LIKE '%Recommend a call to update the card or take the payment: autopay for installment 2 of plan 1 ($100.00) failed 2 times (insufficient_funds).' AS says_why FROM collect.task;
SELECT template, step FROM collect.outbox WHERE step = 'plan:1:2:failed';
SELECT status FROM collect.plan WHERE plan_id = 1;

-- April: the third installment fails twice as well: the second miss defaults the plan
SELECT collect.plans_tick('2026-04-08 13:00Z') AS april_charge;
SELECT message_id AS ann3 FROM collect.outbox WHERE step = 'plan:1:3:charge:1' \gset
SELECT collect.record_charge_result('p1', :ann3, false, NULL, 'card_declined', '2026-04-08 13:01Z');
SELECT collect.plans_tick('2026-04-10 13:01Z') AS april_retry;
SELECT message_id AS ann3b FROM collect.outbox WHERE step = 'plan:1:3:charge:2' \gset
SELECT collect.record_charge_result('p1', :ann3b, false, NULL, 'card_declined', '2026-04-10 13:02Z');
SELECT collect.plans_tick('2026-04-10 13:03Z') AS defaults;
SELECT collect.plans_tick('2026-04-10 13:03Z') AS same_as_of_again;
SELECT status, ended_at FROM collect.plan WHERE plan_id = 1;
SELECT balance, state, next_action_at, cadence_step FROM collect.account WHERE patient_id = 'ann';
SELECT template, step, status FROM collect.outbox WHERE step = 'plan:1:defaulted';
-- the clock's cadence pass takes the account from there, at its firmest step
SELECT collect.tick('2026-04-10 14:00Z') AS cadence_actions;
SELECT channel, template, status FROM collect.outbox WHERE patient_id = 'ann' AND step LIKE 'cadence:%';
SELECT state, cadence_step FROM collect.account WHERE patient_id = 'ann';
SELECT count(*) FILTER (WHERE status = 'queued') AS queued_plan_rows_left
  FROM collect.outbox WHERE patient_id = 'ann' AND step LIKE 'plan:1:%' AND step NOT LIKE '%defaulted';

-- money: every cent charged is on the ledger once, and matches the installments paid by autopay
SELECT (SELECT sum(charged_amount) FROM collect.installment) AS charged_for_installments,
       (SELECT sum(amount) FROM collect.ledger WHERE method = 'autopay') AS autopay_rows,
       (SELECT count(*) FROM collect.ledger WHERE method = 'autopay') AS autopay_row_count;
SELECT bool_and(a.balance = (SELECT sum(CASE WHEN l.kind IN ('charge', 'refund', 'reversal') THEN l.amount ELSE -l.amount END)
                               FROM collect.ledger l WHERE l.practice_id = a.practice_id AND l.patient_id = a.patient_id))
       AS balances_match_ledger FROM collect.account a;

-- a failure 10:00 EST the day before the change is retried 48 elapsed hours later (11:00 EDT)
INSERT INTO collect.patient (practice_id, patient_id, first_name) VALUES ('p1', 'cy', 'Cy');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'cy', 'c3', 'charge', 90.00, '2026-01-05 15:00Z');
INSERT INTO collect.payment_method (practice_id, patient_id, provider_customer, provider_method, consent_at)
  VALUES ('p1', 'cy', 'cus_cy', 'pm_cy', '2026-01-20 15:00Z');
SELECT collect.create_plan('p1', 'cy', 1, '2026-03-07', '2026-02-20 15:00Z') AS cy_plan \gset
SELECT collect.plans_tick('2026-03-07 14:00Z') AS cy_charge;
SELECT message_id AS cy1 FROM collect.outbox WHERE step = 'plan:' || :cy_plan || ':1:charge:1' \gset
SELECT collect.record_charge_result('p1', :cy1, false, NULL, 'processing_error', '2026-03-07 15:00Z');
SELECT charge_after, charge_after AT TIME ZONE 'America/New_York' AS local_retry FROM collect.installment WHERE plan_id = :cy_plan;
SELECT collect.plans_tick('2026-03-09 14:59Z') AS at_47h59m, collect.plans_tick('2026-03-09 15:00Z') AS at_48h;

-- the plan is cancelled while its retry is out: a late failure changes nothing, no task, no message
SELECT message_id AS cy2 FROM collect.outbox WHERE step = 'plan:' || :cy_plan || ':1:charge:2' \gset
SELECT collect.cancel_plan(:cy_plan, 'front.desk', '2026-03-09 15:01Z');
SELECT collect.record_charge_result('p1', :cy2, false, NULL, 'card_declined', '2026-03-09 15:02Z');
SELECT status, attempts, missed_at, last_error FROM collect.installment WHERE plan_id = :cy_plan;
SELECT count(*) AS cy_tasks FROM collect.task WHERE patient_id = 'cy';

-- errors (each followed by its SQLSTATE)
SELECT collect.record_charge_result('p1', 999999, true, 'x', NULL, '2026-04-10 13:03Z');   -- unknown message
\echo :LAST_ERROR_SQLSTATE
SELECT message_id AS sms FROM collect.outbox WHERE channel = 'sms' ORDER BY message_id LIMIT 1 \gset
SELECT collect.record_charge_result('p1', :sms, true, 'x', NULL, '2026-04-10 13:03Z');     -- not a charge
\echo :LAST_ERROR_SQLSTATE
SELECT collect.record_charge_result('p1', :sms, NULL, 'x', NULL, '2026-04-10 13:03Z');     -- null
\echo :LAST_ERROR_SQLSTATE
