#!/bin/bash
# vitrun index / merge from the command line, on the toy DeiT and 24 toy-world
# images: an uninterrupted run is the reference; runs killed with SIGKILL at
# several points (and one with a shard written but not yet listed, plus
# stale temporary files), a Ctrl-C'd run, and three --shard runs merged must
# all end byte for byte equal to it; a second run on the same output while
# one runs is refused.  Then each kind of bad input: a clear
# message, a non-zero exit and no output left behind.
set -u
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
W=examples/toy/deit_toy.safetensors
"$B/vitc" compile archs/deit_tiny_patch16_224.vit -o "$T/m.vitm" --set size=64 --set patch=8 --set dim=96 --set depth=4 \
  --set heads=3 --set mlp=384 --set classes=2 --set pos_grid=8 || { echo "not ok - compile"; exit 1; }
"$B/vitrun" toyworld generate --seed 3 --count 24 --size 64 -o "$T/tw" > /dev/null || { echo "not ok - toyworld"; exit 1; }
pass=0; fail=0
ok() { echo "ok - $1"; pass=$((pass+1)); }
bad() { echo "not ok - $1"; fail=$((fail+1)); }
# the interpreter is slow enough (tens of ms an image) to be interrupted mid-run
IX=("$B/vitrun" index "$T/m.vitm" --weights $W "$T/tw/images" --split head --engine interp --threads 1 --batch 2 --chunk 2)
ix() { "${IX[@]}" "$@"; }
ixbg() { ( exec "${IX[@]}" "$@" ) & }  # $! is vitrun itself, not a subshell
same() { # same() A B: the same files, byte for byte
  [ "$(ls -A "$1")" = "$(ls -A "$2")" ] || { echo "  files differ: $(ls -A "$1" | tr '\n' ' ') vs $(ls -A "$2" | tr '\n' ' ')"; return 1; }
  for f in $(ls -A "$1"); do cmp -s "$1/$f" "$2/$f" || { echo "  $f differs"; return 1; }; done
}
nshards() { local n; n=$(grep -c '"file":' "$1/index.json" 2> /dev/null); echo "${n:-0}"; }

if ix -o "$T/ref" > "$T/log" 2>&1 && grep -q "indexed 24 images" "$T/log" && grep -q "images/s" "$T/log" \
   && grep -q "decode+preprocess .*forward+decomposition .*write" "$T/log" && [ "$(nshards "$T/ref")" = 12 ]; then
  ok "uninterrupted run: 12 shards, rate and stage shares reported"
else bad "uninterrupted run"; cat "$T/log"; fi

if ix -o "$T/ref" > "$T/log" 2>&1 && grep -q "complete already (24 of 24 images)" "$T/log" && same "$T/ref" "$T/ref"; then
  ok "rerun on a complete index: nothing to do"
else bad "rerun on a complete index"; cat "$T/log"; fi

# SIGKILL once the manifest lists k shards (the next one is then being computed or written)
# (k = 0: as soon as the output directory exists, before any manifest)
for k in 0 1 4 9; do
  d="$T/kill$k"
  ixbg -o "$d" > /dev/null 2>&1
  pid=$!
  for _ in $(seq 1 3000); do [ -d "$d" ] && [ "$(nshards "$d")" -ge $k ] && break; kill -0 $pid 2> /dev/null || break; sleep 0.005; done
  kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
  got=$(nshards "$d")
  [ "$got" -lt 12 ] || { bad "kill -9 at $k shards: the run had finished"; continue; }
  if ix -o "$d" > "$T/log" 2>&1 && { [ $got = 0 ] || grep -q "continued: " "$T/log"; } && same "$T/ref" "$d"; then
    ok "kill -9 with $got of 12 shards listed, rerun: equal to the uninterrupted run"
  else bad "kill -9 at $k shards ($got listed)"; cat "$T/log"; fi
done

# a crash between writing a shard and listing it, with temporary files left behind
d="$T/crash"
ixbg -o "$d" > /dev/null 2>&1
pid=$!
for _ in $(seq 1 3000); do [ "$(nshards "$d")" -ge 3 ] && break; kill -0 $pid 2> /dev/null || break; sleep 0.005; done
kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
for f in shard-00010.safetensors shard-00011.safetensors; do cp "$T/ref/$f" "$d/$f"; done
echo garbage > "$d/.shard-00004.safetensors.tmp.999.0"; echo '{"trunc' > "$d/.index.json.tmp.999"
ix -o "$d" > "$T/log" 2>&1
adopted=$(grep -o "[0-9]* of them in shards written but not yet listed" "$T/log" | cut -d' ' -f1)
if [ "${adopted:-0}" -ge 4 ] && [ ! -e "$d/.shard-00004.safetensors.tmp.999.0" ] && same "$T/ref" "$d"; then
  ok "unlisted shards adopted, stale temporary files removed: equal to the uninterrupted run"
else bad "crash between shard and manifest"; cat "$T/log"; fi

# killed after creating the directory, before its first manifest, with a temporary manifest left
mkdir "$T/early" && echo '{"trunc' > "$T/early/.index.json.tmp.999"
if ix -o "$T/early" > "$T/log" 2>&1 && same "$T/ref" "$T/early"; then
  ok "an output directory holding only temporary files: used, and equal to the uninterrupted run"
else bad "output with only temporary files"; cat "$T/log"; fi

# Ctrl-C: a clean stop, how to resume, status 130
d="$T/int"
ixbg -o "$d" > "$T/log" 2>&1
pid=$!
for _ in $(seq 1 3000); do [ "$(nshards "$d")" -ge 2 ] && break; kill -0 $pid 2> /dev/null || break; sleep 0.005; done
kill -INT $pid; wait $pid; st=$?
if [ $st -eq 130 ] && grep -q "interrupted: .* images are in .*run the same command again" "$T/log" \
   && ix -o "$d" > "$T/log2" 2>&1 && same "$T/ref" "$d"; then
  ok "SIGINT: status 130, $(grep -o 'interrupted: [0-9]* of [0-9]*' "$T/log"); rerun equal to the uninterrupted run"
else bad "SIGINT (status $st)"; cat "$T/log" "$T/log2" 2> /dev/null; fi

# a second run on the same output while the first runs: refused (the directory's lock), nothing of the first harmed
d="$T/two"
ixbg -o "$d" > "$T/log" 2>&1
pid=$!
for _ in $(seq 1 3000); do [ "$(nshards "$d")" -ge 1 ] && break; kill -0 $pid 2> /dev/null || break; sleep 0.005; done
ix -o "$d" > "$T/log2" 2>&1; st=$?
wait $pid; st1=$?
if [ $st -ne 0 ] && grep -q "another vitrun is writing this index now" "$T/log2" && [ $st1 -eq 0 ] && same "$T/ref" "$d"; then
  ok "a second run on the same output while the first runs: refused; the first finished equal to the uninterrupted run"
else bad "concurrent runs on one output (second status $st, first $st1)"; cat "$T/log2" "$T/log"; fi

# --shard i/n runs on the same folder, merged
okk=1
for i in 0 1 2; do ix --shard $i/3 -o "$T/part$i" > "$T/log" 2>&1 || { okk=0; cat "$T/log"; }; done
if [ $okk = 1 ] && grep -q "shard 2/3: 8 of the folder's 24 images" "$T/log" \
   && "$B/vitrun" merge "$T/merged" "$T/part2" "$T/part0" "$T/part1" > "$T/log" 2>&1 && grep -q "24 images from 3 indexes" "$T/log" \
   && same "$T/ref" "$T/merged"; then
  ok "three --shard runs merged: equal to one run"
else bad "shards + merge"; cat "$T/log"; fi

# bad input: message, non-zero status (not a crash), no output left behind
expect() {
  local name=$1 pat=$2 out=$3; shift 3
  "$@" > "$T/log" 2>&1; local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then bad "$name: exit status $rc"; cat "$T/log"; return; fi
  if ! grep -qE -- "$pat" "$T/log"; then bad "$name: message does not match /$pat/"; cat "$T/log"; return; fi
  if [ -n "$out" ] && [ -e "$out" ]; then bad "$name: $out left behind"; return; fi
  ok "$name: $(grep -E -- "$pat" "$T/log" | head -1 | cut -c1-150)"
}
run() { "$B/vitrun" index "$T/m.vitm" --weights $W "$@"; }
mkdir -p "$T/empty" "$T/noimg/sub" && echo "not an image" > "$T/noimg/sub/notes.txt"
expect "empty folder" "empty: no JPEG or PNG images in it" "$T/o1" run "$T/empty" -o "$T/o1"
expect "a folder with no images" "noimg: no JPEG or PNG images in it \(searched recursively\)" "$T/o2" run "$T/noimg" -o "$T/o2"
expect "missing folder" "nothere: No such file or directory" "$T/o3" run "$T/nothere" -o "$T/o3"
for s in 1/1 2 a/b -1/2 0/0 "1/2x" "/2"; do
  expect "--shard '$s'" "--shard needs i/n with 0 <= i < n" "$T/o4" run "$T/tw/images" -o "$T/o4" --shard "$s"
done
echo x > "$T/afile"
expect "output under a file" "cannot create the index directory: Not a directory" "" run "$T/tw/images" -o "$T/afile/ix"
expect "output is a file" "afile: exists and is not a directory" "" run "$T/tw/images" -o "$T/afile"
mkdir -p "$T/busy" && echo x > "$T/busy/x"
expect "output not empty, not an index" "busy: not empty and not an index" "" run "$T/tw/images" -o "$T/busy"
expect "unknown split axis" "cannot split along 'heads'" "$T/o5" run "$T/tw/images" -o "$T/o5" --split heads
expect "resume with other options" "holds an index built with another module, weights or decomposition options" "" \
  run "$T/tw/images" -o "$T/ref" --split head --from 2
expect "resume with another --chunk" "holds an index built with another --chunk" "" ix -o "$T/ref" --chunk 3
expect "merge: a chunk missing" "4 of 12 chunks are in none of the inputs, the first chunk 2 \(images 4 .. 5, from 000004.png\)" \
  "$T/m1" "$B/vitrun" merge "$T/m1" "$T/part0" "$T/part1"
expect "merge: a chunk twice" "images 0 .. 1 \(chunk 0\) are in both" "$T/m2" "$B/vitrun" merge "$T/m2" "$T/part0" "$T/part1" "$T/part2" "$T/ref"
run "$T/tw/images" -o "$T/other" --from 2 --chunk 2 --shard 1/3 > /dev/null 2>&1
expect "merge: another module id" "cannot be merged" "$T/m3" "$B/vitrun" merge "$T/m3" "$T/part0" "$T/other" "$T/part2"
expect "merge into an index" "already holds an index" "" "$B/vitrun" merge "$T/ref" "$T/part0" "$T/part1" "$T/part2"

# a corrupt image among good ones: skipped with a warning naming it, recorded in the manifest
mkdir -p "$T/mixed/cats" "$T/mixed/dogs"
cp "$T"/tw/images/00000[0-3].png "$T/mixed/cats/"; cp "$T"/tw/images/00000[4-6].png "$T/mixed/dogs/"
head -c 300 "$T/tw/images/000007.png" > "$T/mixed/dogs/broken.png"
if run "$T/mixed" -o "$T/mix" --split head --chunk 3 > "$T/log" 2>&1 && grep -q "warning: skipping an unreadable image: .*broken.png" "$T/log" \
   && grep -q "indexed 7 images .*(1 unreadable images skipped" "$T/log" && grep -q '"error":.*broken.png' "$T/mix/index.json" \
   && grep -q '"cats", "dogs"' <(tr -d '\n\t' < "$T/mix/index.json" | sed 's/,/, /g; s/  */ /g'); then
  ok "corrupt image skipped with a warning naming it; ImageFolder classes"
else bad "corrupt image"; cat "$T/log"; fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
