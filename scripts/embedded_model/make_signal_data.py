#!/usr/bin/python3
"""Writes the datasets `sparsegate evaluate` measures the embedded model's signal on (models/arith-3m/signal/).

    make_signal_data.py --model models/arith-3m --sparsegate build/apps/cli/sparsegate

- levels.jsonl: --per-level problems for every operation (add, sub, mul, expr) and operand size
  (1 to 6 digits), drawn with a seed of their own and held out from the training set where the level
  allows it (measure.evaluation_set). The broad question: what do the features predict overall, and
  what do they add beyond length, digits and operation?
- controlled.jsonl: the controlled experiment. --controlled problems each of mul-2 and mul-3, every
  one outside the training set, so within a level every prompt has the same operation, operand size
  and familiarity (all in the trained range, none seen). Their difficulty still differs: the carries
  (and, per prompt, whatever else the model finds hard). Stratified by exact token count, surface
  form is fixed too; if any part of the activation signal tracks difficulty once familiarity is
  held fixed, it shows here as within-stratum ranking above chance.

Every row carries its controls (op, digits, level, carries, familiar, seen_in_training), and its
outcome: successes out of 8 samples at temperature 1 (`sparsegate generate`, the project's own
generation code, seed 0 + line), checked as the model card checks answers. Deterministic.
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

SEED = 7  # the card measures seed 0; these problems are other ones
CONTROLLED_LEVELS = (("mul", 2), ("mul", 3))


def controlled_set(per_level, seen):
    rows = []
    for op, digits in CONTROLLED_LEVELS:
        rng = random.Random(f"controlled-{SEED}-{op}-{digits}")
        drawn = set()
        while sum(1 for r in rows if r["level"] == f"{op}-{digits}") < per_level:
            p = arithmetic.make_problem(rng, op, digits)
            if p["prompt"] in drawn or p["prompt"] in seen:
                continue
            drawn.add(p["prompt"])
            rows.append(dict(p, held_out=True, level=f"{op}-{digits}", id=f"{op}-{digits}-{len(drawn)}"))
    return rows


def measure_outcomes(binary, model, work, name, rows):
    """successes / trials per row, one generate call per level (each level its own token limit)."""
    for level in sorted({r["level"] for r in rows}):
        part = [r for r in rows if r["level"] == level]
        limit = measure.max_new_tokens(binary, model, part)
        completions = measure.generate(binary, model, work, f"{name}-{level}", part, measure.SAMPLES,
                                       measure.TEMPERATURE, limit)
        for r, samples in zip(part, completions):
            r["successes"] = sum(measure.final_answer(c) == r["answer"] for c in samples)
            r["trials"] = measure.SAMPLES
        print(f"  {name} {level}: {len(part)} problems, mean pass rate "
              f"{sum(r['successes'] for r in part) / (8 * len(part)):.3f}", file=sys.stderr, flush=True)


def finish(rows, tag):
    out = []
    for i, r in enumerate(rows):
        out.append({"id": f"{tag}-{r['op']}-{r['digits']}-{i}", "prompt": r["prompt"], "solution": r["solution"],
                    "answer": r["answer"], "op": r["op"], "digits": r["digits"], "level": f"{r['op']}-{r['digits']}",
                    "carries": r["carries"], "familiar": r["familiar"], "seen_in_training": not r["held_out"],
                    "successes": r["successes"], "trials": r["trials"]})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--sparsegate", required=True)
    ap.add_argument("--per-level", type=int, default=32, help="levels.jsonl: problems per operation and digit count")
    ap.add_argument("--controlled", type=int, default=400, help="controlled.jsonl: problems per level")
    ap.add_argument("--only", choices=("levels", "controlled"), help="write one of the two files")
    args = ap.parse_args()
    out_dir = os.path.join(args.model, "signal")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(args.model, "training_log.json")) as f:
        seen = measure.training_prompts(json.load(f))
    with tempfile.TemporaryDirectory() as work:
        if args.only in (None, "levels"):
            rows, _ = measure.evaluation_set(args.per_level, SEED, seen)
            for r in rows:
                r["level"] = f"{r['op']}-{r['digits']}"
            measure_outcomes(args.sparsegate, args.model, work, "levels", rows)
            measure.write_jsonl(os.path.join(out_dir, "levels.jsonl"), finish(rows, "lv"))
        if args.only in (None, "controlled"):
            rows = controlled_set(args.controlled, seen)
            measure_outcomes(args.sparsegate, args.model, work, "controlled", rows)
            measure.write_jsonl(os.path.join(out_dir, "controlled.jsonl"), finish(rows, "ct"))
    print(f"written to {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
