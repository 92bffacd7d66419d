#!/usr/bin/env bash
# test/t/data_report_screenshot.sh: collect.report_html rendered by a real
# browser. Loads the Synthea practice (payments held back from 2023-10-01),
# posts a few partial payments and staff tasks, writes the report, takes a
# headless Chromium screenshot (Debian package chromium, installed on first
# use) and checks that each of the four charts has drawn its bars
# (test/report_screenshot.sh counts each bar colour's pixels in the PNG).
source "$(dirname "$0")/../lib.sh"
ensure_packages chromium python3
DB=collect_data_report_$$
D=$(scratch_dir)
createdb "$DB"
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true; rm -rf "$D"' EXIT
export PGDATABASE=$DB
psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning; CREATE EXTENSION collect"
"$ROOT/test/import_synthea.sh" synthea 2023-10-01 >/dev/null
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
-- partial payments in the weeks before 2024-06-01 and two staff tasks
INSERT INTO collect.ledger (practice_id, patient_id, external_id, kind, amount, posted_at, method)
SELECT 'synthea', patient_id, 'shot:' || patient_id, 'payment', round(balance / 2, 2),
       timestamptz '2024-05-01 10:00-04' + (row_number() OVER (ORDER BY patient_id)) * interval '4 days', 'card'
  FROM collect.account WHERE practice_id = 'synthea' AND balance > 1;
INSERT INTO collect.task (practice_id, patient_id, kind, summary, due_at)
SELECT 'synthea', patient_id, k, 'Owes ' || balance || ' (screenshot test)', timestamptz '2024-05-30 09:00-04'
  FROM collect.account, unnest(ARRAY['call', 'plan_approval']) k
 WHERE practice_id = 'synthea' AND balance > 0;
SQL
psql -X -qAt -v ON_ERROR_STOP=1 -c "SELECT collect.report_html('synthea', '2024-06-01 12:00-04')" > "$D/report.html"
fail=0
svgs=$(grep -o '<svg ' "$D/report.html" | wc -l)
echo "RESULT report: $(wc -c < "$D/report.html") bytes, $svgs SVG charts"
[ "$svgs" = 4 ] || { echo "FAIL expected 4 SVG charts"; fail=1; }
if grep -Eiq '<script|<link|<img|url\(' "$D/report.html"; then echo "FAIL external resource or script in the report"; fail=1; fi

"$ROOT/test/report_screenshot.sh" "$D/report.html" "$D/report.png" || fail=1
exit $fail
