#!/usr/bin/python3
"""Writes the dataset the demo (scripts/demo.sh, README) filters, and the outcomes that calibrate it.

    make_demo_data.py --model models/arith-3m --sparsegate build/apps/cli/sparsegate

models/arith-3m/demo/problems.jsonl: arithmetic problems of mixed difficulty (every operation, 1 to 6
digits, in a shuffled order), each with its reference solution, as a user's RL dataset would hold
them. models/arith-3m/demo/outcomes.jsonl: for every second problem, the embedded model's measured
successes out of 8 sampled attempts (temperature 1, the project's own generation code): what a user
would have from an earlier training epoch or an evaluation run. Deterministic: the same model gives
the same files.
"""
import argparse
import json
import os
import random
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import arithmetic  # noqa: E402
import measure  # noqa: E402

SEED = 2024
OPS = ("add", "sub", "mul", "expr")
DIGITS = range(1, 7)
SAMPLES = 8


def problems(per_level):
    rng = random.Random(SEED)
    rows = []
    for op in OPS:
        for digits in DIGITS:
            for i in range(per_level):
                row = arithmetic.make_problem(rng, op, digits)
                row["id"] = f"demo-{op}-{digits}-{i}"
                rows.append(row)
    rng.shuffle(rows)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--sparsegate", required=True)
    ap.add_argument("--per-level", type=int, default=30, help="problems per operation and digit count")
    args = ap.parse_args()
    out = os.path.join(args.model, "demo")
    os.makedirs(out, exist_ok=True)
    rows = problems(args.per_level)
    with open(os.path.join(out, "problems.jsonl"), "w") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True) + "\n")

    measured = rows[::2]
    limit = measure.max_new_tokens(args.sparsegate, args.model, measured)
    with tempfile.TemporaryDirectory() as work:
        completions = measure.generate(args.sparsegate, args.model, work, "outcomes", measured, SAMPLES, 1.0, limit)
    with open(os.path.join(out, "outcomes.jsonl"), "w") as f:
        for row, samples in zip(measured, completions):
            successes = sum(measure.final_answer(c) == row["answer"] for c in samples)
            f.write(json.dumps({"id": row["id"], "successes": successes, "trials": SAMPLES}) + "\n")
    print(f"{len(rows)} problems, {len(measured)} with outcomes, written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
