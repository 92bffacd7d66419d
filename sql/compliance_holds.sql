-- Compliance: legal holds (each with start, end, reason) and what they
-- block; HIPAA confidential-communications channel requests; the No
-- Surprises Act $400 / 120-day good-faith-estimate dispute; the 501(r)
-- 240-day assistance window for nonprofit hospitals; bankruptcy and
-- deceased patients. Errors leave nothing half-written.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SET TIME ZONE 'UTC';
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice (practice_id, name, timezone, policy) VALUES
 ('p1', 'Maple Dental', 'America/Chicago', '{}'),
 ('h1', 'St. Mary Hospital', 'America/Chicago', '{"nonprofit_hospital": true}');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent, voice_consent,
                             phone_source, consent_source) VALUES
 ('p1', 'gap1', 'Gus', '+15550000001', 'gus@example.com', true, true, true, 'intake form', 'intake form 2026-01-02'),
 ('p1', 'gap2', 'Gia', '+15550000002', 'gia@example.com', true, true, true, NULL, NULL),
 ('p1', 'bk',   'Ben', '+15550000003', 'ben@example.com', true, true, true, NULL, NULL),
 ('p1', 'rip',  'Ray', '+15550000004', 'ray@example.com', true, true, true, NULL, NULL),
 ('p1', 'conf', 'Cat', '+15550000005', 'cat@example.com', true, true, true, NULL, NULL),
 ('h1', 'fa1',  'Fay', '+15550000006', 'fay@example.com', true, true, true, NULL, NULL),
 ('h1', 'fa2',  'Flo', '+15550000007', 'flo@example.com', true, true, true, NULL, NULL);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT practice_id, patient_id, 'c-' || patient_id, 'charge', 900.00, '2026-01-05 15:00Z' FROM collect.patient;
SELECT sum(collect.tick(t)) > 0 AS cadence_ran
  FROM generate_series('2026-01-06 15:00Z'::timestamptz, '2026-01-20 15:00Z', '1 day') t;

CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(e::text, ',' ORDER BY event_id) FROM collect.event e),
    (SELECT string_agg(h::text, ',' ORDER BY hold_id) FROM collect.legal_hold h),
    (SELECT string_agg(o::text, ',' ORDER BY message_id) FROM collect.outbox o),
    (SELECT string_agg(t::text, ',' ORDER BY task_id) FROM collect.task t),
    (SELECT string_agg(a::text, ',' ORDER BY practice_id, patient_id) FROM collect.account a),
    (SELECT string_agg(c::text, ',' ORDER BY patient_id) FROM collect.channel_request c))) $$;
SELECT pg_temp.fingerprint() AS before \gset

-- errors (nothing is written)
SELECT collect.record_event('p1', 'gap1', 'gfe_dispute', '{"estimate_amount": 100, "bill_date": "2026-01-05"}', '2026-02-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'gap1', 'gfe_dispute', '{"billed_amount": "lots", "estimate_amount": 100, "bill_date": "2026-01-05"}', '2026-02-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'gap1', 'hold_released', '{"kind": "bankruptcy"}', '2026-02-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'gap1', 'hold_released', '{"kind": "vacation"}', '2026-02-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'conf', 'channel_request', '{"channel": "pigeon"}', '2026-02-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'conf', 'channel_request', '{"channel": "sms", "address": "555-1234"}', '2026-02-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'conf', 'channel_request', '{"channel": "voice", "address": "call me maybe"}', '2026-02-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'conf', 'channel_request', '{"channel": "email", "address": "not-an-address"}', '2026-02-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO collect.legal_hold (practice_id, patient_id, kind, starts_at, reason) VALUES ('p1', 'gap1', 'vacation', now(), 'x');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.fingerprint() = :'before' AS nothing_half_written;

-- No Surprises Act: $399.99 over the estimate is no hold, $400.00 is
SELECT collect.record_event('p1', 'gap2', 'gfe_dispute',
       '{"billed_amount": 900.00, "estimate_amount": 500.01, "bill_date": "2026-01-05"}', '2026-02-01 15:00Z') > 0 AS gap_399_99;
SELECT collect.record_event('p1', 'gap1', 'gfe_dispute',
       '{"billed_amount": 900.00, "estimate_amount": 500.00, "bill_date": "2026-01-05"}', '2026-02-01 15:00Z') > 0 AS gap_400_00;
SELECT patient_id, kind, reason, ends_at IS NULL AS open FROM collect.legal_hold ORDER BY hold_id;
SELECT patient_id, reason FROM collect.audit_log WHERE action = 'hold_not_required' ORDER BY audit_id;
SELECT collect.send_block_reason('p1', 'gap1', 'email', '2026-02-02 15:00Z') AS gap1_email,
       collect.send_block_reason('p1', 'gap2', 'email', '2026-02-02 15:00Z') IS NULL AS gap2_email_ok,
       collect.send_block_reason('p1', 'gap1', 'email', '2026-02-02 15:00Z', 'notice') IS NULL AS gap1_notices_ok;
SELECT kind, status FROM collect.task WHERE patient_id = 'gap1' AND kind = 'dispute_review';
-- 120 days: day 120 after the bill qualifies, day 121 does not
SELECT collect.record_event('p1', 'bk', 'gfe_dispute',
       '{"billed_amount": 900, "estimate_amount": 100, "bill_date": "2026-01-05"}', '2026-05-06 15:00Z') > 0 AS day_121;
SELECT count(*) AS bk_gfe_holds FROM collect.legal_hold WHERE patient_id = 'bk';
SELECT collect.record_event('p1', 'bk', 'gfe_dispute',
       '{"billed_amount": 900, "estimate_amount": 100, "bill_date": "2026-01-05"}', '2026-05-05 15:00Z') > 0 AS day_120;
SELECT count(*) AS bk_gfe_holds FROM collect.legal_hold WHERE patient_id = 'bk';
SELECT collect.record_event('p1', 'bk', 'hold_released', '{"kind": "gfe_dispute", "reason": "resolved"}', '2026-05-06 15:00Z') > 0 AS released;
-- placement is refused while a hold is open
SELECT collect.record_event('p1', 'gap1', 'placed_with_agency', '{}', '2026-08-01 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- bankruptcy: the automatic stay stops everything, notices included; queued messages cancelled
SELECT collect.enqueue_message('p1', 'bk', 'sms', 'manual:bk', 'reminder', NULL, '2026-05-10 15:00Z', '2026-05-07 14:00Z') > 0 AS bk_queued;
SELECT count(*) > 0 AS bk_had_queued FROM collect.outbox WHERE patient_id = 'bk' AND status = 'queued';
SELECT collect.record_event('p1', 'bk', 'bankruptcy_notice', '{"case": "26-10001"}', '2026-05-07 15:00Z') > 0 AS bankruptcy;
SELECT count(*) AS bk_still_queued FROM collect.outbox WHERE patient_id = 'bk' AND status = 'queued';
SELECT collect.send_block_reason('p1', 'bk', 'sms', '2026-05-08 15:00Z') AS bk_sms,
       collect.send_block_reason('p1', 'bk', 'email', '2026-05-08 15:00Z', 'notice') AS bk_notice;
SELECT next_action_at IS NULL AS bk_cadence_stopped FROM collect.account WHERE patient_id = 'bk';

-- deceased: an estate_review task instead of messages
SELECT collect.record_event('p1', 'rip', 'deceased', '{"date_of_death": "2026-01-30"}', '2026-02-03 15:00Z') > 0 AS deceased;
SELECT kind, status, summary FROM collect.task WHERE patient_id = 'rip' AND kind = 'estate_review';
SELECT collect.why_task(task_id) FROM collect.task WHERE patient_id = 'rip' AND kind = 'estate_review';
SELECT count(*) AS rip_queued, (SELECT count(*) FROM collect.task WHERE patient_id = 'rip' AND kind = 'call' AND status = 'open') AS rip_open_calls
  FROM collect.outbox WHERE patient_id = 'rip' AND status = 'queued';
SELECT collect.send_block_reason('p1', 'rip', 'letter', '2026-02-04 15:00Z', 'notice') AS rip_letter;
SELECT collect.tick('2026-03-30 15:00Z') >= 0 AS ticked;
SELECT count(*) AS rip_new_messages FROM collect.outbox WHERE patient_id = 'rip' AND created_at > '2026-02-03 15:00Z';

-- HIPAA confidential communications: e-mail only, to another address, every step
SELECT collect.enqueue_message('p1', 'conf', 'sms', 'manual:conf', 'reminder', NULL, '2026-01-25 15:00Z', '2026-01-21 14:00Z') > 0 AS conf_sms_queued;
SELECT collect.record_event('p1', 'conf', 'channel_request', '{"channel": "email", "address": "cat.private@example.org"}', '2026-01-21 15:00Z') > 0 AS requested;
SELECT count(*) AS conf_non_email_queued FROM collect.outbox WHERE patient_id = 'conf' AND status = 'queued' AND channel <> 'email';
SELECT collect.send_block_reason('p1', 'conf', 'sms', '2026-01-22 15:00Z') AS conf_sms,
       collect.send_block_reason('p1', 'conf', 'letter', '2026-01-22 15:00Z', 'notice') AS conf_letter_notice,
       collect.send_block_reason('p1', 'conf', 'email', '2026-01-22 15:00Z') IS NULL AS conf_email_ok;
SELECT collect.enqueue_message('p1', 'conf', 'email', 'manual:1', 'reminder', NULL, NULL, '2026-01-22 15:00Z') > 0 AS queued;
SELECT to_address FROM collect.outbox WHERE patient_id = 'conf' AND step = 'manual:1';
SELECT collect.record_event('p1', 'conf', 'channel_request', '{"channel": "all"}', '2026-01-23 15:00Z') > 0 AS withdrawn;
SELECT collect.send_block_reason('p1', 'conf', 'sms', '2026-01-23 16:00Z') IS NULL AS conf_sms_again;

-- 501(r): a nonprofit hospital accepts applications for 240 days after the first statement
UPDATE collect.account SET first_statement_at = '2026-01-15 15:00Z' WHERE practice_id = 'h1';
SELECT collect.record_event('h1', 'fa1', 'financial_assistance_requested', '{}', '2026-09-12 15:00Z') > 0 AS day_240;
SELECT collect.record_event('h1', 'fa2', 'financial_assistance_requested', '{}', '2026-09-13 15:00Z') > 0 AS day_241;
SELECT patient_id, kind, ends_at IS NULL AS open FROM collect.legal_hold WHERE practice_id = 'h1' ORDER BY patient_id;
SELECT patient_id, assistance_open FROM collect.account WHERE practice_id = 'h1' ORDER BY patient_id;
SELECT collect.record_event('h1', 'fa1', 'hardship_denied', '{}', '2026-09-20 15:00Z') > 0 AS decided;
SELECT ends_at = '2026-09-20 15:00Z' AS hold_ended_at_decision FROM collect.legal_hold WHERE patient_id = 'fa1';
