"""The RL comparison's report page: one self-contained HTML file, its curves inline SVG (matplotlib).

Per regime: a table of the summary's medians, then held-out accuracy (the sampled pass rate, mean@G,
on the learnable levels; and greedy accuracy on every level) against cumulative rollout tokens: each
arm's mean over seeds at each evaluation (line) with its 95% t-interval over seeds (band), and the
decisions per kind.
"""
import html
import os
import statistics
import sys

from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.ticker import FuncFormatter
from scipy import stats

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "embedded_model"))
import charts  # noqa: E402

COLORS = {"grpo": "#444444", "dapo": "#1f77b4", "greso": "#2ca02c", "ghpo": "#d62728", "sparsegate": "#9467bd",
          "sparsegate-length": "#8c564b", "sparsegate-frozen": "#e377c2", "mopps": "#ff7f0e", "speed": "#17becf"}
# The other arms take tab20's colours that the fixed ones leave, in name order, then cycle.
EXTRA = [c for c in map(to_hex, colormaps["tab20"].colors) if c not in COLORS.values()]


def color(arm, arms):
    others = [a for a in sorted(arms) if a not in COLORS]
    return COLORS.get(arm) or EXTRA[others.index(arm) % len(EXTRA)]


def t_interval(values):
    """Mean and the 95% Student-t interval of the mean over seeds; None below two values."""
    xs = [v for v in values if v is not None]
    if len(xs) < 2:
        return None
    m, se = statistics.mean(xs), statistics.stdev(xs) / len(xs) ** 0.5
    h = stats.t.ppf(0.975, len(xs) - 1) * se
    return {"mean": m, "low": m - h, "high": m + h, "n": len(xs)}


def fmt(x, digits=3):
    if x is None:
        return "null"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.{digits}f}"
    return f"{int(x):,}"


def curve_svg(runs, key, title, width=720, height=340):
    """Held-out accuracy (key: "accuracy", learnable mean@G, or "greedy_accuracy") against rollout tokens."""
    fig, ax = charts.figure(width, height)
    arms = sorted({r["arm"] for r in runs})
    for arm in arms:
        mine = [r for r in runs if r["arm"] == arm]
        n = min(len(r["curve"]) for r in mine)  # evaluations sit at about the same token marks in every run
        xs, mean, low, high = [], [], [], []
        for k in range(n):
            xs.append(sum(r["curve"][k]["tokens"] for r in mine) / len(mine))
            ys_k = [r["curve"][k].get(key, 0.0) for r in mine]
            ci = t_interval(ys_k) or {"mean": ys_k[0], "low": ys_k[0], "high": ys_k[0]}
            mean.append(ci["mean"])
            low.append(max(0.0, ci["low"]))
            high.append(min(1.0, ci["high"]))
        if len(mine) > 1:
            ax.fill_between(xs, low, high, color=color(arm, arms), alpha=0.15, linewidth=0)
        ax.plot(xs, mean, color=color(arm, arms), linewidth=2.2, label=arm)
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_xlabel("rollout tokens generated (trained + discarded)")
    ax.set_xlim(left=0)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:.0f}k"))
    ax.grid(True, axis="y", color="#eee")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return charts.to_svg(fig, inline=True)


def table(header, rows):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render(summary, runs):
    sizes = summary["sizes"]
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>sparsegate RL testbed</title><style>",
           "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
           "table{border-collapse:collapse;margin:1em 0;display:block;max-width:100%;overflow-x:auto}"
           "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
           "th{background:#f4f4f4}.fig{display:inline-block;margin-right:1em}</style></head><body>",
           "<h1>RL testbed: rollout tokens to accuracy</h1>",
           f"<p>GRPO on the RL starting policy ({html.escape(sizes.get('model') or 'models/arith-3m-slips')}), G = {sizes['group']}, B = {sizes['batch']} groups per step, "
           f"lr {sizes['lr']}, budget {sizes['budget_tokens']:,} rollout tokens per run, seeds {sizes['seeds']}, "
           f"held-out set of {sizes['test_size']} problems over levels {', '.join(sizes['test_levels'])}; "
           f"pools: {sizes['pool_sizes']}. Wall time {summary['wall_seconds']:.0f} s with {sizes['jobs']} runs at once"
           f"{' (smoke configuration)' if sizes.get('smoke') else ''}. Starting policy's held-out accuracy (mean@G, "
           f"learnable levels) {sizes['starting_eval']['accuracy']:.3f}, greedy "
           f"{sizes['starting_eval'].get('greedy_accuracy', 0):.3f}.</p>",
           "<p><b>tokens to grpo final</b>: rollout tokens at the first evaluation whose held-out accuracy reached grpo's "
           "final accuracy (same regime and seed), median over seeds, null when never reached. <b>accuracy</b>: "
           "held-out sampled pass rate (mean@G at temperature 1) over the learnable levels. <b>effective ratio</b>: "
           "share of generated rollouts whose group had non-zero reward variance. <b>predictor AUROC (forward)</b>: "
           "for the arms with a predictor, how well the pass rate predicted before each unhinted group's rollout "
           "ranks the groups that passed 0 of G, over the run.</p>"]
    for regime, per_arm in summary["regimes"].items():
        out.append(f"<h2>{html.escape(regime)}</h2>")
        rows = [[arm, len(s["seeds"]), fmt(s["rollout_tokens"]), fmt(s["discarded_tokens"]),
                 fmt(s["final_accuracy"]), fmt(s.get("accuracy_gain")), fmt(s.get("final_greedy_accuracy")),
                 fmt(s["tokens_to_grpo_final"]),
                 fmt(s["effective_ratio"]), fmt(s.get("zero_pass_auroc")), fmt(s["prompt_tokens_scored"]), fmt(s["steps"]),
                 " / ".join(fmt(s["seconds"].get(k), 0) for k in ("scoring", "reload", "rollout", "update", "evaluation")),
                 " ".join(f"{k} {v}" for k, v in s["decisions_total"].items() if v), "; ".join(s["errors"])]
                for arm, s in per_arm.items()]
        out.append(table(["arm", "seeds", "rollout tokens", "discarded", "final acc", "gain vs start", "greedy acc",
                          "tokens to grpo final",
                          "effective ratio", "predictor AUROC (forward)", "prompt tokens scored", "steps",
                          "s: scoring / reload / rollout / update / eval",
                          "decisions (all seeds)", "errors"], rows))
        mine = [r for r in runs if r["regime"] == regime]
        out.append(f"<div class='fig'>{curve_svg(mine, 'accuracy', f'{regime}: held-out mean@G, learnable levels')}</div>")
        out.append(f"<div class='fig'>{curve_svg(mine, 'greedy_accuracy', f'{regime}: held-out greedy, all levels')}</div>")
        windows = [[r["arm"], r["seed"]] + [fmt(w["zero_pass_auroc"]) + f" ({w['groups']})" for w in r["prediction_over_training"]]
                   for r in sorted(mine, key=lambda r: (r["arm"], r["seed"])) if r.get("prediction_over_training")]
        if windows:
            out.append(f"<h3>{html.escape(regime)}: the predictor over training</h3><p>Forward AUROC for pass@G = 0 "
                       "between consecutive evaluations (unhinted groups in the window).</p>")
            out.append(table(["arm", "seed"] + [f"window {k + 1}" for k in range(max(len(w) - 2 for w in windows))], windows))
    out.append("</body></html>")
    return "\n".join(out)
