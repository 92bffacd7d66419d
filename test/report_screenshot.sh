#!/usr/bin/env bash
# test/report_screenshot.sh HTML PNG: render a collect.report_html page in
# headless Chromium (Debian package chromium) and check that each of its
# four charts drew bars, by counting the pixels of each chart's bar colour
# (test/png_colors.py). Prints RESULT/METRIC lines; exits 1 when the
# screenshot is missing, the page is blank or a chart has no bars.
set -uo pipefail
html=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
png=$2
here=$(cd "$(dirname "$0")" && pwd)
start=$(date +%s.%N)
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --hide-scrollbars \
         --window-size=1280,1100 --screenshot="$png" "file://$html" >"$png.log" 2>&1 || true
[ -s "$png" ] || { echo "FAIL no screenshot of $html"; tail -5 "$png.log"; exit 1; }
echo "METRIC chromium_screenshot_seconds $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
fail=0
declare -A chart=([#2f6fb3]=aging [#2e8b57]=weekly [#c77c12]=rate [#8a3ffc]=queue)
while read -r colour count; do
  if [ "$colour" = nonbackground ]; then
    echo "RESULT screenshot $(basename "$html"): $count non-background pixels"
    [ "$count" -gt 50000 ] || { echo "FAIL the page looks blank"; fail=1; }
    continue
  fi
  echo "RESULT chart ${chart[$colour]} ($colour): $count bar pixels"
  [ "$count" -gt 300 ] || { echo "FAIL chart ${chart[$colour]} drew no bars"; fail=1; }
done < <(python3 "$here/png_colors.py" "$png" '#2f6fb3' '#2e8b57' '#c77c12' '#8a3ffc')
exit $fail
