-- replies_wiring: the dunning engine uses what a practice learned. The
-- propensity score picks gentle or firm wording and offers a plan from the
-- first step below 0.35; the channel bandit picks a due step's channel once
-- the segment has 20 scored touches, among the channels consent allows and
-- a call only after two unanswered digital attempts; the learned hour
-- places send_after. Without scores or evidence the cadence is unchanged.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;

INSERT INTO collect.practice (practice_id, name, timezone) VALUES
  ('w1', 'Tone Clinic', 'America/Chicago'), ('w2', 'Bandit Clinic', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent) VALUES
  ('w1', 'low', 'Lou', '+15553000001', 'low@example.com', true, true),
  ('w1', 'high', 'Hal', '+15553000002', 'high@example.com', true, true),
  ('w1', 'unscored', 'Una', '+15553000003', 'una@example.com', true, true),
  ('w1', 'evening', 'Eve', '+15553000004', 'eve@example.com', true, true),
  ('w2', 'texts', 'Tex', '+15553000011', 'tex@example.com', true, true),
  ('w2', 'no_digital', 'Nod', '+15553000012', NULL, false, false),
  ('w2', 'no_letter', 'Nol', '+15553000013', 'nol@example.com', true, true);
UPDATE collect.patient SET address_ok = false WHERE patient_id = 'no_letter';
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT practice_id, patient_id, 'c-' || patient_id, 'charge', 250, '2026-03-01 15:00Z' FROM collect.patient;
UPDATE collect.account SET risk_score = CASE patient_id WHEN 'low' THEN 0.1 WHEN 'high' THEN 0.9 END
 WHERE practice_id = 'w1' AND patient_id IN ('low', 'high');
-- Eve answers at 17:xx Chicago (23:xx UTC)
SELECT count(collect.learn_observe('w1', 'evening', 'reply', '2026-02-20 23:15Z'::timestamptz + d * interval '1 day')) FROM generate_series(1, 3) d;
-- Bandit Clinic: in its fresh segment letters paid, texts and e-mails did not, calls best of all
INSERT INTO collect.channel_arm (practice_id, segment, channel, successes, failures) VALUES
  ('w2', 'fresh', 'sms', 1, 40), ('w2', 'fresh', 'email', 1, 40), ('w2', 'fresh', 'letter', 25, 25), ('w2', 'fresh', 'call_task', 30, 5);

-- day 3 of the cadence, 08:00 Chicago: the sms step
SELECT collect.tick('2026-03-04 14:00Z') > 0 AS acted;
SELECT o.patient_id, o.channel, o.template, to_char(o.send_after AT TIME ZONE 'America/Chicago', 'HH24:MI') AS local_send,
       o.body LIKE '%Reply PLAN%' AS plan_offer
  FROM collect.outbox o WHERE o.step LIKE 'cadence:%' ORDER BY o.practice_id, o.patient_id;
SELECT t.patient_id, t.kind FROM collect.task t WHERE t.practice_id = 'w2' ORDER BY 1;
-- the touch is credited to the segment the account had when it was made
SELECT patient_id, channel, segment FROM collect.contact_attempt
 WHERE practice_id = 'w2' AND outcome IN ('queued', 'task_opened') ORDER BY 1, 2;
-- the same tick again takes no action (the draws are seeded: this output is stable)
SELECT collect.tick('2026-03-04 14:00Z') AS again;
-- an opted-out channel is never drawn
SELECT collect.record_event('w2', 'texts', 'opt_out', '{"channel": "letter"}', '2026-03-05 15:00Z') IS NOT NULL AS opted_out;
UPDATE collect.channel_arm SET successes = 40, failures = 5 WHERE practice_id = 'w2' AND channel = 'letter';
SELECT collect.tick('2026-03-11 14:00Z') > 0 AS acted_day_10;
SELECT o.channel FROM collect.outbox o
 WHERE o.patient_id = 'texts' AND o.step LIKE 'cadence:%:2' AND o.status <> 'cancelled';
