#!/usr/bin/env bash
# The CPU speed figures of docs/speed.md, in one command, into results/speed/:
#   cpu.txt       P1 (forward FLOP/s over a matrix product's, embedded model and Qwen2.5-0.5B's
#                 shape), P2 (1 to 64 single-prompt clients against the in-process batched path),
#                 P4 (one short prompt, idle) and P5 (scoring against generating 8 rollouts);
#   prefixes.txt  prefix sharing in process against none, three models x four workloads;
#   peer.txt      P3: the service against the strong Python peer (tests/benchmark/python_peer),
#                 calls of 16 prompts from 1 / 4 / 16 / 64 clients, three models x four workloads
#                 (plain; distinct, with no shared prefix; a shared 200-token system prompt; hinted
#                 variants), token ids to both; the peer's token budget chosen by its calibration
#                 run (peer_calibration_*.json).
#   prefix_cache.txt  the prefix cache across batches against none, in process: fresh prompts behind
#                 a shared system prompt, and hinted groups, each prompt alone in its batch (three models);
#   dtypes.txt    float32 against bfloat16 on the CPU: forward throughput and each metric's move, three
#                 models (core_benchmark dtypes), and what the move does to held-out AUROC on the
#                 embedded model's signal datasets (sparsegate evaluate in each dtype, compared),
#                 and the float32 forward with products from the BLAS and from oneDNN (--cpu-matmul).
# Needs a built tree (scripts/test.sh or cmake --build build). About 2 hours on 2 cores, most of
# it the 0.5B-shaped model (SKIP_05B=1 leaves it out). Leave the machine otherwise idle.
#   scripts/speed.sh [cpu|prefixes|prefix_cache|peer|dtypes|cpu_matmul ...]     # default: the first five
#                 (dtypes ends with cpu_matmul: the float32 forward with each --cpu-matmul)
# WORKLOADS="distinct" narrows the workloads, and SUFFIX=_distinct writes peer_distinct.txt (and so
# on) instead of replacing the whole part's file. ONLY_05B=1 runs the 0.5B-shaped model alone, and
# REUSE_CALIBRATION=1 keeps a committed peer calibration (16 minutes on that model) instead of
# running it again. PER_REQUEST (default 16) and PREFIX_CACHE_BYTES (default 0; with it, every run
# brings new problems) set the peer part's calls and sparsegate's prefix cache.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CORE=$BUILD/tests/benchmark/core/core_benchmark
SERVICE=$BUILD/tests/benchmark/service_benchmark
PEER=tests/benchmark/python_peer/server.py
EMBEDDED=models/arith-3m
mkdir -p results/speed "$BUILD/bench"
[ -d "$BUILD/bench/bench_qwen3" ] || /usr/bin/python3 tests/server/make_tiny_model.py "$BUILD/bench" --bench
[ -d "$BUILD/bench/0.5b_qwen2" ] || /usr/bin/python3 tests/server/make_tiny_model.py "$BUILD/bench" --bench-0.5b
# model directory, prompts per workload
MODELS=("$EMBEDDED 128" "$BUILD/bench/bench_qwen3 64")
[ -z "${ONLY_05B:-}" ] || MODELS=()
[ -n "${SKIP_05B:-}" ] || MODELS+=("$BUILD/bench/0.5b_qwen2 32")
read -r -a WORKLOADS <<<"${WORKLOADS:-plain distinct system hinted}"
header() { echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"; }

cpu() {
  header
  echo "## P1, P4 in process: embedded model"
  "$CORE" forward --model "$EMBEDDED" --prompts 64 --runs 5
  echo "## P1: Qwen2.5-0.5B shape"
  "$CORE" forward --model "$BUILD/bench/0.5b_qwen2" --prompts 16 --runs 3
  echo "## P5: embedded model, 8 rollouts of up to 256 tokens"
  "$CORE" generate --model "$EMBEDDED" --prompts 16 --runs 3 --samples 8 --max-new-tokens 256
  echo "## P2, P4: embedded model, single-prompt clients"
  "$SERVICE" --model "$EMBEDDED" --prompts 128 --runs 3 --per-request 1 --clients 1,4,16,64 --latency-calls 500 \
    2>&1 | grep -v '^\['
}

prefixes() {
  header
  for entry in "${MODELS[@]}"; do
    read -r model prompts <<<"$entry"
    for workload in "${WORKLOADS[@]}"; do
      echo "## $model, $workload"
      "$CORE" prefixes --model "$model" --workload "$workload" --prompts "$((prompts / 2))" --runs 3
    done
  done
}

prefix_cache() {
  header
  for entry in "${MODELS[@]}"; do
    read -r model prompts <<<"$entry"
    for workload in system hinted; do
      echo "## $model, $workload, one prompt per batch"
      "$CORE" prefix-cache --model "$model" --workload "$workload" --prompts "$((prompts / 4))" --runs 3
    done
  done
}

peer() {
  header
  for entry in "${MODELS[@]}"; do
    read -r model prompts <<<"$entry"
    name=$(basename "$model")
    # The peer's token budget: the fastest of its calibration run on this model's prompts.
    if [ -z "${REUSE_CALIBRATION:-}" ] || [ ! -f "results/speed/peer_calibration_$name.json" ]; then
      "$CORE" forward --model "$model" --prompts "$prompts" --runs 1 --ids-out "$BUILD/bench/ids_$name.json" >/dev/null
      /usr/bin/python3 "$PEER" --model "$model" --calibrate "$BUILD/bench/ids_$name.json" \
        --out "results/speed/peer_calibration_$name.json" >/dev/null
    fi
    budget=$(/usr/bin/python3 -c "import json; print(json.load(open('results/speed/peer_calibration_$name.json'))['token_budget'])")
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    /usr/bin/python3 "$PEER" --model "$model" --port "$port" --token-budget "$budget" > "$BUILD/bench/peer.log" 2>&1 &
    pid=$!
    until grep -q "ready on port" "$BUILD/bench/peer.log"; do sleep 0.2; done
    for workload in "${WORKLOADS[@]}"; do
      echo "## $model, $workload, peer token budget $budget"
      "$SERVICE" --model "$model" --workload "$workload" --prompts "$prompts" --runs 3 --per-request "${PER_REQUEST:-16}" \
        --clients 1,4,16,64 --latency-calls 0 --peer "127.0.0.1:$port" --prefix-cache-bytes "${PREFIX_CACHE_BYTES:-0}" \
        2>&1 | grep -v '^\['
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  done
}

dtypes() {
  header
  for entry in "${MODELS[@]}"; do
    read -r model prompts <<<"$entry"
    echo "## $model"
    "$CORE" dtypes --model "$model" --prompts "$prompts" --runs 3
  done
  # Where the environment pins OpenBLAS's kernels (OPENBLAS_CORETYPE), float32 again with OpenBLAS's
  # own choice, unset for this command alone: bfloat16 goes to oneDNN either way.
  if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    for entry in "${MODELS[@]:0:2}"; do
      read -r model prompts <<<"$entry"
      echo "## $model, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (OpenBLAS's own kernels)"
      env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$CORE" dtypes --model "$model" --prompts "$prompts" --runs 3
    done
  fi
  echo "## the models' linear layers: float32 through the BLAS and through oneDNN, and bfloat16"
  /usr/bin/python3 tests/benchmark/onednn_linear.py
  if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    echo "## the same, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tests/benchmark/onednn_linear.py
  fi
  local signal=$EMBEDDED/signal out=$BUILD/bench/dtypes
  for dtype in float32 bfloat16; do
    "$BUILD/apps/cli/sparsegate" evaluate --model "$EMBEDDED" --dtype "$dtype" -i "$signal/levels.jsonl" \
      -o "$out/levels-$dtype" --control op,digits:categorical >/dev/null 2>&1
    "$BUILD/apps/cli/sparsegate" evaluate --model "$EMBEDDED" --dtype "$dtype" -i "$signal/controlled.jsonl" \
      -o "$out/controlled-$dtype" --control level >/dev/null 2>&1
  done
  for dataset in levels controlled; do
    echo "## held-out AUROC, $EMBEDDED, $dataset.jsonl"
    /usr/bin/python3 scripts/compare_evaluations.py --names float32 bfloat16 --markdown \
      "$out/$dataset-float32/evaluation.json" "$out/$dataset-bfloat16/evaluation.json"
  done
  cpu_matmul
}

# The float32 forward with its products from the BLAS, from oneDNN, and as auto chooses (--cpu-matmul).
cpu_matmul() {
  for entry in "${MODELS[@]:0:2}"; do
    read -r model prompts <<<"$entry"
    for matmul in blas onednn auto; do
      echo "## $model, float32, --cpu-matmul $matmul"
      "$CORE" forward --model "$model" --prompts "$prompts" --runs 3 --cpu-matmul "$matmul" |
        grep -E '"(blas|cpu_matmul|cpu_matmul_choice|prompts_per_s|p50_ms|share_of_matmul|matmul_blas_flops_per_s|matmul_onednn_flops_per_s)"'
    done
  done
}

for part in "${@:-cpu prefixes prefix_cache peer dtypes}"; do
  for p in $part; do "$p" | tee "results/speed/$p${SUFFIX:-}.txt"; done
done
