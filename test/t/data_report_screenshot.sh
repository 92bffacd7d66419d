#!/usr/bin/env bash
# test/t/data_report_screenshot.sh: collect.report_html rendered by a real
# browser. Loads the Synthea practice (payments held back from 2023-10-01),
# posts a few partial payments and staff tasks, writes the report, takes a
# headless Chromium screenshot (Debian package chromium, installed on first
# use) and checks that each of the four charts has drawn its bars: the
# pixels of each chart's bar colour are counted in the PNG (stdlib-only
# decoder in png_colors.py).
source "$(dirname "$0")/../lib.sh"
ensure_packages chromium
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

start=$(date +%s.%N)
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --hide-scrollbars \
         --window-size=1280,1100 --screenshot="$D/report.png" "file://$D/report.html" >"$D/chromium.log" 2>&1 || true
[ -s "$D/report.png" ] || { echo "FAIL no screenshot"; tail -5 "$D/chromium.log"; exit 1; }
echo "METRIC chromium_screenshot_seconds $(echo "$(date +%s.%N) - $start" | bc -l | xargs printf '%.1f')"

# bar colours: aging, weekly collections, collection rate, staff queue
declare -A chart=([#2f6fb3]=aging [#2e8b57]=weekly [#c77c12]=rate [#8a3ffc]=queue)
while read -r colour count; do
  if [ "$colour" = nonbackground ]; then
    echo "RESULT screenshot: $count non-background pixels"
    [ "$count" -gt 50000 ] || { echo "FAIL the page looks blank"; fail=1; }
    continue
  fi
  echo "RESULT chart ${chart[$colour]} ($colour): $count bar pixels"
  [ "$count" -gt 300 ] || { echo "FAIL chart ${chart[$colour]} drew no bars"; fail=1; }
done < <(python3 "$ROOT/test/t/png_colors.py" "$D/report.png" '#2f6fb3' '#2e8b57' '#c77c12' '#8a3ffc')
exit $fail
