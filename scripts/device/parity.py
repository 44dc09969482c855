#!/usr/bin/env python3
"""GPU parity of the model core (issue 13, item 3), run by scripts/device/check.sh.

For random-weight checkpoints of Qwen2, Qwen3, Llama 3.1 and Mistral at 1.5B-class shapes, made
and saved by transformers itself (config.json + safetensors, bfloat16), every hidden state of one
right-padded batch is compared at the real positions, as relative RMS error |a - b|_2 / |b|_2 per
hidden state and row:
  gpu_f32_vs_cpu_f32   sparsegate on the GPU in float32 against sparsegate on the CPU in float32
                       (the device path alone; bound 1e-3)
  gpu_bf16_vs_hf_bf16  sparsegate on the GPU in bfloat16 against transformers on the GPU in
                       bfloat16, output_hidden_states=True (bound 8u, u = 2^-8)
  gpu_bf16_vs_cpu_f32  what computing in bfloat16 costs sparsegate, next to
  hf_bf16_vs_cpu_f32   what it costs transformers; sparsegate passes when it is within 8u or within
                       1.25 x transformers' own bfloat16 error
The CPU float32 path is itself checked against an independent reference in CTest
(tests/model/model_reference_test.cc). Needs torch, transformers and numpy.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import transformers

U = 2.0 ** -8
SHAPES = {
    # Qwen2.5-1.5B
    "qwen2": ("Qwen2Config", dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                                  num_attention_heads=12, num_key_value_heads=2, vocab_size=151936,
                                  max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
                                  tie_word_embeddings=True)),
    # Qwen3-1.7B
    "qwen3": ("Qwen3Config", dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
                                  num_attention_heads=16, num_key_value_heads=8, head_dim=128, vocab_size=151936,
                                  max_position_embeddings=40960, rope_theta=1000000.0, rms_norm_eps=1e-6,
                                  tie_word_embeddings=True)),
    # Llama 3.2 1B: the Llama 3.1 architecture with its llama3 RoPE scaling
    "llama31": ("LlamaConfig", dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                    num_attention_heads=32, num_key_value_heads=8, head_dim=64, vocab_size=128256,
                                    max_position_embeddings=131072, rope_theta=500000.0, rms_norm_eps=1e-5,
                                    rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                                  "high_freq_factor": 4.0,
                                                  "original_max_position_embeddings": 8192},
                                    tie_word_embeddings=True)),
    # A 1.5B-class Mistral (no official one): Mistral's layout at Llama-1B width
    "mistral": ("MistralConfig", dict(hidden_size=2048, intermediate_size=7168, num_hidden_layers=22,
                                      num_attention_heads=16, num_key_value_heads=8, head_dim=128, vocab_size=32768,
                                      max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-5,
                                      sliding_window=4096, tie_word_embeddings=False)),
}
LENGTHS = [17, 64, 129, 200]


def make_checkpoint(arch, directory):
    """Random weights through transformers' own initialization, saved by save_pretrained."""
    if os.path.exists(os.path.join(directory, "config.json")):
        return
    cls_name, kwargs = SHAPES[arch]
    config = getattr(transformers, cls_name)(**kwargs)
    torch.manual_seed(0)
    with torch.device("cuda"):
        try:
            model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        except TypeError:  # transformers 4 spells it torch_dtype
            model = transformers.AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16)
    model.save_pretrained(directory, safe_serialization=True)
    del model
    torch.cuda.empty_cache()


def load_hf(directory):
    """The checkpoint in transformers, bfloat16, on the GPU, for inference."""
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.bfloat16)
    except TypeError:  # transformers 4 spells it torch_dtype
        model = transformers.AutoModelForCausalLM.from_pretrained(directory, torch_dtype=torch.bfloat16)
    return model.cuda().eval()


def hf_hidden(directory, ids, mask):
    model = load_hf(directory)
    with torch.no_grad():
        out = model(input_ids=ids.cuda(), attention_mask=mask.cuda(), output_hidden_states=True)
    states = np.stack([h.float().cpu().numpy() for h in out.hidden_states])
    del model, out
    torch.cuda.empty_cache()
    return states


def ours(bench, directory, ids_file, device, dtype, work):
    out = os.path.join(work, f"hidden_{device.replace(':', '')}_{dtype}.bin")
    subprocess.run([bench, "hidden", "--model", directory, "--ids", ids_file, "--out", out, "--device", device,
                    "--dtype", dtype], check=True)
    meta = json.load(open(out + ".json"))
    return np.fromfile(out, dtype=np.float32).reshape(meta["shape"])


def worst_relative(a, b, lengths):
    worst = 0.0
    for layer in range(a.shape[0]):
        for row, n in enumerate(lengths):
            x, y = a[layer, row, :n].astype(np.float64), b[layer, row, :n].astype(np.float64)
            worst = max(worst, float(np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-30)))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", required=True, help="core_benchmark binary")
    ap.add_argument("--work", required=True, help="folder for the checkpoints and dumps")
    ap.add_argument("--out", required=True, help="JSON result")
    ap.add_argument("--archs", default=",".join(SHAPES))
    args = ap.parse_args()
    results, ok = {}, True
    for arch in args.archs.split(","):
        start = time.time()
        directory = os.path.join(args.work, arch)
        os.makedirs(directory, exist_ok=True)
        make_checkpoint(arch, directory)
        vocab = SHAPES[arch][1]["vocab_size"]
        g = torch.Generator().manual_seed(1)
        ids = torch.zeros(len(LENGTHS), max(LENGTHS), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, n in enumerate(LENGTHS):
            ids[row, :n] = torch.randint(0, vocab, (n,), generator=g)
            mask[row, :n] = 1
        ids_file = os.path.join(directory, "ids.json")
        json.dump([ids[row, :n].tolist() for row, n in enumerate(LENGTHS)], open(ids_file, "w"))
        hf = hf_hidden(directory, ids, mask)
        gpu_bf16 = ours(args.bench, directory, ids_file, "cuda", "bfloat16", directory)
        gpu_f32 = ours(args.bench, directory, ids_file, "cuda", "float32", directory)
        cpu_f32 = ours(args.bench, directory, ids_file, "cpu", "float32", directory)
        r = {
            "gpu_f32_vs_cpu_f32": worst_relative(gpu_f32, cpu_f32, LENGTHS),
            "gpu_bf16_vs_hf_bf16": worst_relative(gpu_bf16, hf, LENGTHS),
            "gpu_bf16_vs_cpu_f32": worst_relative(gpu_bf16, cpu_f32, LENGTHS),
            "hf_bf16_vs_cpu_f32": worst_relative(hf, cpu_f32, LENGTHS),
            "hidden_states": int(hf.shape[0]), "lengths": LENGTHS, "seconds": round(time.time() - start, 1),
        }
        r["pass"] = bool(r["gpu_f32_vs_cpu_f32"] <= 1e-3 and r["gpu_bf16_vs_hf_bf16"] <= 8 * U and
                         (r["gpu_bf16_vs_cpu_f32"] <= 8 * U or r["gpu_bf16_vs_cpu_f32"] <= 1.25 * r["hf_bf16_vs_cpu_f32"]))
        ok = ok and r["pass"]
        results[arch] = r
        print(arch, json.dumps(r), flush=True)
    json.dump({"bound_bf16": 8 * U, "bound_f32": 1e-3, "archs": results, "pass": ok}, open(args.out, "w"), indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
