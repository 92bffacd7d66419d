#!/usr/bin/env bash
# security_fuzz: every libFuzzer harness in test/fuzz/ for a bounded time
# (FUZZ_SECONDS, default 15 each), after replaying its past crashes. Longer
# runs by hand: test/fuzz/run NAME 600 (see docs/security.md).
source "$(dirname "$0")/../lib.sh"
secs=${FUZZ_SECONDS:-15}
status=0
for f in "$ROOT"/test/fuzz/fuzz_*.c; do
  n=$(basename "$f" .c); n=${n#fuzz_}
  "$ROOT/test/fuzz/run" "$n" "$secs" || status=1
done
exit $status
