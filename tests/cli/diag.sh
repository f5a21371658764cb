#!/bin/bash
# Golden diagnostics: each tests/diag/NAME.vit must fail `vitc check` with
# exit status 1 and print exactly tests/diag/NAME.err (location, source
# line, caret, notes).  A changed message shows up as a diff.
set -u
B=${1:-build}
pass=0; fail=0
for f in tests/diag/*.vit; do
  exp=${f%.vit}.err
  got=$("$B/vitc" check "$f" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne 1 ]; then echo "not ok - $f: exit status $rc, expected 1"; fail=$((fail+1)); continue; fi
  if [ "$got" == "$(cat "$exp")" ]; then echo "ok - $f"; pass=$((pass+1));
  else echo "not ok - $f: message differs"; diff <(echo "$got") "$exp"; fail=$((fail+1)); fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
