#!/usr/bin/python3
"""Trains the embedded default model: a small Qwen2 that does arithmetic step by step.

The model learns the traces of arithmetic.py on operands of up to 3 digits (the familiar range),
so that harder and out-of-range problems are left for evaluation. Everything the project's C++
side reads is written in the formats a user's checkpoint has: config.json, model.safetensors (F32),
tokenizer.json (byte-level BPE, built by byte_bpe.py) and tokenizer_config.json, plus
training_log.json with the budget and the loss curve for the model card.

Text is tokenized by the project's own tokenizer (`sparsegate tokenize`), so training and serving
see the same ids. The architecture is written here in plain torch from the Hugging Face Qwen2
definition; the C++ model loads the result, and the model card's greedy accuracy (decoded by the
C++ generation code) is what shows the two agree.

Deterministic: the same seed, steps and thread count give the same weights, byte for byte, on the
same torch build and BLAS.

    train.py --out models/arith-3m --sparsegate build/apps/cli/sparsegate

A second recipe continues a trained model on traces with an injected error habit (--init,
--slip-rate): each carry or borrow is forgotten with that probability (arithmetic.slipped_solution),
so the model learns to slip at about that rate in every column, while its greedy trace stays right.
That is the RL testbed's starting policy (models/arith-3m-slips, scripts/rl/README.md): sampled at
temperature 1 its pass rate falls with the number of carries, and reward can teach it one habit that
holds on every problem.

    train.py --out models/arith-3m-slips --sparsegate build/apps/cli/sparsegate --init models/arith-3m \
        --slip-rate 0.3 --seed 1 --steps 400 --lr 3e-4 --warmup 20
"""
import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import arithmetic  # noqa: E402
import byte_bpe  # noqa: E402
from safetensors_io import read_checkpoint, write_safetensors  # noqa: E402

EOS = "<|endoftext|>"
# The answer marker: a prompt is "Q: 478 + 356 = ?", the model writes "\nA: <trace>" after it.
ANSWER_PREFIX = "\nA: "
# Words of the traces that get one token each; digits, signs and spaces stay single bytes, so
# every digit is its own token.
WORDS = ["Ġwrite", "Ġcarry", "Ġborrow", "ĠSo", "Ġso", "Q", "A"]

ARCHITECTURE = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
    "hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 4,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024,
    "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None, "tie_word_embeddings": True,
    "use_sliding_window": False, "sliding_window": None, "max_window_layers": 4,
    "initializer_range": 0.02, "attention_dropout": 0.0, "torch_dtype": "float32", "use_cache": True,
}


def training_text(row):
    return row["prompt"] + ANSWER_PREFIX + row["solution"]


# ---------------------------------------------------------------------------------------------
# Model: Qwen2 (q/k/v biases, grouped-query attention, RoPE, SwiGLU, RMSNorm, tied embeddings).
# Module names follow the Hugging Face checkpoint names, so the state dict is the checkpoint.
# ---------------------------------------------------------------------------------------------
class RMSNorm(torch.nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Attention(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads, self.kv_heads = c["num_attention_heads"], c["num_key_value_heads"]
        self.head_dim = c["hidden_size"] // self.heads
        H = c["hidden_size"]
        self.q_proj = torch.nn.Linear(H, self.heads * self.head_dim, bias=True)
        self.k_proj = torch.nn.Linear(H, self.kv_heads * self.head_dim, bias=True)
        self.v_proj = torch.nn.Linear(H, self.kv_heads * self.head_dim, bias=True)
        self.o_proj = torch.nn.Linear(self.heads * self.head_dim, H, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        group = self.heads // self.kv_heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim) + mask
        out = torch.softmax(scores, dim=-1) @ v
        return self.o_proj(out.transpose(1, 2).reshape(B, T, -1))


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class MLP(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        H, I = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = torch.nn.Linear(H, I, bias=False)
        self.up_proj = torch.nn.Linear(H, I, bias=False)
        self.down_proj = torch.nn.Linear(I, H, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class Qwen2(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.model = Decoder(c)
        head_dim = c["hidden_size"] // c["num_attention_heads"]
        self.register_buffer("inv_freq", 1.0 / (c["rope_theta"] ** (torch.arange(0, head_dim, 2).float() / head_dim)),
                             persistent=False)
        std = c["initializer_range"]
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                continue
            torch.nn.init.zeros_(p) if name.endswith(".bias") else torch.nn.init.normal_(p, std=std)

    def forward(self, ids):
        T = ids.shape[1]
        freqs = torch.outer(torch.arange(T, dtype=torch.float32), self.inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.model.norm(x) @ self.model.embed_tokens.weight.t()  # tied LM head


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def tokenize(sparsegate, tokenizer_dir, texts):
    """Token ids of each text, by the project's tokenizer."""
    stdin = "".join(json.dumps(t) + "\n" for t in texts)
    out = subprocess.run([sparsegate, "tokenize", "--tokenizer", tokenizer_dir, "--jsonl"], input=stdin,
                         capture_output=True, text=True, check=True).stdout
    ids = [json.loads(line) for line in out.splitlines()]
    assert len(ids) == len(texts), (len(ids), len(texts))
    return ids


def make_examples(sparsegate, tokenizer_dir, rows, eos_id):
    """(ids, first completion position) per row; the loss covers the completion and the EOS."""
    prompts = tokenize(sparsegate, tokenizer_dir, [r["prompt"] for r in rows])
    full = tokenize(sparsegate, tokenizer_dir, [training_text(r) for r in rows])
    examples = []
    for p, f in zip(prompts, full):
        assert f[:len(p)] == p, "the prompt's tokens must be a prefix of the training text's"
        examples.append((f + [eos_id], len(p)))
    return examples


def batches(examples, batch_size, rng):
    """Batches of similar length (little padding), in a seeded random order."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    chunk = batch_size * 32
    out = []
    for s in range(0, len(order), chunk):
        part = sorted(order[s:s + chunk], key=lambda i: len(examples[i][0]))
        out += [part[b:b + batch_size] for b in range(0, len(part), batch_size)]
    rng.shuffle(out)
    return out


def collate(examples, batch, pad_id):
    T = max(len(examples[i][0]) for i in batch)
    ids = torch.full((len(batch), T), pad_id, dtype=torch.long)
    targets = torch.full((len(batch), T), -100, dtype=torch.long)
    for row, i in enumerate(batch):
        seq, start = examples[i]
        ids[row, :len(seq)] = torch.tensor(seq)
        # position t predicts token t + 1: supervise the completion tokens only.
        targets[row, start - 1:len(seq) - 1] = torch.tensor(seq[start:])
    return ids, targets


def learning_rate(step, steps, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def save(model, config, out):
    state = model.state_dict()
    tensors = [(name, state[name]) for name in sorted(state)]  # tied head: embed_tokens only
    write_safetensors(os.path.join(out, "model.safetensors"), tensors)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(dict(sorted(config.items())), f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="model directory to write")
    ap.add_argument("--sparsegate", required=True, help="the sparsegate CLI (tokenizes the corpus)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (part of what makes a run reproducible)")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--size", choices=["default", "test"], default="default",
                    help="test: a tiny model for the reproducibility test")
    ap.add_argument("--init", help="continue this trained model directory (its config, weights, tokenizer)")
    ap.add_argument("--slip-rate", type=float, default=0.0,
                    help="forget each carry or borrow of a training trace with this probability")
    args = ap.parse_args()
    if not 0.0 <= args.slip_rate < 0.5:
        ap.error(f"--slip-rate {args.slip_rate}: must be in [0, 0.5), or the greedy trace would be the slip")

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    if args.init:  # the same tokenizer files and config as the model continued
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(args.init, name), os.path.join(args.out, name))
        with open(os.path.join(args.init, "config.json")) as f:
            config = json.load(f)
        eos_id = config["eos_token_id"]
    else:
        specials = [EOS]
        merges = byte_bpe.merges_spelling(WORDS)
        tokenizer_config = {"add_bos_token": False, "bos_token": None, "eos_token": EOS, "pad_token": EOS,
                            "model_max_length": 1024, "tokenizer_class": "Qwen2Tokenizer"}
        vocab = byte_bpe.write_tokenizer_files(args.out, merges, specials, tokenizer_config)
        eos_id = vocab - 1
        config = dict(ARCHITECTURE, vocab_size=vocab, bos_token_id=eos_id, eos_token_id=eos_id)
        if args.size == "test":
            config.update(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                          num_key_value_heads=1, max_window_layers=2)

    # Training problems: operands of up to FAMILIAR_DIGITS digits, every operation, from their own seed.
    rows = arithmetic.training_set(args.steps * args.batch, args.seed)
    slipped = 0
    if args.slip_rate > 0:
        slip_rng = random.Random(f"slips-{args.seed}")
        for row in rows:
            row["solution"], n = arithmetic.slipped_solution(row, args.slip_rate, slip_rng)
            slipped += n
    t0 = time.time()
    examples = make_examples(args.sparsegate, args.out, rows, eos_id)
    tokenize_seconds = time.time() - t0
    schedule = batches(examples, args.batch, random.Random(args.seed))

    model = Qwen2(config)
    if args.init:
        missing, unexpected = model.load_state_dict(read_checkpoint(args.init), strict=False)
        assert not missing and not unexpected, (missing, unexpected)
    params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.98), eps=1e-8)
    curve, window, tokens = [], [], 0
    t0 = time.time()
    for step, batch in enumerate(schedule):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, len(schedule), args.lr, args.warmup)
        ids, targets = collate(examples, batch, eos_id)
        logits = model(ids)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), ignore_index=-100)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        window.append(loss.item())
        tokens += int((targets != -100).sum())
        if (step + 1) % args.log_every == 0 or step + 1 == len(schedule):
            mean = sum(window) / len(window)
            curve.append([step + 1, round(mean, 5)])
            window = []
            elapsed = time.time() - t0
            print(f"step {step + 1}/{len(schedule)} loss {mean:.4f} {elapsed:.0f}s "
                  f"({(step + 1) / elapsed:.2f} steps/s)", file=sys.stderr, flush=True)
    train_seconds = time.time() - t0

    save(model, config, args.out)
    log = {
        "seed": args.seed, "steps": len(schedule), "batch": args.batch, "peak_lr": args.lr, "warmup": args.warmup,
        "schedule": "linear warm-up, cosine to 10% of peak", "optimizer": "AdamW(0.9, 0.98), weight decay 0.01",
        "threads": args.threads, "parameters": params, "train_problems": len(rows),
        "train_max_digits": arithmetic.FAMILIAR_DIGITS, "supervised_tokens": tokens,
        "train_seconds": round(train_seconds, 1), "tokenize_seconds": round(tokenize_seconds, 1),
        "torch": torch.__version__, "loss_curve": curve,
    }
    if args.init:
        log.update(init=os.path.normpath(args.init), slip_rate=args.slip_rate, carries_forgotten=slipped,
                   carry_uses=sum(arithmetic.carry_uses(r) for r in rows))
    with open(os.path.join(args.out, "training_log.json"), "w") as f:
        json.dump(log, f, indent=1)
    print(f"{params} parameters, {len(schedule)} steps in {train_seconds:.0f}s; written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
