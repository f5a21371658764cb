#!/bin/bash
# The JIT's object cache: a second load of the same module links the cached
# object (no new entry, same outputs); a damaged entry is rebuilt; a changed
# module gets its own entry; VITRUN_CACHE=off writes nothing.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
G=tests/golden/deit_tiny_patch16_224
SET=(--set size=48 --set dim=48 --set depth=2 --set mlp=192 --set classes=10 --set pos_grid=3)
"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$T/m.vitm" "${SET[@]}" || { echo "not ok - compile"; exit 1; }
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass+1)); }
bad() { echo "not ok - $1"; fail=$((fail+1)); }
run() { VITRUN_CACHE=$1 "$B/vitrun" run "$2" --weights $G/weights.safetensors examples/images/chelsea.jpg -o "$3" > /dev/null; }
C=$T/cache
run "$C" "$T/m.vitm" "$T/a.safetensors" || bad "first run"
n1=$(ls "$C"/*.o 2> /dev/null | wc -l)
[ "$n1" -eq 1 ] && ok "first load writes one cache entry" || bad "first load: $n1 entries"
run "$C" "$T/m.vitm" "$T/b.safetensors" || bad "second run"
n2=$(ls "$C"/*.o | wc -l)
[ "$n2" -eq 1 ] && cmp -s "$T/a.safetensors" "$T/b.safetensors" && ok "second load uses it: same outputs, no new entry" \
  || bad "second load: $n2 entries or other outputs"
for e in "$C"/*.o; do head -c 100 "$e" > "$e.x" && mv "$e.x" "$e"; done
run "$C" "$T/m.vitm" "$T/c.safetensors" && cmp -s "$T/a.safetensors" "$T/c.safetensors" \
  && [ "$(stat -c %s "$C"/*.o)" -gt 100 ] && ok "a damaged entry is ignored and rebuilt" || bad "damaged entry"
VITRUN_CACHE=$C "$B/vitrun" decompose "$T/m.vitm" --weights $G/weights.safetensors --split head \
  examples/images/chelsea.jpg > /dev/null 2>&1 || bad "decompose"
n3=$(ls "$C"/*.o | wc -l)
[ "$n3" -eq 2 ] && ok "another module (a derived decomposition) gets its own entry" || bad "another module: $n3 entries"
run off "$T/m.vitm" "$T/d.safetensors" && cmp -s "$T/a.safetensors" "$T/d.safetensors" && ok "VITRUN_CACHE=off runs the same" \
  || bad "cache off"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
