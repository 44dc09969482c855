#!/usr/bin/env bash
# The sanitizer run: builds a second tree with clang under ASan + UBSan (any report fails at once),
# with the libFuzzer targets, runs every GoogleTest test in it, then each fuzz target for
# FUZZ_SECONDS (default 60) from its seed corpus. scripts/test.sh runs it after the main suite.
#   scripts/sanitize.sh                 # build, GoogleTest under ASan + UBSan, fuzz 60 s each
#   FUZZ_SECONDS=0 scripts/sanitize.sh  # no fuzzing
#   SANITIZE_BUILD_DIR=build-asan       # the tree (default)
# The Python-driven tests stay in the main run: a sanitized extension module cannot be loaded by an
# interpreter that is not, and the command-line tests there already run the same code.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SANITIZE_BUILD_DIR:-build-asan}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -DSPARSEGATE_SANITIZE=address,undefined -DSPARSEGATE_FUZZ=ON >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
export OMP_WAIT_POLICY=PASSIVE
python_driven='^(arithmetic_generator|k8s_manifests|tokenizer_parity|layers_.*|python_.*|rl_testbed|filter_cli|evaluate_cli|bad_input_costs)$'
# Timed multi-process scenarios (replicas drained or killed under a Gate, overload, fairness) stay
# in the main run too: under ASan every server is several times slower, and their deadlines and
# grace periods then measure the sanitizer, not the code (a drained replica's 5 s grace expired).
timed='^(GateEndToEnd\..*|Load\..*)$'
( cd "$BUILD_DIR" && ctest --output-on-failure --timeout 900 -j "${JOBS:-$(nproc)}" -E "$python_driven|$timed" )
if ((FUZZ_SECONDS > 0)); then
  SANITIZE_BUILD_DIR=$BUILD_DIR scripts/fuzz.sh "$FUZZ_SECONDS"
fi
