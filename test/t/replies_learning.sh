#!/usr/bin/env bash
# replies_learning.sh: the learning loop.
#  1. test/learning_world.sql: synthetic patients whose true best hour and
#     channel differ by segment, run for 60 simulated days through the real
#     engine (collect.tick, the cadence, the outbox, learn_observe and the
#     nightly learn_update) in a learning practice and, with the same
#     patients and the same luck, in a practice that never learns (the fixed
#     default cadence). For seeds 42, 1 and 2: the learned hour and the
#     bandit's channel must match each patient's true best for >= 80% of
#     them, and the learning practice must collect more than the fixed one.
#     collect.learn_simulate (the same arithmetic without the engine) is
#     reported next to it.
#  2. collect.train on a simulated history (features driven by a latent
#     willingness to pay): prints the AUC on the held-out fifth next to
#     the AUC of the true probability (the ceiling); fails below 0.65. Checks account.risk_score and the fairness report.
source "$(dirname "$0")/../lib.sh"
DB=replies_learn_$$
createdb "$DB"
trap 'dropdb --if-exists "$DB"' EXIT
psql_q "$DB" "CREATE EXTENSION collect CASCADE" >/dev/null 2>&1 || psql_q "$DB" "CREATE EXTENSION collect CASCADE"
fail=0

# ---- 1. simulation through tick and the cadence ----
for seed in 42 1 2; do
  W=replies_world_$$_$seed
  createdb "$W"
  psql_q "$W" "CREATE EXTENSION collect CASCADE" >/dev/null 2>&1
  out=$(psql -X -qAt -v ON_ERROR_STOP=1 -v seed=$seed -v per_group=60 -d "$W" -f "$ROOT/test/learning_world.sql" | grep '^METRIC') \
    || { echo "learning_world.sql failed for seed $seed"; fail=1; }
  dropdb "$W"
  echo "$out" | sed "s/^METRIC replies_sim_/METRIC replies_world_seed${seed}_/"
  metric() { echo "$out" | sed -n "s/^METRIC replies_sim_$1 \([0-9.]*\).*/\1/p"; }
  h=$(metric hour_match); c=$(metric channel_match); l=$(metric collected_simL); f=$(metric collected_simF)
  echo "RESULT replies_world seed $seed: hour match $h, channel match $c, collected learned \$$l vs fixed cadence \$$f"
  awk -v h="$h" -v c="$c" -v l="$l" -v f="$f" 'BEGIN { exit !(h >= 0.8 && c >= 0.8 && l > f) }' \
    || { echo "world seed $seed below target: hour $h channel $c learned $l fixed $f"; fail=1; }
done

# ---- the same arithmetic without the engine ----
read -r hour chan learned fixed <<<"$(psql_q "$DB" "SELECT r->>'hour_match', r->>'channel_match', r->>'collected_learned', r->>'collected_fixed'
                                                FROM collect.learn_simulate(42, 800, 60) r" | tr '|' ' ')"
echo "METRIC replies_sim_hour_match $hour"
echo "METRIC replies_sim_channel_match $chan"
echo "METRIC replies_sim_collected_learned $learned"
echo "METRIC replies_sim_collected_fixed $fixed"
psql -X -qAt -d "$DB" -c "SELECT format('METRIC replies_sim_seeds_1_5 hour_match min %s mean %s, channel_match min %s mean %s, learned/fixed collected min %s mean %s',
    round(min((r->>'hour_match')::numeric), 3), round(avg((r->>'hour_match')::numeric), 3),
    round(min((r->>'channel_match')::numeric), 3), round(avg((r->>'channel_match')::numeric), 3),
    round(min((r->>'collected_learned')::numeric / (r->>'collected_fixed')::numeric), 2),
    round(avg((r->>'collected_learned')::numeric / (r->>'collected_fixed')::numeric), 2))
  FROM generate_series(1, 5) s, collect.learn_simulate(s, 800, 60) r"
awk -v h="$hour" -v c="$chan" -v l="$learned" -v f="$fixed" 'BEGIN { exit !(h >= 0.8 && c >= 0.8 && l > f) }' \
  || { echo "learn_simulate below target: hour $hour channel $chan learned $learned fixed $fixed"; fail=1; }
# the same seed gives the same answer
same=$(psql_q "$DB" "SELECT collect.learn_simulate(42, 800, 60) = collect.learn_simulate(42, 800, 60)")
[ "$same" = t ] || { echo "simulation is not reproducible"; fail=1; }

# ---- 2. propensity model on simulated history ----
psql -X -v ON_ERROR_STOP=1 -q -d "$DB" <<'SQL'
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('sim', 'Sim Clinic', 'America/Chicago');
SELECT setseed(0.42);
CREATE TABLE simp AS
SELECT i, 'sp' || i AS patient_id,
       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z,
       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS n2,
       random() AS u1, random() AS u2, random() AS u3, random() AS u4, random() AS u5, random() AS u6, random() AS u7
  FROM generate_series(1, 1500) i;
CREATE TABLE cfg AS SELECT timestamptz '2026-06-30 17:00Z' AS as_of, timestamptz '2026-05-31 17:00Z' AS cut;
CREATE FUNCTION pg_temp.sig(x float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$ SELECT 1 / (1 + exp(-x)) $$;
INSERT INTO collect.patient (practice_id, patient_id, language, birth_date)
SELECT 'sim', patient_id, CASE WHEN i % 3 = 0 THEN 'es' ELSE 'en' END, date '1940-01-01' + (i * 37 % 22000) FROM simp;
-- earlier balances, paid sooner by the willing
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT 'sim', s.patient_id, 'h' || s.i || '_' || j, 'charge', 80, c.cut - (400 - 90 * j) * interval '1 day'
  FROM simp s, cfg c, generate_series(1, 3) j WHERE j <= floor(4 * s.u1 * pg_temp.sig(s.z + 0.5));
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT 'sim', s.patient_id, 'hp' || s.i || '_' || j, 'payment', 80,
       c.cut - (400 - 90 * j) * interval '1 day' + (5 + 80 * (1 - pg_temp.sig(s.z)) * s.u2) * interval '1 day'
  FROM simp s, cfg c, generate_series(1, 3) j WHERE j <= floor(4 * s.u1 * pg_temp.sig(s.z + 0.5));
-- bounced payments among the unwilling
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT 'sim', s.patient_id, 'r' || s.i, 'reversal', 80, c.cut - interval '30 days'
  FROM simp s, cfg c WHERE floor(4 * s.u1 * pg_temp.sig(s.z + 0.5)) >= 1 AND s.u3 < pg_temp.sig(-s.z - 1.5);
-- the current balance
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT 'sim', s.patient_id, 'c' || s.i, 'charge', round(exp(4.8 + 0.8 * s.n2)::numeric, 2),
       c.cut - (5 + 115 * s.u6) * interval '1 day'
  FROM simp s, cfg c;
-- replies from the engaged, plans completed or defaulted
INSERT INTO collect.reply (practice_id, patient_id, channel, body, at, intent, sentiment)
SELECT 'sim', s.patient_id, 'sms', 'ok', c.cut - interval '40 days', 'accept', 0
  FROM simp s, cfg c WHERE s.u4 < pg_temp.sig(s.z);
INSERT INTO collect.plan (practice_id, patient_id, total, installments, status, created_at)
SELECT 'sim', s.patient_id, 300, 3, CASE WHEN s.z + 0.5 * s.n2 > 0 THEN 'completed' ELSE 'defaulted' END,
       c.cut - interval '200 days'
  FROM simp s, cfg c WHERE s.u5 < 0.2;
-- the outcome: paid within 30 days after the cut
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at)
SELECT 'sim', s.patient_id, 'p' || s.i, 'payment', round(exp(4.8 + 0.8 * s.n2)::numeric, 2),
       c.cut + (1 + 27 * s.u2) * interval '1 day'
  FROM simp s, cfg c WHERE s.u7 < pg_temp.sig(-0.4 + 1.5 * s.z - 0.6 * s.n2);
SQL

summary=$(psql_q "$DB" "SELECT collect.train('sim', '2026-06-30 17:00Z')")
echo "RESULT replies_train $summary"
auc=$(psql_q "$DB" "SELECT round(auc::numeric, 3) FROM collect.risk_model WHERE practice_id = 'sim'")
echo "METRIC replies_model_auc_heldout $auc"
echo "RESULT replies_model held-out AUC $auc"
psql -X -qAt -d "$DB" -c "SELECT format('METRIC replies_model_rows train %s test %s positives %s iterations %s', n_train, n_test, positives, iterations) FROM collect.risk_model"
awk -v a="$auc" 'BEGIN { exit !(a >= 0.65) }' || { echo "AUC $auc < 0.65"; fail=1; }
scored=$(psql_q "$DB" "SELECT count(*) FROM collect.account WHERE practice_id = 'sim' AND risk_score BETWEEN 0 AND 1")
echo "METRIC replies_model_accounts_scored $scored"
[ "$scored" -gt 0 ] || { echo "no account got a risk score"; fail=1; }
# training twice on the same history gives the same model
again=$(psql -X -qAt -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
CREATE TEMP TABLE before AS SELECT coefficients, auc FROM collect.risk_model WHERE practice_id = 'sim';
SELECT collect.train('sim', '2026-06-30 17:00Z') IS NOT NULL;
SELECT (SELECT coefficients FROM before) = coefficients AND (SELECT auc FROM before) = auc
  FROM collect.risk_model WHERE practice_id = 'sim';
SQL
)
[ "$(echo "$again" | tail -1)" = t ] || { echo "retraining changed the model"; fail=1; }
# for scale: the AUC of the true payment probability on the same held-out patients
psql -X -qAt -d "$DB" <<'SQL'
CREATE FUNCTION pg_temp.sig(x float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$ SELECT 1 / (1 + exp(-x)) $$;
WITH f AS (SELECT * FROM collect.risk_features('sim', '2026-05-31 17:00Z')),
     t AS (SELECT f.paid_after AS y, pg_temp.sig(-0.4 + 1.5 * s.z - 0.6 * s.n2) AS p
             FROM f JOIN simp s USING (patient_id)
            ),
     r AS (SELECT y, rank() OVER (ORDER BY p) AS rk FROM t)
SELECT format('METRIC replies_model_auc_oracle_all_rows %s (AUC of the true probability; the ceiling for any model)',
              round(((sum(rk) FILTER (WHERE y = 1) - count(*) FILTER (WHERE y = 1) * (count(*) FILTER (WHERE y = 1) + 1) / 2.0)
                     / (count(*) FILTER (WHERE y = 1) * count(*) FILTER (WHERE y = 0)))::numeric, 3))
  FROM r;
SQL
psql -X -qAt -d "$DB" -c "SELECT format('RESULT replies_fairness %s/%s: %s accounts, mean risk %s, firm %s', age_band, language, accounts, mean_risk_score, share_firm)
                           FROM collect.fairness_report WHERE practice_id = 'sim' ORDER BY age_band, language"
bands=$(psql_q "$DB" "SELECT count(*) FROM collect.fairness_report WHERE practice_id = 'sim'")
[ "$bands" -ge 6 ] || { echo "fairness report has $bands groups"; fail=1; }
# the nightly run: learn_update then train for every practice with enough history
all=$(psql_q "$DB" "SELECT collect.train_all('2026-06-30 17:00Z')")
echo "METRIC replies_train_all_practices_fitted $all"
[ "$all" = 1 ] || { echo "train_all fitted $all practices, expected 1"; fail=1; }
# the nightly job is registered
job=$(psql_q "$DB" "SELECT command FROM collect.cron_jobs() WHERE job = 'train'")
[ "$job" = "SELECT collect.train_all()" ] || { echo "train job missing from cron_jobs"; fail=1; }
echo "RESULT replies_learning $([ $fail = 0 ] && echo pass || echo FAIL)"
exit $fail
