"""Prompt pools, the held-out test set and the reward of the RL testbed.

Problems come from the embedded model's own generator (scripts/embedded_model/arithmetic.py), so
every prompt has a reference solution (its trace) for hints, and a level (op, digits) that says how
hard it is for the starting model. The level mix is chosen from the starting model's measured pass
rates (LEVELS below; `grpo.py --measure-levels` measures them, and the model card agrees) so that a
pool holds the three kinds of prompt an RL run meets:

- trivial: pass rate about 1, every group all-correct, no learning signal;
- learnable: pass rate in between, where GRPO has signal and can improve;
- hopeless: pass rate about 0, every group all-wrong (unless a hint makes it learnable).

Pools and the test set are drawn from separate seeds and the test set excludes every pool prompt,
so held-out accuracy is measured on other problems of the same levels.
"""
import random
import sys
import os

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "embedded_model"))
import arithmetic  # noqa: E402
import answers  # noqa: E402  (the reward is checked as the model card checks it)

# (op, digits): (kind, share of the pool), for the starting policy (policy.START_DIR), whose pass rate
# at temperature 1 falls with the number of carries it can forget.
LEVELS = {
    ("add", 1): ("trivial", 0.1), ("mul", 1): ("trivial", 0.1),
    ("add", 2): ("learnable", 0.075), ("sub", 2): ("learnable", 0.075), ("add", 3): ("learnable", 0.075),
    ("sub", 3): ("learnable", 0.075), ("mul", 2): ("learnable", 0.075), ("expr", 2): ("learnable", 0.075),
    ("mul", 3): ("learnable", 0.075), ("expr", 3): ("learnable", 0.075),
    ("add", 4): ("hopeless", 0.05), ("sub", 4): ("hopeless", 0.05), ("add", 5): ("hopeless", 0.05),
    ("sub", 5): ("hopeless", 0.05),
}
LIMIT_SLACK, LIMIT_EXTRA = answers.LIMIT_SLACK, answers.LIMIT_EXTRA  # max new tokens, as the card sizes them


def level_of(p):
    return f"{p['op']}-{p['digits']}"


# The held-out set weighs the learnable levels up: that is where training can move accuracy, and
# with 48-96 problems (what an evaluation can afford here) the pool's mix would leave ~5 per level.
TEST_WEIGHT = {"trivial": 1.0, "learnable": 4.0, "hopeless": 1.0}


def draw(n, seed, tag, exclude=(), weight=None, levels=None):
    """n distinct problems with the LEVELS mix (largest-remainder rounding), in a seeded order.

    levels: names ("add-4") to keep of LEVELS, shares renormalised (the smoke run's cheap subset)."""
    chosen = {lv: v for lv, v in LEVELS.items() if not levels or f"{lv[0]}-{lv[1]}" in levels}
    assert chosen, f"no level of {levels} in pools.LEVELS"
    w = {lv: share * (weight or {}).get(kind, 1.0) for lv, (kind, share) in chosen.items()}
    total = sum(w.values())
    want = {lv: n * w[lv] / total for lv in chosen}
    counts = {lv: int(w) for lv, w in want.items()}
    for lv in sorted(want, key=lambda lv: counts[lv] - want[lv])[:n - sum(counts.values())]:
        counts[lv] += 1
    seen, rows = set(exclude), []
    for (op, digits), k in counts.items():
        rng = random.Random(f"{tag}-{seed}-{op}-{digits}")  # str seeds: stable on every machine
        got, tries = 0, 0
        while got < k:
            p = arithmetic.make_problem(rng, op, digits)
            tries += 1
            if p["prompt"] in seen and tries < 200 * (k + 1):  # tiny levels may run out: allow repeats then
                continue
            seen.add(p["prompt"])
            p["id"] = f"{tag}{seed}-{op}{digits}-{got}"
            p["kind"] = chosen[(op, digits)][0]
            rows.append(p)
            got += 1
    random.Random(f"{tag}-{seed}-order").shuffle(rows)
    return rows


def make_pool(n, seed, levels=None):
    return draw(n, seed, "pool", levels=levels)


def make_test_set(n, seed, pools, levels=None):
    """The held-out set: the pools' levels (learnable ones weighed up, TEST_WEIGHT), none of their prompts."""
    exclude = {p["prompt"] for pool in pools for p in pool}
    return draw(n, seed, "test", exclude, TEST_WEIGHT, levels)


def reward(problem, completion, hint=""):
    """1.0 when the final answer ("So ... = N.") is right, else 0.0 (answers.final_answer, as the card).

    A guided rollout is read with its hint in front: the hint ends mid-trace (cut by characters) and
    the rollout continues it, so the last sentence can start in the hint and end in the rollout.
    The rollout must still write the end: a cut at 75% of the characters never holds the closing ".",
    and for the long traces GHPO hints (all-wrong groups) it ends well before the final sentence.
    """
    return 1.0 if answers.final_answer(hint + completion) == problem["answer"] else 0.0
