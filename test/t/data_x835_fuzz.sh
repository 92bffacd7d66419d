#!/usr/bin/env bash
# test/t/data_x835_fuzz.sh: the PostgreSQL-free 835 reader under
# AddressSanitizer and UndefinedBehaviorSanitizer: every public file, then
# a short deterministic libFuzzer run (fixed seed and run count) mutating
# them. Any crash, leak or undefined behaviour fails the test. Needs clang
# (installed with the toolchain); skipped with a RESULT line without it.
source "$(dirname "$0")/../lib.sh"
command -v clang >/dev/null || { echo "RESULT clang not installed: skipped"; exit 0; }
B=$(scratch_dir)
trap 'rm -rf "$B"' EXIT
cd "$ROOT"
clang -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -Isrc -o "$B/dump" test/fuzz/x835_dump.c src/x12_835_parse.c
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc -o "$B/fuzz" test/fuzz/x835_fuzz.c src/x12_835_parse.c
fail=0
mkdir -p "$B/corpus"
for f in "$SHARED"/data/x12_835/*.835 "$SHARED"/data/x12_835/*.txt "$SHARED"/data/x12_835/*.dat; do
  cp "$f" "$B/corpus/"
  # the dump tool leaks on purpose (a short-lived CLI): only memory errors count here
  if ASAN_OPTIONS=detect_leaks=0 "$B/dump" "$f" > "$B/out" 2>&1 || grep -q '^ERROR segment' "$B/out"; then
    echo "RESULT $(basename "$f"): $(sed -n 2p "$B/out" | cut -c1-100)"
  else
    echo "FAIL $(basename "$f")"; tail -20 "$B/out"; fail=1
  fi
done
start=$(date +%s)
if "$B/fuzz" -seed=1 -runs=60000 -max_len=4096 -timeout=5 -rss_limit_mb=1024 "$B/corpus" > "$B/fuzz.log" 2>&1; then
  echo "RESULT libFuzzer: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$B/fuzz.log")"
else
  echo "FAIL libFuzzer found a problem:"; grep -A30 'ERROR\|runtime error' "$B/fuzz.log" | head -40; fail=1
fi
echo "METRIC x835_fuzz_seconds $(( $(date +%s) - start ))"
exit $fail
