"""The RL testbed's smoke run (run_comparison.py --smoke): every arm, both regimes, a few steps of a tiny
pool, and the bookkeeping checked from each run's ledger of rolled-out groups:

- tokens counted == tokens the policy generated == rollout_tokens; trained + discarded == generated;
- every rolled-out group reached the arm's observe;
- prompts dropped before rollout got no rollouts;
- guided rollouts carry the hint (the rolled-out ids decode to the prompt with the hint at its end);
- every arm appears in summary.json for every regime, with the summary's fields.
"""
import copy
import json
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "rl", "run_comparison.py")
ARMS = ("grpo", "dapo", "greso", "ghpo", "mopps", "speed")
REGIMES = ("multi_epoch", "single_pass")
FIELDS = ("seeds", "rollout_tokens", "final_accuracy", "tokens_to_grpo_final", "effective_ratio")


def problems_of(run):
    """What is wrong with one run's bookkeeping, read from its ledger (empty when all is well)."""
    bad = []
    led = run["ledger"]
    c = run["checks"]
    counted = sum(g["tokens"] for g in led)
    if not (counted == c["tokens_counted"] == c["tokens_generated"] == run["rollout_tokens"]):
        bad.append(f"tokens: ledger {counted}, checks {c['tokens_counted']} / {c['tokens_generated']}, "
                   f"rollout_tokens {run['rollout_tokens']}")
    trained = sum(g["tokens"] for g in led if g["fate"] == "trained")
    if trained != run["trained_tokens"] or trained + run["discarded_tokens"] != run["rollout_tokens"]:
        bad.append("trained + discarded != generated")
    if c["groups_observed"] != len(led) or c["groups_rolled_out"] != len(led):
        bad.append(f"{len(led)} groups rolled out, {c['groups_observed']} observed")
    if sum(len(g["rewards"]) for g in led) != run["rollouts"]:
        bad.append("rollouts miscounted")
    for step, dropped in run["dropped_by_step"].items():
        chosen = set(run["selected_by_step"].get(step, []))  # a tiny pool can wrap: dropped once, chosen once
        rolled = {g["id"] for g in led if g["step"] == int(step)}
        if (set(dropped) - chosen) & rolled:
            bad.append(f"step {step}: dropped prompts rolled out: {sorted((set(dropped) - chosen) & rolled)}")
    for g in led:
        if g["kind"] == "guide" and (not g["hint"] or not g["text"].endswith(g["hint"])
                                     or not g["text"].startswith(g["prompt"]) or g["text"] == g["prompt"]):
            bad.append(f"guided group of {g['id']} without its hint: {g['text']!r}")
        if g["kind"] == "keep" and g["text"] != g["prompt"]:
            bad.append(f"kept group of {g['id']} rolled out another text")
        if g["fate"] not in ("trained", "filtered", "replaced", "overflow"):
            bad.append(f"group of {g['id']} has no fate")
    if c["dropped_and_rolled_out"] or c["guided_without_hint"] or c["unfated_groups"]:
        bad.append(f"trainer's own checks: {c}")
    return bad


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("rl_smoke")
    t0 = time.time()
    proc = subprocess.run([sys.executable, SCRIPT, "--smoke", "--out", str(out)], capture_output=True, text=True,
                          timeout=600)
    seconds = time.time() - t0
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(out / "summary.json") as f:
        summary = json.load(f)
    runs = {}
    for name in os.listdir(out / "runs"):
        if name.endswith(".json"):
            with open(out / "runs" / name) as f:
                r = json.load(f)
            runs[(r["regime"], r["arm"])] = r
    return {"summary": summary, "runs": runs, "seconds": seconds, "out": out}


def test_every_arm_in_every_regime_of_the_summary(smoke):
    s = smoke["summary"]
    assert s["missing_runs"] == []
    assert set(ARMS) <= set(s["sizes"]["arms"])
    if os.environ.get("SPARSEGATE_BIN"):  # CTest: the CLI and the plugin are built, so the product's arms run too
        assert {"sparsegate", "sparsegate-length", "sparsegate-frozen"} <= set(s["sizes"]["arms"])
    for regime in REGIMES:
        for arm in s["sizes"]["arms"]:
            entry = s["regimes"][regime][arm]
            for field in FIELDS:
                assert field in entry, (regime, arm, field)
            assert entry["seeds"] == [0]
            assert entry["rollout_tokens"] > 0
    assert (smoke["out"] / "report.html").read_text().count("<svg") == 2 * len(REGIMES)


def test_bookkeeping_of_every_run(smoke):
    assert len(smoke["runs"]) == len(smoke["summary"]["sizes"]["arms"]) * len(REGIMES)
    for key, run in smoke["runs"].items():
        assert problems_of(run) == [], key


def test_the_arms_did_their_thing(smoke):
    runs = smoke["runs"]
    # GHPO guided at least one all-wrong group of the hopeless levels, and its hinted groups replace the originals.
    ghpo = runs[("multi_epoch", "ghpo")]
    assert any(g["kind"] == "guide" for g in ghpo["ledger"])
    assert any(g["fate"] == "replaced" for g in ghpo["ledger"])
    # DAPO and GRESO trained only groups with reward variance.
    for arm in ("dapo", "greso"):
        for regime in REGIMES:
            for g in runs[(regime, arm)]["ledger"]:
                if g["fate"] == "trained":
                    assert max(g["rewards"]) != min(g["rewards"]), (arm, regime, g)
    # GRESO skipped prompts once it had history (the multi-epoch pool is smaller than a sampling round).
    greso = runs[("multi_epoch", "greso")]
    assert greso["decisions_total"].get("drop", 0) > 0
    # sparsegate arms (when built): the Gate scored the prompts and saw every rolled-out group.
    for (regime, arm), run in runs.items():
        if arm.startswith("sparsegate"):
            assert run["prompt_tokens_scored"] > 0
            assert run["arm_stats"]["gate"]["observed_groups"] == len(run["ledger"]), (regime, arm)
            # the predictor is judged over training: every curve point past the start says what it knows,
            # and the forward test covers every unhinted group once
            assert all(p["predictor"]["active"] in ("prior", "supervised") for p in run["curve"][1:]), (regime, arm)
            windows = run["prediction_over_training"]
            assert len(windows) == len(run["curve"]) - 1
            assert sum(w["groups"] for w in windows) == sum(g["kind"] == "keep" for g in run["ledger"]), (regime, arm)
        else:
            assert run["prediction_over_training"] == []
    # grpo trains every group it rolls out.
    assert all(g["fate"] == "trained" for g in runs[("multi_epoch", "grpo")]["ledger"])


def test_the_checks_can_fail(smoke):
    run = copy.deepcopy(smoke["runs"][("multi_epoch", "ghpo")])
    guided = next(g for g in run["ledger"] if g["kind"] == "guide")
    guided["text"] = guided["prompt"]                        # a guided rollout without its hint
    run["ledger"][0]["tokens"] += 1                          # a token not counted
    last = run["ledger"][-1]
    step = str(last["step"])
    run["dropped_by_step"][step] = [last["id"]]              # a dropped prompt that was rolled out
    run["selected_by_step"][step] = [i for i in run["selected_by_step"][step] if i != last["id"]]
    problems = problems_of(run)
    assert any("tokens" in p for p in problems)
    assert any("without its hint" in p for p in problems)
    assert any("dropped prompts rolled out" in p for p in problems)

