"""scripts/rl/flops.py: the FLOP counts against independent calculations on toy configs, the
parameter counts against Qwen's model cards, and how the scoring share moves with P, G, C and k."""
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "rl"))
import flops  # noqa: E402

TINY = {"hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 3, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 97, "tie_word_embeddings": True}
TOY2 = {"hidden_size": 8, "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_key_value_heads": 1, "vocab_size": 11, "tie_word_embeddings": False}


def weight_shapes(cfg):
    """Every tensor of a Qwen2 decoder stack (HF names), written out independently of flops.py."""
    d, f, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    hd = d // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    per_layer = {"q_proj.weight": (q, d), "q_proj.bias": (q,), "k_proj.weight": (kv, d), "k_proj.bias": (kv,),
                 "v_proj.weight": (kv, d), "v_proj.bias": (kv,), "o_proj.weight": (d, q),
                 "gate_proj.weight": (f, d), "up_proj.weight": (f, d), "down_proj.weight": (d, f),
                 "input_layernorm.weight": (d,), "post_attention_layernorm.weight": (d,)}
    shapes = {f"layers.{i}.{k}": v for i in range(L) for k, v in per_layer.items()}
    shapes["norm.weight"] = (d,)
    return shapes


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


@pytest.mark.parametrize("cfg,tol", [(TINY, 0.01), (TOY2, 0.1), (flops.CONFIGS["Qwen2.5-1.5B-Instruct"], 0.001),
                                     (flops.CONFIGS["Qwen2.5-7B-Instruct"], 0.001)])
def test_per_token_matmuls_are_2x_non_embedding_params(cfg, tol):
    """Standard approximation: forward FLOPs per token ~ 2 N (N = non-embedding parameters). The
    only difference is the biases and norm weights (not matmul operands): about 4 d per layer
    against ~ 4 d^2 + 3 d f, so within 1 % for the tiny config (hidden 64; 0.55 %), 0.1 % for
    Qwen2.5 (0.01 %), 10 % for the hidden-8 toy (4.5 %); and exactly 2 x the weight matrices."""
    shapes = weight_shapes(cfg)
    n_all = sum(numel(s) for s in shapes.values())
    n_matrices = sum(numel(s) for k, s in shapes.items() if k.endswith("proj.weight"))
    per_token = cfg["num_hidden_layers"] * flops.matmul_flops_per_token_layer(cfg)
    assert per_token == 2 * n_matrices
    assert 0 < 1 - per_token / (2 * n_all) < tol
    assert flops.count_params(cfg)["non_embedding"] == n_all
    # a forward with no attention context to speak of: one token, no LM head
    one = flops.forward_flops(cfg, 1)
    assert one["matmul"] == per_token and one["lm_head"] == 0


@pytest.mark.parametrize("name", list(flops.CONFIGS))
def test_param_counts_match_the_model_cards(name):
    p = flops.count_params(flops.CONFIGS[name])
    src = flops.CONFIG_SOURCES[name]
    assert abs(p["non_embedding"] / src["card_non_embedding_params"] - 1) < 0.005
    assert abs(p["total"] / src["card_params"] - 1) < 0.005


def test_configs_are_the_sourced_values():
    a, b = flops.CONFIGS["Qwen2.5-1.5B-Instruct"], flops.CONFIGS["Qwen2.5-7B-Instruct"]
    assert (a["hidden_size"], a["intermediate_size"], a["num_hidden_layers"], a["num_attention_heads"],
            a["num_key_value_heads"], a["vocab_size"], a["tie_word_embeddings"]) == (1536, 8960, 28, 12, 2, 151936, True)
    assert (b["hidden_size"], b["intermediate_size"], b["num_hidden_layers"], b["num_attention_heads"],
            b["num_key_value_heads"], b["vocab_size"], b["tie_word_embeddings"]) == (3584, 18944, 28, 28, 4, 152064, False)
    tcfg, _ = flops.testbed_config()
    assert tcfg == flops.TESTBED_FALLBACK


def brute_attention(cfg, n_layers, positions):
    """QK^T and AV counted one multiply-add at a time: each head of each layer, each query at
    position t (1-based) against keys 1..t, a dot product of hd (QK^T) and an hd-wide
    accumulation of V (AV), 2 FLOPs per multiply-add."""
    H, hd = cfg["num_attention_heads"], cfg["hidden_size"] // cfg["num_attention_heads"]
    total = 0
    for _ in range(n_layers):
        for _ in range(H):
            for t in positions:
                for _ in range(1, t + 1):
                    total += 2 * hd  # score q . k
                    total += 2 * hd  # out += p * v
    return total


def test_prefill_attention_by_hand_for_a_2_layer_toy():
    # hidden 8, 2 heads of 4, P = 3: contexts 1 + 2 + 3 = 6; per layer per unit of context
    # 2*2*(2*4) = 32 FLOPs; 2 layers -> 2 * 32 * 6 = 384.
    assert flops.attention_flops(TOY2, 2, 3) == 384
    assert brute_attention(TOY2, 2, range(1, 4)) == 384
    assert flops.forward_flops(TOY2, 3)["attention"] == 384
    # with 5 cached tokens the same 3 tokens sit at positions 6, 7, 8
    assert flops.attention_flops(TOY2, 2, 3, start=5) == brute_attention(TOY2, 2, range(6, 9))
    assert flops.scoring_flops(TOY2, 3, n_layers=1)["attention"] == 384 // 2


@pytest.mark.parametrize("cfg", [TINY, TOY2])
@pytest.mark.parametrize("P,G,C", [(1, 1, 1), (3, 2, 5), (7, 4, 11)])
def test_rollout_against_a_token_by_token_simulation(cfg, P, G, C):
    L = cfg["num_hidden_layers"]
    d, V = cfg["hidden_size"], cfg["vocab_size"]
    per_token_matmul = 2 * sum(numel(s) for k, s in weight_shapes(cfg).items() if k.endswith("proj.weight"))

    def one_completion(with_prefill):
        total = 0
        if with_prefill:
            total += P * per_token_matmul + brute_attention(cfg, L, range(1, P + 1))
        total += 2 * d * V  # logits at the last prompt position: the first completion token
        for j in range(1, C):  # tokens 1 .. C-1 are fed back; token C is only sampled
            pos = P + j
            total += per_token_matmul + brute_attention(cfg, L, [pos]) + 2 * d * V
        return total

    no_cache = G * one_completion(True)
    prefill = P * per_token_matmul + brute_attention(cfg, L, range(1, P + 1))
    cached = G * one_completion(False) + prefill
    assert flops.rollout_flops(cfg, P, G, C)["total"] == no_cache
    assert flops.rollout_flops(cfg, P, G, C, prefix_caching=True)["total"] == cached
    assert flops.rollout_flops(cfg, P, G, C)["lm_head"] == G * C * 2 * d * V
    assert flops.scoring_flops(cfg, P)["total"] == prefill  # all layers, no LM head


def share(cfg, P, G, C, k=1):
    return flops.case("x", cfg, P, G, C, k)["share_of_rollout"]


@pytest.mark.parametrize("cfg", [TINY, flops.CONFIGS["Qwen2.5-1.5B-Instruct"], flops.CONFIGS["Qwen2.5-7B-Instruct"]])
@pytest.mark.parametrize("variant", ["no_prefix_cache", "prefix_cache", "mid_layer_no_prefix_cache"])
def test_share_grows_with_P_and_k_and_falls_with_G_and_C(cfg, variant):
    Ps, Gs, Cs = (10, 50, 300, 1000, 4000), (1, 4, 8, 16, 64), (10, 100, 1000, 4000, 16000)
    by_P = [share(cfg, P, 8, 4000)[variant] for P in Ps]
    by_G = [share(cfg, 300, G, 4000)[variant] for G in Gs]
    by_C = [share(cfg, 300, 8, C)[variant] for C in Cs]
    by_k = [share(cfg, 300, 8, 4000, k)[variant] for k in (1, 2, 4, 8)]
    assert by_P == sorted(by_P) and len(set(by_P)) == len(by_P)
    assert by_G == sorted(by_G, reverse=True) and len(set(by_G)) == len(by_G)
    assert by_C == sorted(by_C, reverse=True) and len(set(by_C)) == len(by_C)
    assert by_k == sorted(by_k) and by_k[2] == pytest.approx(4 * by_k[0])
    assert all(0 < s < 1 for s in by_P + by_G + by_C + by_k)


def test_real_shapes_and_testbed_cases():
    result = flops.build(runs_dir=os.path.join(ROOT, "no-such-folder"))
    real = result["real_shapes"]
    assert len(real) == 8
    assert {(c["model"], c["G"], c["oversample"]) for c in real} == {
        (m, G, k) for m in flops.CONFIGS for G in (8, 16) for k in (1, 4)}
    for c in real:
        s = c["share_of_rollout"]
        assert c["P"] == 300 and c["C"] == 4000
        # the share is below the token ratio k P / (G (P + C)): decoding also pays the LM head and
        # attention over long contexts; prefix caching shrinks the rollout, so the share rises
        assert s["no_prefix_cache"] < c["token_ratio_kP_over_G_PplusC"]
        assert s["no_prefix_cache"] < s["prefix_cache"]
        assert 0.45 < s["mid_layer_no_prefix_cache"] / s["no_prefix_cache"] < 0.55
        assert c["share_of_step"]["no_prefix_cache"] < s["no_prefix_cache"]
        assert s["no_prefix_cache"] < 0.05
    tb = result["testbed"]
    assert tb["measured_from_runs"] is None and len(tb["cases"]) == 1
    nominal = tb["cases"][0]
    assert (nominal["P"], nominal["C"], nominal["G"], nominal["oversample"]) == (10, 80, 8, 4)
    assert max(c["share_of_rollout"]["no_prefix_cache"] for c in real) < nominal["share_of_rollout"]["no_prefix_cache"]
    assert "| arith-3m (testbed, nominal) | 10 | 8 | 80 | 4 x |" in flops.table(tb["cases"])
    md = flops.markdown(result)
    assert "## Real RLVR shapes" in md and "onnx-community" in md


def test_measured_shapes_from_run_files(tmp_path):
    run = {"arm": "sparsegate", "error": None, "rollouts": 16, "rollout_tokens": 1600, "groups": 2,
           "prompt_tokens_scored": 120, "decisions_total": {"keep": 2, "defer": 6},
           "seconds": {"scoring": 1.0, "rollout": 10.0}}
    (tmp_path / "single_pass-sparsegate-0.json").write_text(__import__("json").dumps(run))
    (tmp_path / "single_pass-sparsegate-decide-0.json").write_text(
        __import__("json").dumps(dict(run, arm="sparsegate-decide", prompt_tokens_scored=999)))
    m = flops.testbed_measured(str(tmp_path))
    assert m["runs"] == 1 and m["P_mean"] == 15 and m["C_mean"] == 100 and m["candidates_per_group"] == 4
    assert m["wall_scoring_over_rollout"]["median"] == pytest.approx(0.1)
