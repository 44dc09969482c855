#!/usr/bin/python3
"""Scoring FLOPs as a share of rollout FLOPs at the shapes of real RLVR (issue 22, item 6).

The testbed measures the service's share of wall time (scoring seconds / rollout seconds, about
11-14 % on 10-token prompts), where fixed per-call costs dominate. This script puts that in
context with FLOPs computed from the architecture, for Qwen2.5-1.5B-Instruct and
Qwen2.5-7B-Instruct at P = 300 prompt tokens, G in {8, 16} completions of C = 4,000 tokens, with
and without 4x oversampling (the service scores 4 candidate prompts per prompt rolled out), and
for the testbed's own model (models/arith-3m) at its own shape.

What is counted (forward FLOPs; python3 standard library only):

- every matmul as 2*m*n*k: per token per decoder layer the q, k, v, o projections and the three
  SwiGLU matrices, 2*(d*H*hd + 2*d*Hkv*hd + H*hd*d + 3*d*f);
- attention scores and values: a token at position t (1-based, causal, so it sees t keys
  including itself) costs 2*H*hd*t for QK^T and 2*H*hd*t for AV in each layer, i.e.
  2 * 2 * n_layers * t * (H*hd); GQA shares K/V but not this work;
- the LM head, 2*d*V per position whose next-token distribution is needed;
- not counted: norms, RoPE, SiLU and the gating product, softmax, residual adds, biases, the
  embedding lookup (a gather), sampling; padding of batched rows.

Scoring: one prefill over the P prompt tokens through all n_layers, no LM head (the service stops
at the last hidden state after the final norm). Aside: stopping after layer n_layers // 2.

Rollout of one prompt: G completions of C tokens with a KV cache. The prompt's prefill (P tokens,
plus the LM head at its last position, which gives the first completion token) is counted once
per completion (no prefix caching: vLLM without it, and the testbed's own sampler) and, as the
other variant, once per prompt (prefix caching, or n > 1 sampling that forks after the prefill).
Then C - 1 decode steps per completion, the token at position P + j attending over P + j keys,
each with the LM head: C LM-head positions per completion in all (the last token is sampled, not
fed back).

Training update (separate; not part of "share of rollout"): the policy's forward + backward is
taken as 3x a forward over P + C tokens per completion (no cache, causal attention, LM head on
the C positions that score the completion tokens), plus one forward each for the old-policy
log-probs and the reference model (5x a forward in all; --extra-forwards changes the 2).

Configs: the values below are the Hugging Face config.json values; see CONFIG_SOURCES.

    /usr/bin/python3 scripts/rl/flops.py                 # writes results/rl/scoring_flops.{json,md}
    /usr/bin/python3 scripts/rl/flops.py --no-write      # prints the table only
"""
import argparse
import glob
import json
import os
import statistics
import sys
import textwrap

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Hugging Face config.json values (only the fields the count needs).
CONFIGS = {
    "Qwen2.5-1.5B-Instruct": {
        "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
        "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
        "tie_word_embeddings": True,
    },
    "Qwen2.5-7B-Instruct": {
        "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
        "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
        "tie_word_embeddings": False,
    },
}
# Where the values were read (copies of the config.json of Qwen/Qwen2.5-*-Instruct, whose
# "_name_or_path" names the original; found with the docs search over Hugging Face pages), and
# the parameter counts Qwen's model cards state, which count_params() reproduces (test_flops.py).
CONFIG_SOURCES = {
    "Qwen2.5-1.5B-Instruct": {
        "config": [
            "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct/blob/main/config.json (the original, not read directly)",
            "https://huggingface.co/onnx-community/Qwen2.5-1.5B-Instruct/blob/94677ac90364afdc2b476788d085a9680efde737/config.json"
            " (\"_name_or_path\": \"Qwen/Qwen2.5-1.5B-Instruct\"; the values used here were read from this copy)",
            "https://huggingface.co/laampt/Qwen-1.5B-GRPO/blob/main/config.json (a fine-tune of it, same shapes)",
        ],
        "model_card": "Qwen2.5-1.5B-Instruct card: 1.54B parameters, 1.31B non-embedding, 28 layers, 12 Q / 2 KV heads "
                      "(https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/commit/9a67271e685adc64b524e200885c9c726227a5c3)",
        "card_params": 1.54e9, "card_non_embedding_params": 1.31e9,
    },
    "Qwen2.5-7B-Instruct": {
        "config": [
            "https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/blob/main/config.json (the original, not read directly)",
            "https://huggingface.co/osllmai-community/Qwen2.5-7B-Instruct/blob/main/config.json"
            " (\"_name_or_path\": \"Qwen/Qwen2.5-7B-Instruct\"; the values used here were read from this copy)",
            "https://huggingface.co/yongsen-teo/qwen25/blob/main/config.json (\"_name_or_path\": \"Qwen/Qwen2.5-7B-Instruct\", same values)",
        ],
        "model_card": "Qwen2.5-7B-Instruct card: 7.61B parameters, 6.53B non-embedding, 28 layers, 28 Q / 4 KV heads "
                      "(as quoted in http://www.mynw.cn/news/702567.html: 76.1亿 / 65.3亿)",
        "card_params": 7.61e9, "card_non_embedding_params": 6.53e9,
    },
}
TESTBED_CONFIG = os.path.join(ROOT, "models", "arith-3m", "config.json")
TESTBED_FALLBACK = {  # models/arith-3m/config.json, in case the file is absent
    "hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 4, "num_attention_heads": 4,
    "num_key_value_heads": 2, "vocab_size": 277, "tie_word_embeddings": True,
}
FIELDS = tuple(TESTBED_FALLBACK)

REAL_SHAPE = {"P": 300, "C": 4000, "G": (8, 16), "oversample": (1, 4)}
TESTBED_SHAPE = {"P": 10, "C": 80, "G": 8, "oversample": 4}  # nominal (issue 22)
TESTBED_4X_ARMS = ("sparsegate", "sparsegate-frozen", "sparsegate-length")  # oversample 4 in sparsegate_arms.py


# -- the counts -------------------------------------------------------------------------------------

def head_dim(cfg):
    return cfg["hidden_size"] // cfg["num_attention_heads"]


def q_width(cfg):
    return cfg["num_attention_heads"] * head_dim(cfg)


def kv_width(cfg):
    return cfg["num_key_value_heads"] * head_dim(cfg)


def matmul_flops_per_token_layer(cfg):
    """2*m*n*k for one token through one decoder layer's seven weight matrices."""
    d, f = cfg["hidden_size"], cfg["intermediate_size"]
    q, kv = q_width(cfg), kv_width(cfg)
    return 2 * (d * q + 2 * d * kv + q * d + 3 * d * f)


def context_sum(tokens, start):
    """Sum of the contexts seen by `tokens` tokens at positions start+1 .. start+tokens (causal)."""
    return tokens * start + tokens * (tokens + 1) // 2


def attention_flops(cfg, n_layers, tokens, start=0):
    """QK^T and AV: 2 * 2 * n_layers * context * (H*hd) per token, summed over the tokens."""
    return 4 * n_layers * q_width(cfg) * context_sum(tokens, start)


def lm_head_flops(cfg, positions):
    return 2 * cfg["hidden_size"] * cfg["vocab_size"] * positions


def forward_flops(cfg, tokens, start=0, n_layers=None, lm_head_positions=0):
    """One forward over `tokens` new tokens after `start` cached ones: a dict of the parts."""
    n_layers = cfg["num_hidden_layers"] if n_layers is None else n_layers
    parts = {
        "matmul": n_layers * tokens * matmul_flops_per_token_layer(cfg),
        "attention": attention_flops(cfg, n_layers, tokens, start),
        "lm_head": lm_head_flops(cfg, lm_head_positions),
    }
    parts["total"] = parts["matmul"] + parts["attention"] + parts["lm_head"]
    return parts


def add(*parts_list, scale=1):
    out = {}
    for parts in parts_list:
        for k, v in parts.items():
            out[k] = out.get(k, 0) + v
    return {k: v * scale for k, v in out.items()}


def scoring_flops(cfg, P, n_layers=None):
    """The service's prefill of one prompt: no LM head; n_layers=None means all of them."""
    return forward_flops(cfg, P, 0, n_layers, lm_head_positions=0)


def rollout_flops(cfg, P, G, C, prefix_caching=False):
    """G completions of C tokens after a P-token prompt, with a KV cache.

    Prefill: P tokens, LM head at the last prompt position (the first completion token); once per
    completion, or once per prompt with prefix caching (each completion still gets its own
    first-token LM head). Decode: C - 1 tokens at positions P+1 .. P+C-1, each with the LM head.
    """
    assert C >= 1 and G >= 1 and P >= 1
    prefill_layers = forward_flops(cfg, P, 0, lm_head_positions=0)
    decode = forward_flops(cfg, C - 1, P, lm_head_positions=C - 1)
    first_token_head = {"matmul": 0, "attention": 0, "lm_head": lm_head_flops(cfg, 1)}
    first_token_head["total"] = first_token_head["lm_head"]
    per_completion = add(decode, first_token_head)
    prefill_copies = 1 if prefix_caching else G
    total = add(add(per_completion, scale=G), add(prefill_layers, scale=prefill_copies))
    total["prefill"] = prefill_layers["total"] * prefill_copies
    total["decode"] = total["total"] - total["prefill"]
    return total


def update_flops(cfg, P, G, C, extra_forwards=2):
    """Training: (3 + extra_forwards) x a forward over P + C tokens per completion, LM head on C."""
    fwd = forward_flops(cfg, P + C, 0, lm_head_positions=C)
    return add(fwd, scale=G * (3 + extra_forwards))


def count_params(cfg):
    """Parameter count from the config (Qwen2: q/k/v biases, two norms a layer, a final norm)."""
    d, f, L, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    q, kv = q_width(cfg), kv_width(cfg)
    layer = d * q + q + 2 * (d * kv + kv) + q * d + 3 * d * f + 2 * d
    non_embedding = L * layer + d
    embedding = V * d * (1 if cfg["tie_word_embeddings"] else 2)
    return {"non_embedding": non_embedding, "embedding": embedding, "total": non_embedding + embedding}


def case(name, cfg, P, G, C, oversample, extra_forwards=2):
    """One case: k = oversample prompts scored per prompt rolled out."""
    score = scoring_flops(cfg, P)
    score_mid = scoring_flops(cfg, P, cfg["num_hidden_layers"] // 2)
    roll = rollout_flops(cfg, P, G, C, prefix_caching=False)
    roll_pc = rollout_flops(cfg, P, G, C, prefix_caching=True)
    upd = update_flops(cfg, P, G, C, extra_forwards)
    k = oversample
    scored = k * score["total"]
    return {
        "model": name, "P": P, "G": G, "C": C, "oversample": k,
        "prompts_scored_per_prompt_rolled_out": k,
        "flops": {
            "scoring_one_prompt": score, "scoring_one_prompt_mid_layer": score_mid,
            "scoring_per_prompt_rolled_out": scored,
            "scoring_per_prompt_rolled_out_mid_layer": k * score_mid["total"],
            "rollout_no_prefix_cache": roll, "rollout_prefix_cache": roll_pc,
            "update": upd,
        },
        "share_of_rollout": {
            "no_prefix_cache": scored / roll["total"],
            "prefix_cache": scored / roll_pc["total"],
            "mid_layer_no_prefix_cache": k * score_mid["total"] / roll["total"],
        },
        "share_of_step": {  # scoring / (rollout without prefix cache + update)
            "no_prefix_cache": scored / (roll["total"] + upd["total"]),
            "update_forwards": 3 + extra_forwards,
        },
        "token_ratio_kP_over_G_PplusC": k * P / (G * (P + C)),
    }


# -- the testbed ------------------------------------------------------------------------------------

def testbed_config():
    if os.path.exists(TESTBED_CONFIG):
        with open(TESTBED_CONFIG) as fh:
            raw = json.load(fh)
        return {k: raw[k] for k in FIELDS}, os.path.relpath(TESTBED_CONFIG, ROOT)
    return dict(TESTBED_FALLBACK), "built-in copy of models/arith-3m/config.json"


def testbed_measured(runs_dir):
    """Mean shapes and the scoring/rollout wall-time ratio of the 4x sparsegate runs, if present."""
    rows = []
    for f in sorted(glob.glob(os.path.join(runs_dir, "*.json"))):
        try:
            with open(f) as fh:
                d = json.load(fh)
        except (OSError, ValueError):
            continue
        if not isinstance(d, dict) or d.get("arm") not in TESTBED_4X_ARMS or d.get("error") or not d.get("rollouts"):
            continue
        candidates = sum(d.get("decisions_total", {}).values())
        s = d.get("seconds", {})
        if not candidates or not s.get("rollout"):
            continue
        rows.append({"file": os.path.relpath(f, ROOT), "prompt_tokens_scored": d["prompt_tokens_scored"],
                     "candidates": candidates, "rollout_tokens": d["rollout_tokens"], "rollouts": d["rollouts"],
                     "groups": d["groups"], "scoring_s": s.get("scoring", 0.0), "rollout_s": s["rollout"]})
    if not rows:
        return None
    ratios = [r["scoring_s"] / r["rollout_s"] for r in rows]
    return {
        "runs": len(rows), "files": [r["file"] for r in rows],
        "P_mean": sum(r["prompt_tokens_scored"] for r in rows) / sum(r["candidates"] for r in rows),
        "C_mean": sum(r["rollout_tokens"] for r in rows) / sum(r["rollouts"] for r in rows),
        "candidates_per_group": sum(r["candidates"] for r in rows) / sum(r["groups"] for r in rows),
        "wall_scoring_over_rollout": {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)},
    }


# -- output -----------------------------------------------------------------------------------------

def fmt_flops(x):
    return f"{x:.3g}"


def pct(x):
    return f"{100 * x:.2f} %" if x < 0.1 else f"{100 * x:.1f} %"


def table(cases):
    head = ("| model | P | G | C | scored per rolled-out prompt | scoring FLOPs | rollout FLOPs (no prefix cache) "
            "| **share of rollout** (no prefix cache) | share of rollout (prefix cache) | aside: mid-layer scoring "
            "| share of step (rollout + update) |")
    lines = [head, "|" + "|".join(["---"] * 11) + "|"]
    for c in cases:
        f, s = c["flops"], c["share_of_rollout"]
        lines.append(
            f"| {c['model']} | {c['P']:g} | {c['G']} | {c['C']:g} | {c['oversample']} x | "
            f"{fmt_flops(f['scoring_per_prompt_rolled_out'])} | {fmt_flops(f['rollout_no_prefix_cache']['total'])} | "
            f"**{pct(s['no_prefix_cache'])}** | {pct(s['prefix_cache'])} | {pct(s['mid_layer_no_prefix_cache'])} | "
            f"{pct(c['share_of_step']['no_prefix_cache'])} |")
    return "\n".join(lines)


def build(extra_forwards=2, runs_dir=None):
    runs_dir = runs_dir or os.path.join(ROOT, "results", "rl", "runs")
    real = [case(name, cfg, REAL_SHAPE["P"], G, REAL_SHAPE["C"], k, extra_forwards)
            for name, cfg in CONFIGS.items() for G in REAL_SHAPE["G"] for k in REAL_SHAPE["oversample"]]
    tcfg, tsrc = testbed_config()
    tb = [case("arith-3m (testbed, nominal)", tcfg, TESTBED_SHAPE["P"], TESTBED_SHAPE["G"], TESTBED_SHAPE["C"],
               TESTBED_SHAPE["oversample"], extra_forwards)]
    measured = testbed_measured(runs_dir)
    if measured:
        # whole tokens (the context sums count positions): the nearest integers to the means
        P, C = round(measured["P_mean"]), round(measured["C_mean"])
        as_run = case("arith-3m (testbed, as run)", tcfg, P, TESTBED_SHAPE["G"], C, TESTBED_SHAPE["oversample"],
                      extra_forwards)
        as_run["P_mean"], as_run["C_mean"] = measured["P_mean"], measured["C_mean"]
        tb.append(as_run)
    configs = {name: dict(cfg, head_dim=head_dim(cfg), params=count_params(cfg), sources=CONFIG_SOURCES[name],
                          matmul_flops_per_token=cfg["num_hidden_layers"] * matmul_flops_per_token_layer(cfg),
                          lm_head_flops_per_token=lm_head_flops(cfg, 1))
               for name, cfg in CONFIGS.items()}
    configs["arith-3m"] = dict(tcfg, head_dim=head_dim(tcfg), params=count_params(tcfg), sources={"config": [tsrc]},
                               matmul_flops_per_token=tcfg["num_hidden_layers"] * matmul_flops_per_token_layer(tcfg),
                               lm_head_flops_per_token=lm_head_flops(tcfg, 1))
    return {
        "issue": "22 item 6",
        "what": "forward FLOPs of the service's scoring (prefill, all layers, no LM head) per prompt rolled out, "
                "as a share of the rollout's FLOPs (G completions of C tokens with a KV cache)",
        "counting": {
            "matmul": "2*m*n*k; per token per layer 2*(d*H*hd + 2*d*Hkv*hd + H*hd*d + 3*d*f)",
            "attention": "QK^T + AV: 4*n_layers*(H*hd)*t for the token at position t (causal, t keys)",
            "lm_head": "2*d*V per position whose logits are needed; none in scoring; C per completion in rollout",
            "not_counted": "norms, RoPE, activations/gating, softmax, residual adds, biases, embedding lookup, "
                           "sampling, padding",
            "rollout_prefill": "no_prefix_cache: P-token prefill once per completion (vLLM without prefix caching; "
                               "the testbed's sampler); prefix_cache: once per prompt",
            "update": f"{3 + extra_forwards} x a forward over P + C tokens per completion (3 for the policy's "
                      f"forward + backward, {extra_forwards} for old-policy and reference log-probs), LM head on C "
                      "positions; only in share_of_step",
            "oversample": "k prompts scored by the service per prompt rolled out (4x: sparsegate's candidates)",
        },
        "configs": configs,
        "real_shapes": real,
        "testbed": {"cases": tb, "measured_from_runs": measured,
                    "nominal_shape": TESTBED_SHAPE},
    }


def para(text, width=110):
    return textwrap.fill(" ".join(text.split()), width, break_long_words=False, break_on_hyphens=False)


def fmt_params(n):
    return f"{n / 1e9:.4g}B" if n >= 1e8 else f"{n / 1e6:.4g}M"


def markdown(result):
    real, tb = result["real_shapes"], result["testbed"]
    upd_forwards = real[0]["share_of_step"]["update_forwards"]
    m15, m7 = "Qwen2.5-1.5B-Instruct", "Qwen2.5-7B-Instruct"
    lo = min(real, key=lambda c: c["share_of_rollout"]["no_prefix_cache"])
    hi = max(real, key=lambda c: c["share_of_rollout"]["no_prefix_cache"])
    hi_pc = max(c["share_of_rollout"]["prefix_cache"] for c in real)
    hi_mid = max(c["share_of_rollout"]["mid_layer_no_prefix_cache"] for c in real)
    hi_step = max(c["share_of_step"]["no_prefix_cache"] for c in real)
    c16 = next(c for c in real if c["model"] == m15 and c["G"] == 16 and c["oversample"] == 4)
    tbn, meas = tb["cases"][0], tb["measured_from_runs"]

    def label(c):
        return f"{c['model'].replace('Qwen2.5-', '').replace('-Instruct', '')}, G = {c['G']}, {c['oversample']} x scored"

    tb_range = tb_wall = meas_para = ""
    if meas:
        tba, w = tb["cases"][-1], meas["wall_scoring_over_rollout"]
        tb_range = f" to {pct(tba['share_of_rollout']['no_prefix_cache'])} (nominal shape to the shape as run)"
        tb_wall = f" (median {pct(w['median'])} over the run files)"
        meas_para = para(
            f"The \"as run\" testbed row takes the mean shapes of the {meas['runs']} runs of the 4x sparsegate arms "
            f"({', '.join(TESTBED_4X_ARMS)}) in `results/rl/runs`: P = {meas['P_mean']:.1f} prompt tokens per "
            f"candidate scored, C = {meas['C_mean']:.1f} tokens per completion, counted at P = {tba['P']}, "
            f"C = {tba['C']}, with {meas['candidates_per_group']:.2f} candidates scored per group rolled out. In "
            f"those runs scoring seconds / rollout seconds has median {pct(w['median'])} (from {pct(w['min'])} to "
            f"{pct(w['max'])}), against {pct(tba['share_of_rollout']['no_prefix_cache'])} of the FLOPs.")

    meaning = para(
        f"At real shapes the service's prefill costs {pct(lo['share_of_rollout']['no_prefix_cache'])} "
        f"({label(lo)}) to {pct(hi['share_of_rollout']['no_prefix_cache'])} ({label(hi)}) of the rollout's FLOPs "
        f"({pct(hi_pc)} at most with prefix caching, {pct(hi_mid)} at most if scoring stopped at the middle layer, "
        f"{pct(hi_step)} at most of the whole step with the training update). Scoring 4 candidates of 300 tokens is "
        f"1,200 prefill tokens against 16 x 4,000 = 64,000 generated tokens, each of which also pays the LM head and "
        f"attention over a context of up to 4,300: for the 1.5B model at G = 16 that is "
        f"{pct(c16['share_of_rollout']['no_prefix_cache'])} of the rollout. The share is roughly the token ratio "
        f"k P / (G (P + C)) ({pct(c16['token_ratio_kP_over_G_PplusC'])} in that case), lowered by the LM head and "
        f"the long-context attention that only decoding pays, so it falls with G and C and grows with P and k.")
    testbed = para(
        f"On the testbed the prompts are short but so are the completions (P / C of about 0.1 to 0.2 against 0.075 "
        f"at real shapes), so its FLOP share is higher, {pct(tbn['share_of_rollout']['no_prefix_cache'])}"
        f"{tb_range}, yet below the 11-14 % of wall time measured there{tb_wall}. Wall time on that testbed is not "
        f"proportional to FLOPs (a 3M-parameter model; the service's fixed per-call cost on one side, the sampler's "
        f"per-step overhead on the other), so the measured share says little about real shapes; the FLOP shares "
        f"above are the part that scales with the model. FLOPs are only a proxy for GPU time as well: decoding is "
        f"memory-bound and prefill compute-bound, which favours the scoring further.")

    cfg_rows = []
    for name in (m15, m7, "arith-3m"):
        c = result["configs"][name]
        cfg_rows.append(f"| {name} | {c['hidden_size']} | {c['intermediate_size']} | {c['num_hidden_layers']} | "
                        f"{c['num_attention_heads']} | {c['num_key_value_heads']} | {c['head_dim']} | {c['vocab_size']} | "
                        f"{str(c['tie_word_embeddings']).lower()} | {fmt_params(c['params']['non_embedding'])} / "
                        f"{fmt_params(c['params']['total'])} |")
    sources = []
    for name in (m15, m7):
        s = result["configs"][name]["sources"]
        sources.append("- " + para(f"{name}: " + "; ".join(s["config"]) + f". {s['model_card']}.").replace("\n", "\n  "))
    sources.append(f"- arith-3m: `{result['configs']['arith-3m']['sources']['config'][0]}`.")

    how = para(
        "Every matmul is 2 x m x n x k: per token and decoder layer the q, k, v and o projections and the three "
        "SwiGLU matrices, 2 (d H hd + 2 d Hkv hd + H hd d + 3 d f), which is within 0.2 % of 2 x the non-embedding "
        "parameter count (the usual 2N per token). Attention adds, for the token at position t (causal, so it sees "
        "t keys), 2 x 2 x n_layers x t x (H hd) for QK^T and AV; grouped KV heads share K and V but not this work. "
        "The LM head is 2 d V per position whose logits are needed. Norms, RoPE, activations and gating, softmax, "
        "residual adds, biases, the embedding lookup, sampling and padding are not counted. Scoring is one prefill "
        "of P tokens through all layers with no LM head (the service stops at the last hidden state after the final "
        "norm); the aside stops after layer n_layers / 2. A rollout is, per completion, the P-token prefill (once "
        "per prompt instead with prefix caching), the LM head at the last prompt position, and C-1 decode steps "
        "at positions P+1 ... P+C-1, each with the LM head. The update, used only for the share of the step, "
        f"is {upd_forwards} x a forward over P + C tokens per completion (3 for the policy's forward and backward, "
        "one each for the old-policy and reference log-probs), with the LM head on the C completion positions.")

    return f"""# Scoring FLOPs as a share of rollout FLOPs (issue 22, item 6)

{para('''Generated by `scripts/rl/flops.py` (every case with its inputs and FLOP counts in
`results/rl/scoring_flops.json`). Forward FLOPs, computed from the architecture. "Scored per rolled-out
prompt" is how many prompts the service prefills for each prompt that is rolled out (4 x: sparsegate's 4x
candidates). The bold column is what the issue asks for. "Prefix cache" counts the prompt's prefill once per
group instead of once per completion. The mid-layer column is the aside where scoring stops after layer
n_layers / 2. The last column is a share of the whole step (rollout + training update), not of the rollout.''')}

## Real RLVR shapes: P = 300, C = 4,000

{table(real)}

## The testbed's own shape

{table(tb["cases"])}

## What it means

{meaning}

{testbed}
{chr(10) + meas_para + chr(10) if meas_para else ''}
## How it is counted

{how}

## Configs and where they come from

| model | hidden | intermediate | layers | heads | kv heads | head dim | vocab | tied | params (non-emb. / total) |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(cfg_rows)}

{chr(10).join(sources)}

{para('''The parameter counts computed from these configs (last column) agree with the model cards' 1.31B / 1.54B and
6.53B / 7.61B to the cards' rounding. The Qwen originals' config.json were not read directly here; the values
come from the copies named above, whose "_name_or_path" is the original and which agree with each other.''')}
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "rl"), help="folder for scoring_flops.{json,md}")
    ap.add_argument("--runs", default=os.path.join(ROOT, "results", "rl", "runs"), help="testbed run JSONs")
    ap.add_argument("--extra-forwards", type=int, default=2, help="forwards besides the policy's 3x in the update")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    result = build(args.extra_forwards, args.runs)
    print(table(result["real_shapes"] + result["testbed"]["cases"]))
    if not args.no_write:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "scoring_flops.json"), "w") as fh:
            json.dump(result, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        with open(os.path.join(args.out, "scoring_flops.md"), "w") as fh:
            fh.write(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
