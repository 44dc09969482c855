"""Unit tests of the peer arms' rules (scripts/rl/arms.py against scripts/rl/PEERS.md), and of the policy's
tokenizer and KV-cache sampler. No training here: each test runs in well under a second or a few."""
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "rl"))
import arms  # noqa: E402
import pools  # noqa: E402


def problem(i=0, solution="8+6=14 write 4 carry 1. 7+5+1=13 write 3 carry 1. So 78 + 56 = 134."):
    return {"id": f"p{i}", "prompt": f"Q: 78 + 56 = ?", "solution": solution, "answer": "134", "op": "add",
            "digits": 2, "kind": "learnable"}


class G:  # the trainer's Group, as far as round_size reads it
    def __init__(self, rewards):
        self.rewards = rewards


# -- DAPO (verl filter_groups) -------------------------------------------------------------------
def test_dapo_keeps_only_groups_with_reward_variance():
    arm = arms.DapoArm(batch=4, group_size=8, seed=0)
    assert not arm.keep_group([0.0] * 8)
    assert not arm.keep_group([1.0] * 8)
    assert arm.keep_group([0.0] * 7 + [1.0])
    assert arm.keep_group([1.0])  # a single rollout is kept (verl: len == 1)


def test_dapo_draws_generation_batches_until_full_then_truncates_in_arrival_order():
    arm = arms.DapoArm(batch=4, group_size=8, seed=0, max_num_gen_batches=3)
    assert arm.round_size(1, 0, [], []) == 4
    assert arm.round_size(1, 1, ["a", "b"], []) == 4       # short: the next generation batch
    assert arm.round_size(1, 2, list("abcde"), []) == 0    # full
    assert arm.truncate(list("abcde")) == list("abcd")     # the overflow is thrown away
    with pytest.raises(arms.TooDifficult):                 # max_num_gen_batches reached and still short
        arm.round_size(2, 3, ["a"], [])
    unlimited = arms.DapoArm(batch=4, group_size=8, seed=0, max_num_gen_batches=0)
    assert unlimited.round_size(1, 50, ["a"], []) == 4


# -- GRESO ---------------------------------------------------------------------------------------
def test_greso_skip_probability_formula():
    arm = arms.GresoArm(batch=8, group_size=8, seed=0, p_easy=0.5, p_hard=0.5)
    assert arm.skip_probability([]) == 0.0                      # no history: never skipped
    assert arm.skip_probability([0.5]) == 0.0                   # last group had signal
    assert arm.skip_probability([1.0]) == pytest.approx(0.5)    # 1 - p_easy^1
    assert arm.skip_probability([0.0, 1.0, 1.0]) == pytest.approx(0.75)  # trailing run of 2
    assert arm.skip_probability([0.0]) == pytest.approx(0.5)    # hard: 1 - p_hard^1
    assert arm.skip_probability([1.0, 0.0, 0.0, 0.0]) == pytest.approx(1 - 0.125)
    assert arm.skip_probability([0.0] * 20) == pytest.approx(0.99)  # capped: keep with >= 0.01
    assert arm.skip_probability([0.0, 0.5]) == 0.0              # the run is broken by a mixed group
    arm.p_hard = 0.2
    assert arm.skip_probability([0.0, 0.0]) == pytest.approx(1 - 0.04)


def test_greso_history_and_adaptive_probabilities():
    arm = arms.GresoArm(batch=8, group_size=8, seed=0)
    c = arms.keep(problem())
    arm.observe(c, [1.0] * 8)
    arm.observe(c, [0.0] * 8)
    assert arm.history["p0"] == [1.0, 0.0]
    arm.end_step(1, [])  # epoch 0: no adaptation
    assert (arm.p_easy, arm.p_hard) == (0.5, 0.5)
    arm.begin_epoch(1)
    arm.observe(c, [0.0] * 8)       # all-wrong: hard ratio 1 >= 1/6 -> skip more (p_hard down)
    arm.end_step(2, [])
    assert arm.p_hard == pytest.approx(0.49) and arm.p_easy == pytest.approx(0.51)
    for _ in range(100):
        arm.observe(c, [1.0] * 8)
        arm.end_step(3, [])
    assert arm.p_easy == pytest.approx(0.05) and arm.p_hard == pytest.approx(0.95)  # clamped


def test_greso_rounds():
    arm = arms.GresoArm(batch=8, group_size=8, seed=0)
    assert arm.round_size(1, 0, [], []) == 12                 # 1.5 B
    # 4 of 12 groups with signal: est = int(32 / (1 - 8/12) / 8 * 1.25) = 15 > 12 -> 12, not last
    last = [G([0.0] * 8)] * 8 + [G([0.0] * 7 + [1.0])] * 4
    assert arm.round_size(1, 1, ["g"] * 4, last) == 12
    assert not arm.last_sampling
    # half of the round informative: est = int(16 / 0.5 / 8 * 1.25) = 5 <= 12 -> last round, size 5
    last = [G([0.0] * 8)] * 6 + [G([1.0] * 7 + [0.0])] * 6
    assert arm.round_size(1, 2, ["g"] * 6, last) == 5
    assert arm.last_sampling
    assert arm.round_size(1, 3, ["g"] * 7, last) == 0          # the last round fell short: train on 7
    assert arm.round_size(2, 0, [], []) == 12 and not arm.last_sampling


def test_greso_skips_by_history_with_its_probability():
    arm = arms.GresoArm(batch=8, group_size=8, seed=3)
    p = problem()
    arm.history["p0"] = [0.0, 0.0]  # skip probability 0.75
    kinds = [arm.select(1, [p])[0].kind for _ in range(2000)]
    assert 0.7 < kinds.count("drop") / 2000 < 0.8


# -- GHPO ----------------------------------------------------------------------------------------
def test_ghpo_ladder_order_cut_and_reset():
    arm = arms.GhpoArm(batch=4, group_size=8, seed=0, hint_style="ghpo")
    p = problem()
    sol = p["solution"]
    c = arms.keep(p)
    assert arm.reroll(1, c, [0.0] * 7 + [1.0]) is None          # not all-wrong: no hint
    fractions = []
    for _ in range(3):
        c = arm.reroll(1, c, [0.0] * 8)
        fractions.append(c.info["fraction"])
        assert c.kind == "guide" and c.hint == sol[:round(len(sol) * c.info["fraction"])]
        assert c.text == p["prompt"] + arms.GHPO_WORDING + c.hint
    assert fractions == [0.25, 0.5, 0.75]
    assert arm.reroll(1, c, [0.0] * 8) is None                   # after 75%: trained on those rollouts
    # Stateless: the next step starts again from no hint, at 25%.
    again = arm.reroll(2, arms.keep(p), [0.0] * 8)
    assert again.info["fraction"] == 0.25
    # NaN-free rule: a group with a success at some rung stops climbing.
    assert arm.reroll(1, arms.Choice(p, "guide", "x", "h", {"rung": 1, "fraction": 0.25}), [1.0] + [0.0] * 7) is None


def test_ghpo_cut_uses_python_round_on_characters():
    assert arms.hint_prefix("abcdefghij", 0.25) == "ab"   # round(2.5) == 2 (banker's rounding, as Python)
    assert arms.hint_prefix("abcdefghij", 0.75) == "abcdefgh"  # round(7.5) == 8
    text, hint = arms.place_hint("Q: 1 + 2 = ?", "1+2=3 wr", "prefill")
    assert text == "Q: 1 + 2 = ?\nA: 1+2=3 wr" and text.endswith(hint)


def test_reward_reads_the_hint_and_completion_together():
    p = problem()
    assert pools.reward(p, "\nA: 8+6=14 write 4. So 78 + 56 = 134.") == 1.0
    assert pools.reward(p, "\nA: So 78 + 56 = 135.") == 0.0
    assert pools.reward(p, "56 = 134.", hint="carry 1. So 78 + ") == 1.0
    assert pools.reward(p, "no answer") == 0.0


# -- the policy ----------------------------------------------------------------------------------
def test_python_tokenizer_round_trips_and_matches_the_cli_when_built():
    import policy
    tok = policy.Tokenizer(policy.MODEL_DIR)
    texts = ["Q: 478 + 356 = ?", "Q: 478 + 356 = ?\nA: 8+6=14 write 4 carry 1. 7+5+1=13 wr",
             "Q: (12 + 3) * 4 = ?\nA: 2+3=5 write 5. so 12 + 3 = 15. 5*4=20 write 0 carry 2. borrow"]
    for t in texts:
        assert tok.decode(tok.encode_python(t)) == t
    cli = policy.find_sparsegate()
    if cli:
        assert policy.Tokenizer(policy.MODEL_DIR, cli).encode(texts) == [tok.encode_python(t) for t in texts]


def test_kv_cache_sampling_matches_full_forward_logprobs():
    import torch
    import policy
    torch.set_num_threads(1)
    pol = policy.Policy()
    tok = policy.Tokenizer(policy.MODEL_DIR)
    prompts = [tok.encode_python(t) for t in ["Q: 5 + 7 = ?", "Q: 478 + 356 = ?", "Q: 93 * 4 = ?"]]
    out, lps = pol.sample(prompts, [40, 60, 50], 1.0, torch.Generator().manual_seed(0))
    assert pol.generated_tokens == sum(map(len, out))
    lp, mask = pol.completion_logprobs(prompts, out)
    for r, row in enumerate(lps):
        assert int(mask[r].sum()) == len(row) == len(out[r])
        assert torch.allclose(lp[r, :len(row)], torch.tensor(row), atol=1e-4)
    greedy, _ = pol.sample(prompts[:1], [40], 0.0, count=False)
    assert tok.decode(greedy[0]).endswith("So 5 + 7 = 12.") and greedy[0][-1] == pol.eos_id
