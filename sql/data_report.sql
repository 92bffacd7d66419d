-- collect.report_html: a self-contained page with four SVG charts,
-- computed from practice, account, ledger and task; every table text
-- escaped; windows end at as_of.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
INSERT INTO collect.practice (practice_id, name, timezone)
VALUES ('rep', 'Smile & Co <script>alert(1)</script>', 'America/New_York');
INSERT INTO collect.patient (practice_id, patient_id, first_name, last_name)
SELECT 'rep', 'p' || i, 'First' || i, 'Last' || i FROM generate_series(1, 6) i;
-- charges of different ages on 2024-06-01 and payments in the weeks before it
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES
 ('rep', 'p1', 'c1', 'charge', 100.00, '2024-05-20 10:00-04'),   -- 0-30
 ('rep', 'p2', 'c2', 'charge', 250.00, '2024-04-10 10:00-04'),   -- 31-60
 ('rep', 'p3', 'c3', 'charge', 400.00, '2024-03-10 10:00-04'),   -- 61-90
 ('rep', 'p4', 'c4', 'charge', 75.50, '2024-01-05 10:00-05'),    -- 120+
 ('rep', 'p5', 'c5', 'charge', 60.00, '2024-05-01 10:00-04'),
 ('rep', 'p5', 'y5', 'payment', 60.00, '2024-05-28 10:00-04'),   -- settled, paid this week
 ('rep', 'p6', 'c6', 'charge', 30.00, '2024-02-01 10:00-05'),
 ('rep', 'p6', 'y6', 'payment', 50.00, '2024-04-15 10:00-04'),   -- a 20.00 credit
 ('rep', 'p3', 'y3', 'payment', 100.00, '2024-05-15 10:00-04'),
 ('rep', 'p3', 'y3b', 'payment', 25.00, '2024-07-01 10:00-04');  -- after as_of: not counted
INSERT INTO collect.task (practice_id, patient_id, kind, summary, due_at) VALUES
 ('rep', 'p3', 'call', 'Owes $300.00 from a visit 83 days ago. <b>No response</b> to 2 texts.', '2024-05-30 09:00-04'),
 ('rep', 'p4', 'placement_review', 'Owes $75.50 from a visit 148 days ago.', '2024-06-05 09:00-04'),
 ('rep', 'p2', 'call', 'Owes $250.00 from a visit 52 days ago.', '2024-06-03 09:00-04');

SELECT collect.report_html('rep', '2024-06-01 12:00-04') AS html \gset
SELECT :'html' LIKE '<!DOCTYPE html>%</html>' || chr(10) AS complete_page,
       (length(:'html') - length(replace(:'html', '<svg ', ''))) / length('<svg ') AS svg_charts,
       (length(:'html') - length(replace(:'html', 'class="bar"', ''))) / length('class="bar"') AS bars,
       :'html' !~* '<script|<link|<img|@import|url\(|https?://(?!www\.w3\.org/2000/svg)' AS no_external_resources,
       position('&lt;script&gt;alert(1)&lt;/script&gt;' IN :'html') > 0 AS practice_name_escaped,
       position('&lt;b&gt;No response&lt;/b&gt;' IN :'html') > 0 AS task_summary_escaped;
-- headline figures: open 100 + 250 + 300 + 75.50; collected 60 + 100 (+ 50 on 04-15) in 120 days; 1 credit
SELECT position('<div class="v">$725.50</div><div class="l">open patient balances' IN :'html') > 0 AS open_balance,
       position('<div class="v">4</div><div class="l">accounts with a balance' IN :'html') > 0 AS open_accounts,
       position('<div class="v">$160.00</div><div class="l">collected, last 30 days' IN :'html') > 0 AS collected_30,
       position('<div class="v">$210.00</div><div class="l">collected, last 120 days' IN :'html') > 0 AS collected_120,
       position('<div class="v">22.4%</div>' IN :'html') > 0 AS rate_210_of_935_50,
       position('<div class="v">$20.00</div><div class="l">credit balances' IN :'html') > 0 AS credit,
       position('<div class="v">3 (1 overdue)</div>' IN :'html') > 0 AS tasks;
-- aging bars as of 2024-06-01
SELECT position('<title>0-30 days (1): $100</title>' IN :'html') > 0 AS aging_0_30,
       position('<title>31-60 days (1): $250</title>' IN :'html') > 0 AS aging_31_60,
       position('<title>61-90 days (1): $300</title>' IN :'html') > 0 AS aging_61_90,
       position('<title>91-120 days (0): $0</title>' IN :'html') > 0 AS aging_91_120,
       position('<title>120+ days (1): $75</title>' IN :'html') > 0 AS aging_120_plus;
-- weekly collections: the week ending 06-01 has $60, the one ending 05-18 has $100
SELECT position('<title>06-01: $60</title>' IN :'html') > 0 AS week_0601,
       position('<title>05-18: $100</title>' IN :'html') > 0 AS week_0518,
       position('<title>call: 2 (1 overdue)</title>' IN :'html') > 0 AS queue_calls;
-- the same data a month earlier: the July payment and later postings do not count
SELECT position('<div class="v">$0.00</div><div class="l">collected, last 30 days' IN
                collect.report_html('rep', '2024-04-01 12:00-04')) > 0 AS earlier_as_of;
-- an empty practice: charts say so
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('empty', NULL, 'UTC');
SELECT (length(h) - length(replace(h, 'no data yet', ''))) / length('no data yet') AS empty_charts
  FROM collect.report_html('empty', '2024-06-01') h;
SELECT collect.report_html('nope', '2024-06-01');
SELECT collect.report_html('rep', 'infinity');
