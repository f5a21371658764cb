#!/bin/bash
# A model whose representation comes from an attention pool (SigLIP's image
# tower, timm AttentionPoolLatent).  Its `repr` reads the residual stream
# through the pool's attention (softmax of the latent query against keys
# from the stream) times values from the stream: a product of two
# stream-dependent tensors, which the decomposition refuses, naming the op
# and the source line, leaving no output.  The final-norm tokens (`tokens`,
# affine in the stream) decompose by heads and by heads and tokens, and the
# components sum to them on both images of the golden input.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
G=tests/golden_nodecomp/vit_base_patch16_siglip_224
"$B/vitc" compile archs/vit_base_patch16_siglip_224.vit -o "$T/m.vitm" \
  --set size=48 --set dim=48 --set depth=2 --set heads=3 --set mlp=192 --set pos_grid=3 || { echo "not ok - compile"; exit 1; }
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass+1)); }
bad() { echo "not ok - $1"; fail=$((fail+1)); }
dec() { "$B/vitrun" decompose "$T/m.vitm" --weights $G/weights.safetensors --tensor $G/input.safetensors "$@"; }

# components: init + per block (3 heads [x 9 tokens] + mlp)
for mode in "head 9" "head,token 57"; do
  set -- $mode
  rm -f "$T"/c.*
  if dec --output tokens --split "$1" --check -o "$T/c.safetensors" > "$T/log" 2>&1 \
     && [ "$(grep -c "$2 components, max |sum - tokens|" "$T/log")" = 2 ] && [ -f "$T/c.safetensors" ] \
     && grep -q '"blocks.1.attn head 2' "$T/c.json"; then
    ok "tokens, --split $1: $2 components sum to the output"
  else bad "tokens, --split $1"; cat "$T/log"; fi
done

for split in head head,token; do
  rm -f "$T"/o.*
  dec --output repr --split $split -o "$T/o.safetensors" > "$T/log" 2>&1; rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then bad "repr, --split $split: exit status $rc"; cat "$T/log"; continue; fi
  if ! grep -qE "stdlib/siglip.vit:[0-9]+:[0-9]+: the stream passes through a product of two data tensors \(CONTRACT\)" "$T/log"; then
    bad "repr, --split $split: message"; cat "$T/log"; continue
  fi
  if ls "$T"/o.* > /dev/null 2>&1; then bad "repr, --split $split: output left behind"; continue; fi
  ok "repr, --split $split refused: $(head -1 "$T/log" | cut -c1-140)"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
