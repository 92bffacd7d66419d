-- collect install script, assembled by the Makefile from sql/install/*.sql
-- in name order. This fragment: roles, the policy defaults, and every
-- table of the public surface in shared/DESIGN.md. Every practice-owned
-- table carries practice_id first in its primary key so it can be
-- distributed by practice_id (docs/scaling.md).
\echo Use "CREATE EXTENSION collect" to load this file. \quit

------------------------------------------------------------------------
-- Roles (cluster-wide: created once, kept when the extension is dropped)
------------------------------------------------------------------------
DO $roles$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['collect_writer', 'collect_staff', 'collect_analyst', 'collect_worker'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$roles$;

GRANT USAGE ON SCHEMA @extschema@ TO collect_writer, collect_staff, collect_analyst, collect_worker;

------------------------------------------------------------------------
-- Policy defaults: one row per policy key. practice.policy may override a
-- key with a value of the same JSON type; min_value/max_value bound
-- numbers so that a practice can make a hard rule stricter, never looser.
-- A reference table (no practice_id): replicated to every node on Citus.
------------------------------------------------------------------------
CREATE TABLE @extschema@.policy_default (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  min_value   numeric,
  max_value   numeric,
  description text NOT NULL
);

INSERT INTO @extschema@.policy_default (key, value, min_value, max_value, description) VALUES
 ('min_outreach_balance', '5.00', 0, NULL, 'no outreach for balances below this many dollars'),
 ('cadence', '[{"day":3,"channel":"sms","template":"first_text"},{"day":10,"channel":"letter","template":"statement"},{"day":18,"channel":"email","template":"insurance_paid"},{"day":25,"channel":"call_task","template":"call"},{"day":35,"channel":"letter","template":"second_statement"}]',
   NULL, NULL, 'dunning steps: days after the balance came due, channel and template'),
 ('text_first_below', '150', 0, NULL, 'balances below this start with a text'),
 ('email_first_above', '300', 0, NULL, 'balances above this start with an email'),
 ('plan_offer_above', '200', 0, NULL, 'offer a payment plan above this balance ...'),
 ('plan_offer_after_days', '30', 0, 365, '... once it has been unpaid this many days'),
 ('plan_installments', '[{"under":500,"count":3},{"under":1000,"count":4},{"count":6}]', NULL, NULL,
   'installment count by balance: first row whose "under" exceeds the balance'),
 ('plan_auto_approve_max_installments', '6', 1, 24, 'auto-approve plans with at most this many installments'),
 ('plan_auto_approve_max_balance', '1500', 0, NULL, 'auto-approve plans up to this balance (clean history only)'),
 ('plan_day_of_month', '15', 1, 28, 'installments fall due on this day of the month'),
 ('plan_reminder_days_before', '2', 0, 14, 'remind this many days before an installment'),
 ('payment_retry_after_hours', '48', 1, 720, 'retry a failed autopay charge after this many hours'),
 ('payment_max_retries', '1', 0, 5, 'retries of a failed charge before a payment_failed task'),
 ('placement_review_after_days', '90', 60, 120, 'placement review once the cadence ran out this many days after due'),
 ('settlement_min_age_days', '120', 0, NULL, 'settlement offers only for balances at least this old'),
 ('settlement_max_discount_pct', '30', 0, 100, 'largest settlement discount, percent'),
 ('settlement_approval_above', '500', 0, NULL, 'settlements above this balance need approval'),
 ('hardship_support_months', '6', 6, 12, 'months of hardship support before a review'),
 ('refund_sweep', '"weekly"', NULL, NULL, 'how often credit balances are swept for refunds'),
 ('refund_due_business_days', '5', 1, 30, 'refund tasks fall due within this many business days'),
 ('no_show_pause_hours', '48', 0, 336, 'pause payment reminders after a no-show so rebooking goes first'),
 ('contact_hour_start', '8', 8, 21, 'earliest patient-local hour for contact (Reg F: never before 8)'),
 ('contact_hour_end', '21', 8, 21, 'patient-local hour by which contact ends (Reg F: never after 21)'),
 ('call_max_attempts_7d', '7', 0, 7, 'call attempts allowed in any 7 days (Reg F 1006.14(b)(2))'),
 ('call_quiet_days_after_conversation', '7', 7, 60, 'no calls for this many days after a conversation'),
 ('recent_touch_quiet_hours', '48', 0, 720, 'a payment, plan, reply or call this recent postpones the next touch'),
 ('state_preset', '"federal"', NULL, NULL, 'contact-frequency preset: federal, MA or CA'),
 ('nonprofit_hospital', 'false', NULL, NULL, 'IRS 501(r) financial-assistance rules apply'),
 ('pay_link_base', '"https://pay.example.com/p"', NULL, NULL, 'base URL of the patient pay page'),
 ('assistance_link', '"https://pay.example.com/assistance"', NULL, NULL, 'financial-assistance application URL'),
 ('pay_link_valid_days', '30', 1, 365, 'days a signed pay link stays valid');

------------------------------------------------------------------------
-- Inputs
------------------------------------------------------------------------
-- A practice; timezone and policy are checked by a C trigger.
CREATE TABLE @extschema@.practice (
  practice_id text PRIMARY KEY CHECK (practice_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  name        text CHECK (length(name) <= 200),
  timezone    text NOT NULL,
  policy      jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- A patient (or guarantor) of a practice; phone, e-mail, timezone and
-- language are checked by a C trigger.
CREATE TABLE @extschema@.patient (
  practice_id   text NOT NULL REFERENCES @extschema@.practice ON DELETE RESTRICT,
  patient_id    text NOT NULL CHECK (patient_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
  first_name    text CHECK (length(first_name) <= 100),
  last_name     text CHECK (length(last_name) <= 100),
  phone         text,
  email         text,
  timezone      text,
  language      text NOT NULL DEFAULT 'en',
  guarantor_id  text,
  sms_consent   boolean NOT NULL DEFAULT false,
  email_consent boolean NOT NULL DEFAULT false,
  voice_consent boolean NOT NULL DEFAULT false,
  address_ok    boolean NOT NULL DEFAULT true,
  birth_date    date,
  phone_source  text CHECK (length(phone_source) <= 200),
  consent_source text CHECK (length(consent_source) <= 200),
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (practice_id, patient_id)
);
CREATE INDEX patient_phone_idx ON @extschema@.patient (practice_id, phone);
CREATE INDEX patient_guarantor_idx ON @extschema@.patient (practice_id, guarantor_id) WHERE guarantor_id IS NOT NULL;

-- The ledger: append-only; kind gives the sign of amount (see DESIGN.md).
-- The primary key leads with practice_id (Citus); entry_id alone is unique
-- by construction (identity).
CREATE TABLE @extschema@.ledger (
  entry_id       bigint GENERATED BY DEFAULT AS IDENTITY,
  practice_id    text NOT NULL,
  patient_id     text NOT NULL,
  external_id    text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
  kind           text NOT NULL CHECK (kind IN ('charge','payment','adjustment','write_off','refund','reversal')),
  amount         numeric(12,2) NOT NULL CHECK (amount > 0),
  posted_at      timestamptz NOT NULL DEFAULT now(),
  service_date   date,
  visit_id       text CHECK (length(visit_id) <= 200),
  billed_amount  numeric(12,2) CHECK (billed_amount >= 0),
  insurance_paid numeric(12,2) CHECK (insurance_paid >= 0),
  method         text CHECK (length(method) <= 50),
  note           text CHECK (length(note) <= 2000),
  PRIMARY KEY (practice_id, entry_id),
  UNIQUE (practice_id, external_id),
  FOREIGN KEY (practice_id, patient_id) REFERENCES @extschema@.patient ON DELETE RESTRICT
);
CREATE INDEX ledger_patient_idx ON @extschema@.ledger (practice_id, patient_id, posted_at);

------------------------------------------------------------------------
-- Outputs
------------------------------------------------------------------------
-- One row per patient with ledger activity, kept by the ledger trigger
-- (balance, due_since, aging) and by tick (segment, state, next step).
-- A derived table written only by collect's C code, which enforces the
-- domains below; it carries no CHECK or FOREIGN KEY constraints because
-- those would be re-planned on every bulk write of the trigger (the ledger
-- FK already guarantees the patient exists).
CREATE TABLE @extschema@.account (
  practice_id      text NOT NULL,
  patient_id       text NOT NULL,
  balance          numeric(14,2) NOT NULL DEFAULT 0,
  charges_total    numeric(14,2) NOT NULL DEFAULT 0,  -- sum of charge rows; credits applied FIFO = charges_total - balance
  due_since        date,
  -- the oldest unpaid charge spans (fifo_from, fifo_to] of the running sum
  -- of charges: credits_applied = charges_total - balance inside that span
  -- leave due_since where it is, so most payments need no ledger read
  fifo_from        numeric(14,2),
  fifo_to          numeric(14,2),
  days_past_due    int NOT NULL DEFAULT 0,
  aging_bucket     text NOT NULL DEFAULT '0-30',      -- '0-30','31-60','61-90','91-120','120+'
  segment          text NOT NULL DEFAULT 'settled',   -- fresh, early_stall, documentation_doubt, high_value_engaged, silent_aged, credit, settled
  state            text NOT NULL DEFAULT 'current',   -- current, in_cadence, on_plan, paused, disputed, hardship, escalated, placement_review, placed, closed
  paused_until     timestamptz,
  next_action_at   timestamptz,
  risk_score       real,
  last_posted_at   timestamptz,
  last_payment_at  timestamptz,
  last_payment_amount numeric(12,2),
  last_charge_at   timestamptz,
  cadence_step     int NOT NULL DEFAULT 0,      -- index of the next cadence step to take
  cadence_anchor   date,                        -- the due_since the cadence runs from
  first_statement_at timestamptz,               -- first letter/statement sent (501(r), Reg F)
  last_contact_at  timestamptz,
  last_response_at timestamptz,
  failed_contacts  int NOT NULL DEFAULT 0,
  doubt            boolean NOT NULL DEFAULT false,  -- open dispute or "already paid"/insurance claim
  asked_for_plan   boolean NOT NULL DEFAULT false,
  returned_mail    boolean NOT NULL DEFAULT false,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (practice_id, patient_id)
);
-- tick finds due work here: its cost follows the due accounts only
CREATE INDEX account_next_action_idx ON @extschema@.account (next_action_at) WHERE next_action_at IS NOT NULL;

-- Patient events (record_event), kept for the KPIs and the audit.
CREATE TABLE @extschema@.event (
  event_id    bigint GENERATED BY DEFAULT AS IDENTITY,
  practice_id text NOT NULL,
  patient_id  text NOT NULL,
  kind        text NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}',
  at          timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (practice_id, event_id),
  FOREIGN KEY (practice_id, patient_id) REFERENCES @extschema@.patient ON DELETE RESTRICT
);
CREATE INDEX event_patient_idx ON @extschema@.event (practice_id, patient_id, at);

-- Messages to send; drained by the background worker.
CREATE TABLE @extschema@.outbox (
  message_id      bigint GENERATED BY DEFAULT AS IDENTITY,
  practice_id     text NOT NULL,
  patient_id      text NOT NULL,
  channel         text NOT NULL CHECK (channel IN ('sms','email','letter','voice','call_task','webhook','charge')),
  step            text,
  template        text,
  language        text,
  to_address      text,
  subject         text,
  body            text,
  payload         jsonb NOT NULL DEFAULT '{}',   -- channel data: amount/currency/customer for charge, etc.
  send_after      timestamptz NOT NULL,
  status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','sending','sent','delivered','failed','dead','cancelled')),
  attempts        int NOT NULL DEFAULT 0,
  idempotency_key text NOT NULL,
  provider_ref    text,
  last_error      text,
  lease_until     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  PRIMARY KEY (practice_id, message_id),
  UNIQUE (practice_id, idempotency_key)
);
CREATE INDEX outbox_due_idx ON @extschema@.outbox (send_after) WHERE status = 'queued';
CREATE INDEX outbox_lease_idx ON @extschema@.outbox (lease_until) WHERE status = 'sending';
CREATE INDEX outbox_patient_idx ON @extschema@.outbox (practice_id, patient_id, status);

-- Work for people, with a written summary.
CREATE TABLE @extschema@.task (
  task_id     bigint GENERATED BY DEFAULT AS IDENTITY,
  practice_id text NOT NULL,
  patient_id  text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('call','dispute_review','hardship_review','plan_approval','settlement_approval',
                 'placement_review','refund','address_check','upset_patient','delivery_failed','payment_failed','estate_review')),
  summary     text NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}',
  due_at      timestamptz NOT NULL,
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open','done','cancelled')),
  closed_by   text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  closed_at   timestamptz,
  PRIMARY KEY (practice_id, task_id)
);
CREATE INDEX task_open_idx ON @extschema@.task (practice_id, patient_id, kind) WHERE status = 'open';

-- Every contact attempt with its outcome (Reg F documented attempts).
CREATE TABLE @extschema@.contact_attempt (
  attempt_id  bigint GENERATED BY DEFAULT AS IDENTITY,
  practice_id text NOT NULL,
  patient_id  text NOT NULL,
  channel     text NOT NULL,
  message_id  bigint,
  task_id     bigint,
  at          timestamptz NOT NULL,
  outcome     text NOT NULL,   -- queued, sent, delivered, failed, cancelled, conversation, no_answer, replied
  actor       text NOT NULL DEFAULT 'collect',
  detail      text,
  PRIMARY KEY (practice_id, attempt_id)
);
CREATE INDEX contact_attempt_patient_idx ON @extschema@.contact_attempt (practice_id, patient_id, at);

-- Payment plans and their installments.
CREATE TABLE @extschema@.plan (
  plan_id      bigint GENERATED BY DEFAULT AS IDENTITY,
  practice_id  text NOT NULL,
  patient_id   text NOT NULL,
  total        numeric(12,2) NOT NULL CHECK (total > 0),
  installments int NOT NULL CHECK (installments BETWEEN 1 AND 60),
  status       text NOT NULL CHECK (status IN ('pending_approval','active','completed','defaulted','cancelled')),
  approved_by  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (practice_id, plan_id),
  FOREIGN KEY (practice_id, patient_id) REFERENCES @extschema@.patient ON DELETE RESTRICT
);
CREATE UNIQUE INDEX plan_one_live_idx ON @extschema@.plan (practice_id, patient_id) WHERE status IN ('pending_approval','active');

CREATE TABLE @extschema@.installment (
  practice_id text NOT NULL,
  plan_id     bigint NOT NULL,
  seq         int NOT NULL CHECK (seq >= 1),
  due_date    date NOT NULL,
  amount      numeric(12,2) NOT NULL CHECK (amount > 0),
  status      text NOT NULL DEFAULT 'due' CHECK (status IN ('due','paid','failed','waived')),
  paid_at     timestamptz,
  attempts    int NOT NULL DEFAULT 0,
  PRIMARY KEY (practice_id, plan_id, seq),
  FOREIGN KEY (practice_id, plan_id) REFERENCES @extschema@.plan ON DELETE CASCADE
);

-- A card on file: consent time and the provider's references (no card data).
CREATE TABLE @extschema@.payment_method (
  practice_id       text NOT NULL,
  patient_id        text NOT NULL,
  provider_customer text NOT NULL CHECK (length(provider_customer) <= 200),
  provider_method   text NOT NULL CHECK (length(provider_method) <= 200),
  consent_at        timestamptz NOT NULL,
  consent_source    text,
  revoked_at        timestamptz,
  PRIMARY KEY (practice_id, patient_id),
  FOREIGN KEY (practice_id, patient_id) REFERENCES @extschema@.patient ON DELETE RESTRICT
);

-- Provider settings per practice and channel; secret readable only by
-- collect_worker and superusers (column privileges below).
CREATE TABLE @extschema@.provider (
  practice_id text NOT NULL REFERENCES @extschema@.practice,
  channel     text NOT NULL CHECK (channel IN ('sms','email','letter','voice','webhook','charge','llm')),
  kind        text NOT NULL CHECK (kind IN ('twilio','sendgrid','stripe','webhook','llm')),
  base_url    text NOT NULL CHECK (base_url ~ '^https?://'),
  account     text,
  secret      text,
  sender      text,
  settings    jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (practice_id, channel)
);

-- Which practice a login role works for (collect.grant_practice).
CREATE TABLE @extschema@.staff_practice (
  role_name   name NOT NULL,
  practice_id text NOT NULL REFERENCES @extschema@.practice,
  PRIMARY KEY (practice_id, role_name)
);

-- Per-practice secrets (pay-link signing key), created with the practice.
CREATE TABLE @extschema@.practice_secret (
  practice_id    text PRIMARY KEY REFERENCES @extschema@.practice,
  paylink_key    bytea NOT NULL
);

-- Channel opt-outs (TCPA revocation, STOP replies, opt_out events): no
-- automated contact on that channel while opted_in_at IS NULL.
CREATE TABLE @extschema@.channel_opt_out (
  practice_id text NOT NULL,
  patient_id  text NOT NULL,
  channel     text NOT NULL CHECK (channel IN ('sms','email','letter','voice')),
  opted_out_at timestamptz NOT NULL,
  source      text NOT NULL,          -- 'reply:STOP', 'event:opt_out', 'provider:21610', ...
  opted_in_at timestamptz,
  PRIMARY KEY (practice_id, patient_id, channel),
  FOREIGN KEY (practice_id, patient_id) REFERENCES @extschema@.patient ON DELETE RESTRICT
);

-- Message templates: {{variable}} placeholders from a fixed whitelist,
-- rendered in C (src/template.c). Modules add their rows in their fragment.
CREATE TABLE @extschema@.message_template (
  template_name text NOT NULL,
  language      text NOT NULL,
  channel       text NOT NULL CHECK (channel IN ('sms','email','letter','voice','call_task','any')),
  subject       text,
  body          text NOT NULL,
  PRIMARY KEY (template_name, language, channel)
);

-- Append-only audit trail: who or what decided, and why.
CREATE TABLE @extschema@.audit_log (
  audit_id    bigint GENERATED BY DEFAULT AS IDENTITY,
  practice_id text NOT NULL,
  patient_id  text,
  at          timestamptz NOT NULL,
  actor       text NOT NULL,
  action      text NOT NULL,
  subject     text,
  reason      text NOT NULL,
  facts       jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (practice_id, audit_id)
);
CREATE INDEX audit_patient_idx ON @extschema@.audit_log (practice_id, patient_id, at);
------------------------------------------------------------------------
-- Input guards and the ledger triggers (src/practice.c, src/ledger.c)
------------------------------------------------------------------------
-- Time zone and policy of a practice are checked on every write.
CREATE FUNCTION @extschema@.practice_check() RETURNS trigger
  AS 'MODULE_PATHNAME', 'practice_check' LANGUAGE C;
CREATE TRIGGER practice_check BEFORE INSERT OR UPDATE ON @extschema@.practice
  FOR EACH ROW EXECUTE FUNCTION @extschema@.practice_check();

-- A new practice gets its own pay-link signing key.
CREATE FUNCTION @extschema@.practice_created() RETURNS trigger
  AS 'MODULE_PATHNAME', 'practice_created' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER practice_created AFTER INSERT ON @extschema@.practice
  FOR EACH ROW EXECUTE FUNCTION @extschema@.practice_created();

-- Phone (E.164), e-mail, time zone and language of a patient.
CREATE FUNCTION @extschema@.patient_check() RETURNS trigger
  AS 'MODULE_PATHNAME', 'patient_check' LANGUAGE C;
CREATE TRIGGER patient_check BEFORE INSERT OR UPDATE ON @extschema@.patient
  FOR EACH ROW EXECUTE FUNCTION @extschema@.patient_check();

-- Idempotent external_id: an identical repost is skipped, a different one refused.
CREATE FUNCTION @extschema@.ledger_before_insert() RETURNS trigger
  AS 'MODULE_PATHNAME', 'ledger_before_insert' LANGUAGE C;
CREATE TRIGGER ledger_idempotent BEFORE INSERT ON @extschema@.ledger
  FOR EACH ROW EXECUTE FUNCTION @extschema@.ledger_before_insert();

-- Account upkeep, once per statement over the rows it inserted.
CREATE FUNCTION @extschema@.ledger_after_insert() RETURNS trigger
  AS 'MODULE_PATHNAME', 'ledger_after_insert' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER ledger_account_upkeep AFTER INSERT ON @extschema@.ledger
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_after_insert();

-- The ledger is append-only.
CREATE FUNCTION @extschema@.ledger_refuse_change() RETURNS trigger
  AS 'MODULE_PATHNAME', 'ledger_refuse_change' LANGUAGE C;
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON @extschema@.ledger
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_refuse_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON @extschema@.ledger
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_refuse_change();

-- The practice policy in force: defaults overlaid by the practice's keys.
CREATE FUNCTION @extschema@.effective_policy(practice_id text) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$ SELECT jsonb_object_agg(d.key, COALESCE(p.policy -> d.key, d.value))
          FROM @extschema@.policy_default d, @extschema@.practice p
         WHERE p.practice_id = effective_policy.practice_id $$;

-- The aging bucket of a number of days past due: '0-30' ... '120+'.
CREATE FUNCTION @extschema@.aging_bucket(days_past_due int) RETURNS text
  AS 'MODULE_PATHNAME', 'aging_bucket_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
------------------------------------------------------------------------
-- Dunning engine (src/outreach.c, src/template.c, src/contact_rules.c,
-- src/cadence.c, src/tick.c, src/events.c, src/task.c, src/explain.c):
-- the account facts it keeps, its SQL entry points and its templates.
------------------------------------------------------------------------
-- Facts the cadence and the contact rules decide on, kept by events and tick.
ALTER TABLE @extschema@.account
  ADD COLUMN dispute_open boolean NOT NULL DEFAULT false,      -- dispute_opened until dispute_resolved
  ADD COLUMN assistance_open boolean NOT NULL DEFAULT false,   -- financial_assistance_requested until decided
  ADD COLUMN hardship_until timestamptz,                       -- hardship_approved: support ends
  ADD COLUMN no_show_until timestamptz,                        -- appointment_no_show: payment reminders wait
  ADD COLUMN appointment_at timestamptz,                       -- appointment_booked: bundle with the balance
  ADD COLUMN best_hour smallint CHECK (best_hour BETWEEN 0 AND 23),  -- patient-local hour they answered at
  ADD COLUMN last_conversation_at timestamptz,                 -- call_completed: no calls for 7 days
  ADD COLUMN paid_on_time int NOT NULL DEFAULT 0,              -- balances paid in full within 30 days
  ADD COLUMN paid_late int NOT NULL DEFAULT 0,                 -- balances paid in full after 30 days
  ADD COLUMN placement_hold_until timestamptz;                  -- compliance: no placement before this

-- Why a message may not go out on a channel at a time, or NULL when it may.
-- step_kind: collection (default), notice, opt_out_confirmation.
CREATE FUNCTION @extschema@.send_block_reason(practice_id text, patient_id text, channel text,
                                              at timestamptz, step_kind text DEFAULT 'collection')
  RETURNS text AS 'MODULE_PATHNAME', 'collect_send_block_reason' LANGUAGE C STRICT;

-- Queue one templated message (outreach_enqueue for SQL callers): the
-- message_id, or 0 when a rule held it back (see collect.audit_log).
CREATE FUNCTION @extschema@.enqueue_message(practice_id text, patient_id text, channel text, step text,
                                            template text, extra jsonb DEFAULT NULL,
                                            not_before timestamptz DEFAULT NULL, as_of timestamptz DEFAULT now())
  RETURNS bigint AS 'MODULE_PATHNAME', 'collect_enqueue_message' LANGUAGE C;

-- Render a template for a patient without queueing it (preview).
CREATE FUNCTION @extschema@.render_message(practice_id text, patient_id text, channel text, template text,
                                           extra jsonb DEFAULT NULL, as_of timestamptz DEFAULT now(),
                                           OUT subject text, OUT body text)
  AS 'MODULE_PATHNAME', 'collect_render_message' LANGUAGE C;

-- The first moment at or after not_before inside the patient's allowed hours.
CREATE FUNCTION @extschema@.next_send_time(practice_id text, patient_id text, not_before timestamptz)
  RETURNS timestamptz AS 'MODULE_PATHNAME', 'collect_next_send_time' LANGUAGE C STRICT;

-- A signed pay link, and its check (status: valid, expired, invalid).
CREATE FUNCTION @extschema@.pay_link(practice_id text, patient_id text, amount numeric, expires_at timestamptz)
  RETURNS text AS 'MODULE_PATHNAME', 'collect_pay_link' LANGUAGE C STRICT;
-- minting links is for collect itself and the worker, not every role
REVOKE EXECUTE ON FUNCTION @extschema@.pay_link(text, text, numeric, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.pay_link(text, text, numeric, timestamptz) TO collect_worker;
CREATE FUNCTION @extschema@.verify_pay_link(url text, as_of timestamptz DEFAULT now(),
                                            OUT status text, OUT practice_id text, OUT patient_id text,
                                            OUT amount numeric, OUT expires_at timestamptz)
  AS 'MODULE_PATHNAME', 'collect_verify_pay_link' LANGUAGE C STRICT;

-- The standard written summary of an account for a staff task.
CREATE FUNCTION @extschema@.task_summary(practice_id text, patient_id text, recommendation text DEFAULT NULL,
                                         as_of timestamptz DEFAULT now())
  RETURNS text AS 'MODULE_PATHNAME', 'collect_task_summary' LANGUAGE C;

-- Templates may only use whitelisted {{variables}} (checked on write).
CREATE FUNCTION @extschema@.message_template_check() RETURNS trigger
  AS 'MODULE_PATHNAME', 'message_template_check' LANGUAGE C;
CREATE TRIGGER message_template_check BEFORE INSERT OR UPDATE ON @extschema@.message_template
  FOR EACH ROW EXECUTE FUNCTION @extschema@.message_template_check();

------------------------------------------------------------------------
-- Dunning templates, en and es. The opt-out line is added by the renderer
-- for sms and email (or placed where {{opt_out}} stands). Variants
-- <name>_gentle and <name>_firm are chosen by the cadence when present.
------------------------------------------------------------------------
INSERT INTO @extschema@.message_template (template_name, language, channel, subject, body) VALUES
 ('first_text', 'en', 'any', NULL,
  'Hi {{first_name}}, this is {{practice_name}}. Your balance of {{balance}} for your visit on {{service_date}} is ready. Pay securely: {{pay_link}}{{plan_offer}}'),
 ('first_text_gentle', 'en', 'any', NULL,
  'Hi {{first_name}}, a friendly note from {{practice_name}}: {{balance}} from your visit on {{service_date}} is ready whenever you are. {{pay_link}}{{plan_offer}}'),
 ('first_text_firm', 'en', 'any', NULL,
  '{{first_name}}, {{practice_name}} has not received payment of {{balance}} for your visit on {{service_date}}. Please pay today: {{pay_link}}{{plan_offer}}'),
 ('first_email', 'en', 'any', 'Your balance with {{practice_name}}',
  'Hi {{first_name}},

Your balance for your visit on {{service_date}} is {{balance}}. Your insurance paid {{insurance_paid}}.
You can pay securely here: {{pay_link}}{{plan_offer}}

Thank you,
{{practice_name}}'),
 ('statement', 'en', 'any', 'Your statement from {{practice_name}}',
  'Dear {{first_name}},

This statement shows a balance of {{balance}} for your visit on {{service_date}}. Your insurance paid {{insurance_paid}}.
Pay online at {{pay_link}} or call our office.{{plan_offer}}

{{practice_name}}'),
 ('insurance_paid', 'en', 'any', 'What your insurance paid, {{first_name}}',
  'Hi {{first_name}},

For your visit on {{service_date}} your insurance paid {{insurance_paid}}. What is left for you is {{balance}}.
Pay securely here: {{pay_link}}{{plan_offer}}

{{practice_name}}'),
 ('insurance_paid_firm', 'en', 'any', 'Balance still open: {{balance}}',
  '{{first_name}},

Your insurance paid {{insurance_paid}} for your visit on {{service_date}}; {{balance}} is still open and past due.
Please pay now: {{pay_link}}{{plan_offer}}

{{practice_name}}'),
 ('reminder', 'en', 'any', 'A reminder from {{practice_name}}',
  'Hi {{first_name}}, a reminder from {{practice_name}}: {{balance}} is open. Pay: {{pay_link}}{{plan_offer}}'),
 ('reminder_firm', 'en', 'any', 'Past due: {{balance}}',
  '{{first_name}}, {{balance}} with {{practice_name}} is past due. Please pay now: {{pay_link}}{{plan_offer}}'),
 ('second_statement', 'en', 'any', 'Second statement from {{practice_name}}',
  'Dear {{first_name}},

Our records show {{balance}} is still open for your visit on {{service_date}} ({{days_past_due}} days).
Please pay at {{pay_link}} or call us to set up a payment plan.{{plan_offer}}

{{practice_name}}'),
 ('assistance_application', 'en', 'any', 'Your financial-assistance application',
  'Hi {{first_name}}, here is the financial-assistance application you asked for: {{assistance_link}} We have paused collection while we review it.'),
 ('appointment_and_balance', 'en', 'any', 'Your appointment and balance',
  'Hi {{first_name}}, see you on {{appointment_at}}. You also have a balance of {{balance}}: pay ahead at {{pay_link}} or at your visit.'),
 ('rebook', 'en', 'any', 'We missed you',
  'Hi {{first_name}}, we missed you at your appointment with {{practice_name}}. Reply or call us to book a new time.'),
 ('call', 'en', 'call_task', NULL,
  'Call {{first_name}} about {{balance}} ({{days_past_due}} days past due).'),
 ('call', 'en', 'voice', NULL,
  'Hello {{first_name}}, this is {{practice_name}} calling about your balance of {{balance}}. You can pay with the secure link we sent or call us back to talk about options. To stop these calls, say stop or call our office.'),
 ('call', 'es', 'voice', NULL,
  'Hola {{first_name}}, le llama {{practice_name}} por su saldo de {{balance}}. Puede pagar con el enlace seguro que le enviamos o llamarnos para hablar de opciones. Para no recibir más llamadas, diga alto o llame a nuestra oficina.'),
 ('first_text', 'es', 'any', NULL,
  'Hola {{first_name}}, le escribe {{practice_name}}. Su saldo de {{balance}} por su visita del {{service_date}} está listo. Pague de forma segura: {{pay_link}}{{plan_offer}}'),
 ('first_email', 'es', 'any', 'Su saldo con {{practice_name}}',
  'Hola {{first_name}}:

El saldo de su visita del {{service_date}} es {{balance}}. Su seguro pagó {{insurance_paid}}.
Puede pagar de forma segura aquí: {{pay_link}}{{plan_offer}}

Gracias,
{{practice_name}}'),
 ('statement', 'es', 'any', 'Su estado de cuenta de {{practice_name}}',
  'Estimado/a {{first_name}}:

Este estado de cuenta muestra un saldo de {{balance}} por su visita del {{service_date}}. Su seguro pagó {{insurance_paid}}.
Pague en línea en {{pay_link}} o llame a nuestra oficina.{{plan_offer}}

{{practice_name}}'),
 ('insurance_paid', 'es', 'any', 'Lo que pagó su seguro, {{first_name}}',
  'Hola {{first_name}}:

Por su visita del {{service_date}} su seguro pagó {{insurance_paid}}. Lo que le queda por pagar es {{balance}}.
Pague de forma segura aquí: {{pay_link}}{{plan_offer}}

{{practice_name}}'),
 ('reminder', 'es', 'any', 'Un recordatorio de {{practice_name}}',
  'Hola {{first_name}}, un recordatorio de {{practice_name}}: tiene un saldo de {{balance}}. Pague aquí: {{pay_link}}{{plan_offer}}'),
 ('second_statement', 'es', 'any', 'Segundo estado de cuenta de {{practice_name}}',
  'Estimado/a {{first_name}}:

Nuestros registros muestran un saldo pendiente de {{balance}} por su visita del {{service_date}} ({{days_past_due}} días).
Pague en {{pay_link}} o llámenos para acordar un plan de pagos.{{plan_offer}}

{{practice_name}}'),
 ('assistance_application', 'es', 'any', 'Su solicitud de asistencia financiera',
  'Hola {{first_name}}, aquí está la solicitud de asistencia financiera que pidió: {{assistance_link}} Hemos pausado el cobro mientras la revisamos.'),
 ('appointment_and_balance', 'es', 'any', 'Su cita y su saldo',
  'Hola {{first_name}}, le esperamos el {{appointment_at}}. También tiene un saldo de {{balance}}: puede pagarlo antes en {{pay_link}} o en su visita.'),
 ('rebook', 'es', 'any', 'Le extrañamos',
  'Hola {{first_name}}, no pudimos verle en su cita con {{practice_name}}. Responda o llámenos para reservar otra hora.');
-- The clock: runs every pass (cadence first) for work due at as_of.
CREATE FUNCTION @extschema@.tick(as_of timestamptz DEFAULT now()) RETURNS bigint
  AS 'MODULE_PATHNAME', 'collect_tick' LANGUAGE C STRICT;

-- Patient events from the PM system (kinds in docs/dunning.md).
CREATE FUNCTION @extschema@.record_event(practice_id text, patient_id text, kind text,
                                         details jsonb DEFAULT '{}', at timestamptz DEFAULT now())
  RETURNS bigint AS 'MODULE_PATHNAME', 'collect_record_event' LANGUAGE C;

-- Plain words a voice agent or the front desk can read out.
CREATE FUNCTION @extschema@.explain_balance(practice_id text, patient_id text)
  RETURNS text AS 'MODULE_PATHNAME', 'collect_explain_balance' LANGUAGE C STRICT;

------------------------------------------------------------------------
-- Payment plans, autopay, hardship, settlements and refunds
-- (src/plan*.c; rules in docs/plans.md)
------------------------------------------------------------------------
-- What a plan remembers beyond DESIGN.md's columns: where its dates come
-- from, why it exists, and how far payments have been applied to it.
ALTER TABLE @extschema@.plan
  ADD COLUMN first_due     date,
  ADD COLUMN anchor_day    int CHECK (anchor_day BETWEEN 1 AND 31),
  ADD COLUMN source        text NOT NULL DEFAULT 'staff'
                           CHECK (source IN ('staff','request','partial','hardship','reply')),
  ADD COLUMN credit_from   timestamptz,           -- payments posted at/after this count toward installments
  ADD COLUMN approval_note text,
  ADD COLUMN approved_at   timestamptz,
  ADD COLUMN ended_at      timestamptz,
  ADD COLUMN settle_pending boolean NOT NULL DEFAULT true;  -- payments to apply: the settle pass looks at it
-- the settle pass finds flagged plans here; completed plans by patient for the ledger trigger
CREATE INDEX plan_settle_pending_idx ON @extschema@.plan (practice_id, plan_id) WHERE settle_pending;
CREATE INDEX plan_patient_idx ON @extschema@.plan (practice_id, patient_id);

-- Per installment: reminder, charge and retry bookkeeping.
ALTER TABLE @extschema@.installment
  ADD COLUMN paid_amount     numeric(12,2),       -- the credit it consumed (its amount once paid)
  ADD COLUMN paid_by         text CHECK (paid_by IN ('autopay','payment','credit')),
  ADD COLUMN charged_amount  numeric(12,2),       -- autopay money taken for it (= its autopay ledger rows)
  ADD COLUMN reminded_at     timestamptz,
  ADD COLUMN charge_after    timestamptz,         -- next autopay attempt; NULL = none pending
  ADD COLUMN last_message_id bigint,              -- the last charge outbox row
  ADD COLUMN failed_at       timestamptz,
  ADD COLUMN missed_at       timestamptz,         -- retries exhausted or unpaid past its grace
  ADD COLUMN last_error      text;
CREATE INDEX installment_due_idx ON @extschema@.installment (due_date) WHERE status IN ('due','failed');
-- missed installments, for the defaults pass
CREATE INDEX installment_missed_idx ON @extschema@.installment (practice_id, plan_id) WHERE status = 'failed' AND missed_at IS NOT NULL;
-- credit balances, for the refund sweep
CREATE INDEX account_credit_idx ON @extschema@.account (practice_id) WHERE balance < 0;

-- Approved hardship arrangements and their review dates.
CREATE TABLE @extschema@.hardship (
  hardship_id  bigint GENERATED BY DEFAULT AS IDENTITY,
  practice_id  text NOT NULL,
  patient_id   text NOT NULL,
  approved_at  timestamptz NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('reduction','longer_term','lower_minimum','pause')),
  details      jsonb NOT NULL DEFAULT '{}',
  adjustment   numeric(12,2),                     -- reduction posted, if any
  plan_id      bigint,                            -- plan made under it, if any
  review_at    timestamptz NOT NULL,
  review_task_id bigint,
  PRIMARY KEY (practice_id, hardship_id),
  FOREIGN KEY (practice_id, patient_id) REFERENCES @extschema@.patient ON DELETE RESTRICT
);
CREATE INDEX hardship_review_idx ON @extschema@.hardship (review_at) WHERE review_task_id IS NULL;

-- Settlement offers: a discount for paying the rest at once.
CREATE TABLE @extschema@.settlement (
  settlement_id bigint GENERATED BY DEFAULT AS IDENTITY,
  practice_id   text NOT NULL,
  patient_id    text NOT NULL,
  balance       numeric(12,2) NOT NULL CHECK (balance > 0),
  discount_pct  int NOT NULL CHECK (discount_pct BETWEEN 0 AND 100),
  discount      numeric(12,2) NOT NULL CHECK (discount >= 0),
  amount        numeric(12,2) NOT NULL CHECK (amount > 0),   -- balance - discount: what the patient pays
  status        text NOT NULL CHECK (status IN ('pending_approval','offered','accepted','settled','cancelled')),
  approved_by   text,
  offered_at    timestamptz NOT NULL,
  accepted_at   timestamptz,
  settled_at    timestamptz,
  PRIMARY KEY (practice_id, settlement_id),
  FOREIGN KEY (practice_id, patient_id) REFERENCES @extschema@.patient ON DELETE RESTRICT,
  CHECK (balance = discount + amount)
);
CREATE UNIQUE INDEX settlement_one_live_idx ON @extschema@.settlement (practice_id, patient_id)
  WHERE status IN ('pending_approval','offered','accepted');

-- When each practice's refund sweep last ran.
CREATE TABLE @extschema@.refund_sweep_run (
  practice_id text PRIMARY KEY REFERENCES @extschema@.practice,
  last_run_at timestamptz NOT NULL
);

------------------------------------------------------------------------
-- Functions
------------------------------------------------------------------------
-- A posted payment, reversal, adjustment or write-off flags the patient's
-- plans for the next settle pass (src/plan_tick.c).
CREATE FUNCTION @extschema@.plan_ledger_posted() RETURNS trigger
  AS 'MODULE_PATHNAME', 'plan_ledger_posted' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER ledger_plan_settle AFTER INSERT ON @extschema@.ledger
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.plan_ledger_posted();

-- The installments a plan for the patient's balance would have (pure: writes nothing).
CREATE FUNCTION @extschema@.quote_plan(practice_id text, patient_id text, installments int DEFAULT NULL,
                                       as_of timestamptz DEFAULT now())
  RETURNS TABLE(seq int, due_date date, amount numeric)
  AS 'MODULE_PATHNAME', 'quote_plan' LANGUAGE C STABLE;

-- Create a plan for the patient's balance: active at once within the
-- auto-approval limits and a clean history, else pending_approval with a task.
CREATE FUNCTION @extschema@.create_plan(practice_id text, patient_id text, installments int DEFAULT NULL,
                                        first_due date DEFAULT NULL, as_of timestamptz DEFAULT now())
  RETURNS bigint AS 'MODULE_PATHNAME', 'create_plan' LANGUAGE C;

-- A manager approves a pending plan.
CREATE FUNCTION @extschema@.approve_plan(plan_id bigint, approver text, as_of timestamptz DEFAULT now())
  RETURNS void AS 'MODULE_PATHNAME', 'approve_plan' LANGUAGE C;

-- Cancel a live plan (staff); the account goes back to the cadence.
CREATE FUNCTION @extschema@.cancel_plan(plan_id bigint, actor text, as_of timestamptz DEFAULT now())
  RETURNS void AS 'MODULE_PATHNAME', 'cancel_plan' LANGUAGE C;

-- Offer the patient the quoted plan by message (a "yes"/"PLAN" reply then creates it); the message_id or 0.
CREATE FUNCTION @extschema@.offer_plan(practice_id text, patient_id text, installments int DEFAULT NULL,
                                       as_of timestamptz DEFAULT now())
  RETURNS bigint AS 'MODULE_PATHNAME', 'offer_plan' LANGUAGE C;

-- A patient asked for a plan ("rest next month"): a plan for the remainder.
CREATE FUNCTION @extschema@.request_plan(practice_id text, patient_id text, installments int DEFAULT NULL,
                                         as_of timestamptz DEFAULT now())
  RETURNS bigint AS 'MODULE_PATHNAME', 'request_plan' LANGUAGE C;

-- The payment provider's answer to a 'charge' outbox row (called by the worker).
CREATE FUNCTION @extschema@.record_charge_result(practice_id text, message_id bigint, succeeded boolean,
                                                 provider_ref text, failure text, at timestamptz DEFAULT now())
  RETURNS void AS 'MODULE_PATHNAME', 'record_charge_result' LANGUAGE C;

-- The plan pass of collect.tick, callable alone (tests, catch-up runs).
CREATE FUNCTION @extschema@.plans_tick(as_of timestamptz DEFAULT now())
  RETURNS bigint AS 'MODULE_PATHNAME', 'plans_tick_sql' LANGUAGE C;

-- Offer a settlement (discount_pct NULL = the policy's largest).
CREATE FUNCTION @extschema@.offer_settlement(practice_id text, patient_id text, discount_pct int DEFAULT NULL,
                                             as_of timestamptz DEFAULT now())
  RETURNS bigint AS 'MODULE_PATHNAME', 'offer_settlement' LANGUAGE C;

-- A manager approves a settlement above settlement_approval_above.
CREATE FUNCTION @extschema@.approve_settlement(settlement_id bigint, approver text, as_of timestamptz DEFAULT now())
  RETURNS void AS 'MODULE_PATHNAME', 'approve_settlement' LANGUAGE C;

-- The patient accepted the offer; the discount is posted once the amount is paid.
CREATE FUNCTION @extschema@.accept_settlement(practice_id text, patient_id text, at timestamptz DEFAULT now())
  RETURNS bigint AS 'MODULE_PATHNAME', 'accept_settlement' LANGUAGE C;

-- Pure rules, exposed for tests and staff tools.
-- Installment amounts for a total: remainder cents to the first installments.
CREATE FUNCTION @extschema@.plan_split(total numeric, n int) RETURNS numeric[]
  AS 'MODULE_PATHNAME', 'plan_split_sql' LANGUAGE C IMMUTABLE STRICT;
-- Due date k months after first_due on anchor_day, clamped to the month's end.
CREATE FUNCTION @extschema@.plan_due_date(first_due date, anchor_day int, k int) RETURNS date
  AS 'MODULE_PATHNAME', 'plan_due_date_sql' LANGUAGE C IMMUTABLE STRICT;
-- The first plan day at least lead_days + 1 days after today.
CREATE FUNCTION @extschema@.plan_first_due(today date, day_of_month int, lead_days int) RETURNS date
  AS 'MODULE_PATHNAME', 'plan_first_due_sql' LANGUAGE C IMMUTABLE STRICT;
-- d plus n business days (Monday to Friday).
CREATE FUNCTION @extschema@.business_days_after(d date, n int) RETURNS date
  AS 'MODULE_PATHNAME', 'plan_business_days_after_sql' LANGUAGE C IMMUTABLE STRICT;

------------------------------------------------------------------------
-- Message templates of the plan pathway (en + es)
------------------------------------------------------------------------
INSERT INTO @extschema@.message_template (template_name, language, channel, subject, body) VALUES
 ('plan_reminder', 'en', 'sms', NULL,
  '{{practice_name}}: your plan payment of {{installment_amount}} is due {{due_date}}. Pay here: {{pay_link}} {{opt_out}}'),
 ('plan_reminder', 'es', 'sms', NULL,
  '{{practice_name}}: su pago del plan de {{installment_amount}} vence el {{due_date}}. Pague aquí: {{pay_link}} {{opt_out}}'),
 ('plan_reminder', 'en', 'email', 'Your plan payment is due {{due_date}}',
  'Hello {{first_name}}, your payment plan installment of {{installment_amount}} is due on {{due_date}}. Pay or review it here: {{pay_link}}. {{opt_out}}'),
 ('plan_reminder', 'es', 'email', 'Su pago del plan vence el {{due_date}}',
  'Hola {{first_name}}, la cuota de su plan de pagos de {{installment_amount}} vence el {{due_date}}. Pague o revísela aquí: {{pay_link}}. {{opt_out}}'),
 ('plan_reminder_autopay', 'en', 'sms', NULL,
  '{{practice_name}}: your plan payment of {{installment_amount}} will be charged to your card on file on {{due_date}}. {{opt_out}}'),
 ('plan_reminder_autopay', 'es', 'sms', NULL,
  '{{practice_name}}: su pago del plan de {{installment_amount}} se cargará a su tarjeta registrada el {{due_date}}. {{opt_out}}'),
 ('plan_reminder_autopay', 'en', 'email', 'Your plan payment on {{due_date}}',
  'Hello {{first_name}}, your plan installment of {{installment_amount}} will be charged to your card on file on {{due_date}}. Questions? Just reply. {{opt_out}}'),
 ('plan_reminder_autopay', 'es', 'email', 'Su pago del plan el {{due_date}}',
  'Hola {{first_name}}, la cuota de su plan de {{installment_amount}} se cargará a su tarjeta registrada el {{due_date}}. ¿Preguntas? Responda a este mensaje. {{opt_out}}'),
 ('plan_payment_failed', 'en', 'sms', NULL,
  '{{practice_name}}: we could not process your plan payment of {{installment_amount}}. No worries, you can pay here: {{pay_link}} or reply and we will help. {{opt_out}}'),
 ('plan_payment_failed', 'es', 'sms', NULL,
  '{{practice_name}}: no pudimos procesar su pago del plan de {{installment_amount}}. No se preocupe, puede pagar aquí: {{pay_link}} o responda y le ayudamos. {{opt_out}}'),
 ('plan_payment_failed', 'en', 'email', 'We could not process your plan payment',
  'Hello {{first_name}}, your plan payment of {{installment_amount}} did not go through. It happens; you can pay here: {{pay_link}}, or reply and we will find a way together. {{opt_out}}'),
 ('plan_payment_failed', 'es', 'email', 'No pudimos procesar su pago del plan',
  'Hola {{first_name}}, su pago del plan de {{installment_amount}} no se pudo procesar. Puede pagar aquí: {{pay_link}}, o responda y buscaremos una solución juntos. {{opt_out}}'),
 ('plan_confirmation', 'en', 'sms', NULL,
  '{{practice_name}}: your payment plan is set: {{installments}} payments for {{plan_total}}, {{installment_amount}} first due {{due_date}}. {{opt_out}}'),
 ('plan_confirmation', 'es', 'sms', NULL,
  '{{practice_name}}: su plan de pagos está listo: {{installments}} pagos por {{plan_total}}, {{installment_amount}} el primero el {{due_date}}. {{opt_out}}'),
 ('plan_confirmation', 'en', 'email', 'Your payment plan',
  'Hello {{first_name}}, your payment plan for {{plan_total}} is set: {{installments}} payments, the first of {{installment_amount}} due on {{due_date}}. Details: {{pay_link}}. {{opt_out}}'),
 ('plan_confirmation', 'es', 'email', 'Su plan de pagos',
  'Hola {{first_name}}, su plan de pagos por {{plan_total}} está listo: {{installments}} pagos, el primero de {{installment_amount}} el {{due_date}}. Detalles: {{pay_link}}. {{opt_out}}'),
 ('plan_offer', 'en', 'sms', NULL,
  '{{practice_name}}: you can pay {{plan_total}} in {{installments}} monthly payments of about {{installment_amount}}, the first on {{due_date}}. Reply PLAN to set it up. {{opt_out}}'),
 ('plan_offer', 'es', 'sms', NULL,
  '{{practice_name}}: puede pagar {{plan_total}} en {{installments}} pagos mensuales de unos {{installment_amount}}, el primero el {{due_date}}. Responda PLAN para activarlo. {{opt_out}}'),
 ('plan_offer', 'en', 'email', 'Pay over time: {{installments}} monthly payments',
  'Hello {{first_name}}, you can pay your balance of {{plan_total}} in {{installments}} monthly payments of about {{installment_amount}}, the first on {{due_date}}. Reply PLAN to set it up, or pay in full here: {{pay_link}}. {{opt_out}}'),
 ('plan_offer', 'es', 'email', 'Pague en cuotas: {{installments}} pagos mensuales',
  'Hola {{first_name}}, puede pagar su saldo de {{plan_total}} en {{installments}} pagos mensuales de unos {{installment_amount}}, el primero el {{due_date}}. Responda PLAN para activarlo, o pague el total aquí: {{pay_link}}. {{opt_out}}'),
 ('plan_defaulted', 'en', 'sms', NULL,
  '{{practice_name}}: two plan payments were missed, so your plan has ended and {{balance}} is due. Please pay at {{pay_link}} or reply to talk about options. {{opt_out}}'),
 ('plan_defaulted', 'es', 'sms', NULL,
  '{{practice_name}}: no se recibieron dos cuotas, por lo que su plan terminó y se deben {{balance}}. Pague en {{pay_link}} o responda para ver opciones. {{opt_out}}'),
 ('plan_defaulted', 'en', 'email', 'Your payment plan has ended',
  'Hello {{first_name}}, two payments of your plan were missed, so the plan has ended and {{balance}} is now due. Please pay at {{pay_link}}, or reply and we will talk about options. {{opt_out}}'),
 ('plan_defaulted', 'es', 'email', 'Su plan de pagos terminó',
  'Hola {{first_name}}, no se recibieron dos pagos de su plan, por lo que el plan terminó y ahora se deben {{balance}}. Pague en {{pay_link}} o responda para hablar de opciones. {{opt_out}}'),
 ('settlement_offer', 'en', 'sms', NULL,
  '{{practice_name}}: pay {{amount}} instead of {{balance}} to settle your account in full. Pay at {{pay_link}} or reply YES. {{opt_out}}'),
 ('settlement_offer', 'es', 'sms', NULL,
  '{{practice_name}}: pague {{amount}} en lugar de {{balance}} para saldar su cuenta. Pague en {{pay_link}} o responda SI. {{opt_out}}'),
 ('settlement_offer', 'en', 'email', 'An offer to settle your account',
  'Hello {{first_name}}, we can settle your balance of {{balance}} for {{amount}} if paid in full. Pay at {{pay_link}} or reply to accept. {{opt_out}}'),
 ('settlement_offer', 'es', 'email', 'Una oferta para saldar su cuenta',
  'Hola {{first_name}}, podemos saldar su saldo de {{balance}} por {{amount}} si se paga completo. Pague en {{pay_link}} o responda para aceptar. {{opt_out}}'),
 ('hardship_confirmation', 'en', 'sms', NULL,
  '{{practice_name}}: your hardship arrangement is approved. Your balance is now {{balance}}. We will check in on {{due_date}}. {{opt_out}}'),
 ('hardship_confirmation', 'es', 'sms', NULL,
  '{{practice_name}}: su acuerdo por dificultad económica está aprobado. Su saldo es ahora {{balance}}. Le contactaremos el {{due_date}}. {{opt_out}}'),
 ('hardship_confirmation', 'en', 'email', 'Your hardship arrangement',
  'Hello {{first_name}}, your hardship arrangement is approved. Your balance is now {{balance}}. We will check in with you on {{due_date}}. {{opt_out}}'),
 ('hardship_confirmation', 'es', 'email', 'Su acuerdo por dificultad económica',
  'Hola {{first_name}}, su acuerdo por dificultad económica está aprobado. Su saldo es ahora {{balance}}. Le contactaremos el {{due_date}}. {{opt_out}}');
------------------------------------------------------------------------
-- Compliance (src/calendar.c, src/holds.c, src/compliance.c,
-- src/compliance_sql.c, src/why.c; docs/compliance.md): legal holds,
-- confidential-communications requests, the validation period, the
-- extraordinary-action gates, and the "why" of every decision.
------------------------------------------------------------------------
-- Legal holds: each with a start, an end (NULL: until released) and a
-- reason. Written by collect.record_event; read by every outreach check.
CREATE TABLE @extschema@.legal_hold (
  practice_id text NOT NULL,
  hold_id     bigint GENERATED BY DEFAULT AS IDENTITY,
  patient_id  text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('dispute','validation','assistance','gfe_dispute','bankruptcy','deceased')),
  starts_at   timestamptz NOT NULL,
  ends_at     timestamptz CHECK (ends_at >= starts_at),
  reason      text NOT NULL CHECK (length(reason) <= 500),
  details     jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (practice_id, hold_id),
  FOREIGN KEY (practice_id, patient_id) REFERENCES @extschema@.patient ON DELETE RESTRICT
);
-- the hot path: one patient's holds
CREATE INDEX legal_hold_patient_idx ON @extschema@.legal_hold (practice_id, patient_id, kind);

-- HIPAA 45 CFR 164.522(b) confidential communications: one channel (and
-- optionally one address) only, honoured by every step without asking why.
CREATE TABLE @extschema@.channel_request (
  practice_id  text NOT NULL,
  patient_id   text NOT NULL,
  channel      text NOT NULL CHECK (channel IN ('sms','email','letter','voice')),
  address      text CHECK (length(address) <= 320),
  requested_at timestamptz NOT NULL,
  PRIMARY KEY (practice_id, patient_id),
  FOREIGN KEY (practice_id, patient_id) REFERENCES @extschema@.patient ON DELETE RESTRICT
);

-- The validation notice (Reg F 1006.34) and the extraordinary-action notice (501(r)).
ALTER TABLE @extschema@.account
  ADD COLUMN validation_notice_at timestamptz,       -- first statement carrying the validation information
  ADD COLUMN validation_period_end date,             -- last day a dispute holds collection for verification
  ADD COLUMN eca_notice_at timestamptz;              -- written notice of a planned placement / credit report

-- What each decision rested on, recorded when it was taken (collect.why).
ALTER TABLE @extschema@.outbox ADD COLUMN decision jsonb;
ALTER TABLE @extschema@.task ADD COLUMN decision jsonb;

-- Calendar: US federal holidays (observed), business days, the validation period.
CREATE FUNCTION @extschema@.federal_holiday(d date) RETURNS text
  AS 'MODULE_PATHNAME', 'collect_federal_holiday' LANGUAGE C STRICT IMMUTABLE;
CREATE FUNCTION @extschema@.is_business_day(d date) RETURNS boolean
  AS 'MODULE_PATHNAME', 'collect_is_business_day' LANGUAGE C STRICT IMMUTABLE;
CREATE FUNCTION @extschema@.add_business_days(d date, n int) RETURNS date
  AS 'MODULE_PATHNAME', 'collect_add_business_days' LANGUAGE C STRICT IMMUTABLE;
-- Reg F 1006.34(b)(5): receipt 5 business days after sending, then 30 days.
CREATE FUNCTION @extschema@.validation_period_end(sent date) RETURNS date
  AS 'MODULE_PATHNAME', 'collect_validation_period_end' LANGUAGE C STRICT IMMUTABLE;

-- The validation information (12 CFR 1006.34(c)(2)) for a notice sent at sent_at.
CREATE FUNCTION @extschema@.validation_notice(practice_id text, patient_id text, sent_at timestamptz,
    OUT itemization_date date, OUT amount_then numeric, OUT interest numeric, OUT fees numeric,
    OUT payments numeric, OUT credits numeric, OUT amount_now numeric, OUT validation_period_end date)
  AS 'MODULE_PATHNAME', 'collect_validation_notice' LANGUAGE C STRICT STABLE;

-- Why an extraordinary action (placement, credit_reporting) may not happen at as_of, or NULL.
CREATE FUNCTION @extschema@.eca_block_reason(practice_id text, patient_id text, action text,
                                             as_of timestamptz DEFAULT now())
  RETURNS text AS 'MODULE_PATHNAME', 'collect_eca_block_reason' LANGUAGE C STRICT STABLE;

-- The planned steps of the next `days` days, and every step a rule holds back.
CREATE FUNCTION @extschema@.preview(practice_id text, patient_id text, days int DEFAULT 60,
                                    as_of timestamptz DEFAULT now())
  RETURNS TABLE (at timestamptz, step text, channel text, template text, status text, rule text, reason text)
  AS 'MODULE_PATHNAME', 'collect_preview' LANGUAGE C STRICT STABLE;

-- Plain words: which policy keys and facts produced a message (why) or a task (why_task).
CREATE FUNCTION @extschema@.why(message_id bigint) RETURNS text
  AS 'MODULE_PATHNAME', 'collect_why_message' LANGUAGE C STRICT STABLE;
CREATE FUNCTION @extschema@.why_task(task_id bigint) RETURNS text
  AS 'MODULE_PATHNAME', 'collect_why_task' LANGUAGE C STRICT STABLE;

-- Written notices the compliance rules send.
INSERT INTO @extschema@.message_template (template_name, language, channel, subject, body) VALUES
 ('eca_notice', 'en', 'any', 'Notice about your balance with {{practice_name}}',
  'Dear {{first_name}},

Your balance of {{balance}} is still open. If it is not paid or otherwise arranged within 30 days of this notice, it may be referred to a collection agency.
You may qualify for financial assistance: {{assistance_link}} Pay at {{pay_link}} or call us to set up a payment plan.

{{practice_name}}'),
 ('eca_notice', 'es', 'any', 'Aviso sobre su saldo con {{practice_name}}',
  'Estimado/a {{first_name}}:

Su saldo de {{balance}} sigue pendiente. Si no se paga o se acuerda un plan dentro de los 30 días de este aviso, podría enviarse a una agencia de cobranza.
Puede calificar para asistencia financiera: {{assistance_link}} Pague en {{pay_link}} o llámenos para acordar un plan de pagos.

{{practice_name}}');

-- TCPA: does a patient's message revoke consent (keywords and free text, en/es)?
CREATE FUNCTION @extschema@.is_revocation(body text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'collect_is_revocation' LANGUAGE C STRICT IMMUTABLE;

-- The Reg F validation notice (model form B-1 content), queued with the first contact.
INSERT INTO @extschema@.message_template (template_name, language, channel, subject, body) VALUES
 ('validation_notice', 'en', 'any', 'Notice about your balance with {{practice_name}}',
  '{{practice_name}} is contacting you about a balance you owe.

As of {{itemization_date}}, you owed: {{amount_then}}
Between {{itemization_date}} and today:
  You were charged this amount in interest: + $0.00
  You were charged this amount in fees and new charges: + {{fees_since}}
  You paid or were credited this amount toward the debt: - {{payments_since}} (payments), - {{credits_since}} (credits)
Total amount of the debt now: {{balance}}

How can you dispute the debt?
Call or write to us by {{validation_end}} to dispute all or part of the debt. If you do not, we will assume that our information is correct.
If you write to us by {{validation_end}}, we must stop collection on any amount you dispute until we send you information that shows you owe the debt.
You may also ask us for the name and address of the original creditor by {{validation_end}}; we must then stop collection until we send you that information.

Pay online at {{pay_link}} or call our office.

{{practice_name}}'),
 ('validation_notice', 'es', 'any', 'Aviso sobre su saldo con {{practice_name}}',
  '{{practice_name}} se comunica con usted por un saldo que debe.

Al {{itemization_date}}, usted debía: {{amount_then}}
Entre el {{itemization_date}} y hoy:
  Intereses cobrados: + $0.00
  Cargos y cargos nuevos: + {{fees_since}}
  Pagos y créditos aplicados a la deuda: - {{payments_since}} (pagos), - {{credits_since}} (créditos)
Monto total de la deuda ahora: {{balance}}

¿Cómo puede disputar la deuda?
Llámenos o escríbanos a más tardar el {{validation_end}} para disputar toda o parte de la deuda. Si no lo hace, supondremos que nuestra información es correcta.
Si nos escribe a más tardar el {{validation_end}}, debemos detener el cobro de cualquier monto que dispute hasta enviarle información que demuestre que usted debe la deuda.
También puede pedirnos el nombre y la dirección del acreedor original a más tardar el {{validation_end}}; en ese caso detendremos el cobro hasta enviarle esa información.

Pague en línea en {{pay_link}} o llame a nuestra oficina.

{{practice_name}}');
------------------------------------------------------------------------
-- Replies and learning (src/reply.c, src/reply_classify.c, src/learn.c,
-- src/learn_model.c, src/learn_math.c, src/learn_sim.c; docs/replies.md)
------------------------------------------------------------------------

-- The learned contact hour lives on the account (the outreach code reads
-- it); the dunning fragment may have added it already.
ALTER TABLE @extschema@.account
  ADD COLUMN IF NOT EXISTS best_hour smallint CHECK (best_hour BETWEEN 0 AND 23);

-- Every reply received: what it said, what it was taken to mean, and
-- what collect did about it (effects), for the audit and the KPIs.
CREATE TABLE @extschema@.reply (
  reply_id    bigint GENERATED BY DEFAULT AS IDENTITY,
  practice_id text NOT NULL,
  patient_id  text NOT NULL,
  channel     text NOT NULL CHECK (channel IN ('sms','email','letter','voice','call_task','portal')),
  body        text NOT NULL CHECK (length(body) <= 10000),
  at          timestamptz NOT NULL,
  intent      text NOT NULL CHECK (intent IN ('pay','plan','accept','stop','already_paid','insurance',
                                             'hardship','dispute','upset','question','unknown')),
  sentiment   real NOT NULL,
  rule        text,
  effects     jsonb NOT NULL DEFAULT '[]',
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (practice_id, reply_id),
  FOREIGN KEY (practice_id, patient_id) REFERENCES @extschema@.patient ON DELETE RESTRICT
);
CREATE INDEX reply_patient_idx ON @extschema@.reply (practice_id, patient_id, at);

-- When each patient answers: weighted count of opens (1), replies (2)
-- and payments (3) per patient-local hour.
CREATE TABLE @extschema@.contact_hour_stats (
  practice_id text NOT NULL,
  patient_id  text NOT NULL,
  hour        smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
  events      real NOT NULL DEFAULT 0,
  PRIMARY KEY (practice_id, patient_id, hour)
);

-- The same per segment: the prior for patients with little history.
CREATE TABLE @extschema@.segment_hour_stats (
  practice_id text NOT NULL,
  segment     text NOT NULL,
  hour        smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
  events      real NOT NULL DEFAULT 0,
  PRIMARY KEY (practice_id, segment, hour)
);

-- The channel bandit: per practice, segment and channel, how many touches
-- were followed by a payment within 7 days (successes) and how many not.
CREATE TABLE @extschema@.channel_arm (
  practice_id text NOT NULL,
  segment     text NOT NULL,
  channel     text NOT NULL CHECK (channel IN ('sms','email','letter','call_task')),
  successes   real NOT NULL DEFAULT 0 CHECK (successes >= 0),
  failures    real NOT NULL DEFAULT 0 CHECK (failures >= 0),
  updated_at  timestamptz,
  PRIMARY KEY (practice_id, segment, channel)
);

-- How far collect.learn_update has read each practice's history.
CREATE TABLE @extschema@.learn_state (
  practice_id            text PRIMARY KEY,
  touches_scored_through timestamptz NOT NULL DEFAULT '-infinity',
  payments_seen_through  timestamptz NOT NULL DEFAULT '-infinity'
);

-- The fitted propensity-to-pay model of each practice (collect.train).
CREATE TABLE @extschema@.risk_model (
  practice_id  text PRIMARY KEY,
  fitted_at    timestamptz NOT NULL,       -- the as_of of the fit
  features     text[] NOT NULL,
  coefficients float8[] NOT NULL,          -- intercept first, on standardized features
  means        float8[] NOT NULL,
  scales       float8[] NOT NULL,
  n_train      int NOT NULL,
  n_test       int NOT NULL,
  positives    int NOT NULL,
  auc          float8,                     -- on the held-out fifth
  iterations   int NOT NULL
);

------------------------------------------------------------------------
-- Reply handling
------------------------------------------------------------------------
-- The classifier alone (no effects): intent, sentiment in [-1, 1],
-- whether an opt-out keyword or phrase was seen, and the deciding rule.
CREATE FUNCTION @extschema@.classify_reply(body text,
    OUT intent text, OUT sentiment real, OUT stop_like boolean, OUT rule text)
  AS 'MODULE_PATHNAME', 'collect_classify_reply' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A patient's reply: classify it, log it, act on it; returns the intent.
CREATE FUNCTION @extschema@.receive_reply(practice_id text, patient_id text, channel text, body text,
    at timestamptz DEFAULT now()) RETURNS text
  AS 'MODULE_PATHNAME', 'collect_receive_reply' LANGUAGE C
  SET search_path = pg_catalog, pg_temp;

-- An inbound SMS as the provider reports it: the practice is the one whose
-- sms provider sends from to_phone, the patient the one with from_phone.
CREATE FUNCTION @extschema@.receive_sms(from_phone text, to_phone text, body text,
    at timestamptz DEFAULT now()) RETURNS text
  AS 'MODULE_PATHNAME', 'collect_receive_sms' LANGUAGE C
  SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION @extschema@.receive_reply(text, text, text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.receive_sms(text, text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.receive_reply(text, text, text, text, timestamptz) TO collect_writer, collect_worker;
GRANT EXECUTE ON FUNCTION @extschema@.receive_sms(text, text, text, timestamptz) TO collect_writer, collect_worker;

------------------------------------------------------------------------
-- Learning
------------------------------------------------------------------------
-- Record that a patient opened (kind 'open'), replied ('reply') or paid
-- ('pay') at a time; refreshes the patient's learned best hour.
CREATE FUNCTION @extschema@.learn_observe(practice_id text, patient_id text, kind text, at timestamptz)
  RETURNS void AS 'MODULE_PATHNAME', 'collect_learn_observe' LANGUAGE C
  SET search_path = pg_catalog, pg_temp;

-- The learned best patient-local contact hour inside the allowed hours,
-- or NULL without any evidence (patient or segment).
CREATE FUNCTION @extschema@.best_hour(practice_id text, patient_id text) RETURNS int
  AS 'MODULE_PATHNAME', 'collect_best_hour' LANGUAGE C STABLE
  SET search_path = pg_catalog, pg_temp;

-- Thompson-sampled channel for the patient's segment among the channels
-- consent, opt-outs and the address allow; NULL if none. Seeded from
-- (practice, patient, as_of): the same call gives the same answer.
CREATE FUNCTION @extschema@.choose_channel(practice_id text, patient_id text, as_of timestamptz DEFAULT now())
  RETURNS text AS 'MODULE_PATHNAME', 'collect_choose_channel' LANGUAGE C STABLE
  SET search_path = pg_catalog, pg_temp;

-- Read new history into the learners: touches sent more than 7 days
-- before as_of become bandit successes/failures, payments become hour
-- observations. Returns the number of touches scored.
CREATE FUNCTION @extschema@.learn_update(practice_id text, as_of timestamptz DEFAULT now()) RETURNS bigint
  AS 'MODULE_PATHNAME', 'collect_learn_update' LANGUAGE C
  SET search_path = pg_catalog, pg_temp;

-- The model's features for every patient with a balance at the cut, and
-- whether they paid anything in the horizon after it (the label).
-- Features are documented in docs/replies.md; patient age and language
-- are deliberately not among them (see the fairness report).
CREATE FUNCTION @extschema@.risk_features(practice_id text, cut timestamptz, horizon interval DEFAULT '30 days')
  RETURNS TABLE (patient_id text, log_balance float8, months_since_charge float8, months_since_payment float8,
                 payments_before float8, lateness float8, replies float8, contacts_90d float8,
                 plans_completed float8, plans_defaulted float8, paid_after int)
  LANGUAGE sql STABLE
  AS $$
  WITH led AS (
    SELECT l.patient_id,
           sum(CASE WHEN l.kind IN ('charge','refund','reversal') THEN l.amount ELSE -l.amount END) AS balance,
           max(l.posted_at) FILTER (WHERE l.kind = 'charge') AS last_charge,
           max(l.posted_at) FILTER (WHERE l.kind = 'payment') AS last_payment,
           count(*) FILTER (WHERE l.kind = 'payment') AS n_payments,
           count(*) FILTER (WHERE l.kind = 'reversal') AS n_reversals
      FROM @extschema@.ledger l
     WHERE l.practice_id = risk_features.practice_id AND l.posted_at <= risk_features.cut
     GROUP BY l.patient_id)
  SELECT led.patient_id,
         ln(1 + greatest(led.balance, 0)::float8),
         least(extract(epoch FROM risk_features.cut - led.last_charge)::float8 / 2592000, 24),
         coalesce(least(extract(epoch FROM risk_features.cut - led.last_payment)::float8 / 2592000, 24), 24),
         ln(1 + led.n_payments::float8),
         (led.n_reversals
          + (SELECT count(*) FROM @extschema@.installment i JOIN @extschema@.plan p USING (practice_id, plan_id)
              WHERE p.practice_id = risk_features.practice_id AND p.patient_id = led.patient_id
                AND i.due_date < risk_features.cut::date
                AND (i.status = 'failed' OR (i.status = 'paid' AND i.paid_at::date > i.due_date + 7))))::float8,
         ln(1 + (SELECT count(*) FROM @extschema@.reply r
                  WHERE r.practice_id = risk_features.practice_id AND r.patient_id = led.patient_id
                    AND r.at <= risk_features.cut)::float8),
         (SELECT count(*) FROM @extschema@.outbox o
           WHERE o.practice_id = risk_features.practice_id AND o.patient_id = led.patient_id
             AND o.status IN ('sent','delivered') AND o.send_after <= risk_features.cut
             AND o.send_after > risk_features.cut - interval '90 days')::float8,
         (SELECT count(*) FROM @extschema@.plan p
           WHERE p.practice_id = risk_features.practice_id AND p.patient_id = led.patient_id
             AND p.created_at <= risk_features.cut AND p.status = 'completed')::float8,
         (SELECT count(*) FROM @extschema@.plan p
           WHERE p.practice_id = risk_features.practice_id AND p.patient_id = led.patient_id
             AND p.created_at <= risk_features.cut AND p.status = 'defaulted')::float8,
         (EXISTS (SELECT 1 FROM @extschema@.ledger l
                   WHERE l.practice_id = risk_features.practice_id AND l.patient_id = led.patient_id
                     AND l.kind = 'payment' AND l.posted_at > risk_features.cut
                     AND l.posted_at <= risk_features.cut + risk_features.horizon))::int
    FROM led
   WHERE led.balance > 0
   ORDER BY led.patient_id
  $$;

-- Fit the practice's propensity-to-pay model on history (features at
-- as_of - 30 days, label: paid in the 30 days after), hold out a fifth of
-- the patients (by hash) for the AUC, store the model and write
-- account.risk_score (probability of paying within 30 days) for every
-- account with a balance. Returns a summary.
CREATE FUNCTION @extschema@.train(practice_id text, as_of timestamptz DEFAULT now()) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'collect_train' LANGUAGE C
  SET search_path = pg_catalog, pg_temp;

-- Nightly: learn_update then train for every practice; returns how many
-- practices were trained (pg_cron job 'train').
CREATE FUNCTION @extschema@.train_all(as_of timestamptz DEFAULT now()) RETURNS int
  AS 'MODULE_PATHNAME', 'collect_train_all' LANGUAGE C
  SET search_path = pg_catalog, pg_temp;

-- Gentle or firm wording from the propensity score: likely payers get the
-- gentle reminder, unlikely ones the firm one; NULL score: gentle.
CREATE FUNCTION @extschema@.risk_tone(risk_score real) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT CASE WHEN risk_score IS NULL OR risk_score >= 0.35 THEN 'gentle' ELSE 'firm' END $$;

-- Who gets a plan offer first: open balances above the practice's
-- plan_offer_above, least likely to pay in full first.
CREATE VIEW @extschema@.plan_offer_queue AS
  SELECT a.practice_id, a.patient_id, a.balance, a.days_past_due, a.risk_score,
         row_number() OVER (PARTITION BY a.practice_id ORDER BY a.risk_score ASC NULLS LAST, a.balance DESC) AS priority
    FROM @extschema@.account a
   WHERE a.balance > (@extschema@.effective_policy(a.practice_id) ->> 'plan_offer_above')::numeric
     AND a.state IN ('current', 'in_cadence', 'escalated');

-- Fairness audit: outcomes and risk scores by age band and language, per
-- practice, so a practice can see whether the model or the cadence treats
-- groups differently. No names, phones or e-mail: analysts may read it.
CREATE VIEW @extschema@.fairness_report AS
  SELECT a.practice_id,
         CASE WHEN p.birth_date IS NULL THEN 'unknown'
              WHEN age(current_date, p.birth_date) < interval '30 years' THEN '18-29'
              WHEN age(current_date, p.birth_date) < interval '45 years' THEN '30-44'
              WHEN age(current_date, p.birth_date) < interval '65 years' THEN '45-64'
              ELSE '65+' END AS age_band,
         p.language,
         count(*) AS accounts,
         round(avg(a.risk_score)::numeric, 3) AS mean_risk_score,
         round(avg(CASE WHEN a.risk_score < 0.35 THEN 1.0 ELSE 0.0 END) FILTER (WHERE a.risk_score IS NOT NULL), 3) AS share_firm,
         round(avg(CASE WHEN a.balance <= 0 THEN 1.0 ELSE 0.0 END), 3) AS share_settled,
         round(avg(CASE WHEN a.state = 'on_plan' THEN 1.0 ELSE 0.0 END), 3) AS share_on_plan,
         round(avg(CASE WHEN a.state IN ('escalated','placement_review','placed') THEN 1.0 ELSE 0.0 END), 3) AS share_escalated,
         round(avg(a.days_past_due), 1) AS mean_days_past_due,
         sum(a.balance) AS open_balance,
         round(avg(CASE WHEN a.last_response_at IS NOT NULL THEN 1.0 ELSE 0.0 END), 3) AS share_responded
    FROM @extschema@.account a
    JOIN @extschema@.patient p USING (practice_id, patient_id)
   GROUP BY 1, 2, 3;

GRANT SELECT ON @extschema@.fairness_report TO collect_analyst, collect_staff;
GRANT SELECT ON @extschema@.plan_offer_queue TO collect_staff;

-- What-if simulation of the learning loop (no tables touched): learned
-- hour/channel against the fixed default cadence on synthetic patients.
CREATE FUNCTION @extschema@.learn_simulate(seed bigint DEFAULT 42, patients int DEFAULT 800, days int DEFAULT 60)
  RETURNS jsonb AS 'MODULE_PATHNAME', 'learn_simulate' LANGUAGE C IMMUTABLE STRICT;

------------------------------------------------------------------------
-- Templates for reply answers ({{...}} from the template whitelist)
------------------------------------------------------------------------
INSERT INTO @extschema@.message_template (template_name, language, channel, subject, body) VALUES
 ('stop_confirmation', 'en', 'any', 'You are unsubscribed',
  '{{practice_name}}: you are unsubscribed and will get no more messages from us on this channel.'),
 ('stop_confirmation', 'es', 'any', 'Ya no recibirá mensajes',
  '{{practice_name}}: su baja está hecha; ya no recibirá más mensajes nuestros por este medio.'),
 ('balance_answer', 'en', 'any', 'About your balance',
  '{{reason}} Pay securely: {{pay_link}}'),
 ('balance_answer', 'es', 'any', 'Sobre su saldo',
  '{{reason}} Pague en línea: {{pay_link}}'),
 ('pay_link_reply', 'en', 'any', 'Your payment link',
  'Thank you, {{first_name}}. You can pay {{balance}} securely here: {{pay_link}}'),
 ('pay_link_reply', 'es', 'any', 'Su enlace de pago',
  'Gracias, {{first_name}}. Puede pagar {{balance}} en línea aquí: {{pay_link}}'),
 ('plan_quote', 'en', 'any', 'Your payment plan option',
  'We can split {{plan_total}} into {{installments}} monthly payments of {{installment_amount}}, the first due {{installment_due}}. Reply YES to accept.'),
 ('plan_quote', 'es', 'any', 'Su opción de plan de pagos',
  'Podemos dividir {{plan_total}} en {{installments}} pagos mensuales de {{installment_amount}}, el primero el {{installment_due}}. Responda SÍ para aceptar.');
------------------------------------------------------------------------
-- KPIs (src/kpi_rollup.c, docs/kpi.md): rollup tables kept per statement
-- by C triggers, and the analyst views that read them. Every view carries
-- practice_id and reads one practice's rows through practice_id-led
-- indexes; none exposes a name, phone or e-mail. Views for display may use
-- the clock (ar_aging, staff_queue, promise_kept_rate); the rollups never do.
------------------------------------------------------------------------

-- Ledger sums per practice, practice-local day and the account's segment
-- before the posting; resolutions (balance went from > 0 to <= 0) with and
-- without a staff task. slot spreads concurrent writers (kpi.h KPI_SLOTS).
CREATE TABLE @extschema@.kpi_daily (
  practice_id       text NOT NULL,
  day               date NOT NULL,
  segment           text NOT NULL,
  slot              smallint NOT NULL,
  charges           numeric(14,2) NOT NULL DEFAULT 0,
  payments          numeric(14,2) NOT NULL DEFAULT 0,
  reversals         numeric(14,2) NOT NULL DEFAULT 0,
  refunds           numeric(14,2) NOT NULL DEFAULT 0,
  adjustments       numeric(14,2) NOT NULL DEFAULT 0,
  write_offs        numeric(14,2) NOT NULL DEFAULT 0,
  resolved          int NOT NULL DEFAULT 0,
  resolved_no_touch int NOT NULL DEFAULT 0,
  PRIMARY KEY (practice_id, day, segment, slot)
);

-- Contacts per practice and local day (outbox rows that reached sent or
-- delivered on a patient channel), and first contacts after a charge,
-- counted on the charge's local day with the seconds it took.
CREATE TABLE @extschema@.kpi_contact_daily (
  practice_id text NOT NULL,
  day         date NOT NULL,
  slot        smallint NOT NULL,
  contacts    int NOT NULL DEFAULT 0,
  ftc_n       int NOT NULL DEFAULT 0,
  ftc_seconds numeric NOT NULL DEFAULT 0,
  PRIMARY KEY (practice_id, day, slot)
);

-- Ledger rollup (src/kpi_ledger.c). Its name sorts before
-- ledger_account_upkeep, so it fires first and reads each account's balance
-- and segment before the statement.
CREATE FUNCTION @extschema@.kpi_ledger_rollup() RETURNS trigger
  AS 'MODULE_PATHNAME', 'kpi_ledger_rollup' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER ledger_account_kpi AFTER INSERT ON @extschema@.ledger
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_ledger_rollup();

-- Contact, event and promise rollups (src/kpi_rollup.c); the argument
-- names the rollup.
CREATE FUNCTION @extschema@.kpi_rollup() RETURNS trigger
  AS 'MODULE_PATHNAME', 'kpi_rollup' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Outbox rows inserted as sent/delivered, or updated into it.
CREATE TRIGGER outbox_kpi_insert AFTER INSERT ON @extschema@.outbox
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('outbox_insert');
CREATE TRIGGER outbox_kpi_update AFTER UPDATE ON @extschema@.outbox
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('outbox_update');

-- Complaints and balances placed with an agency per practice and local
-- day, as recorded (kpi_rollup.c 'event_insert').
CREATE TABLE @extschema@.kpi_event_daily (
  practice_id text NOT NULL,
  day         date NOT NULL,
  slot        smallint NOT NULL,
  complaints  int NOT NULL DEFAULT 0,
  placed      numeric(14,2) NOT NULL DEFAULT 0,
  PRIMARY KEY (practice_id, day, slot)
);

-- One row per resolved dispute: local day of the resolution and days
-- since the patient's latest dispute_opened at or before it.
CREATE TABLE @extschema@.kpi_dispute (
  practice_id text NOT NULL,
  day         date NOT NULL,
  event_id    bigint NOT NULL,
  days        numeric NOT NULL,
  PRIMARY KEY (practice_id, day, event_id)
);

CREATE TRIGGER event_kpi_insert AFTER INSERT ON @extschema@.event
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('event_insert');

-- Installments per practice and due date (practice-local): due = counted
-- (plan agreed, not waived), kept = paid on or before the due date.
-- Installments and plans change status; they are not deleted.
CREATE TABLE @extschema@.kpi_installment_daily (
  practice_id text NOT NULL,
  due_date    date NOT NULL,
  slot        smallint NOT NULL,
  due         int NOT NULL DEFAULT 0,
  kept        int NOT NULL DEFAULT 0,
  PRIMARY KEY (practice_id, due_date, slot)
);

CREATE TRIGGER installment_kpi_insert AFTER INSERT ON @extschema@.installment
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('installment_insert');
CREATE TRIGGER installment_kpi_update AFTER UPDATE ON @extschema@.installment
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('installment_update');
CREATE TRIGGER plan_kpi_update AFTER UPDATE ON @extschema@.plan
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.kpi_rollup('plan_update');

-- Indexes the views and rollups probe (all practice_id first).
CREATE INDEX task_patient_created_idx ON @extschema@.task (practice_id, patient_id, created_at);
CREATE INDEX outbox_contact_idx ON @extschema@.outbox (practice_id, channel, step)
  WHERE status IN ('sent', 'delivered', 'failed', 'dead');

------------------------------------------------------------------------
-- kpi_scorecard: one row per practice and ISO week (week = its Monday, in
-- the practice's time zone), from the first to the last week with ledger
-- activity. Definitions: docs/kpi.md. Rates are fractions rounded to 4
-- places, days to 2 places.
------------------------------------------------------------------------
CREATE VIEW @extschema@.kpi_scorecard AS
SELECT p.practice_id,
       w.week,
       round(c.ftc_seconds / NULLIF(c.ftc_n, 0) / 86400, 2)            AS days_to_first_contact,
       round(w.paid_todate / NULLIF(w.charges_todate, 0), 4)          AS patient_pay_yield,
       round(i.kept::numeric / NULLIF(i.due, 0), 4)                   AS promise_kept_rate,
       round(d.median_days::numeric, 2)                               AS dispute_resolution_days,
       round(COALESCE(e.complaints, 0) * 1000.0 / NULLIF(c.contacts, 0), 2) AS complaints_per_1000,
       CASE WHEN w.ar_end > 0 THEN round(COALESCE(e.placed, 0) / w.ar_end, 4) END AS placed_pct,
       round(w.ar_end * 90 / NULLIF(w.charges_90, 0), 2)              AS days_in_ar,
       round(w.paid_90 / NULLIF(w.charges_90, 0), 4)                  AS collection_rate_90d,
       w.write_offs::numeric(14,2) AS write_offs,
       round(w.resolved_no_touch::numeric / NULLIF(w.resolved, 0), 4) AS no_touch_share,
       round(d.p90_days::numeric, 2)                                  AS dispute_resolution_days_p90
  FROM @extschema@.practice p
  -- ledger figures per week from the daily rollup, over a dense calendar
  CROSS JOIN LATERAL (
    SELECT date_trunc('week', x.day::timestamp)::date AS week,
           sum(x.write_offs) AS write_offs,
           sum(x.resolved) AS resolved,
           sum(x.resolved_no_touch) AS resolved_no_touch,
           max(x.ar) FILTER (WHERE extract(isodow FROM x.day) = 7) AS ar_end,
           max(x.charges_90) FILTER (WHERE extract(isodow FROM x.day) = 7) AS charges_90,
           max(x.paid_90) FILTER (WHERE extract(isodow FROM x.day) = 7) AS paid_90,
           max(x.charges_todate) FILTER (WHERE extract(isodow FROM x.day) = 7) AS charges_todate,
           max(x.paid_todate) FILTER (WHERE extract(isodow FROM x.day) = 7) AS paid_todate
      FROM (
        SELECT g.day,
               COALESCE(dd.write_offs, 0) AS write_offs,
               COALESCE(dd.resolved, 0) AS resolved,
               COALESCE(dd.resolved_no_touch, 0) AS resolved_no_touch,
               sum(COALESCE(dd.net, 0)) OVER running AS ar,
               sum(COALESCE(dd.charges, 0)) OVER running AS charges_todate,
               sum(COALESCE(dd.paid_net, 0)) OVER running AS paid_todate,
               sum(COALESCE(dd.charges, 0)) OVER last90 AS charges_90,
               sum(COALESCE(dd.paid_net, 0)) OVER last90 AS paid_90
          FROM (SELECT min(k.day) AS lo, max(k.day) AS hi
                  FROM @extschema@.kpi_daily k WHERE k.practice_id = p.practice_id) s
          CROSS JOIN LATERAL generate_series(date_trunc('week', s.lo::timestamp),
                                             date_trunc('week', s.hi::timestamp) + interval '6 days',
                                             interval '1 day') AS gs(t)
          CROSS JOIN LATERAL (SELECT gs.t::date AS day) g
          LEFT JOIN (
            SELECT k.day,
                   sum(k.charges) AS charges,
                   sum(k.payments - k.reversals) AS paid_net,
                   sum(k.charges + k.refunds + k.reversals - k.payments - k.adjustments - k.write_offs) AS net,
                   sum(k.write_offs) AS write_offs,
                   sum(k.resolved) AS resolved,
                   sum(k.resolved_no_touch) AS resolved_no_touch
              FROM @extschema@.kpi_daily k
             WHERE k.practice_id = p.practice_id
             GROUP BY k.day) dd ON dd.day = g.day
        WINDOW running AS (ORDER BY g.day),
               last90 AS (ORDER BY g.day ROWS BETWEEN 89 PRECEDING AND CURRENT ROW)
      ) x
     GROUP BY 1
  ) w
  -- contacts and first contacts per week
  LEFT JOIN LATERAL (
    SELECT date_trunc('week', k.day::timestamp)::date AS week,
           sum(k.contacts) AS contacts, sum(k.ftc_n) AS ftc_n, sum(k.ftc_seconds) AS ftc_seconds
      FROM @extschema@.kpi_contact_daily k
     WHERE k.practice_id = p.practice_id
     GROUP BY 1
  ) c ON c.week = w.week
  -- installments due in the week (up to today), of plans that were agreed
  LEFT JOIN LATERAL (
    SELECT date_trunc('week', k.due_date::timestamp)::date AS week, sum(k.due) AS due, sum(k.kept) AS kept
      FROM @extschema@.kpi_installment_daily k
     WHERE k.practice_id = p.practice_id AND k.due_date <= (now() AT TIME ZONE p.timezone)::date
     GROUP BY 1
  ) i ON i.week = w.week
  -- complaints and placements in the week
  LEFT JOIN LATERAL (
    SELECT date_trunc('week', k.day::timestamp)::date AS week,
           sum(k.complaints) AS complaints, sum(k.placed) AS placed
      FROM @extschema@.kpi_event_daily k
     WHERE k.practice_id = p.practice_id
     GROUP BY 1
  ) e ON e.week = w.week
  -- disputes resolved in the week
  LEFT JOIN LATERAL (
    SELECT date_trunc('week', k.day::timestamp)::date AS week,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY k.days) AS median_days,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY k.days) AS p90_days
      FROM @extschema@.kpi_dispute k
     WHERE k.practice_id = p.practice_id
     GROUP BY 1
  ) d ON d.week = w.week;

------------------------------------------------------------------------
-- kpi_recovery_by_segment: per practice, month (first day, practice-local)
-- and the account's segment at the time of posting: dollars recovered
-- (payments minus reversals) and the recovery rate = recovered / all
-- balance reductions (recovered + adjustments + write-offs).
------------------------------------------------------------------------
CREATE VIEW @extschema@.kpi_recovery_by_segment AS
SELECT k.practice_id,
       date_trunc('month', k.day::timestamp)::date AS month,
       k.segment,
       sum(k.payments - k.reversals) AS recovered,
       sum(k.payments - k.reversals + k.adjustments + k.write_offs) AS reduced,
       round(sum(k.payments - k.reversals)
             / NULLIF(sum(k.payments - k.reversals + k.adjustments + k.write_offs), 0), 4) AS recovery_rate
  FROM @extschema@.kpi_daily k
 GROUP BY k.practice_id, date_trunc('month', k.day::timestamp)::date, k.segment
HAVING sum(k.payments + k.reversals + k.adjustments + k.write_offs) > 0;

------------------------------------------------------------------------
-- ar_aging: open balances (> 0; credit balances not counted) by days since
-- due_since as of the practice's local today; every bucket is listed.
------------------------------------------------------------------------
CREATE VIEW @extschema@.ar_aging AS
SELECT p.practice_id, y.bucket, y.accounts, y.balance
  FROM @extschema@.practice p
  CROSS JOIN LATERAL (
    SELECT b.bucket, COALESCE(x.accounts, 0) AS accounts, COALESCE(x.balance, 0)::numeric(14,2) AS balance
      FROM (VALUES (1, '0-30'), (2, '31-60'), (3, '61-90'), (4, '91-120'), (5, '120+')) AS b(ord, bucket)
      LEFT JOIN (
        SELECT CASE WHEN t.today - COALESCE(a.due_since, t.today) <= 30 THEN 1
                    WHEN t.today - a.due_since <= 60 THEN 2
                    WHEN t.today - a.due_since <= 90 THEN 3
                    WHEN t.today - a.due_since <= 120 THEN 4
                    ELSE 5 END AS ord,
               count(*) AS accounts, sum(a.balance) AS balance
          FROM (SELECT (now() AT TIME ZONE p.timezone)::date AS today) t
          JOIN @extschema@.account a ON a.practice_id = p.practice_id AND a.balance > 0
         GROUP BY 1
      ) x ON x.ord = b.ord
  ) y;

------------------------------------------------------------------------
-- kpi_channel_effectiveness: per practice, channel and cadence step, over
-- all outbox messages on a patient channel: sent (reached sent or
-- delivered), delivered, failed (failed or dead), replied (a
-- contact_attempt 'replied' on that channel within 7 days after sending)
-- and paid within 7 days (a payment posted within 7 days after sending).
------------------------------------------------------------------------
CREATE VIEW @extschema@.kpi_channel_effectiveness AS
SELECT o.practice_id, o.channel, COALESCE(o.step, '') AS step,
       count(*) FILTER (WHERE o.status IN ('sent', 'delivered')) AS sent,
       count(*) FILTER (WHERE o.status = 'delivered') AS delivered,
       count(*) FILTER (WHERE o.status IN ('failed', 'dead')) AS failed,
       count(*) FILTER (WHERE o.status IN ('sent', 'delivered') AND EXISTS (
         SELECT 1 FROM @extschema@.contact_attempt ca
          WHERE ca.practice_id = o.practice_id AND ca.patient_id = o.patient_id
            AND ca.channel = o.channel AND ca.outcome = 'replied'
            AND ca.at >= COALESCE(o.sent_at, o.send_after)
            AND ca.at < COALESCE(o.sent_at, o.send_after) + interval '7 days')) AS replied,
       count(*) FILTER (WHERE o.status IN ('sent', 'delivered') AND EXISTS (
         SELECT 1 FROM @extschema@.ledger l
          WHERE l.practice_id = o.practice_id AND l.patient_id = o.patient_id AND l.kind = 'payment'
            AND l.posted_at >= COALESCE(o.sent_at, o.send_after)
            AND l.posted_at < COALESCE(o.sent_at, o.send_after) + interval '7 days')) AS paid_7d
  FROM @extschema@.outbox o
 WHERE o.status IN ('sent', 'delivered', 'failed', 'dead')
   AND o.channel NOT IN ('webhook', 'charge')
 GROUP BY o.practice_id, o.channel, COALESCE(o.step, '');

------------------------------------------------------------------------
-- staff_queue: open tasks by queue, kind and age (days since created, in
-- the practice's local today). Queues, first match wins:
-- returns_rejections (address_check, delivery_failed, payment_failed);
-- new_balances (the patient's balance came due under 30 days ago);
-- plans_followups (due before the end of this local week); later.
------------------------------------------------------------------------
CREATE VIEW @extschema@.staff_queue AS
SELECT q.practice_id, q.queue, q.kind, q.age,
       count(*) AS tasks,
       count(*) FILTER (WHERE q.overdue) AS overdue,
       min(q.created_at) AS oldest_created_at
  FROM (
    SELECT t.practice_id, t.kind, t.created_at, t.due_at < now() AS overdue,
           CASE WHEN t.kind IN ('address_check', 'delivery_failed', 'payment_failed') THEN 'returns_rejections'
                WHEN a.balance > 0 AND a.due_since > today.d - 30 THEN 'new_balances'
                WHEN t.due_at < ((date_trunc('week', today.d::timestamp) + interval '7 days') AT TIME ZONE p.timezone)
                  THEN 'plans_followups'
                ELSE 'later' END AS queue,
           CASE WHEN today.d - (t.created_at AT TIME ZONE p.timezone)::date <= 2 THEN '0-2'
                WHEN today.d - (t.created_at AT TIME ZONE p.timezone)::date <= 7 THEN '3-7'
                WHEN today.d - (t.created_at AT TIME ZONE p.timezone)::date <= 30 THEN '8-30'
                ELSE '31+' END AS age
      FROM @extschema@.task t
      JOIN @extschema@.practice p ON p.practice_id = t.practice_id
      CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE p.timezone)::date AS d) today
      LEFT JOIN @extschema@.account a ON a.practice_id = t.practice_id AND a.patient_id = t.patient_id
     WHERE t.status = 'open'
  ) q
 GROUP BY q.practice_id, q.queue, q.kind, q.age;

-- Analysts read the KPI views only (no names, phones or e-mails in them);
-- billing staff also work from the queue.
GRANT SELECT ON @extschema@.kpi_scorecard, @extschema@.kpi_recovery_by_segment, @extschema@.ar_aging,
  @extschema@.kpi_channel_effectiveness, @extschema@.staff_queue TO collect_analyst;
GRANT SELECT ON @extschema@.staff_queue, @extschema@.ar_aging TO collect_staff;
------------------------------------------------------------------------
-- X12 835 remittance import (src/x12_835.c, src/x12_835_parse.c)
------------------------------------------------------------------------
-- Posts the patient responsibility of an 835 file to the ledger: one row
-- per claim (charge, or adjustment for reversals), patients matched by
-- CLP01 and created from NM1*QC when unknown. Idempotent by
-- 835:<TRN02>:<CLP07>:<occurrence>. A malformed file raises 22P02 naming
-- the segment and posts nothing. posted_at NULL: the remittance date
-- (DTM*405, else BPR16) at noon in the practice's time zone. Returns one
-- row per payment (ST), claim, PLB adjustment and file-level warning.
CREATE FUNCTION @extschema@.import_835(practice_id text, contents text, posted_at timestamptz DEFAULT NULL)
  RETURNS TABLE(segment int, record text, patient_id text, payer_claim_id text, claim_status text,
                billed numeric, insurance_paid numeric, patient_responsibility numeric,
                posted text, external_id text, note text)
  AS 'MODULE_PATHNAME', 'import_835' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.import_835(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.import_835(text, text, timestamptz) TO collect_writer;
------------------------------------------------------------------------
-- The HTML report (src/report.c)
------------------------------------------------------------------------
-- One self-contained HTML page (inline SVG, no scripts or external
-- resources): headline figures, A/R aging, weekly dollars collected,
-- collection rate by segment, the open staff queue and the next tasks.
-- Reads practice, account, ledger and task under the caller's rights
-- (row-level security applies); as_of ends every time window.
CREATE FUNCTION @extschema@.report_html(practice_id text, as_of timestamptz DEFAULT now())
  RETURNS text
  AS 'MODULE_PATHNAME', 'report_html' LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION @extschema@.report_html(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.report_html(text, timestamptz) TO collect_staff;
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

-- The worker's counters from shared memory (since the server started).
CREATE FUNCTION @extschema@.worker_status_row(
    OUT state text, OUT pid int, OUT started_at timestamptz, OUT last_wake timestamptz,
    OUT last_batch timestamptz, OUT in_flight int, OUT batches bigint, OUT sent bigint,
    OUT retried bigint, OUT failed bigint, OUT dead bigint, OUT cancelled bigint, OUT errors bigint)
  RETURNS record LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'worker_status';

-- One row: what the outbox worker is doing, plus the queue as it stands.
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
------------------------------------------------------------------------
-- Scheduling with pg_cron. pg_cron lives in one database per cluster
-- (cron.database_name). Installed there (CREATE EXTENSION pg_cron first,
-- or CASCADE from a dependent extension), collect schedules its own jobs.
-- In any other database pg_cron is optional: the DBA runs the command from
-- collect.cron_schedule_command() in the cron database, which schedules
-- the same jobs with cron.schedule_in_database. (A NOTICE would not reach
-- the DBA: CREATE EXTENSION hides notices of install scripts, and a
-- WARNING would alarm every install that schedules this way on purpose.)
------------------------------------------------------------------------
-- The jobs collect wants: name suffix, schedule, command.
CREATE FUNCTION @extschema@.cron_jobs(OUT job text, OUT schedule text, OUT command text)
  RETURNS SETOF record LANGUAGE sql IMMUTABLE
  AS $$ VALUES ('tick', '* * * * *', 'SELECT collect.tick()'),
               ('train', '30 3 * * *', 'SELECT collect.train_all()') $$;

-- SQL to run in the cron database to schedule collect's jobs for this one.
CREATE FUNCTION @extschema@.cron_schedule_command() RETURNS text
  LANGUAGE sql STABLE
  AS $$ SELECT string_agg(format('SELECT cron.schedule_in_database(%L, %L, %L, %L);',
                                 'collect-' || j.job || '-' || current_database(), j.schedule, j.command,
                                 current_database()), E'\n')
          FROM @extschema@.cron_jobs() j $$;

DO $cron$
DECLARE j record;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
    FOR j IN SELECT * FROM @extschema@.cron_jobs() LOOP
      PERFORM cron.schedule('collect-' || j.job || '-' || current_database(), j.schedule, j.command);
    END LOOP;
  END IF;
END
$cron$;
------------------------------------------------------------------------
-- Security (issue 8): practice isolation with row-level security on every
-- table, the grants of DESIGN.md ("Users and how they touch it"), the
-- append-only audit trail, and the dump marks that let pg_dump keep all
-- collect data. This fragment runs after every other one, so it covers
-- every table and view of the schema by looking them up in the catalog;
-- test security_rls checks that nothing escaped (docs/security.md).
------------------------------------------------------------------------

-- The DBA may map a role to a practice before the PM system creates that
-- practice (the writer can only insert practices it is mapped to), so the
-- mapping does not reference collect.practice.
ALTER TABLE @extschema@.staff_practice DROP CONSTRAINT IF EXISTS staff_practice_practice_id_fkey;

-- Tables without practice_id: reference data replicated to every node on
-- Citus, readable by every collect role, written only by the extension
-- owner. Any other table must carry practice_id first in its primary key.
CREATE FUNCTION @extschema@.reference_tables() RETURNS SETOF regclass
  LANGUAGE sql IMMUTABLE
  AS $$ VALUES ('@extschema@.policy_default'::regclass), ('@extschema@.message_template'::regclass) $$;

-- Tie a role (a login or a group role) to a practice: its members then see
-- and write only the rows of the practices they are mapped to. DBA only.
CREATE FUNCTION @extschema@.grant_practice(role name, practice_id text) RETURNS void
  LANGUAGE sql
  AS $$ INSERT INTO @extschema@.staff_practice (role_name, practice_id)
        SELECT r.rolname, grant_practice.practice_id
          FROM pg_catalog.pg_roles r WHERE r.oid = grant_practice.role::text::regrole
        ON CONFLICT DO NOTHING $$;
REVOKE ALL ON FUNCTION @extschema@.grant_practice(name, text) FROM PUBLIC;

-- Undo grant_practice. DBA only.
CREATE FUNCTION @extschema@.revoke_practice(role name, practice_id text) RETURNS void
  LANGUAGE sql
  AS $$ DELETE FROM @extschema@.staff_practice s
         WHERE s.role_name = revoke_practice.role AND s.practice_id = revoke_practice.practice_id $$;
REVOKE ALL ON FUNCTION @extschema@.revoke_practice(name, text) FROM PUBLIC;

-- ERROR 42501 unless the caller (outside any SECURITY DEFINER function)
-- may act for the practice: SECURITY DEFINER functions call this (or
-- practice_access_check() in C) before they touch a practice's rows.
CREATE FUNCTION @extschema@.check_practice_access(practice_id text) RETURNS void
  AS 'MODULE_PATHNAME', 'collect_check_practice_access' LANGUAGE C STABLE;

------------------------------------------------------------------------
-- The audit trail is append-only; write_offs are audited by the ledger.
------------------------------------------------------------------------
-- UPDATE, DELETE and TRUNCATE of audit_log are refused.
CREATE FUNCTION @extschema@.audit_refuse_change() RETURNS trigger
  AS 'MODULE_PATHNAME', 'audit_refuse_change' LANGUAGE C;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON @extschema@.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON @extschema@.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_refuse_change();

-- One audit row per write_off ledger row, with the posting role as actor;
-- a statement without write_offs costs one scan of its new rows.
CREATE FUNCTION @extschema@.audit_ledger_write_off() RETURNS trigger
  AS 'MODULE_PATHNAME', 'audit_ledger_write_off' LANGUAGE C
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER ledger_write_off_audit AFTER INSERT ON @extschema@.ledger
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_ledger_write_off();

------------------------------------------------------------------------
-- Provider credentials never reach stored error text: last_error of the
-- outbox is scrubbed against the practice's provider
-- secrets (and any echoed Basic/Bearer credential) before they are stored,
-- so neither they nor the contact_attempt/task/audit rows copied from them
-- can hold a secret.
------------------------------------------------------------------------
CREATE FUNCTION @extschema@.outbox_redact_secrets() RETURNS trigger
  AS 'MODULE_PATHNAME', 'outbox_redact_secrets' LANGUAGE C
  SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER outbox_redact_secrets BEFORE INSERT OR UPDATE OF last_error ON @extschema@.outbox
  FOR EACH ROW WHEN (NEW.last_error IS NOT NULL)
  EXECUTE FUNCTION @extschema@.outbox_redact_secrets();

------------------------------------------------------------------------
-- Row-level security on every table of the schema.
--   practice tables: writer and staff see and write the rows of the
--     practices their roles are mapped to; the worker sees all.
--   reference tables: everyone reads.
--   staff_practice: each role sees its own mappings.
-- Grants below decide which of those rows a role may actually touch.
------------------------------------------------------------------------
DO $rls$
DECLARE t record;
BEGIN
  FOR t IN SELECT c.oid::regclass AS tab, c.relname,
                  EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                            AND a.attname = 'practice_id' AND NOT a.attisdropped) AS has_practice
             FROM pg_class c
            WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind IN ('r', 'p')
  LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.tab);
    IF t.relname = 'staff_practice' THEN
      EXECUTE format('CREATE POLICY own_mappings ON %s FOR SELECT USING (role_name IN '
                     '(SELECT r.rolname FROM pg_catalog.pg_roles r WHERE pg_catalog.pg_has_role(r.oid, ''MEMBER'')))', t.tab);
    ELSIF t.tab IN (SELECT @extschema@.reference_tables()) THEN
      EXECUTE format('CREATE POLICY reference_read ON %s FOR SELECT USING (true)', t.tab);
    ELSIF t.has_practice THEN
      EXECUTE format('CREATE POLICY own_practice ON %s TO collect_writer, collect_staff'
                     ' USING (practice_id IN (SELECT sp.practice_id FROM @extschema@.staff_practice sp))'
                     ' WITH CHECK (practice_id IN (SELECT sp.practice_id FROM @extschema@.staff_practice sp))', t.tab);
      EXECUTE format('CREATE POLICY worker_all ON %s TO collect_worker USING (true)', t.tab);
    END IF;
    -- a table in neither class gets no policy: only its owner and
    -- superusers see it, and test security_rls names it
  END LOOP;
END
$rls$;

------------------------------------------------------------------------
-- Grants. Nothing is granted to PUBLIC; each role gets exactly its part.
------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA @extschema@ FROM PUBLIC;

-- Reference tables and each role's own practice mappings.
GRANT SELECT ON @extschema@.policy_default, @extschema@.message_template, @extschema@.staff_practice
  TO collect_writer, collect_staff, collect_worker;

-- The PM system: inserts practices, patients and ledger rows (and reads
-- them back, e.g. INSERT ... RETURNING), all of its own practices only.
GRANT SELECT, INSERT ON @extschema@.practice, @extschema@.patient, @extschema@.ledger TO collect_writer;

-- Billing staff: reads its practice's work, closes tasks. Approvals go
-- through SECURITY DEFINER functions (granted below).
DO $staff$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['practice', 'patient', 'ledger', 'account', 'event', 'outbox', 'task',
                           'contact_attempt', 'plan', 'installment', 'payment_method',
                           'channel_opt_out', 'audit_log', 'settlement', 'hardship'] LOOP
    IF to_regclass('@extschema@.' || t) IS NOT NULL THEN
      EXECUTE format('GRANT SELECT ON @extschema@.%I TO collect_staff', t);
    END IF;
  END LOOP;
END
$staff$;
GRANT UPDATE (status, closed_at, closed_by) ON @extschema@.task TO collect_staff;
-- provider settings without the secret
GRANT SELECT (practice_id, channel, kind, base_url, account, sender, settings) ON @extschema@.provider TO collect_staff;

-- The worker: drains the outbox, reads provider settings including secrets.
GRANT SELECT, UPDATE ON @extschema@.outbox TO collect_worker;
GRANT SELECT ON @extschema@.provider TO collect_worker;

------------------------------------------------------------------------
-- Views. Analyst views (named kpi_*, or granted to collect_analyst by
-- their module) are cross-practice aggregates: they run with the owner's
-- rights, only the analyst may read them, and they must not expose names,
-- phones, e-mails, message text or secrets (test security_rls checks
-- columns). A grant of such a view to staff, writer or worker is revoked:
-- it would show every practice's rows. Every other view runs with the
-- caller's rights (security_invoker), so the tables' row-level security
-- applies through it, and staff may read it.
------------------------------------------------------------------------
DO $views$
DECLARE v record;
BEGIN
  FOR v IN SELECT c.oid::regclass AS view, c.relname, c.relkind,
                  c.relname LIKE 'kpi\_%' OR has_table_privilege('collect_analyst', c.oid, 'SELECT') AS for_analyst
             FROM pg_class c
            WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind IN ('v', 'm')
  LOOP
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', v.view);
    IF v.for_analyst THEN
      EXECUTE format('REVOKE ALL ON %s FROM collect_writer, collect_staff, collect_worker', v.view);
      EXECUTE format('GRANT SELECT ON %s TO collect_analyst', v.view);
    ELSIF v.relkind = 'v' THEN
      EXECUTE format('ALTER VIEW %s SET (security_invoker = true)', v.view);
      EXECUTE format('GRANT SELECT ON %s TO collect_staff', v.view);
    END IF;
    -- a materialized view is filled with the owner's rights, so RLS cannot
    -- apply to it: unless it is an analyst view nobody is granted it
  END LOOP;
END
$views$;

------------------------------------------------------------------------
-- Entry points. The functions DESIGN.md gives to the writer and the staff
-- write tables those roles cannot touch, so they run with the owner's
-- rights, behind a practice check. Each C function named below is renamed
-- to <name>_unchecked (EXECUTE revoked from PUBLIC) and replaced by a SQL
-- function of the same signature, SECURITY DEFINER with a pinned
-- search_path, that first calls check_practice_access() on the practice
-- the call acts for (its practice_id argument, or the practice of the
-- plan/settlement it names) and then calls the original. The modules
-- keep writing plain C; the rule lives here, once.
------------------------------------------------------------------------
-- (function, roles allowed, SQL giving the practice from the arguments)
CREATE FUNCTION @extschema@.checked_entry_points(OUT fn text, OUT roles text[], OUT practice_expr text)
  RETURNS SETOF record LANGUAGE sql IMMUTABLE
  AS $$ VALUES
    ('record_event',         ARRAY['collect_writer', 'collect_staff'], '$1'),
    ('receive_reply',        ARRAY['collect_writer'], '$1'),
    ('create_plan',          ARRAY['collect_staff'], '$1'),
    ('approve_plan',         ARRAY['collect_staff'], '(SELECT p.practice_id FROM @extschema@.plan p WHERE p.plan_id = $1)'),
    ('cancel_plan',          ARRAY['collect_staff'], '(SELECT p.practice_id FROM @extschema@.plan p WHERE p.plan_id = $1)'),
    ('approve_settlement',   ARRAY['collect_staff'], '(SELECT s.practice_id FROM @extschema@.settlement s WHERE s.settlement_id = $1)'),
    ('record_charge_result', ARRAY['collect_worker'], '$1')
  $$;

DO $entry$
DECLARE e record; f record; r text; args text;
BEGIN
  FOR e IN SELECT * FROM @extschema@.checked_entry_points() LOOP
    FOR f IN SELECT p.oid, p.oid::regprocedure AS sig, p.pronargs, p.proretset, p.proisstrict,
                    pg_get_function_arguments(p.oid) AS arglist, pg_get_function_identity_arguments(p.oid) AS idargs,
                    pg_get_function_result(p.oid) AS result
               FROM pg_proc p
              WHERE p.pronamespace = '@extschema@'::regnamespace AND p.proname = e.fn AND p.prolang =
                    (SELECT oid FROM pg_language WHERE lanname = 'c') LOOP
      EXECUTE format('ALTER FUNCTION %s RENAME TO %I', f.sig, e.fn || '_unchecked');
      EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.oid::regprocedure);
      SELECT string_agg('$' || i, ', ') INTO args FROM generate_series(1, f.pronargs) i;
      EXECUTE format('CREATE FUNCTION @extschema@.%I(%s) RETURNS %s LANGUAGE sql %s VOLATILE'
                     ' SECURITY DEFINER SET search_path = pg_catalog, pg_temp'
                     ' AS %L',
                     e.fn, f.arglist, f.result, CASE WHEN f.proisstrict THEN 'STRICT' ELSE '' END,
                     format('SELECT @extschema@.check_practice_access(coalesce(%s, %L)); SELECT %s@extschema@.%I(%s)',
                            e.practice_expr, '', CASE WHEN f.proretset THEN '* FROM ' ELSE '' END,
                            e.fn || '_unchecked', args));
      EXECUTE format('COMMENT ON FUNCTION @extschema@.%I(%s) IS %L', e.fn, f.idargs,
                     'checks the caller''s practice (collect.check_practice_access), then runs ' || e.fn || '_unchecked');
    END LOOP;
  END LOOP;
END
$entry$;

------------------------------------------------------------------------
-- Functions. SECURITY DEFINER functions are not executable by PUBLIC;
-- each role gets the entry points above that name it.
------------------------------------------------------------------------
DO $funcs$
DECLARE f record; e record;
BEGIN
  FOR f IN SELECT p.oid::regprocedure AS fn, p.proname
             FROM pg_proc p
            WHERE p.pronamespace = '@extschema@'::regnamespace AND p.prosecdef AND p.prokind = 'f'
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.fn);
    FOR e IN SELECT * FROM @extschema@.checked_entry_points() x WHERE x.fn = f.proname LOOP
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', f.fn, array_to_string(e.roles, ', '));
    END LOOP;
  END LOOP;
END
$funcs$;

------------------------------------------------------------------------
-- Backups: pg_dump keeps the rows of every practice table (and the values
-- of their identity sequences). Reference tables are filled by this script
-- and are not dumped. Restore with pg_restore --disable-triggers (or
-- session_replication_role = replica) so that restoring the ledger does
-- not post every row to collect.account a second time (docs/security.md).
------------------------------------------------------------------------
DO $dump$
DECLARE t record;
BEGIN
  FOR t IN SELECT c.oid::regclass AS tab
             FROM pg_class c
            WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind IN ('r', 'p')
              AND c.oid NOT IN (SELECT @extschema@.reference_tables())
  LOOP
    PERFORM pg_catalog.pg_extension_config_dump(t.tab, '');
  END LOOP;
  FOR t IN SELECT s.oid::regclass AS seq
             FROM pg_class s JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
            WHERE s.relkind = 'S' AND s.relnamespace = '@extschema@'::regnamespace
              AND d.refobjid NOT IN (SELECT @extschema@.reference_tables())
  LOOP
    PERFORM pg_catalog.pg_extension_config_dump(t.seq, '');
  END LOOP;
END
$dump$;
