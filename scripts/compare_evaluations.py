#!/usr/bin/env python3
"""Two `sparsegate evaluate` results of the same rows side by side: each family's AUROC per model,
and how far the second run moved it. Used to ask whether a change upstream of the features (a
compute dtype, a model revision) changes what they predict.

  compare_evaluations.py A/evaluation.json B/evaluation.json [--names float32 bfloat16] [--markdown]

Both runs must share the input and the seed, so that the folds are the same; the difference is then
paired in everything but the features. The bootstrap interval of A is printed beside it, to show
whether a move is small against the run's own uncertainty.
"""
import argparse
import json
import sys


def aurocs(path):
    with open(path) as f:
        evaluation = json.load(f)
    table = {}
    for family in evaluation["families"]:
        for result in family["results"]:
            table[(family["family"], result["model"])] = result["auroc"]
    return evaluation, table


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--names", nargs=2, default=["A", "B"])
    parser.add_argument("--markdown", action="store_true", help="a Markdown table instead of plain columns")
    args = parser.parse_args()
    eval_a, a = aurocs(args.a)
    eval_b, b = aurocs(args.b)
    for key in ("input_rows", "rows"):
        if eval_a.get(key) != eval_b.get(key):
            sys.exit(f"the two evaluations did not read the same rows ({key}: {eval_a.get(key)} against {eval_b.get(key)})")
    if eval_a["settings"].get("seed") != eval_b["settings"].get("seed"):
        sys.exit("the two evaluations used different seeds, so different folds")
    name_a, name_b = args.names
    header = ["family", "model", f"AUROC {name_a} [95% CI]", f"AUROC {name_b}", f"{name_b} - {name_a}"]
    rows = []
    largest = 0.0
    for key in a:
        if key not in b:
            continue
        ra, rb = a[key], b[key]
        move = rb["value"] - ra["value"]
        largest = max(largest, abs(move))
        interval = f" [{ra['low']:.3f}, {ra['high']:.3f}]" if "low" in ra else ""
        rows.append([key[0], key[1], f"{ra['value']:.3f}{interval}", f"{rb['value']:.3f}", f"{move:+.4f}"])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
        for row in [header] + rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    print(f"largest move: {largest:.4f}")


if __name__ == "__main__":
    main()
