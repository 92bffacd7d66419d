SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Vet Clinic', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, phone, email, sms_consent, email_consent) VALUES
  ('p1', 'a', '+15552000001', 'a@example.com', true, true),
  ('p1', 'b', '+15552000002', 'b@example.com', true, false),
  ('p1', 'c', NULL, NULL, false, false),
  ('p1', 'd', '+15552000004', NULL, true, false);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT 'p1', p, 'c-' || p, 'charge', 120, '2026-03-01 15:00Z' FROM unnest(ARRAY['a','b','c','d']) p;

-- no evidence at all: no best hour
SELECT collect.best_hour('p1', 'a') IS NULL AS no_evidence;
-- a answers in the evening (19:xx Chicago = 00:xx/01:xx UTC next day), pays once at 18:xx
SELECT collect.learn_observe('p1', 'a', 'reply', '2026-03-03 01:10Z');
SELECT collect.learn_observe('p1', 'a', 'open', '2026-03-05 01:40Z');
SELECT collect.learn_observe('p1', 'a', 'pay', '2026-03-06 00:30Z');
SELECT collect.best_hour('p1', 'a') AS best_hour_a, (SELECT best_hour FROM collect.account WHERE patient_id = 'a') AS stored;
SELECT hour, events FROM collect.contact_hour_stats WHERE patient_id = 'a' ORDER BY hour;
-- b has no history of its own: the segment's hours are its prior
SELECT collect.best_hour('p1', 'b') AS best_hour_b_from_segment;
-- a reply at 03:00 local is evidence, but contact stays inside 08:00-21:00
SELECT collect.learn_observe('p1', 'b', 'reply', '2026-03-03 09:00Z'), collect.learn_observe('p1', 'b', 'reply', '2026-03-04 09:00Z'),
       collect.learn_observe('p1', 'b', 'reply', '2026-03-05 09:00Z');
SELECT collect.best_hour('p1', 'b') BETWEEN 8 AND 20 AS inside_allowed_hours;
-- a stricter practice window is respected
UPDATE collect.practice SET policy = '{"contact_hour_start": 9, "contact_hour_end": 18}' WHERE practice_id = 'p1';
SELECT collect.best_hour('p1', 'a') BETWEEN 9 AND 17 AS inside_practice_hours;
UPDATE collect.practice SET policy = '{}' WHERE practice_id = 'p1';

-- channel choice: only channels with consent and no opt-out; deterministic for the same as_of
SELECT collect.choose_channel('p1', 'c', '2026-03-10 15:00Z') AS c_no_consent_no_phone_gets_letter;
SELECT count(DISTINCT collect.choose_channel('p1', 'b', '2026-03-10 15:00Z')) = 1 AS reproducible;
SELECT bool_and(ch IN ('sms', 'letter', 'call_task')) AS b_never_email
  FROM (SELECT collect.choose_channel('p1', 'b', '2026-03-10 15:00Z'::timestamptz + n * interval '1 minute') ch
          FROM generate_series(1, 200) n) s;
INSERT INTO collect.channel_opt_out (practice_id, patient_id, channel, opted_out_at, source)
  VALUES ('p1', 'd', 'sms', '2026-03-02 15:00Z', 'test');
SELECT bool_and(ch <> 'sms') AS d_opted_out_never_sms
  FROM (SELECT collect.choose_channel('p1', 'd', '2026-03-10 15:00Z'::timestamptz + n * interval '1 minute') ch
          FROM generate_series(1, 200) n) s;
-- with evidence, Thompson sampling mostly picks the arm that pays
INSERT INTO collect.channel_arm (practice_id, segment, channel, successes, failures) VALUES
  ('p1', 'fresh', 'sms', 2, 60), ('p1', 'fresh', 'email', 30, 30), ('p1', 'fresh', 'letter', 1, 40), ('p1', 'fresh', 'call_task', 3, 50);
SELECT ch, count(*) FROM (SELECT collect.choose_channel('p1', 'a', '2026-03-10 15:00Z'::timestamptz + n * interval '1 minute') ch
                            FROM generate_series(1, 200) n) s GROUP BY ch ORDER BY count(*) DESC LIMIT 1;

-- learn_update: touches older than 7 days scored by "paid within 7 days"; payments become hour observations
INSERT INTO collect.outbox (practice_id, patient_id, channel, step, template, send_after, status, idempotency_key, sent_at) VALUES
  ('p1', 'a', 'email', 'cadence:x:1', 'first_email', '2026-03-02 15:00Z', 'sent', 'k1', '2026-03-02 15:00Z'),
  ('p1', 'b', 'sms', 'cadence:x:1', 'first_text', '2026-03-02 15:00Z', 'delivered', 'k2', '2026-03-02 15:00Z'),
  ('p1', 'd', 'letter', 'cadence:x:2', 'statement', '2026-03-20 15:00Z', 'sent', 'k3', '2026-03-20 15:00Z'),
  ('p1', 'a', 'sms', 'notice:x', 'balance_answer', '2026-03-02 15:00Z', 'sent', 'k4', '2026-03-02 15:00Z');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'a', 'pay-a', 'payment', 120, '2026-03-05 23:30Z');
DELETE FROM collect.channel_arm;
SELECT collect.learn_update('p1', '2026-03-15 00:00Z') AS touches_scored;
SELECT segment, channel, successes, failures FROM collect.channel_arm ORDER BY channel;
-- running again at the same as_of scores nothing new; later the letter is scored
SELECT collect.learn_update('p1', '2026-03-15 00:00Z') AS again;
SELECT collect.learn_update('p1', '2026-04-01 00:00Z') AS later;
SELECT channel, successes, failures FROM collect.channel_arm ORDER BY channel;
SELECT events FROM collect.contact_hour_stats WHERE patient_id = 'a' AND hour = 17;

-- errors (SQLSTATEs; messages in docs/replies.md)
\set VERBOSITY sqlstate
SELECT collect.learn_observe('p1', 'a', 'click', '2026-03-03 01:10Z');
SELECT collect.learn_observe('p1', 'nobody', 'open', '2026-03-03 01:10Z');
SELECT collect.choose_channel('p1', 'nobody', '2026-03-03 01:10Z');
SELECT collect.best_hour('nope', 'a');
SELECT collect.train('nope');
\set VERBOSITY default
SELECT collect.train('p1', '2026-04-01 00:00Z')->>'status' AS too_little_history;

-- the nightly job and the model's helpers
SELECT job, schedule, command FROM collect.cron_jobs() ORDER BY job;
SELECT collect.risk_tone(0.8), collect.risk_tone(0.1), collect.risk_tone(NULL);
