-- Compliance: contact frequency as data. Federal floor (Reg F 1006.14(b)(2)):
-- at most 7 call attempts in 7 days per debt, none within 7 days after a
-- conversation. Presets by policy state_preset: MA (at most 2 calls or
-- texts per 7 days), CA (Rosenthal: the federal numbers bind the practice).
-- The stricter of the preset and the practice's own policy wins.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SET TIME ZONE 'UTC';
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice (practice_id, name, timezone, policy) VALUES
 ('fed', 'Federal Clinic', 'America/Chicago', '{}'),
 ('ma',  'Boston Dental', 'America/New_York', '{"state_preset": "MA"}'),
 ('ca',  'LA Vet', 'America/Los_Angeles', '{"state_preset": "CA"}'),
 ('ma3', 'Strict Boston', 'America/New_York', '{"state_preset": "MA", "call_max_attempts_7d": 1}'),
 ('own', 'Own Rules', 'America/Chicago', '{"call_max_attempts_7d": 3}');
UPDATE collect.practice SET policy = '{"state_preset": "TX"}' WHERE practice_id = 'fed';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, sms_consent, voice_consent)
SELECT p, 'pat', 'Pat', '+15550001000', true, true FROM unnest(ARRAY['fed','ma','ca','ma3','own']) p;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT p, 'pat', 'c1', 'charge', 300.00, '2026-03-01 15:00Z' FROM unnest(ARRAY['fed','ma','ca','ma3','own']) p;

-- k call attempts in the last 7 days, then ask about the next one
CREATE FUNCTION pg_temp.calls(pr text, k int, at timestamptz) RETURNS void LANGUAGE sql AS $$
  DELETE FROM collect.contact_attempt WHERE practice_id = pr;
  INSERT INTO collect.contact_attempt (practice_id, patient_id, channel, at, outcome)
  SELECT pr, 'pat', 'voice', at - make_interval(hours => 20 * i), 'no_answer' FROM generate_series(1, k) i; $$;
CREATE FUNCTION pg_temp.texts(pr text, k int, at timestamptz) RETURNS void LANGUAGE sql AS $$
  DELETE FROM collect.contact_attempt WHERE practice_id = pr;
  INSERT INTO collect.contact_attempt (practice_id, patient_id, channel, at, outcome)
  SELECT pr, 'pat', 'sms', at - make_interval(hours => 20 * i), 'queued' FROM generate_series(1, k) i; $$;

-- federal: the 7th call goes, the 8th does not (6 and 7 attempts before it)
SELECT pg_temp.calls('fed', 6, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('fed', 'pat', 'voice', '2026-03-20 16:00Z') IS NULL AS seventh_call_ok;
SELECT pg_temp.calls('fed', 7, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('fed', 'pat', 'voice', '2026-03-20 16:00Z') AS eighth_call;
SELECT collect.send_block_reason('fed', 'pat', 'call_task', '2026-03-20 16:00Z') AS eighth_as_task;
-- attempts older than 7 days do not count: the oldest (140 h ago) leaves the window at 168 h
SELECT collect.send_block_reason('fed', 'pat', 'voice', '2026-03-20 16:00Z'::timestamptz + interval '28 hours 1 second') IS NULL AS window_slides;
-- texts are not calls under the federal floor
SELECT pg_temp.texts('fed', 9, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('fed', 'pat', 'sms', '2026-03-20 16:00Z') IS NULL AS federal_texts_uncapped;

-- day 7 after a conversation: blocked until 7 x 24 h have passed
DELETE FROM collect.contact_attempt WHERE practice_id = 'fed';
SELECT collect.record_event('fed', 'pat', 'call_completed', '{"staff": "amy"}', '2026-03-10 15:00Z') > 0 AS talked;
SELECT collect.send_block_reason('fed', 'pat', 'voice', '2026-03-16 15:00Z') AS day_6,
       collect.send_block_reason('fed', 'pat', 'voice', '2026-03-17 14:59Z') AS day_7_minus_a_minute,
       collect.send_block_reason('fed', 'pat', 'voice', '2026-03-17 15:00Z') IS NULL AS day_7_ok,
       collect.send_block_reason('fed', 'pat', 'sms', '2026-03-12 15:00Z') IS NULL AS texts_not_affected;

-- MA: calls and texts together, at most 2 in 7 days; the 3rd text is refused
SELECT pg_temp.texts('ma', 1, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('ma', 'pat', 'sms', '2026-03-20 16:00Z') IS NULL AS ma_second_text_ok;
SELECT pg_temp.texts('ma', 2, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('ma', 'pat', 'sms', '2026-03-20 16:00Z') AS ma_third_text;
SELECT collect.send_block_reason('ma', 'pat', 'voice', '2026-03-20 16:00Z') AS ma_call_after_two_texts;
SELECT collect.send_block_reason('ma', 'pat', 'sms', '2026-03-20 16:00Z', 'notice') IS NULL AS ma_notice_not_counted;
SELECT pg_temp.calls('ma', 2, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('ma', 'pat', 'sms', '2026-03-20 16:00Z') AS ma_text_after_two_calls;
-- ... and the same 2 texts under CA and federal presets leave room
SELECT pg_temp.texts('ca', 2, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('ca', 'pat', 'sms', '2026-03-20 16:00Z') IS NULL AS ca_third_text_ok;

-- CA: the federal numbers, cited to the Rosenthal Act
SELECT pg_temp.calls('ca', 6, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('ca', 'pat', 'voice', '2026-03-20 16:00Z') IS NULL AS ca_seventh_ok;
SELECT pg_temp.calls('ca', 7, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('ca', 'pat', 'voice', '2026-03-20 16:00Z') AS ca_eighth;

-- the stricter rule wins: a practice's own cap of 3 calls under the federal floor; 1 call under MA
SELECT pg_temp.calls('own', 2, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('own', 'pat', 'voice', '2026-03-20 16:00Z') IS NULL AS own_third_ok;
SELECT pg_temp.calls('own', 3, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('own', 'pat', 'voice', '2026-03-20 16:00Z') AS own_fourth;
SELECT pg_temp.calls('ma3', 1, '2026-03-20 16:00Z');
SELECT collect.send_block_reason('ma3', 'pat', 'voice', '2026-03-20 16:00Z') AS ma3_second_call;
-- a practice cannot loosen the floor: more than 7 calls is refused by the policy check
UPDATE collect.practice SET policy = '{"call_max_attempts_7d": 8}' WHERE practice_id = 'fed';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- the tick obeys MA: the day-3 text is not sent when two texts went out this week; the step goes by letter
SELECT pg_temp.texts('ma', 2, '2026-03-04 14:00Z');
SELECT collect.tick('2026-03-04 14:00Z') > 0 AS ticked;
SELECT practice_id, string_agg(channel || ':' || template, ' ' ORDER BY message_id) AS queued
  FROM collect.outbox WHERE practice_id IN ('ma', 'fed') GROUP BY practice_id ORDER BY practice_id;
-- a held message records the rule and its source (the preset's law) for collect.why
SELECT collect.enqueue_message('ma', 'pat', 'sms', 'manual:1', 'reminder', NULL, NULL, '2026-03-04 15:00Z') AS ma_text_id;
SELECT pg_temp.calls('ca', 7, '2026-03-20 16:00Z');
SELECT collect.enqueue_message('ca', 'pat', 'voice', 'manual:2', 'reminder', NULL, NULL, '2026-03-20 16:00Z') AS ca_call_id;
SELECT practice_id, reason, facts->>'held_by' AS held_by, facts->'policy'->>'state_preset' AS preset
  FROM collect.audit_log WHERE action = 'message_held' ORDER BY audit_id;
