#!/bin/bash
# EVALUATION.md part "zz_report" (named to run after the others): the
# pictures, JSON results and tables of the other parts as one self-contained
# HTML page, `vitrun report` over the evaluation's scratch directory (the
# parent of this part's WORK: one directory and one markdown file per part;
# data sets in it are named, not shown) and docs/eval (the pictures the parts
# keep), written beside them as report.html.  Its markdown names the page.
#   bash examples/eval/zz_report.sh BUILD WORK OUT.md
set -eu
B=$1 W=$2 OUT=$3
E=$(dirname "$W")
mkdir -p "$W"
dirs=("$E")
[ -d docs/eval ] && dirs+=(docs/eval)
page="$E/report.html"
# (index manifests left out: their image lists would be long tables of file names)
"$B/vitrun" report "${dirs[@]}" --exclude 'zz_report*' --exclude index.json --title "vitc / vitrun: evaluation on the toy world" -o "$page" \
  2> "$W/report.log" || { cat "$W/report.log" >&2; exit 1; }
# "build/eval/report.html: pictures 6, JSON files 12, markdown files 1, 3.4 MB, 0.59 s" -> "pictures 6, ..., 3.4 MB"
summary=$(sed -n 's/^.*: \(pictures [0-9]*, JSON files [0-9]*, markdown files [0-9]*.*, [0-9.]* MB\), [0-9.]* s$/\1/p' "$W/report.log" | tail -1)
parts=$(cd "$E" && for d in */; do [ "$d" != zz_report/ ] && echo "${d%/}"; done | paste -sd, | sed 's/,/, /g')
{
  echo "### All of it on one page"
  echo
  echo "\`bash examples/evaluate.sh\` also writes \`$page\`: the pictures, JSON results and tables of the parts"
  echo "above in one self-contained HTML file (pictures inlined, no external requests), made by"
  echo "\`vitrun report ${dirs[*]} --exclude 'zz_report*' --exclude index.json -o $page\` (last run, over the scratch directories of ${parts:-no part}: ${summary:-see its log})."
} > "$OUT"
