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
