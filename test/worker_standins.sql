-- test/worker_standins.sql: the worker tests' stand-ins for the other
-- modules' functions the worker calls (send_block_reason, record_charge_
-- result, receive_sms). The real ones, if installed, are set aside in the
-- test database so the worker tests do not depend on their rules (quiet
-- hours at the time the test runs, consents, balances). The stand-ins
-- record their calls in public.calls. Run right after CREATE EXTENSION, in
-- the same transaction, so the worker sees them together.
CREATE TABLE public.calls (fn text, args jsonb, at timestamptz DEFAULT clock_timestamp());
DO $$ DECLARE f regprocedure; BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'collect' AND p.proname IN ('send_block_reason', 'record_charge_result', 'receive_sms') LOOP
    BEGIN EXECUTE format('ALTER EXTENSION collect DROP FUNCTION %s', f); EXCEPTION WHEN others THEN NULL; END;
    EXECUTE format('DROP FUNCTION %s CASCADE', f);
  END LOOP; END $$;
-- blocks patient 'optout'; raises (division by zero) for patient 'poison'
CREATE FUNCTION collect.send_block_reason(practice_id text, patient_id text, channel text, at timestamptz,
    step_kind text DEFAULT 'collection')
  RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN patient_id = 'optout' THEN 'opted out of ' || channel
              WHEN patient_id = 'poison' THEN (1 / (length(patient_id) - 6))::text END $$;
CREATE FUNCTION collect.record_charge_result(practice_id text, message_id bigint, succeeded boolean,
    provider_ref text, failure text, at timestamptz DEFAULT now()) RETURNS void LANGUAGE sql AS $$
  INSERT INTO public.calls (fn, args) VALUES ('charge', jsonb_build_object('practice_id', practice_id,
    'message_id', message_id, 'succeeded', succeeded, 'ref', provider_ref, 'failure', failure)) $$;
CREATE FUNCTION collect.receive_sms(from_phone text, to_phone text, body text, at timestamptz)
  RETURNS text LANGUAGE sql AS $$
  INSERT INTO public.calls (fn, args) VALUES ('sms', jsonb_build_object('from', from_phone, 'to', to_phone,
    'body', body, 'at', at)) RETURNING 'stop' $$;
