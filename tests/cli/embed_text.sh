#!/bin/bash
# vitrun embed-text from the command line: texts as arguments and from a
# file give the same rows, templates write their list to the sidecar, and
# every bad request (vocabulary missing or corrupt, invalid UTF-8, a
# vocabulary that does not fit the checkpoint, a template without {}, a
# model that is not a text model) fails with a clear message and leaves no
# output file.  The cases that tokenize need CLIP's vocabulary at
# ../shared/data/clip/ and are skipped without it.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
G=tests/golden_text/openclip_vit_b_16_text_vocab
V=../shared/data/clip/bpe_simple_vocab_16e6.txt.gz
"$B/vitc" compile archs/openclip_vit_b_16_text.vit -o "$T/m.vitm" \
  --set width=8 --set depth=2 --set heads=2 --set mlp=32 --set embed=8 || { echo "not ok - compile"; exit 1; }
"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$T/img.vitm" \
  --set size=48 --set dim=48 --set depth=2 --set mlp=192 --set classes=10 --set pos_grid=3 || { echo "not ok - compile"; exit 1; }
pass=0; fail=0; skip=0
E=("$B/vitrun" embed-text "$T/m.vitm" --weights $G/weights.safetensors)

# expect NAME PATTERN CMD...: fails cleanly, message matches PATTERN, no output file
expect() {
  local name=$1 pat=$2; shift 2
  rm -f "$T"/out.*
  "$@" -o "$T/out.safetensors" > "$T/log" 2>&1; local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then echo "not ok - $name: exit status $rc"; cat "$T/log"; fail=$((fail+1)); return; fi
  if ! grep -qiE -- "$pat" "$T/log"; then echo "not ok - $name: message does not match /$pat/:"; cat "$T/log"; fail=$((fail+1)); return; fi
  if ls "$T"/out.* > /dev/null 2>&1; then echo "not ok - $name: output file left behind"; fail=$((fail+1)); return; fi
  echo "ok - $name: $(head -1 "$T/log" | cut -c1-150)"; pass=$((pass+1))
}
ok() { echo "ok - $1"; pass=$((pass+1)); }
bad() { echo "not ok - $1"; fail=$((fail+1)); }

# without the real vocabulary
expect "vocabulary file missing" "vocabulary: .*no such file" "${E[@]}" --vocab "$T/none.txt.gz" "a cat"
head -c 2000 /dev/urandom > "$T/noise.gz"
expect "vocabulary file is noise" "vocabulary: .*(not a BPE|corrupt|gzip)" "${E[@]}" --vocab "$T/noise.gz" "a cat"
printf '#version: 0.2\nt h\nth e</w>\nonly-one-symbol\n' > "$T/badline.txt"
expect "vocabulary with a bad merge line" "vocabulary: .*line 4" "${E[@]}" --vocab "$T/badline.txt" "a cat"
printf '#version: 0.2\nt h\nth e</w>\na n\n' > "$T/small.txt"
expect "vocabulary size differs from the token table" \
  "the vocabulary has 517 tokens but the model's token table 'token_embedding.weight' has 49408 rows" \
  "${E[@]}" --vocab "$T/small.txt" "a cat"
expect "not a text model" "not .*sequence of token ids.*not a text model" \
  "$B/vitrun" embed-text "$T/img.vitm" --weights tests/golden/deit_tiny_patch16_224/weights.safetensors --vocab "$T/small.txt" "a cat"
expect "no --vocab" "--vocab FILE is required" "${E[@]}" "a cat"
expect "no texts" "no texts given" "${E[@]}" --vocab "$T/small.txt"
expect "texts file missing" "none.txt: no such file" "${E[@]}" --vocab "$T/small.txt" --file "$T/none.txt"

if [ ! -f "$V" ]; then
  echo "ok - tokenizing cases # SKIP no CLIP vocabulary at $V"; skip=$((skip+1))
else
  head -c 600000 "$V" > "$T/trunc.gz"
  expect "vocabulary gzip truncated" "vocabulary: .*(corrupt|unexpected end|truncat)" "${E[@]}" --vocab "$T/trunc.gz" "a cat"
  expect "invalid UTF-8 text" 'text 2 \("caf\\xc3"\): invalid UTF-8' "${E[@]}" --vocab "$V" "a cat" $'caf\xc3'
  printf 'a cat\n\xff\xfe dog\n' > "$T/badtexts.txt"
  expect "invalid UTF-8 in a texts file" 'text 2 .*invalid UTF-8' "${E[@]}" --vocab "$V" --file "$T/badtexts.txt"
  printf 'a photo of a {}.\na photo\n' > "$T/notpl.txt"
  expect "template without {}" 'template 2 \("a photo"\) has no \{\}' "${E[@]}" --vocab "$V" --file "$T/notpl.txt" --templates "$T/notpl.txt"

  # the same texts as arguments and from a file (CRLF, blank lines skipped) give the same file
  if "${E[@]}" --vocab "$V" "a photo of a cat" "goldfish" "A diagram of the moon." -o "$T/args.safetensors" > "$T/log" 2>&1 &&
     printf 'a photo of a cat\r\n\ngoldfish\nA diagram of the moon.\n\n' > "$T/texts.txt" &&
     "${E[@]}" --vocab "$V" --file "$T/texts.txt" -o "$T/file.safetensors" >> "$T/log" 2>&1 &&
     cmp -s "$T/args.safetensors" "$T/file.safetensors" && cmp -s "$T/args.json" "$T/file.json" &&
     grep -q '"goldfish"' "$T/args.json" && grep -q '"embeddings"' "$T/args.safetensors"; then
    ok "texts from arguments and from a file: same embeddings and sidecar"
  else
    bad "texts from arguments and from a file"; cat "$T/log"
  fi
  # templates: listed in the sidecar; the numbers against OpenCLIP are in test_text
  if [ -f ../shared/data/clip/imagenet_templates.txt ]; then cp ../shared/data/clip/imagenet_templates.txt "$T/tpl.txt"
  else printf 'a photo of a {}.\na bad photo of the {}.\n' > "$T/tpl.txt"; fi
  ntpl=$(grep -c '{}' "$T/tpl.txt")
  if "${E[@]}" --vocab "$V" --file "$T/texts.txt" --templates "$T/tpl.txt" -o "$T/tpl.safetensors" > "$T/log" 2>&1 &&
     grep -q '"templates"' "$T/tpl.json" && ! cmp -s "$T/tpl.safetensors" "$T/file.safetensors" &&
     grep -q "embeddings \[3, 8\]" "$T/log"; then
    ok "templates ($ntpl): rows written, templates listed in the sidecar"
  else
    bad "templates"; cat "$T/log"
  fi
  # the engines agree (printed rows, 5 decimals)
  "${E[@]}" --vocab "$V" "a photo of a cat" --engine jit > "$T/jit.txt" 2>&1
  "${E[@]}" --vocab "$V" "a photo of a cat" --engine interp > "$T/interp.txt" 2>&1
  if cmp -s "$T/jit.txt" "$T/interp.txt" && grep -q "embedding \[8\]" "$T/jit.txt"; then ok "jit and interp print the same row"
  else bad "jit and interp differ"; cat "$T/jit.txt" "$T/interp.txt"; fi
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
