-- test/synthea/import.sql: turns one Synthea CSV run into a collect
-- practice, its patients and their ledger. Loaded by test/import_synthea.sh,
-- which has already \copy'd the CSV files into the temp tables
-- synthea_tx (claims_transactions.csv) and synthea_patients (patients.csv).
-- psql variables: practice (practice_id), cutoff (timestamptz: patient
-- payments at or after it are held back so balances stay open).
-- Set-based and idempotent: ledger rows carry stable external_ids, so a
-- second run posts nothing; a later cut-off posts only the payments the
-- earlier one held back. Contact details are made up (555 numbers,
-- example.com) and deterministic.
\set ON_ERROR_STOP 1

BEGIN;

-- The practice (Synthea's run is Massachusetts).
INSERT INTO collect.practice (practice_id, name, timezone)
VALUES (:'practice', 'Synthea Massachusetts family practice', 'America/New_York')
ON CONFLICT (practice_id) DO NOTHING;

-- Patients, numbered by Synthea Id so the made-up details are stable.
-- Synthea appends digits to names ("Temika453"): strip them.
INSERT INTO collect.patient (practice_id, patient_id, first_name, last_name, phone, email,
                             timezone, language, sms_consent, email_consent, voice_consent,
                             birth_date, phone_source, consent_source)
SELECT :'practice', p.id, p.first, p.last,
       CASE WHEN p.n % 11 = 0 THEN NULL ELSE '+1555555' || lpad(p.n::text, 4, '0') END,
       CASE WHEN p.n % 9 = 0 THEN NULL
            ELSE lower(p.first) || '.' || lower(p.last) || p.n || '@example.com' END,
       CASE WHEN p.n % 5 = 0 THEN 'America/Chicago'
            WHEN p.n % 7 = 0 THEN 'America/Los_Angeles' END,   -- NULL: the practice's
       CASE WHEN p.n % 6 = 0 THEN 'es' ELSE 'en' END,
       p.n % 11 <> 0 AND p.n % 4 <> 0,
       p.n % 9 <> 0 AND p.n % 3 <> 0,
       p.n % 11 <> 0 AND p.n % 2 = 1,
       p.birthdate,
       'synthea import (made up)', 'synthea import (made up)'
  FROM (SELECT "Id" AS id,
               regexp_replace("FIRST", '[0-9]+$', '') AS first,
               regexp_replace("LAST", '[0-9]+$', '') AS last,
               "BIRTHDATE"::date AS birthdate,
               row_number() OVER (ORDER BY "Id") AS n
          FROM synthea_patients) p
 WHERE p.id IN (SELECT DISTINCT patientid FROM synthea_tx)
ON CONFLICT (practice_id, patient_id) DO NOTHING;

-- Patient responsibility, one charge per claim (a visit on a statement):
-- COPAY payments + TRANSFERIN to the patient (TRANSFERTYPE p) + CHARGE
-- rows billed to the patient directly (TRANSFERTYPE p: uninsured).
-- billed_amount is what was charged, insurance_paid what insurers paid
-- (ECHECK). Claims with nothing left to the patient post nothing.
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at,
                            service_date, visit_id, billed_amount, insurance_paid)
SELECT :'practice', c.patientid, 'synthea:claim:' || c.claimid, 'charge', c.responsibility,
       c.posted_at, c.posted_at::date, c.visit_id, c.billed, c.insurance_paid
  FROM (SELECT claimid, min(patientid) AS patientid,
               min(fromdate) AS posted_at,
               min(appointmentid) AS visit_id,
               sum(CASE WHEN type = 'PAYMENT' AND method = 'COPAY' THEN payments
                        WHEN type = 'TRANSFERIN' AND transfertype = 'p' THEN amount
                        WHEN type = 'CHARGE' AND transfertype = 'p' THEN amount
                        ELSE 0 END) AS responsibility,
               sum(CASE WHEN type = 'CHARGE' THEN amount ELSE 0 END) AS billed,
               sum(CASE WHEN type = 'PAYMENT' AND method = 'ECHECK' THEN payments ELSE 0 END) AS insurance_paid
          FROM synthea_tx
         GROUP BY claimid) c
 WHERE c.responsibility > 0
 ORDER BY c.posted_at, c.claimid;

-- Patient payments before the cut-off, one ledger row per transaction.
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at,
                            service_date, visit_id, method)
SELECT :'practice', t.patientid, 'synthea:tx:' || t.id, 'payment', t.payments,
       t.fromdate, t.fromdate::date, t.appointmentid,
       CASE t.method WHEN 'CC' THEN 'card' ELSE lower(t.method) END
  FROM synthea_tx t
 WHERE t.type = 'PAYMENT' AND t.method IN ('COPAY', 'CASH', 'CHECK', 'CC')
   AND t.payments > 0 AND t.fromdate < :'cutoff'::timestamptz
 ORDER BY t.fromdate, t.id;

COMMIT;

-- What the run did: one line for the caller.
SELECT count(DISTINCT l.patient_id) AS patients,
       count(*) FILTER (WHERE l.kind = 'charge') AS charges,
       coalesce(sum(l.amount) FILTER (WHERE l.kind = 'charge'), 0) AS responsibility,
       coalesce(sum(l.amount) FILTER (WHERE l.kind = 'payment'), 0) AS paid,
       (SELECT coalesce(sum(payments), 0) FROM synthea_tx
         WHERE type = 'PAYMENT' AND method IN ('COPAY', 'CASH', 'CHECK', 'CC')
           AND fromdate >= :'cutoff'::timestamptz) AS held_back,
       (SELECT coalesce(sum(balance), 0) FROM collect.account a WHERE a.practice_id = :'practice') AS open_balance
  FROM collect.ledger l
 WHERE l.practice_id = :'practice' AND l.external_id LIKE 'synthea:%';
