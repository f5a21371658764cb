#!/bin/bash
# One command from a fresh Debian machine: install what is missing, build
# vitc and vitrun, and run the main job on the bundled toy world: decompose
# the image embeddings of a tiny CLIP (trained on the toy world, committed in
# examples/toy/) into its components, say what each component encodes in
# words, and draw where the strongest ones look in one image.
#   bash examples/quickstart.sh [OUT_DIR]      (default build/quickstart)
set -eu
cd "$(dirname "$0")/.."
PKGS="build-essential cmake flex bison llvm-19-dev libzstd-dev libturbojpeg0-dev libpng-dev libcjson-dev zlib1g-dev libopenblas-dev pkg-config"
missing=$(for p in $PKGS; do dpkg -s "$p" > /dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "installing: $missing"
  $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi
start=$(date +%s)
step() { printf '\n== %s\n' "$*"; }
step "build vitc and vitrun"
cmake -S . -B build > /dev/null
cmake --build build -j"$(nproc)" --target vitc vitrun > /dev/null
Q=${1:-build/quickstart}
T=examples/toy
mkdir -p "$Q"
# the compile overrides recorded with the weights (clip_toy.json: "vitc" of the image and text towers)
args() { sed -n "s|.*\"vitc\": \"vitc compile $1 -o [^ ]* \\(.*\\)\".*|\\1|p" $T/clip_toy.json | head -1; }

step "compile the tiny CLIP's two towers from the same specs as the full-size models"
# shellcheck disable=SC2046
build/vitc compile archs/openclip_vit_b_16_quickgelu.vit -o "$Q/image.vitm" $(args archs/openclip_vit_b_16_quickgelu.vit)
# shellcheck disable=SC2046
build/vitc compile archs/openclip_vit_b_16_quickgelu_text.vit -o "$Q/text.vitm" $(args archs/openclip_vit_b_16_quickgelu_text.vit)
build/vitrun info "$Q/image.vitm"

step "a toy world: 300 images whose shape, colour, pattern and background are known"
rm -rf "$Q/world"
build/vitrun toyworld generate --seed 7 --count 300 --size 64 -o "$Q/world"
head -3 "$Q/world/captions.txt"

step "decompose every image embedding into its components (init, each attention head, each MLP)"
build/vitrun decompose "$Q/image.vitm" --weights $T/clip_toy.safetensors "$Q"/world/images/*.png \
  --output logits --split head --check -o "$Q/components.safetensors" | tail -2

step "what each component encodes: its top descriptions (TextSpan) and the variance each explains"
build/vitrun describe "$Q/components.safetensors" --pool $T/descriptions.txt --text "$Q/text.vitm" \
  --text-weights $T/clip_toy.safetensors --vocab $T/clip_toy_vocab.txt -k 3 -o "$Q/descriptions.json" 2> /dev/null

step "where: the 3 heads writing most toward the first image's caption, drawn per token"
caption=$(head -1 "$Q/world/captions.txt")
build/vitrun heatmap "$Q/image.vitm" --weights $T/clip_toy.safetensors "$Q/world/images/000000.png" \
  --text "$caption" --text-model "$Q/text.vitm" --vocab $T/clip_toy_vocab.txt --top 3 -o "$Q/heatmap.png" 2> /dev/null
echo "  (\"$caption\": red = toward the text, blue = away; open $Q/heatmap.png)"
printf '\ndone in %d s; everything is in %s\n' $(($(date +%s) - start)) "$Q"
