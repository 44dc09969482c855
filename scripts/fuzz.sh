#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz under ASan + UBSan, each for SECONDS (default 60), from
# its committed seed corpus, and prints one summary line per target. Exits non-zero if any target
# found a crash, a leak, undefined behaviour or a timeout; the input that did it is left as
# $BUILD_DIR/fuzz/<target>/crash-* (or leak-*, timeout-*), to be fixed and added as a regression test.
#   scripts/fuzz.sh                  # every target, 60 s each (what CI runs)
#   scripts/fuzz.sh 600              # 10 minutes each (the figures in docs/security.md)
#   scripts/fuzz.sh 600 tokenize_fuzzer request_fuzzer
#   PARALLEL=2 scripts/fuzz.sh 600   # two targets at a time
# Needs the sanitizer tree: scripts/sanitize.sh builds it (SANITIZE_BUILD_DIR, default build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
BUILD_DIR=${SANITIZE_BUILD_DIR:-build-asan}
PARALLEL=${PARALLEL:-1}
targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in tests/fuzz/corpus/*/; do targets+=("$(basename "$f")"); done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1  # the request target runs forward passes: one thread per fuzzer

run_one() {
  local name=$1 dir="$BUILD_DIR/fuzz/$1"
  mkdir -p "$dir/corpus"
  # The working corpus grows run after run; the committed seeds are read, never written.
  "$BUILD_DIR/tests/fuzz/$name" -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" "tests/fuzz/corpus/$name" \
    >"$dir/log.txt" 2>&1
  local rc=$?
  local runs cov corpus
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log.txt" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -oE '(DONE|pulse|NEW|REDUCE) +cov: [0-9]+' "$dir/log.txt" | tail -1 | grep -oE '[0-9]+$' || echo 0)
  corpus=$(find "$dir/corpus" -type f | wc -l)
  local found
  found=$(find "$dir" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' -o -maxdepth 1 -name 'timeout-*' \
          -o -maxdepth 1 -name 'oom-*' | wc -l)
  printf '%-28s %5ss  %10s execs  %6s/s  cov %5s  corpus %5s  findings %s  (exit %s)\n' "$name" "$SECONDS_EACH" \
    "$runs" "$((runs / SECONDS_EACH))" "$cov" "$corpus" "$found" "$rc"
  ((rc == 0 && found == 0))
}

status=0
pids=()
for name in "${targets[@]}"; do
  if [[ ! -x "$BUILD_DIR/tests/fuzz/$name" ]]; then
    echo "fuzz: $BUILD_DIR/tests/fuzz/$name is not built (scripts/sanitize.sh builds it)" >&2
    exit 2
  fi
  run_one "$name" &
  pids+=($!)
  if ((${#pids[@]} >= PARALLEL)); then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
