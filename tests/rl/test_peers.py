"""Unit tests of the peer arms' rules (scripts/rl/arms.py against scripts/rl/PEERS.md), and of the policy's
tokenizer and KV-cache sampler. No training here: each test runs in well under a second or a few."""
import os
import sys

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "rl"))
import arm_registry  # noqa: E402
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


# -- MoPPS ---------------------------------------------------------------------------------------
def test_mopps_posterior_update_with_forgetting():
    arm = arms.MoppsArm(batch=2, group_size=8, seed=0)             # decay 0.5, prior Beta(1, 1)
    c = arms.keep(problem())
    arm.observe(c, [1.0, 1.0] + [0.0] * 6)                          # s = 2 of k = 8
    assert (arm.alpha["p0"], arm.beta["p0"]) == (pytest.approx(3.0), pytest.approx(7.0))  # 0.5*1 + 0.5*1 + 2
    arm.observe(c, [1.0] * 8)
    assert (arm.alpha["p0"], arm.beta["p0"]) == (pytest.approx(10.0), pytest.approx(4.0))  # 0.5*3 + 0.5 + 8; 0.5*7 + 0.5
    assert arm.observed == 2
    keeps = arms.MoppsArm(batch=2, group_size=8, seed=0, decay=1.0, prior_alpha=2.0, prior_beta=3.0)
    keeps.observe(c, [1.0, 0.0, 0.0, 1.0])
    keeps.observe(c, [1.0] * 4)
    assert (keeps.alpha["p0"], keeps.beta["p0"]) == (pytest.approx(2 + 2 + 4), pytest.approx(3 + 2))  # no forgetting


def test_mopps_thompson_sampling_prefers_prompts_near_the_target():
    arm = arms.MoppsArm(batch=1, group_size=8, seed=1)
    easy, hard, mid, new = (problem(i) for i in range(4))
    arm.alpha.update({"p0": 200.0, "p1": 1.0, "p2": 60.0})
    arm.beta.update({"p0": 1.0, "p1": 200.0, "p2": 60.0})
    picked = []
    for _ in range(300):
        out = arm.select(1, [easy, hard, mid])
        assert [c.kind for c in out].count("keep") == 1
        picked.append(next(c.prompt["id"] for c in out if c.kind == "keep"))
    assert picked.count("p2") == 300                                 # the 0.5 prompt, every time
    picked = [next(c.prompt["id"] for c in arm.select(1, [easy, new]) if c.kind == "keep") for _ in range(300)]
    assert picked.count("p3") > 290                                  # an unseen prompt (Beta(1, 1)) beats a solved one
    c = arm.select(1, [mid])[0]
    assert c.info["posterior_mean"] == pytest.approx(0.5) and 0 < c.info["thompson_sample"] < 1


def test_mopps_chooses_b_of_its_candidates_once_each():
    arm = arms.MoppsArm(batch=2, group_size=8, seed=0, candidates_ratio=8)
    assert arm.chunk == 16                                           # ts_ratio x B candidates per step
    pool = [problem(i) for i in range(5)]
    cands = pool + pool + pool[:2]                                   # the stream wrapped: repeats are candidates once
    out = arm.select(1, cands)
    assert len(out) == len(cands)
    kept = [c for c in out if c.kind == "keep"]
    assert len(kept) == 2 and len({c.prompt["id"] for c in kept}) == 2
    assert all(c.text == c.prompt["prompt"] and c.n == 0 for c in kept)  # full groups of G
    assert all(c.kind == "defer" for c in out[5:])
    assert sorted(arm.alpha) == [f"p{i}" for i in range(5)]          # every candidate got the prior
    assert arms.MoppsArm(batch=8, group_size=8, seed=0).chunk == 64


def test_mopps_threshold_strategy_takes_draws_inside_the_interval():
    arm = arms.MoppsArm(batch=2, group_size=8, seed=0, strategy="threshold")
    draws = np.array([0.05, 0.5, 0.95, 0.4, 0.1])
    for _ in range(20):
        assert sorted(arm.pick(draws)) == [1, 3]                     # two inside [0.3, 0.7]: those two
    assert sorted(arm.pick(np.array([0.05, 0.5, 0.95, 0.2]))) == [1, 3]  # one inside, then the nearest (0.2)
    assert sorted(arms.MoppsArm(batch=2, group_size=8, seed=0).pick(draws)) == [1, 3]  # topk: nearest 0.5
    with pytest.raises(ValueError):
        arms.MoppsArm(batch=2, group_size=8, seed=0, strategy="uniform")


# -- SPEED ---------------------------------------------------------------------------------------
def group(choice, rewards, step=1, tokens_per_rollout=3):
    """A trainer Group of synthetic rollouts (grpo.Group, without the model)."""
    import grpo
    return grpo.Group(step, choice, [len(choice.text)], [[7] * tokens_per_rollout for _ in rewards],
                      [[-0.5] * tokens_per_rollout for _ in rewards], list(rewards), tokens_per_rollout * len(rewards))


def test_speed_sizes_scaled_from_the_original():
    arm = arms.SpeedArm(batch=8, group_size=8, seed=0)
    assert (arm.n_init, arm.n_continue, arm.chunk, arm.max_num_gen_batches) == (2, 6, 32, 50)
    big = arms.SpeedArm(batch=16, group_size=16, seed=0, n_init=4)   # the shipped config: 4 + 12
    assert (big.n_init, big.n_continue) == (4, 12)
    with pytest.raises(ValueError):
        arms.SpeedArm(batch=8, group_size=8, seed=0, n_init=3)       # 5 is not a multiple of 3


def test_speed_continues_only_prompts_whose_screening_has_variance():
    arm = arms.SpeedArm(batch=2, group_size=8, seed=0)
    mixed, solved, failed = problem(0), problem(1), problem(2)
    out = arm.select(1, [mixed, solved, failed, mixed])
    assert [c.kind for c in out] == ["keep", "keep", "keep", "defer"]  # a repeat in one batch: screened once
    assert all(c.n == 2 and c.info["phase"] == "screen" for c in out[:3])
    screens = [group(c, r) for c, r in zip(out, ([1.0, 0.0], [1.0, 1.0], [0.0, 0.0]))]
    assert [arm.hold(g) for g in screens] == [True, False, False]
    assert not arm.keep_group(screens[1].rewards) and not arm.keep_group(screens[2].rewards)  # filtered
    cont = arm.continuations(2)
    assert len(cont) == 1 and cont[0].prompt is mixed and cont[0].n == 6 and cont[0].text == mixed["prompt"]
    assert arm.continuations(2) == []                                # each screened prompt continues once
    tail = group(cont[0], [1.0] * 6, step=2)
    assert arm.hold(tail) and len(arm.ready) == 1
    whole = arm.ready[0]
    assert whole.rewards == [1.0, 0.0] + [1.0] * 6                   # screening + continuation: one group of G
    assert whole.parts == [screens[0], tail] and whole.tokens == screens[0].tokens + tail.tokens
    assert len(whole.completions) == len(whole.old_logps) == 8
    assert (arm.screened, arm.passed) == (0, 1)                      # screened counts in observe (the trainer calls it)


def test_speed_buffer_rounds_and_generation_limit():
    arm = arms.SpeedArm(batch=2, group_size=4, seed=0, max_num_gen_batches=3)
    assert (arm.n_init, arm.n_continue) == (2, 2)                    # at least 2 screening rollouts
    assert arm.round_size(1, 0, [], []) == 1                         # not ready: one generation batch
    made = []
    for i in range(3):
        s = group(arms.Choice(problem(i), "keep", problem(i)["prompt"], "", {"phase": "screen"}, n=2), [1.0, 0.0])
        c = arms.Choice(problem(i), "keep", problem(i)["prompt"], "", {"phase": "continue", "screen": s}, n=2)
        assert arm.hold(group(c, [1.0, 1.0]))
        made.append(arm.ready[-1])
    assert arm.round_size(1, 1, [], []) == 0                         # 3 complete >= B
    assert arm.truncate([]) == made[:2] and arm.ready == made[2:]    # the first B; the rest stays in the buffer
    assert arm.round_size(2, 0, [], []) == 1
    with pytest.raises(arms.TooDifficult):                           # the 3rd generation batch of a step
        arm.round_size(2, 2, [], [])


class StubPolicy:
    """Rollouts without the model: the first token says whether the rollout is right (pass rate per prompt)."""

    def __init__(self, rates, seed=0):
        import random
        self.rates, self.rng, self.generated_tokens = rates, random.Random(seed), 0

    def sample(self, rows, limits, temperature, gen):
        out = []
        for ids in rows:
            length = 2 + self.rng.randrange(3)
            out.append([1 if self.rng.random() < self.rates[ids[0]] else 0] + [5] * (length - 1))
        self.generated_tokens += sum(map(len, out))
        return out, [[-0.5] * len(y) for y in out]


class StubTokenizer:
    def __init__(self, pool):
        self.index = {p["prompt"]: i for i, p in enumerate(pool)}

    def encode(self, texts):
        return [[self.index[t]] for t in texts]

    def decode(self, ids):
        return str(ids[0])


def stub_trainer(arm, pool, rates, monkeypatch, batch=4, group_size=8):
    """grpo.Trainer's sampling (gather / select / rollout) on a stub policy: no model, no update."""
    import collections
    import grpo
    monkeypatch.setattr(grpo.pools, "reward", lambda p, completion, hint="": float(completion == "1"))
    t = object.__new__(grpo.Trainer)
    t.cfg = grpo.Config(batch=batch, group=group_size)
    t.arm, t.pool = arm, pool
    t.tok, t.policy, t.gen = StubTokenizer(pool), StubPolicy(rates), None
    t.stream = grpo.Stream(pool, 0, arm)
    t.limits = {p["id"]: 10 for p in pool}
    t.ledger, t.seconds, t.tokens = [], collections.Counter(), collections.Counter()
    t.selected_by_step = collections.defaultdict(set)
    t.merged_with_signal = set()
    return t


def run_steps(t, steps):
    import collections
    kept_by_step = []
    for step in range(1, steps + 1):
        t.step_kinds = collections.Counter()
        kept, _ = t.gather(step)
        kept_by_step.append(kept)
    return kept_by_step


@pytest.mark.parametrize("name", ["speed", "mopps", "grpo"])
def test_sampling_ledger_counts_every_token_and_fates_every_group(name, monkeypatch):
    pool = [problem(i) for i in range(12)]
    for i, p in enumerate(pool):
        p["prompt"] = f"Q: {i} + 1 = ?"
    rates = [0.0, 1.0, 0.5, 0.25] * 3                                # hopeless, trivial, learnable
    arm = arm_registry.make_arm(name, 4, 8, 0)
    t = stub_trainer(arm, pool, rates, monkeypatch)
    kept_by_step = run_steps(t, 6)
    led = t.ledger
    assert sum(g.tokens for g in led) == t.policy.generated_tokens == t.tokens["generated"]
    assert arm.observed == len(led)
    assert all(g.fate in ("trained", "filtered", "overflow") for g in led)
    trained_tokens = sum(g.tokens for g in led if g.fate == "trained")
    assert trained_tokens == sum(k.tokens for kept in kept_by_step for k in kept)  # what the update saw
    for kept in kept_by_step:
        assert len(kept) == 4 and all(len(k.rewards) == 8 for k in kept)
    if name == "speed":
        assert {len(g.rewards) for g in led} == {2, 6}               # screening and continuation groups
        for kept in kept_by_step:
            for k in kept:
                assert not arms.zero_variance(k.rewards) and [len(p.rewards) for p in k.parts] == [2, 6]
                assert k.parts[0].step <= k.parts[1].step            # the continuation came in a later round
        # a step trained prompts screened in an earlier step (the buffer and the queue carry over)
        assert any(k.parts[0].step < step for step, kept in enumerate(kept_by_step, 1) for k in kept)
        assert all(g.fate == "filtered" for g in led if len(g.rewards) == 2 and arms.zero_variance(g.rewards))
        # hopeless and trivial prompts never train
        assert not any(rates[int(g.choice.prompt["id"][1:])] in (0.0, 1.0) for g in led if g.fate == "trained")
    if name == "mopps":
        assert {len(g.rewards) for g in led} == {8} and all(g.fate == "trained" for g in led)
        assert sorted(arm.alpha) == sorted(p["id"] for p in pool)    # 32 candidates a step: the whole pool


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


# -- the product's arms: one decision per id and batch ---------------------------------------------

def test_sparsegate_arms_decide_each_id_once_per_batch():
    # Where an epoch ends inside a batch the stream repeats a prompt; the Gate refuses repeated ids,
    # so the arm decides the first and defers the repeat (a real sampler never repeats one).
    from types import SimpleNamespace
    arm = object.__new__(arms.SparsegateArm)
    arm.decisions = []
    candidates = [problem(0), problem(1), problem(0), problem(2)]
    assert [p["id"] for p in arm.first_of_each_id(candidates)] == ["p0", "p1", "p2"]
    decision = SimpleNamespace(kind="keep", predicted_pass_rate=0.5, model_digest="d", hint_level=0, hint_fraction=0,
                               reason="", expected_pass_rate=0.5, prompt_text="Q", hint_text="", rolled_out=True,
                               recommended_group_size=None)
    choices = arm.choices(3, candidates, {"p0": decision, "p2": decision})
    assert [(c.prompt["id"], c.kind, c.info.get("reason")) for c in choices] == [
        ("p0", "keep", ""), ("p1", "defer", "not selected"), ("p0", "defer", "already in this batch"),
        ("p2", "keep", "")]
    assert all(c.n == 0 for c in choices)  # the trainer's own G unless the Gate divided the rollouts
    sized = arm.choices(3, candidates[:1], {"p0": SimpleNamespace(**{**vars(decision), "recommended_group_size": 5})})
    assert sized[0].n == 5
