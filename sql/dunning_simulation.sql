-- 120 days, hour by hour: collect.tick(as_of) for a set of patients with
-- different time zones (one across a DST change), consents, balances and
-- behaviours, then the compliance assertions of issue 3.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SET TIME ZONE 'UTC';
\set VERBOSITY terse

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Maple Dental', 'America/Chicago');
-- p2 calls every day (to exercise the call caps)
INSERT INTO collect.practice (practice_id, name, timezone, policy) VALUES ('p2', 'Pine Clinic', 'America/Denver',
  jsonb_build_object('cadence', (SELECT jsonb_agg(jsonb_build_object('day', d, 'channel', 'call_task', 'template', 'call')) FROM generate_series(1, 14) d)));

INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, timezone, language, sms_consent, email_consent) VALUES
 ('p1', 'ann', 'Ann', '+15550000001', 'ann@example.com', NULL,                  'en', true,  true),   -- Chicago, DST on Mar 8
 ('p1', 'bob', 'Bob', '+15550000002', 'bob@example.com', 'America/Los_Angeles', 'en', false, true),   -- pays in full on day 20
 ('p1', 'cat', 'Cat', '+15550000003', 'cat@example.com', 'America/New_York',    'en', true,  true),   -- texts STOP on day 4
 ('p1', 'dan', 'Dan', '+15550000004', 'dan@example.com', 'America/Phoenix',     'en', true,  true),   -- disputes day 12 to day 40
 ('p1', 'eve', 'Eva', '+15550000005', 'eve@example.com', 'Pacific/Honolulu',    'es', true,  true),   -- pays part on day 9
 ('p1', 'fay', 'Fay', '+15550000006', 'fay@example.com', NULL,                  'en', true,  true),   -- returned mail, a call
 ('p1', 'gus', 'Gus', '+15550000007', NULL,              'Europe/London',       'en', true,  false),  -- London DST on Mar 29
 ('p1', 'hal', 'Hal', NULL,           NULL,              NULL,                  'en', false, false),  -- letters only
 ('p1', 'kim', 'Kim', '+15550000009', 'kim@example.com', NULL,                  'en', true,  true),   -- always pays on time
 ('p1', 'leo', 'Leo', '+15550000010', 'leo@example.com', NULL,                  'en', true,  true),   -- books a visit
 ('p1', 'mia', 'Mia', '+15550000011', 'mia@example.com', NULL,                  'en', true,  true),   -- no-show on day 2
 ('p1', 'ned', 'Ned', '+15550000012', 'ned@example.com', NULL,                  'en', true,  true),   -- 72 days old, silent
 ('p2', 'ivy', 'Ivy', '+15550000013', NULL,              NULL,                  'en', false, false),  -- staff call attempts
 ('p2', 'jon', 'Jon', '+15550000014', NULL,              NULL,                  'en', false, false);  -- a conversation day 3

-- kim paid her last bill within 30 days
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES
 ('p1', 'kim', 'k-old', 'charge', 50.00, '2025-12-01 15:00Z');
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES
 ('p1', 'kim', 'k-old-pay', 'payment', 50.00, '2025-12-10 15:00Z');
-- ned: an old balance whose first statement the practice mailed before collect took over
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, note) VALUES
 ('p1', 'ned', 'n-1', 'charge', 95.00, '2025-12-20 15:00Z', 'NOTE-SECRET');
UPDATE collect.account SET first_statement_at = '2025-12-27 15:00Z' WHERE patient_id = 'ned';
SELECT patient_id, paid_on_time, paid_late, state FROM collect.account WHERE patient_id IN ('kim', 'ned') ORDER BY 1;
-- every balance carries a ledger note and a visit description that must never reach a message
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, service_date, visit_id, billed_amount, insurance_paid, note)
SELECT practice_id, patient_id, 'c-' || patient_id, 'charge', amt, '2026-03-02 15:00Z', '2026-02-27',
       'VISIT-ROOT-CANAL-' || patient_id, amt + 100, 100.00, 'NOTE-SECRET diagnosis K04.7 extraction by Dr. Molar'
  FROM (VALUES ('p1','ann',120.00), ('p1','bob',450.00), ('p1','cat',220.00), ('p1','dan',300.00), ('p1','eve',80.00),
               ('p1','fay',260.00), ('p1','gus',140.00), ('p1','hal',90.00), ('p1','kim',60.00), ('p1','leo',180.00),
               ('p1','mia',130.00), ('p2','ivy',500.00), ('p2','jon',500.00)) v(practice_id, patient_id, amt);

-- what happens when (whole UTC hours, run before that hour's tick)
CREATE TEMP TABLE script (at timestamptz, sql text);
INSERT INTO script VALUES
 ('2026-03-06 18:00Z', $$SELECT collect.record_event('p1', 'cat', 'opt_out', '{"channel": "sms"}', '2026-03-06 18:00Z')$$),
 ('2026-03-22 18:00Z', $$INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'bob', 'b-pay', 'payment', 450.00, '2026-03-22 18:00Z')$$),
 ('2026-03-14 17:00Z', $$SELECT collect.record_event('p1', 'dan', 'dispute_opened', '{"reason": "I was told it was covered"}', '2026-03-14 17:00Z')$$),
 ('2026-04-11 17:00Z', $$SELECT collect.record_event('p1', 'dan', 'dispute_resolved', '{"outcome": "balance confirmed"}', '2026-04-11 17:00Z')$$),
 ('2026-03-11 22:00Z', $$INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'eve', 'e-pay', 'payment', 20.00, '2026-03-11 22:00Z')$$),
 ('2026-03-10 15:00Z', $$SELECT collect.record_event('p1', 'fay', 'returned_mail', '{}', '2026-03-10 15:00Z')$$),
 ('2026-03-27 20:00Z', $$SELECT collect.record_event('p1', 'fay', 'call_completed', '{"staff": "front desk", "outcome": "will pay Friday"}', '2026-03-27 20:00Z')$$),
 ('2026-03-09 16:00Z', $$SELECT collect.record_event('p1', 'leo', 'appointment_booked', '{"appointment_at": "2026-03-14 15:30:00+00"}', '2026-03-09 16:00Z')$$),
 ('2026-03-04 16:00Z', $$SELECT collect.record_event('p1', 'mia', 'appointment_no_show', '{}', '2026-03-04 16:00Z')$$),
 ('2026-03-05 22:00Z', $$SELECT collect.record_event('p2', 'jon', 'call_completed', '{"staff": "billing"}', '2026-03-05 22:00Z')$$);
-- ivy: five unanswered staff calls on day 1, after the cadence's first call task
INSERT INTO script SELECT '2026-03-03 17:00Z', format($$SELECT collect.record_event('p2', 'ivy', 'call_no_answer', '{}', '2026-03-03 17:00Z'::timestamptz + interval '%s minutes')$$, m)
  FROM generate_series(1, 5) m;

-- the clock: every hour for 120 days
CREATE TEMP TABLE ticks (as_of timestamptz, actions bigint);
DO $sim$
DECLARE h timestamptz; s record; n bigint;
BEGIN
  FOR h IN SELECT generate_series('2026-03-02 16:00Z'::timestamptz, '2026-06-30 16:00Z', '1 hour') LOOP
    FOR s IN SELECT sql FROM script WHERE at = h LOOP EXECUTE s.sql; END LOOP;
    n := collect.tick(h);
    INSERT INTO ticks VALUES (h, n);
  END LOOP;
END
$sim$;

-- the patient-local day of a moment, counted from the balance's due date
CREATE FUNCTION pg_temp.day_of(practice text, patient text, ts timestamptz) RETURNS int LANGUAGE sql AS $$
  SELECT ((ts AT TIME ZONE COALESCE(p.timezone, pr.timezone))::date - '2026-03-02'::date)
    FROM collect.patient p JOIN collect.practice pr USING (practice_id)
   WHERE p.practice_id = practice AND p.patient_id = patient $$;
CREATE FUNCTION pg_temp.steps(patient text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(c.channel || '@' || pg_temp.day_of(c.practice_id, c.patient_id, c.at), ' ' ORDER BY c.at, c.attempt_id)
    FROM collect.contact_attempt c WHERE c.patient_id = patient AND c.outcome IN ('queued', 'task_opened') $$;

SELECT count(*) AS ticks, sum(actions) > 0 AS acted, count(*) FILTER (WHERE actions > 0) > 10 AS many_hours FROM ticks;

-- 1. the default cadence fires on its days (day 3 sms, 10 letter, 18 email, 25 call, 35 letter)
SELECT pg_temp.steps('ann') AS ann;
-- ... text first below $150, email first above $300 (bob has no sms consent anyway)
SELECT pg_temp.steps('gus') AS gus, pg_temp.steps('bob') AS bob;
SELECT template FROM collect.outbox WHERE patient_id IN ('ann', 'bob') AND step LIKE 'cadence:%:1' ORDER BY patient_id;
-- ... gentler for a patient who always pays on time (3 days later, gentle wording)
SELECT pg_temp.steps('kim') AS kim, (SELECT template FROM collect.outbox WHERE patient_id = 'kim' ORDER BY message_id LIMIT 1) AS kim_first;
-- ... firmer and faster for a 72-day-old balance without a response
SELECT pg_temp.steps('ned') AS ned, (SELECT string_agg(template, ' ' ORDER BY message_id) FROM collect.outbox WHERE patient_id = 'ned') AS ned_templates;
-- ... a plan offer above $200 after 30 days, not below
SELECT bool_and(body LIKE '%pay over time%') FILTER (WHERE patient_id = 'cat' AND step LIKE 'cadence:%:5') AS cat_offered,
       bool_or(body LIKE '%pay over time%') FILTER (WHERE patient_id = 'ann') AS ann_offered
  FROM collect.outbox;
-- ... letters only for a patient with no phone, no e-mail (the call step has no phone: skipped)
SELECT pg_temp.steps('hal') AS hal;

-- 2. zero messages with send_after outside 08:00-21:00 patient-local
SELECT count(*) AS outside_hours FROM collect.outbox o
  JOIN collect.patient p USING (practice_id, patient_id) JOIN collect.practice pr USING (practice_id)
 WHERE extract(hour FROM o.send_after AT TIME ZONE COALESCE(p.timezone, pr.timezone)) NOT BETWEEN 8 AND 20;
-- ... and across DST: Chicago 08:00 is 14:00 UTC before Mar 8 and 13:00 UTC after; London moves on Mar 29
SELECT string_agg(to_char(send_after, 'MM-DD HH24:MI'), ' ' ORDER BY send_after) AS ann_utc FROM collect.outbox WHERE patient_id = 'ann';
SELECT string_agg(to_char(send_after, 'MM-DD HH24:MI'), ' ' ORDER BY send_after) AS gus_utc FROM collect.outbox WHERE patient_id = 'gus';

-- 3. calls: at most 7 attempts in any 7 days (ivy reaches exactly 7), none within 7 days after a conversation
SELECT a.patient_id, max(n) AS max_calls_in_7_days FROM collect.contact_attempt a,
  LATERAL (SELECT count(*) AS n FROM collect.contact_attempt b
            WHERE b.practice_id = a.practice_id AND b.patient_id = a.patient_id AND b.channel IN ('voice', 'call_task')
              AND b.outcome NOT IN ('conversation', 'blocked', 'cancelled') AND b.at > a.at - interval '7 days' AND b.at <= a.at) w
 WHERE a.channel IN ('voice', 'call_task') GROUP BY a.patient_id ORDER BY 1;
SELECT count(*) AS calls_after_conversation FROM collect.contact_attempt c JOIN collect.contact_attempt conv
    ON conv.practice_id = c.practice_id AND conv.patient_id = c.patient_id AND conv.outcome = 'conversation'
 WHERE c.channel IN ('voice', 'call_task') AND c.outcome <> 'conversation' AND c.at > conv.at AND c.at <= conv.at + interval '7 days';
SELECT pg_temp.steps('jon') AS jon;
SELECT count(*) AS skipped_for_caps FROM collect.audit_log WHERE action = 'step_skipped' AND reason LIKE 'call_%';

-- 4. zero SMS without consent or after STOP
SELECT count(*) AS sms_without_consent FROM collect.outbox o JOIN collect.patient p USING (practice_id, patient_id)
 WHERE o.channel = 'sms' AND NOT p.sms_consent;
SELECT count(*) FILTER (WHERE status <> 'cancelled' AND send_after >= '2026-03-06 18:00Z') AS cat_sms_after_stop,
       count(*) AS cat_sms_total FROM collect.outbox WHERE patient_id = 'cat' AND channel = 'sms';
SELECT collect.send_block_reason('p1', 'cat', 'sms', '2026-04-01 15:00Z') AS cat_sms_now;

-- 5. every SMS and e-mail carries an opt-out line
SELECT count(*) AS digital, count(*) FILTER (WHERE body NOT LIKE '%Reply STOP to opt out.' AND body NOT LIKE '%reply STOP or UNSUBSCRIBE.'
                                   AND body NOT LIKE '%Responda ALTO para no recibir más mensajes.' AND body NOT LIKE '%responda ALTO o BAJA.') AS without_opt_out
  FROM collect.outbox WHERE channel IN ('sms', 'email');

-- 6. nothing after a dispute until it is resolved (then the cadence resumes)
SELECT count(*) FILTER (WHERE created_at >= '2026-03-14 17:00Z' AND created_at < '2026-04-11 17:00Z') AS dan_during_dispute,
       count(*) FILTER (WHERE status = 'queued' AND send_after >= '2026-03-14 17:00Z' AND created_at < '2026-04-11 17:00Z') AS dan_left_queued,
       count(*) FILTER (WHERE created_at >= '2026-04-11 17:00Z') > 0 AS dan_resumed
  FROM collect.outbox WHERE patient_id = 'dan';
SELECT kind, status, summary FROM collect.task WHERE patient_id = 'dan' ORDER BY task_id;

-- 7. a payment in full cancels every queued message; nothing after it
SELECT status, count(*) FROM collect.outbox WHERE patient_id = 'bob' GROUP BY status ORDER BY status;
SELECT count(*) AS bob_after_payment FROM collect.outbox WHERE patient_id = 'bob' AND created_at >= '2026-03-22 18:00Z';
SELECT state, segment, next_action_at FROM collect.account WHERE patient_id = 'bob';

-- 8. no message contains the ledger note or the visit description
SELECT count(*) AS phi_leaks FROM collect.outbox
 WHERE concat(subject, body) ~* 'NOTE-SECRET|ROOT-CANAL|K04|extraction|Molar';

-- a payment postpones the next touch: nothing for eve in the 48 hours after her payment
SELECT count(*) AS eve_within_48h FROM collect.outbox WHERE patient_id = 'eve'
   AND created_at >= '2026-03-11 22:00Z' AND created_at < '2026-03-13 22:00Z';
SELECT pg_temp.steps('eve') AS eve, (SELECT language FROM collect.outbox WHERE patient_id = 'eve' LIMIT 1) AS eve_language;
-- returned mail: fay's letters move to e-mail, and an address_check task opens
SELECT pg_temp.steps('fay') AS fay, (SELECT string_agg(kind, ' ' ORDER BY task_id) FROM collect.task WHERE patient_id = 'fay') AS fay_tasks;
-- a booked visit with an open balance: one bundled message
SELECT template, body LIKE '%see you on Mar 14, 2026 10:30%' AND body LIKE '%balance of $180.00%' AS bundled
  FROM collect.outbox WHERE patient_id = 'leo' AND template = 'appointment_and_balance';
-- a no-show: the rebooking message goes first, reminders wait 48 hours
SELECT string_agg(template || '@' || pg_temp.day_of(practice_id, patient_id, created_at), ' ' ORDER BY message_id) AS mia
  FROM collect.outbox WHERE patient_id = 'mia';

-- placement review: after the cadence, never before 120 days from the first statement
SELECT a.patient_id, a.state, t.created_at >= a.first_statement_at + interval '120 days' AS after_120_days
  FROM collect.account a JOIN collect.task t USING (practice_id, patient_id)
 WHERE t.kind = 'placement_review' ORDER BY 1;
SELECT count(*) AS placement_while_disputed FROM collect.task WHERE kind = 'placement_review' AND patient_id = 'dan'
   AND created_at < '2026-04-11 17:00Z';

-- every contact attempt is logged with who, channel, when and outcome
SELECT count(*) = (SELECT count(*) FROM collect.outbox WHERE step LIKE 'cadence:%' OR step LIKE 'notice:%' OR step LIKE 'appointment:%') AS all_logged
  FROM collect.contact_attempt WHERE message_id IS NOT NULL;

-- idempotent: the same as_of again takes no action
SELECT collect.tick('2026-06-30 16:00Z') AS again, collect.tick('2026-04-01 12:00Z') AS earlier;

-- after fay answered a call at 15:00 her time, later messages prefer that hour
SELECT string_agg(to_char(send_after AT TIME ZONE 'America/Chicago', 'MM-DD HH24:MI'), ' ' ORDER BY send_after) AS fay_local
  FROM collect.outbox WHERE patient_id = 'fay';
