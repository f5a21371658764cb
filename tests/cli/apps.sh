#!/bin/bash
# vitrun heatmap, segment, ablate and probe on the toy models and a small toy
# world: each writes what it says (PNG pictures, reports, a probe), ablating
# the probe's top background components changes accuracy, ablate and heatmap
# pick the components vitrun score ranks highest for a feature, and every bad
# request (unknown component, a probe, text tower or score file of another
# module, a feature a score file lacks, more components than there are, an
# empty folder, labels that do not fit) fails with a clear message and leaves
# no output file.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
V="$B/vitrun"
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass+1)); }
bad() { echo "not ok - $1"; fail=$((fail+1)); }
png() { head -c 8 "$1" 2>/dev/null | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'; }

# expect NAME PATTERN CMD...: fails cleanly, message matches PATTERN, no $T/out* left
expect() {
  local name=$1 pat=$2; shift 2
  rm -f "$T"/out*
  "$@" > "$T/log" 2>&1; local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then bad "$name: exit status $rc"; cat "$T/log"; return; fi
  if ! grep -qiE -- "$pat" "$T/log"; then bad "$name: message does not match /$pat/:"; cat "$T/log"; return; fi
  if ls "$T"/out* > /dev/null 2>&1; then bad "$name: output left behind: $(ls "$T"/out*)"; return; fi
  ok "$name: $(grep -iE -- "$pat" "$T/log" | head -1 | cut -c1-150)"
}

"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$T/deit.vitm" --set size=64 --set patch=8 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set classes=2 --set pos_grid=8 > /dev/null &&
"$B/vitc" compile archs/openclip_vit_b_16_quickgelu.vit -o "$T/clip.vitm" --set size=32 --set patch=4 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set pos_grid=8 --set proj=64 > /dev/null &&
"$B/vitc" compile archs/openclip_vit_b_16_quickgelu_text.vit -o "$T/text.vitm" --set ctx=16 --set vocab=602 --set width=64 --set depth=2 \
  --set heads=4 --set mlp=256 --set embed=64 > /dev/null &&
"$V" toyworld generate --seed 2 --count 24 --size 64 --balanced -o "$T/data" > /dev/null &&
"$V" toyworld generate --seed 1 --count 96 --size 64 --spurious 0.9 -o "$T/train" > /dev/null || { echo "not ok - setup"; exit 1; }
D=(--weights examples/toy/deit_toy.safetensors)
C=(--weights examples/toy/clip_toy.safetensors)

# probe and ablate
if "$V" probe "$T/clip.vitm" "${C[@]}" "$T/train" -o "$T/probe.safetensors" > "$T/log" 2>&1 && [ -f "$T/probe.safetensors" ] &&
   grep -q "probe on 'repr' \[96\] for 2 classes, 96 images" "$T/log"; then ok "probe: $(head -1 "$T/log" | cut -c1-120)"
else bad "probe"; cat "$T/log"; fi
if "$V" ablate "$T/clip.vitm" "${C[@]}" --probe "$T/probe.safetensors" --rank domain-class --top 2 --reference "$T/train" "$T/data" \
     -o "$T/abl.json" > "$T/log" 2>&1 && grep -q '"after": {"average"' "$T/abl.json" && [ "$(grep -c '^  \* ' "$T/log")" = 2 ] &&
   grep -q "^before .*A on land" "$T/log"; then ok "ablate with a probe, ranked by domain minus class"
else bad "ablate --rank"; cat "$T/log"; fi
# the model's own head: ablating a whole layer by its scope changes nothing for 'before'
if "$V" ablate "$T/deit.vitm" "${D[@]}" --components "blocks.3" --zero "$T/data" > "$T/log" 2>&1 &&
   grep -q "zero-ablating 4 components of logits (the model's head), 24 images" "$T/log"; then ok "ablate a layer by scope (3 heads + MLP)"
else bad "ablate --components blocks.3"; cat "$T/log"; fi
if "$V" ablate --layers "$T/curve.png" --model deit="$T/deit.vitm",examples/toy/deit_toy.safetensors \
     --model clip="$T/clip.vitm",examples/toy/clip_toy.safetensors,"$T/probe.safetensors" "$T/data" > "$T/log" 2>&1 && png "$T/curve.png" &&
   [ "$(grep -c '^deit: ' "$T/log")" = 9 ] && [ "$(grep -c '^clip: ' "$T/log")" = 9 ]; then ok "layer-ablation chart of two models (8 components each)"
else bad "ablate --layers"; cat "$T/log"; fi

# components chosen by the paper's score: an index of the model, an aligner to the CLIP, scores of the
# toy features (vitrun score -o), then ablate / heatmap --scores; bad score files are refused
X=examples/toy
TXT=(--text "$T/text.vitm" --text-weights $X/clip_toy.safetensors --vocab $X/clip_toy_vocab.txt)
scores() { # NAME INDEX-OPTIONS...: index, align, score into $T/NAME.json
  local n=$1; shift
  "$V" index "$T/deit.vitm" "${D[@]}" "$T/data/images" "$@" -o "$T/ix_$n" > /dev/null 2>&1 &&
  "$V" align "$T/ix_$n" --clip "$T/clip.vitm" --clip-weights $X/clip_toy.safetensors --epochs 2 -o "$T/al_$n.safetensors" > /dev/null 2>&1 &&
  "$V" score "$T/ix_$n" --aligner "$T/al_$n.safetensors" --features $X/features.json "${TXT[@]}" -o "$T/$n.json" > /dev/null 2>&1
}
scores sc --split head && scores sc_from2 --split head --from 2 || { echo "not ok - score setup"; exit 1; }
if grep -q '"weights_hash"' "$T/sc.json" && grep -q '"decomposition":[[:space:]]*"output=repr split=head' "$T/sc.json"; then ok "score -o records the weights and the decomposition"
else bad "score -o provenance"; head -c 600 "$T/sc.json"; fi
# the three best components for background by vitrun score's own listing (init is not ablated)
top3=$("$V" score "$T/ix_sc" --aligner "$T/al_sc.safetensors" --features $X/features.json "${TXT[@]}" 2> /dev/null |
       sed -n '/^background /,$p' | sed -n 's/^ *[0-9]*  [-+][0-9.]*  //p' | grep -v '^init$' | head -3 | paste -sd';')
if "$V" ablate "$T/deit.vitm" "${D[@]}" --scores "$T/sc.json" --feature background --top 3 "$T/data" -o "$T/abl_sc.json" > "$T/log" 2>&1 &&
   grep -q "^components by score for background ($T/sc.json, 24 images):" "$T/log" && [ "$(grep -c '^  \* ' "$T/log")" = 3 ] &&
   [ "$(sed -n 's/^  \* \(.*[^ ]\)  *[-0-9.]*$/\1/p' "$T/log" | paste -sd';')" = "$top3" ] && grep -q '"after": {"average"' "$T/abl_sc.json"
then ok "ablate --scores: the 3 components scored highest for background ($top3)"
else bad "ablate --scores (expected $top3)"; cat "$T/log"; fi
if "$V" ablate "$T/deit.vitm" "${D[@]}" --scores "$T/sc.json" --feature background-colour --top 2 "$T/data" > "$T/log" 2>&1 &&
   grep -q "^components by score for background-colour" "$T/log" && [ "$(grep -c '^  \* ' "$T/log")" = 2 ]
then ok "ablate --scores: background minus colour (spurious minus core)"
else bad "ablate --scores F-G"; cat "$T/log"; fi
if "$V" heatmap "$T/deit.vitm" "${D[@]}" --class 1 --scores "$T/sc.json" --feature background --top 2 "$T/data/images/000003.png" \
     -o "$T/hm_sc.png" > "$T/log" 2>&1 && png "$T/hm_sc.png" && grep -q "^heads by variance explained for background ($T/sc.json): blocks" "$T/log" &&
   grep -q "1 image x 3 panels" "$T/log"; then ok "heatmap --scores: the 2 heads whose variance background explains most (as the reference)"
else bad "heatmap --scores"; cat "$T/log"; fi
# a score file without "explained" (an older vitrun score): the heads by the score, as before
sed 's/"explained":/"other":/' "$T/sc.json" > "$T/sc_old.json"
if "$V" heatmap "$T/deit.vitm" "${D[@]}" --class 1 --scores "$T/sc_old.json" --feature background --top 2 "$T/data/images/000003.png" \
     -o "$T/hm_old.png" > "$T/log" 2>&1 && grep -q "^heads by score for background ($T/sc_old.json): blocks" "$T/log"
then ok "heatmap --scores: a score file without variance explained picks by the score"
else bad "heatmap --scores (old file)"; cat "$T/log"; fi
if grep -q '"explained":' "$T/sc.json" && [ "$(sed -n '/"explained":/,$p' "$T/sc.json" | grep -c '"background":')" = 1 ]
then ok "score -o records each component's variance explained per feature"
else bad "score -o: no variance explained"; fi
cp examples/toy/deit_toy.safetensors "$T/other.safetensors"
printf '\001' | dd of="$T/other.safetensors" bs=1 seek=$(( $(wc -c < "$T/other.safetensors") - 1 )) conv=notrunc 2> /dev/null
expect "score file of other weights (ablate)" "sc.json was computed for other weights .*, not .*other.safetensors" \
  "$V" ablate "$T/deit.vitm" --weights "$T/other.safetensors" --scores "$T/sc.json" --feature background --top 2 "$T/data" -o "$T/out.json"
expect "score file of another module (ablate)" "computed for other weights \(examples/toy/deit_toy.safetensors" \
  "$V" ablate "$T/clip.vitm" "${C[@]}" --probe "$T/probe.safetensors" --scores "$T/sc.json" --feature background --top 2 "$T/data" -o "$T/out.json"
expect "score file of another decomposition (ablate)" "sc_from2.json scores the components of another module or decomposition: it has no component 'blocks.0.attn head 0'" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --scores "$T/sc_from2.json" --feature background --top 2 "$T/data" -o "$T/out.json"
expect "score file of another decomposition (heatmap)" "sc_from2.json scores the components of another module or decomposition" \
  "$V" heatmap "$T/deit.vitm" "${D[@]}" --class 1 --scores "$T/sc_from2.json" --feature background "$T/data/images/000000.png" -o "$T/out.png"
expect "a feature the score file lacks" "has no feature 'location'; its features are: 'shape', 'colour', 'pattern', 'background'" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --scores "$T/sc.json" --feature location --top 2 "$T/data" -o "$T/out.json"
expect "a core feature the score file lacks" "has no feature 'bird'" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --scores "$T/sc.json" --feature background-bird --top 2 "$T/data" -o "$T/out.json"
expect "K larger than the components (ablate --scores)" "--top 17, but .*sc.json ranks only 16 components of this model" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --scores "$T/sc.json" --feature background --top 17 "$T/data" -o "$T/out.json"
expect "K larger than the components (ablate --rank)" "--top 40, but --rank ranks only 16 components" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --rank domain --top 40 "$T/data" -o "$T/out.json"
expect "K larger than the heads (heatmap --scores)" "--top 13, but .*sc.json scores only 12 heads of this model" \
  "$V" heatmap "$T/deit.vitm" "${D[@]}" --class 1 --scores "$T/sc.json" --feature background --top 13 "$T/data/images/000000.png" -o "$T/out.png"
expect "not a score file" "labels.jsonl: not a score file" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --scores "$T/data/labels.jsonl" --feature background "$T/data" -o "$T/out.json"
expect "--scores without --feature" "--scores and --feature go together" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --scores "$T/sc.json" --top 2 "$T/data" -o "$T/out.json"
expect "--scores and --rank together" "one of --components, --scores or --rank" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --scores "$T/sc.json" --feature background --rank domain "$T/data" -o "$T/out.json"
expect "--scores with --layer (heatmap)" "--scores picks the top heads: not with --components or --layer" \
  "$V" heatmap "$T/deit.vitm" "${D[@]}" --class 1 --scores "$T/sc.json" --feature background --layer 3 "$T/data/images/000000.png" -o "$T/out.png"

# segment and heatmap
if "$V" segment "$T/deit.vitm" "${D[@]}" "$T/data" --pictures 2 "$T/seg.png" -o "$T/seg.json" > "$T/log" 2>&1 && png "$T/seg.png" &&
   grep -q "^| decomposition" "$T/log" && grep -q "^| raw attention" "$T/log" && grep -q "^| attention rollout" "$T/log" &&
   grep -q '"miou"' "$T/seg.json"; then ok "segment: decomposition, raw attention and rollout on 24 masks"
else bad "segment"; cat "$T/log"; fi
if "$V" segment "$T/clip.vitm" "${C[@]}" "$T/data" --text-field colour --text-model "$T/text.vitm" --vocab examples/toy/clip_toy_vocab.txt \
     > "$T/log" 2>&1 && grep -q "direction: text of the label field colour" "$T/log" && grep -q "^| attention rollout" "$T/log"; then
  ok "segment: a text direction per image from a label field"
else bad "segment --text-field"; cat "$T/log"; fi
# through an aligner: the identity aligner of the CLIP's own components reproduces the direct reading exactly
# (segment's table, heatmap's picture); the DeiT read through its aligner to the CLIP
SEGT=(--text-field colour --text-model "$T/text.vitm" --vocab examples/toy/clip_toy_vocab.txt)
if "$V" index "$T/clip.vitm" "${C[@]}" "$T/data/images" --output logits --split head -o "$T/ix_clip" > /dev/null 2>&1 &&
   "$V" align "$T/ix_clip" --identity -o "$T/al_id.safetensors" > "$T/log" 2>&1 && grep -q "the identity on 17 components of dimension 64" "$T/log" &&
   "$V" segment "$T/clip.vitm" "${C[@]}" "$T/data" "${SEGT[@]}" -o "$T/seg_direct.json" > /dev/null 2>&1 &&
   "$V" segment "$T/clip.vitm" "${C[@]}" "$T/data" "${SEGT[@]}" --aligner "$T/al_id.safetensors" -o "$T/seg_id.json" > "$T/log" 2>&1 &&
   grep -q "direction: text of the label field colour, through the aligner" "$T/log" &&
   [ "$(grep -v '"target"' "$T/seg_direct.json")" = "$(grep -v '"target"' "$T/seg_id.json")" ]; then
  ok "segment --aligner: the identity aligner gives the direct table ($(grep -m1 miou "$T/seg_id.json" | cut -c1-110))"
else bad "segment --aligner identity"; cat "$T/log"; diff "$T/seg_direct.json" "$T/seg_id.json"; fi
HMT=(--text-model "$T/text.vitm" --vocab examples/toy/clip_toy_vocab.txt --text water --top 2 "$T/data/images/000001.png" "$T/data/images/000002.png")
if "$V" heatmap "$T/clip.vitm" "${C[@]}" "${HMT[@]}" -o "$T/hm_direct.png" > "$T/hm_direct.txt" 2>&1 &&
   "$V" heatmap "$T/clip.vitm" "${C[@]}" "${HMT[@]}" --aligner "$T/al_id.safetensors" -o "$T/hm_id.png" > "$T/hm_id.txt" 2>&1 &&
   [ "$(grep -c ': water [-+]' "$T/hm_id.txt")" = 6 ] && diff <(grep ': water' "$T/hm_direct.txt") <(grep ': water' "$T/hm_id.txt") > /dev/null
then ok "heatmap --aligner: the identity aligner gives the direct panel sums ($(grep -m1 ': water' "$T/hm_id.txt" | sed 's|.*/||'))"
else bad "heatmap --aligner identity"; diff "$T/hm_direct.txt" "$T/hm_id.txt"; fi
if "$V" segment "$T/deit.vitm" "${D[@]}" "$T/data" --output repr "${SEGT[@]}" --text-weights $X/clip_toy.safetensors \
     --aligner "$T/al_sc.safetensors" > "$T/log" 2>&1 && grep -q "^| decomposition" "$T/log" && grep -q "^| attention rollout" "$T/log" &&
   "$V" heatmap "$T/deit.vitm" "${D[@]}" --output repr --text-model "$T/text.vitm" --text-weights $X/clip_toy.safetensors --vocab $X/clip_toy_vocab.txt --text water --aligner "$T/al_sc.safetensors" \
     --scores "$T/sc.json" --feature background "$T/data/images/000001.png" -o "$T/hm_al.png" > "$T/log" 2>&1 && png "$T/hm_al.png" &&
   grep -q "1 image x 4 panels" "$T/log"; then ok "segment / heatmap: the DeiT's tokens read with text through its aligner"
else bad "segment / heatmap --aligner (DeiT)"; cat "$T/log"; fi
if "$V" heatmap "$T/deit.vitm" "${D[@]}" --class 1 --layer 3 "$T/data/images/000003.png" -o "$T/hm.png" > "$T/log" 2>&1 && png "$T/hm.png" &&
   grep -q "1 image x 4 panels (8 x 8 patch grid)" "$T/log"; then ok "heatmap: a class row, the heads of a layer and their sum"
else bad "heatmap --class"; cat "$T/log"; fi
if "$V" heatmap "$T/clip.vitm" "${C[@]}" --text-model "$T/text.vitm" --vocab examples/toy/clip_toy_vocab.txt --text water --top 2 \
     "$T/data/images/000001.png" "$T/data/images/000002.png" -o "$T/hm2.png" > "$T/log" 2>&1 && png "$T/hm2.png" &&
   grep -q "2 images x 3 panels" "$T/log"; then ok "heatmap: a text direction, the top 2 heads"
else bad "heatmap --text"; cat "$T/log"; fi

# bad input
mkdir -p "$T/empty"
expect "unknown component (ablate)" "no component named 'blocks.9.attn head 0'; the components are: 'init'" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --components "blocks.9.attn head 0" "$T/data" -o "$T/out.json"
expect "unknown head (heatmap)" "no head named 'blocks.3.attn head 7'" \
  "$V" heatmap "$T/deit.vitm" "${D[@]}" --class 0 --components "blocks.3.attn head 7" "$T/data/images/000000.png" -o "$T/out.png"
expect "a probe of another module's output" "reads 96 features, but this module's 'logits' has 2" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --probe "$T/probe.safetensors" --output logits --components blocks.3 "$T/data" -o "$T/out.json"
expect "a text tower of another image tower" "text model's embedding has 64 values, the output 'logits' has 2" \
  "$V" heatmap "$T/deit.vitm" "${D[@]}" --text water --text-model "$T/text.vitm" --text-weights examples/toy/clip_toy.safetensors \
  --vocab examples/toy/clip_toy_vocab.txt "$T/data/images/000000.png" -o "$T/out.png"
expect "a class the output does not have" "--class 2, but the output 'logits' has 2 rows" \
  "$V" heatmap "$T/deit.vitm" "${D[@]}" --class 2 "$T/data/images/000000.png" -o "$T/out.png"
expect "empty folder (segment)" "no images \(\*\.png, \*\.jpg\) in this folder" "$V" segment "$T/deit.vitm" "${D[@]}" "$T/empty" -o "$T/out.json"
expect "empty folder (heatmap)" "no images" "$V" heatmap "$T/deit.vitm" "${D[@]}" --class 0 "$T/empty" -o "$T/out.png"
expect "images without masks (segment)" "no mask in the labels" "$V" segment "$T/deit.vitm" "${D[@]}" "$T/data/images" -o "$T/out.json"
mkdir -p "$T/bad"; cp -r "$T/data/images" "$T/bad/"
sed 's/"class": 1/"class": 5/' "$T/data/labels.jsonl" > "$T/bad/labels.jsonl"
expect "labels that do not fit the head" "labels do not match the model's output: .* has class 5, but the head has 2 classes" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --components blocks.3 "$T/bad" -o "$T/out.json"
echo '{"index": 0}' > "$T/bad/labels.jsonl"
expect "a labels file without images" "not a label record with an \"image\"" "$V" probe "$T/clip.vitm" "${C[@]}" "$T/bad" -o "$T/out.safetensors"
head -3 "$T/data/labels.jsonl" | sed 's/"domain": "[a-z]*", //' > "$T/bad/labels.jsonl"
expect "ranking by a field the labels lack" "no label field \"domain\"" \
  "$V" ablate "$T/deit.vitm" "${D[@]}" --rank domain --top 1 "$T/bad" -o "$T/out.json"
grep '"class": 0' "$T/data/labels.jsonl" | head -3 > "$T/bad/labels.jsonl"
expect "a single class for a probe" "single class" "$V" probe "$T/clip.vitm" "${C[@]}" "$T/bad" -o "$T/out.safetensors"
expect "a text field without a text tower" "texts need --text-model and --vocab" \
  "$V" segment "$T/clip.vitm" "${C[@]}" "$T/data" --text-field colour -o "$T/out.json"
expect "an aligner of another model (segment)" "the aligner maps components of dimension 96, but this model's output has 64" \
  "$V" segment "$T/clip.vitm" "${C[@]}" "$T/data" "${SEGT[@]}" --aligner "$T/al_sc.safetensors" -o "$T/out.json"
expect "an aligner of another decomposition (segment)" "al_sc_from2.safetensors has no map for the component 'blocks.0.attn head 0'" \
  "$V" segment "$T/deit.vitm" "${D[@]}" "$T/data" --output repr "${SEGT[@]}" --text-weights $X/clip_toy.safetensors \
  --aligner "$T/al_sc_from2.safetensors" -o "$T/out.json"
expect "an aligner of another decomposition (heatmap)" "al_sc_from2.safetensors has no map for the component 'blocks.1.attn head 0'" \
  "$V" heatmap "$T/deit.vitm" "${D[@]}" --output repr --text-model "$T/text.vitm" --text-weights $X/clip_toy.safetensors \
  --vocab $X/clip_toy_vocab.txt --text water --aligner "$T/al_sc_from2.safetensors" --layer 1 "$T/data/images/000000.png" -o "$T/out.png"
expect "an aligner without text (segment)" "--aligner reads the components with text: give --text-field" \
  "$V" segment "$T/deit.vitm" "${D[@]}" "$T/data" --aligner "$T/al_sc.safetensors" -o "$T/out.json"
expect "an aligner without text (heatmap)" "--aligner reads the components with text: give --text" \
  "$V" heatmap "$T/deit.vitm" "${D[@]}" --class 1 --aligner "$T/al_sc.safetensors" "$T/data/images/000000.png" -o "$T/out.png"
expect "not an aligner" "not an aligner" \
  "$V" segment "$T/deit.vitm" "${D[@]}" "$T/data" --output repr "${SEGT[@]}" --aligner examples/toy/deit_toy.safetensors -o "$T/out.json"
expect "--identity without -o" "--identity writes an aligner: give -o" "$V" align "$T/ix_clip" --identity
expect "bad --target" "--target label or pred" "$V" segment "$T/deit.vitm" "${D[@]}" --target best "$T/data" -o "$T/out.json"
expect "no selection" "choose components with one of --components, --scores or --rank" "$V" ablate "$T/deit.vitm" "${D[@]}" "$T/data" -o "$T/out.json"
expect "missing weights" "--weights FILE.safetensors is required" "$V" segment "$T/deit.vitm" "$T/data" -o "$T/out.json"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
