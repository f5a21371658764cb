#!/bin/bash
# vitrun align / describe / score / retrieve on a small generated toy set
# with the tiny DeiT and the tiny CLIP of examples/toy, from components files
# and from component indexes (vitrun index): each command runs,
# writes its outputs, and the numbers it prints are sane (CLIP's own
# components score their features; retrieval of a colour by CLIP's own
# components beats chance).  Every bad request (a feature with one
# description, an aligner of other dimensions, a probe from another module,
# an empty pool, images that do not match the components, a file that is not
# an aligner, a list with a line longer than 1 MiB) fails with a clear
# message and leaves no output file.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
X=examples/toy
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass+1)); }
bad() { echo "not ok - $1"; fail=$((fail+1)); }
run() { # run NAME CMD...: must succeed
  local name=$1; shift
  if "$@" > "$T/log" 2>&1; then ok "$name"; else bad "$name: exit status $?"; cat "$T/log"; fi
}
# expect NAME PATTERN CMD...: fails cleanly, message matches PATTERN, no output file (-o / --grid under $T/out.*)
expect() {
  local name=$1 pat=$2; shift 2
  rm -f "$T"/out.*
  "$@" > "$T/log" 2>&1; local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then bad "$name: exit status $rc"; cat "$T/log"; return; fi
  if ! grep -qiE -- "$pat" "$T/log"; then bad "$name: message does not match /$pat/:"; cat "$T/log"; return; fi
  if ls "$T"/out.* > /dev/null 2>&1; then bad "$name: output file left behind"; return; fi
  ok "$name: $(grep -iE -- "$pat" "$T/log" | head -1 | cut -c1-150)"
}

"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$T/deit.vitm" --set size=64 --set patch=8 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set classes=2 --set pos_grid=8 > /dev/null || { echo "not ok - compile deit"; exit 1; }
"$B/vitc" compile archs/openclip_vit_b_16_quickgelu.vit -o "$T/clip.vitm" --set size=32 --set patch=4 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set pos_grid=8 --set proj=64 > /dev/null || { echo "not ok - compile clip"; exit 1; }
"$B/vitc" compile archs/openclip_vit_b_16_quickgelu_text.vit -o "$T/text.vitm" --set ctx=16 --set vocab=602 --set width=64 --set depth=2 \
  --set heads=4 --set mlp=256 --set embed=64 > /dev/null || { echo "not ok - compile text"; exit 1; }
"$B/vitrun" toyworld generate --seed 5 --count 160 --size 64 -o "$T/set" > /dev/null || { echo "not ok - toyworld"; exit 1; }
IMGS=("$T"/set/images/*.png)
"$B/vitrun" decompose "$T/deit.vitm" --weights $X/deit_toy.safetensors --split head "${IMGS[@]}" -o "$T/deit.safetensors" > /dev/null &&
"$B/vitrun" decompose "$T/clip.vitm" --weights $X/clip_toy.safetensors --output logits --split head "${IMGS[@]}" -o "$T/clip.safetensors" > /dev/null ||
  { echo "not ok - decompose"; exit 1; }
CLIP=(--clip "$T/clip.vitm" --clip-weights $X/clip_toy.safetensors)
TXT=(--text "$T/text.vitm" --text-weights $X/clip_toy.safetensors --vocab $X/clip_toy_vocab.txt)

# align: trains, writes the aligner and its report; measuring it on the same images gives a distance
run "align trains" "$B/vitrun" align "$T/deit.safetensors" "${IMGS[@]}" "${CLIP[@]}" -o "$T/al.safetensors" --epochs 3 --lr 1e-3
grep -q "held-out cosine distance" "$T/log" && [ -f "$T/al.json" ] && grep -q '"heldout_cosine_distance"' "$T/al.json" &&
  ok "align report" || bad "align report"
run "align measures" "$B/vitrun" align "$T/deit.safetensors" "${IMGS[@]}" "${CLIP[@]}" --aligner "$T/al.safetensors"
d=$(sed -n 's/^cosine distance \([0-9.]*\).*/\1/p' "$T/log")
awk -v d="$d" 'BEGIN { exit !(d > 0 && d < 1) }' && ok "aligned cosine distance $d in (0, 1)" || bad "aligned cosine distance '$d'"
run "align --shared --lambda 0" "$B/vitrun" align "$T/deit.safetensors" "${IMGS[@]}" "${CLIP[@]}" -o "$T/al1.safetensors" --epochs 2 --shared --lambda 0
grep -q '"shared":	true' "$T/al1.json" && ok "shared map recorded" || bad "shared map recorded"

# describe: every component gets k descriptions with their variance; CLIP's own components need no aligner
run "describe (aligned)" "$B/vitrun" describe "$T/deit.safetensors" --aligner "$T/al.safetensors" --pool $X/descriptions.txt "${TXT[@]}" -k 4 \
  -o "$T/desc.json" --labels "$T/set/labels.jsonl" --properties shape,colour,pattern,background
[ "$(grep -c '"variance"' "$T/desc.json")" -eq $((17 * 4)) ] && ok "describe: 17 components x 4 descriptions" || bad "describe output"
grep -q "^match rate" "$T/log" && ok "describe: match rate printed" || bad "describe: match rate"
run "describe (CLIP's own)" "$B/vitrun" describe "$T/clip.safetensors" --pool $X/descriptions.txt "${TXT[@]}" -k 3

# score: ranked table per feature, and the check against CLIP's own ranking
run "score --validate" "$B/vitrun" score "$T/clip.safetensors" --features $X/features.json "${TXT[@]}" --validate "${IMGS[@]}" "${CLIP[@]}" -o "$T/score.json"
grep -q '"between_average"' "$T/score.json" && ok "score: validation in the JSON" || bad "score JSON"
w=$(sed -n 's/^  within components \(.*\)/\1/p' "$T/log")
awk -v w="$w" 'BEGIN { exit !(w > 0.2) }' && ok "CLIP's own components: within-component Spearman $w > 0.2" || bad "within-component Spearman '$w'"
printf 'red\nblue\ngreen\n' > "$T/colour.txt"; printf 'on sky\non water\n' > "$T/bg.txt"
run "score with feature files" "$B/vitrun" score "$T/deit.safetensors" --aligner "$T/al.safetensors" --features "$T/colour.txt" --features "$T/bg.txt" "${TXT[@]}" --top 2
grep -q "^colour (3 descriptions)" "$T/log" && grep -q "^bg (2 descriptions)" "$T/log" && ok "features named by file stem" || bad "feature files"

# a feature with its own templates (path relative to the JSON) scores as the plain feature with --templates
mkdir -p "$T/ft"; printf '{} plain circle on grass\n{} striped square on sand\n' > "$T/ft/tpl.txt"
printf '{"colour": {"descriptions": ["a red", "a blue", "a green"], "templates": "tpl.txt"}}\n' > "$T/ft/f.json"
printf '{"colour": ["a red", "a blue", "a green"]}\n' > "$T/ft/plain.json"
"$B/vitrun" score "$T/clip.safetensors" --features "$T/ft/f.json" "${TXT[@]}" > "$T/ft/a.txt" 2> /dev/null &&
"$B/vitrun" score "$T/clip.safetensors" --features "$T/ft/plain.json" --templates "$T/ft/tpl.txt" "${TXT[@]}" > "$T/ft/b.txt" 2> /dev/null &&
"$B/vitrun" score "$T/clip.safetensors" --features "$T/ft/plain.json" "${TXT[@]}" > "$T/ft/c.txt" 2> /dev/null
if cmp -s "$T/ft/a.txt" "$T/ft/b.txt" && ! cmp -s "$T/ft/a.txt" "$T/ft/c.txt"; then ok "a feature's own templates: the scores of --templates, not those without"
else bad "a feature's own templates"; diff "$T/ft/a.txt" "$T/ft/b.txt" | head -5; fi

# retrieve: text queries within a feature, precision from the labels, a grid of the top images
run "retrieve text" "$B/vitrun" retrieve "$T/clip.safetensors" --features $X/features.json --feature colour --each "${TXT[@]}" \
  --labels "$T/set/labels.jsonl" --property colour "${IMGS[@]}" -n 10 --grid "$T/grid.png" -o "$T/ret.json"
p=$(sed -n 's/^mean precision@10 \([0-9.]*\).*/\1/p' "$T/log")
awk -v p="$p" 'BEGIN { exit !(p > 0.25) }' && ok "colour retrieval by CLIP's own top-3 components: precision@10 $p > 0.25 (chance 0.125)" || bad "precision '$p'"
head -c 8 "$T/grid.png" | od -c | grep -q "P   N   G" && ok "grid is a PNG" || bad "grid PNG"
run "retrieve image probe" "$B/vitrun" retrieve "$T/deit.safetensors" --aligner "$T/al.safetensors" --features $X/features.json \
  --feature background --probe "$T/deit.safetensors" --probe-index 2 "${TXT[@]}" -n 5

# a component index (vitrun index) in place of a components file: the same numbers, its own images
"$B/vitrun" index "$T/deit.vitm" --weights $X/deit_toy.safetensors "$T/set/images" --split head -o "$T/ixd" > /dev/null 2>&1 &&
"$B/vitrun" index "$T/clip.vitm" --weights $X/clip_toy.safetensors "$T/set/images" --split head --output logits -o "$T/ixc" > /dev/null 2>&1 ||
  bad "vitrun index"
run "align --aligner on an index (its own images)" "$B/vitrun" align "$T/ixd" "${CLIP[@]}" --aligner "$T/al.safetensors"
d2=$(sed -n 's/^cosine distance \([0-9.]*\).*/\1/p' "$T/log")
[ "$d2" = "$d" ] && ok "index = components file: cosine distance $d2" || bad "index cosine distance '$d2' vs '$d'"
run "score --validate on an index" "$B/vitrun" score "$T/ixc" --features $X/features.json "${TXT[@]}" --validate "${CLIP[@]}"
[ "$(sed -n 's/^  within components \(.*\)/\1/p' "$T/log")" = "$w" ] && ok "index = components file: within-component Spearman" ||
  bad "index Spearman"
run "retrieve on an index with a grid" "$B/vitrun" retrieve "$T/ixc" --features $X/features.json --feature colour --query "a red" \
  "${TXT[@]}" -n 10 --grid "$T/grid2.png"
[ -s "$T/grid2.png" ] && ok "grid from the index's own images" || bad "grid from the index"

# bad input
expect "probe index from another module" "the probe index .* comes from another module" \
  "$B/vitrun" retrieve "$T/ixd" --aligner "$T/al.safetensors" --features $X/features.json --feature colour \
  --probe "$T/ixc" "${TXT[@]}" -o "$T/out.json"
expect "aligner of other dimensions on an index" "the aligner maps 17 components of dimension 96, but the contributions have 17 components of dimension 64" \
  "$B/vitrun" retrieve "$T/ixc" --aligner "$T/al.safetensors" --features $X/features.json --feature colour --query red "${TXT[@]}" -o "$T/out.json"
printf '{"colour": ["red", "blue"], "shape": ["a circle"]}\n' > "$T/one.json"
expect "feature with one description" "feature 'shape' has 1 description; a feature needs at least 2" \
  "$B/vitrun" score "$T/clip.safetensors" --features "$T/one.json" "${TXT[@]}" -o "$T/out.json"
printf '{"colour": {"descriptions": ["red", "blue"], "templates": "missing.txt"}}\n' > "$T/ft/bad.json"
expect "a feature's templates file missing" "feature 'colour': templates .*missing.txt: No such file" \
  "$B/vitrun" score "$T/clip.safetensors" --features "$T/ft/bad.json" "${TXT[@]}" -o "$T/out.json"
printf '{"colour": {"templates": "tpl.txt"}}\n' > "$T/ft/bad.json"
expect "a feature object without descriptions" "feature 'colour': an object needs \"descriptions\"" \
  "$B/vitrun" score "$T/clip.safetensors" --features "$T/ft/bad.json" "${TXT[@]}" -o "$T/out.json"
printf 'red\n' > "$T/lonely.txt"
expect "feature file with one description" "feature 'lonely' has 1 description" \
  "$B/vitrun" retrieve "$T/clip.safetensors" --features "$T/lonely.txt" --feature lonely --query red "${TXT[@]}" -o "$T/out.json"
expect "aligner of other dimensions" "the aligner maps 17 components of dimension 96, but the contributions have 17 components of dimension 64" \
  "$B/vitrun" score "$T/clip.safetensors" --aligner "$T/al.safetensors" --features $X/features.json "${TXT[@]}" -o "$T/out.json"
expect "aligner of other dimensions (describe)" "the aligner maps 17 components of dimension 96" \
  "$B/vitrun" describe "$T/clip.safetensors" --aligner "$T/al.safetensors" --pool $X/descriptions.txt "${TXT[@]}" -o "$T/out.json"
expect "not an aligner" "not an aligner" \
  "$B/vitrun" retrieve "$T/deit.safetensors" --aligner "$T/clip.safetensors" --features $X/features.json --feature colour --query red "${TXT[@]}" -o "$T/out.json"
expect "un-aligned non-CLIP components" "dimensions but the aligned components 96.*give --aligner" \
  "$B/vitrun" score "$T/deit.safetensors" --features $X/features.json "${TXT[@]}" -o "$T/out.json"
expect "probe from another module" "the probe .* has 17 components of dimension 64 .* decompose the probe with the same module" \
  "$B/vitrun" retrieve "$T/deit.safetensors" --aligner "$T/al.safetensors" --features $X/features.json --feature colour \
  --probe "$T/clip.safetensors" "${TXT[@]}" -o "$T/out.json" --grid "$T/out.png" "${IMGS[@]}"
: > "$T/empty.txt"
expect "empty description pool" "description pool is empty" \
  "$B/vitrun" describe "$T/clip.safetensors" --pool "$T/empty.txt" "${TXT[@]}" -o "$T/out.json"
expect "images do not match the components" "the components hold 160 images but 3 images were given" \
  "$B/vitrun" align "$T/deit.safetensors" "${IMGS[@]:0:3}" "${CLIP[@]}" -o "$T/out.safetensors"
expect "aligner of other dimensions (align --aligner)" "the aligner maps 17 components of dimension 96" \
  "$B/vitrun" align "$T/clip.safetensors" "${IMGS[@]}" "${CLIP[@]}" --aligner "$T/al.safetensors"
expect "align without the CLIP tower" "--clip MODULE --clip-weights W" \
  "$B/vitrun" align "$T/deit.safetensors" "${IMGS[@]}" -o "$T/out.safetensors"
expect "components file missing" "none.safetensors" \
  "$B/vitrun" score "$T/none.safetensors" --features $X/features.json "${TXT[@]}" -o "$T/out.json"
expect "unknown feature" "no feature 'texture'" \
  "$B/vitrun" retrieve "$T/clip.safetensors" --features $X/features.json --feature texture --query red "${TXT[@]}" -o "$T/out.json"
expect "labels without the key" "has no string 'texture'" \
  "$B/vitrun" describe "$T/clip.safetensors" --pool $X/descriptions.txt "${TXT[@]}" --labels "$T/set/labels.jsonl" --properties texture -o "$T/out.json"
{ echo "$T/set/images/000000.png"; head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' a; echo; } > "$T/long.txt"
expect "a line longer than 1 MiB in a list" "long.txt:2: a line longer than 1048576 bytes \(1 MiB\)" \
  "$B/vitrun" align "$T/deit.safetensors" --images "$T/long.txt" "${CLIP[@]}" -o "$T/out.safetensors"
{ echo "a red"; head -c $((1024 * 1024)) /dev/zero | tr '\0' b; echo; } > "$T/long.txt"
expect "a line of 1 MiB is read" "the components hold 160 images but 2 images were given" \
  "$B/vitrun" align "$T/deit.safetensors" --images "$T/long.txt" "${CLIP[@]}" -o "$T/out.safetensors"
expect "bad option value" "--lambda needs a number" \
  "$B/vitrun" align "$T/deit.safetensors" "${IMGS[@]}" "${CLIP[@]}" -o "$T/out.safetensors" --lambda -1

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
