#!/bin/bash
# A fast subset of the test suite under valgrind (memcheck, full leak check):
# the readers of users' files (safetensors, BPE vocabularies, images), the
# front end and the limits, then `vitc check` on every golden diagnostic
# (tests/diag/*.vit, the error paths of elaboration).   bash tests/valgrind.sh [BUILD_DIR]
# Any invalid access, use of uninitialised memory or leak fails it.
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect)
fail=0
# (test_limits: the cases without a file of hundreds of MiB)
for t in test_st test_bpe test_img test_lang test_pool "test_limits module_limits" "test_limits module_truncated" "test_limits image_dimensions" \
         "test_limits safetensors_json_nesting"; do
  log="$B/valgrind_${t// /_}.log"
  if "${VG[@]}" "$B/"$t > "$log" 2>&1; then echo "ok - $t"
  else echo "not ok - $t (log: $log)"; tail -20 "$log"; fail=1; fi
done
for f in tests/diag/*.vit; do
  "${VG[@]}" "$B/vitc" check "$f" > /dev/null 2> "$B/valgrind_diag.log"; rc=$?
  if [ $rc -eq 1 ]; then echo "ok - vitc check $f"
  else echo "not ok - vitc check $f: exit status $rc"; cat "$B/valgrind_diag.log"; fail=1; fi
done
exit $fail
