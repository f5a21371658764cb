#!/bin/bash
# A model whose representation comes from an attention pool (SigLIP's image
# tower, timm AttentionPoolLatent).  Its `repr` reads the residual stream
# through the pool's attention: softmax probabilities (frozen at their
# forward value, as inside attention branches) times values from the
# stream.  Both `repr` and the final-norm tokens decompose by heads and by
# heads and tokens, the pool's MLP being one more component, and the
# components sum to the output on both images of the golden input.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
G=tests/golden/vit_base_patch16_siglip_224
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

for mode in "head 10" "head,token 58"; do
  set -- $mode
  rm -f "$T"/c.*
  if dec --output repr --split "$1" --check -o "$T/c.safetensors" > "$T/log" 2>&1 \
     && [ "$(grep -c "$2 components, max |sum - repr|" "$T/log")" = 2 ] && grep -q '"attn_pool.mlp"' "$T/c.json"; then
    ok "repr through the attention pool, --split $1: $2 components (the pool's MLP one of them) sum to the output"
  else bad "repr, --split $1"; cat "$T/log"; fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
