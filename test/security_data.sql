-- test/security_data.sql: a small, varied data set touching every
-- practice table, for the dump/restore and upgrade tests (psql -f).
-- Written against the public surface only; modules' own tables are
-- covered by the tests' every-table comparison whatever they hold.
INSERT INTO collect.practice (practice_id, name, timezone, policy) VALUES
  ('P1', 'Pine Dental', 'America/Chicago', '{"min_outreach_balance": 10}'),
  ('P2', 'Oak Vet', 'America/Los_Angeles', '{}');
SELECT collect.grant_practice(r, 'P1') FROM unnest(ARRAY['collect_staff']) r;
INSERT INTO collect.patient (practice_id, patient_id, first_name, last_name, phone, email, sms_consent, email_consent)
SELECT 'P' || (1 + i % 2), 'pt' || i, 'First' || i, 'Last' || i, '+1555555' || lpad(i::text, 4, '0'),
       'pt' || i || '@example.com', i % 3 = 0, i % 2 = 0
  FROM generate_series(1, 40) i;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, service_date, visit_id, note)
SELECT 'P' || (1 + i % 2), 'pt' || i, 'c-' || i || '-' || j, 'charge', 10 + (i * j) % 400,
       timestamptz '2026-01-01 15:00+00' + (i + j * 7) * interval '1 day', date '2026-01-01' + i, 'v' || i, NULL
  FROM generate_series(1, 40) i, generate_series(1, 3) j;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, method)
SELECT 'P' || (1 + i % 2), 'pt' || i, 'p-' || i, 'payment', 5 + i, timestamptz '2026-03-01 15:00+00' + i * interval '1 hour', 'card'
  FROM generate_series(1, 40, 3) i;
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, note)
SELECT 'P' || (1 + i % 2), 'pt' || i, 'w-' || i, 'write_off', 3, timestamptz '2026-03-10 15:00+00', 'small balance'
  FROM generate_series(2, 40, 7) i;
INSERT INTO collect.event (practice_id, patient_id, kind, details, at)
SELECT 'P' || (1 + i % 2), 'pt' || i, 'call_completed', '{"by": "front desk"}', timestamptz '2026-02-01 16:00+00' + i * interval '1 hour'
  FROM generate_series(1, 40, 5) i;
INSERT INTO collect.outbox (practice_id, patient_id, channel, step, template, to_address, body, send_after, status, idempotency_key)
SELECT 'P' || (1 + i % 2), 'pt' || i, 'sms', 'day3', 'first_text', '+1555555' || lpad(i::text, 4, '0'),
       'You have a balance. Reply STOP to opt out.', timestamptz '2026-01-05 16:00+00', 'queued', 'k-' || i
  FROM generate_series(3, 40, 3) i;
INSERT INTO collect.task (practice_id, patient_id, kind, summary, due_at)
SELECT 'P' || (1 + i % 2), 'pt' || i, 'call', 'Owes money. Recommend a call.', timestamptz '2026-02-01 16:00+00'
  FROM generate_series(1, 40, 4) i;
INSERT INTO collect.contact_attempt (practice_id, patient_id, channel, at, outcome)
SELECT 'P' || (1 + i % 2), 'pt' || i, 'sms', timestamptz '2026-01-05 16:00+00', 'sent' FROM generate_series(3, 40, 3) i;
INSERT INTO collect.plan (practice_id, patient_id, total, installments, status, approved_by)
VALUES ('P2', 'pt1', 300, 3, 'active', 'auto'), ('P1', 'pt2', 120, 2, 'pending_approval', NULL);
INSERT INTO collect.installment (practice_id, plan_id, seq, due_date, amount)
SELECT p.practice_id, p.plan_id, s, date '2026-04-15' + (s - 1) * 30, p.total / p.installments
  FROM collect.plan p, generate_series(1, 3) s WHERE s <= p.installments;
INSERT INTO collect.payment_method VALUES ('P2', 'pt1', 'cus_1', 'pm_1', '2026-01-02 10:00+00', 'web', NULL);
INSERT INTO collect.provider (practice_id, channel, kind, base_url, account, secret, sender)
VALUES ('P1', 'sms', 'twilio', 'http://127.0.0.1:9', 'AC1', 'secret-1', '+15555550100');
INSERT INTO collect.channel_opt_out VALUES ('P1', 'pt4', 'sms', '2026-01-09 10:00+00', 'reply:STOP', NULL);
INSERT INTO collect.audit_log (practice_id, patient_id, at, actor, action, reason)
VALUES ('P2', 'pt1', '2026-01-05 16:00+00', 'collect', 'cadence_step', 'day 3 text');
-- state that only tick writes (not derivable from the ledger)
UPDATE collect.account SET state = 'paused', paused_until = '2026-05-01 00:00+00', cadence_step = 2
 WHERE patient_id IN ('pt5', 'pt6');
