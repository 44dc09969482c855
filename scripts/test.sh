#!/usr/bin/env bash
# Sets up (packages + build), installs the test-only npm references, and runs every test.
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
