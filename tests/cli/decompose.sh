#!/bin/bash
# vitrun decompose from the command line: the files it writes, and each
# kind of bad request failing cleanly with no output left behind.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
G=tests/golden/deit_tiny_patch16_224
"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$T/m.vitm" \
  --set size=48 --set dim=48 --set depth=2 --set mlp=192 --set classes=10 --set pos_grid=3 || { echo "not ok - compile"; exit 1; }
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass+1)); }
bad() { echo "not ok - $1"; fail=$((fail+1)); }
dec() { "$B/vitrun" decompose "$T/m.vitm" --weights $G/weights.safetensors "$@"; }

if dec examples/images/chelsea.jpg examples/images/coffee.png --split head --from 1 --check -o "$T/c.safetensors" > "$T/log" 2>&1 \
   && grep -q "max |sum - repr|" "$T/log" && [ -f "$T/c.safetensors" ] && grep -q '"blocks.1.attn head 2"' "$T/c.json"; then
  ok "writes contrib and the sidecar; --check passes"
else bad "decompose"; cat "$T/log"; fi

expect() {
  local name=$1 pat=$2; shift 2
  rm -f "$T"/o.*
  dec "$@" -o "$T/o.safetensors" > "$T/log" 2>&1; local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then bad "$name: exit status $rc"; cat "$T/log"; return; fi
  if ! grep -qE -- "$pat" "$T/log"; then bad "$name: message does not match /$pat/"; cat "$T/log"; return; fi
  if ls "$T"/o.* > /dev/null 2>&1; then bad "$name: output left behind"; return; fi
  ok "$name: $(head -1 "$T/log" | cut -c1-140)"
}
IMG=examples/images/chelsea.jpg
expect "unknown split axis" "cannot split along 'heads'.*its axes: .*head" $IMG --split heads
expect "--from past the last layer" "--from 2: the model has 2 layers" $IMG --from 2
expect "unknown output" "no output 'probs' \(its outputs: repr, logits\)" $IMG --output probs
h='{"directions":{"dtype":"F32","shape":[2,5],"data_offsets":[0,40]}}'
printf "$(printf '\\x%02x' ${#h})\x00\x00\x00\x00\x00\x00\x00" > "$T/d.st"
printf '%s' "$h" >> "$T/d.st"
head -c 40 /dev/zero >> "$T/d.st"
expect "directions of the wrong width" "__directions.*needs 96 values, got 10" $IMG --directions "$T/d.st"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
