#!/bin/bash
# EVALUATION.md part "align_score": COMPALIGN ablation, the scoring function's
# Spearman check and text retrieval on the toy world, for the tiny DeiT
# (aligned to the tiny CLIP) and the tiny CLIP (its own components).
#   bash examples/eval/align_score.sh BUILD WORK OUT.md   (see examples/evaluate.sh)
set -eu
B=$1 W=$2 OUT=$3
X=examples/toy
V="$B/vitrun"
TRAIN_N=${TRAIN_N:-4000} TEST_N=${TEST_N:-1000}
ALIGN_OPTS=(--epochs 100 --lr 1e-3 --patience 200)
PROPS=shape,colour,pattern,background
t0=$(date +%s)
mkdir -p "$W"
log() { echo "align_score: $*" >&2; }

"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$W/deit.vitm" --set size=64 --set patch=8 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set classes=2 --set pos_grid=8 > /dev/null
"$B/vitc" compile archs/openclip_vit_b_16_quickgelu.vit -o "$W/clip.vitm" --set size=32 --set patch=4 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set pos_grid=8 --set proj=64 > /dev/null
"$B/vitc" compile archs/openclip_vit_b_16_quickgelu_text.vit -o "$W/text.vitm" --set ctx=16 --set vocab=602 --set width=64 --set depth=2 \
  --set heads=4 --set mlp=256 --set embed=64 > /dev/null
CLIP=(--clip "$W/clip.vitm" --clip-weights $X/clip_toy.safetensors)
TXT=(--text "$W/text.vitm" --text-weights $X/clip_toy.safetensors --vocab $X/clip_toy_vocab.txt)

for s in train:21:$TRAIN_N test:22:$TEST_N; do
  IFS=: read -r name seed n <<< "$s"
  if [ ! -f "$W/$name/labels.jsonl" ] || [ "$(wc -l < "$W/$name/labels.jsonl")" -ne "$n" ]; then
    rm -rf "$W/$name" "$W/${name}_deit" "$W/${name}_clip"
    "$V" toyworld generate --seed "$seed" --count "$n" --size 64 -o "$W/$name" > /dev/null
  fi
done
index() { # MODEL WEIGHTS SET [OPTIONS...]: a component index (resumes or reuses an earlier one)
  local m=$1 w=$2 s=$3; shift 3
  "$V" index "$W/$m.vitm" --weights "$w" "$W/$s/images" --split head "$@" -o "$W/${s}_$m" > /dev/null 2>&1
}
log "indexing"
index deit $X/deit_toy.safetensors train
index deit $X/deit_toy.safetensors test
index clip $X/clip_toy.safetensors test --output logits

# (1) COMPALIGN ablation
variants=("one shared map:--shared --lambda 1" "per-component maps, lambda = 0:--lambda 0" "per-component maps, lambda = 1:--lambda 1")
abl=""
for i in "${!variants[@]}"; do
  IFS=: read -r label opts <<< "${variants[$i]}"
  log "aligning: $label"
  # shellcheck disable=SC2086
  "$V" align "$W/train_deit" "${CLIP[@]}" "${ALIGN_OPTS[@]}" $opts -o "$W/al$i.safetensors" > "$W/al$i.log" 2>/dev/null
  cosd=$("$V" align "$W/test_deit" "${CLIP[@]}" --aligner "$W/al$i.safetensors" 2>/dev/null |
         sed -n 's/^cosine distance \([0-9.]*\).*/\1/p')
  match=$("$V" describe "$W/test_deit" --aligner "$W/al$i.safetensors" --pool $X/descriptions.txt "${TXT[@]}" -k 10 \
          --labels "$W/test/labels.jsonl" --properties $PROPS 2>/dev/null | sed -n 's/^match rate \([0-9.]*\).*/\1/p')
  steps=$(sed -n 's/.* \([0-9]*\) steps (best \([0-9]*\)).*/\1 (best \2)/p' "$W/al$i.log")
  abl+="| $label | $match | $cosd | $steps |"$'\n'
done
clipmatch=$("$V" describe "$W/test_clip" --pool $X/descriptions.txt "${TXT[@]}" -k 10 \
            --labels "$W/test/labels.jsonl" --properties $PROPS 2>/dev/null | sed -n 's/^match rate \([0-9.]*\).*/\1/p')

# (2) Spearman check, (3) retrieval
spear="" ret="" all="" tpl=""
for m in deit clip; do
  al=(); [ $m = deit ] && al=(--aligner "$W/al2.safetensors")
  log "scoring and retrieving: $m"
  "$V" score "$W/test_$m" "${al[@]}" --features $X/features.json "${TXT[@]}" --validate "${CLIP[@]}" \
    -o "$W/score_$m.json" > "$W/score_$m.log" 2>/dev/null
  within=$(sed -n 's/^  within components \(.*\)/\1/p' "$W/score_$m.log")
  line=$(grep "^  between components:" "$W/score_$m.log")
  b() { echo "$line" | sed -n "s/.* $1 \([-0-9.na]*\).*/\1/p" | tr -d ,; }
  avg=$(echo "$line" | sed -n 's/.*average \([-0-9.na]*\).*/\1/p')
  name=$([ $m = deit ] && echo "tiny DeiT (aligned, lambda = 1)" || echo "tiny CLIP (own components)")
  spear+="| $name | $within | $avg | $(b shape) | $(b colour) | $(b pattern) | $(b background) |"$'\n'
  "$V" score "$W/test_$m" "${al[@]}" --features $X/features_captions.json "${TXT[@]}" --validate "${CLIP[@]}" \
    -o "$W/score_${m}_captions.json" > "$W/score_${m}_captions.log" 2>/dev/null
  within=$(sed -n 's/^  within components \(.*\)/\1/p' "$W/score_${m}_captions.log")
  line=$(grep "^  between components:" "$W/score_${m}_captions.log")
  avg=$(echo "$line" | sed -n 's/.*average \([-0-9.na]*\).*/\1/p')
  spear+="| $name, caption templates | $within | $avg | $(b shape) | $(b colour) | $(b pattern) | $(b background) |"$'\n'
  row="| $name |"
  for f in shape colour pattern background; do
    p=$("$V" retrieve "$W/test_$m" "${al[@]}" --features $X/features.json --feature $f --each "${TXT[@]}" \
        --labels "$W/test/labels.jsonl" --property $f -n 20 2>/dev/null | sed -n 's/^mean precision@20 \([0-9.]*\).*/\1/p')
    row+=" $p |"
  done
  ret+="$row"$'\n'
  row="| $name, caption templates |"
  for f in shape colour pattern background; do
    p=$("$V" retrieve "$W/test_$m" "${al[@]}" --features $X/features_captions.json --feature $f --each "${TXT[@]}" \
        --labels "$W/test/labels.jsonl" --property $f -n 20 2>/dev/null |
        sed -n 's/^mean precision@20 \([0-9.]*\).*/\1/p')
    row+=" $p |"
  done
  tpl+="$row"$'\n'
  row="| $name, all 17 components |"
  for f in shape colour pattern background; do
    p=$("$V" retrieve "$W/test_$m" "${al[@]}" --features $X/features.json --feature $f --each "${TXT[@]}" --components 17 \
        --labels "$W/test/labels.jsonl" --property $f -n 20 2>/dev/null | sed -n 's/^mean precision@20 \([0-9.]*\).*/\1/p')
    row+=" $p |"
  done
  all+="$row"$'\n'
done
ret+="$tpl$all"

# (3) again on the paper's range: it decomposes blocks 7-11 of 12 for retrieval; here the last two of 4
log "retrieving on blocks 2-3"
"$V" index "$W/deit.vitm" --weights $X/deit_toy.safetensors "$W/train/images" --split head --from 2 -o "$W/train_deit_from2" > /dev/null 2>&1
"$V" index "$W/deit.vitm" --weights $X/deit_toy.safetensors "$W/test/images" --split head --from 2 -o "$W/test_deit_from2" > /dev/null 2>&1
"$V" index "$W/clip.vitm" --weights $X/clip_toy.safetensors "$W/test/images" --split head --from 2 --output logits -o "$W/test_clip_from2" > /dev/null 2>&1
"$V" align "$W/train_deit_from2" "${CLIP[@]}" "${ALIGN_OPTS[@]}" --lambda 1 -o "$W/al_from2.safetensors" > "$W/al_from2.log" 2>/dev/null
ret2="" spear2=""
for m in deit clip; do
  al=(); [ $m = deit ] && al=(--aligner "$W/al_from2.safetensors")
  name=$([ $m = deit ] && echo "tiny DeiT (aligned, lambda = 1)" || echo "tiny CLIP (own components)")
  for fj in features features_captions; do
    "$V" score "$W/test_${m}_from2" "${al[@]}" --features $X/$fj.json "${TXT[@]}" --validate "${CLIP[@]}" \
      -o "$W/score_${m}_from2_$fj.json" > "$W/score_${m}_from2_$fj.log" 2>/dev/null
    within=$(sed -n 's/^  within components \(.*\)/\1/p' "$W/score_${m}_from2_$fj.log")
    line=$(grep "^  between components:" "$W/score_${m}_from2_$fj.log")
    avg=$(echo "$line" | sed -n 's/.*average \([-0-9.na]*\).*/\1/p')
    row="| $name |"; [ $fj = features ] || row="| $name, caption templates |"
    spear2+="$row $within | $avg | $(b shape) | $(b colour) | $(b pattern) | $(b background) |"$'\n'
  done
  for fj in features features_captions; do
    row="| $name |"; [ $fj = features ] || row="| $name, caption templates |"
    for f in shape colour pattern background; do
      p=$("$V" retrieve "$W/test_${m}_from2" "${al[@]}" --features $X/$fj.json --feature $f --each "${TXT[@]}" \
          --labels "$W/test/labels.jsonl" --property $f -n 20 2>/dev/null | sed -n 's/^mean precision@20 \([0-9.]*\).*/\1/p')
      row+=" $p |"
    done
    ret2+="$row"$'\n'
  done
done
# grids: the DeiT's top 12 images for a query within its feature (blocks 2-3, the caption templates)
mkdir -p docs/eval
for q in shape:star pattern:striped; do
  IFS=: read -r f t <<< "$q"
  "$V" retrieve "$W/test_deit_from2" --aligner "$W/al_from2.safetensors" --features $X/features_captions.json --feature $f \
    --query $t "${TXT[@]}" -n 12 --grid docs/eval/retrieve_deit_$t.png > "$W/retrieve_deit_$t.txt" 2>/dev/null
done
cosd2=$("$V" align "$W/test_deit_from2" "${CLIP[@]}" --aligner "$W/al_from2.safetensors" 2>/dev/null |
        sed -n 's/^cosine distance \([0-9.]*\).*/\1/p')
t1=$(date +%s)

cat > "$OUT" <<EOF
## Alignment, scores and retrieval (\`vitrun align / describe / score / retrieve\`)

Regenerate with \`bash examples/evaluate.sh align_score\` (examples/eval/align_score.sh; $((t1 - t0)) s on a busy
2-core machine). Data: \`vitrun toyworld generate --seed 21 --count $TRAIN_N --size 64\` (alignment) and
\`--seed 22 --count $TEST_N\` (everything measured). Components: component indexes (\`vitrun index --split head\`) of the tiny
DeiT's \`repr\` and of the tiny CLIP's image embedding (\`--output logits\`): 17 each (init, 4 blocks x (3 heads + MLP)).
Descriptions: examples/toy/descriptions.txt (66 phrasings, 3 per attribute value); features:
examples/toy/features.json (shape 6, colour 8, pattern 4, background 4 descriptions), embedded by the tiny CLIP's
text tower without templates.

**(1) COMPALIGN ablation, tiny DeiT -> tiny CLIP.** \`vitrun align ... ${ALIGN_OPTS[*]}\` (Adam, weight decay 1e-6,
batch 32, 10 % held out for early stopping; the paper's lr 3e-4 and 2 epochs are for ImageNet, far more steps than
this set gives). Cosine distance: mean 1 - cos(sum of aligned components, CLIP image embedding) on the $TEST_N test
images (\`vitrun align --aligner\`). Match rate (our definition; the reference code has none): for each component,
its property is the label key (shape, colour, pattern, background) whose values explain most of its un-aligned
variance (eta squared); its match is the fraction of its top-10 TextSpan descriptions (\`vitrun describe -k 10\`)
that name a value of that property; averaged over the 17 components. Chance is about 0.18 to 0.36 depending on the
property (12 to 24 of the 66 phrasings). For reference, the tiny CLIP's own components reach $clipmatch.

| aligner | top-10 match rate | cosine distance (test) | steps |
| --- | --- | --- | --- |
${abl}
**(2) Scores against CLIP's own ranking** (\`vitrun score --validate\`, the paper's check from
image_retrieval_from_text_quant.py, with all descriptions of each feature): Spearman correlation between the scoring
function and the correlation of each component's projection on each description with CLIP's image-text
similarity; within components (ordering of the features, mean over components) and between components (ordering of
the components, per feature, and their mean). The rows "caption templates" embed the descriptions through the captions' frames
(examples/toy/features_captions.json), as the reference embeds them through its templates.

| model | within components | between components (average) | shape | colour | pattern | background |
| --- | --- | --- | --- | --- | --- | --- |
${spear}
**(3) Text retrieval, precision@20** (\`vitrun retrieve --feature F --each -n 20\`): every description of the feature
is a query; images are ranked by the query's dot product with the summed aligned contributions of the feature's
top-3 components by score; an image is relevant when its label has the queried value; mean over the feature's
values. Chance: 1/6, 1/8, 1/4, 1/4. Target 0.8. The rows "caption templates" embed every description (for the
component ranking and as the query) through the captions' frame for that feature (examples/toy/templates/F.txt:
every caption with the feature's slot left open, e.g. "a red striped {} on grass"), averaged: the
reference code's image_retrieval_from_text.py likewise embeds its descriptions and queries through its templates
file, and the tiny CLIP's zero-shot classifiers (its section) use the same frames
(examples/toy/features_captions.json: the features with their templates files). The tiny DeiT is a two-class classifier (colour group, with a
spurious background cue) on a backbone trained on the four attributes (its section above: colour and
background fully, pattern 96.7 % and shape 92.7 % by linear heads). The rows "all 17 components" use
the whole (aligned) representation instead of the top 3: for the tiny CLIP that is its image embedding, the bound
on what any choice of its components can reach with its own text tower.

| model | shape | colour | pattern | background |
| --- | --- | --- | --- | --- |
${ret}
The same on the paper's range. The paper decomposes blocks 7-11 of 12 for retrieval, everything before them one
component ("init"); here the last two of the 4 blocks (\`vitrun index --split head --from 2\`: init, 2 x (3 heads + MLP),
9 components), the DeiT's aligner trained on those components as above (lambda 1; cosine distance $cosd2 on the test
images), the top 3 chosen by score among all 9 as the reference's script does (init included). This range was
first measured after the all-blocks rows above, which miss the target for the tiny DeiT; it is the paper's own
choice for retrieval, not one picked among several here (no other range was run for this table):

| model, blocks 2-3 | shape | colour | pattern | background |
| --- | --- | --- | --- | --- |
${ret2}
Pictures: \`docs/eval/retrieve_deit_star.png\` and \`docs/eval/retrieve_deit_striped.png\`, the tiny DeiT's top 12 test images
for "star" within shape and "striped" within pattern (\`vitrun retrieve test_deit_from2 --aligner al_from2.safetensors
--features examples/toy/features_captions.json --feature shape --query star -n 12 --grid ...\`; components
$(sed -n 's/^feature shape, components: //p' "$W/retrieve_deit_star.txt") and
$(sed -n 's/^feature pattern, components: //p' "$W/retrieve_deit_striped.txt")).

The scoring function's Spearman check (2) on the same components:

| model, blocks 2-3 | within components | between components (average) | shape | colour | pattern | background |
| --- | --- | --- | --- | --- | --- | --- |
${spear2}
EOF
log "done in $((t1 - t0)) s"
