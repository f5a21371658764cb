#!/bin/bash
# Regenerate the measured tables of EVALUATION.md on the toy world:
#   bash examples/evaluate.sh [PART...]        (default: every examples/eval/*.sh)
# Each part examples/eval/NAME.sh is run as `bash NAME.sh BUILD WORK OUT.md`
# (BUILD: the build directory with vitc and vitrun; WORK: a scratch directory
# it may reuse between runs; OUT.md: the markdown it writes).  Its markdown
# replaces the text between <!-- eval:NAME --> and <!-- /eval:NAME --> in
# EVALUATION.md (appended at the end when the markers are missing).
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
work=${WORK:-$build/eval}
mkdir -p "$work"
[ -x "$build/vitrun" ] || { cmake -S . -B "$build" > /dev/null && cmake --build "$build" -j"$(nproc)" > /dev/null; }
parts=("$@")
if [ ${#parts[@]} -eq 0 ]; then
  for f in examples/eval/*.sh; do [ -e "$f" ] && parts+=("$(basename "$f" .sh)"); done
fi
for p in "${parts[@]}"; do
  echo "== $p" >&2
  mkdir -p "$work/$p"
  bash "examples/eval/$p.sh" "$build" "$work/$p" "$work/$p.md"
  splice() {  # replace the marked block of EVALUATION.md with the part's markdown
    local name=$1 md=$2 tmp
    tmp=$(mktemp EVALUATION.md.XXXXXX)
    if grep -q "<!-- eval:$name -->" EVALUATION.md; then
      awk -v name="$name" -v md="$md" '
        $0 == "<!-- eval:" name " -->" { print; while ((getline line < md) > 0) print line; skip = 1; next }
        $0 == "<!-- /eval:" name " -->" { skip = 0 }
        !skip { print }' EVALUATION.md > "$tmp"
    else
      { cat EVALUATION.md; echo; echo "<!-- eval:$name -->"; cat "$md"; echo "<!-- /eval:$name -->"; } > "$tmp"
    fi
    mv "$tmp" EVALUATION.md
  }
  splice "$p" "$work/$p.md"
done
