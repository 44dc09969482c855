#!/usr/bin/env bash
# The CPU speed figures of docs/speed.md, in one command, into results/speed/cpu.txt:
# P1 (forward FLOP/s over a matrix product's, embedded model and Qwen2.5-0.5B's shape), P2 (1 to 64
# single-prompt clients against the in-process batched path), P3 (against the Python gRPC +
# PyTorch-eager baseline, tests/benchmark/python_baseline), P4 (one short prompt, idle) and P5
# (scoring against generating 8 rollouts). Needs a built tree (scripts/test.sh or cmake --build
# build); takes about 15 minutes on 2 cores. Leave the machine otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=results/speed/cpu.txt
mkdir -p results/speed "$BUILD/bench"
CORE=$BUILD/tests/benchmark/core/core_benchmark
SERVICE=$BUILD/tests/benchmark/service_benchmark
EMBEDDED=models/arith-3m
[ -d "$BUILD/bench/0.5b_qwen2" ] || /usr/bin/python3 tests/server/make_tiny_model.py "$BUILD/bench" --bench-0.5b
{
  echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "## P1, P4 in process: embedded model"
  "$CORE" forward --model "$EMBEDDED" --prompts 64 --runs 5
  echo "## P1: Qwen2.5-0.5B shape"
  "$CORE" forward --model "$BUILD/bench/0.5b_qwen2" --prompts 16 --runs 3
  echo "## P5: embedded model, 8 rollouts of up to 256 tokens"
  "$CORE" generate --model "$EMBEDDED" --prompts 16 --runs 3 --samples 8 --max-new-tokens 256
  echo "## P2, P3, P4: embedded model, single-prompt clients, token ids to both services"
  PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  /usr/bin/python3 tests/benchmark/python_baseline/server.py --model "$EMBEDDED" --port "$PORT" > "$BUILD/bench/baseline.log" 2>&1 &
  PID=$!
  trap 'kill $PID 2>/dev/null || true' EXIT
  until grep -q "ready on port" "$BUILD/bench/baseline.log"; do sleep 0.2; done
  "$SERVICE" --model "$EMBEDDED" --prompts 128 --runs 3 --per-request 1 --clients 1,4,16,64 --latency-calls 500 \
    --baseline "127.0.0.1:$PORT" 2>&1 | grep -v '^\['
} | tee "$OUT"
