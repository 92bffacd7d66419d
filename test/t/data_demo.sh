#!/usr/bin/env bash
# test/t/data_demo.sh: test/demo runs end to end (its own cluster, 120
# simulated days) and writes collect-report.html, whose headless Chromium
# screenshot must show bars in all four charts. Prints the
# demo's wall time as a METRIC (the goal is under 5 minutes on 2 cores;
# not asserted: timings are for bench/).
source "$(dirname "$0")/../lib.sh"
ensure_packages chromium python3
start=$(date +%s)
log=$(mktemp)
shot=$(scratch_dir)
trap 'rm -rf "$log" "$shot"' EXIT
if ! env -u PGHOST -u PGPORT -u PGDATABASE bash "$ROOT/test/demo" > "$log" 2>&1; then
  tail -30 "$log"; echo "FAIL test/demo failed"; exit 1
fi
echo "METRIC demo_seconds $(( $(date +%s) - start ))"
fail=0
for want in "practice synthea: 11 patients, 348 visits, patient responsibility \$199164.38" \
            "tertiary-payment.835                 refused: ERROR:  malformed 835: segment 20 (SVC)" \
            "managed-care.835                     era         2 claims,    2 posted, patient responsibility \$900.00" \
            "== scorecard at" "== aging at" "== a few task summaries" "demo finished in"; do
  grep -qF -- "$want" "$log" || { echo "FAIL demo output lacks: $want"; fail=1; }
done
grep -E '^simulated [0-9]+ days' "$log" | sed 's/^/RESULT /'
sed -n '/== scorecard at/,/^$/p' "$log" | grep -E '^ (synthea|era) ' | sed 's/^/RESULT scorecard: /'
svgs=$(grep -o '<svg ' "$ROOT/collect-report.html" | wc -l)
[ "$svgs" = 4 ] || { echo "FAIL collect-report.html has $svgs charts"; fail=1; }
"$ROOT/test/report_screenshot.sh" "$ROOT/collect-report.html" "$shot/collect-report.png" || fail=1
exit $fail
