#!/usr/bin/python3
"""What the comparison's runs say beyond summary.json: accuracy at equal rollout tokens, tokens to a
robust target, the smallest difference the seeds can detect, and the ledger figures that explain
an arm's result. Reads results/rl/runs/*.json; writes results/rl/analysis.json and prints the
markdown tables that docs/rl_testbed.md quotes.

    scripts/rl/analysis.py [--runs results/rl/runs] [--out results/rl/analysis.json]

- Accuracy at equal tokens: each run's held-out curve (mean@8 at T = 1 over the learnable levels,
  evaluated every ~10,000 rollout tokens) interpolated linearly onto a grid of 10,000-token steps;
  mean over seeds with a t interval.
- Tokens to 90% of grpo's gain: the rollout tokens at which a run's interpolated curve first
  reaches start + 0.9 x (grpo's mean final accuracy - start), one target for every run of the
  regime. summary.json's tokens_to_grpo_final aims at each seed's own grpo final, which near the
  plateau is as much evaluation noise as learning; this target sits below the plateau.
- Accuracy at equal optimizer steps, the same way (a run that ends before step k is left out; the
  count of runs is given), to separate what a rule does per update from what it spends per update.
- Tokens to 90% is censored at the run's budget: a seed that never reaches the target counts as
  the budget, so an arm's mean is then a lower bound (marked ">="). Its interval is a t interval
  over seeds.
- What each capability adds: the difference in mean tokens to 90% between the arm that has the
  capability and the arm that differs from it only by that capability (CAPABILITIES), with a Welch
  t interval (negative: the capability saves tokens).
- Minimum detectable difference: for final accuracy with n seeds per arm, two-sided alpha 0.05 and
  power 0.8, (t_0.975 + t_0.8) x s x sqrt(2 / n), s the pooled standard deviation over seeds of the
  arms' final accuracies.
"""
import argparse
import glob
import json
import math
import os
import statistics
import sys

from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
GRID = list(range(0, 60001, 10000))
STEPS = [3, 6, 9, 12]


# (capability, the arm with it, the arm without it): each pair differs in that one setting
# (docs/rl_testbed.md, The arms).
CAPABILITIES = [
    ("sparsity features, not length alone", "sparsegate", "sparsegate-length"),
    ("the service follows the policy's weights", "sparsegate", "sparsegate-frozen"),
    ("B of 4B candidates, not decide on B", "sparsegate", "sparsegate-decide"),
    ("rank by chance of signal (item 1)", "sparsegate-signal", "sparsegate"),
    ("Thompson draws (item 1)", "sparsegate-thompson", "sparsegate"),
    ("prior weighed by held-out quality (item 1)", "sparsegate-quality", "sparsegate-signal"),
    ("predictor follows the policy (item 3)", "sparsegate-calibrated", "sparsegate"),
    ("a half-life of 32 groups, not 128", "sparsegate-calibrated-fast", "sparsegate-calibrated"),
    ("Thompson draws on the calibrated predictor", "sparsegate-combined", "sparsegate-calibrated-fast"),
    ("group size per prompt (item 4)", "sparsegate-group-size", "sparsegate-signal"),
    ("hint rungs chosen by prediction (item 2), decide", "sparsegate-decide-rungs", "sparsegate-decide"),
    ("hint rungs chosen by prediction (item 2), select", "sparsegate-rungs", "sparsegate"),
    ("signal per rollout token", "sparsegate-per-token", "sparsegate-signal"),
    ("the combined selection against MoPPS", "sparsegate-combined", "mopps"),
    ("the combined selection against nearest (PCL)", "sparsegate-combined", "sparsegate"),
    ("sparsegate against MoPPS", "sparsegate", "mopps"),
    ("sparsegate against training every group", "sparsegate", "grpo"),
]


def interpolate(curve, x, key="tokens"):
    """Accuracy at `x` rollout tokens (key "tokens") or optimizer steps (key "step") on the run's
    curve, linear between evaluations; None past its end."""
    points = [(p[key], p["accuracy"]) for p in curve]
    for (x0, a0), (x1, a1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return a0 if x1 == x0 else a0 + (a1 - a0) * (x - x0) / (x1 - x0)
    if points and x == points[-1][0]:
        return points[-1][1]
    return None


def tokens_to(curve, target):
    """Rollout tokens where the interpolated curve first reaches `target`; None when it never does."""
    points = [(p["tokens"], p["accuracy"]) for p in curve]
    if points and points[0][1] >= target:
        return points[0][0]
    for (t0, a0), (t1, a1) in zip(points, points[1:]):
        if a1 >= target > a0:
            return t0 + (t1 - t0) * (target - a0) / (a1 - a0)
    return None


def interval(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    mean = statistics.fmean(values)
    if len(values) < 2:
        return {"mean": mean, "low": None, "high": None, "n": len(values)}
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": len(values)}


def welch(a, b):
    """Mean of a minus mean of b with a two-sided 95% Welch t interval; None below two values each.

    Written out because Debian 12's scipy (1.10) gives Welch's test no confidence interval
    (ttest_ind's confidence_interval came with 1.11); the t quantile is scipy's."""
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    diff = statistics.fmean(a) - statistics.fmean(b)
    if va + vb == 0:
        return {"difference": diff, "low": diff, "high": diff}
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = stats.t.ppf(0.975, dof) * math.sqrt(va + vb)
    return {"difference": diff, "low": diff - half, "high": diff + half}


def ledger(runs):
    """Median over seeds of what each run spent its tokens on."""
    def med(f):
        vals = [f(r) for r in runs]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    def fate_share(fate):
        return med(lambda r: r["groups_by_fate"].get(fate, 0) / max(1, sum(r["groups_by_fate"].values())))

    def forward(key):
        return lambda r: (r.get("prediction_whole_run") or {}).get(key)

    def forward_bias(r):
        whole = r.get("prediction_whole_run") or {}
        if whole.get("mean_predicted") is None or whole.get("mean_observed") is None:
            return None
        return whole["mean_predicted"] - whole["mean_observed"]

    def guided_all_zero(r):
        if r.get("guided"):
            return r["guided"]["all_zero"]
        # GHPO runs recorded before the count: each re-roll at rung k + 1 follows an all-zero group
        # at rung k, so the re-rolls above the first rung are a lower bound (the top rung's own
        # all-zero groups are not in the record).
        per_rung = (r.get("arm_stats") or {}).get("groups_per_rung")
        return sum(list(per_rung.values())[1:]) if per_rung else None

    def scoring_share(r):
        s = r["seconds"]
        return s.get("scoring", 0) / s["rollout"] if s.get("rollout") else None

    return {"steps": med(lambda r: r["steps"]),
            "tokens_per_step": med(lambda r: r["rollout_tokens"] / max(1, r["steps"])),
            "groups_trained": med(lambda r: r["groups_by_fate"].get("trained", 0)),
            "effective_ratio": med(lambda r: r["effective_ratio"]),
            "discarded_share": med(lambda r: r["discarded_tokens"] / max(1, r["rollout_tokens"])),
            "guided_decisions": med(lambda r: r["decisions_total"].get("guide", 0)),
            "guided_groups": med(lambda r: r["checks"]["guided_groups"]),
            "guided_all_zero": med(guided_all_zero),
            "guided_all_zero_is_bound": any(not r.get("guided") and guided_all_zero(r) is not None for r in runs),
            "forward_auroc": med(forward("zero_pass_auroc")),
            "forward_bias": med(forward_bias),
            "forward_ece_predicted": med(forward("ece_predicted")),
            "forward_ece_expected": med(forward("ece_expected")),
            "scoring_over_rollout_time": med(scoring_share),
            "trained_share": fate_share("trained")}


def analyse(runs):
    by = {}
    for r in runs:
        by.setdefault(r["regime"], {}).setdefault(r["arm"], []).append(r)
    out = {}
    for regime, arms in sorted(by.items()):
        grpo = arms.get("grpo", [])
        start = statistics.fmean(r["curve"][0]["accuracy"] for r in grpo) if grpo else None
        grpo_final = statistics.fmean(r["final_accuracy"] for r in grpo) if grpo else None
        target = start + 0.9 * (grpo_final - start) if grpo else None
        finals = [[r["final_accuracy"] for r in rs] for rs in arms.values() if len(rs) > 1]
        dof = sum(len(f) - 1 for f in finals)
        pooled = math.sqrt(sum((len(f) - 1) * statistics.variance(f) for f in finals) / dof) if dof else None
        n = statistics.median(len(rs) for rs in arms.values())
        mdd = ((stats.t.ppf(0.975, dof) + stats.t.ppf(0.8, dof)) * pooled * math.sqrt(2 / n)) if pooled else None
        regime_out = {"start_accuracy": start, "grpo_final_accuracy": grpo_final, "target_90": target,
                      "pooled_seed_sd": pooled, "seeds_per_arm": n, "min_detectable_difference": mdd, "arms": {}}
        for arm, rs in sorted(arms.items()):
            rs = sorted(rs, key=lambda r: r["seed"])
            regime_out["arms"][arm] = {
                "seeds": [r["seed"] for r in rs],
                "accuracy_at": {str(t): interval([interpolate(r["curve"], t) for r in rs]) for t in GRID},
                "accuracy_at_step": {str(k): interval([interpolate(r["curve"], k, key="step") for r in rs])
                                     for k in STEPS},
                "final_accuracy": interval([r["final_accuracy"] for r in rs]),
                "tokens_to_90": [tokens_to(r["curve"], target) for r in rs] if target is not None else None,
                "ledger": ledger(rs)}
            if target is not None:
                # A run that never reaches the target counts as its budget.
                reached = regime_out["arms"][arm]["tokens_to_90"]
                values = [float(r["config"]["budget_tokens"]) if t is None else t for r, t in zip(rs, reached)]
                regime_out["arms"][arm]["tokens_to_90_censored"] = {
                    **interval(values), "all_reached": None not in reached, "values": values}
        regime_out["capabilities"] = []
        for name, with_it, without in CAPABILITIES:
            a, b = regime_out["arms"].get(with_it), regime_out["arms"].get(without)
            if not a or not b or "tokens_to_90_censored" not in a or "tokens_to_90_censored" not in b:
                continue
            regime_out["capabilities"].append({
                "capability": name, "arm": with_it, "baseline": without,
                "censored": not (a["tokens_to_90_censored"]["all_reached"] and b["tokens_to_90_censored"]["all_reached"]),
                **(welch(a["tokens_to_90_censored"]["values"], b["tokens_to_90_censored"]["values"]) or {})})
        out[regime] = regime_out
    return out


def fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}f}"


def kilo(x, signed=False):
    return "-" if x is None else f"{x / 1000:{'+' if signed else ''}.1f}k"


def markdown(result):
    lines = []
    for regime, r in result.items():
        lines.append(f"### {regime}\n")
        lines.append(f"Start {fmt(r['start_accuracy'])}, grpo's final {fmt(r['grpo_final_accuracy'])}, target "
                     f"(90% of grpo's gain) {fmt(r['target_90'])}; seed sd {fmt(r['pooled_seed_sd'])}, "
                     f"minimum detectable difference in final accuracy {fmt(r['min_detectable_difference'])} "
                     f"({r['seeds_per_arm']:g} seeds per arm).\n")
        head = "| arm | " + " | ".join(f"{t // 1000}k" for t in GRID[1:]) + " | final [95% CI] | tokens to 90% (per seed) |"
        lines += [head, "|---" * (len(GRID) + 2) + "|"]
        for arm, a in r["arms"].items():
            acc = " | ".join(fmt((a["accuracy_at"][str(t)] or {}).get("mean")) for t in GRID[1:])
            f = a["final_accuracy"]
            final = f"{fmt(f['mean'])} [{fmt(f['low'])}, {fmt(f['high'])}]"
            reach = ", ".join("never" if t is None else f"{t / 1000:.1f}k" for t in (a["tokens_to_90"] or []))
            lines.append(f"| {arm} | {acc} | {final} | {reach} |")
        lines.append("")
        lines += ["| arm | tokens to 90%, mean [95% CI] |", "|---|---|"]
        for arm, a in r["arms"].items():
            c = a.get("tokens_to_90_censored")
            if c:
                bound = "" if c["all_reached"] else ">= "
                lines.append(f"| {arm} | {bound}{kilo(c['mean'])} [{kilo(c['low'])}, {kilo(c['high'])}] |")
        lines.append("")
        if r["capabilities"]:
            lines += ["| capability | arm - baseline | tokens to 90%: difference [95% CI] |", "|---|---|---|"]
            for c in r["capabilities"]:
                note = " (censored)" if c["censored"] else ""
                lines.append(f"| {c['capability']} | {c['arm']} - {c['baseline']} | "
                             f"{kilo(c.get('difference'), signed=True)} [{kilo(c.get('low'), signed=True)}, "
                             f"{kilo(c.get('high'), signed=True)}]{note} |")
            lines.append("")
        lines += ["| arm | " + " | ".join(f"step {k}" for k in STEPS) + " |", "|---" * (len(STEPS) + 1) + "|"]
        for arm, a in r["arms"].items():
            cells = []
            for k in STEPS:
                i = a["accuracy_at_step"][str(k)]
                cells.append("-" if i is None else f"{fmt(i['mean'])} ({i['n']})")
            lines.append(f"| {arm} | " + " | ".join(cells) + " |")
        lines.append("")
        lines += ["| arm | steps | tokens per step | groups trained | effective ratio | guided groups (all-zero) | "
                  "forward AUROC | forward bias | forward ECE (predicted, expected) | scoring / rollout time |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for arm, a in r["arms"].items():
            l = a["ledger"]
            zero = fmt(l["guided_all_zero"], 0)
            zero = (">= " + zero) if l["guided_all_zero_is_bound"] else zero
            lines.append(f"| {arm} | {fmt(l['steps'], 0)} | {fmt(l['tokens_per_step'], 0)} | {fmt(l['groups_trained'], 0)} | "
                         f"{fmt(l['effective_ratio'], 2)} | {fmt(l['guided_groups'], 0)} ({zero}) | {fmt(l['forward_auroc'], 2)} | "
                         f"{fmt(l['forward_bias'], 3)} | {fmt(l['forward_ece_predicted'], 3)}, "
                         f"{fmt(l['forward_ece_expected'], 3)} | {fmt(l['scoring_over_rollout_time'], 3)} |")
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default=os.path.join(ROOT, "results", "rl", "runs"))
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "rl", "analysis.json"))
    args = ap.parse_args()
    runs = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(args.runs, "*.json")))
            if not f.endswith(".spec.json")]
    runs = [r for r in runs if not r.get("error")]
    if not runs:
        sys.exit(f"analysis: no runs in {args.runs}")
    result = analyse(runs)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(markdown(result))


if __name__ == "__main__":
    main()
