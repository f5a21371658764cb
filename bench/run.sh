#!/bin/sh
# ViT-B/16 benchmark: vitrun beside ONNX Runtime and PyTorch. See bench/README.md.
#   bench/run.sh [run.py options]        (bench/run.sh --help)
# Needs: a Python with torch (BENCH_PYTHON, else the first of python3 and
# Debian's /usr/bin/python3 that imports it), timm on PYTHONPATH, node + npm,
# gcc. OPENBLAS_CORETYPE is left as the environment has it.
set -e
here=$(cd "$(dirname "$0")" && pwd)
py=${BENCH_PYTHON:-}
if [ -z "$py" ]; then
  for c in python3 /usr/bin/python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import torch' >/dev/null 2>&1; then
      py=$c
      break
    fi
  done
fi
if [ -z "$py" ]; then
  echo "bench: no Python with torch found (set BENCH_PYTHON)" >&2
  exit 1
fi
if ! "$py" -c 'import timm' >/dev/null 2>&1; then
  echo "bench: timm is not importable; set PYTHONPATH to a timm source checkout" >&2
  exit 1
fi
BENCH_COMMAND="bench/run.sh $*"
export BENCH_COMMAND
exec "$py" "$here/run.py" "$@"
