#!/bin/bash
# Inputs the fuzzers (fuzz/) found a crash with, kept after the fix:
# tests/fuzz/vit/*.vit through `vitc check`, tests/fuzz/module/*.vitm through
# `vitrun info` (the module loader), tests/fuzz/decompose/*.vit through
# `vitc compile --decompose repr` (the derivation).  Each must end with status 0
# or 1 and without a sanitizer or crash report (this suite also runs under
# ASan + UBSan and valgrind, where the original faults show).
set -u
B=${1:-build}
pass=0; fail=0
L=$B/fuzz_regress.log
# check LO HI FILE COMMAND...: the command ends with a status in [LO, HI] and no sanitizer report
check() {
  local lo=$1 hi=$2 f=$3; shift 3
  "$@" > /dev/null 2> "$L"; local rc=$?
  if [ $rc -lt "$lo" ] || [ $rc -gt "$hi" ] || grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$L"; then
    echo "not ok - $f: status $rc"; cat "$L"; fail=$((fail+1))
  else echo "ok - $f: $(head -1 "$L" | cut -c1-120)"; pass=$((pass+1)); fi
}
for f in tests/fuzz/vit/*.vit; do check 0 1 "$f" "$B/vitc" check "$f"; done
for f in tests/fuzz/module/*.vitm; do check 1 1 "$f" "$B/vitrun" info "$f"; done # refused, not accepted
for f in tests/fuzz/decompose/*.vit; do check 0 1 "$f" "$B/vitc" compile "$f" -o "$B/fuzz_regress.vitm" --decompose repr; done
rm -f "$B/fuzz_regress.vitm"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
