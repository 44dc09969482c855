#!/usr/bin/python3
"""P3's CPU baseline: the service a user would write instead of sparsegate, in Python.

A grpcio server of the same sparsegate.v1.DifficultyService/Score method (messages from
proto/sparsegate/v1/difficulty.proto, compiled with protoc at start-up), a batching thread that
gathers queued prompts for up to 2 ms or a padded-token budget, a PyTorch-eager forward of the
checkpoint in float32 (the decoder written the plain way: right-padded batch, causal mask,
repeat_interleave for grouped-query attention), last-token pooling of the last hidden state and
the 14 metrics in torch. Prompts come as token ids (the benchmark sends ids to both services, so
tokenization is out of the comparison). It serves what service_benchmark --baseline asks: last
layer, last-token pooling; other options are ignored.

    server.py --model DIR --port P [--token-budget 8192] [--threads N]
"""
import argparse
import concurrent.futures
import json
import math
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from make_reference import read_checkpoint  # noqa: E402  (safetensors reader, numpy only)


def load_messages():
    out = tempfile.mkdtemp(prefix="sparsegate_pb_")
    subprocess.run(["protoc", f"--proto_path={ROOT}/proto", f"--python_out={out}", "sparsegate/v1/difficulty.proto"],
                   check=True)
    sys.path.insert(0, out)
    from sparsegate.v1 import difficulty_pb2  # noqa: E402
    return difficulty_pb2


class Model:
    def __init__(self, directory):
        self.cfg = json.load(open(os.path.join(directory, "config.json")))
        self.W = {n: t.to(torch.float32) for n, t in read_checkpoint(directory).items()}
        c = self.cfg
        self.hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        theta = c.get("rope_theta", (c.get("rope_parameters") or {}).get("rope_theta", 10000.0))
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg["rms_norm_eps"]) * w

    def lin(self, x, name):
        y = x @ self.W[name + ".weight"].T
        b = self.W.get(name + ".bias")
        return y if b is None else y + b

    @torch.inference_mode()
    def last_hidden(self, ids):  # ids [B, T] right-padded -> [B, T, H] after the final norm
        c, W = self.cfg, self.W
        B, T = ids.shape
        nh, nkv, hd = c["num_attention_heads"], c["num_key_value_heads"], self.hd
        freqs = torch.arange(T, dtype=torch.float32)[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), float("-inf")).triu(1)

        def rope(x):
            half = x.shape[-1] // 2
            return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin

        x = W["model.embed_tokens.weight"][ids]
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = self.rms(x, W[p + "input_layernorm.weight"])
            q = self.lin(h, p + "self_attn.q_proj").view(B, T, nh, hd).transpose(1, 2)
            k = self.lin(h, p + "self_attn.k_proj").view(B, T, nkv, hd).transpose(1, 2)
            v = self.lin(h, p + "self_attn.v_proj").view(B, T, nkv, hd).transpose(1, 2)
            if p + "self_attn.q_norm.weight" in W:
                q, k = self.rms(q, W[p + "self_attn.q_norm.weight"]), self.rms(k, W[p + "self_attn.k_norm.weight"])
            q, k = rope(q), rope(k)
            k, v = k.repeat_interleave(nh // nkv, 1), v.repeat_interleave(nh // nkv, 1)
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, -1) @ v
            x = x + self.lin(a.transpose(1, 2).reshape(B, T, nh * hd), p + "self_attn.o_proj")
            h = self.rms(x, W[p + "post_attention_layernorm.weight"])
            x = x + self.lin(torch.nn.functional.silu(self.lin(h, p + "mlp.gate_proj")) * self.lin(h, p + "mlp.up_proj"),
                             p + "mlp.down_proj")
        return self.rms(x, W["model.norm.weight"])


def metrics(h):  # [N, d] -> [N, 14], the definitions of README.md (The features), in float64
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


class Batcher:
    def __init__(self, model, token_budget, pb):
        self.model, self.budget, self.pb = model, token_budget, pb
        self.queue = queue.Queue()
        threading.Thread(target=self.run, daemon=True).start()

    def submit(self, ids):
        future = concurrent.futures.Future()
        self.queue.put((ids, future))
        return future

    def run(self):
        while True:
            batch = [self.queue.get()]
            deadline = time.monotonic() + 0.002
            while True:
                longest = max(len(i) for i, _ in batch)
                try:
                    item = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if max(longest, len(item[0])) * (len(batch) + 1) > self.budget:
                    self.queue.put(item)  # next batch
                    break
                batch.append(item)
            T = max(len(i) for i, _ in batch)
            ids = torch.zeros(len(batch), T, dtype=torch.long)
            for row, (i, _) in enumerate(batch):
                ids[row, :len(i)] = torch.tensor(i)
            lengths = torch.tensor([len(i) for i, _ in batch])
            h = self.model.last_hidden(ids)
            m = metrics(h[torch.arange(len(batch)), lengths - 1])
            for row, (_, future) in enumerate(batch):
                future.set_result(m[row].tolist())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token-budget", type=int, default=8192)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    import grpc  # Debian's python3-grpcio
    torch.set_num_threads(args.threads)
    pb = load_messages()
    model = Model(args.model)
    batcher = Batcher(model, args.token_budget, pb)
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
    print(f"ready on port {args.port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
