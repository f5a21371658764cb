#!/bin/bash
# vitrun align interrupted and resumed, on 600 toy-world images with the tiny
# DeiT and the tiny CLIP of examples/toy: an uninterrupted run is the
# reference; one run killed with SIGKILL three times while it computes the
# CLIP targets and three times while it trains (each time at a random point,
# the phase told by the files in ALIGNER.safetensors.partial/), then run to
# the end, and one Ctrl-C'd run, resumed, must both write the reference's
# bytes.  State of another run (other --seed or --lambda, a changed image)
# is refused with a message naming the difference, and so is a second run
# on the same output while one is running.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
X=examples/toy
export OPENBLAS_NUM_THREADS=1 # one BLAS thread count for every run (the result is deterministic for a given count)
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass+1)); }
bad() { echo "not ok - $1"; fail=$((fail+1)); }
"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$T/deit.vitm" --set size=64 --set patch=8 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set classes=2 --set pos_grid=8 > /dev/null || { echo "not ok - compile deit"; exit 1; }
"$B/vitc" compile archs/openclip_vit_b_16_quickgelu.vit -o "$T/clip.vitm" --set size=32 --set patch=4 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set pos_grid=8 --set proj=64 > /dev/null || { echo "not ok - compile clip"; exit 1; }
"$B/vitrun" toyworld generate --seed 7 --count 600 --size 64 -o "$T/set" > /dev/null || { echo "not ok - toyworld"; exit 1; }
IMGS=("$T"/set/images/*.png)
"$B/vitrun" decompose "$T/deit.vitm" --weights $X/deit_toy.safetensors --split head "${IMGS[@]}" -o "$T/deit.safetensors" > /dev/null ||
  { echo "not ok - decompose"; exit 1; }
# training of about 1.5 s (no early stopping); the progress saved as often as it may be
AL=("$B/vitrun" align "$T/deit.safetensors" "${IMGS[@]}" --clip "$T/clip.vitm" --clip-weights $X/clip_toy.safetensors
    --epochs 15 --batch 16 --patience 0 --lr 1e-3 --checkpoint-every 0)
al() { "${AL[@]}" "$@"; }
albg() { ( exec "${AL[@]}" "$@" ) & }  # $! is vitrun itself, not a subshell
nparts() { ls "$1" 2> /dev/null | grep -c '^targets-'; }
jitter() { sleep "0.0$((RANDOM % 10))"; } # 0 to 90 ms: a random point

t0=$(date +%s.%N)
if al -o "$T/ref.safetensors" > "$T/log" 2>&1 && [ -f "$T/ref.json" ] && [ ! -e "$T/ref.safetensors.partial" ]; then
  ok "uninterrupted run: $(grep -o '[0-9]* steps' "$T/log"), nothing left in ref.safetensors.partial"
else bad "uninterrupted run"; cat "$T/log"; fi
t1=$(date +%s.%N)

same() { cmp "$T/ref.safetensors" "$1.safetensors" && cmp "$T/ref.json" "$1.json" && [ ! -e "$1.safetensors.partial" ]; }

# SIGKILL three times while the CLIP targets are computed (each time once one more part is saved), then three times in training
o="$T/k"; P="$o.safetensors.partial"; kills=0; log=""
for _ in 1 2 3; do
  want=$(($(nparts "$P") + 1))
  albg -o "$o.safetensors" > "$T/log" 2>&1; pid=$!
  for _ in $(seq 1 2000); do [ "$(nparts "$P")" -ge $want ] || [ -e "$P/checkpoint.safetensors" ] && break; kill -0 $pid 2> /dev/null || break; sleep 0.005; done
  jitter; kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
  log="$log $(grep '^continuing' "$T/log")"
  got=$(nparts "$P")
  if [ "$got" -ge 1 ] && [ ! -e "$P/checkpoint.safetensors" ] && [ ! -e "$o.safetensors" ]; then kills=$((kills+1)); echo "  killed with $got parts of CLIP targets saved"
  else echo "  the kill meant for the CLIP targets came too late ($got parts, $(ls "$P" 2> /dev/null | tr '\n' ' '))"; fi
done
[ $kills -eq 3 ] && ok "3 kills while computing the CLIP targets" || bad "only $kills of 3 kills while computing the CLIP targets"
steps=""; kills=0
for _ in 1 2 3; do
  albg -o "$o.safetensors" > "$T/log" 2>&1; pid=$!
  for _ in $(seq 1 2000); do [ -e "$P/checkpoint.safetensors" ] && break; kill -0 $pid 2> /dev/null || break; sleep 0.005; done
  sleep 0.1; jitter; jitter; kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
  if [ -e "$P/checkpoint.safetensors" ] && [ ! -e "$o.safetensors" ]; then kills=$((kills+1)); else echo "  the kill meant for training came too late"; fi
done
[ $kills -eq 3 ] && ok "3 kills while training" || bad "only $kills of 3 kills while training"
if al -o "$o.safetensors" > "$T/log" 2>&1 && grep -q "training resumed at step [1-9]" "$T/log" && same "$o"; then
  ok "resumed after 6 kills ($(grep -o 'resumed at step [0-9]*' "$T/log")): equal to the uninterrupted run, state removed"
else bad "resumed after 6 kills"; cat "$T/log"; fi
n=$(echo "$log" | grep -o "[0-9]* of 600 CLIP targets" | head -1 | cut -d' ' -f1)
[ "${n:-0}" -ge 64 ] && ok "the CLIP targets of earlier runs were used ($n of 600 after the first kill)" || bad "no CLIP targets reused: '$log'"

# Ctrl-C in training: status 130, how to resume; then the state is refused for other options or images, and resumed
o="$T/i"; P="$o.safetensors.partial"
albg -o "$o.safetensors" > "$T/log" 2>&1; pid=$!
for _ in $(seq 1 2000); do [ -e "$P/checkpoint.safetensors" ] && break; kill -0 $pid 2> /dev/null || break; sleep 0.005; done
sleep 0.2; kill -INT $pid; wait $pid; st=$?
if [ $st -eq 130 ] && grep -q "interrupted after step [0-9]* of at most [0-9]*; the training state is saved in .*checkpoint.safetensors; run the same command again to continue" "$T/log" \
   && [ ! -e "$o.safetensors" ]; then
  ok "Ctrl-C: status 130, $(grep -o 'interrupted after step [0-9]*' "$T/log"), how to continue"
else bad "Ctrl-C: status $st"; cat "$T/log"; fi
refused() { # refused NAME PATTERN ARGS...: a clear message, status 1, no output, the state kept
  local name=$1 pat=$2; shift 2
  al -o "$o.safetensors" "$@" > "$T/log" 2>&1; local rc=$?
  if [ $rc -eq 1 ] && grep -qE -- "$pat" "$T/log" && [ ! -e "$o.safetensors" ] && [ -e "$P/checkpoint.safetensors" ]; then
    ok "$name refused: $(grep -E -- "$pat" "$T/log" | head -1 | cut -c1-220)"
  else bad "$name: status $rc"; cat "$T/log"; fi
}
refused "state of another --seed" "holds the state of another training run: seed=0 \(this run: seed=1\); rerun with the inputs and options it was made with to continue it, or delete it" --seed 1
refused "state of another --lambda" "another training run: lambda=1 \(this run: lambda=0.5\)" --lambda 0.5
touch -r "${IMGS[3]}" "$T/stamp"; touch "${IMGS[3]}"
refused "CLIP targets of a changed image" "holds the CLIP targets of other images or another CLIP model .*delete .* to start afresh"
touch -r "$T/stamp" "${IMGS[3]}"
if al -o "$o.safetensors" > "$T/log" 2>&1 && grep -q "600 of 600 CLIP targets were computed by earlier runs" "$T/log" \
   && grep -q "training resumed at step [1-9]" "$T/log" && same "$o"; then
  ok "resumed after Ctrl-C ($(grep -o 'resumed at step [0-9]*' "$T/log")): equal to the uninterrupted run"
else bad "resumed after Ctrl-C"; cat "$T/log"; fi

# a second run on the same output while the first runs is refused (the state directory's lock), and the first is unharmed
o="$T/l"; P="$o.safetensors.partial"
albg -o "$o.safetensors" > "$T/log" 2>&1; pid=$!
for _ in $(seq 1 2000); do [ "$(nparts "$P")" -ge 1 ] && break; kill -0 $pid 2> /dev/null || break; sleep 0.005; done
al -o "$o.safetensors" > "$T/log2" 2>&1; st=$?
wait $pid; st1=$?
if [ $st -eq 1 ] && grep -q "another vitrun align is writing this output now" "$T/log2" && [ $st1 -eq 0 ] && same "$o"; then
  ok "a second run on the same output while the first runs: refused ($(grep -o 'another vitrun align is writing this output now' "$T/log2")); the first finished equal to the uninterrupted run"
else bad "concurrent runs on one output: second status $st, first status $st1"; cat "$T/log2" "$T/log"; fi
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "# uninterrupted run %.1f s; all the runs %.1f s\n", b - a, c - a }'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
