#!/bin/bash
# Outputs are written atomically and readable like any file: vitc's module,
# graph (.dot, .svg) and LLVM text, and vitrun's safetensors with its JSON
# sidecar appear whole with mode 0644 (umask 022) and no temporary left
# beside them; a write that fails leaves nothing.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
umask 022
G=tests/golden/deit_tiny_patch16_224
S=(archs/deit_tiny_patch16_224.vit --set size=48 --set dim=48 --set depth=2 --set mlp=192 --set classes=10 --set pos_grid=3)
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass+1)); }
bad() { echo "not ok - $1"; fail=$((fail+1)); }
# whole NAME FILE...: each file exists with mode 644, and no *.tmp* is left in $T
whole() {
  local name=$1; shift
  for f in "$@"; do
    if [ ! -s "$f" ] || [ "$(stat -c %a "$f")" != 644 ]; then bad "$name: $f missing or mode $(stat -c %a "$f" 2>/dev/null)"; return; fi
  done
  if ls "$T"/*tmp* > /dev/null 2>&1; then bad "$name: temporary left: $(ls "$T"/*tmp*)"; return; fi
  ok "$name"
}

"$B/vitc" compile "${S[@]}" -o "$T/m.vitm" --emit-llvm "$T/m.ll" > "$T/log" 2>&1 || { cat "$T/log"; bad "compile"; }
whole "vitc compile: module and LLVM text" "$T/m.vitm" "$T/m.ll"
"$B/vitc" graph "${S[@]}" -o "$T/g.dot" > "$T/log" 2>&1 || { cat "$T/log"; bad "graph .dot"; }
whole "vitc graph .dot" "$T/g.dot"
if command -v dot > /dev/null; then
  "$B/vitc" graph "${S[@]}" -o "$T/g.svg" > "$T/log" 2>&1 || { cat "$T/log"; bad "graph .svg"; }
  whole "vitc graph .svg" "$T/g.svg"
fi
"$B/vitrun" decompose "$T/m.vitm" --weights $G/weights.safetensors examples/images/chelsea.jpg -o "$T/c.safetensors" > "$T/log" 2>&1 \
  || { cat "$T/log"; bad "decompose"; }
whole "vitrun decompose: safetensors and sidecar" "$T/c.safetensors" "$T/c.json"

# failures leave nothing: Graphviz missing, a directory that does not exist
mkdir "$T/nodot"
if PATH=/nonexistent "$B/vitc" graph "${S[@]}" -o "$T/nodot/g.svg" > "$T/log" 2>&1; then bad "svg without Graphviz succeeded"
elif [ -n "$(ls -A "$T/nodot")" ]; then bad "svg without Graphviz left $(ls "$T/nodot")"
else ok "svg without Graphviz: $(head -1 "$T/log")"; fi
for args in "compile -o $T/none/m.vitm" "graph -o $T/none/g.dot" "compile -o $T/m2.vitm --emit-llvm $T/none/m.ll"; do
  if "$B/vitc" $args "${S[@]}" > "$T/log" 2>&1; then bad "vitc $args succeeded"
  elif ls "$T"/*tmp* "$T/m2.vitm" > /dev/null 2>&1; then bad "vitc $args left a file"
  else ok "vitc $args fails cleanly: $(head -1 "$T/log")"; fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
