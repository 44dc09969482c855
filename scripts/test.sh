#!/usr/bin/env bash
# Sets up (packages + build), installs the test-only npm references, and runs every test: the main
# suite, then the sanitizer run (scripts/sanitize.sh: GoogleTest under ASan + UBSan, 60 s per fuzz target).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
( cd tests/tokenizer_parity && npm ci --no-audit --no-fund --loglevel=error )
cd "${BUILD_DIR:-build}"
# Tests run side by side on few cores. OpenMP threads (libtorch, OpenBLAS) that spin while they wait
# would take the cores the other tests need; libgomp reads this once at start-up, hence the
# environment rather than code.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
ctest --output-on-failure --timeout 300 -j "${JOBS:-$(nproc)}" "$@"
cd - >/dev/null
# The same C++ tests again under ASan + UBSan, and each fuzz target for a minute (SANITIZE=0 skips).
if [[ "${SANITIZE:-1}" != 0 ]]; then
  scripts/sanitize.sh
fi
