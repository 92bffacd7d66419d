-- collect.record_event: each kind's effect, and clear errors (with their
-- SQLSTATE) that leave nothing half-written; collect.explain_balance.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SET TIME ZONE 'UTC';
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Maple Dental', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent) VALUES
 ('p1', 'ann', 'Ann', '+15550000001', 'ann@example.com', true, true),
 ('p1', 'bo',  'Bo',  '+15550000002', 'bo@example.com',  true, true);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, service_date, visit_id, billed_amount, insurance_paid, note)
VALUES ('p1', 'ann', 'c1', 'charge', 240.00, '2026-01-05 15:00Z', '2026-01-02', 'v1', 400.00, 160.00, 'crown prep'),
       ('p1', 'ann', 'c2', 'charge', 60.00,  '2026-01-20 15:00Z', '2026-01-19', 'v2', 90.00, 30.00, NULL),
       ('p1', 'bo',  'c3', 'charge', 500.00, '2026-01-05 15:00Z', '2026-01-02', 'v3', 500.00, NULL, NULL);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
VALUES ('p1', 'ann', 'p1', 'payment', 50.00, '2026-01-06 15:00Z');
SELECT collect.tick('2026-01-09 15:00Z') AS first_texts;

CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(e::text, ',' ORDER BY event_id) FROM collect.event e),
    (SELECT string_agg(o::text, ',' ORDER BY message_id) FROM collect.outbox o),
    (SELECT string_agg(t::text, ',' ORDER BY task_id) FROM collect.task t),
    (SELECT string_agg(a::text, ',' ORDER BY patient_id) FROM collect.account a),
    (SELECT string_agg(c::text, ',' ORDER BY patient_id, channel) FROM collect.channel_opt_out c),
    (SELECT count(*)::text FROM collect.contact_attempt),
    (SELECT string_agg(p::text, ',' ORDER BY patient_id) FROM collect.patient p))) $$;
SELECT pg_temp.fingerprint() AS before \gset

-- errors: unknown kind, unknown patient, malformed details
SELECT collect.record_event('p1', 'ann', 'birthday', '{}', '2026-01-10 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'nobody', 'complaint', '{}', '2026-01-10 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('nope', 'ann', 'complaint', '{}', '2026-01-10 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'ann', 'complaint', '[1, 2]', '2026-01-10 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'ann', 'opt_out', '{}', '2026-01-10 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'ann', 'opt_out', '{"channel": "pigeon"}', '2026-01-10 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'ann', 'opt_out', '{"channel": 5}', '2026-01-10 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'ann', 'appointment_booked', '{}', '2026-01-10 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'ann', 'appointment_booked', '{"appointment_at": "next tuesday-ish"}', '2026-01-10 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'ann', 'complaint', '{}', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'ann', 'complaint', '{}', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- no placement before 120 days from the first statement
SELECT collect.record_event('p1', 'ann', 'placed_with_agency', '{}', '2026-02-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.fingerprint() = :'before' AS nothing_written;

-- dispute: queued messages cancelled, a dispute_review task, no outreach until resolved
SELECT collect.record_event('p1', 'ann', 'dispute_opened', '{"reason": "billed twice"}', '2026-01-10 15:00Z') > 0 AS recorded;
SELECT state, segment, next_action_at IS NULL AS idle FROM collect.account WHERE patient_id = 'ann';
SELECT status, last_error FROM collect.outbox WHERE patient_id = 'ann';
SELECT kind, summary FROM collect.task WHERE patient_id = 'ann';
SELECT collect.send_block_reason('p1', 'ann', 'email', '2026-01-12 15:00Z') AS blocked,
       collect.send_block_reason('p1', 'ann', 'email', '2026-01-12 15:00Z', 'notice') IS NULL AS notices_ok;
SELECT sum(collect.tick(t)) > 0 AS others_go_on FROM generate_series('2026-01-10 16:00Z'::timestamptz, '2026-01-30 16:00Z', '1 hour') t;
SELECT count(*) AS ann_during_dispute FROM collect.outbox WHERE patient_id = 'ann' AND created_at >= '2026-01-10 15:00Z';
SELECT collect.explain_balance('p1', 'ann');
SELECT collect.record_event('p1', 'ann', 'placed_with_agency', '{}', '2026-08-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'ann', 'dispute_resolved', '{"outcome": "one charge reversed"}', '2026-01-30 17:00Z') > 0 AS recorded;
SELECT state, next_action_at = '2026-01-30 17:00Z' AS replan_now, (SELECT status FROM collect.task WHERE patient_id = 'ann' AND kind = 'dispute_review') AS review
  FROM collect.account WHERE patient_id = 'ann';
SELECT collect.tick('2026-01-30 18:00Z') AS resumed;

-- financial assistance: the application link goes out, collection and placement pause
SELECT collect.record_event('p1', 'bo', 'financial_assistance_requested', '{}', '2026-01-12 16:00Z') > 0 AS recorded;
SELECT channel, step LIKE 'notice:assistance:%' AS notice, body LIKE '%https://pay.example.com/assistance%' AS has_link, status
  FROM collect.outbox WHERE patient_id = 'bo' ORDER BY message_id;
SELECT a.state, (SELECT string_agg(kind, ',') FROM collect.task t WHERE t.patient_id = 'bo' AND status = 'open') AS tasks
  FROM collect.account a WHERE patient_id = 'bo';
SELECT sum(collect.tick(t)) > 0 AS others_go_on FROM generate_series('2026-01-12 17:00Z'::timestamptz, '2026-02-12 17:00Z', '1 hour') t;
SELECT count(*) AS bo_while_pending FROM collect.outbox WHERE patient_id = 'bo' AND created_at > '2026-01-12 16:00Z';
SELECT collect.send_block_reason('p1', 'bo', 'sms', '2026-01-20 16:00Z') AS blocked;
SELECT collect.record_event('p1', 'bo', 'hardship_approved', '{}', '2026-02-12 18:00Z') > 0 AS recorded;
SELECT state, hardship_until = '2026-08-12 18:00Z' AS six_months, next_action_at = hardship_until AS wakes_then,
       (SELECT count(*) FROM collect.task WHERE patient_id = 'bo' AND status = 'open') AS open_tasks
  FROM collect.account WHERE patient_id = 'bo';
SELECT collect.send_block_reason('p1', 'bo', 'sms', '2026-03-01 16:00Z') AS hardship_blocks;
SELECT collect.record_event('p1', 'bo', 'placed_with_agency', '{}', '2026-07-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- opt-out and opt-in per channel
SELECT collect.record_event('p1', 'ann', 'opt_out', '{"channel": "all"}', '2026-02-01 15:00Z') > 0 AS recorded;
SELECT channel, source, opted_in_at IS NULL AS out FROM collect.channel_opt_out WHERE patient_id = 'ann' ORDER BY channel;
SELECT count(*) AS queued_left FROM collect.outbox WHERE patient_id = 'ann' AND status = 'queued';
SELECT collect.record_event('p1', 'ann', 'opt_in', '{"channel": "email"}', '2026-02-02 15:00Z') > 0 AS recorded;
SELECT collect.send_block_reason('p1', 'ann', 'email', '2026-02-03 15:00Z') IS NULL AS email_ok,
       collect.send_block_reason('p1', 'ann', 'sms', '2026-02-03 15:00Z') AS sms;

-- returned mail, address updated; no-answer and conversation; complaint
SELECT collect.record_event('p1', 'ann', 'returned_mail', '{}', '2026-02-03 15:00Z') > 0 AS recorded;
SELECT (SELECT address_ok FROM collect.patient WHERE patient_id = 'ann') AS address_ok,
       (SELECT returned_mail FROM collect.account WHERE patient_id = 'ann') AS returned,
       collect.send_block_reason('p1', 'ann', 'letter', '2026-02-04 15:00Z') AS letter;
SELECT collect.record_event('p1', 'ann', 'address_updated', '{}', '2026-02-05 15:00Z') > 0 AS recorded;
SELECT (SELECT address_ok FROM collect.patient WHERE patient_id = 'ann') AS address_ok,
       (SELECT status FROM collect.task WHERE patient_id = 'ann' AND kind = 'address_check') AS task;
SELECT collect.record_event('p1', 'ann', 'call_no_answer', '{"staff": "amy"}', '2026-02-06 15:00Z') > 0 AS recorded;
SELECT collect.record_event('p1', 'ann', 'call_completed', '{"staff": "amy", "outcome": "will pay"}', '2026-02-06 19:00Z') > 0 AS recorded;
SELECT channel, outcome, actor, detail FROM collect.contact_attempt WHERE patient_id = 'ann' AND outcome IN ('no_answer', 'conversation') ORDER BY at;
SELECT best_hour, last_conversation_at = '2026-02-06 19:00Z' AS conv, failed_contacts FROM collect.account WHERE patient_id = 'ann';
SELECT collect.send_block_reason('p1', 'ann', 'call_task', '2026-02-10 15:00Z') AS call_blocked;
SELECT collect.record_event('p1', 'ann', 'complaint', '{"channel": "sms"}', '2026-02-07 15:00Z') > 0 AS recorded;
SELECT kind, count(*) FROM collect.event GROUP BY kind ORDER BY kind;

-- explain_balance: unknown patient, no balance
SELECT collect.explain_balance('p1', 'nobody');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO collect.patient (practice_id, patient_id, first_name) VALUES ('p1', 'cy', 'Cy');
SELECT collect.explain_balance('p1', 'cy');

-- an opt-out keeps the one STOP confirmation queued before it, and cancels the rest on that channel
SELECT collect.enqueue_message('p1', 'bo', 'sms', 'opt_out_confirmation:1', 'rebook', NULL, '2026-09-01 15:00Z', '2026-09-01 15:00Z') > 0 AS confirmation;
SELECT collect.enqueue_message('p1', 'bo', 'sms', 'notice:other', 'rebook', NULL, '2026-09-01 15:00Z', '2026-09-01 15:00Z') > 0 AS notice;
SELECT collect.record_event('p1', 'bo', 'opt_out', '{"channel": "sms"}', '2026-09-01 15:05Z') > 0 AS recorded;
SELECT step, status FROM collect.outbox WHERE patient_id = 'bo' AND channel = 'sms' AND created_at >= '2026-09-01' ORDER BY message_id;

-- explain_balance in the patient's language
INSERT INTO collect.patient (practice_id, patient_id, first_name, language) VALUES ('p1', 'eva', 'Eva', 'es');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, service_date, billed_amount, insurance_paid, note)
VALUES ('p1', 'eva', 'e1', 'charge', 75.00, '2026-03-02 15:00Z', '2026-02-27', 200.00, 125.00, 'never read out');
SELECT collect.explain_balance('p1', 'eva');
