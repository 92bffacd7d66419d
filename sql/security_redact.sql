-- security_redact: provider secrets never reach outbox.last_error (and so
-- nothing copied from it): the secret, the Basic token made from it, a
-- cut-off tail of either, and any echoed Basic/Bearer credential.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('R', 'Redact', 'America/Chicago'), ('Q', 'Other', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id) VALUES ('R', 'p1'), ('Q', 'p1');
INSERT INTO collect.provider (practice_id, channel, kind, base_url, account, secret) VALUES
  ('R', 'sms', 'twilio', 'http://127.0.0.1:1', 'AC0123456789abcdef0123456789abcdef', 'tw_auth_token_0123456789'),
  ('R', 'email', 'sendgrid', 'http://127.0.0.1:1', NULL, 'SG.sendgrid-key.ABCDEFGHIJ'),
  ('Q', 'sms', 'twilio', 'http://127.0.0.1:1', 'ACq', 'q_secret_not_in_R_0000');
INSERT INTO collect.outbox (practice_id, patient_id, channel, send_after, idempotency_key, last_error)
VALUES ('R', 'p1', 'sms', '2026-01-01 15:00+00', 'r1', NULL),
       ('R', 'p1', 'email', '2026-01-01 15:00+00', 'r2', 'inserted with SG.sendgrid-key.ABCDEFGHIJ inside'),
       ('Q', 'p1', 'sms', '2026-01-01 15:00+00', 'q1', NULL);
UPDATE collect.outbox SET last_error = CASE idempotency_key
  WHEN 'r1' THEN 'twilio: HTTP 401: you sent Basic ' || translate(encode(convert_to('AC0123456789abcdef0123456789abcdef:tw_auth_token_0123456789', 'UTF8'), 'base64'), E'\n', '')
                 || ' token tw_auth_token_0123456789 and again tw_auth_token_0123456789, cut: SG.sendgrid-key.ABC'
  WHEN 'r2' THEN 'sendgrid: HTTP 500: Authorization: Bearer whatever.the.provider.echoed'
  WHEN 'q1' THEN 'error mentions tw_auth_token_0123456789 of another practice and q_secret_not_in_R_0000' END;
SELECT idempotency_key, last_error FROM collect.outbox ORDER BY idempotency_key;
-- no secret of any practice is left anywhere in last_error
SELECT count(*) AS secrets_left
  FROM collect.outbox o, collect.provider p
 WHERE o.practice_id = p.practice_id AND o.last_error LIKE '%' || p.secret || '%';
-- ordinary errors pass through untouched
UPDATE collect.outbox SET last_error = 'twilio: HTTP 400: The ''To'' number is not a valid phone number.' WHERE idempotency_key = 'r1';
SELECT last_error FROM collect.outbox WHERE idempotency_key = 'r1';
DROP EXTENSION collect CASCADE;
