-- Compliance: US federal holidays (observed), business days, the Reg F
-- validation period (receipt 5 business days after sending, then 30 days),
-- the validation notice itemization, and the validation hold: a written
-- dispute or an original-creditor request inside the period holds
-- collection until verification_sent.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
SET TIME ZONE 'UTC';
\set VERBOSITY terse
\set SHOW_CONTEXT never

-- the 2026 federal holidays by rule (July 4 is a Saturday: observed Friday July 3)
SELECT d::date, extract(dow FROM d)::int AS dow, collect.federal_holiday(d::date) AS holiday
  FROM generate_series('2026-01-01'::date, '2026-12-31', '1 day') d
 WHERE collect.federal_holiday(d::date) IS NOT NULL ORDER BY d;
-- observed on a Sunday -> Monday (2027-12-25 is a Saturday -> Friday 12-24; 2028-01-01 is a Saturday -> 2027-12-31)
SELECT collect.federal_holiday('2027-12-24') AS xmas_2027_observed, collect.federal_holiday('2027-12-31') AS ny_2028_observed,
       collect.federal_holiday('2023-01-02') AS ny_2023_sunday_observed, collect.federal_holiday('2020-06-19') AS juneteenth_before_2021,
       collect.federal_holiday('2026-07-04') AS saturday_itself;
SELECT collect.is_business_day('2026-03-06') AS friday, collect.is_business_day('2026-03-07') AS saturday,
       collect.is_business_day('2026-03-08') AS sunday, collect.is_business_day('2026-11-26') AS thanksgiving,
       collect.is_business_day('2026-07-03') AS july4_observed;

-- validation period end: sent on a Friday (the weekend is skipped) ...
SELECT collect.add_business_days('2026-03-06', 5) AS receipt_fri, collect.validation_period_end('2026-03-06') AS end_fri;
-- ... sent the Monday of Thanksgiving week (Thursday skipped): receipt Tue Dec 1, end Dec 31
SELECT collect.add_business_days('2026-11-23', 5) AS receipt_thx, collect.validation_period_end('2026-11-23') AS end_thx;
-- ... sent before an observed holiday (Fri July 3, 2026) and a weekend
SELECT collect.add_business_days('2026-07-01', 5) AS receipt_jul, collect.validation_period_end('2026-07-01') AS end_jul;
-- one day earlier or later moves the end by one business day, never onto a skipped day's count
SELECT collect.validation_period_end('2026-11-20') AS sent_fri_before, collect.validation_period_end('2026-11-24') AS sent_tue;
SELECT collect.add_business_days('2026-01-01', -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT collect.validation_period_end('infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- the itemization
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Maple Dental', 'America/New_York');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent) VALUES
 ('p1', 'ann', 'Ann', '+15550000001', 'ann@example.com', true, true),
 ('p1', 'bo',  'Bo',  '+15550000002', 'bo@example.com',  true, true),
 ('p1', 'cy',  'Cy',  '+15550000003', NULL,  true, false);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES
 ('p1', 'ann', 'a1', 'charge', 300.00, '2026-02-02 15:00Z'),
 ('p1', 'ann', 'a2', 'payment', 50.00, '2026-02-02 18:00Z'),   -- same day: inside "amount then"
 ('p1', 'ann', 'a3', 'payment', 40.00, '2026-02-10 15:00Z'),
 ('p1', 'ann', 'a4', 'reversal', 40.00, '2026-02-12 15:00Z'),
 ('p1', 'ann', 'a5', 'payment', 25.00, '2026-02-13 15:00Z'),
 ('p1', 'ann', 'a6', 'adjustment', 10.00, '2026-02-14 15:00Z'),
 ('p1', 'ann', 'a7', 'charge', 80.00, '2026-02-20 15:00Z'),
 ('p1', 'bo', 'b1', 'charge', 200.00, '2026-02-02 15:00Z'),
 ('p1', 'cy', 'c1', 'charge', 200.00, '2026-02-02 15:00Z');
SELECT * FROM collect.validation_notice('p1', 'ann', '2026-03-06 15:00Z');
SELECT amount_now = (SELECT balance FROM collect.account WHERE patient_id = 'ann') AS ties_to_balance
  FROM collect.validation_notice('p1', 'ann', '2026-03-06 15:00Z');
SELECT * FROM collect.validation_notice('p1', 'nobody', '2026-03-06 15:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- the tick sends the validation notice with the first contact (a letter beside the first text;
-- a first letter is the notice itself): it opens the validation period
SELECT sum(collect.tick(t)) > 0 AS took_steps
  FROM generate_series('2026-02-03 14:00Z'::timestamptz, '2026-03-01 14:00Z', '1 day') t;
SELECT a.patient_id, (a.validation_notice_at AT TIME ZONE 'America/New_York')::date AS notice_day,
       a.validation_notice_at = (SELECT min(created_at) FROM collect.outbox o WHERE o.patient_id = a.patient_id) AS with_first_contact,
       a.validation_period_end,
       a.validation_period_end = collect.validation_period_end((a.validation_notice_at AT TIME ZONE 'America/New_York')::date) AS end_by_rule
  FROM collect.account a ORDER BY a.patient_id;
SELECT patient_id, channel, step, template FROM collect.outbox WHERE template = 'validation_notice' ORDER BY patient_id;
-- the notice carries the itemization and the end of the period
SELECT body LIKE '%As of Feb 2, 2026, you owed: $250.00%' AS itemized,
       body LIKE '%by ' || to_char(validation_period_end, 'Mon FMDD, YYYY') || ' to dispute%' AS period_end_printed
  FROM collect.outbox o JOIN collect.account a USING (practice_id, patient_id)
 WHERE o.patient_id = 'ann' AND o.template = 'validation_notice';
SELECT regexp_replace(body, 'https://\S+', '<pay link>') AS body FROM collect.outbox WHERE patient_id = 'bo' AND template = 'validation_notice';

-- a written dispute ON the last day of the period: validation hold
SELECT validation_period_end AS ann_end FROM collect.account WHERE patient_id = 'ann' \gset
SELECT collect.record_event('p1', 'ann', 'dispute_opened', '{"reason": "not my visit", "written": true}',
                            (:'ann_end'::date + time '20:00') AT TIME ZONE 'America/New_York') > 0 AS recorded;
-- the day after: an ordinary dispute only (no validation hold)
SELECT collect.record_event('p1', 'bo', 'dispute_opened', '{"reason": "wrong amount", "written": true}',
                            ((SELECT validation_period_end FROM collect.account WHERE patient_id = 'bo') + 1 + time '09:00')
                              AT TIME ZONE 'America/New_York') > 0 AS recorded;
SELECT patient_id, kind, ends_at IS NULL AS open FROM collect.legal_hold ORDER BY patient_id, kind;

-- resolving the dispute ends the dispute hold, but the validation hold waits for verification
SELECT collect.record_event('p1', 'ann', 'dispute_resolved', '{"outcome": "upheld"}',
                            (:'ann_end'::date + 3 + time '15:00') AT TIME ZONE 'America/New_York') > 0 AS resolved;
SELECT collect.send_block_reason('p1', 'ann', 'email', (:'ann_end'::date + 4 + time '15:00') AT TIME ZONE 'America/New_York') AS still_held;
SELECT collect.tick((:'ann_end'::date + 5 + time '15:00') AT TIME ZONE 'America/New_York') >= 0 AS ticked;
SELECT count(*) AS ann_messages_during_hold FROM collect.outbox
 WHERE patient_id = 'ann' AND created_at > (:'ann_end'::date + time '20:00') AT TIME ZONE 'America/New_York';
SELECT state AS ann_state_during_hold FROM collect.account WHERE patient_id = 'ann';
SELECT collect.record_event('p1', 'ann', 'verification_sent', '{}',
                            (:'ann_end'::date + 6 + time '15:00') AT TIME ZONE 'America/New_York') > 0 AS verified;
SELECT collect.send_block_reason('p1', 'ann', 'email', (:'ann_end'::date + 7 + time '15:00') AT TIME ZONE 'America/New_York') IS NULL AS may_go,
       (SELECT next_action_at IS NOT NULL FROM collect.account WHERE patient_id = 'ann') AS cadence_wakes;
SELECT kind, ends_at = (:'ann_end'::date + 6 + time '15:00') AT TIME ZONE 'America/New_York' AS ended_at_verification
  FROM collect.legal_hold WHERE patient_id = 'ann' AND kind = 'validation';

-- an original-creditor request inside the period holds too; after the period it does not
SELECT validation_period_end AS cy_end FROM collect.account WHERE patient_id = 'cy' \gset
SELECT collect.record_event('p1', 'cy', 'original_creditor_requested', '{}',
                            (:'cy_end'::date + 1 + time '10:00') AT TIME ZONE 'America/New_York') > 0 AS late_request;
SELECT count(*) AS cy_holds_after_late FROM collect.legal_hold WHERE patient_id = 'cy';
SELECT action, reason FROM collect.audit_log WHERE patient_id = 'cy' AND action = 'hold_not_required';
SELECT collect.record_event('p1', 'cy', 'original_creditor_requested', '{}',
                            (:'cy_end'::date + time '10:00') AT TIME ZONE 'America/New_York') > 0 AS in_time_request;
SELECT kind, reason FROM collect.legal_hold WHERE patient_id = 'cy';
