-- The cadence under a practice's own policy: thresholds, a voice step,
-- the minimum balance, segments and one open task per kind.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SET TIME ZONE 'UTC';
\set VERBOSITY terse

INSERT INTO collect.practice (practice_id, name, timezone, policy) VALUES ('p1', 'Oak Vet', 'America/New_York',
 '{"min_outreach_balance": 20, "text_first_below": 50, "email_first_above": 100,
   "cadence": [{"day": 2, "channel": "sms", "template": "first_text"}, {"day": 4, "channel": "email", "template": "reminder"},
               {"day": 6, "channel": "voice", "template": "call"}, {"day": 7, "channel": "call_task", "template": "call"}]}');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent, voice_consent) VALUES
 ('p1', 'low',   'Lu',  '+15550000001', 'lu@example.com',  true, true, false),  -- $10: below the minimum
 ('p1', 'small', 'Sam', '+15550000002', 'sam@example.com', true, true, false),  -- $40: text first
 ('p1', 'mid',   'Mo',  '+15550000003', 'mo@example.com',  true, true, true),   -- $80: cadence as written, voice consent
 ('p1', 'big',   'Bea', '+15550000004', 'bea@example.com', true, true, false),  -- $150: e-mail first
 ('p1', 'plan',  'Pia', '+15550000005', 'pia@example.com', true, true, false);  -- $900, asked for a plan
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES
 ('p1', 'low', 'c1', 'charge', 10.00, '2026-05-01 14:00Z'), ('p1', 'small', 'c2', 'charge', 40.00, '2026-05-01 14:00Z'),
 ('p1', 'mid', 'c3', 'charge', 80.00, '2026-05-01 14:00Z'), ('p1', 'big', 'c4', 'charge', 150.00, '2026-05-01 14:00Z'),
 ('p1', 'plan', 'c5', 'charge', 900.00, '2026-05-01 14:00Z');
UPDATE collect.account SET asked_for_plan = true WHERE patient_id = 'plan';

SELECT sum(collect.tick(t)) AS actions FROM generate_series('2026-05-01 15:00Z'::timestamptz, '2026-06-10 15:00Z', '1 hour') t;

SELECT patient_id, string_agg(channel || ':' || template || '@' || ((send_after AT TIME ZONE 'America/New_York')::date - date '2026-05-01'), ' ' ORDER BY message_id) AS messages
  FROM collect.outbox GROUP BY patient_id ORDER BY patient_id;
-- a voice step becomes a staff call task without voice consent; one open call task per patient
SELECT patient_id, kind, status, count(*) FROM collect.task GROUP BY 1, 2, 3 ORDER BY 1, 2;
SELECT patient_id, count(*) AS call_attempts FROM collect.contact_attempt WHERE channel IN ('voice', 'call_task') GROUP BY 1 ORDER BY 1;
SELECT body FROM collect.outbox WHERE patient_id = 'mid' AND channel = 'voice';
-- segments and states after 40 days
SELECT patient_id, balance, state, segment, aging_bucket, days_past_due FROM collect.account ORDER BY patient_id;
-- a payment re-plans at once and is quiet for 48 hours
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'big', 'pay1', 'payment', 50.00, '2026-06-10 16:30Z');
SELECT next_action_at = '2026-06-10 16:30Z' AS replan FROM collect.account WHERE patient_id = 'big';
SELECT collect.tick('2026-06-10 17:00Z') AS actions;
SELECT next_action_at = '2026-06-12 16:30Z' AS quiet_48h FROM collect.account WHERE patient_id = 'big';

-- one bad account (its practice's cadence names a template that does not exist) does not stop the clock
INSERT INTO collect.practice (practice_id, name, timezone, policy) VALUES ('p2', 'Elm Clinic', 'America/New_York',
 '{"cadence": [{"day": 0, "channel": "letter", "template": "no_such_template"}]}');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, sms_consent) VALUES
 ('p2', 'zed', 'Zed', '+15550000009', true), ('p1', 'new', 'Nia', '+15550000010', true);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES
 ('p2', 'zed', 'z1', 'charge', 30.00, '2026-06-10 12:00Z'), ('p1', 'new', 'n1', 'charge', 30.00, '2026-06-10 12:00Z');
SELECT collect.tick('2026-06-12 17:00Z') AS actions;
SELECT patient_id, channel, template FROM collect.outbox WHERE patient_id IN ('zed', 'new');
SELECT patient_id, action, reason FROM collect.audit_log WHERE action = 'tick_error';
SELECT next_action_at = '2026-06-12 18:00Z' AS retried_in_an_hour FROM collect.account WHERE patient_id = 'zed';

-- an account loaded without a cadence anchor (an import) runs from its due date
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, sms_consent) VALUES ('p1', 'imp', 'Ima', '+15550000011', true);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'imp', 'i1', 'charge', 45.00, '2026-06-01 14:00Z');
UPDATE collect.account SET cadence_anchor = NULL, next_action_at = '2026-06-12 17:00Z' WHERE patient_id = 'imp';
SELECT collect.tick('2026-06-12 17:30Z') AS actions;
SELECT cadence_anchor, cadence_step, state FROM collect.account WHERE patient_id = 'imp';
