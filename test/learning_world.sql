-- test/learning_world.sql: the learning loop through the real engine, for
-- test/t/replies_learning.sh. Two practices get the same synthetic patients
-- and the same luck; each simulated day runs collect.tick at 08:00, a
-- stand-in worker that marks queued messages sent at their send_after,
-- patients who open and pay according to a hidden truth, staff who log
-- the call tasks, and (practice simL only) the learning loop: opens go to
-- collect.learn_observe and collect.learn_update runs every evening.
-- Practice simF never learns, so its tick runs the fixed default cadence.
--
-- The truth depends on the account segment at the touch: fresh balances
-- pay best after a text, early_stall after a letter, high_value_engaged
-- after an e-mail, silent_aged after a staff call (20% per touch against
-- 4-7% for the other channels), times 1.5 at the patient's own hour, 1.2
-- an hour off, 0.8 otherwise (letters have no hour). Patient groups start
-- in those segments (a new balance; one 31 days past due; $400+ with a
-- reply; one 100 days past due), 80% of a group share its true hour (9,
-- 12, 17, 20), the rest have their own. 85% consent to texts, 75% to e-mail.
-- Variables: seed, per_group. Prints RESULT/METRIC lines; the calling
-- script checks the thresholds.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- a uniform number in [0, 1) from a key: the same key, the same number
CREATE FUNCTION pg_temp.u(k text) RETURNS float8 LANGUAGE sql IMMUTABLE
  AS $$ SELECT ('x' || substr(md5(k), 1, 12))::bit(48)::bigint / 281474976710656.0 $$;

CREATE TEMP TABLE sim_cfg AS
SELECT :'seed'::text AS seed, 60 AS days, 'America/Chicago'::text AS tz, date '2026-04-01' AS d0;

CREATE FUNCTION pg_temp.at(d int, hour int) RETURNS timestamptz LANGUAGE sql STABLE
  AS $$ SELECT ((c.d0 + d) + make_interval(hours => hour)) AT TIME ZONE c.tz FROM sim_cfg c $$;

CREATE TEMP TABLE sim_patient AS
SELECT i, 'w' || i AS patient_id, i % 4 AS g,
       (ARRAY['fresh', 'early_stall', 'high_value_engaged', 'silent_aged'])[i % 4 + 1] AS home_segment,
       CASE WHEN pg_temp.u(c.seed || 'hour' || i) < 0.8 THEN (ARRAY[9, 12, 17, 20])[i % 4 + 1]
            ELSE 8 + floor(pg_temp.u(c.seed || 'own' || i) * 13)::int END AS true_hour,
       pg_temp.u(c.seed || 'sms' || i) < 0.85 AS sms_ok,
       pg_temp.u(c.seed || 'email' || i) < 0.75 AS email_ok,
       floor(pg_temp.u(c.seed || 'arrive' || i) * 20)::int AS arrival,
       CASE WHEN i % 4 = 2 THEN 400 + round((pg_temp.u(c.seed || 'amt' || i) * 600)::numeric, 2)
            ELSE 60 + round((pg_temp.u(c.seed || 'amt' || i) * 230)::numeric, 2) END AS amount
  FROM generate_series(1, 4 * :per_group) i, sim_cfg c;

-- paid within 7 days of a touch, per touch: the hidden truth
CREATE TEMP TABLE sim_truth (segment text, channel text, p float8);
INSERT INTO sim_truth
SELECT s.segment, ch.channel,
       CASE WHEN (s.segment, ch.channel) IN (('fresh', 'sms'), ('early_stall', 'letter'),
                                             ('high_value_engaged', 'email'), ('silent_aged', 'call_task'))
            THEN 0.20 ELSE 0.03 + 0.01 * ch.k END
  FROM unnest(ARRAY['fresh', 'early_stall', 'high_value_engaged', 'silent_aged', 'documentation_doubt']) s(segment),
       unnest(ARRAY['sms', 'email', 'letter', 'call_task']) WITH ORDINALITY ch(channel, k);

-- the best channel a patient's consents allow, for a segment
CREATE FUNCTION pg_temp.true_channel(pid text, seg text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT t.channel FROM sim_truth t JOIN sim_patient p ON p.patient_id = pid
   WHERE t.segment = seg AND (t.channel <> 'sms' OR p.sms_ok) AND (t.channel <> 'email' OR p.email_ok)
   ORDER BY t.p DESC, t.channel LIMIT 1 $$;

-- the hour a patient opens or pays at: 80% their own, 15% an hour off, 5% any
CREATE FUNCTION pg_temp.response_hour(pid text, salt text) RETURNS int LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN v < 0.8 THEN p.true_hour
              WHEN v < 0.95 THEN p.true_hour + CASE WHEN pg_temp.u(salt || 'side') < 0.5 THEN -1 ELSE 1 END
              ELSE 8 + floor(pg_temp.u(salt || 'any') * 13)::int END
    FROM sim_patient p, sim_cfg c, LATERAL (SELECT pg_temp.u(c.seed || salt || pid) AS v) x
   WHERE p.patient_id = pid $$;

INSERT INTO collect.practice (practice_id, name, timezone) VALUES
  ('simL', 'Learning Clinic', 'America/Chicago'), ('simF', 'Fixed Clinic', 'America/Chicago');
INSERT INTO collect.patient (practice_id, patient_id, first_name, phone, email, sms_consent, email_consent)
SELECT pr, patient_id, 'Pat', '+1312555' || lpad(i::text, 4, '0'), patient_id || '@example.com', sms_ok, email_ok
  FROM sim_patient, unnest(ARRAY['simL', 'simF']) pr;

CREATE TEMP TABLE sim_touch (practice_id text, patient_id text, day int, channel text, segment text,
                             hour int, paid bool);
CREATE TEMP TABLE sim_pay (practice_id text, patient_id text, day int, hour int);

CREATE FUNCTION pg_temp.sim_day(d int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  c sim_cfg;
  r record;
  pays bool;
BEGIN
  SELECT * INTO c FROM sim_cfg;
  -- engaged patients paid an earlier bill and answered a message then
  FOR r IN SELECT pr, s.i, s.patient_id FROM sim_patient s, unnest(ARRAY['simL', 'simF']) pr
            WHERE s.arrival = d AND s.g = 2 LOOP
    INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at) VALUES
      (r.pr, r.patient_id, 'old' || r.i, 'charge', 90, pg_temp.at(d - 90, 7)),
      (r.pr, r.patient_id, 'oldp' || r.i, 'payment', 90, pg_temp.at(d - 70, pg_temp.response_hour(r.patient_id, 'oldpay')));
    PERFORM collect.receive_reply(r.pr, r.patient_id, 'sms', 'Thanks, got it',
                                  pg_temp.at(d - 60, pg_temp.response_hour(r.patient_id, 'reply')));
  END LOOP;
  -- balances arrive: new ones, and older ones loaded late
  INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
  SELECT pr, s.patient_id, 'c' || s.i, 'charge', s.amount,
         pg_temp.at(d, 7) - make_interval(days => (ARRAY[0, 31, 5, 100])[s.g + 1])
    FROM sim_patient s, unnest(ARRAY['simL', 'simF']) pr WHERE s.arrival = d;

  PERFORM collect.tick(pg_temp.at(d, 8));
  -- simL has seen 0-2 answers of each arriving patient to earlier bills
  PERFORM collect.learn_observe('simL', s.patient_id, 'open', pg_temp.at(d - 30 * k, pg_temp.response_hour(s.patient_id, 'past' || k)))
     FROM sim_patient s, generate_series(1, 2) k
    WHERE s.arrival = d AND k <= floor(pg_temp.u(c.seed || 'history' || s.patient_id) * 3);

  -- the worker: today's queued messages go out at their send_after
  FOR r IN UPDATE collect.outbox o SET status = 'sent', sent_at = o.send_after
            WHERE o.practice_id IN ('simL', 'simF') AND o.status = 'queued' AND o.send_after < pg_temp.at(d + 1, 0)
           RETURNING o.practice_id, o.patient_id, o.channel, o.step, o.send_after LOOP
    CONTINUE WHEN r.step NOT LIKE 'cadence:%';
    PERFORM pg_temp.touch(r.practice_id, r.patient_id, d, r.channel,
                          extract(hour FROM r.send_after AT TIME ZONE c.tz)::int);
    IF r.practice_id = 'simL' AND r.channel IN ('sms', 'email')
       AND pg_temp.u(c.seed || 'open' || r.patient_id || d) < 0.5 THEN
      PERFORM collect.learn_observe('simL', r.patient_id, 'open',
                                    pg_temp.at(d, pg_temp.response_hour(r.patient_id, 'open' || d)));
    END IF;
  END LOOP;

  -- staff make today's calls
  FOR r IN SELECT t.task_id, t.practice_id, t.patient_id, t.due_at FROM collect.task t
            WHERE t.practice_id IN ('simL', 'simF') AND t.kind = 'call' AND t.status = 'open'
              AND t.due_at < pg_temp.at(d + 1, 0) ORDER BY t.task_id LOOP
    pays := pg_temp.touch(r.practice_id, r.patient_id, d, 'call_task',
                          extract(hour FROM r.due_at AT TIME ZONE c.tz)::int);
    PERFORM collect.record_event(r.practice_id, r.patient_id,
                                 CASE WHEN pays THEN 'call_completed' ELSE 'call_no_answer' END, '{}', r.due_at);
    UPDATE collect.task SET status = 'done', closed_at = r.due_at WHERE task_id = r.task_id AND status = 'open';
  END LOOP;

  -- payments fall due: the whole balance, at the patient's hour
  FOR r IN SELECT y.practice_id, y.patient_id, y.hour, a.balance FROM sim_pay y
             JOIN collect.account a USING (practice_id, patient_id)
            WHERE y.day = d AND a.balance > 0 LOOP
    INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
    VALUES (r.practice_id, r.patient_id, 'p' || r.patient_id, 'payment', r.balance, pg_temp.at(d, r.hour));
  END LOOP;

  -- the nightly learning run, simL only
  PERFORM collect.learn_update('simL', pg_temp.at(d, 23));
END $$;

-- one touch: does it make the patient pay? The same draw in both practices.
CREATE FUNCTION pg_temp.touch(pr text, pid text, d int, ch text, hour int) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  c sim_cfg;
  seg text;
  p float8;
  th int;
  pays bool;
BEGIN
  SELECT * INTO c FROM sim_cfg;
  SELECT a.segment INTO seg FROM collect.account a WHERE a.practice_id = pr AND a.patient_id = pid;
  SELECT s.true_hour INTO th FROM sim_patient s WHERE s.patient_id = pid;
  SELECT t.p INTO p FROM sim_truth t WHERE t.segment = seg AND t.channel = ch;
  p := coalesce(p, 0.05) * CASE WHEN ch = 'letter' THEN 1.0 WHEN hour = th THEN 1.5
                                WHEN abs(hour - th) = 1 THEN 1.2 ELSE 0.8 END;
  pays := NOT EXISTS (SELECT 1 FROM sim_pay y WHERE y.practice_id = pr AND y.patient_id = pid)
          AND pg_temp.u(c.seed || 'pay' || pid || d) < p;
  INSERT INTO sim_touch VALUES (pr, pid, d, ch, seg, hour, pays);
  IF pays THEN
    INSERT INTO sim_pay VALUES (pr, pid, d + floor(pg_temp.u(c.seed || 'delay' || pid || d) * 7)::int,
                                pg_temp.response_hour(pid, 'pay' || d));
  END IF;
  RETURN pays;
END $$;

-- one transaction per day, as the nightly jobs would run
SELECT format('SELECT pg_temp.sim_day(%s)', d) FROM generate_series(0, (SELECT days - 1 FROM sim_cfg)) d \gexec

-- ---- figures ----
-- learned hour = the patient's true hour
SELECT format('METRIC replies_sim_hour_match %s', round(avg((collect.best_hour('simL', patient_id) IS NOT DISTINCT FROM true_hour)::int), 3))
  FROM sim_patient;
-- the channel the bandit now prefers (posterior mean) for the segment of the
-- patient's last touch, among their consented channels = the true best there
WITH last AS (
  SELECT DISTINCT ON (s.patient_id) s.patient_id, coalesce(t.segment, s.home_segment) AS segment
    FROM sim_patient s LEFT JOIN sim_touch t ON t.practice_id = 'simL' AND t.patient_id = s.patient_id
   ORDER BY s.patient_id, t.day DESC NULLS LAST),
pick AS (
  SELECT l.patient_id, l.segment,
         (SELECT m.channel FROM collect.channel_arm m JOIN sim_patient p ON p.patient_id = l.patient_id
           WHERE m.practice_id = 'simL' AND m.segment = l.segment
             AND (m.channel <> 'sms' OR p.sms_ok) AND (m.channel <> 'email' OR p.email_ok)
           ORDER BY (1 + m.successes) / (2 + m.successes + m.failures) DESC, m.channel LIMIT 1) AS chosen
    FROM last l)
SELECT format('METRIC replies_sim_channel_match %s', round(avg((chosen IS NOT DISTINCT FROM pg_temp.true_channel(patient_id, segment))::int), 3))
  FROM pick;
-- what the engine actually sent in the last two weeks (Thompson draws included)
SELECT format('METRIC replies_sim_last14_touches_%s on true best channel %s, at the true hour %s (%s touches)', practice_id,
              round(avg((channel = pg_temp.true_channel(patient_id, segment))::int), 3),
              round(avg((hour = (SELECT true_hour FROM sim_patient s WHERE s.patient_id = t.patient_id))::int)
                    FILTER (WHERE channel <> 'letter'), 3), count(*))
  FROM sim_touch t WHERE day >= 46 GROUP BY practice_id ORDER BY practice_id;
SELECT format('METRIC replies_sim_collected_%s %s (%s of %s patients paid, %s touches)', l.practice_id,
              sum(l.amount), count(DISTINCT l.patient_id), (SELECT count(*) FROM sim_patient),
              (SELECT count(*) FROM sim_touch t WHERE t.practice_id = l.practice_id))
  FROM collect.ledger l WHERE l.practice_id IN ('simL', 'simF') AND l.kind = 'payment'
 GROUP BY l.practice_id ORDER BY l.practice_id;
SELECT format('METRIC replies_sim_arms %s %s: %s', segment, channel, successes || '/' || (successes + failures))
  FROM collect.channel_arm WHERE practice_id = 'simL' ORDER BY segment, channel;
