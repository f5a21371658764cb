#!/bin/bash
# vitrun toyworld generate from the command line: the files of a data set
# (images, masks, labels.jsonl, captions.txt, info.json), the same seed giving
# identical trees, JPEG output, the spurious and balanced splits, and every bad
# request failing with a clear message and leaving nothing behind (neither the
# output directory nor a temporary one), also when a write fails half-way.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
V="$B/vitrun"
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass+1)); }
bad() { echo "not ok - $1"; fail=$((fail+1)); }

# expect NAME PATTERN CMD...: fails cleanly, message matches PATTERN, nothing written under $T/out*
expect() {
  local name=$1 pat=$2; shift 2
  rm -rf "$T"/out*
  "$@" > "$T/log" 2>&1; local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then bad "$name: exit status $rc"; cat "$T/log"; return; fi
  if ! grep -qiE -- "$pat" "$T/log"; then bad "$name: message does not match /$pat/:"; cat "$T/log"; return; fi
  if ls -d "$T"/out* > /dev/null 2>&1; then bad "$name: output left behind: $(ls -d "$T"/out*)"; return; fi
  ok "$name: $(head -1 "$T/log" | cut -c1-150)"
}

G=("$V" toyworld generate)
# a data set, twice with the same seed, once with another
if "${G[@]}" --seed 7 --count 8 -o "$T/a" > "$T/log" 2>&1 && "${G[@]}" --seed 7 --count 8 -o "$T/b" >> "$T/log" 2>&1 &&
   "${G[@]}" --seed 8 --count 8 -o "$T/c" >> "$T/log" 2>&1; then
  n_img=$(ls "$T/a/images" | grep -c '\.png$'); n_msk=$(ls "$T/a/masks" | grep -c '\.png$')
  if [ "$n_img" = 8 ] && [ "$n_msk" = 8 ] && [ "$(wc -l < "$T/a/labels.jsonl")" = 8 ] && [ "$(wc -l < "$T/a/captions.txt")" = 8 ] &&
     [ -f "$T/a/info.json" ] && [ "$(ls -a "$T" | grep -c tmp)" = 0 ]; then ok "8 images, 8 masks, 8 labels and captions, info.json"
  else bad "files of a data set"; ls -R "$T/a"; fi
  if diff -r "$T/a" "$T/b" > /dev/null; then ok "same seed: identical trees"; else bad "same seed: trees differ"; fi
  if ! cmp -s "$T/a/images/000000.png" "$T/c/images/000000.png"; then ok "another seed: other images"; else bad "another seed: same image"; fi
  if grep -q '"caption": "an\? [a-z]* \(plain\|striped\|dotted\|checkered\) [a-z]* \(on\|in\) ' "$T/a/labels.jsonl" &&
     head -1 "$T/a/labels.jsonl" | grep -q '"bbox": \[[0-9]*, [0-9]*, [0-9]*, [0-9]*\], "area": [0-9]*'; then
    ok "labels: attributes, bbox, area, caption"
  else bad "labels"; head -2 "$T/a/labels.jsonl"; fi
else
  bad "generate"; cat "$T/log"
fi

# the count does not change the first images; JPEG
if "${G[@]}" --seed 7 --count 3 -o "$T/d" > "$T/log" 2>&1 && cmp -s "$T/d/images/000002.png" "$T/a/images/000002.png" &&
   cmp -s <(head -3 "$T/a/labels.jsonl") "$T/d/labels.jsonl"; then ok "a shorter set is a prefix of a longer one"
else bad "prefix"; cat "$T/log"; fi
if "${G[@]}" --seed 7 --count 2 --format jpeg --size 48 -o "$T/j/" > "$T/log" 2>&1 && [ -f "$T/j/images/000001.jpg" ] &&
   [ -f "$T/j/masks/000001.png" ] && head -c 3 "$T/j/images/000000.jpg" | od -An -tx1 | grep -q 'ff d8 ff' &&
   grep -q '"format": "jpeg"' "$T/j/info.json" && grep -q '"images/000000.jpg"' "$T/j/labels.jsonl"; then ok "JPEG images, PNG masks"
else bad "JPEG"; cat "$T/log"; fi

# splits
if "${G[@]}" --seed 1 --count 200 --spurious 0.9 -o "$T/s" > "$T/log" 2>&1 &&
   "${G[@]}" --seed 1 --count 40 --balanced -o "$T/bal" >> "$T/log" 2>&1; then
  agree=$(grep -c '"group": [03]' "$T/s/labels.jsonl")
  if [ "$agree" -ge 165 ] && [ "$agree" -le 195 ] && ! grep -q '"background": "sky"' "$T/s/labels.jsonl"; then
    ok "spurious 0.9: $agree of 200 agree"
  else bad "spurious: $agree of 200 agree"; fi
  counts=$(for g in 0 1 2 3; do grep -c "\"group\": $g}" "$T/bal/labels.jsonl"; done | tr '\n' ' ')
  if [ "$counts" = "10 10 10 10 " ]; then ok "balanced: 10 per group"; else bad "balanced: groups $counts"; fi
else
  bad "splits"; cat "$T/log"
fi

O=(-o "$T/out")
expect "no subcommand" "the command is 'generate'" "$V" toyworld
expect "unknown subcommand" "the command is 'generate'" "$V" toyworld make --seed 1 --count 1 "${O[@]}"
expect "no seed" "--seed S is required" "${G[@]}" --count 2 "${O[@]}"
expect "no count" "--count N is required" "${G[@]}" --seed 1 "${O[@]}"
expect "no output" "-o DIR is required" "${G[@]}" --seed 1 --count 2
expect "count 0" "--count needs an integer 1 \.\. 1000000, not '0'" "${G[@]}" --seed 1 --count 0 "${O[@]}"
expect "count not a number" "--count needs an integer.*'3x'" "${G[@]}" --seed 1 --count 3x "${O[@]}"
expect "size too small" "--size needs an integer 16 \.\. 2048, not '8'" "${G[@]}" --seed 1 --count 2 --size 8 "${O[@]}"
expect "negative seed" "--seed needs an integer" "${G[@]}" --seed -1 --count 2 "${O[@]}"
expect "seed too large" "--seed needs an integer" "${G[@]}" --seed 18446744073709551616 --count 2 "${O[@]}"
expect "unknown format" "--format is png or jpeg, not 'gif'" "${G[@]}" --seed 1 --count 2 --format gif "${O[@]}"
expect "quality 0" "--quality needs an integer 1 \.\. 100" "${G[@]}" --seed 1 --count 2 --format jpeg --quality 0 "${O[@]}"
expect "spurious above 1" "--spurious needs a probability 0 \.\. 1, not '1.5'" "${G[@]}" --seed 1 --count 2 --spurious 1.5 "${O[@]}"
expect "spurious not a number" "--spurious needs a probability" "${G[@]}" --seed 1 --count 2 --spurious high "${O[@]}"
expect "spurious and balanced" "not both" "${G[@]}" --seed 1 --count 2 --spurious 0.9 --balanced "${O[@]}"
expect "unknown option" "unknown argument '--colour'" "${G[@]}" --seed 1 --count 2 --colour red "${O[@]}"
expect "option without value" "-o needs a value" "${G[@]}" --seed 1 --count 2 -o
expect "missing parent directory" "out/x: cannot create a directory next to it" "${G[@]}" --seed 1 --count 2 -o "$T/out/x"

# an existing, non-empty directory is refused and left as it was
mkdir -p "$T/full" && echo keep > "$T/full/keep.txt"
if ! "${G[@]}" --seed 1 --count 2 -o "$T/full" > "$T/log" 2>&1 && grep -q "already exists and is not empty" "$T/log" &&
   [ "$(ls "$T/full")" = keep.txt ] && [ "$(ls -a "$T" | grep -c tmp)" = 0 ]; then ok "non-empty directory refused, untouched"
else bad "non-empty directory"; cat "$T/log"; fi

# a write failing half-way (file size limit): nothing is left
( trap '' XFSZ; ulimit -f 8; exec "${G[@]}" --seed 1 --count 100 --size 32 -o "$T/out" ) > "$T/log" 2>&1; rc=$?
if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -qiE "write|File too large" "$T/log" && ! ls -d "$T"/out* > /dev/null 2>&1; then
  ok "write failure half-way: $(head -1 "$T/log" | cut -c1-120); nothing left"
else bad "write failure half-way: status $rc"; cat "$T/log"; ls -a "$T"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
