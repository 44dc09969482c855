#!/usr/bin/env bash
# Measures what the embedded model's activation features say about its failures, with
# `sparsegate evaluate`, and re-renders the model card's section on it. About 2 minutes once the
# datasets exist; making them (make_signal_data.py, 8 samples per problem) takes about 25 more.
#   scripts/embedded_model/evaluate_signal.sh            evaluate the committed datasets
#   scripts/embedded_model/evaluate_signal.sh --remake   measure the datasets' outcomes again first
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=build/apps/cli/sparsegate
MODEL=models/arith-3m
OUT=$MODEL/signal
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
[[ -x $BIN ]] || SKIP_APT=1 scripts/setup.sh
if [[ "${1:-}" == --remake ]]; then
  /usr/bin/python3 scripts/embedded_model/make_signal_data.py --model "$MODEL" --sparsegate "$BIN"
fi
# Every operation and operand size: beyond length, operation and digits, what do the features add?
"$BIN" evaluate --model "$MODEL" -i "$OUT/levels.jsonl" -o "$OUT/levels" --control op,digits:categorical
# The controlled experiment: mul-2 and mul-3, none seen in training. Within a level and an exact
# token count, surface form and familiarity are fixed; the carries are a known driver of difficulty.
"$BIN" evaluate --model "$MODEL" -i "$OUT/controlled.jsonl" -o "$OUT/controlled" --control level
"$BIN" evaluate --model "$MODEL" -i "$OUT/controlled.jsonl" -o "$OUT/controlled-carries" --control level,carries
/usr/bin/python3 scripts/embedded_model/measure.py --model "$MODEL" --card-only
