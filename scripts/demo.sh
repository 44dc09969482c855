#!/usr/bin/env bash
# Sets up, builds, and runs the scoring pipeline end to end.
#
# Until the embedded default model exists (issue 4), it runs on a tiny
# random-weight Qwen3 checkpoint made by the test generator: the pipeline is
# real, the numbers carry no difficulty signal.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BIN=build/difficulty_service/cli/sparsegate
OUT=build/demo
mkdir -p "$OUT"
/usr/bin/python3 tests/server/make_tiny_model.py "$OUT/models" >/dev/null
MODEL="$OUT/models/tiny_qwen3"

cat > "$OUT/prompts.jsonl" <<'JSONL'
{"id": "add-1", "prompt": "What is 3 + 4?"}
{"id": "add-3", "prompt": "What is 482 + 739?"}
{"id": "mul-2", "prompt": "Compute 37 * 58 step by step."}
{"id": "mul-4", "prompt": "Compute 4821 * 9377 step by step, showing every partial product."}
{"id": "ids", "prompt": [87, 104, 97, 116, 32, 105, 115, 32, 50, 43, 50, 63]}
{"id": "broken", "question": "this row has no prompt field"}
JSONL

echo "== sparsegate score (in process) on $MODEL"
set +e
"$BIN" score --model "$MODEL" --input "$OUT/prompts.jsonl" --output "$OUT/features.jsonl" \
  --layers -1,1 --poolings last_token,mean
status=$?
set -e
echo "(exit status $status: the 'broken' row is reported, not dropped)"
/usr/bin/python3 - "$OUT/features.jsonl" <<'PY'
import json, sys
print(f"{'id':8} {'tokens':>6} {'layer':>5} {'pooling':10} {'hoyer':>7} {'top10_energy':>12} {'heavy_tail':>10}")
for line in open(sys.argv[1]):
    row = json.loads(line)
    if "error" in row:
        print(f"line {row['line']}: {row['error']}")
        continue
    for f in row["features"]:
        m = f["metrics"]
        print(f"{row['id']:8} {row['token_count']:6} {f['layer']:5} {f['pooling']:10} {m['hoyer']:7.4f} "
              f"{m['top10_energy']:12.4f} {m['heavy_tail_fraction']:10.4f}")
PY
echo "features written to $OUT/features.jsonl"
