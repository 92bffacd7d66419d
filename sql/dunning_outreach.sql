SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SET TIME ZONE 'UTC';
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Maple Dental', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, language, sms_consent, email_consent)
VALUES ('p1', 'ann', 'Ann', '+15551230001', 'ann@example.com', 'en', true, true),
       ('p1', 'bea', 'Bea', '+15551230002', NULL, 'es', false, false),
       ('p1', 'cal', 'Cal', '+15551230003', 'cal@example.com', 'en', true, true);
UPDATE collect.patient SET timezone = 'America/Los_Angeles' WHERE patient_id = 'cal';
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, service_date, insurance_paid, note)
VALUES ('p1', 'ann', 'c1', 'charge', 120.00, '2026-03-02 15:00Z', '2026-02-27', 80.00, 'SECRET NOTE root canal'),
       ('p1', 'bea', 'c2', 'charge', 45.50, '2026-03-02 15:00Z', '2026-02-28', NULL, NULL),
       ('p1', 'cal', 'c3', 'charge', 300.00, '2026-03-02 15:00Z', '2026-03-01', 10.00, NULL);

-- allowed hours: 02:00 UTC is 20:00 in Chicago (allowed), 03:30 UTC is 21:30 (next 08:00 local = 14:00 UTC)
SELECT collect.next_send_time('p1', 'ann', '2026-03-05 02:00Z') = '2026-03-05 02:00Z' AS in_hours,
       collect.next_send_time('p1', 'ann', '2026-03-05 03:30Z') = '2026-03-05 14:00Z' AS next_morning,
       collect.next_send_time('p1', 'cal', '2026-03-05 15:00Z') = '2026-03-05 16:00Z' AS pacific_morning;
-- DST: on 2026-03-08 Chicago moves to CDT (UTC-5): 08:00 local is 13:00 UTC
SELECT collect.next_send_time('p1', 'ann', '2026-03-08 05:00Z') = '2026-03-08 13:00Z' AS dst_morning;

-- the block reasons
SELECT collect.send_block_reason('p1', 'ann', 'sms', '2026-03-05 15:00Z') IS NULL AS ann_sms_ok,
       collect.send_block_reason('p1', 'ann', 'sms', '2026-03-05 03:30Z') AS ann_at_night,
       collect.send_block_reason('p1', 'bea', 'sms', '2026-03-05 15:00Z') AS bea_no_consent,
       collect.send_block_reason('p1', 'bea', 'email', '2026-03-05 15:00Z') AS bea_no_email,
       collect.send_block_reason('p1', 'ann', 'voice', '2026-03-05 15:00Z') AS ann_voice;
INSERT INTO collect.channel_opt_out VALUES ('p1', 'cal', 'sms', '2026-03-04 10:00Z', 'test', NULL);
SELECT collect.send_block_reason('p1', 'cal', 'sms', '2026-03-05 18:00Z') AS cal_opted_out,
       collect.send_block_reason('p1', 'cal', 'sms', '2026-03-05 18:00Z', 'opt_out_confirmation') IS NULL AS confirmation_ok;
SELECT collect.send_block_reason('p1', 'nobody', 'sms', '2026-03-05 18:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.send_block_reason('p1', 'ann', 'sms', '2026-03-05 18:00Z', 'bogus');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- enqueue: an sms in hours, with a pay link and an opt-out line, never the ledger note
SELECT collect.enqueue_message('p1', 'ann', 'sms', 'test:1', 'first_text', NULL, NULL, '2026-03-05 03:30Z') > 0 AS queued;
SELECT channel, step, template, to_address, send_after = '2026-03-05 14:00Z' AS morning,
       body LIKE 'Hi Ann, this is Maple Dental. Your balance of $120.00 for your visit on Feb 27, 2026 is ready. Pay securely: https://pay.example.com/p?p=p1&u=ann&a=12000&e=%&s=%' AS body_ok,
       body LIKE '%Reply STOP to opt out.' AS opt_out, body NOT LIKE '%SECRET%' AND body NOT LIKE '%root canal%' AS no_phi
  FROM collect.outbox WHERE patient_id = 'ann';
-- the same step again: the same message, nothing new
SELECT collect.enqueue_message('p1', 'ann', 'sms', 'test:1', 'first_text', NULL, NULL, '2026-03-05 04:00Z')
     = (SELECT message_id FROM collect.outbox WHERE patient_id = 'ann') AS same_id,
       (SELECT count(*) FROM collect.outbox) AS outbox_rows,
       (SELECT count(*) FROM collect.contact_attempt WHERE patient_id = 'ann' AND outcome = 'queued') AS attempts;
-- held back: no consent -> 0 and an audit row
SELECT collect.enqueue_message('p1', 'bea', 'sms', 'test:1', 'first_text', NULL, NULL, '2026-03-05 15:00Z') AS held;
SELECT action, subject, reason FROM collect.audit_log WHERE patient_id = 'bea';
-- Spanish letter, e-mail with subject and opt-out paragraph
SELECT collect.enqueue_message('p1', 'bea', 'letter', 'test:2', 'statement', NULL, NULL, '2026-03-05 15:00Z') > 0 AS queued;
SELECT language, subject, body LIKE 'Estimado/a Bea:%45,50%' OR body LIKE 'Estimado/a Bea:%$45.50 por su visita del 28 feb 2026%' AS spanish
  FROM collect.outbox WHERE patient_id = 'bea';
SELECT collect.enqueue_message('p1', 'cal', 'email', 'test:3', 'insurance_paid', '{"reason": "x"}', NULL, '2026-03-05 15:00Z') > 0 AS queued;
SELECT subject, body LIKE E'%your insurance paid $10.00. What is left for you is $300.00.%\n\nTo stop these e-mails, reply STOP or UNSUBSCRIBE.' AS body_ok,
       send_after = '2026-03-05 16:00Z' AS pacific_8am
  FROM collect.outbox WHERE patient_id = 'cal';
-- errors: unknown variable, unknown template, unknown placeholder in a new template, call_task
SELECT collect.enqueue_message('p1', 'cal', 'email', 'test:4', 'insurance_paid', '{"diagnosis": "x"}', NULL, '2026-03-05 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.enqueue_message('p1', 'cal', 'email', 'test:4', 'no_such_template', NULL, NULL, '2026-03-05 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO collect.message_template VALUES ('bad', 'en', 'sms', NULL, 'Hi {{first_name}} about {{diagnosis}}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO collect.message_template VALUES ('bad', 'en', 'sms', NULL, 'Hi {{first_name');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.enqueue_message('p1', 'cal', 'call_task', 'test:5', 'call', NULL, NULL, '2026-03-05 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- render preview with extra vars
SELECT subject IS NULL AS no_subject, body FROM collect.render_message('p1', 'ann', 'sms', 'rebook', NULL, '2026-03-05 15:00Z');

-- pay links: signed, verifiable, tamper-evident, expiring
SELECT (collect.verify_pay_link(collect.pay_link('p1', 'ann', 120.00, '2026-04-01 00:00Z'), '2026-03-05 00:00Z')).*;
SELECT (collect.verify_pay_link(collect.pay_link('p1', 'ann', 120.00, '2026-04-01 00:00Z'), '2026-04-02 00:00Z')).status AS after_expiry;
SELECT (collect.verify_pay_link(replace(collect.pay_link('p1', 'ann', 120.00, '2026-04-01 00:00Z'), 'a=12000', 'a=100'), '2026-03-05 00:00Z')).status AS tampered;
SELECT (collect.verify_pay_link('https://evil.example/?p=p1&u=ann&a=1&e=1&s=00', '2026-03-05 00:00Z')).status AS forged;

-- tasks: one open per patient and kind, with the written summary
SELECT collect.task_summary('p1', 'cal', 'a payment plan or a financial-assistance talk', '2026-04-23 15:00Z');

-- nothing was left behind by the failed calls above
SELECT (SELECT count(*) FROM collect.outbox) AS outbox_rows, (SELECT count(*) FROM collect.message_template WHERE template_name = 'bad') AS bad_templates;
