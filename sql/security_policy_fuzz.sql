-- security_policy_fuzz: the practice policy validator (src/policy.c reads
-- Jsonb, so it is fuzzed through SQL rather than libFuzzer): 1500 random
-- policies from a seeded generator (known and unknown keys; numbers that
-- are huge, negative, fractional, exponent; strings, booleans, null,
-- nested arrays and objects; mutated cadences and installment tiers).
-- Each must be accepted or refused with SQLSTATE 22023, never another
-- error, and every accepted one must load (effective_policy).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;

CREATE FUNCTION pg_temp.rand_scalar() RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r float8 := random();
BEGIN
  RETURN CASE
    WHEN r < 0.10 THEN to_jsonb(floor(random() * 40)::int)
    WHEN r < 0.18 THEN to_jsonb(-floor(random() * 1000)::int)
    WHEN r < 0.26 THEN to_jsonb(round((random() * 2000)::numeric, (random() * 4)::int))
    WHEN r < 0.30 THEN '1e308'::jsonb
    WHEN r < 0.33 THEN '-0.000000000000000000001'::jsonb
    WHEN r < 0.36 THEN '123456789012345678901234567890'::jsonb
    WHEN r < 0.44 THEN to_jsonb((ARRAY['sms', 'email', 'letter', 'voice', 'call_task', 'fax', '', 'weekly', 'daily',
                                       'federal', 'MA', 'CA', 'https://pay.example.com/x', 'http://evil', 'first_text',
                                       'BAD-NAME', repeat('x', 300), E'\u00e9\t', '%s%n'])[1 + floor(random() * 19)::int])
    WHEN r < 0.52 THEN to_jsonb(random() < 0.5)
    WHEN r < 0.58 THEN 'null'::jsonb
    ELSE to_jsonb(floor(random() * 400)::int)
  END;
END $$;

CREATE FUNCTION pg_temp.rand_value(depth int) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r float8 := random(); v jsonb; i int;
BEGIN
  IF depth > 3 OR r < 0.55 THEN RETURN pg_temp.rand_scalar(); END IF;
  IF r < 0.75 THEN
    v := '[]';
    FOR i IN 1 .. floor(random() * 5)::int LOOP v := v || jsonb_build_array(pg_temp.rand_value(depth + 1)); END LOOP;
    RETURN v;
  END IF;
  v := '{}';
  FOR i IN 1 .. floor(random() * 4)::int LOOP
    v := v || jsonb_build_object((ARRAY['day', 'channel', 'template', 'under', 'count', 'x', ''])[1 + floor(random() * 7)::int],
                                 pg_temp.rand_value(depth + 1));
  END LOOP;
  RETURN v;
END $$;

-- a cadence or tier list close to a valid one, with one thing changed
CREATE FUNCTION pg_temp.near_valid(key text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE base jsonb := (SELECT value FROM collect.policy_default d WHERE d.key = near_valid.key);
        n int := jsonb_array_length(base); i int := floor(random() * n)::int;
        f text := (ARRAY['day', 'channel', 'template', 'under', 'count', 'extra'])[1 + floor(random() * 6)::int];
BEGIN
  IF random() < 0.3 THEN RETURN base - i; END IF;
  RETURN jsonb_set(base, ARRAY[i::text, f], pg_temp.rand_scalar(), true);
END $$;

-- the default value, a number nudged a little (often still in bounds)
CREATE FUNCTION pg_temp.near_default(key text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT CASE WHEN jsonb_typeof(value) = 'number' THEN to_jsonb(value::text::numeric + floor(random() * 7) - 2)
              ELSE value END
    FROM collect.policy_default d WHERE d.key = near_default.key $$;

CREATE TEMP TABLE fuzz_outcome (n int, sqlstate text, policy jsonb);
DO $$
DECLARE p jsonb; k text; st text; keys text[] := ARRAY(SELECT key FROM collect.policy_default ORDER BY key);
BEGIN
  PERFORM setseed(0.4242);
  FOR n IN 1 .. 1500 LOOP
    p := '{}';
    FOR j IN 1 .. 1 + floor(random() * 3)::int LOOP
      k := CASE WHEN random() < 0.9 THEN keys[1 + floor(random() * array_length(keys, 1))::int]
                ELSE (ARRAY['unknown_key', '', 'Cadence', 'cadence '])[1 + floor(random() * 4)::int] END;
      p := p || jsonb_build_object(k, CASE WHEN k IN ('cadence', 'plan_installments') AND random() < 0.6
                                           THEN pg_temp.near_valid(k)
                                           WHEN random() < 0.5 THEN pg_temp.near_default(k)
                                           ELSE pg_temp.rand_value(0) END);
    END LOOP;
    IF random() < 0.03 THEN p := pg_temp.rand_value(2); END IF;  -- not even an object
    BEGIN
      INSERT INTO collect.practice (practice_id, name, timezone, policy) VALUES ('F' || n, 'fuzz', 'UTC', p);
      PERFORM collect.effective_policy('F' || n);
      st := 'ok';
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
    END;
    INSERT INTO fuzz_outcome VALUES (n, st, p);
  END LOOP;
END $$;

-- every outcome is "accepted" or 22023; both happen often enough to mean something
SELECT count(*) AS policies, count(*) FILTER (WHERE sqlstate = 'ok') > 100 AS many_accepted,
       count(*) FILTER (WHERE sqlstate = '22023') > 300 AS many_refused
  FROM fuzz_outcome;
SELECT sqlstate AS unexpected_sqlstate, count(*), min(policy::text) AS example
  FROM fuzz_outcome WHERE sqlstate NOT IN ('ok', '22023') GROUP BY 1 ORDER BY 1;
-- accepted policies really are usable and were stored as given
SELECT count(*) AS accepted_but_not_stored
  FROM fuzz_outcome f LEFT JOIN collect.practice p ON p.practice_id = 'F' || f.n
 WHERE f.sqlstate = 'ok' AND p.policy IS DISTINCT FROM f.policy;

DROP EXTENSION collect CASCADE;
