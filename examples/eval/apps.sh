#!/bin/bash
# EVALUATION.md part "apps": the applications on the toy world (see
# examples/evaluate.sh for the calling convention): removing the spurious
# background cue by mean-ablating the components that score highest for the
# feature "background" (vitrun score; a label-separation stand-in beside it),
# zero-shot segmentation against the masks beside attention baselines, and
# the pictures (heatmaps, segmentation panels, the layer-ablation chart),
# written to docs/eval/.
#   bash examples/eval/apps.sh BUILD WORK OUT.md
set -eu
B=$1 W=$2 OUT=$3
V="$B/vitrun"
PIC=docs/eval
mkdir -p "$W" "$PIC"
t0=$(date +%s)
"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$W/deit_toy.vitm" --set size=64 --set patch=8 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set classes=2 --set pos_grid=8 > /dev/null
"$B/vitc" compile archs/openclip_vit_b_16_quickgelu.vit -o "$W/clip_image.vitm" --set size=32 --set patch=4 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set pos_grid=8 --set proj=64 > /dev/null
"$B/vitc" compile archs/openclip_vit_b_16_quickgelu_text.vit -o "$W/clip_text.vitm" --set ctx=16 --set vocab=602 --set width=64 --set depth=2 \
  --set heads=4 --set mlp=256 --set embed=64 > /dev/null
gen() { [ -f "$W/$1/labels.jsonl" ] || "$V" toyworld generate "${@:2}" -o "$W/$1" > /dev/null; }
gen test --seed 2 --count 800 --size 64 --balanced        # deit_toy.json's test split
gen val --seed 3 --count 400 --size 64 --balanced         # held out: ranking and means
gen train --seed 1 --count 2000 --size 64 --spurious 0.95 # half of deit_toy.json's training split: the probe
gen align --seed 21 --count 2000 --size 64                # uniform attributes: the DeiT's aligner to the CLIP
gen general --seed 22 --count 1000 --size 64              # uniform attributes: the scores
D=(--weights examples/toy/deit_toy.safetensors)
C=(--weights examples/toy/clip_toy.safetensors)
TXT=(--text "$W/clip_text.vitm" --text-weights examples/toy/clip_toy.safetensors --vocab examples/toy/clip_toy_vocab.txt)
"$V" probe "$W/clip_image.vitm" "${C[@]}" "$W/train" -o "$W/clip_probe.safetensors" 2> /dev/null > "$W/probe.txt"

# the paper's scores of every component for the toy features (examples/toy/features.json): the DeiT's
# components aligned to the CLIP (COMPALIGN, lambda = 1), the CLIP's own components as they are
index() { # NAME MODULE WEIGHTS SET [OPTIONS...]: reuses an index of the same module and weights, else rebuilds it
  local cmd=("$V" index "$W/$2" --weights "$3" "$W/$4/images" --split head "${@:5}" -o "$W/ix_$1")
  "${cmd[@]}" > /dev/null 2>&1 || { rm -rf "$W/ix_$1" && "${cmd[@]}" > /dev/null 2>&1; }
}
index deit_align deit_toy.vitm examples/toy/deit_toy.safetensors align
index deit deit_toy.vitm examples/toy/deit_toy.safetensors general
index clip clip_image.vitm examples/toy/clip_toy.safetensors general --output logits
"$V" align "$W/ix_deit_align" --clip "$W/clip_image.vitm" --clip-weights examples/toy/clip_toy.safetensors --epochs 100 --lr 1e-3 \
  --patience 200 --lambda 1 -o "$W/deit_aligner.safetensors" > "$W/align.txt" 2> /dev/null
"$V" score "$W/ix_deit" --aligner "$W/deit_aligner.safetensors" --features examples/toy/features.json "${TXT[@]}" \
  -o "$W/deit_scores.json" > "$W/deit_scores.txt" 2> /dev/null
"$V" score "$W/ix_clip" --features examples/toy/features.json "${TXT[@]}" -o "$W/clip_scores.json" > "$W/clip_scores.txt" 2> /dev/null

# "average 69.63 %  worst group 28.00 %" -> "69.63 | 28.00"
acc() { sed -n "s/^$1 *average *\([0-9.]*\) %  worst group *\([0-9.]*\) %.*/\1 | \2/p" "$2"; }
ablate_row() { # MODEL-TAG K RANKING-TAG ARGS...: one table row
  local m=$1 k=$2 r=$3; shift 3
  local f="$W/abl_${m}_${r}_$k"
  "$V" ablate "$@" --top "$k" --reference "$W/val" "$W/test" -o "$f.json" 2> /dev/null > "$f.txt"
  comps=$(sed -n 's/^  \* \(.*\)  *[-0-9.][-0-9.]*$/\1/p' "$f.txt" | sed 's/  *$//; s/visual.transformer.resblocks/resblocks/' | paste -sd, | sed 's/,/, /g')
  echo "| $k | $(acc before "$f.txt") | $(acc after "$f.txt") | $comps |"
}
{
  echo "### Spurious cue: mean-ablating background components"
  echo
  echo "The top K components (per head and per MLP, all blocks; init not ranked) are mean-ablated (means over the"
  echo "held-out balanced split, seed 3, 400 images) and the head re-applied, on the balanced test split (seed 2,"
  echo "800 images). Average = unweighted mean of the four group accuracies; the worst group is the lowest of the four."
  echo "Rankings:"
  echo
  echo "- **score: background**: the paper's score (PAPER.md 4) of each component for the feature \"background\""
  echo "  (examples/toy/features.json: \"on sky\", \"on grass\", \"on water\", \"on sand\", embedded by the tiny CLIP's text"
  echo "  tower), computed by \`vitrun score\` on 1000 toy images with uniform attributes (seed 22); the DeiT's components"
  echo "  through a COMPALIGN aligner to the tiny CLIP (lambda 1, trained on 2000 uniform images, seed 21), the CLIP's own"
  echo "  components (its image embedding) as they are. \`vitrun ablate --scores S.json --feature background --top K\`."
  echo "- **score: background - colour**: the score for background minus the score for colour (the paper's spurious minus"
  echo "  core). \`--feature background-colour\`."
  echo "- **stand-in: domain - class** (baseline without text): between- over within-value scatter of the contribution"
  echo "  vectors for the label field \`domain\` (land or water) minus that for \`class\`, on the held-out split."
  echo "  \`--rank domain-class\`."
  echo
  for m in deit clip; do
    if [ $m = deit ]; then args=("$W/deit_toy.vitm" "${D[@]}"); name="deit_toy, its own head"
    else args=("$W/clip_image.vitm" "${C[@]}" --probe "$W/clip_probe.safetensors"); name="clip_toy, a probe"; fi
    for r in score score_core rank; do
      case $r in
        score) sel=(--scores "$W/${m}_scores.json" --feature background); title="score: background" ;;
        score_core) sel=(--scores "$W/${m}_scores.json" --feature background-colour); title="score: background - colour" ;;
        rank) sel=(--rank domain-class); title="stand-in: domain - class" ;;
      esac
      echo "$name, ranked by $title:"
      echo
      echo "| K | average before | worst group before | average after | worst group after | ablated |"
      echo "| --- | --- | --- | --- | --- | --- |"
      for k in 1 2 3 5 10; do ablate_row $m $k $r "${args[@]}" "${sel[@]}"; done
      echo
    done
  done
  echo "The clip_toy probe: logistic regression on the image tower's \`repr\` trained on a spurious split"
  echo "(seed 1, 2000 images, 95 % of the backgrounds agreeing with the class):"
  echo "\`vitrun probe clip_image.vitm --weights examples/toy/clip_toy.safetensors train -o clip_probe.safetensors\`"
  echo "($(sed 's/^probe on /on /; s/ images: / images; /' "$W/probe.txt" | head -1))."
  echo "Scores: \`vitrun index deit_toy.vitm --weights examples/toy/deit_toy.safetensors general/images --split head -o ix_deit\`,"
  echo "\`vitrun align ix_deit_align --clip clip_image.vitm --clip-weights examples/toy/clip_toy.safetensors --epochs 100 --lr 1e-3 --patience 200 --lambda 1 -o deit_aligner.safetensors\`,"
  echo "\`vitrun score ix_deit --aligner deit_aligner.safetensors --features examples/toy/features.json --text clip_text.vitm --text-weights examples/toy/clip_toy.safetensors --vocab examples/toy/clip_toy_vocab.txt -o deit_scores.json\`"
  echo "(for clip_toy: its index with \`--output logits\`, no aligner)."
  echo "Row commands: \`vitrun ablate deit_toy.vitm --weights examples/toy/deit_toy.safetensors --scores deit_scores.json --feature background --top K --reference val test\`"
  echo "(or \`--feature background-colour\`, or \`--rank domain-class\` instead of \`--scores ... --feature ...\`), and for clip_toy"
  echo "\`vitrun ablate clip_image.vitm --weights examples/toy/clip_toy.safetensors --probe clip_probe.safetensors --scores clip_scores.json --feature background --top K --reference val test\`."
  echo
  echo "### Zero-shot segmentation on the toy world's masks"
  echo
  echo "deit_toy on the balanced test split (800 images, masks transformed like the images: the model's"
  echo "64 px view). Decomposition: per-token contributions of every attention head of every block to the"
  echo "logit of the class, summed, on the 8 x 8 patch grid, resized bilinearly, clipped at 0, divided by the"
  echo "max, thresholded at the mean. Baselines from the same run (the softmax maps exposed as outputs):"
  echo "the class token's last-layer attention averaged over heads, and attention rollout. mIoU = mean of"
  echo "background and foreground IoU accumulated over the set; mAP = mean per-image average precision."
  echo
  for t in label pred; do
    "$V" segment "$W/deit_toy.vitm" "${D[@]}" "$W/test" --target $t --pictures 6 "$W/seg_$t.png" -o "$W/seg_$t.json" 2> /dev/null > "$W/seg_$t.txt"
    echo "Class direction: the $( [ $t = label ] && echo labelled || echo predicted ) class (\`vitrun segment deit_toy.vitm --weights examples/toy/deit_toy.safetensors test --target $t\`):"
    echo
    grep '^|' "$W/seg_$t.txt"
    echo
  done
  "$V" segment "$W/clip_image.vitm" "${C[@]}" "$W/test" --text-field colour --text-model "$W/clip_text.vitm" \
    --vocab examples/toy/clip_toy_vocab.txt --pictures 6 "$W/seg_clip.png" -o "$W/seg_clip.json" 2> /dev/null > "$W/seg_clip.txt"
  echo "clip_toy, direction: the text embedding of the image's colour (the value of its label field \`colour\`, embedded"
  echo "by the text tower; output \`logits\`, the image embedding) (\`vitrun segment clip_image.vitm --weights"
  echo "examples/toy/clip_toy.safetensors test --text-field colour --text-model clip_text.vitm --vocab examples/toy/clip_toy_vocab.txt\`):"
  echo
  grep '^|' "$W/seg_clip.txt"
  echo
  "$V" segment "$W/deit_toy.vitm" "${D[@]}" "$W/test" --output repr --aligner "$W/deit_aligner.safetensors" --text-field colour \
    --text-model "$W/clip_text.vitm" --text-weights examples/toy/clip_toy.safetensors --vocab examples/toy/clip_toy_vocab.txt \
    --pictures 6 "$W/seg_deit_text.png" -o "$W/seg_deit_text.json" 2> /dev/null > "$W/seg_deit_text.txt"
  echo "deit_toy read with text as the paper reads non-CLIP models, direction: the same colour text, each token's contribution"
  echo "to the representation through its head's COMPALIGN map (deit_aligner.safetensors above, no bias) (\`vitrun segment"
  echo "deit_toy.vitm --weights examples/toy/deit_toy.safetensors test --output repr --aligner deit_aligner.safetensors --text-field colour"
  echo "--text-model clip_text.vitm --text-weights examples/toy/clip_toy.safetensors --vocab examples/toy/clip_toy_vocab.txt\`):"
  echo
  grep '^|' "$W/seg_deit_text.txt"
  echo
} > "$OUT"

# pictures
cp "$W/seg_clip.png" "$PIC/apps_segment_clip.png"
cp "$W/seg_label.png" "$PIC/apps_segment.png"
cp "$W/seg_deit_text.png" "$PIC/apps_segment_deit_text.png"
"$V" heatmap "$W/deit_toy.vitm" "${D[@]}" --output repr --aligner "$W/deit_aligner.safetensors" --text water \
  --text-model "$W/clip_text.vitm" --text-weights examples/toy/clip_toy.safetensors --vocab examples/toy/clip_toy_vocab.txt \
  --scores "$W/deit_scores.json" --feature background --top 3 "$W"/test/images/00000{0,1,2,3}.png -o "$PIC/apps_heatmap_deit_water.png" \
  2> /dev/null > "$W/heatmap_deit_water.txt"
"$V" heatmap "$W/deit_toy.vitm" "${D[@]}" --class 1 --scores "$W/deit_scores.json" --feature background --top 3 \
  "$W"/test/images/00000{0,1,2,3}.png -o "$PIC/apps_heatmap_deit.png" 2> /dev/null > "$W/heatmap_deit.txt"
"$V" heatmap "$W/clip_image.vitm" "${C[@]}" --text-model "$W/clip_text.vitm" --vocab examples/toy/clip_toy_vocab.txt --text water \
  --scores "$W/clip_scores.json" --feature background --top 3 "$W"/test/images/00000{0,1,2,3}.png -o "$PIC/apps_heatmap_clip_water.png" \
  2> /dev/null > "$W/heatmap_clip.txt"
heads() { sed -n 's/^heads by [a-z ]* for [^:]*: //p' "$1" | sed 's/ [-0-9.]*\(,\|$\)/\1/g; s/visual.transformer.resblocks/resblocks/g'; }
"$V" ablate --layers "$PIC/apps_layers.png" --model deit_toy="$W/deit_toy.vitm",examples/toy/deit_toy.safetensors \
  --model clip_toy="$W/clip_image.vitm",examples/toy/clip_toy.safetensors,"$W/clip_probe.safetensors" "$W/test" 2> /dev/null > "$W/layers.txt"
{
  echo "### Pictures"
  echo
  echo "- \`docs/eval/apps_heatmap_deit.png\`: \`vitrun heatmap deit_toy.vitm --class 1 --scores deit_scores.json --feature background --top 3\` on test images 0-3 (class B's logit from the three heads whose variance background explains most (variance_explained, as the reference chooses heatmap heads): $(heads "$W/heatmap_deit.txt"); and their sum)."
  echo "- \`docs/eval/apps_heatmap_clip_water.png\`: \`vitrun heatmap clip_image.vitm --text water --scores clip_scores.json --feature background --top 3\` (the text tower's embedding of \"water\" from the three heads whose variance background explains most (variance_explained, as the reference chooses heatmap heads): $(heads "$W/heatmap_clip.txt"))."
  echo "- \`docs/eval/apps_heatmap_deit_water.png\`: \`vitrun heatmap deit_toy.vitm --output repr --aligner deit_aligner.safetensors --text water --scores deit_scores.json --feature background --top 3\` (the same heads as the first picture, $(heads "$W/heatmap_deit_water.txt"), read through their COMPALIGN maps on the tiny CLIP's embedding of \"water\")."
  echo "- \`docs/eval/apps_segment.png\`, \`docs/eval/apps_segment_clip.png\`, \`docs/eval/apps_segment_deit_text.png\`: the first six test images, their masks, and the three maps (deit_toy with the labelled class; clip_toy with the colour's text; deit_toy with the colour's text through its aligner)."
  echo "- \`docs/eval/apps_layers.png\`: \`vitrun ablate --layers\`: accuracy (group average) on the test split while mean-ablating the attention and MLP components from the last block backwards."
  echo
  echo "| components removed | $(sed -n 's/^\([a-z_]*\): *0 removed.*/\1/p' "$W/layers.txt" | paste -sd'|' | sed 's/|/ | /g') |"
  echo "| --- | --- | --- |"
  for r in 0 1 2 3 4 5 6 7 8; do
    echo "| $r | $(sed -n "s/^[a-z_]*: *$r removed.*average \([0-9.]*\) %.*/\1 %/p" "$W/layers.txt" | paste -sd'|' | sed 's/|/ | /g') |"
  done
  echo
  echo "Whole part: $(( $(date +%s) - t0 )) s wall on a busy machine (2 shared cores)."
} >> "$OUT"
