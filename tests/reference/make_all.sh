#!/usr/bin/env bash
# Generates the reference matrix used by the C++ model tests:
#   make_all.sh OUTDIR   ->  OUTDIR/<case>/{config.json, model*.safetensors, reference.safetensors}
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: $0 OUTDIR" >&2; exit 2; fi
OUT=$1
PY=${PYTHON:-/usr/bin/python3}   # Debian python3 has torch + numpy
GEN="$(cd "$(dirname "$0")" && pwd)/make_reference.py"

gen() {  # gen NAME ARGS...
  local name=$1; shift
  rm -rf "$OUT/$name"
  "$PY" "$GEN" --out "$OUT/$name" "$@"
}

gen qwen2_f32                 --arch qwen2   --dtype f32
gen qwen3_f32                 --arch qwen3   --dtype f32
gen llama_f32                 --arch llama   --dtype f32
gen llama31_f32               --arch llama31 --dtype f32
gen mistral_f32               --arch mistral --dtype f32
gen qwen2_bf16                --arch qwen2   --dtype bf16
gen llama_f16                 --arch llama   --dtype f16
gen qwen3_f32_shards3         --arch qwen3   --dtype f32 --shards 3
gen llama31_f32_rope_parameters --arch llama31 --dtype f32 --config-style rope_parameters
gen mistral_f32_tied          --arch mistral --dtype f32 --tie-embeddings
gen llama_f32_attn_bias       --arch llama   --dtype f32 --attention-bias
# Prompts behind one 20-token prefix (one a repeat of it, one unrelated): the forward computes the
# prefix once; Mistral's sliding window (8) then reaches back into it.
gen qwen3_f32_shared_prefix   --arch qwen3   --dtype f32 --lengths 20,27,33,20,9,24 --shared-prefix 20
gen mistral_f32_shared_prefix --arch mistral --dtype f32 --lengths 20,27,33,20,9,24 --shared-prefix 20
echo "reference cases written to $OUT"
