#!/usr/bin/python3
"""Writes the model card of the RL starting policy (models/arith-3m-slips/README.md).

Every number comes from a file: the model's training_log.json, the comparison's starting evaluation
(results/rl/starting_eval.json: the held-out set, greedy and mean@G per level) and, once grpo runs
exist, results/rl/summary.json (what plain GRPO does to it). Run it after run_comparison.py:

    scripts/rl/card.py                      # rewrites models/arith-3m-slips/README.md
"""
import argparse
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def fmt(x):
    return "n/a" if x is None else f"{x:.3f}"


def level_table(ev):
    rows = ["| level | kind | problems | greedy | mean@8 (T = 1) | pass@8 |", "|---|---|---|---|---|---|"]
    kinds = ev.get("level_kinds", {})
    for lv, v in ev["per_level"].items():
        rows.append(f"| {lv} | {kinds.get(lv, '')} | {v['n']} | {fmt(v['greedy'])} | {fmt(v['mean_at_g'])} | "
                    f"{fmt(v['pass_at_g'])} |")
    for k, v in ev["per_kind"].items():
        rows.append(f"| **{k}** | | {v['n']} | {fmt(v['greedy'])} | {fmt(v['mean_at_g'])} | {fmt(v['pass_at_g'])} |")
    return "\n".join(rows)


def grpo_section(summary):
    if not summary:
        return "No comparison has run yet (`scripts/rl/run_comparison.py`)."
    lines = ["| regime | seeds | budget (rollout tokens) | mean@8 learnable: start → final | gain, 95% interval over seeds "
             "| greedy gain (median) |", "|---|---|---|---|---|---|"]
    start = summary["sizes"]["starting_eval"]["accuracy"]
    for regime, arms in summary["regimes"].items():
        g = arms.get("grpo")
        if not g:
            continue
        ci = g.get("accuracy_gain_interval") or {}
        interval = f"{ci['mean']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}]" if ci else "n/a (fewer than 2 seeds)"
        lines.append(f"| {regime} | {','.join(map(str, g['seeds']))} | {summary['sizes']['budget_tokens']:,} | "
                     f"{start:.3f} → {fmt(g['final_accuracy'])} | {interval} | {fmt(g.get('greedy_gain'))} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "arith-3m-slips"))
    ap.add_argument("--results", default=os.path.join(ROOT, "results", "rl"))
    args = ap.parse_args()
    with open(os.path.join(args.model, "training_log.json")) as f:
        log = json.load(f)
    with open(os.path.join(args.results, "starting_eval.json")) as f:
        start = json.load(f)
    summary_path = os.path.join(args.results, "summary.json")
    summary = json.load(open(summary_path)) if os.path.exists(summary_path) else None
    ev = start["eval"]
    if summary:
        ev["level_kinds"] = {lv: v["kind"] for lv, v in summary["sizes"]["levels"].items()}
    text = f"""# arith-3m-slips: the RL testbed's starting policy

The embedded default model (`models/arith-3m`) continued on traces with one learnable error habit: each
carry or borrow is forgotten with probability {log['slip_rate']}. Greedy decoding still follows the right
trace; sampled at temperature 1 the policy forgets carries at about that rate, so a problem's pass rate
falls with the number of carries it uses, and its errors are sampling noise rather than gaps in what it
knows. That is where RL with verifiable rewards is known to help (it turns pass@k into pass@1), and one
habit shared by every problem is what lets reward on some problems carry over to unseen ones. The
embedded default stays the model of `filter`, `evaluate` and the demo; this one is only the RL testbed's.

## Recipe

```sh
scripts/embedded_model/train.py --out models/arith-3m-slips --sparsegate build/apps/cli/sparsegate \\
    --init {log['init']} --slip-rate {log['slip_rate']} --seed {log['seed']} --steps {log['steps']} \\
    --lr {log['peak_lr']} --warmup {log['warmup']}
```

|  |  |
|---|---|
| continued from | `{log['init']}` (same architecture, tokenizer files copied) |
| problems | {log['train_problems']:,} (corpus seed {1000 + log['seed']}, operands of 1-{log['train_max_digits']} digits) |
| carries forgotten | {log['carries_forgotten']:,} of {log['carry_uses']:,} ({log['carries_forgotten'] / log['carry_uses']:.3f}) |
| supervised tokens | {log['supervised_tokens']:,} |
| steps x batch | {log['steps']} x {log['batch']}, {log['schedule']}, peak lr {log['peak_lr']} |
| optimizer | {log['optimizer']} |
| threads, torch | {log['threads']}, {log['torch']} (deterministic algorithms) |
| wall time | {log['train_seconds'] / 60:.1f} min on the 2-core development machine |

A slipped trace stays consistent: every step is true arithmetic on what the earlier steps wrote, and
the final answer is the wrong one that follows (`arithmetic.slipped_solution`; tests/embedded_model
checks both, and that any forgotten carry makes the answer wrong).

## Held-out evaluation (the comparison's starting point)

{ev['problems']} held-out problems (none in any pool of the comparison), each decoded greedily and sampled
{ev['samples_per_problem']} times at temperature 1 (`grpo.evaluate`, {start['seconds']:.0f} s on one thread).
Headline: mean@8 over the learnable levels **{ev['accuracy']:.3f}**; greedy over all levels
{ev['greedy_accuracy']:.3f}.

{level_table(ev)}

## What plain GRPO does to it

{grpo_section(summary)}

Sizes, curves and every arm: `results/rl/summary.json`, `results/rl/report.html`, `scripts/rl/README.md`.
"""
    with open(os.path.join(args.model, "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
