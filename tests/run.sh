#!/bin/bash
# Build and run the whole test suite.   bash tests/run.sh [--asan]
# --asan builds into build-asan/ with AddressSanitizer + UBSan.
set -eu
cd "$(dirname "$0")/.."
dir=build; flags=()
if [ "${1:-}" = "--asan" ]; then
  dir=build-asan; flags=(-DVIT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
  export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
cmake -S . -B "$dir" "${flags[@]}" > /dev/null
cmake --build "$dir" -j"$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
