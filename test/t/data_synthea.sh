#!/usr/bin/env bash
# test/t/data_synthea.sh: the Synthea importer (test/import_synthea.sh).
# - with nothing held back, the posted patient responsibility is the
#   dataset's documented $199,164.38 and every balance is paid to zero;
# - with a cut-off, the patient payments after it are held back and the
#   open balance is exactly what was held back;
# - every account balance equals the signed sum of its ledger rows;
# - a second run posts nothing; a later cut-off posts only what was held.
source "$(dirname "$0")/../lib.sh"
DB=collect_data_synthea_$$
createdb "$DB"
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true' EXIT
export PGDATABASE=$DB
psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning; CREATE EXTENSION collect"

fail=0
check() {  # check NAME SQL: the query must return t
  local got; got=$(psql_q "$DB" "$2")
  if [ "$got" = t ]; then echo "ok   $1"; else echo "FAIL $1 (got: $got)"; fail=1; fi
}

start=$(date +%s.%N)
full=$("$ROOT/test/import_synthea.sh" syn_full infinity)
echo "RESULT synthea full import: $full"
check "responsibility total is 199164.38" \
  "SELECT sum(amount) = 199164.38 FROM collect.ledger WHERE practice_id = 'syn_full' AND kind = 'charge'"
check "patient payments total is 199164.38" \
  "SELECT sum(amount) = 199164.38 FROM collect.ledger WHERE practice_id = 'syn_full' AND kind = 'payment'"
check "11 patients, all with accounts" \
  "SELECT count(*) = 11 FROM collect.account WHERE practice_id = 'syn_full'"
check "nothing held back: every balance is zero" \
  "SELECT bool_and(balance = 0) FROM collect.account WHERE practice_id = 'syn_full'"
check "per visit: billed = insurance paid + patient responsibility" \
  "SELECT bool_and(billed_amount = insurance_paid + amount)
     FROM collect.ledger WHERE practice_id = 'syn_full' AND kind = 'charge'"

cut=$("$ROOT/test/import_synthea.sh" syn_open 2024-01-01)
end=$(date +%s.%N)
echo "RESULT synthea import with cut-off 2024-01-01: $cut"
IFS='|' read -r _ _ _ _ held open <<<"$cut"
check "open balance equals the payments held back ($held)" "SELECT $held::numeric = $open::numeric AND $open::numeric > 0"
check "every account balance equals its ledger sum" \
  "SELECT bool_and(a.balance = coalesce(l.s, 0)) FROM collect.account a
     LEFT JOIN (SELECT practice_id, patient_id,
                       sum(CASE WHEN kind IN ('charge','refund','reversal') THEN amount ELSE -amount END) AS s
                  FROM collect.ledger GROUP BY 1, 2) l USING (practice_id, patient_id)"
check "open accounts have a due date and an aging bucket" \
  "SELECT count(*) > 0 AND bool_and(due_since IS NOT NULL) FROM collect.account
    WHERE practice_id = 'syn_open' AND balance > 0"
check "contact details are valid and made up" \
  "SELECT bool_and(phone IS NULL OR phone LIKE '+1555555%') AND bool_and(email IS NULL OR email LIKE '%@example.com')
          AND count(*) FILTER (WHERE sms_consent) BETWEEN 3 AND 10 AND count(*) FILTER (WHERE timezone IS NOT NULL) > 0
     FROM collect.patient WHERE practice_id = 'syn_open'"

before=$(psql_q "$DB" "SELECT count(*) FROM collect.ledger")
"$ROOT/test/import_synthea.sh" syn_open 2024-01-01 >/dev/null
after=$(psql_q "$DB" "SELECT count(*) FROM collect.ledger")
check "a second run posts nothing ($before rows)" "SELECT $before = $after"
"$ROOT/test/import_synthea.sh" syn_open infinity >/dev/null
check "a later cut-off posts the held-back payments and settles every balance" \
  "SELECT bool_and(balance = 0) FROM collect.account WHERE practice_id = 'syn_open'"
echo "METRIC synthea_import_seconds $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') (two imports)"
exit $fail
