#!/bin/bash
# Build the libFuzzer harnesses with clang (coverage + ASan + UBSan) into
# build-fuzz/ and run each, one at a time at low priority, for SECONDS
# seconds on its seed corpus.
#   bash fuzz/run.sh [SECONDS] [TARGET...]      (default 60 s, every fuzz/fuzz_*.c)
# The working corpus grows in build-fuzz/corpus/TARGET (fuzz/corpus/TARGET,
# the committed seeds, is only read); a crash, leak or timeout stops that
# fuzzer, leaves its input in build-fuzz/artifacts/ and makes the script
# fail.  Each fuzzer's last status line (executions, cov, ft) is printed.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
cc=${CC:-$(command -v clang-14 || command -v clang)}
dir=build-fuzz
CC=$cc cmake -S . -B "$dir" -DVIT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" > /dev/null
mkdir -p "$dir/artifacts"
[ -n "${TMPDIR:-}" ] || { [ -d /dev/shm ] && export TMPDIR=/dev/shm; } || true
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t"
  dict=(); [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  log="$dir/fuzz_$t.log"
  echo "fuzz_$t: ${secs}s"
  if nice -n 19 "$dir/fuzz_$t" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2560 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$dir/artifacts/${t}-" "${dict[@]}" \
       "$dir/corpus/$t" "fuzz/corpus/$t" > "$log" 2>&1; then
    grep -E '^#[0-9]+.*(DONE|pulse|REDUCE|NEW)' "$log" | tail -1
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
  else
    status=1
    echo "fuzz_$t FAILED (log: $log)"; grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
  fi
done
exit $status
