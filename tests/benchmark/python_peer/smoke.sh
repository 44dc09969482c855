#!/usr/bin/env bash
# CI's smoke run of P2, P3 and P4: the strong Python peer and sparsegate's service, both driven by
# service_benchmark for a few prompts. The figures are the benchmark's (docs/speed.md); this only
# shows that the whole comparison runs, reports, and that both services' features agree.
#   smoke.sh SERVICE_BENCHMARK MODEL_DIR
set -euo pipefail
BENCH=$1 MODEL=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp)
/usr/bin/python3 "$HERE/server.py" --model "$MODEL" --port "$PORT" --threads 1 > "$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 300); do
  grep -q "ready on port" "$LOG" && break
  kill -0 $PID 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.1
done
grep -q "ready on port" "$LOG" || { echo "peer did not start"; cat "$LOG"; exit 1; }
"$BENCH" --model "$MODEL" --workload hinted --prompts 8 --runs 1 --clients 1,4 --per-request 4 --latency-calls 5 \
    --peer "127.0.0.1:$PORT"
