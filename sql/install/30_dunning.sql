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

