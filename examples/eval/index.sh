#!/bin/bash
# EVALUATION.md part "index": vitrun index on the toy DeiT and the toy
# world's balanced test split (800 images): throughput and each stage's share
# of the wall time, one process against two --shard processes merged, and
# whether the merged index equals the single run byte for byte (see
# examples/evaluate.sh for the calling convention).
#   bash examples/eval/index.sh BUILD WORK OUT.md
set -eu
B=$1 W=$2 OUT=$3
V="$B/vitrun"
mkdir -p "$W"
"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$W/deit_toy.vitm" --set size=64 --set patch=8 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set classes=2 --set pos_grid=8 > /dev/null
[ -f "$W/test/labels.jsonl" ] || "$V" toyworld generate --seed 2 --count 800 --size 64 --balanced -o "$W/test" > /dev/null
ARGS=("$W/deit_toy.vitm" --weights examples/toy/deit_toy.safetensors "$W/test/images" --split head)
now() { date +%s.%N; }
read -r load _ < /proc/loadavg
row() { # row LABEL LOG SECONDS: images/s and stage shares from vitrun index's report
  local rate shares
  rate=$(sed -n 's/^indexed [0-9]* images into .* in [0-9.]* s: \([0-9.]*\) images\/s.*/\1/p' "$2")
  shares=$(sed -n 's/^time: decode+preprocess \([0-9]*\)%.*forward+decomposition \([0-9]*\)%, write \([0-9]*\)%, forward pass waiting for images \([0-9]*\)%.*/\1 % | \2 % | \3 % | \4 %/p' "$2")
  echo "| $1 | $(printf '%.2f' "$3") | $rate | $shares |"
}
for t in 1 2; do
  rm -rf "$W/ix$t"
  s=$(now); "$V" index "${ARGS[@]}" --threads $t -o "$W/ix$t" > "$W/ix$t.log" 2> /dev/null; e=$(now)
  eval "wall$t=$(echo "$e - $s" | bc)"
done
rm -rf "$W/part0" "$W/part1" "$W/merged"
s=$(now)
"$V" index "${ARGS[@]}" --threads 1 --shard 0/2 -o "$W/part0" > "$W/part0.log" 2> /dev/null &
p0=$!
"$V" index "${ARGS[@]}" --threads 1 --shard 1/2 -o "$W/part1" > "$W/part1.log" 2> /dev/null
wait $p0
"$V" merge "$W/merged" "$W/part0" "$W/part1" > /dev/null
wall_sh=$(echo "$(now) - $s" | bc)
if diff -r "$W/ix1" "$W/merged" > /dev/null; then same="byte for byte equal to"; else same="DIFFERENT from"; fi
rm -rf "$W/ix1" "$W/ix2" "$W/part0" "$W/part1" "$W/merged" # 20 MB of shards: not for the report's scan
{
  echo "### Indexing throughput (\`vitrun index\`)"
  echo
  echo "The toy DeiT (\`examples/toy/deit_toy.*\`, 64 px, 17 components per image with \`--split head\`) on the"
  echo "balanced test split (seed 2, 800 PNG images), default batch 16 and chunk 256 (4 shard files)."
  echo "Wall seconds include loading and JIT-compiling the module; images/s and the shares are over the"
  echo "indexing loop only, as \`vitrun index\` reports them: decoding and preprocessing run in a reader thread"
  echo "beside the forward pass, so the shares overlap; \"waiting\" is the time the forward pass found no"
  echo "decoded batch ready. Busy machine (2 cores shared with other work; 1-minute load average $load when"
  echo "this run started): the figures vary from run to run."
  echo
  echo "| run | wall s | images/s | decode+preprocess | forward+decomposition | write | waiting |"
  echo "|---|---|---|---|---|---|---|"
  row "1 process, --threads 1" "$W/ix1.log" "$wall1"
  row "1 process, --threads 2" "$W/ix2.log" "$wall2"
  row "--shard 0/2 (beside 1/2), --threads 1" "$W/part0.log" "$wall_sh"
  row "--shard 1/2 (beside 0/2), --threads 1" "$W/part1.log" "$wall_sh"
  echo
  echo "The two shard processes ran at the same time and were merged (\`vitrun merge\`) in $(printf '%.2f' "$wall_sh") s"
  echo "of wall time in all; the merged index is $same the single \`--threads 1\` run's."
  echo
  echo "Regenerate: \`bash examples/evaluate.sh index\`."
} > "$OUT"
