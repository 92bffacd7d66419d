-- The plan pathway's messages as patients get them, in English and
-- Spanish, by SMS and e-mail: the right template, the amounts and dates
-- in the patient's language, and the opt-out line in every one.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Sunrise Dental', 'America/Phoenix');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, language, sms_consent, email_consent)
  VALUES ('p1', 'ann', 'Ann', '+15555550101', NULL, 'en', true, false),
         ('p1', 'ana', 'Ana', '+15555550102', NULL, 'es', true, false),
         ('p1', 'ed', 'Ed', NULL, 'ed@example.com', 'en', false, true),
         ('p1', 'eva', 'Eva', NULL, 'eva@example.com', 'es', false, true),
         ('p1', 'no', 'No', NULL, NULL, 'en', false, false);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  SELECT 'p1', patient_id, 'c-' || patient_id, 'charge', 300.00, '2025-06-01 18:00Z' FROM collect.patient;
INSERT INTO collect.payment_method (practice_id, patient_id, provider_customer, provider_method, consent_at)
  VALUES ('p1', 'ann', 'cus_1', 'pm_1', '2025-06-01 18:00Z'), ('p1', 'ana', 'cus_2', 'pm_2', '2025-06-01 18:00Z');
-- a plan offer first (the quote by message), then the plans
SELECT patient_id, collect.offer_plan('p1', patient_id, NULL, '2025-06-30 18:00Z') > 0 AS offered
  FROM collect.patient ORDER BY patient_id;
SELECT collect.offer_plan('p1', 'ann', NULL, '2025-06-30 19:00Z') > 0 AS same_day_again,
       (SELECT count(*) FROM collect.outbox WHERE patient_id = 'ann' AND template = 'plan_offer') AS ann_offers;
SELECT count(collect.create_plan('p1', patient_id, NULL, NULL, '2025-07-01 18:00Z')) AS plans FROM collect.patient;
SELECT collect.plans_tick('2025-07-13 18:00Z') AS reminders;
SELECT collect.plans_tick('2025-07-15 16:00Z') AS charges;   -- 09:00 in Phoenix (no DST)
SELECT collect.record_charge_result('p1', message_id, false, NULL, 'card_declined', '2025-07-15 16:05Z')
  FROM collect.outbox WHERE channel = 'charge' ORDER BY message_id;
SELECT collect.plans_tick('2025-07-17 16:05Z') AS retries;
SELECT collect.record_charge_result('p1', message_id, false, NULL, 'card_declined', '2025-07-17 16:06Z')
  FROM collect.outbox WHERE channel = 'charge' AND payload->>'attempt' = '2' ORDER BY message_id;
SELECT collect.record_event('p1', 'ed', 'hardship_approved', '{"outcome": "longer_term"}', '2025-07-20 18:00Z') IS NOT NULL AS ed_hardship,
       collect.record_event('p1', 'eva', 'hardship_approved', '{}', '2025-07-20 18:00Z') IS NOT NULL AS eva_pause;

-- pay-link signatures use the practice's random key: masked
SELECT patient_id, channel, template, subject, regexp_replace(body, 's=[0-9a-f]{64}', 's=<signature>') AS body
  FROM collect.outbox WHERE channel <> 'charge' ORDER BY patient_id, message_id;
-- every message carries the opt-out line of its channel and language
SELECT count(*) AS messages,
       count(*) FILTER (WHERE body LIKE '%Reply STOP to opt out.%' OR body LIKE '%Responda ALTO para no recibir más mensajes.%'
                           OR body LIKE '%reply STOP or UNSUBSCRIBE.%' OR body LIKE '%responda ALTO o BAJA.%') AS with_opt_out,
       count(*) FILTER (WHERE body LIKE '%{{%') AS unrendered
  FROM collect.outbox WHERE channel <> 'charge';
-- the patient without a channel gets no message, only the plan
SELECT count(*) AS messages_for_no FROM collect.outbox WHERE patient_id = 'no' AND channel <> 'charge';
-- the pause hardship is recorded for its review; the longer term made a hardship plan
SELECT patient_id, outcome, plan_id IS NOT NULL AS has_plan, review_at::date FROM collect.hardship ORDER BY hardship_id;
SELECT patient_id, state, hardship_until IS NOT NULL AS on_hold FROM collect.account WHERE patient_id IN ('ed', 'eva') ORDER BY 1;
