#!/bin/bash
# Every spec in archs/ consumes exactly the key set (and stored shapes) of
# the full-size reference state dict listed in tests/keys/ARCH.txt.
set -u
B=${1:-build}
fail=0; pass=0
for f in archs/*.vit; do
  a=$(basename "$f" .vit)
  if [ ! -f "tests/keys/$a.txt" ]; then echo "not ok - $a: no tests/keys/$a.txt"; fail=$((fail+1)); continue; fi
  if diff <("$B/vitc" check --keys "$f" | sort) <(sort "tests/keys/$a.txt") > /tmp/vitc-keys-$$.diff; then
    echo "ok - $a key set"; pass=$((pass+1))
  else
    echo "not ok - $a key set differs:"; head -20 /tmp/vitc-keys-$$.diff; fail=$((fail+1))
  fi
done
rm -f /tmp/vitc-keys-$$.diff
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
