-- Bad input: every case prints its error, its SQLSTATE, and proves that
-- nothing was written (a fingerprint of every collect table is unchanged).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice VALUES ('p1', 'Smile Dental', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent)
  VALUES ('p1', 'a', 'Ann', '+15555550123', 'ann@example.com', true),
         ('p1', 'b', 'Bo', NULL, NULL, false);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'a', 'e-1', 'charge', 120.00, '2026-01-05 12:00+00');

-- fingerprint of everything collect stores
CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(p::text, ',' ORDER BY practice_id) FROM collect.practice p),
    (SELECT string_agg(s.practice_id, ',' ORDER BY practice_id) FROM collect.practice_secret s),
    (SELECT string_agg(p::text, ',' ORDER BY practice_id, patient_id) FROM collect.patient p),
    (SELECT string_agg(l::text, ',' ORDER BY entry_id) FROM collect.ledger l),
    (SELECT string_agg(a::text, ',' ORDER BY practice_id, patient_id) FROM collect.account a)))
$$;
CREATE TEMP TABLE baseline AS SELECT pg_temp.fingerprint() AS fp;
CREATE FUNCTION pg_temp.unchanged() RETURNS boolean LANGUAGE sql AS
  $$ SELECT fp = pg_temp.fingerprint() FROM baseline $$;

-- case 1
INSERT INTO collect.practice VALUES ('p2', 'Bad TZ', 'Mars/Base');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 2
INSERT INTO collect.practice VALUES ('p2', 'POSIX TZ', 'EST5EDT,M3.2.0,M11.1.0');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 3
INSERT INTO collect.practice VALUES ('p2', 'Empty TZ', '');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 4
INSERT INTO collect.practice (practice_id, name) VALUES ('p2', 'No TZ');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 5
INSERT INTO collect.practice VALUES ('p 2', 'Space in id', 'UTC');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 6
INSERT INTO collect.practice (practice_id, name, timezone, created_at) VALUES ('p2', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'UTC', '2026-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 7
INSERT INTO collect.practice VALUES ('p1', 'Duplicate', 'UTC');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 8
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '[1, 2]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 9
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"text_first_belo": 150}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 10
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"text_first_below": "150"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 11
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"contact_hour_end": 22}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 12
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"contact_hour_start": 7}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 13
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"contact_hour_start": 20, "contact_hour_end": 10}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 14
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"call_max_attempts_7d": 8}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 15
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"hardship_support_months": 13}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 16
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"plan_day_of_month": 31}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 17
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"min_outreach_balance": -5}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 18
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"nonprofit_hospital": "yes"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 19
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"state_preset": "TX"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 20
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"pay_link_base": "http://pay.example.com"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 21
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"cadence": [{"day": 3, "channel": "fax"}]}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 22
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"cadence": [{"day": 10, "channel": "sms"}, {"day": 3, "channel": "email"}]}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 23
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"cadence": [{"channel": "sms"}]}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 24
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"cadence": [{"day": 3, "channel": "sms", "tone": "firm"}]}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 25
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"plan_installments": [{"under": 500, "count": 3}]}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 26
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"plan_offer_after_days": 1.5}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 27
INSERT INTO collect.practice VALUES ('p2', 'x', 'UTC', '{"cadence": ');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 28
UPDATE collect.practice SET timezone = 'Not/AZone' WHERE practice_id = 'p1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 29
UPDATE collect.practice SET policy = '{"placement_review_after_days": 30}' WHERE practice_id = 'p1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 30
INSERT INTO collect.patient (practice_id, patient_id) VALUES ('nope', 'x1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 31
INSERT INTO collect.patient (practice_id, patient_id, phone) VALUES ('p1', 'x1', '555-1234');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 32
INSERT INTO collect.patient (practice_id, patient_id, phone) VALUES ('p1', 'x1', '+0123456789');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 33
INSERT INTO collect.patient (practice_id, patient_id, phone) VALUES ('p1', 'x1', '+1234567890123456');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 34
INSERT INTO collect.patient (practice_id, patient_id, phone) VALUES ('p1', 'x1', '+1 555 555 0123');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 35
INSERT INTO collect.patient (practice_id, patient_id, email) VALUES ('p1', 'x1', 'ann@');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 36
INSERT INTO collect.patient (practice_id, patient_id, email) VALUES ('p1', 'x1', 'ann@@example.com');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 37
INSERT INTO collect.patient (practice_id, patient_id, email) VALUES ('p1', 'x1', 'a..b@example.com');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 38
INSERT INTO collect.patient (practice_id, patient_id, email) VALUES ('p1', 'x1', 'ann@localhost');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 39
INSERT INTO collect.patient (practice_id, patient_id, email) VALUES ('p1', 'x1', 'ann@-example.com');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 40
INSERT INTO collect.patient (practice_id, patient_id, timezone) VALUES ('p1', 'x1', 'America/Atlantis');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 41
INSERT INTO collect.patient (practice_id, patient_id, language) VALUES ('p1', 'x1', 'english');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 42
INSERT INTO collect.patient (practice_id, patient_id, created_at, first_name) VALUES ('p1', 'x1', '2026-01-01', 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 43
INSERT INTO collect.patient (practice_id, patient_id) VALUES ('p1', '');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 44
INSERT INTO collect.patient (practice_id, patient_id) VALUES ('p1', 'a');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 45
UPDATE collect.patient SET phone = '5555550123' WHERE patient_id = 'a';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 46
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'a', 'bad-1', 'charge', -10.00, '2026-03-01 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 47
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'a', 'bad-1', 'charge', 0, '2026-03-01 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 48
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'a', 'bad-1', 'gift', 10.00, '2026-03-01 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 49
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'ghost', 'bad-1', 'charge', 10.00, '2026-03-01 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 50
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('nope', 'a', 'bad-1', 'charge', 10.00, '2026-03-01 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 51
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'a', 'bad-1', 'charge', 10000000000.00, '2026-03-01 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 52
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'a', NULL, 'charge', 10.00, '2026-03-01 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 53
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'a', 'bad-1', 'charge', 10.00, 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 54
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'a', 'bad-1', 'charge', 10.00, '2026-02-30 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 55
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'a', 'e-1', 'charge', 120.01, '2026-01-05 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 56
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'a', 'e-1', 'payment', 120.00, '2026-01-05 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 57
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'b', 'e-1', 'charge', 120.00, '2026-01-05 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 58
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'a', 'bad-1', 'charge', 10.00, '2026-03-01 12:00+00'), ('p1', 'a', 'bad-2', 'charge', -1, '2026-03-01 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 59
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES ('p1', 'a', 'bad-1', 'charge', 10.00, '2026-03-01 12:00+00'), ('p1', 'a', 'bad-1', 'charge', 11.00, '2026-03-01 12:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 60
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, billed_amount) VALUES ('p1', 'a', 'bad-1', 'charge', 10.00, -5);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 61
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, note) VALUES ('p1', 'a', 'bad-1', 'charge', 10.00, '2026-01-01', repeat('n', 2001));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 62
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount) VALUES ('p1', 'a', '', 'charge', 10.00);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 63
UPDATE collect.ledger SET amount = 1 WHERE external_id = 'e-1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 64
DELETE FROM collect.ledger WHERE external_id = 'e-1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 65
TRUNCATE collect.ledger;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- case 66
DELETE FROM collect.ledger WHERE false;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT pg_temp.unchanged() AS nothing_written;

-- good input still works after all of that: an identical repost is a no-op
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'a', 'e-1', 'charge', 120.00, '2026-01-05 12:00+00');
SELECT pg_temp.unchanged() AS identical_repost_is_noop;
SELECT (SELECT count(*) FROM collect.ledger) AS ledger_rows, balance, due_since FROM collect.account;
