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
for f in tests/fuzz/vit/*.vit; do
  "$B/vitc" check "$f" > /dev/null 2> "$B/fuzz_regress.log"; rc=$?
  if [ $rc -gt 1 ] || grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$B/fuzz_regress.log"; then
    echo "not ok - $f: status $rc"; cat "$B/fuzz_regress.log"; fail=$((fail+1))
  else echo "ok - $f: $(head -1 "$B/fuzz_regress.log" | cut -c1-120)"; pass=$((pass+1)); fi
done
for f in tests/fuzz/module/*.vitm; do
  "$B/vitrun" info "$f" > /dev/null 2> "$B/fuzz_regress.log"; rc=$?
  if [ $rc -ne 1 ] || grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$B/fuzz_regress.log"; then
    echo "not ok - $f: status $rc (a refusal, status 1, expected)"; cat "$B/fuzz_regress.log"; fail=$((fail+1))
  else echo "ok - $f: $(head -1 "$B/fuzz_regress.log" | cut -c1-120)"; pass=$((pass+1)); fi
done
for f in tests/fuzz/decompose/*.vit; do
  "$B/vitc" compile "$f" -o "$B/fuzz_regress.vitm" --decompose repr > /dev/null 2> "$B/fuzz_regress.log"; rc=$?
  if [ $rc -gt 1 ] || grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$B/fuzz_regress.log"; then
    echo "not ok - $f: status $rc"; cat "$B/fuzz_regress.log"; fail=$((fail+1))
  else echo "ok - $f: $(head -1 "$B/fuzz_regress.log" | cut -c1-120)"; pass=$((pass+1)); fi
done
rm -f "$B/fuzz_regress.vitm"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
