#!/usr/bin/python3
"""Independent Python reference for decoder-only transformer forward passes.

Writes a tiny random Hugging Face style checkpoint (config.json + safetensors)
for one architecture, then runs a plain forward pass over a few sequences and
stores the per-layer hidden states in reference.safetensors. The C++ model
tests load the same checkpoint and compare their hidden states to these.

Written from the Hugging Face modeling files (modeling_{qwen2,qwen3,llama,
mistral}.py, modeling_rope_utils.py, masking_utils.py), shares no code with
the C++ side. Needs only torch + numpy (run with Debian's /usr/bin/python3).

    make_reference.py --arch {qwen2,qwen3,llama,llama31,mistral}
        --dtype {f32,bf16,f16} --out DIR [--seed 0] [--shards 1]
        [--config-style {legacy,rope_parameters}] [--tie-embeddings]
        [--attention-bias]
"""
import argparse
import json
import math
import os
import sys

import torch

# ----------------------------------------------------------------------------
# safetensors: the project's small writer / reader (scripts/embedded_model/safetensors_io.py)
# ----------------------------------------------------------------------------
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "embedded_model"))
from safetensors_io import read_checkpoint, write_safetensors  # noqa: E402,F401  (read_checkpoint: for importers)


# ----------------------------------------------------------------------------
# config.json
# ----------------------------------------------------------------------------
TORCH_DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
HF_DTYPE_NAMES = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}


# Mid-size shapes for benchmarks: big enough that the forward pass, not
# request handling, dominates (about 24M parameters).
BENCH_SIZES = {"hidden_size": 512, "intermediate_size": 1408, "num_hidden_layers": 8,
               "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 64}
# Qwen2.5-0.5B's shape (494M parameters with its 151,936-entry vocabulary), for the CPU speed figures.
HALF_B_SIZES = {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                "num_attention_heads": 14, "num_key_value_heads": 2, "head_dim": 64, "vocab_size": 151936}


def make_config(arch, dtype, config_style, tie, attention_bias, size="tiny"):
    c = {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,  # GQA: 2 query heads per KV head
        "head_dim": 16,
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": 512,
        "vocab_size": 320,
        "tie_word_embeddings": tie,
        "hidden_act": "silu",
        "torch_dtype": HF_DTYPE_NAMES[dtype],
        "initializer_range": 0.02,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "use_cache": True,
    }
    rope_theta = 10000.0
    rope_scaling = None
    if arch == "qwen2":
        c.update(architectures=["Qwen2ForCausalLM"], model_type="qwen2",
                 rms_norm_eps=1e-6, max_window_layers=3,
                 # Qwen2 ships a sliding_window value but use_sliding_window
                 # false switches it off (HF sets it to None then). The small
                 # value here makes a loader that ignores the flag visibly wrong.
                 use_sliding_window=False, sliding_window=8)
        rope_theta = 1000000.0
    elif arch == "qwen3":
        c.update(architectures=["Qwen3ForCausalLM"], model_type="qwen3",
                 # head_dim deliberately != hidden_size / num_heads (64/4=16)
                 head_dim=32, attention_bias=attention_bias,
                 max_window_layers=3, use_sliding_window=False, sliding_window=None)
        rope_theta = 1000000.0
    elif arch in ("llama", "llama31"):
        c.update(architectures=["LlamaForCausalLM"], model_type="llama",
                 attention_bias=attention_bias, mlp_bias=False, pretraining_tp=1,
                 rms_norm_eps=1e-5)
        if arch == "llama31":
            rope_theta = 500000.0
            # original_max_position_embeddings is small so that, with head_dim
            # 16 and theta 5e5, the 8 frequencies fall in all three regimes:
            # wavelen 6.3 < 16 (kept), 32.4 in [16, 64] (smoothed), >= 167 > 64
            # (divided by factor). Real Llama 3.1 uses 8192.
            rope_scaling = {"rope_type": "llama3", "factor": 8.0,
                            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                            "original_max_position_embeddings": 64}
            c["eos_token_id"] = [2, 3]  # Llama 3.1 configs list several eos ids
    elif arch == "mistral":
        c.update(architectures=["MistralForCausalLM"], model_type="mistral",
                 rms_norm_eps=1e-5, sliding_window=8)
    else:
        raise ValueError(arch)

    if config_style == "legacy":
        c["rope_theta"] = rope_theta
        c["rope_scaling"] = rope_scaling
    else:  # newer transformers: everything RoPE lives in rope_parameters
        rp = {"rope_theta": rope_theta, "rope_type": "default"}
        if rope_scaling is not None:
            rp.update(rope_scaling)
        c["rope_parameters"] = rp
    if size == "bench":
        c.update(BENCH_SIZES)
    elif size == "0.5b":
        c.update(HALF_B_SIZES)
    return dict(sorted(c.items()))


def rope_params(cfg):
    """(theta, scaling dict or None) from either config style."""
    if "rope_parameters" in cfg:
        rp = dict(cfg["rope_parameters"])
        return rp["rope_theta"], (rp if rp.get("rope_type", "default") != "default" else None)
    return cfg["rope_theta"], cfg.get("rope_scaling")


def sliding_window_of(cfg):
    if cfg["model_type"] == "mistral":
        return cfg.get("sliding_window")
    if cfg["model_type"] in ("qwen2", "qwen3") and cfg.get("use_sliding_window"):
        raise NotImplementedError("per-layer Qwen sliding window not modelled")
    return None


# ----------------------------------------------------------------------------
# random weights with HF tensor names
# ----------------------------------------------------------------------------
def make_weights(cfg, seed):
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, std):
        return torch.randn(*shape, generator=g, dtype=torch.float32) * std

    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    mt = cfg["model_type"]
    qkv_bias = mt == "qwen2" or cfg.get("attention_bias", False)
    o_bias = mt != "qwen2" and cfg.get("attention_bias", False)

    def norm_w(n):  # around 1 so a missing / wrong weight shows
        return 1.0 + randn(n, std=0.2)

    w = [("model.embed_tokens.weight", randn(V, H, std=1.0))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w.append((p + "input_layernorm.weight", norm_w(H)))
        # std ~ 1.5/sqrt(fan_in): attention logits of order a few units, so the
        # softmax is neither uniform nor one-hot and rope/mask errors show.
        w.append((p + "self_attn.q_proj.weight", randn(nh * hd, H, std=0.2)))
        if qkv_bias:
            w.append((p + "self_attn.q_proj.bias", randn(nh * hd, std=0.3)))
        w.append((p + "self_attn.k_proj.weight", randn(nkv * hd, H, std=0.2)))
        if qkv_bias:
            w.append((p + "self_attn.k_proj.bias", randn(nkv * hd, std=0.3)))
        w.append((p + "self_attn.v_proj.weight", randn(nkv * hd, H, std=0.2)))
        if qkv_bias:
            w.append((p + "self_attn.v_proj.bias", randn(nkv * hd, std=0.3)))
        w.append((p + "self_attn.o_proj.weight", randn(H, nh * hd, std=0.15)))
        if o_bias:
            w.append((p + "self_attn.o_proj.bias", randn(H, std=0.3)))
        if mt == "qwen3":
            w.append((p + "self_attn.q_norm.weight", norm_w(hd)))
            w.append((p + "self_attn.k_norm.weight", norm_w(hd)))
        w.append((p + "post_attention_layernorm.weight", norm_w(H)))
        w.append((p + "mlp.gate_proj.weight", randn(I, H, std=0.2)))
        w.append((p + "mlp.up_proj.weight", randn(I, H, std=0.2)))
        w.append((p + "mlp.down_proj.weight", randn(H, I, std=0.12)))
    w.append(("model.norm.weight", norm_w(H)))
    if not cfg["tie_word_embeddings"]:
        w.append(("lm_head.weight", randn(V, H, std=0.2)))
    return w


def save_weights(out, weights, shards):
    if shards <= 1:
        write_safetensors(os.path.join(out, "model.safetensors"), weights)
        return
    # contiguous groups of tensors of roughly equal byte size, in order
    sizes = [t.numel() * t.element_size() for _, t in weights]
    total = sum(sizes)
    groups, cur, acc = [], [], 0
    for (name, t), s in zip(weights, sizes):
        cur.append((name, t))
        acc += s
        if acc >= total * (len(groups) + 1) / shards and len(groups) < shards - 1:
            groups.append(cur)
            cur = []
    groups.append(cur)
    assert len(groups) == shards and all(groups), "too few tensors for --shards"
    weight_map = {}
    for k, group in enumerate(groups):
        fname = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        write_safetensors(os.path.join(out, fname), group)
        for name, _ in group:
            weight_map[name] = fname
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


# ----------------------------------------------------------------------------
# the forward pass
# ----------------------------------------------------------------------------
# Math is done in float64 on the stored weights (bf16/f16 upcast exactly), so
# the reference's own rounding (~1e-12) is negligible next to the 1e-4 test
# tolerance; an f32 implementation (HF in f32, or the C++ side) differs from it
# only by its own f32 rounding (~1e-5 here). Results are stored as F32.
CDT = torch.float64


def rms_norm(x, weight, eps):
    # HF: x * rsqrt(mean(x^2) + eps), then * weight (all in f32 or wider).
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def inv_freq_of(cfg):
    theta, scaling = rope_params(cfg)
    hd = cfg["head_dim"]
    # default RoPE: inv_freq[i] = 1 / theta^(2i/head_dim), i = 0 .. head_dim/2-1
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=CDT) / hd))
    if scaling is None:
        return inv
    assert scaling["rope_type"] == "llama3", scaling
    # Llama 3.1 (modeling_rope_utils._compute_llama3_parameters):
    #   wavelen = 2*pi/inv_freq
    #   wavelen < old_ctx/high_freq_factor             -> unchanged
    #   wavelen > old_ctx/low_freq_factor              -> inv_freq / factor
    #   otherwise, s = (old_ctx/wavelen - low)/(high - low),
    #              inv_freq = (1-s)*inv_freq/factor + s*inv_freq
    factor = scaling["factor"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_ctx = scaling["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    out = torch.where(wavelen > old_ctx / low, inv / factor, inv)
    s = (old_ctx / wavelen - low) / (high - low)
    smoothed = (1 - s) * out / factor + s * out
    medium = (wavelen >= old_ctx / high) & (wavelen <= old_ctx / low)
    return torch.where(medium, smoothed, out)


def rotate_half(x):
    # non-interleaved: pairs are (x[i], x[i + d/2])
    d = x.shape[-1] // 2
    return torch.cat((-x[..., d:], x[..., :d]), dim=-1)


def apply_rope(x, cos, sin):  # x [heads, T, hd], cos/sin [T, hd]
    return x * cos + rotate_half(x) * sin


def attention_mask(T, window):
    q = torch.arange(T)[:, None]
    k = torch.arange(T)[None, :]
    allowed = k <= q  # causal
    if window is not None:
        # HF masking_utils.sliding_window_overlay: kv_idx > q_idx - window,
        # i.e. q - k < window: a token sees itself and the window-1 tokens
        # before it, `window` positions in all.
        allowed &= k > q - window
    return allowed


def decoder_forward(cfg, W, ids):
    """ids: 1-D LongTensor of one unpadded sequence, positions 0..T-1.
    Returns the HF output_hidden_states tuple as a list of [T, H] tensors."""
    T = ids.shape[0]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    L = cfg["num_hidden_layers"]
    is_qwen3 = cfg["model_type"] == "qwen3"

    pos = torch.arange(T, dtype=CDT)
    freqs = pos[:, None] * inv_freq_of(cfg)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)  # [T, hd], halves repeat
    cos, sin = emb.cos(), emb.sin()
    allowed = attention_mask(T, sliding_window_of(cfg))

    def lin(x, name):
        y = x @ W[name + ".weight"].T
        b = W.get(name + ".bias")
        return y if b is None else y + b

    x = W["model.embed_tokens.weight"][ids]
    hidden = [x]
    for i in range(L):
        p = f"model.layers.{i}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(T, nh, hd).transpose(0, 1)
        k = lin(h, p + "self_attn.k_proj").view(T, nkv, hd).transpose(0, 1)
        v = lin(h, p + "self_attn.v_proj").view(T, nkv, hd).transpose(0, 1)
        if is_qwen3:  # per-head RMSNorm over head_dim, BEFORE rope
            q = rms_norm(q, W[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        # GQA: query head j uses KV head j // (nh/nkv) (HF repeat_kv)
        k = k.repeat_interleave(nh // nkv, dim=0)
        v = v.repeat_interleave(nh // nkv, dim=0)
        scores = (q @ k.transpose(1, 2)) / math.sqrt(hd)
        scores = scores.masked_fill(~allowed, float("-inf"))
        a = torch.softmax(scores, dim=-1) @ v  # [nh, T, hd]
        a = a.transpose(0, 1).reshape(T, nh * hd)
        x = x + lin(a, p + "self_attn.o_proj")
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = lin(h, p + "mlp.gate_proj")
        x = x + lin(torch.nn.functional.silu(g) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        hidden.append(x)
    # HF output_hidden_states: (embeddings, layer 1 out, ..., layer L out) but
    # the LAST entry is replaced by model.norm(layer L out) - the raw output of
    # the final layer is not returned.
    hidden[-1] = rms_norm(x, W["model.norm.weight"], eps)
    return hidden


def make_inputs(cfg, seed, lengths, shared_prefix=0):
    """Random prompts, right-padded with 0; with shared_prefix, every prompt of at least that many
    tokens begins with the same shared_prefix tokens (a prompt of exactly that length repeats)."""
    g = torch.Generator().manual_seed(seed + 1000)
    B, T = len(lengths), max(lengths)
    ids = torch.zeros(B, T, dtype=torch.int64)
    prefix = torch.randint(3, cfg["vocab_size"], (shared_prefix,), generator=g)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(3, cfg["vocab_size"], (n,), generator=g)
        if shared_prefix and n >= shared_prefix:
            ids[b, :shared_prefix] = prefix
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", required=True, choices=["qwen2", "qwen3", "llama", "llama31", "mistral"])
    ap.add_argument("--dtype", required=True, choices=list(TORCH_DTYPES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--config-style", default="legacy", choices=["legacy", "rope_parameters"])
    ap.add_argument("--tie-embeddings", action="store_true")
    ap.add_argument("--attention-bias", action="store_true",
                    help="llama/llama31/qwen3: attention_bias true (q,k,v AND o_proj biases)")
    ap.add_argument("--lengths", default="1,7,13,24")
    ap.add_argument("--shared-prefix", type=int, default=0,
                    help="prompts of at least this many tokens begin with the same tokens (prefix sharing)")
    ap.add_argument("--size", default="tiny", choices=["tiny", "bench", "0.5b"],
                    help="bench: mid-size shapes for benchmarks; 0.5b: Qwen2.5-0.5B's shape")
    ap.add_argument("--no-reference", action="store_true", help="write the checkpoint only")
    args = ap.parse_args()
    if args.attention_bias and args.arch not in ("llama", "llama31", "qwen3"):
        ap.error("--attention-bias only applies to llama, llama31, qwen3")

    os.makedirs(args.out, exist_ok=True)
    cfg = make_config(args.arch, args.dtype, args.config_style, args.tie_embeddings, args.attention_bias, args.size)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    weights = [(n, t.to(TORCH_DTYPES[args.dtype])) for n, t in make_weights(cfg, args.seed)]
    save_weights(args.out, weights, args.shards)
    if args.no_reference:
        return

    # Compute from what is on disk: low-precision values upcast exactly.
    W = {n: t.to(CDT) for n, t in read_checkpoint(args.out).items()}
    if cfg["tie_word_embeddings"]:
        assert "lm_head.weight" not in W

    lengths = [int(s) for s in args.lengths.split(",")]
    ids = make_inputs(cfg, args.seed, lengths, args.shared_prefix)
    B, T, H = ids.shape[0], ids.shape[1], cfg["hidden_size"]
    L = cfg["num_hidden_layers"]
    hs = torch.zeros(L + 1, B, T, H, dtype=CDT)  # padding positions stay 0
    for b, n in enumerate(lengths):
        for i, h in enumerate(decoder_forward(cfg, W, ids[b, :n])):
            hs[i, b, :n] = h

    ref = [("input_ids", ids), ("lengths", torch.tensor(lengths, dtype=torch.int64))]
    ref += [(f"hidden_states.{i}", hs[i].to(torch.float32)) for i in range(L + 1)]
    write_safetensors(os.path.join(args.out, "reference.safetensors"), ref)


if __name__ == "__main__":
    main()
