"""summary.json's arithmetic: medians with never-reached seeds, tokens to grpo's final accuracy; the
predictor's forward AUROC over training."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "rl"))
import run_comparison as rc  # noqa: E402
import grpo  # noqa: E402


def run(arm, seed, curve, regime="multi_epoch"):
    tokens = curve[-1][0]
    return {"arm": arm, "seed": seed, "regime": regime, "rollout_tokens": tokens, "final_accuracy": curve[-1][1],
            "effective_ratio": 0.5, "discarded_tokens": 0, "prompt_tokens_scored": 0, "steps": 3, "error": None,
            "seconds": {"scoring": 0, "rollout": 1, "update": 1, "eval": 1}, "decisions_total": {"keep": 3},
            "curve": [{"tokens": t, "accuracy": a, "per_kind": {"learnable": a}} for t, a in curve]}


def test_median_counts_never_reached_as_infinite():
    assert rc.median_or_null([1, 2, 3]) == 2
    assert rc.median_or_null([1, None, 3]) == 3
    assert rc.median_or_null([1, None, None]) is None
    assert rc.median_or_null([]) is None


def test_tokens_to_grpo_final_per_seed():
    runs = [run("grpo", 0, [(0, 0.5), (100, 0.6), (200, 0.7)]), run("grpo", 1, [(0, 0.5), (200, 0.6)]),
            run("x", 0, [(0, 0.5), (50, 0.7), (200, 0.8)]), run("x", 1, [(0, 0.5), (200, 0.55)])]
    plan = [("multi_epoch", a, s) for a in ("grpo", "x") for s in (0, 1)]
    s = rc.summarize(runs, plan, 1.0, {})
    x = s["regimes"]["multi_epoch"]["x"]
    assert [p["tokens_to_grpo_final"] for p in x["per_seed"]] == [50, None]
    assert x["tokens_to_grpo_final"] is None            # median of (50, inf)
    g = s["regimes"]["multi_epoch"]["grpo"]
    assert g["tokens_to_grpo_final"] == 200 and abs(g["final_accuracy"] - 0.65) < 1e-12
    assert s["missing_runs"] == []
    s = rc.summarize(runs[:3], plan, 1.0, {})
    assert s["missing_runs"] == ["multi_epoch-x-1"]


def test_zero_pass_auroc():
    assert grpo.zero_pass_auroc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 1.0
    assert grpo.zero_pass_auroc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 0.0
    assert grpo.zero_pass_auroc([0.5, 0.5], [True, False]) == 0.5        # a tie counts half
    assert grpo.zero_pass_auroc([0.1, 0.2], [True, True]) is None         # one kind of group only


def test_prediction_over_training_windows_follow_the_curve():
    import arms
    def group(kind, predicted, rewards):
        return grpo.Group(1, arms.Choice({"id": "p"}, kind, "", "", {"predicted_pass_rate": predicted}), [], [], [],
                          rewards, 1)
    ledger = [group("keep", 0.1, [0, 0]), group("keep", 0.9, [1, 0]), group("guide", 0.0, [0, 0]),
              group("keep", 0.8, [0, 0]), group("keep", 0.2, [1, 1])]
    curve = [{"tokens": 0, "groups": 0}, {"tokens": 10, "groups": 3}, {"tokens": 20, "groups": 5}]
    first, second = grpo.prediction_over_training(ledger, curve)
    assert (first["groups"], first["zero_pass_groups"], first["zero_pass_auroc"]) == (2, 1, 1.0)  # the guided one is out
    assert (second["groups"], second["zero_pass_auroc"]) == (2, 0.0)
    assert abs(second["mean_observed"] - 0.5) < 1e-12
    # ECE: window one has 0.1 -> 0 and 0.9 -> 0.5 in bins of their own: (0.1 + 0.4) / 2.
    assert abs(first["ece_predicted"] - 0.25) < 1e-12
    assert first["ece_expected"] is None  # the ledger's choices carried no expected pass rate
    no_predictions = [grpo.Group(1, arms.Choice({"id": "p"}), [], [], [], [0, 1], 1)]
    assert grpo.prediction_over_training(no_predictions, curve) == []


def test_calibration_error_bins_as_the_plugin_does():
    # Two groups in the 0.2 bin (mean 0.25 predicted, 0.5 observed) and one in the last bin (1.0
    # predicted, 1.0 observed): (2 * 0.25 + 0) / 3.
    assert abs(grpo.calibration_error([0.2, 0.3 - 1e-9, 1.0], [0.0, 1.0, 1.0]) - 0.5 / 3) < 1e-6
    assert grpo.calibration_error([], []) is None


def test_intervals_over_seeds():
    ci = rc.t_interval([0.70, 0.74, 0.72])
    assert abs(ci["mean"] - 0.72) < 1e-12 and ci["n"] == 3
    assert abs((ci["high"] - ci["mean"]) - 4.302653 * 0.02 / 3 ** 0.5) < 1e-5  # t(0.975, 2) * sd / sqrt(3)
    assert rc.t_interval([0.7]) is None and rc.t_interval([0.7, None]) is None
    runs = [run("grpo", s, [(0, 0.5), (100, a)]) for s, a in enumerate((0.6, 0.62, 0.64))]
    g = rc.summarize(runs, [("multi_epoch", "grpo", s) for s in range(3)], 1.0, {})["regimes"]["multi_epoch"]["grpo"]
    assert g["accuracy_gain_interval"]["low"] > 0 and abs(g["accuracy_gain_interval"]["mean"] - 0.12) < 1e-12
    assert g["tokens_to_grpo_final_range"] == [100, 100]
