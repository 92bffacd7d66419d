-- The outbox worker's SQL surface: secrets readable only by collect_worker
-- (and superusers), the status view, the wake-up trigger, the webhook
-- signature, the GUCs. The worker itself is exercised by test/t/worker_*.sh.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;

-- provider.secret: collect_worker yes, every other collect role no
SELECT r, has_column_privilege(r, 'collect.provider', 'secret', 'SELECT') AS can_read_secret
  FROM unnest(ARRAY['collect_worker', 'collect_writer', 'collect_staff', 'collect_analyst']) r ORDER BY r;
DROP ROLE IF EXISTS worker_sql_nobody;
CREATE ROLE worker_sql_nobody;
SELECT has_column_privilege('worker_sql_nobody', 'collect.provider', 'secret', 'SELECT') AS public_can_read_secret;
-- no column grant sneaks the secret to anyone
SELECT count(*) AS secret_column_grants FROM information_schema.column_privileges
 WHERE table_schema = 'collect' AND table_name = 'provider' AND column_name = 'secret'
   AND grantee NOT IN ('collect_worker', current_user);
DROP ROLE worker_sql_nobody;

-- the status view: one row per worker (collect.worker_count = 1 here), counters never negative
SELECT count(*) = 1 AS one_row, bool_and(sent >= 0 AND dead >= 0 AND in_flight >= 0) AS sane,
       bool_and(state IS NOT NULL) AS has_state
  FROM collect.worker_status;

-- the wake-up trigger exists and a queued row commits fine through it
SELECT tgname FROM pg_trigger WHERE tgrelid = 'collect.outbox'::regclass AND NOT tgisinternal ORDER BY 1;
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('w1', 'Worker Test', 'America/Denver');
INSERT INTO collect.patient (practice_id, patient_id, phone) VALUES ('w1', 'p1', '+15005550006');
-- far in the future: no worker here sends it
INSERT INTO collect.outbox (practice_id, patient_id, channel, to_address, body, send_after, idempotency_key)
  VALUES ('w1', 'p1', 'sms', '+15005550006', 'hello', '2999-01-01', 'w1-k1');
SELECT status, attempts, lease_until IS NULL AS unleased FROM collect.outbox WHERE practice_id = 'w1';

-- webhook signature: v1= + hex HMAC-SHA256(secret, ts || '.' || body)
SELECT collect.webhook_signature('whsec_test', '1700000000', '{"message_id":1}')
     = 'v1=f27e7329a864a02947c7c025116863b8ea4250cba55828ea748a7995bba4e3a1' AS signature_ok;
SELECT length(collect.webhook_signature('k', '1', '')) AS signature_length;

-- the worker's GUCs exist with their defaults
SELECT name, setting, unit FROM pg_settings
 WHERE name IN ('collect.worker_batch_size', 'collect.worker_concurrency', 'collect.worker_max_attempts',
                'collect.worker_timeout', 'collect.worker_retry_base', 'collect.worker_lease', 'collect.worker_count')
 ORDER BY name;
