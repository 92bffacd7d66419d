#!/usr/bin/env bash
# dunning_pure: the libc-only cores (pay-link HMAC, template renderer)
# outside the server: known-answer unit tests, then a short libFuzzer run
# under AddressSanitizer when clang is available (FUZZ_SECONDS, default 10).
source "$(dirname "$0")/../lib.sh"
BIN=$ROOT/test/fuzz/bin
mkdir -p "$BIN"
cc -std=gnu11 -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined -I"$ROOT/src" \
  "$ROOT/test/fuzz/dunning_unit.c" "$ROOT/src/paylink.c" "$ROOT/src/template_render.c" -o "$BIN/dunning_unit"
"$BIN/dunning_unit"
if command -v clang >/dev/null; then
  clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$ROOT/src" \
    "$ROOT/test/fuzz/template_fuzz.c" "$ROOT/src/paylink.c" "$ROOT/src/template_render.c" -o "$BIN/template_fuzz"
  mkdir -p "$BIN/corpus"
  printf 'Hi {{first_name}}, {{balance}}\0Ann' > "$BIN/corpus/seed1"
  printf 'https://x/p?p=p1&u=a&a=1&e=2&s=%064d' 0 > "$BIN/corpus/seed2"
  "$BIN/template_fuzz" -max_total_time="${FUZZ_SECONDS:-10}" -print_final_stats=1 "$BIN/corpus" 2>&1 | tail -n 5
  echo "RESULT template/pay-link fuzzing: ${FUZZ_SECONDS:-10} s without a crash"
else
  echo "RESULT clang not installed: fuzzing skipped"
fi
