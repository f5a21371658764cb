#!/bin/bash
# The JIT's object cache: a second load of the same module links the cached
# object (no new entry, same outputs); a damaged entry is rebuilt; a changed
# module gets its own entry; VITRUN_CACHE=off writes nothing; over
# VITRUN_CACHE_MAX the least recently used entries are removed.
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
run() { VITRUN_CACHE=$1 "$B/vitrun" run "$2" --weights $G/weights.safetensors examples/images/chelsea.jpg -o "$3" "${@:4}" > /dev/null 2>&1; }
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
# eviction: three modules' entries a, b, c; a used again (so b is the least
# recently used); c removed and rebuilt under a limit one byte short of all
# three: b goes, a and c stay
C2=$T/cache2
"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$T/m1.vitm" "${SET[@]}" --set depth=1 > /dev/null || bad "compile depth 1"
"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$T/m3.vitm" "${SET[@]}" --set depth=3 > /dev/null || bad "compile depth 3"
newest() { ls -t "$C2"/*.o | head -1; }
run "$C2" "$T/m1.vitm" "$T/e.safetensors" --allow-unused; a=$(newest); sleep 0.05
run "$C2" "$T/m.vitm" "$T/e.safetensors"; b=$(newest); sleep 0.05
VITRUN_CACHE=$C2 "$B/vitrun" run "$T/m3.vitm" --weights $G/weights.safetensors --allow-missing examples/images/chelsea.jpg \
  -o "$T/e.safetensors" > /dev/null 2>&1; c=$(newest); sleep 0.05
run "$C2" "$T/m1.vitm" "$T/e.safetensors" --allow-unused
sz() { stat -c %s "$1"; }
if [ -f "$a" ] && [ -f "$b" ] && [ -f "$c" ] && [ "$a" != "$b" ] && [ "$b" != "$c" ] && [ "$a" != "$c" ]; then
  lim=$(( $(sz "$a") + $(sz "$b") + $(sz "$c") - 1 ))
  rm "$c"
  VITRUN_CACHE_MAX=$lim VITRUN_CACHE=$C2 "$B/vitrun" run "$T/m3.vitm" --weights $G/weights.safetensors --allow-missing \
    examples/images/chelsea.jpg -o "$T/e.safetensors" > /dev/null 2>&1
  [ -f "$a" ] && [ -f "$c" ] && [ ! -f "$b" ] && ok "over VITRUN_CACHE_MAX the least recently used entry goes" \
    || bad "eviction: a $( [ -f "$a" ] && echo kept || echo gone ), b $( [ -f "$b" ] && echo kept || echo gone ), c $( [ -f "$c" ] && echo kept || echo gone )"
else bad "eviction setup: three distinct entries expected"; fi
touch "$C2/notes.txt"
VITRUN_CACHE_MAX=1 run "$C2" "$T/m.vitm" "$T/e.safetensors"
[ "$(ls "$C2"/*.o | wc -l)" -eq 1 ] && [ -f "$C2/notes.txt" ] && ok "VITRUN_CACHE_MAX=1 keeps only the newest entry and no other file is touched" \
  || bad "VITRUN_CACHE_MAX=1: $(ls "$C2" | tr '\n' ' ')"
VITRUN_CACHE_MAX=lots run "$C2" "$T/m1.vitm" "$T/e.safetensors" --allow-unused && [ "$(ls "$C2"/*.o | wc -l)" -eq 2 ] \
  && ok "a malformed VITRUN_CACHE_MAX falls back to the default limit" || bad "malformed VITRUN_CACHE_MAX"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
