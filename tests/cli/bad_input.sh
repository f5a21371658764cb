#!/bin/bash
# Bad input to vitrun, one case each: a clear message naming the problem,
# a non-zero exit status that is not a crash, and no output file left.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
G=tests/golden/deit_tiny_patch16_224
"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$T/m.vitm" \
  --set size=48 --set dim=48 --set depth=2 --set mlp=192 --set classes=10 --set pos_grid=3 || { echo "not ok - compile"; exit 1; }
pass=0; fail=0

# st FILE JSON NBYTES: a safetensors file with header JSON and NBYTES zero bytes of data
st() {
  local n=${#2}
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x00\\x00\\x00\\x00' $((n & 255)) $(((n >> 8) & 255)) $(((n >> 16) & 255)) $(((n >> 24) & 255)))" > "$1"
  printf '%s' "$2" >> "$1"
  head -c "$3" /dev/zero >> "$1"
}

# expect NAME PATTERN CMD...: fails cleanly, message matches PATTERN, no output file
expect() {
  local name=$1 pat=$2; shift 2
  rm -f "$T/out.safetensors"
  "$@" > "$T/log" 2>&1; local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then echo "not ok - $name: exit status $rc"; cat "$T/log"; fail=$((fail+1)); return; fi
  if ! grep -qiE "$pat" "$T/log"; then echo "not ok - $name: message does not match /$pat/:"; cat "$T/log"; fail=$((fail+1)); return; fi
  if ls "$T"/out.safetensors* > /dev/null 2>&1; then echo "not ok - $name: output file left behind"; fail=$((fail+1)); return; fi
  echo "ok - $name: $(head -1 "$T/log" | cut -c1-150)"; pass=$((pass+1))
}
run() { "$B/vitrun" run "$T/m.vitm" "$@" -o "$T/out.safetensors"; }
IMG=examples/images/chelsea.jpg

head -c 5 $G/weights.safetensors > "$T/trunc.st"
expect "weights truncated" "shorter than the 8-byte" run --weights "$T/trunc.st" $IMG
printf '\xff\xff\x00\x00\x00\x00\x00\x00{}' > "$T/hlen.st"
expect "header length beyond the file" "header.*(beyond|exceeds|larger)" run --weights "$T/hlen.st" $IMG
st "$T/json.st" '{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]' 4
expect "header is bad JSON" "json" run --weights "$T/json.st" $IMG
st "$T/range.st" '{"cls_token":{"dtype":"F32","shape":[1,1,48],"data_offsets":[0,192]}}' 100
expect "offsets out of range" "cls_token.*(beyond|outside|out of|exceed)" run --weights "$T/range.st" $IMG
st "$T/overlap.st" '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}' 24
expect "offsets overlapping" "overlap" run --weights "$T/overlap.st" $IMG
st "$T/dtype.st" '{"cls_token":{"dtype":"I64","shape":[1,1,48],"data_offsets":[0,384]}}' 384
expect "dtype mismatch with the spec" "cls_token.*I64" run --weights "$T/dtype.st" $IMG --allow-missing
st "$T/shape.st" '{"patch_embed.proj.weight":{"dtype":"F32","shape":[96,3,16,16],"data_offsets":[0,294912]}}' 294912
expect "shape mismatch with the spec" "patch_embed.proj.weight' is \[96, 3, 16, 16\] in the file, the spec expects \[48, 3, 16, 16\]" \
  run --weights "$T/shape.st" $IMG --allow-missing
st "$T/few.st" '{"cls_token":{"dtype":"F32","shape":[1,1,48],"data_offsets":[0,192]},"extra.w":{"dtype":"F32","shape":[2],"data_offsets":[192,200]}}' 200
expect "missing and unexpected keys" "missing: 'pos_embed'.*|unexpected: 'extra.w'" run --weights "$T/few.st" $IMG
head -c 3000 $IMG > "$T/trunc.jpg"
expect "JPEG truncated" "trunc|corrupt|premature" run --weights $G/weights.safetensors "$T/trunc.jpg"
echo "not a picture" > "$T/text.jpg"
expect "not an image" "not an image" run --weights $G/weights.safetensors "$T/text.jpg"
expect "unreadable image path" "no such file" run --weights $G/weights.safetensors "$T/missing.jpg"
expect "unreadable weights path" "no such file" run --weights "$T/missing.safetensors" $IMG
printf 'VITM\x63\x00\x00\x00' > "$T/v99.vitm"
expect "module of another version" "version 99" "$B/vitrun" run "$T/v99.vitm" --weights $G/weights.safetensors $IMG
expect "not a module" "not a vitm module" "$B/vitrun" run $IMG --weights $G/weights.safetensors $IMG
expect "tensor input of the wrong shape" "shape" run --weights $G/weights.safetensors --tensor tests/golden/vit_small_patch14_dinov2/input.safetensors
expect "vitc: unreadable spec" "no such file" "$B/vitc" compile "$T/none.vit" -o "$T/out.safetensors"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
