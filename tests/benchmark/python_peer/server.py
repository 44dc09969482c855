#!/usr/bin/python3
"""The strong Python peer: the service a competent Python ML engineer would deploy instead of sparsegate.

A grpcio server of the same sparsegate.v1.DifficultyService/Score method (messages compiled from
proto/sparsegate/v1/difficulty.proto with protoc at start-up) in front of:

- a dynamic batcher: one worker thread takes every prompt queued across concurrent requests,
  sorts them by length and cuts them into packed batches under a token budget (the sum of the
  batch's tokens; --token-budget, chosen by --calibrate);
- a packed PyTorch-eager float32 forward, as text-embeddings-inference runs it: the linear layers,
  norms and RoPE on the batch's real tokens only, attention within each prompt; inference mode;
  grouped-query attention by broadcasting;
- the worker thread owns the OpenMP team (it sets the intra-op threads itself), and glibc keeps
  large tensors in its heap (the MALLOC_* settings sparsegate's cpu_allocator.h applies, set
  before torch loads);
- the 14 metrics of the last token's last hidden state, in float64.

Prompts come as token ids (the benchmark sends ids to both services: tokenization is out of the
comparison). It serves the last layer with last-token pooling, what service_benchmark asks.

    server.py --model DIR --port P [--token-budget N] [--threads N]
    server.py --model DIR --calibrate IDS.json [--out calibration.json]   # picks --token-budget
"""
import argparse
import json
import math
import os
import sys

# sparsegate's allocator settings (cpu_allocator.h), before torch allocates anything.
_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30), "MALLOC_ARENA_MAX": "1"}
if any(os.environ.get(k) != v for k, v in _MALLOC.items()):
    os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, **_MALLOC))

import concurrent.futures  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "embedded_model"))
from safetensors_io import read_checkpoint  # noqa: E402

CALIBRATION_BUDGETS = (1024, 2048, 4096, 8192, 16384)


def load_messages():
    out = tempfile.mkdtemp(prefix="sparsegate_pb_")
    subprocess.run(["protoc", f"--proto_path={ROOT}/proto", f"--python_out={out}", "sparsegate/v1/difficulty.proto"],
                   check=True)
    sys.path.insert(0, out)
    from sparsegate.v1 import difficulty_pb2  # noqa: E402
    return difficulty_pb2


class Model:
    def __init__(self, directory):
        self.directory = directory
        self.cfg = c = json.load(open(os.path.join(directory, "config.json")))
        self.W = {n: t.to(torch.float32) for n, t in read_checkpoint(directory).items()}
        self.nh, self.nkv = c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = c.get("head_dim") or c["hidden_size"] // self.nh
        theta = c.get("rope_theta", (c.get("rope_parameters") or {}).get("rope_theta", 10000.0))
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        self.masks = {}

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg["rms_norm_eps"]) * w

    def lin(self, x, name):
        y = x @ self.W[name + ".weight"].T
        b = self.W.get(name + ".bias")
        return y if b is None else y + b

    def mask(self, n):
        if n not in self.masks:
            self.masks[n] = torch.full((n, n), float("-inf")).triu(1)
        return self.masks[n]

    @torch.inference_mode()
    def last_states(self, prompts):
        """prompts: lists of ids -> [B, hidden], each prompt's last token after the final norm."""
        c, W, nh, nkv, hd = self.cfg, self.W, self.nh, self.nkv, self.hd
        lengths = [len(p) for p in prompts]
        ids = torch.tensor([t for p in prompts for t in p], dtype=torch.long)
        positions = torch.cat([torch.arange(n) for n in lengths]).float()
        freqs = positions[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]  # [N, 1, hd]

        def rope(x):  # [N, heads, hd]
            half = hd // 2
            return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin

        x = W["model.embed_tokens.weight"][ids]  # [N, d]
        N = x.shape[0]
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = self.rms(x, W[p + "input_layernorm.weight"])
            q = self.lin(h, p + "self_attn.q_proj").view(N, nh, hd)
            k = self.lin(h, p + "self_attn.k_proj").view(N, nkv, hd)
            v = self.lin(h, p + "self_attn.v_proj").view(N, nkv, hd)
            if p + "self_attn.q_norm.weight" in W:
                q, k = self.rms(q, W[p + "self_attn.q_norm.weight"]), self.rms(k, W[p + "self_attn.k_norm.weight"])
            q, k = rope(q), rope(k)
            outs, start = [], 0
            for n in lengths:  # attention within each prompt; the query heads of a group share K/V
                qs = q[start:start + n].transpose(0, 1).reshape(nkv, nh // nkv, n, hd)
                ks, vs = k[start:start + n].transpose(0, 1)[:, None], v[start:start + n].transpose(0, 1)[:, None]
                a = torch.softmax(qs @ ks.transpose(-1, -2) / math.sqrt(hd) + self.mask(n), -1) @ vs
                outs.append(a.reshape(nh, n, hd).transpose(0, 1).reshape(n, nh * hd))
                start += n
            x = x + self.lin(torch.cat(outs) if len(outs) > 1 else outs[0], p + "self_attn.o_proj")
            h = self.rms(x, W[p + "post_attention_layernorm.weight"])
            x = x + self.lin(torch.nn.functional.silu(self.lin(h, p + "mlp.gate_proj")) * self.lin(h, p + "mlp.up_proj"),
                             p + "mlp.down_proj")
        last = torch.tensor(lengths).cumsum(0) - 1
        return self.rms(x[last], W["model.norm.weight"])


def metrics(h):  # [N, d] -> [N, 14], the definitions of docs/api.md (The features), in float64
    h = h.double()
    d = h.shape[1]
    a = h.abs()
    a2 = a * a
    sa, sa2 = a.sum(-1).clamp_min(1e-300), a2.sum(-1).clamp_min(1e-300)
    heavy = (a > a.mean(-1, keepdim=True) + a.std(-1, unbiased=False, keepdim=True)).double().mean(-1)
    desc = a.sort(-1, descending=True).values
    ca, ca2 = desc.cumsum(-1), (desc * desc).cumsum(-1)
    top = lambda cum, tot, s: cum[:, max(1, int(math.floor(s * d))) - 1] / tot  # noqa: E731
    ent = lambda p: -(p * torch.where(p > 0, p.log(), torch.zeros_like(p))).sum(-1)  # noqa: E731
    hoyer = (math.sqrt(d) - sa / sa2.sqrt()) / (math.sqrt(d) - 1)
    asc = desc.flip(-1)
    gini = (asc * (2 * torch.arange(1, d + 1, dtype=torch.float64) - d - 1)).sum(-1) / (d * sa)
    cen = a - a.mean(-1, keepdim=True)
    m2, m4 = cen.pow(2).mean(-1), cen.pow(4).mean(-1)
    return torch.stack([heavy, top(ca2, sa2, .01), top(ca2, sa2, .05), top(ca2, sa2, .10), top(ca, sa, .01),
                        top(ca, sa, .05), top(ca, sa, .10), hoyer, ent(a / sa[:, None]).exp() / d,
                        ent(a2 / sa2[:, None]).exp() / d, gini, m4 / (m2 * m2).clamp_min(1e-300) - 3,
                        sa2 * sa2 / (a2 * a2).sum(-1).clamp_min(1e-300) / d, desc[:, 0] / (sa2 / d).sqrt()], -1).float()


FIELDS = ["heavy_tail_fraction", "top1_energy", "top5_energy", "top10_energy", "top1_mass", "top5_mass", "top10_mass",
          "hoyer", "effective_rank_l1", "effective_rank_l2", "gini", "kurtosis", "participation_ratio",
          "max_abs_over_rms"]


def cut(items, budget):
    """Length-sorted packed batches whose tokens sum to at most `budget` (a longer prompt alone)."""
    batches, batch, tokens = [], [], 0
    for item in sorted(items, key=lambda it: len(it[0])):
        if batch and tokens + len(item[0]) > budget:
            batches.append(batch)
            batch, tokens = [], 0
        batch.append(item)
        tokens += len(item[0])
    return batches + ([batch] if batch else [])


class Batcher:
    """Gathers prompts across requests; one worker thread, which owns the OpenMP team, runs them."""

    def __init__(self, model, token_budget, threads):
        self.model, self.budget = model, token_budget
        self.pending, self.ready = [], threading.Condition()
        threading.Thread(target=self.run, args=(threads,), daemon=True).start()

    def submit(self, ids):
        future = concurrent.futures.Future()
        with self.ready:
            self.pending.append((ids, future))
            self.ready.notify()
        return future

    def run(self, threads):
        torch.set_num_threads(threads)  # per thread with OpenMP: the worker sets its own
        while True:
            with self.ready:
                while not self.pending:
                    self.ready.wait()
                items, self.pending = self.pending, []
            for batch in cut(items, self.budget):
                m = metrics(self.model.last_states([ids for ids, _ in batch]))
                for row, (_, future) in enumerate(batch):
                    future.set_result(m[row].tolist())


def calibrate(model, ids_file, out, threads):
    """Throughput of every budget in CALIBRATION_BUDGETS on the benchmark's prompts, median of 3."""
    torch.set_num_threads(threads)
    prompts = json.load(open(ids_file))
    results = {}
    for budget in CALIBRATION_BUDGETS:
        times = []
        for run in range(4):  # the first is a warm-up
            start = time.perf_counter()
            for batch in cut([(p, None) for p in prompts], budget):
                metrics(model.last_states([p for p, _ in batch]))
            times.append(time.perf_counter() - start)
        results[budget] = len(prompts) / sorted(times[1:])[1]
        print(f"token budget {budget}: {results[budget]:.1f} prompts/s", flush=True)
    best = max(results, key=results.get)
    report = {"model": model.directory, "prompts": len(prompts), "threads": threads,
              "prompts_per_s": {str(b): r for b, r in results.items()}, "token_budget": best}
    if out:
        with open(out, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
    print(f"best token budget {best}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--port", type=int)
    ap.add_argument("--token-budget", type=int, default=4096, help="tokens per packed batch (--calibrate picks it)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--calibrate", metavar="IDS_JSON", help="time each token budget on these prompts (JSON lists of ids)")
    ap.add_argument("--out", help="--calibrate: write the result here")
    args = ap.parse_args()
    model = Model(args.model)
    if args.calibrate:
        return calibrate(model, args.calibrate, args.out, args.threads)
    if args.port is None:
        ap.error("--port is required to serve")
    import grpc  # Debian's python3-grpcio
    pb = load_messages()
    batcher = Batcher(model, args.token_budget, args.threads)
    layer = model.cfg["num_hidden_layers"]

    def score(request, context):
        futures = [batcher.submit(list(p.tokens.ids)) for p in request.prompts]
        response = pb.ScoreResponse()
        for index, future in enumerate(futures):
            result = response.results.add(index=index, token_count=len(request.prompts[index].tokens.ids))
            fs = result.features.add(layer=layer, pooling=pb.POOLING_LAST_TOKEN)
            for name, value in zip(FIELDS, future.result()):
                setattr(fs.metrics, name, value)
        return response

    handler = grpc.method_handlers_generic_handler("sparsegate.v1.DifficultyService", {
        "Score": grpc.unary_unary_rpc_method_handler(score, request_deserializer=pb.ScoreRequest.FromString,
                                                     response_serializer=pb.ScoreResponse.SerializeToString)})
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=128), handlers=(handler,))
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"ready on port {args.port} (token budget {args.token_budget})", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
