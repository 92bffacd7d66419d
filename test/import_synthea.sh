#!/usr/bin/env bash
# test/import_synthea.sh: load one Synthea CSV run into collect.
#   test/import_synthea.sh PRACTICE_ID CUTOFF [DATA_DIR]
# PRACTICE_ID: the practice to create (or add to); CUTOFF: a timestamp,
# patient payments (COPAY/CASH/CHECK/CC) at or after it are held back so
# balances stay open ('infinity' holds back nothing); DATA_DIR defaults to
# ../shared/data/synthea. Connects with the usual PG* variables (PGDATABASE
# names the database); prints one summary line (patients, charges,
# responsibility, paid, held_back, open_balance), '|'-separated.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
practice=${1:?usage: import_synthea.sh PRACTICE_ID CUTOFF [DATA_DIR]}
cutoff=${2:?usage: import_synthea.sh PRACTICE_ID CUTOFF [DATA_DIR]}
dir=${3:-${COLLECT_SHARED:-$here/../../shared}/data/synthea}
[ -r "$dir/claims_transactions.csv" ] && [ -r "$dir/patients.csv" ] || { echo "no Synthea CSV files in $dir" >&2; exit 2; }
q() { printf "'%s'" "${1//\'/\'\'}"; }

psql -X -qAt -v ON_ERROR_STOP=1 -v practice="$practice" -v cutoff="$cutoff" <<SQL
CREATE TEMP TABLE synthea_tx (
  id text, claimid text, chargeid int, patientid text, type text, amount numeric(12,2), method text,
  fromdate timestamptz, todate timestamptz, placeofservice text, procedurecode text, modifier1 text,
  modifier2 text, diagnosisref1 text, diagnosisref2 text, diagnosisref3 text, diagnosisref4 text,
  units text, departmentid text, notes text, unitamount numeric(12,2), transferoutid text,
  transfertype text, payments numeric(12,2), adjustments numeric(12,2), transfers numeric(12,2),
  outstanding numeric(12,2), appointmentid text, linenote text, patientinsuranceid text,
  feescheduleid text, providerid text, supervisingproviderid text);
CREATE TEMP TABLE synthea_patients (
  "Id" text, "BIRTHDATE" text, "DEATHDATE" text, "SSN" text, "DRIVERS" text, "PASSPORT" text,
  "PREFIX" text, "FIRST" text, "LAST" text, "SUFFIX" text, "MAIDEN" text, "MARITAL" text, "RACE" text,
  "ETHNICITY" text, "GENDER" text, "BIRTHPLACE" text, "ADDRESS" text, "CITY" text, "STATE" text,
  "COUNTY" text, "FIPS" text, "ZIP" text, "LAT" text, "LON" text, "HEALTHCARE_EXPENSES" text,
  "HEALTHCARE_COVERAGE" text, "INCOME" text);
\copy synthea_tx FROM $(q "$dir/claims_transactions.csv") WITH (FORMAT csv, HEADER true)
\copy synthea_patients FROM $(q "$dir/patients.csv") WITH (FORMAT csv, HEADER true)
\i $(q "$here/synthea/import.sql")
SQL
