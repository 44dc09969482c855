#!/usr/bin/env bash
# Sets up (packages + build), installs the test-only npm references, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
( cd tests/tokenizer_parity && npm ci --no-audit --no-fund --loglevel=error )
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 300 -j "${JOBS:-$(nproc)}" "$@"
