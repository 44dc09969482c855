#!/usr/bin/env bash
# The GPU check of issue 13, prepared to run once on a machine with an NVIDIA GPU, CUDA, CMake,
# ninja and a pip PyTorch with transformers, and nothing from the internet:
#   1. builds the model core against the pip PyTorch's CUDA libtorch (SPARSEGATE_BUILD_GRPC=OFF),
#      with the C++ libraries packed by scripts/device/pack_deps.sh (carried as build-device-deps);
#   2. parity (scripts/device/parity.py): hidden states on the GPU against the CPU in float32 and
#      against transformers, on random-weight Qwen2, Qwen3, Llama 3.1 and Mistral checkpoints of
#      1.5B-class shapes;
#   3. benchmarks: P1 (forward FLOP/s over the GPU's bf16 matrix product), P4 and P5 on the GPU,
#      and P3 against transformers' own forward on the same prompts;
# and writes one JSON summary, $OUT/device_check.json (OUT defaults to build-device-check).
#
#   scripts/device/pack_deps.sh                       # here, on Debian (once)
#   run: scripts/device/check.sh    carry: build-device-deps
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-build-device-check}           # results (the device tool brings $OUT back)
WORK=${WORK:-/tmp/sparsegate-device}      # checkpoints, gigabytes: never under $OUT
mkdir -p "$OUT" "$WORK"
LOG="$OUT/device_check.log"
exec > >(tee -a "$LOG") 2>&1
start=$(date +%s)
step() { echo "== [$(( $(date +%s) - start )) s] $*"; }

PY=${PYTHON:-python3}
DEPS=$PWD/build-device-deps/usr
[ -d "$DEPS" ] || { echo "no build-device-deps: run scripts/device/pack_deps.sh and carry the folder"; exit 2; }
TORCH_PREFIX=$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
step "nvidia-smi, torch"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'

step "configure and build the core (CUDA libtorch from $TORCH_PREFIX)"
BUILD=build-cuda
GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DSPARSEGATE_BUILD_GRPC=OFF -DBUILD_TESTING=OFF \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$DEPS" -DOPENSSL_ROOT_DIR="$DEPS" ${CMAKE_EXTRA:-} > "$OUT/configure.log" 2>&1
configure_rc=$?
build_rc=1
if [ $configure_rc -eq 0 ]; then
  cmake --build "$BUILD" -j "$(nproc)" --target core_benchmark > "$OUT/build.log" 2>&1
  build_rc=$?
fi
tail -n 30 "$OUT/configure.log" "$OUT/build.log" 2>/dev/null | grep -iE "error|warning: .*deprecated" | head -20
BENCH=$BUILD/tests/benchmark/core/core_benchmark
export LD_LIBRARY_PATH="$DEPS/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"

parity_rc=1; bench_rc=1
if [ $build_rc -eq 0 ]; then
  step "parity: GPU against CPU float32 and transformers"
  timeout 240 "$PY" scripts/device/parity.py --bench "$BENCH" --work "$WORK" --out "$OUT/parity.json"
  parity_rc=$?
  step "benchmarks P1, P3 (against transformers), P4, P5 on the GPU"
  timeout 170 "$PY" scripts/device/bench.py --bench "$BENCH" --work "$WORK" --out "$OUT/bench.json"
  bench_rc=$?
fi
step "summary"
"$PY" - "$OUT" "$configure_rc" "$build_rc" "$parity_rc" "$bench_rc" "$(( $(date +%s) - start ))" <<'PYEOF'
import json, os, sys
out, configure, build, parity, bench, seconds = sys.argv[1], *map(int, sys.argv[2:])
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except Exception as e:
        return {"missing": str(e)}
summary = {"configure_rc": configure, "build_rc": build, "parity_rc": parity, "bench_rc": bench,
           "seconds": seconds, "parity": load("parity.json"), "bench": load("bench.json")}
json.dump(summary, open(os.path.join(out, "device_check.json"), "w"), indent=2)
print(json.dumps(summary, indent=2)[:6000])
PYEOF
[ $configure_rc -eq 0 ] && [ $build_rc -eq 0 ] && [ $parity_rc -eq 0 ] && [ $bench_rc -eq 0 ]
