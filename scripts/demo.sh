#!/usr/bin/env bash
# The main job on the embedded model: set up and build when needed, then filter the bundled dataset
# of arithmetic problems of mixed difficulty (models/arith-3m/demo) into kept, guided and dropped
# rows, calibrated by the model's measured pass rates on half of them, print the summary and write
# the report (build/demo/report.html, numbers in build/demo/report.json).
#
# The embedded model writes its answers after "\nA: ", so the hint goes there too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"  # see docs/speed.md
DATA=models/arith-3m/demo
OUT=build/demo
build/apps/cli/sparsegate filter --model models/arith-3m \
  --input "$DATA/problems.jsonl" --outcomes "$DATA/outcomes.jsonl" --output-dir "$OUT" --restart \
  --hint-template $'\nA: {hint}' --control op,digits
echo "kept, guided and dropped rows: $OUT/{kept,guided,dropped}.jsonl"
