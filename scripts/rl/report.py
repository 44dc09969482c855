"""The RL comparison's report page: one self-contained HTML file, SVG curves written by hand.

Per regime: a table of the summary's medians, then held-out accuracy (the sampled pass rate, mean@G,
on the learnable levels; and greedy accuracy on every level) against cumulative rollout tokens: each
arm's mean over seeds at each evaluation (line) with its 95% t-interval over seeds (band), and the
decisions per kind.
"""
import html
import statistics

from scipy import stats

COLORS = {"grpo": "#444444", "dapo": "#1f77b4", "greso": "#2ca02c", "ghpo": "#d62728", "sparsegate": "#9467bd",
          "sparsegate-length": "#8c564b", "sparsegate-frozen": "#e377c2", "mopps": "#ff7f0e", "speed": "#17becf"}
EXTRA = ["#17becf", "#bcbd22", "#ff7f0e", "#7f7f7f"]


def color(arm, arms):
    return COLORS.get(arm) or EXTRA[sorted(arms).index(arm) % len(EXTRA)]


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


def curve_svg(runs, key, title, width=560, height=300):
    """Held-out accuracy (key: "accuracy", learnable mean@G, or "greedy_accuracy") against rollout tokens."""
    pad_l, pad_r, pad_t, pad_b = 50, 120, 24, 36
    def y_of(point):
        return point.get(key, 0.0)
    xmax = max([p["tokens"] for r in runs for p in r["curve"]] + [1])
    ys = [y_of(p) for r in runs for p in r["curve"]]
    ylo, yhi = max(0.0, min(ys) - 0.05), min(1.0, max(ys) + 0.05)
    if yhi - ylo < 0.1:
        ylo, yhi = max(0.0, ylo - 0.05), min(1.0, yhi + 0.05)
    W, H = width - pad_l - pad_r, height - pad_t - pad_b
    def sx(x):
        return pad_l + W * x / xmax
    def sy(y):
        return pad_t + H * (1 - (y - ylo) / max(1e-9, yhi - ylo))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<text x="{pad_l}" y="15" font-size="13">{html.escape(title)}</text>',
             f'<line x1="{pad_l}" y1="{pad_t + H}" x2="{pad_l + W}" y2="{pad_t + H}" stroke="#000"/>',
             f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + H}" stroke="#000"/>']
    for k in range(5):
        y = ylo + (yhi - ylo) * k / 4
        parts.append(f'<text x="{pad_l - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.2f}</text>')
        parts.append(f'<line x1="{pad_l}" y1="{sy(y):.1f}" x2="{pad_l + W}" y2="{sy(y):.1f}" stroke="#eee"/>')
        x = xmax * k / 4
        parts.append(f'<text x="{sx(x):.1f}" y="{pad_t + H + 14}" text-anchor="middle">{x / 1000:.0f}k</text>')
    parts.append(f'<text x="{pad_l + W / 2}" y="{height - 4}" text-anchor="middle">rollout tokens generated (trained + discarded)</text>')
    arms = sorted({r["arm"] for r in runs})
    for i, arm in enumerate(arms):
        c = color(arm, arms)
        mine = [r for r in runs if r["arm"] == arm]
        n = min(len(r["curve"]) for r in mine)  # evaluations sit at about the same token marks in every run
        mean, band = [], []
        for k in range(n):
            x = sum(r["curve"][k]["tokens"] for r in mine) / len(mine)
            ys_k = [y_of(r["curve"][k]) for r in mine]
            ci = t_interval(ys_k) or {"mean": ys_k[0], "low": ys_k[0], "high": ys_k[0]}
            mean.append((x, ci["mean"]))
            band.append((x, ci["low"], ci["high"]))
        if len(mine) > 1:
            outline = [(x, hi) for x, _, hi in band] + [(x, lo) for x, lo, _ in reversed(band)]
            pts = " ".join(f"{sx(x):.1f},{sy(min(1.0, max(0.0, y))):.1f}" for x, y in outline)
            parts.append(f'<polygon points="{pts}" fill="{c}" opacity="0.15" stroke="none"/>')
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in mean)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2.2"/>')
        parts.append(f'<line x1="{pad_l + W + 10}" y1="{pad_t + 10 + 16 * i}" x2="{pad_l + W + 28}" '
                     f'y2="{pad_t + 10 + 16 * i}" stroke="{c}" stroke-width="2.2"/>')
        parts.append(f'<text x="{pad_l + W + 32}" y="{pad_t + 14 + 16 * i}">{html.escape(arm)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def table(header, rows):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render(summary, runs):
    sizes = summary["sizes"]
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>sparsegate RL testbed</title><style>",
           "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
           "table{border-collapse:collapse;margin:1em 0;display:block;max-width:100%;overflow-x:auto}"
           "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;overflow-wrap:anywhere}"
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
        rows = [[arm, ",".join(map(str, s["seeds"])), fmt(s["rollout_tokens"]), fmt(s["discarded_tokens"]),
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
