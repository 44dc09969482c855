#!/usr/bin/python3
"""Measures the embedded default model and writes its model card; every number of the card comes from here.

On a fixed grid of difficulty levels (op in add/sub/mul/expr x 1..6 digits, `--per-level` problems
each, held out from the training set where the level allows it), the sparsegate CLI measures:

- greedy accuracy (temperature 0, one completion) and pass@8 (8 samples at temperature 1, seed 0);
- sparsity features of the prompt's hidden states (last layer and layer 2, last token and mean);

and the script reports the effect honestly, whatever it is: per-level means, per-problem Spearman
correlations with digits and with the measured pass rate, the same controlled for prompt length,
and familiar (<= 3 digits, the trained range) against unfamiliar problems of equal difficulty.

Writes, in the model directory: card_data.json (every number and the per-problem records; run times
only under "timings"), README.md (the model card, rendered from card_data.json and
training_log.json) and loss_curve.svg. Deterministic: a rerun gives identical README.md and SVG.

    measure.py --model models/arith-3m --sparsegate build/apps/cli/sparsegate
    measure.py --model models/arith-3m --sparsegate ... --check        # re-measure a subset, compare
    measure.py --model models/arith-3m --card-only    # recompute the statistics, re-render, from card_data.json
"""
import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import arithmetic  # noqa: E402
import charts  # noqa: E402
from answers import LIMIT_EXTRA, LIMIT_SLACK, final_answer  # noqa: E402,F401  (the card's check)

DEFAULT_PER_LEVEL = 20  # 480 problems: about 12 minutes on the 2-core development machine, under load
OPS = ("add", "sub", "mul", "expr")
DIGITS = tuple(range(1, 7))
ANSWER_PREFIX = "\nA: "  # train.py's ANSWER_PREFIX: the model continues the prompt with it
LAYERS = (-1, 2)
POOLINGS = ("last_token", "mean")
SAMPLES, TEMPERATURE, SAMPLE_SEED = 8, 1.0, 0
# The metric names, in output order: from `sparsegate metrics` when measuring, from card_data.json
# when only re-rendering (set_metric_names). The C++ list (metric_list.h) is the one definition.
METRICS = ()
# +1: a higher value means a sparser state, -1: a lower one does (docs/api.md, The features); the others
# have no agreed direction and are left out of the "sparser or denser" tally.
SPARSER = {"heavy_tail_fraction": -1, "top1_energy": 1, "top5_energy": 1, "top10_energy": 1, "top1_mass": 1,
           "top5_mass": 1, "top10_mass": 1, "hoyer": 1, "effective_rank_l1": -1, "effective_rank_l2": -1, "gini": 1}
MIN_CELL = 5          # fewer problems than this in a comparison cell: reported as too small
MIN_STRATUM = 10      # token-count strata smaller than this are left out of the stratified correlation
WEAK, MODEST = 0.2, 0.4
DRAWS_PER_PROBLEM = 200            # candidates drawn per wanted problem before a level falls back to seen prompts
TOLERANCE = 1e-4                   # --check: features agree within this (relative above 1)


# ---------------------------------------------------------------------------------------------
# The evaluation set
# ---------------------------------------------------------------------------------------------
def training_prompts(log):
    """The prompts train.py trained on, regenerated from its log exactly as train.py draws them."""
    count = log["steps"] * log["batch"]
    assert count == log.get("train_problems", count), "training_log.json: steps * batch != train_problems"
    assert log.get("train_max_digits", arithmetic.FAMILIAR_DIGITS) == arithmetic.FAMILIAR_DIGITS
    rows = arithmetic.training_set(count, log["seed"])
    return {r["prompt"] for r in rows}


def evaluation_set(per_level, seed, seen):
    """per_level distinct problems per (op, digits), held out from `seen` where the level allows it.

    Some short levels have fewer possible prompts than the training set drew (every 1-digit prompt
    was trained on), so after DRAWS_PER_PROBLEM draws per wanted problem a level is filled with seen prompts,
    flagged held_out False, rather than looping forever.
    """
    problems, levels = [], []
    for op in OPS:
        for digits in DIGITS:
            rng = random.Random(f"eval-{seed}-{op}-{digits}")  # str seeds hash by SHA-512: stable everywhere
            kept, reserve, drawn, excluded = [], [], set(), 0
            for _ in range(DRAWS_PER_PROBLEM * per_level):
                if len(kept) == per_level:
                    break
                p = arithmetic.make_problem(rng, op, digits)
                if p["prompt"] in drawn:
                    continue
                drawn.add(p["prompt"])
                if p["prompt"] in seen:
                    excluded += 1
                    reserve.append(dict(p, held_out=False))
                else:
                    kept.append(dict(p, held_out=True))
            kept += reserve[:per_level - len(kept)]
            for line, p in enumerate(kept):
                p.update(id=f"{op}-{digits}-{line}", line=line)
            problems += kept
            levels.append({"op": op, "digits": digits, "n": len(kept), "held_out": sum(p["held_out"] for p in kept),
                           "excluded_seen_in_training": excluded})
    return problems, levels


# ---------------------------------------------------------------------------------------------
# Running the CLI
# ---------------------------------------------------------------------------------------------
def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# The CLI runs libtorch on every core; when another process holds a core (a build, a training run),
# OpenMP's default spin-waiting makes each tiny forward pass wait out its time slices: measured here,
# 93 s instead of 2 s for the same 8-sample generation. Passive waiting gives identical outputs.
CLI_ENV = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))


def sparsegate(binary, *args, stdin=None):
    result = subprocess.run([binary, *map(str, args)], input=stdin, capture_output=True, text=True, env=CLI_ENV)
    if result.returncode != 0:
        sys.exit(f"sparsegate {args[0]} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def token_counts(binary, model, texts):
    stdin = "".join(json.dumps(t) + "\n" for t in texts)
    out = sparsegate(binary, "tokenize", "--tokenizer", model, "--jsonl", stdin=stdin)
    return [len(json.loads(line)) for line in out.splitlines()]


def max_new_tokens(binary, model, level_problems):
    """Room for the longest reference completion of the level (+ EOS), with a margin."""
    longest = max(token_counts(binary, model, [ANSWER_PREFIX + p["solution"] for p in level_problems]))
    return int(longest * LIMIT_SLACK) + LIMIT_EXTRA


def generate(binary, model, work, name, rows, samples, temperature, limit):
    """Completions per row; one file per level, so each row's sampling seed is SAMPLE_SEED + its line."""
    src, dst = os.path.join(work, name + ".jsonl"), os.path.join(work, name + ".out.jsonl")
    write_jsonl(src, [{"id": r["id"], "prompt": r["prompt"]} for r in rows])
    sparsegate(binary, "generate", "--model", model, "-i", src, "-o", dst, "--samples", samples,
               "--temperature", temperature, "--seed", SAMPLE_SEED, "--max-new-tokens", limit)
    out = read_jsonl(dst)
    assert [o["id"] for o in out] == [r["id"] for r in rows]
    return [o["completions"] for o in out]


def score(binary, model, work, rows):
    """token_count and {set name: {metric: value}} per row."""
    src, dst = os.path.join(work, "score.jsonl"), os.path.join(work, "score.out.jsonl")
    write_jsonl(src, [{"id": r["id"], "prompt": r["prompt"]} for r in rows])
    sparsegate(binary, "score", "--model", model, "-i", src, "-o", dst,
               "--layers", ",".join(map(str, LAYERS)), "--poolings", ",".join(POOLINGS))
    out = read_jsonl(dst)
    assert [o["id"] for o in out] == [r["id"] for r in rows]
    return [(o["token_count"], {set_name(f["layer"], f["pooling"]): f["metrics"] for f in o["features"]}) for o in out]


def set_name(layer, pooling):
    return f"L{layer}/{pooling}"


def measure_problems(binary, model, work, problems, limits):
    """Greedy and sampled outcomes and features, written into each problem's record."""
    timings = {"greedy_seconds": 0.0, "sampled_seconds": 0.0}
    for op in OPS:
        for digits in DIGITS:
            rows = [p for p in problems if p["op"] == op and p["digits"] == digits]
            if not rows:
                continue
            limit = limits[f"{op}-{digits}"]
            t0 = time.time()
            greedy = generate(binary, model, work, f"greedy-{op}-{digits}", rows, 1, 0, limit)
            t1 = time.time()
            sampled = generate(binary, model, work, f"sampled-{op}-{digits}", rows, SAMPLES, TEMPERATURE, limit)
            timings["greedy_seconds"] += t1 - t0
            timings["sampled_seconds"] += time.time() - t1
            for p, g, s in zip(rows, greedy, sampled):
                p["greedy_completion"] = g[0]
                p["greedy_answer"] = final_answer(g[0])
                p["greedy_correct"] = p["greedy_answer"] == p["answer"]
                p["sample_answers"] = [final_answer(c) for c in s]
                p["samples_correct"] = sum(a == p["answer"] for a in p["sample_answers"])
                p["pass_rate"] = p["samples_correct"] / SAMPLES
            print(f"  {op} {digits} digits: greedy {sum(p['greedy_correct'] for p in rows)}/{len(rows)}, "
                  f"{time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    t0 = time.time()
    for p, (count, features) in zip(problems, score(binary, model, work, problems)):
        p["token_count"], p["features"] = count, features
    timings["score_seconds"] = time.time() - t0
    return timings


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------
def _correlation(fn, x, y):
    """fn's coefficient, NaN where a side is constant (no correlation; scipy warns and gives NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return float(fn(np.asarray(x, float), np.asarray(y, float))[0])


def ranks(x):
    """1-based ranks, ties given their average rank."""
    return stats.rankdata(x)


def spearman(x, y):
    return _correlation(stats.spearmanr, x, y)


def p_value(r, n, controls=0):
    """Two-sided p of a correlation by its t statistic on n - 2 - controls degrees of freedom."""
    df = n - 2 - controls
    if not np.isfinite(r) or df < 1:
        return float("nan")
    t = abs(r) * math.sqrt(df / max(1e-300, 1 - r * r))
    return float(2 * stats.t.sf(t, df))


def residual(y, z):
    """y minus its least-squares line on z."""
    design = np.column_stack([np.ones(len(z)), z])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return y - design @ coef


def partial_spearman(x, y, z):
    """Spearman of x and y with z's ranks regressed out of both ranks."""
    rz = ranks(z)
    return _correlation(stats.pearsonr, residual(ranks(x), rz), residual(ranks(y), rz))


def stratified_spearman(x, y, strata):
    """Size-weighted mean of the Spearman correlations within strata of >= MIN_STRATUM problems."""
    x, y, strata = np.asarray(x, float), np.asarray(y, float), np.asarray(strata)
    total, weight, used = 0.0, 0, []
    for s in np.unique(strata):
        mask = strata == s
        if mask.sum() < MIN_STRATUM:
            continue
        r = spearman(x[mask], y[mask])
        if np.isfinite(r):  # a stratum where either side is constant says nothing
            total += r * mask.sum()
            weight += int(mask.sum())
            used.append(int(s))
    return {"rho": total / weight if weight else None, "strata": used, "n": weight}


def mean_std(values):
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": len(v)}


# ---------------------------------------------------------------------------------------------
# The effect
# ---------------------------------------------------------------------------------------------
def metric_values(problems, name, metric):
    return np.array([p["features"][name][metric] for p in problems])


def familiarity_difference(problems, name, metric, cells, sd):
    """Unfamiliar minus familiar within each cell (a key per problem), pooled over cells.

    Each cell's difference of means is weighted by the harmonic mean of its two counts, so large
    one-sided cells do not dominate; d divides by sd, the metric's standard deviation over all problems.
    """
    rows, total, weight, n_f, n_u = [], 0.0, 0.0, 0, 0
    for key in sorted({cells(p) for p in problems}):
        fam = [p["features"][name][metric] for p in problems if cells(p) == key and p["familiar"]]
        unf = [p["features"][name][metric] for p in problems if cells(p) == key and not p["familiar"]]
        label = key if isinstance(key, str) else ", ".join(map(str, key))
        row = {"cell": label, "familiar_n": len(fam), "unfamiliar_n": len(unf),
               "familiar_mean": float(np.mean(fam)) if fam else None,
               "unfamiliar_mean": float(np.mean(unf)) if unf else None}
        row["difference"] = row["unfamiliar_mean"] - row["familiar_mean"] if fam and unf else None
        row["too_small"] = min(len(fam), len(unf)) < MIN_CELL
        if not row["too_small"]:
            w = 2 / (1 / len(fam) + 1 / len(unf))
            total, weight, n_f, n_u = total + w * row["difference"], weight + w, n_f + len(fam), n_u + len(unf)
        rows.append(row)
    diff = total / weight if weight else None
    return {"difference": diff, "d": diff / sd if diff is not None and sd > 0 else None,
            "familiar_n": n_f, "unfamiliar_n": n_u, "cells_used": sum(not r["too_small"] for r in rows), "cells": rows}


def outcome_group(p):
    if p["samples_correct"] == SAMPLES:
        return "solved in all samples"
    if p["samples_correct"] == 0:
        return "solved in none"
    return "solved in some"


def structure_cell(p):
    return p["op"], p["carries"]


def analyse(problems, set_names):
    """Every correlation and comparison of the card, for every (layer, pooling) set and metric."""
    digits = np.array([p["digits"] for p in problems])
    passes = np.array([p["pass_rate"] for p in problems])
    tokens = np.array([p["token_count"] for p in problems])
    levels = sorted({(OPS.index(p["op"]), p["digits"]) for p in problems})
    n = len(problems)
    effect = {}
    for name in set_names:
        effect[name] = {}
        for metric in METRICS:
            x = metric_values(problems, name, metric)
            sd = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
            by_level = []
            for op_index, d in levels:
                v = [p["features"][name][metric] for p in problems if p["op"] == OPS[op_index] and p["digits"] == d]
                by_level.append(dict(op=OPS[op_index], digits=d, **mean_std(v)))
            r_d, r_p, r_part = spearman(x, digits), spearman(x, passes), partial_spearman(x, passes, tokens)
            by_outcome = {g: familiarity_difference([p for p in problems if outcome_group(p) == g], name, metric,
                                                    lambda p: "all", sd)
                          for g in ("solved in all samples", "solved in none")}
            effect[name][metric] = {
                "by_level": by_level,
                "level_means_vs_digits": spearman([b["mean"] for b in by_level], [b["digits"] for b in by_level]),
                "spearman_digits": {"rho": r_d, "p": p_value(r_d, n)},
                "spearman_pass_rate": {"rho": r_p, "p": p_value(r_p, n)},
                "spearman_token_count": spearman(x, tokens),
                "partial_pass_rate_given_tokens": {"rho": r_part, "p": p_value(r_part, n, controls=1)},
                "stratified_pass_rate_by_tokens": stratified_spearman(x, passes, tokens),
                "familiarity_by_outcome": by_outcome,
                "familiarity_by_structure": familiarity_difference(problems, name, metric, structure_cell, sd),
            }
    return effect


def reported(rows):
    """The problems accuracy is reported on: the held-out ones where there are any, else all (seen)."""
    return [p for p in rows if p["held_out"]] or rows


def level_summary(problems, op, digits):
    """Accuracy of one level, on its reported problems (and, for reference, on all of them)."""
    rows = [p for p in problems if p["op"] == op and p["digits"] == digits]
    held = [p for p in rows if p["held_out"]]
    use = reported(rows)
    return {"op": op, "digits": digits, "n": len(use), "seen_in_training": not held,
            "greedy_accuracy": float(np.mean([p["greedy_correct"] for p in use])),
            "mean_pass_rate": float(np.mean([p["pass_rate"] for p in use])),
            "pass_at_8": float(np.mean([p["samples_correct"] > 0 for p in use])),
            "all_problems": {"n": len(rows), "greedy_accuracy": float(np.mean([p["greedy_correct"] for p in rows])),
                             "mean_pass_rate": float(np.mean([p["pass_rate"] for p in rows]))}}


def accuracy_by(problems, key):
    out = {}
    for value in sorted({key(p) for p in problems}, key=str):
        rows = [p for p in problems if key(p) == value]
        out[str(value)] = {"n": len(rows), "greedy_accuracy": float(np.mean([p["greedy_correct"] for p in rows])),
                           "mean_pass_rate": float(np.mean([p["pass_rate"] for p in rows])),
                           "pass_at_8": float(np.mean([p["samples_correct"] > 0 for p in rows]))}
    return out


def headline(effect, main):
    """The strongest correlations over every set, and the main set's familiarity direction."""
    def strongest(field):
        best = max(((name, m) for name in effect for m in METRICS if effect[name][m][field]["rho"] is not None
                    and np.isfinite(effect[name][m][field]["rho"])),
                   key=lambda k: abs(effect[k[0]][k[1]][field]["rho"]), default=None)
        return None if best is None else {"set": best[0], "metric": best[1], **effect[best[0]][best[1]][field]}

    def strongest_stratified():
        cands = [(name, m) for name in effect for m in METRICS
                 if effect[name][m]["stratified_pass_rate_by_tokens"]["rho"] is not None]
        if not cands:
            return None
        name, m = max(cands, key=lambda k: abs(effect[k[0]][k[1]]["stratified_pass_rate_by_tokens"]["rho"]))
        return {"set": name, "metric": m, **effect[name][m]["stratified_pass_rate_by_tokens"]}

    def direction(field_of):
        votes = {"sparser": [], "denser": []}
        for m, sign in SPARSER.items():
            diff = field_of(effect[main][m])["difference"]
            if diff:
                votes["sparser" if sign * diff > 0 else "denser"].append(m)
        total = len(votes["sparser"]) + len(votes["denser"])
        if not total:
            return {"verdict": "not measurable", **votes}
        share = len(votes["denser"]) / total
        verdict = "denser" if share >= 2 / 3 else "sparser" if share <= 1 / 3 else "mixed"
        return {"verdict": verdict, **votes}

    return {"strongest_digits": strongest("spearman_digits"), "strongest_pass_rate": strongest("spearman_pass_rate"),
            "strongest_partial": strongest("partial_pass_rate_given_tokens"),
            "strongest_stratified": strongest_stratified(),
            "main_strongest_pass_rate": max(({"metric": m, **effect[main][m]["spearman_pass_rate"]} for m in METRICS
                                             if np.isfinite(effect[main][m]["spearman_pass_rate"]["rho"])),
                                            key=lambda r: abs(r["rho"]), default=None),
            "familiarity_direction_structure": direction(lambda e: e["familiarity_by_structure"]),
            "familiarity_direction_unsolved": direction(lambda e: e["familiarity_by_outcome"]["solved in none"])}


def finite(obj):
    """NaN and inf become null (JSON has neither); floats rounded so that files diff cleanly."""
    if isinstance(obj, float):
        return round(obj, 6) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, np.generic):
        return finite(obj.item())
    return obj


# ---------------------------------------------------------------------------------------------
# The model card
# ---------------------------------------------------------------------------------------------
def pct(x):
    return "–" if x is None else f"{100 * x:.0f}%"


def num(x, digits=3):
    return "–" if x is None else f"{x:.{digits}f}"


def signed(x, digits=3):
    return "–" if x is None else f"{x:+.{digits}f}"


def pval(p):
    if p is None:
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def strength(rho):
    a = abs(rho)
    return "weak" if a < WEAK else "modest" if a < MODEST else "strong"


def loss_curve_svg(curve):
    """A small line chart of the logged training loss, log-scaled."""
    fig, ax = charts.figure(480, 260)
    ax.plot([s for s, _ in curve], [max(loss, 1e-6) for _, loss in curve], color="#1f5fa8", linewidth=1.5)
    ax.set_yscale("log")
    ax.set_xlim(0, max(s for s, _ in curve))
    ax.grid(True, which="both", color="#eee")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (per token, log scale)")
    fig.tight_layout()
    return charts.to_svg(fig)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def level_grid(card, cell):
    """Rows op, columns digits: cell(level summary) per level; levels with no held-out problem starred."""
    rows = []
    for op in OPS:
        row = [op]
        for d in DIGITS:
            s = next(s for s in card["levels"] if s["op"] == op and s["digits"] == d)
            row.append(cell(s) + ("\\*" if s["seen_in_training"] else ""))
        rows.append(row)
    return table(["op \\ digits"] + [str(d) for d in DIGITS], rows)


def reproduce_command(card):
    """The recorded measurement command, with the CLI where the current build puts it."""
    return re.sub(r"--sparsegate \S+", "--sparsegate build/apps/cli/sparsegate", card["command"])


def render_card(card, log):
    """README.md of the model directory, from card_data.json and training_log.json only."""
    c, m, s, eff = card["config"], card["model"], card["settings"], card["effect"]
    main = card["main_set"]
    example = card["training_example"]
    curve = log["loss_curve"]
    step = max(1, round(len(curve) / 10))
    picked = curve[::step] + ([curve[-1]] if (len(curve) - 1) % step else [])
    fam, unf = card["accuracy_by_familiarity"]["True"], card["accuracy_by_familiarity"]["False"]
    by_digits = card["accuracy_by_digits"]
    n = len(card["problems"])
    held = sum(p["held_out"] for p in card["problems"])
    seen_levels = [f"{l['op']} {l['digits']}" for l in card["levels"] if l["seen_in_training"]]
    mixed_levels = [l for l in card["level_sets"] if 0 < l["held_out"] < l["n"]]
    bonferroni = 0.05 / (len(METRICS) * 2)
    solved = card["headline"]["unfamiliar_solved_greedily"]

    lines = [f"# {os.path.basename(os.path.normpath(card['model_dir']))}: sparsegate's embedded default model", ""]
    lines += [
        "A small Qwen2 decoder trained from scratch to do integer arithmetic step by step. It is the model "
        "sparsegate ships so that its demos and tests have a model whose difficulty is *known*: every prompt's "
        "difficulty level is controlled, and its success is measured here. Every number on this card is written by "
        "`scripts/embedded_model/measure.py` from its own measurements (`card_data.json` holds them all, with one "
        "record per evaluated problem).", "",
        "## The model", "",
        table(["", ""], [
            ["architecture", f"{c['architectures'][0]} ({c['model_type']})"],
            ["layers", c["num_hidden_layers"]], ["hidden size", c["hidden_size"]],
            ["MLP size", f"{c['intermediate_size']} ({c['hidden_act']}, gated)"],
            ["attention heads (key/value heads)", f"{c['num_attention_heads']} ({c['num_key_value_heads']})"],
            ["vocabulary", f"{c['vocab_size']} tokens (byte-level BPE; every digit is one token)"],
            ["context", f"{c['max_position_embeddings']} positions, RoPE θ = {c['rope_theta']:g}"],
            ["embeddings", "tied with the LM head" if c.get("tie_word_embeddings") else "untied"],
            ["parameters", f"{m['parameters']:,}"],
            ["model.safetensors",
             f"{m['file_bytes']:,} bytes ({m['file_bytes'] / 2 ** 20:.1f} MiB, {c['torch_dtype']})"],
        ]), "",
        "## Training", "",
        f"The corpus is `scripts/embedded_model/arithmetic.py`: additions, subtractions, multiplications (by a one- "
        f"or two-digit multiplier) and two-step expressions `(a + b) * c`, in equal shares, with operands of 1 to "
        f"{log['train_max_digits']} digits (the *familiar* range). The model learns a digit-by-digit trace, least "
        f"significant digit first, ending in the answer. The first training example:", "",
        "```", example, "```", "",
        table(["", ""], [
            ["training problems", f"{log['train_problems']:,} (seed {arithmetic.training_seed(log['seed'])})"],
            ["supervised tokens", f"{log['supervised_tokens']:,} (completion and EOS only)"],
            ["steps x batch", f"{log['steps']:,} x {log['batch']}"],
            ["optimizer", log["optimizer"]],
            ["learning rate", f"peak {log['peak_lr']:g}, {log['warmup']} warm-up steps, {log['schedule']}"],
            ["seed, threads", f"{log['seed']}, {log['threads']} (torch {log['torch']}, deterministic algorithms)"],
            ["wall time",
             f"{log['train_seconds'] / 60:.1f} min training + {log['tokenize_seconds']:.0f} s tokenizing, CPU"],
        ]), "",
        "![training loss](loss_curve.svg)", "",
        table(["step", "mean loss over the last logged window"], [[a, f"{b:.4f}"] for a, b in picked]), "",
        "## Evaluation set", "",
        f"{n} problems: {s['per_level']} per level, for each operation and each largest-operand size of 1 to "
        f"{max(DIGITS)} digits, drawn by `arithmetic.make_problem` from the evaluation's own seeds (`eval-{s['seed']}-"
        f"<op>-<digits>`). Prompts that occur in the training set were excluded wherever the level has others: "
        f"{held} of the {n} problems are held out. "
        + (f"No held-out problem could be found for {', '.join(seen_levels)} (every prompt drawn for those "
           f"levels is in the training set); those levels are evaluated on seen prompts and starred (\\*) in "
           f"the accuracy tables. " if seen_levels else "")
        + (f"{len(mixed_levels)} levels have held-out problems but fewer than {s['per_level']}; their tables use "
           f"the held-out ones only. " if mixed_levels else "")
        + "Candidates excluded because they were seen in training, per level:", "",
        level_grid(card, lambda l: str(next(x for x in card["level_sets"] if x["op"] == l["op"] and
                                            x["digits"] == l["digits"])["excluded_seen_in_training"])), "",
        "Completions are decoded by sparsegate's own C++ generation code (`sparsegate generate`), with room for "
        f"the level's longest reference trace plus {LIMIT_SLACK - 1:.0%} and {LIMIT_EXTRA} tokens. A completion is "
        "correct when the number in its last `So ... = N.` sentence is the answer.", "",
        "## Accuracy", "",
        "Greedy (temperature 0), share correct, per level:", "",
        level_grid(card, lambda l: pct(l["greedy_accuracy"])), "",
        "By operand size, all operations (reported problems as above): " + ", ".join(
            f"{d} digit{'s' * (d > 1)} {pct(by_digits[str(d)]['greedy_accuracy'])}" for d in DIGITS)
        + f". Familiar (1-{log['train_max_digits']} digits): {pct(fam['greedy_accuracy'])} of {fam['n']}; "
          f"unfamiliar: {pct(unf['greedy_accuracy'])} of {unf['n']}."
        + (" The unfamiliar problems solved greedily are " + ", ".join(f"`{q}`" for q in solved) + "."
           if 0 < len(solved) <= 8 else ""), "",
        f"Sampled ({SAMPLES} samples at temperature {TEMPERATURE:g}, seed {SAMPLE_SEED}), per level: mean pass "
        f"rate (correct samples / {SAMPLES}) / pass@{SAMPLES} (share of problems with at least one correct "
        "sample):", "",
        level_grid(card, lambda l: f"{num(l['mean_pass_rate'], 2)} / {pct(l['pass_at_8'])}"), "",
    ]

    # The effect: the main set in full.
    lines += [
        "## Hidden-state sparsity against difficulty", "",
        f"Features: `sparsegate score --layers {','.join(map(str, LAYERS))} --poolings {','.join(POOLINGS)}` on the "
        f"bare prompts (no chat template). The main set, as in the reference study, is the last hidden state "
        f"(`{main}`: after the final norm) at the last prompt token. Per problem, over all {n} problems: Spearman ρ "
        f"of each metric with the operand size (digits) and with the measured pass rate; the partial ρ with pass "
        f"rate controlling for prompt length (both ranks regressed on the token count's ranks); and the "
        f"size-weighted mean ρ within prompts of equal token count (strata of at least {MIN_STRATUM}). p: two-sided, "
        f"Student t on n - 2 degrees of freedom (n - 3 for the partial), uncorrected (Bonferroni over one set's {len(METRICS) * 2} tests: "
        f"p < {bonferroni:.4f}). The last column is ρ between digits and the level means (group level, "
        f"{len(card['levels'])} levels).", "",
        f"Main set `{main}`:", "",
        table(["metric", "ρ digits", "p", "ρ pass rate", "p", "partial ρ (tokens)", "p", "ρ within token strata",
               "ρ level means"],
              [[mt, signed(e["spearman_digits"]["rho"], 2), pval(e["spearman_digits"]["p"]),
                signed(e["spearman_pass_rate"]["rho"], 2), pval(e["spearman_pass_rate"]["p"]),
                signed(e["partial_pass_rate_given_tokens"]["rho"], 2), pval(e["partial_pass_rate_given_tokens"]["p"]),
                signed(e["stratified_pass_rate_by_tokens"]["rho"], 2), signed(e["level_means_vs_digits"], 2)]
               for mt, e in ((mt, eff[main][mt]) for mt in METRICS)]), "",
        "The other sets, strongest metric per column (all numbers in `card_data.json`):", "",
    ]
    rows = []
    for name in card["set_names"]:
        row = [f"`{name}`"]
        for field in ("spearman_digits", "spearman_pass_rate", "partial_pass_rate_given_tokens"):
            mt = max(METRICS, key=lambda k: abs(eff[name][k][field]["rho"] or 0))
            rho = eff[name][mt][field]["rho"]
            row.append("–" if rho is None else f"{mt} {signed(rho, 2)}")
        rows.append(row)
    lines += [table(["set", "ρ digits", "ρ pass rate", "partial ρ (tokens)"], rows), ""]

    # Per-level means of the main set.
    lines += [f"Per-level mean (standard deviation) of each metric, main set `{main}`:", ""]
    levels = card["levels"]
    for half in (METRICS[:7], METRICS[7:]):
        rows = []
        for lv in levels:
            row = [f"{lv['op']} {lv['digits']}"]
            for mt in half:
                b = next(b for b in eff[main][mt]["by_level"] if b["op"] == lv["op"] and b["digits"] == lv["digits"])
                row.append(f"{b['mean']:.3g} ({b['std']:.2g})")
            rows.append(row)
        lines += [table(["level"] + list(half), rows), ""]

    # Familiarity.
    def fam_rows(pick):
        out = []
        for mt in METRICS:
            f = pick(eff[main][mt])
            small = f["cells_used"] == 0
            out.append([mt, "too small" if small else signed(f["difference"], 4), "" if small else signed(f["d"], 2),
                        f"{f['familiar_n']} / {f['unfamiliar_n']}"])
        return out

    lines += [
        "## Familiarity is not difficulty", "",
        f"Familiar problems (1-{log['train_max_digits']} digits) against unfamiliar ones (more digits) of equal "
        f"difficulty, main set. Difference = unfamiliar minus familiar mean; d = that difference over the metric's "
        f"standard deviation; a cell with fewer than {MIN_CELL} problems on either side is too small and left out.", "",
        "(a) Matched on the model's outcome:", "",
    ]
    for group in ("solved in all samples", "solved in none"):
        f0 = eff[main][METRICS[0]]["familiarity_by_outcome"][group]["cells"][0] \
            if eff[main][METRICS[0]]["familiarity_by_outcome"][group]["cells"] else {"familiar_n": 0, "unfamiliar_n": 0}
        lines.append(f"- problems {group} ({SAMPLES} of {SAMPLES} samples correct)" if group.endswith("samples")
                     else f"- problems {group} of the {SAMPLES} samples")
        lines[-1] += f": {f0['familiar_n']} familiar, {f0['unfamiliar_n']} unfamiliar"
        lines[-1] += (" — too small to compare." if min(f0["familiar_n"], f0["unfamiliar_n"]) < MIN_CELL else ".")
    lines.append("")
    for group in ("solved in none", "solved in all samples"):
        if eff[main][METRICS[0]]["familiarity_by_outcome"][group]["cells_used"]:
            lines += [f"Problems {group}:", "",
                      table(["metric", "difference", "d", "familiar / unfamiliar n"],
                            fam_rows(lambda e: e["familiarity_by_outcome"][group])), ""]
    struct = eff[main][METRICS[0]]["familiarity_by_structure"]
    lines += [
        f"(b) Matched on structure: same operation and same carry count. {struct['cells_used']} of "
        f"{len(struct['cells'])} (op, carries) cells have at least {MIN_CELL} problems on both sides"
        + ("; the differences are pooled over them, each weighted by the harmonic mean of its two counts."
           if struct["cells_used"] else ": too few to compare."), "",
        table(["metric", "difference", "d", "familiar / unfamiliar n"],
              fam_rows(lambda e: e["familiarity_by_structure"])),
        "",
        "The cells with problems on both sides, for the two metrics of the note on direction in docs/api.md (unfamiliar minus familiar):",
        "",
    ]
    rows = []
    cells_ht = {r["cell"]: r for r in eff[main]["heavy_tail_fraction"]["familiarity_by_structure"]["cells"]}
    for r in eff[main]["top10_energy"]["familiarity_by_structure"]["cells"]:
        if r["familiar_n"] and r["unfamiliar_n"]:
            small = " (too small)" if r["too_small"] else ""
            rows.append([r["cell"], r["familiar_n"], r["unfamiliar_n"], signed(r["difference"], 4) + small,
                         signed(cells_ht[r["cell"]]["difference"], 4) + small])
    lines += [table(["op, carries", "familiar n", "unfamiliar n", "top10_energy", "heavy_tail_fraction"], rows)
              if rows else "No cell has problems on both sides.", ""]

    lines += signal_section(card["model_dir"])
    lines += ["## What this shows", "", what_this_shows(card, log), ""]
    lines += [
        "## Limitations", "",
        f"- A toy: {m['parameters'] / 1e6:.1f}M parameters, one task family, a trace format of its own. What holds "
        "here need not hold for a 7B model on competition mathematics, in size or in sign; it shows the pipeline "
        "and the analysis, not the signal of a real model.",
        f"- {s['per_level']} problems per level: per-level means carry sampling error (the standard deviations "
        f"are in the tables), and pass rates are estimated from {SAMPLES} samples each.",
        "- Difficulty here is mostly *length* (more digits, longer prompts and traces) and *familiarity* "
        "(operands outside the trained range); both are confounded with each other and with prompt length, "
        "which is why the card controls for each. The controls are coarse (rank regression, exact-length strata, "
        "cells by operation and carries).",
        "- Short levels cannot be held out (every possible prompt was trained on); they are marked.",
        "- p-values use the normal approximation and are not corrected for the many tests; treat single "
        "results near the threshold as noise.",
        "- Features come from the bare prompt; the answer marker `\\nA: ` that the model sees next is not part "
        "of the scored text.", "",
        "## Reproduce", "",
        "Train (CPU, deterministic for the same torch build and thread count):", "",
        "```sh", f"/usr/bin/python3 scripts/embedded_model/train.py --out {card['model_dir']} "
                 f"--sparsegate build/apps/cli/sparsegate --steps {log['steps']} --batch {log['batch']} "
                 f"--lr {log['peak_lr']:g} --warmup {log['warmup']} --seed {log['seed']} --threads {log['threads']}",
        "```", "",
        "Measure and write this card (`card_data.json`, `README.md`, `loss_curve.svg`):", "",
        "```sh", reproduce_command(card), "```", "",
        "Check that a subset re-measures to the recorded numbers (greedy outcome, correct-sample counts, "
        f"features within {TOLERANCE:g}); `tests/embedded_model/test_card.py` runs it:", "",
        "```sh", reproduce_command(card) + " --check", "```", "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# `sparsegate evaluate` on the model (scripts/embedded_model/evaluate_signal.sh writes these)
# ---------------------------------------------------------------------------------------------
SIGNAL_RUNS = ("levels", "controlled", "controlled-carries")


def load_signal(model_dir):
    out = {}
    for name in SIGNAL_RUNS:
        path = os.path.join(model_dir, "signal", name, "evaluation.json")
        if os.path.exists(path):
            with open(path) as f:
                out[name] = json.load(f)
    return out


def ci(interval, signed_=False):
    if not interval or interval.get("value") is None:
        return "n/a"
    f = (lambda v: f"{v:+.3f}") if signed_ else (lambda v: f"{v:.3f}")
    lo, hi = interval.get("low"), interval.get("high")
    return f"{f(interval['value'])} [{f(lo) if lo is not None else 'n/a'}, {f(hi) if hi is not None else 'n/a'}]"


def family(e, name):
    return next(f for f in e["families"] if f["family"] == name)


def result(fam, model):
    return next(r for r in fam["results"] if r["model"] == model)


def signal_table(e, fam_name, models):
    fam = family(e, fam_name)
    rows = [[m, ci(result(fam, m)["auroc"]), ci(result(fam, m).get("auroc_vs_length"), True),
             ci(result(fam, m).get("auroc_vs_controls"), True), ci(result(fam, m)["spearman"])] for m in models]
    return table(["model", "AUROC (never passes)", "vs length", "vs controls", "Spearman with pass rate"], rows)


def above_chance(interval, chance):
    return interval.get("low") is not None and interval["low"] > chance


def signal_section(model_dir):
    runs = load_signal(model_dir)
    if not runs:
        return []
    lines = ["## What `sparsegate evaluate` measures", "",
             "The numbers above are correlations. `sparsegate evaluate` asks the question a user has: do the "
             "features predict this model's failures *beyond* what the prompt's surface already says? Every model is "
             "cross-fitted (5 folds), intervals are 95% cluster-bootstrap percentiles (1000 resamples), and "
             "within-stratum AUROC compares only prompts of the same stratum. Datasets: "
             "`signal/levels.jsonl` and `signal/controlled.jsonl` (`make_signal_data.py`); reproduce with "
             "`scripts/embedded_model/evaluate_signal.sh`.", ""]
    all_models = ["length", "controls", "metrics", "probe", "controls+metrics", "controls+probe", "predictor",
                  "predictor+controls"]
    if "levels" in runs:
        e = runs["levels"]
        within = family(e, "op x digits")
        lines += [f"### Every level ({e['rows']['evaluated']} problems, {e['rows']['zero_pass']} never solved in 8 "
                  "samples; controls: operation and digits)", "",
                  f"**{e['headline']['sentence']}**", "", signal_table(e, "overall", all_models), "",
                  f"Within an (operation, digits) level ({within['eligible_strata']} levels with both outcomes, "
                  f"{within['eligible_rows']} problems; the others are all solved or all failed):", "",
                  signal_table(e, "op x digits", ["length", "metrics", "probe", "predictor"]), ""]
    if "controlled" in runs:
        e = runs["controlled"]
        fam = family(e, "level x token_count")
        m, pr, ln = (result(fam, k)["auroc"] for k in ("metrics", "probe", "length"))
        verdict = lambda i: "above chance" if above_chance(i, 0.5) else "not distinguishable from chance"
        lines += [f"### The controlled experiment ({e['rows']['evaluated']} problems of mul-2 and mul-3, none seen in "
                  f"training, {e['rows']['zero_pass']} never solved)", "",
                  "Inside one level and one exact token count, every prompt has the same operation, operand sizes, "
                  "surface form and familiarity; only the numbers differ, and with them the carries and whatever else "
                  "makes a product hard for the model. "
                  f"{fam['eligible_strata']} such strata ({fam['eligible_rows']} problems) have both outcomes. "
                  f"There the sparsity metrics rank failures at AUROC {ci(m)} ({verdict(m)}), the hidden-state "
                  f"probe at {ci(pr)} ({verdict(pr)}); 0.5 is chance.", "",
                  signal_table(e, "level x token_count", ["length", "metrics", "probe", "predictor"]), ""]
    if "controlled-carries" in runs:
        e = runs["controlled-carries"]
        lines += ["With the carry count as a second control (a known driver of difficulty at fixed size):", "",
                  f"**{e['headline']['sentence']}**", "",
                  signal_table(e, "overall", ["length", "controls", "controls+metrics", "controls+probe",
                                              "predictor+controls"]), ""]
    return lines


def what_this_shows(card, log):
    """The plain-language summary, chosen by the numbers."""
    eff, hl, main = card["effect"], card["headline"], card["main_set"]
    fam, unf = card["accuracy_by_familiarity"]["True"], card["accuracy_by_familiarity"]["False"]
    learned = ("learned" if fam["greedy_accuracy"] >= 0.8 else "partly learned" if fam["greedy_accuracy"] >= 0.3
               else "did not learn")
    extrapolates = ("does not carry over" if unf["greedy_accuracy"] < 0.1 else "partly carries over"
                    if unf["greedy_accuracy"] < 0.5 * fam["greedy_accuracy"] else "carries over")
    out = [f"The model {learned} its trained range"
           + (f", and what it learned {extrapolates} to longer operands" if learned != "did not learn" else "")
           + ": greedy "
           f"accuracy is {pct(fam['greedy_accuracy'])} on familiar problems and {pct(unf['greedy_accuracy'])} on "
           f"unfamiliar ones (pass@{SAMPLES}: {pct(fam['pass_at_8'])} and {pct(unf['pass_at_8'])})."]
    if hl["pass_rate_extremes"] is not None:
        out.append(f"The measured pass rate is nearly a label of familiarity: {pct(hl['pass_rate_extremes'])} of the "
                   f"problems have a pass rate of 0 or 1, and its ρ with familiarity is "
                   f"{hl['pass_rate_vs_familiar']:+.2f}, so per-problem correlations with pass rate here largely "
                   f"measure familiarity." if abs(hl["pass_rate_vs_familiar"] or 0) >= 0.7 else
                   f"{pct(hl['pass_rate_extremes'])} of the problems have a pass rate of 0 or 1.")
    sd, sp = hl["strongest_digits"], hl["strongest_pass_rate"]
    if sd and sp:
        out.append(f"Per problem, the strongest correlation with operand size is {sd['metric']} (`{sd['set']}`, "
                   f"ρ = {sd['rho']:+.2f}) and with the measured pass rate {sp['metric']} (`{sp['set']}`, "
                   f"ρ = {sp['rho']:+.2f}, {strength(sp['rho'])}" +
                   ("; the per-problem signal is weak)." if abs(sp["rho"]) < WEAK else ")."))
        tok = eff[sp["set"]][sp["metric"]]
        part, strat = tok["partial_pass_rate_given_tokens"]["rho"], tok["stratified_pass_rate_by_tokens"]["rho"]
        if part is not None:
            share = abs(part) / abs(sp["rho"])
            carried = "most" if share < 0.5 else "part" if share < 0.8 else "little"
            out.append(f"Prompt length carries {carried} of that: its ρ with token count is "
                       f"{tok['spearman_token_count']:+.2f}, and controlling for token count leaves a partial ρ of "
                       f"{part:+.2f}" + (f" (within equal-length strata, {strat:+.2f})" if strat is not None else "")
                       + ".")
        bp, bs = hl["strongest_partial"], hl["strongest_stratified"]
        if bp and (bp["set"], bp["metric"]) != (sp["set"], sp["metric"]):
            out.append(f"The strongest length-controlled correlation of any metric is {bp['metric']} "
                       f"(`{bp['set']}`, partial ρ = {bp['rho']:+.2f}, {strength(bp['rho'])}).")
        if bs and (bs["set"], bs["metric"]) != (sp["set"], sp["metric"]):
            out.append(f"Within equal-length strata the strongest mean ρ is {bs['metric']} (`{bs['set']}`, "
                       f"{bs['rho']:+.2f} over {bs['n']} problems in {len(bs['strata'])} strata).")
        ms = hl["main_strongest_pass_rate"]
        if ms:
            part = eff[main][ms["metric"]]["partial_pass_rate_given_tokens"]["rho"]
            out.append(f"The main set (`{main}`) is weaker: its strongest is {ms['metric']} (ρ = {ms['rho']:+.2f}, "
                       f"partial {part:+.2f}, {strength(ms['rho'])})." if abs(ms["rho"]) < abs(sp["rho"]) - 0.05 else
                       f"In the main set (`{main}`) the strongest is {ms['metric']} (ρ = {ms['rho']:+.2f}, "
                       f"{strength(ms['rho'])}).")
            if hl["prompts_end_alike"]:
                out.append(f"Every prompt ends in the same character (`{hl['prompts_end_alike']}`), so last-token "
                           "states see the problem only through attention; mean pooling sees every operand token.")
    means = [abs(eff[main][mt]["level_means_vs_digits"] or 0) for mt in METRICS]
    best = METRICS[int(np.argmax(means))]
    per_problem = max(abs(eff[main][mt]["spearman_digits"]["rho"] or 0) for mt in METRICS)
    clearer = ("clearer, as in the reference study" if max(means) > per_problem + 0.05
               else "no clearer than per problem")
    out.append(f"Between groups the main set's relation with digits is {clearer}: across the "
               f"{len(card['levels'])} levels, the level mean of {best} has ρ = "
               f"{eff[main][best]['level_means_vs_digits']:+.2f} with digits (per problem, the strongest |ρ| with "
               f"digits is {per_problem:.2f}).")
    for key, label in (("familiarity_direction_structure", "Matched on structure (same operation and carries)"),
                       ("familiarity_direction_unsolved", "Among the problems the model never solves")):
        d = hl[key]
        if d["verdict"] == "not measurable":
            out.append(f"{label}, familiar and unfamiliar problems are too few to compare.")
            continue
        out.append(f"{label}, {len(d['denser'])} of {len(d['denser']) + len(d['sparser'])} direction-defined "
                   f"metrics say unfamiliar prompts have denser last-token states than familiar ones, "
                   f"{len(d['sparser'])} say sparser ({d['verdict']}).")
    e10 = eff[main]["top10_energy"]["familiarity_by_structure"]
    eht = eff[main]["heavy_tail_fraction"]["familiarity_by_structure"]
    if e10["difference"] is not None and eht["difference"] is not None:
        denser = (e10["difference"] < 0) + (eht["difference"] > 0)
        agree = {2: "agrees with that note (denser)", 0: "shows the opposite (sparser)"}.get(denser, "is split")
        overall = hl["familiarity_direction_structure"]["verdict"]
        out.append(f"The README notes that a 0.8M-parameter addition model had *denser* last-token states on "
                   f"unfamiliar problems (top-10% energy lower, heavy-tail fraction higher). On those two metrics, "
                   f"matched on structure, this model {agree}: top-10% energy differs by {e10['difference']:+.4f} "
                   f"(d = {e10['d']:+.2f}) and the heavy-tail fraction by {eht['difference']:+.4f} "
                   f"(d = {eht['d']:+.2f})"
                   + (f"; over all direction-defined metrics the picture is {overall}." if overall != "not measurable"
                      else "."))
    out.append("Whatever the direction, the product does not assume that sparser means harder: its predictor "
               "learns the sign and weight of each feature from observed outcomes, with prompt length as an input.")
    return " ".join(out)


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
def measure(args):
    model = args.model
    with open(os.path.join(model, "training_log.json")) as f:
        log = json.load(f)
    with open(os.path.join(model, "config.json")) as f:
        config = json.load(f)
    t_start = time.time()
    problems, level_sets = evaluation_set(args.per_level, args.seed, training_prompts(log))
    t_set = time.time() - t_start
    with tempfile.TemporaryDirectory(prefix="measure-") as tmp:
        work = args.work or tmp
        os.makedirs(work, exist_ok=True)
        write_jsonl(os.path.join(work, "problems.jsonl"), problems)
        limits = {}
        for lv in level_sets:
            rows = [p for p in problems if p["op"] == lv["op"] and p["digits"] == lv["digits"]]
            limits[f"{lv['op']}-{lv['digits']}"] = lv["max_new_tokens"] = max_new_tokens(args.sparsegate, model, rows)
        print(f"{len(problems)} problems; measuring", file=sys.stderr, flush=True)
        timings = measure_problems(args.sparsegate, model, work, problems, limits)
    set_names = [set_name(config["num_hidden_layers"] if l < 0 else l, pl) for l in LAYERS for pl in POOLINGS]
    main = set_name(config["num_hidden_layers"], "last_token")
    accuracy_problems = [p for op in OPS for d in DIGITS
                         for p in reported([q for q in problems if q["op"] == op and q["digits"] == d])]
    first = arithmetic.training_set(1, log["seed"])[0]
    card = {
        "model_dir": os.path.normpath(args.model),
        "command": "/usr/bin/python3 scripts/embedded_model/measure.py --model "
                   f"{os.path.normpath(args.model)} --sparsegate build/apps/cli/sparsegate"
                   + ("" if args.per_level == DEFAULT_PER_LEVEL else f" --per-level {args.per_level}")
                   + ("" if args.seed == 0 else f" --seed {args.seed}"),
        "config": config,
        "model": {"parameters": log["parameters"],
                  "file_bytes": os.path.getsize(os.path.join(model, "model.safetensors"))},
        "training_example": first["prompt"] + ANSWER_PREFIX + first["solution"],
        "settings": {"per_level": args.per_level, "seed": args.seed, "ops": OPS, "digits": DIGITS, "samples": SAMPLES,
                     "temperature": TEMPERATURE, "sample_seed": SAMPLE_SEED, "layers": LAYERS, "poolings": POOLINGS,
                     "min_cell": MIN_CELL, "min_stratum": MIN_STRATUM,
                     "cli_env": {"OMP_WAIT_POLICY": CLI_ENV["OMP_WAIT_POLICY"]}},
        "main_set": main, "set_names": set_names,
        "level_sets": level_sets,
        "levels": [level_summary(problems, op, d) for op in OPS for d in DIGITS],
        "accuracy_by_digits": accuracy_by(accuracy_problems, lambda p: p["digits"]),
        "accuracy_by_familiarity": accuracy_by(accuracy_problems, lambda p: p["familiar"]),
        "effect": None,  # with_statistics fills it, here and in --card-only
        "problems": problems,
    }
    card = finite(with_statistics(card))
    card["timings"] = finite(dict(timings, evaluation_set_seconds=t_set, total_seconds=time.time() - t_start))
    write_outputs(model, card, log)
    print(f"done in {time.time() - t_start:.0f}s: {os.path.join(model, 'README.md')}", file=sys.stderr)


def write_outputs(model, card, log):
    with open(os.path.join(model, "card_data.json"), "w") as f:
        json.dump(card, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(model, "README.md"), "w") as f:
        f.write(render_card(card, log))
    with open(os.path.join(model, "loss_curve.svg"), "w") as f:
        f.write(loss_curve_svg(log["loss_curve"]))


def set_metric_names(binary=None, card=None):
    """Takes the metric names from the CLI, or from the first feature set of a recorded card."""
    global METRICS
    if binary:
        METRICS = tuple(sparsegate(binary, "metrics").split())
    else:
        METRICS = tuple(next(iter(card["effect"].values())).keys())


def with_statistics(card):
    """The card with its statistics ("effect", "headline") computed from its per-problem records."""
    problems, main = card["problems"], card["main_set"]
    effect = analyse(problems, card["set_names"])
    passes = np.array([p["pass_rate"] for p in problems])
    return dict(card, effect=effect, headline=dict(
        headline(effect, main),
        pass_rate_extremes=float(np.mean((passes == 0) | (passes == 1))),
        pass_rate_vs_familiar=spearman(passes, [p["familiar"] for p in problems]),
        prompts_end_alike=problems[0]["prompt"][-1] if len({p["prompt"][-1] for p in problems}) == 1 else None,
        unfamiliar_solved_greedily=[p["prompt"] for p in problems if not p["familiar"] and p["greedy_correct"]]))


def card_only(args):
    with open(os.path.join(args.model, "card_data.json")) as f:
        card = json.load(f)
    set_metric_names(card=card)
    timings = card.pop("timings", None)
    card = finite(with_statistics(card))
    if timings is not None:
        card["timings"] = timings
    with open(os.path.join(args.model, "training_log.json")) as f:
        log = json.load(f)
    write_outputs(args.model, card, log)


def close(a, b, tol=TOLERANCE):
    return a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(b))


def check(args):
    """Re-measures the first --check-per-level problems of each level; exit 1 on any difference."""
    with open(os.path.join(args.model, "card_data.json")) as f:
        card = json.load(f)
    limits = {f"{l['op']}-{l['digits']}": l["max_new_tokens"] for l in card["level_sets"]}
    # The first lines of each level keep their line numbers, hence their sampling seeds.
    subset = [dict(p) for p in card["problems"] if p["line"] < args.check_per_level]
    recorded = {p["id"]: p for p in card["problems"]}
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="measure-check-") as work:
        measure_problems(args.sparsegate, args.model, work, subset, limits)
    problems = []
    for p in subset:
        r = recorded[p["id"]]
        if p["greedy_answer"] != r["greedy_answer"] or p["greedy_correct"] != r["greedy_correct"]:
            problems.append(f"{p['id']}: greedy answer {p['greedy_answer']!r}, recorded {r['greedy_answer']!r}")
        if p["samples_correct"] != r["samples_correct"]:
            problems.append(f"{p['id']}: {p['samples_correct']} correct samples, recorded {r['samples_correct']}")
        if p["token_count"] != r["token_count"]:
            problems.append(f"{p['id']}: {p['token_count']} prompt tokens, recorded {r['token_count']}")
        for name, metrics in r["features"].items():
            for mt, v in metrics.items():
                if not close(p["features"].get(name, {}).get(mt), v):
                    problems.append(f"{p['id']}: {name} {mt} = {p['features'].get(name, {}).get(mt)}, recorded {v}")
    if problems:
        print(f"card_data.json does not reproduce ({len(problems)} differences):", file=sys.stderr)
        print("\n".join("  " + x for x in problems[:40]), file=sys.stderr)
        sys.exit(1)
    print(f"reproduced: {len(subset)} problems (greedy outcome, {SAMPLES}-sample counts, "
          f"{len(card['set_names']) * len(METRICS)} features each) in {time.time() - t0:.0f}s", file=sys.stderr)



def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="model directory (card files are written into it)")
    ap.add_argument("--sparsegate", help="the sparsegate CLI")
    ap.add_argument("--per-level", type=int, default=DEFAULT_PER_LEVEL, help="problems per (op, digits) level")
    ap.add_argument("--seed", type=int, default=0, help="evaluation seed (the problems' own, not training's)")
    ap.add_argument("--work", help="keep the intermediate JSONL files here (default: a temporary directory)")
    ap.add_argument("--check", action="store_true", help="re-measure a subset and compare with card_data.json")
    ap.add_argument("--check-per-level", type=int, default=1, help="--check: the first N problems of each level")
    ap.add_argument("--card-only", action="store_true", help="recompute the statistics and re-render README.md and the SVG from card_data.json")
    args = ap.parse_args()
    if args.card_only:
        return card_only(args)
    if not args.sparsegate:
        ap.error("--sparsegate is required")
    set_metric_names(binary=args.sparsegate)
    return check(args) if args.check else measure(args)


if __name__ == "__main__":
    main()
