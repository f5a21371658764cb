#!/bin/bash
# One command from a fresh Debian machine: install what is missing, build,
# and run the bundled default (a small DeiT, compiled from
# archs/deit_tiny_patch16_224.vit at a tiny configuration, with the seeded
# reference weights from tests/golden/, on the bundled photo of a cat).
set -eu
cd "$(dirname "$0")/.."
PKGS="build-essential cmake flex bison llvm-19-dev libzstd-dev libturbojpeg0-dev libpng-dev libcjson-dev zlib1g-dev libopenblas-dev pkg-config graphviz"
missing=$(for p in $PKGS; do dpkg -s "$p" > /dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "installing: $missing"
  $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi
cmake -S . -B build > /dev/null
cmake --build build -j"$(nproc)"
G=tests/golden/deit_tiny_patch16_224
set -x
build/vitc compile archs/deit_tiny_patch16_224.vit -o build/deit_tiny_demo.vitm \
  --set size=48 --set dim=48 --set depth=2 --set mlp=192 --set classes=10 --set pos_grid=3
build/vitrun run build/deit_tiny_demo.vitm --weights $G/weights.safetensors examples/images/chelsea.jpg
