------------------------------------------------------------------------
-- The outbox worker (src/worker.c, src/outbox.c, src/http.c,
-- src/providers/). Its GUCs are defined in C; here: the wake-up trigger,
-- the status view, the inbound dedup table and the privileges that keep
-- provider secrets to collect_worker and superusers.
------------------------------------------------------------------------

-- Sets the worker's latch when a transaction that queued or re-queued
-- outbox rows commits (never before: the rows must be visible).
CREATE FUNCTION @extschema@.outbox_wake() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'outbox_wake';

-- Wake the worker on every statement that may have made rows due.
CREATE TRIGGER outbox_wake AFTER INSERT OR UPDATE OF status, send_after ON @extschema@.outbox
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.outbox_wake();

-- Which worker (0 .. collect.worker_count - 1) claimed a row last: a
-- worker that starts again puts back only its own `sending` rows, never
-- the ones another worker is sending at that moment.
ALTER TABLE @extschema@.outbox ADD COLUMN claimed_by smallint;

-- The workers' counters from shared memory (since the server started),
-- one row per worker.
CREATE FUNCTION @extschema@.worker_status_row(
    OUT state text, OUT pid int, OUT started_at timestamptz, OUT last_wake timestamptz,
    OUT last_batch timestamptz, OUT in_flight int, OUT batches bigint, OUT sent bigint,
    OUT retried bigint, OUT failed bigint, OUT dead bigint, OUT cancelled bigint, OUT errors bigint,
    OUT worker int)
  RETURNS SETOF record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'worker_status';

-- One row per outbox worker: what it is doing, plus the queue as it stands.
CREATE VIEW @extschema@.worker_status AS
  SELECT s.*, current_setting('collect.database') AS database,
         (SELECT count(*) FROM @extschema@.outbox o WHERE o.status = 'queued') AS queued,
         (SELECT count(*) FROM @extschema@.outbox o WHERE o.status = 'queued' AND o.send_after <= now()) AS due,
         (SELECT count(*) FROM @extschema@.outbox o WHERE o.status = 'sending') AS sending
    FROM @extschema@.worker_status_row() s;

-- Inbound provider messages already handed to collect.receive_sms.
CREATE TABLE @extschema@.provider_inbound (
  practice_id  text NOT NULL,
  provider_ref text NOT NULL,
  seen_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (practice_id, provider_ref)
);

-- Provider credentials: only collect_worker (and superusers) read the
-- table; nobody else gets a grant on collect.provider.secret.
REVOKE ALL ON @extschema@.provider FROM PUBLIC;
GRANT SELECT ON @extschema@.provider TO collect_worker;
-- What the worker touches besides the providers.
GRANT SELECT, UPDATE ON @extschema@.outbox TO collect_worker;
GRANT SELECT ON @extschema@.payment_method, @extschema@.account, @extschema@.patient TO collect_worker;
GRANT INSERT ON @extschema@.contact_attempt, @extschema@.task TO collect_worker;
GRANT SELECT, INSERT ON @extschema@.provider_inbound TO collect_worker;
GRANT SELECT ON @extschema@.worker_status TO collect_staff, collect_worker;

-- The X-Collect-Signature value of a webhook: 'v1=' || hex(HMAC-SHA256(
-- secret, timestamp || '.' || body)); receivers compute the same to check.
CREATE FUNCTION @extschema@.webhook_signature(secret text, ts text, body text) RETURNS text
  LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'webhook_signature_sql';
REVOKE ALL ON FUNCTION @extschema@.webhook_signature(text, text, text) FROM PUBLIC;
