-- Hardship: reduction (an adjustment), longer term and lower minimum (a
-- hardship plan replacing the live one), a review task after
-- hardship_support_months. Settlements: only for balances at least
-- settlement_min_age_days old with documented attempts, at most
-- settlement_max_discount_pct off, approval above settlement_approval_above,
-- and the discount posted as an adjustment once the offer is paid.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
\set VERBOSITY terse
\set SHOW_CONTEXT never

INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('p1', 'Clinic', 'America/Denver');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, sms_consent)
  SELECT 'p1', n, initcap(n), '+1555555' || lpad(i::text, 4, '0'), true
    FROM unnest(ARRAY['ann', 'bob', 'cy', 'dee', 'eve', 'fay', 'gus']) WITH ORDINALITY u(n, i);
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  SELECT 'p1', n, 'c-' || n, 'charge', amt, '2025-08-01 18:00Z'
    FROM (VALUES ('ann', 600.00), ('bob', 900.00), ('cy', 450.00), ('dee', 500.00),
                 ('eve', 500.01), ('fay', 300.00), ('gus', 300.00)) v(n, amt);

-- a reduction: $200 off as an adjustment; the live plan is replaced with as many installments as it had left
SELECT collect.create_plan('p1', 'ann', NULL, NULL, '2025-09-01 18:00Z') AS ann_plan;
SELECT collect.record_event('p1', 'ann', 'hardship_approved', '{"outcome": "reduction", "amount": 200}', '2025-09-10 18:00Z') AS ann_hardship;
SELECT kind, amount, method, external_id FROM collect.ledger WHERE patient_id = 'ann' AND kind <> 'charge';
SELECT plan_id, total, installments, status, source, approved_by FROM collect.plan WHERE patient_id = 'ann' ORDER BY plan_id;
SELECT outcome, adjustment, plan_id, review_at, review_at AT TIME ZONE 'America/Denver' AS local_review FROM collect.hardship WHERE patient_id = 'ann';
SELECT balance, state FROM collect.account WHERE patient_id = 'ann';

-- a longer term: twice the tier count by default, or as given
SELECT collect.record_event('p1', 'bob', 'hardship_approved', '{"outcome": "longer_term"}', '2025-09-10 18:00Z') AS bob_default;
SELECT collect.record_event('p1', 'cy', 'hardship_approved', '{"outcome": "longer_term", "installments": 10, "months": 12}', '2025-09-10 18:00Z') AS cy_given;
-- a lower minimum: floor(balance / minimum) installments, so each is at least the minimum
SELECT collect.record_event('p1', 'dee', 'hardship_approved', '{"outcome": "lower_minimum", "minimum": "45.00"}', '2025-09-10 18:00Z') AS dee_minimum;
SELECT p.patient_id, p.total, p.installments, p.status, p.approved_by, min(i.amount) AS smallest, max(i.amount) AS largest
  FROM collect.plan p JOIN collect.installment i USING (practice_id, plan_id)
 WHERE p.source = 'hardship' GROUP BY p.practice_id, p.plan_id ORDER BY p.plan_id;
SELECT patient_id, review_at::date FROM collect.hardship ORDER BY hardship_id;
-- a confirmation message for each
SELECT patient_id, template FROM collect.outbox WHERE template = 'hardship_confirmation' ORDER BY message_id;

-- the review opens after hardship_support_months (6 by default) at 09:00 local (MDT: 15:00Z), not before
SELECT collect.plans_tick('2026-03-10 14:59Z') >= 0 AS ticked_before_review;
SELECT count(*) AS review_tasks FROM collect.task WHERE kind = 'hardship_review';
SELECT collect.plans_tick('2026-03-10 15:00Z') AS at_review;
SELECT patient_id, kind, status FROM collect.task WHERE kind = 'hardship_review' ORDER BY task_id;
SELECT collect.plans_tick('2026-03-10 15:00Z') AS same_as_of_again;

-- hardship errors, through record_event (each followed by its SQLSTATE)
SELECT collect.record_event('p1', 'fay', 'hardship_approved', '{"outcome": "holiday"}', '2025-09-10 18:00Z');
\echo :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'fay', 'hardship_approved', '{"outcome": "reduction"}', '2025-09-10 18:00Z');
\echo :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'fay', 'hardship_approved', '{"outcome": "reduction", "amount": 300.01}', '2025-09-10 18:00Z');
\echo :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'fay', 'hardship_approved', '{"outcome": "longer_term", "months": 13}', '2025-09-10 18:00Z');
\echo :LAST_ERROR_SQLSTATE
SELECT collect.record_event('p1', 'nobody', 'hardship_approved', '{"outcome": "longer_term"}', '2025-09-10 18:00Z');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS fay_hardships FROM collect.hardship WHERE patient_id = 'fay';
-- a reduction to zero leaves nothing to plan
SELECT collect.record_event('p1', 'fay', 'hardship_approved', '{"outcome": "reduction", "amount": 300}', '2025-09-10 18:00Z') IS NOT NULL AS fay_cleared;
SELECT balance, state FROM collect.account WHERE patient_id = 'fay';

-- settlements: documented attempts for eve and gus (2 each), none for others
INSERT INTO collect.contact_attempt (practice_id, patient_id, channel, message_id, at, outcome)
  VALUES ('p1', 'eve', 'sms', 9001, '2025-09-01 18:00Z', 'delivered'), ('p1', 'eve', 'letter', 9002, '2025-10-01 18:00Z', 'sent'),
         ('p1', 'gus', 'sms', 9003, '2025-09-01 18:00Z', 'delivered'), ('p1', 'gus', 'sms', 9003, '2025-09-01 18:01Z', 'sent'),
         ('p1', 'gus', 'email', 9004, '2025-10-01 18:00Z', 'delivered');
-- the age boundary: due since 2025-08-01 (local), 120 days on 2025-11-29
SELECT collect.offer_settlement('p1', 'gus', 30, '2025-11-29 06:59Z');   -- still Nov 28 in Denver: 119 days
\echo :LAST_ERROR_SQLSTATE
SELECT collect.offer_settlement('p1', 'gus', 30, '2025-11-29 07:00Z') AS gus_offer;
SELECT balance, discount_pct, discount, amount, status FROM collect.settlement WHERE patient_id = 'gus';
SELECT template, step FROM collect.outbox WHERE patient_id = 'gus';
-- above settlement_approval_above ($500): approval first
SELECT collect.offer_settlement('p1', 'eve', NULL, '2025-12-01 18:00Z') AS eve_offer \gset
SELECT balance, discount_pct, discount, amount, status FROM collect.settlement WHERE patient_id = 'eve';
SELECT kind, status, summary LIKE '%Recommend approving a settlement of $350.01 for $500.01 (30% off, settlement %' AS says_what FROM collect.task WHERE patient_id = 'eve';
SELECT count(*) AS eve_offer_messages FROM collect.outbox WHERE patient_id = 'eve' AND template = 'settlement_offer';
SELECT collect.approve_settlement(:eve_offer, 'manager.mary', '2025-12-02 18:00Z');
SELECT status, approved_by FROM collect.settlement WHERE patient_id = 'eve';
SELECT count(*) AS eve_offer_messages FROM collect.outbox WHERE patient_id = 'eve' AND template = 'settlement_offer';
SELECT collect.accept_settlement('p1', 'eve', '2025-12-03 18:00Z') = :eve_offer AS accepted;
-- paid in two parts; the discount is posted only when the settled amount is in
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'eve', 'e-p1', 'payment', 200.00, '2025-12-04 18:00Z');
SELECT collect.plans_tick('2025-12-04 18:05Z') AS partly_paid;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'eve', 'e-p2', 'payment', 150.01, '2025-12-05 18:00Z');
SELECT collect.plans_tick('2025-12-05 18:05Z') AS paid;
SELECT collect.plans_tick('2025-12-05 18:05Z') AS same_as_of_again;
SELECT kind, amount, method FROM collect.ledger WHERE patient_id = 'eve' ORDER BY entry_id;
SELECT status, settled_at FROM collect.settlement WHERE patient_id = 'eve';
SELECT balance, state FROM collect.account WHERE patient_id = 'eve';
-- paying the offer without a formal "yes" settles it too
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  VALUES ('p1', 'gus', 'g-p1', 'payment', 210.00, '2025-12-01 18:00Z');
SELECT collect.plans_tick('2025-12-01 18:05Z') AS gus_paid;
SELECT status, accepted_at FROM collect.settlement WHERE patient_id = 'gus';
SELECT balance FROM collect.account WHERE patient_id = 'gus';

-- settlement errors (each followed by its SQLSTATE)
SELECT collect.offer_settlement('p1', 'ann', 31, '2026-01-01 18:00Z');   -- above settlement_max_discount_pct
\echo :LAST_ERROR_SQLSTATE
SELECT collect.offer_settlement('p1', 'ann', 10, '2026-01-01 18:00Z');   -- no documented attempts
\echo :LAST_ERROR_SQLSTATE
SELECT collect.offer_settlement('p1', 'gus', 10, '2026-01-01 18:00Z');   -- nothing left to settle
\echo :LAST_ERROR_SQLSTATE
SELECT collect.approve_settlement(:eve_offer, 'manager.mary', '2025-12-06 18:00Z');  -- not pending
\echo :LAST_ERROR_SQLSTATE
SELECT collect.accept_settlement('p1', 'ann', '2026-01-01 18:00Z');      -- no offer
\echo :LAST_ERROR_SQLSTATE
