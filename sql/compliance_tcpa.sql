-- Compliance: TCPA revocation by any reasonable wording (keywords and
-- free text, English and Spanish) ends automated contact on that channel
-- at once; at most one confirmation message per opt-out.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SET TIME ZONE 'UTC';
\set VERBOSITY terse
\set SHOW_CONTEXT never

-- revocations
SELECT body, collect.is_revocation(body) AS revokes FROM (VALUES
 ('STOP'), ('stop'), ('Stop.'), ('STOP!!!'), ('please stop'), ('Stop please'), ('STOP STOP STOP'), ('STOPALL'),
 ('QUIT'), ('END'), ('REVOKE'), ('OPT OUT'), ('opt-out'), ('CANCEL'), ('UNSUBSCRIBE'), ('Unsubscribe me'),
 ('Please stop texting me'), ('don''t call me again'), ('Don’t text this number'), ('Do not contact me anymore'),
 ('No more messages please'), ('Remove me from your list'), ('leave me alone!'), ('I revoke my consent'),
 ('wrong number'), ('ALTO'), ('Por favor no me llamen'), ('No más mensajes'), ('dejen de escribirme'), ('BAJA')
) v(body) ORDER BY body;
-- not revocations
SELECT body, collect.is_revocation(body) AS revokes FROM (VALUES
 ('I will stop by Friday to pay'), ('Can I pay at the end of the month?'), ('How do I cancel my appointment and reschedule?'),
 ('yes'), ('PAY'), ('I already paid'), ('What is this for?'), ('Call me after 5'), ('Thanks!'), ('')
) v(body) ORDER BY body;
SELECT collect.is_revocation(repeat('x', 10001));
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- the opt-out takes effect at once on that channel only; one confirmation at most
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Maple Dental', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent, phone_source, consent_source)
VALUES ('p1', 'pat', 'Pat', '+15550000001', 'pat@example.com', true, true, 'intake form', 'signed intake form 2026-01-02');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'pat', 'c1', 'charge', 120.00, '2026-01-05 15:00Z');
SELECT collect.enqueue_message('p1', 'pat', 'sms', 'manual:1', 'reminder', NULL, '2026-01-12 15:00Z', '2026-01-10 15:00Z') > 0 AS sms_queued;
SELECT collect.record_event('p1', 'pat', 'opt_out', '{"channel": "sms", "wording": "please stop texting me"}', '2026-01-10 16:00Z') > 0 AS opted_out;
SELECT status, last_error FROM collect.outbox WHERE step = 'manual:1';
SELECT collect.send_block_reason('p1', 'pat', 'sms', '2026-01-10 16:01Z') AS sms_now,
       collect.send_block_reason('p1', 'pat', 'email', '2026-01-10 16:01Z') IS NULL AS email_ok;
SELECT collect.enqueue_message('p1', 'pat', 'sms', 'opt_out_confirmation:1', 'reminder', NULL, NULL, '2026-01-10 16:00Z') > 0 AS first_confirmation;
SELECT collect.enqueue_message('p1', 'pat', 'sms', 'opt_out_confirmation:2', 'reminder', NULL, NULL, '2026-01-10 16:05Z') AS second_confirmation;
SELECT reason FROM collect.audit_log WHERE action = 'message_held' ORDER BY audit_id;
-- opting in and out again allows one new confirmation
SELECT collect.record_event('p1', 'pat', 'opt_in', '{"channel": "sms"}', '2026-02-01 16:00Z') > 0 AS opted_in;
SELECT collect.record_event('p1', 'pat', 'opt_out', '{"channel": "sms"}', '2026-02-02 16:00Z') > 0 AS opted_out_again;
SELECT collect.enqueue_message('p1', 'pat', 'sms', 'opt_out_confirmation:3', 'reminder', NULL, NULL, '2026-02-02 16:00Z') > 0 AS new_confirmation;
