SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;

-- A practice that texts from +15550000001, twelve patients owing $350
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Smile Dental', 'America/New_York');
INSERT INTO collect.provider (practice_id, channel, kind, base_url, account, sender)
  VALUES ('p1', 'sms', 'twilio', 'http://127.0.0.1:9', 'AC00000000000000000000000000000000', '+15550000001');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, language, sms_consent, email_consent)
SELECT 'p1', 'pt' || i, 'Pat' || i, '+1555100' || lpad(i::text, 4, '0'), 'pt' || i || '@example.com',
       CASE WHEN i % 2 = 0 THEN 'es' ELSE 'en' END, true, true
  FROM generate_series(1, 12) i;
-- pt12 shares pt11's phone (a family)
UPDATE collect.patient SET phone = '+15551000011' WHERE patient_id = 'pt12';
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, service_date)
SELECT 'p1', 'pt' || i, 'c' || i, 'charge', 350, '2026-01-05 15:00Z', '2026-01-04' FROM generate_series(1, 12) i;
SELECT collect.tick('2026-01-20 15:00Z') > 0 AS cadence_started;

-- STOP: opted out of sms at once, queued texts cancelled, confirmed once
SELECT collect.receive_reply('p1', 'pt1', 'sms', 'STOP', '2026-01-21 15:00Z');
SELECT collect.receive_reply('p1', 'pt1', 'sms', 'stop!!', '2026-01-21 15:05Z');
SELECT channel, opted_out_at, source, opted_in_at IS NULL AS active FROM collect.channel_opt_out WHERE patient_id = 'pt1';
SELECT count(*) AS confirmations FROM collect.outbox
 WHERE patient_id = 'pt1' AND template = 'stop_confirmation' AND status = 'queued';
SELECT count(*) AS queued_texts_left FROM collect.outbox
 WHERE patient_id = 'pt1' AND channel = 'sms' AND status = 'queued' AND template <> 'stop_confirmation';
SELECT collect.send_block_reason('p1', 'pt1', 'sms', '2026-01-22 15:00Z') IS NOT NULL AS sms_blocked;

-- already paid / insurance / dispute: cadence stopped, dispute_review task quoting the patient
SELECT collect.receive_reply('p1', 'pt2', 'sms', 'Ya pagué la semana pasada', '2026-01-21 15:00Z');
SELECT collect.receive_reply('p1', 'pt3', 'email', 'My insurance should have covered it', '2026-01-21 15:00Z');
SELECT collect.receive_reply('p1', 'pt5', 'sms', 'I never had that visit', '2026-01-21 15:00Z');
SELECT patient_id, state, doubt, next_action_at IS NULL AS cadence_stopped FROM collect.account
 WHERE patient_id IN ('pt2', 'pt3', 'pt5') ORDER BY patient_id;
SELECT patient_id, kind, status, summary LIKE '%Patient replied by % "%' AS quotes_patient,
       summary LIKE 'Owes $350.00%' AS has_account_summary
  FROM collect.task WHERE patient_id IN ('pt2', 'pt3', 'pt5') ORDER BY patient_id;
SELECT patient_id, count(*) AS queued_collection FROM collect.outbox
 WHERE patient_id IN ('pt2', 'pt3', 'pt5') AND status = 'queued' GROUP BY 1 ORDER BY 1;

-- hardship: assistance application sent, collection paused, hardship_review task
SELECT collect.receive_reply('p1', 'pt4', 'sms', 'Perdí mi trabajo y no puedo pagar', '2026-01-21 15:00Z');
SELECT state, next_action_at IS NULL AS paused FROM collect.account WHERE patient_id = 'pt4';
SELECT template, language, status, body LIKE '%https://pay.example.com/assistance%' AS has_link
  FROM collect.outbox WHERE patient_id = 'pt4' AND template = 'assistance_application';
SELECT kind FROM collect.task WHERE patient_id = 'pt4';

-- upset: upset_patient task, automated outreach held for 7 days
SELECT collect.receive_reply('p1', 'pt6', 'sms', 'You people are a joke, this is harassment', '2026-01-21 15:00Z');
SELECT state, paused_until FROM collect.account WHERE patient_id = 'pt6';
SELECT kind, summary LIKE '%harassment%' AS quotes_patient FROM collect.task WHERE patient_id = 'pt6';
SELECT count(*) AS queued_left FROM collect.outbox WHERE patient_id = 'pt6' AND status = 'queued';
-- strongly negative with another intent: the intent's effect plus the upset hold
SELECT collect.receive_reply('p1', 'pt9', 'sms', 'I already paid this you incompetent thieves, this is a disgusting scam!!!', '2026-01-21 15:00Z');
SELECT kind FROM collect.task WHERE patient_id = 'pt9' ORDER BY kind;

-- question: explain_balance answered on the same channel
SELECT collect.receive_reply('p1', 'pt7', 'sms', 'What is this charge for?', '2026-01-21 15:00Z');
SELECT channel, template, body LIKE '%owes $350.00%' AS explains FROM collect.outbox
 WHERE patient_id = 'pt7' AND template = 'balance_answer';

-- plan: a quote by text; YES then creates the plan from that offer
SELECT collect.receive_reply('p1', 'pt8', 'sms', 'Puedo hacer un plan de pagos?', '2026-01-21 15:00Z');
SELECT template, language, body LIKE 'Podemos dividir $350.00 en 3 pagos%' AS quoted FROM collect.outbox
 WHERE patient_id = 'pt8' AND template = 'plan_quote';
SELECT asked_for_plan FROM collect.account WHERE patient_id = 'pt8';
SELECT collect.receive_reply('p1', 'pt8', 'sms', 'SÍ', '2026-01-21 16:00Z');
SELECT total, installments, status FROM collect.plan WHERE patient_id = 'pt8';
-- YES without any offer only quotes
SELECT collect.receive_reply('p1', 'pt10', 'sms', 'yes', '2026-01-21 16:00Z');
SELECT count(*) AS plans FROM collect.plan WHERE patient_id = 'pt10';
SELECT effects FROM collect.reply WHERE patient_id = 'pt10';

-- pay: a pay link by return
SELECT collect.receive_reply('p1', 'pt7', 'sms', 'I will pay Friday', '2026-01-21 17:00Z');
SELECT count(*) AS pay_links FROM collect.outbox WHERE patient_id = 'pt7' AND template = 'pay_link_reply';

-- every reply: last_response_at, a contact attempt, an hour observation, a reply row, an audit row
-- (replies at 15:00Z are 10:00 in New York, the 16:00Z ones 11:00; ties go to the earlier hour)
SELECT patient_id, last_response_at, best_hour FROM collect.account
 WHERE patient_id IN ('pt1','pt2','pt3','pt4','pt5','pt6','pt7','pt8','pt9','pt10') ORDER BY patient_id;
SELECT count(*) AS replies, count(DISTINCT patient_id) AS patients FROM collect.reply;
SELECT count(*) AS replied_attempts FROM collect.contact_attempt WHERE outcome = 'replied';
SELECT count(*) AS audited FROM collect.audit_log WHERE actor = 'collect.receive_reply';

-- the same reply delivered twice acts once
SELECT collect.receive_reply('p1', 'pt7', 'sms', 'I will pay Friday', '2026-01-21 17:00Z');
SELECT count(*) AS pay_links FROM collect.outbox WHERE patient_id = 'pt7' AND template = 'pay_link_reply';

-- receive_sms: practice by its number, patient by phone; STOP covers the whole family, confirmed once
SELECT collect.receive_sms('+15551000011', '+15550000001', 'Stop texting me', '2026-01-22 15:00Z');
SELECT patient_id, channel, source FROM collect.channel_opt_out WHERE patient_id IN ('pt11', 'pt12') ORDER BY 1;
SELECT count(*) AS confirmations FROM collect.outbox
 WHERE patient_id IN ('pt11', 'pt12') AND template = 'stop_confirmation';
SELECT collect.receive_sms('+15551000003', '+15550000001', 'Who is this?', '2026-01-22 15:00Z');

-- a patient with no balance: no pay link; a STOP through the portal opts out of every channel
INSERT INTO collect.patient (practice_id, patient_id, phone, email, sms_consent, email_consent)
  VALUES ('p1', 'nobal', '+15550009999', 'nobal@example.com', true, true);
SELECT collect.receive_reply('p1', 'nobal', 'email', 'I will pay today', '2026-01-22 15:00Z');
SELECT collect.receive_reply('p1', 'nobal', 'portal', 'unsubscribe', '2026-01-22 15:01Z');
SELECT collect.receive_reply('p1', 'nobal', 'voice', 'stop calling me', '2026-01-22 15:02Z');
SELECT intent, effects FROM collect.reply WHERE patient_id = 'nobal' ORDER BY reply_id;
SELECT string_agg(channel, ',' ORDER BY channel) AS opted_out FROM collect.channel_opt_out WHERE patient_id = 'nobal';

-- errors (SQLSTATEs; messages in docs/replies.md)
\set VERBOSITY sqlstate
SELECT collect.receive_reply('p1', 'nobody', 'sms', 'hi', '2026-01-22 15:00Z');
SELECT collect.receive_reply('p1', 'pt1', 'fax', 'hi', '2026-01-22 15:00Z');
SELECT collect.receive_reply('p1', 'pt1', 'sms', NULL, '2026-01-22 15:00Z');
SELECT collect.receive_reply('p1', 'pt1', 'sms', repeat('x', 10001), '2026-01-22 15:00Z');
SELECT collect.receive_reply('p1', 'pt1', 'sms', 'hi', 'infinity');
SELECT collect.receive_sms('+15559999999', '+15550000001', 'hi', '2026-01-22 15:00Z');
SELECT collect.receive_sms('+15551000003', '+15559999999', 'hi', '2026-01-22 15:00Z');
