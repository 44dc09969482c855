#!/usr/bin/env python3
"""GPU benchmarks of the model core (issue 13, item 5), run by scripts/device/check.sh after
parity.py (whose qwen2 checkpoint, Qwen2.5-1.5B's shape, it reuses with the embedded model's
tokenizer beside it):
  P1  forward useful FLOP/s over an 8192^3 bfloat16 matrix product in the same process, and over
      the H200's dense bfloat16 peak (989 TFLOP/s, NVIDIA's figure), on the 1.5B shape;
  P3  sparsegate's in-process scoring against transformers scoring the same token ids the way a
      user would write it (length-sorted batches under the same token budget, attention mask,
      output_hidden_states, last-token and mean pooling of the last layer; the 14 metrics are
      left out of the transformers side, which favours it);
  P4  one short prompt on the embedded model, idle, in process;
  P5  scoring against generating 8 rollouts of 256 tokens at most, on the embedded model and the
      1.5B shape;
  and the memory-bounded batch: core_benchmark budget runs the worst case that the budget fitted
  to the GPU's free memory admits (rows of 2048 tokens, every hidden state kept) on the 1.5B shape.
The service itself (gRPC) is not built on a machine without gRPC packages: P2 and the service's
P4 are measured on CPU (docs/speed.md).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import torch

from parity import load_hf

H200_BF16_PEAK = 989e12
EMBEDDED = "models/arith-3m"


def run(bench, *args):
    out = subprocess.run([bench, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def hf_prompts_per_second(directory, ids, token_budget, runs):
    model = load_hf(directory)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches, current, longest = [], [], 0
    for i in order:
        n = len(ids[i])
        if current and max(longest, n) * (len(current) + 1) > token_budget:
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, n)
    batches.append(current)

    def once():
        pooled = []
        for batch in batches:
            T = max(len(ids[i]) for i in batch)
            x = torch.zeros(len(batch), T, dtype=torch.long)
            m = torch.zeros_like(x)
            for row, i in enumerate(batch):
                x[row, :len(ids[i])] = torch.tensor(ids[i])
                m[row, :len(ids[i])] = 1
            x, m = x.cuda(), m.cuda()
            with torch.no_grad():
                h = model(input_ids=x, attention_mask=m, output_hidden_states=True).hidden_states[-1].float()
            lengths = m.sum(1)
            last = h[torch.arange(len(batch), device=h.device), lengths - 1]
            mean = (h * m.unsqueeze(-1)).sum(1) / lengths.unsqueeze(-1)
            pooled.append(torch.cat([last, mean], -1).cpu())
        torch.cuda.synchronize()
        return pooled

    once()
    seconds = []
    for _ in range(runs):
        start = time.time()
        once()
        seconds.append(time.time() - start)
    del model
    torch.cuda.empty_cache()
    return len(ids) / sorted(seconds)[len(seconds) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", required=True)
    ap.add_argument("--work", required=True, help="parity.py's checkpoint folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    shape = os.path.join(args.work, "qwen2")
    shutil.copy(os.path.join(EMBEDDED, "tokenizer.json"), os.path.join(shape, "tokenizer.json"))
    budget = "65536"
    result = {}

    def save():  # after every step, so that a timeout keeps what was measured
        json.dump(result, open(args.out, "w"), indent=2)

    ids_file = os.path.join(args.work, "bench_ids.json")
    big = run(args.bench, "forward", "--model", shape, "--device", "cuda", "--prompts", "512", "--runs", str(args.runs),
              "--token-budget", budget, "--ids-out", ids_file)
    big["P1"]["share_of_bf16_peak"] = big["P1"]["forward_useful_flops_per_s"] / H200_BF16_PEAK
    result["qwen2_1.5b_forward"] = big
    save()
    hf_rate = hf_prompts_per_second(shape, json.load(open(ids_file)), int(budget), args.runs)
    result["P3_gpu"] = {"sparsegate_prompts_per_s": big["P1"]["prompts_per_s"], "transformers_prompts_per_s": hf_rate,
                        "ratio": big["P1"]["prompts_per_s"] / hf_rate}
    save()
    result["embedded_forward"] = run(args.bench, "forward", "--model", EMBEDDED, "--device", "cuda", "--runs",
                                     str(args.runs))
    save()
    result["embedded_generate"] = run(args.bench, "generate", "--model", EMBEDDED, "--device", "cuda", "--runs", "3",
                                      "--max-new-tokens", "256")
    save()
    result["qwen2_1.5b_generate"] = run(args.bench, "generate", "--model", shape, "--device", "cuda", "--runs", "1",
                                        "--prompts", "4", "--max-new-tokens", "256")
    save()
    # The memory-bounded batch: the worst case FitTokenBudget admits on this GPU, run for real.
    try:
        result["memory_budget"] = run(args.bench, "budget", "--model", shape, "--device", "cuda",
                                      "--max-prompt-tokens", "2048", "--token-budget", str(1 << 40))
    except subprocess.CalledProcessError as failed:
        result["memory_budget"] = {"rc": failed.returncode, "stdout": failed.stdout[-2000:],
                                   "stderr": failed.stderr[-2000:]}
    save()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
