#!/usr/bin/python3
"""Runs the RL testbed's comparison: every arm x regime x seed, the same rollout-token budget per regime.

Writes, under --out (default results/rl):
- runs/<regime>-<arm>-<seed>.json: one run (grpo.py's result: curve, tokens, time split, decisions, checks);
- summary.json: per regime (multi_epoch, single_pass) and arm: seeds, and the medians over seeds of
  rollout_tokens, final_accuracy, tokens_to_grpo_final (rollout tokens at the first evaluation whose
  held-out accuracy reached grpo's final accuracy of the same regime and seed; null when never
  reached; a seed that never reaches it counts as infinitely many tokens in the median) and
  effective_ratio, plus the sizes chosen and the wall time;
- report.html: a self-contained page, hand-written SVG curves of held-out accuracy against rollout tokens.

Runs are separate processes (--jobs at a time, one torch thread each: on 2 cores two single-thread
runs beat one two-thread run, the model's matmuls are too small to split well), each deterministic
from its seed. The starting model's evaluation is the same for every run, so it is measured once.

    run_comparison.py                      # the full comparison (sizes in FULL; about an hour on 2 cores)
    run_comparison.py --smoke              # a few steps, a tiny pool, every arm: the bookkeeping check
    run_comparison.py --arms grpo,dapo --seeds 0,1,2 --budget-tokens 30000
    run_comparison.py --resume             # keep the runs already in OUT/runs, run the missing ones
    run_comparison.py --report             # the summary and page of the runs so far, running nothing
    run_comparison.py --target localhost:50051 --arms sparsegate-at-target   # the Gate on a running service

The sparsegate arms (sparsegate_arms.VARIANTS) are part of every comparison when the CLI and the
Python plugin are built; each run starts its own `sparsegate serve --allow-reload`.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, replace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import grpo  # noqa: E402
import sparsegate_arms  # noqa: E402
import arms as arms_mod  # noqa: E402
import policy as policy_mod  # noqa: E402
import pools  # noqa: E402
import report  # noqa: E402
from report import t_interval  # noqa: E402

REGIMES = ("multi_epoch", "single_pass")
BASE_ARMS = ("grpo", "dapo", "greso", "ghpo", "mopps", "speed")
# The full comparison: 10 arms x 2 regimes x 3 seeds = 60 runs, two at a time, one torch thread each.
# Sized on the starting policy (models/arith-3m-slips): one grpo run at lr 1e-4 raised held-out mean@8
# on the learnable levels from 0.565 to 0.764 by its first evaluation at 53k rollout tokens and stayed
# there to 152k, so the budget stops at 60k, with an evaluation every 10k (the resolution of "tokens
# to reach grpo's final accuracy"). An evaluation samples 320 problems 8 times: most of a run's time.
FULL = grpo.Config(batch=8, group=8, lr=1e-4, budget_tokens=60000, evals=6, pool_size=48, test_size=320, threads=1)
# The smoke run: every arm, both regimes, one seed, a cheap subset of the levels (one of each kind,
# short traces); the multi-epoch pool is smaller than GRESO's first sampling round, so that GRESO
# has history (and skips) from step 2.
SMOKE = grpo.Config(batch=3, group=4, lr=1e-4, budget_tokens=1500, max_steps=2, dapo_max_gen_batches=3, evals=1, pool_size=4,
                    test_size=4, threads=1, keep_ledger=True, levels="add-1,sub-2,mul-2,add-4")


def sparsegate_available(flag):
    """The CLI (to serve) and the Python plugin (build/python) are both built."""
    if not policy_mod.find_sparsegate(flag):
        return False
    return os.path.exists(os.path.join(policy_mod.ROOT, "build", "python", "sparsegate", "__init__.py"))


def run_name(regime, arm, seed):
    return f"{regime}-{arm}-{seed}"


def worker(spec_path):
    """One run, in its own process: reads the spec, writes the run's JSON."""
    with open(spec_path) as f:
        spec = json.load(f)
    cfg = grpo.Config(**spec["config"])
    tok = policy_mod.Tokenizer(policy_mod.MODEL_DIR, spec["sparsegate"])
    result = grpo.run_one(cfg, spec["arm"], tok, test_set=spec["test_set"], initial_eval=spec["initial_eval"],
                          target=spec["target"])
    with open(spec["out"] + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(spec["out"] + ".tmp", spec["out"])


def median_or_null(values):
    """Median with None as +infinity; null when the median is infinite."""
    xs = sorted(float("inf") if v is None else v for v in values)
    if not xs:
        return None
    m = statistics.median(xs)
    return None if m == float("inf") else m


def median_of_known(values):
    """Median of the values that are not None; None when there are none."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def seconds_split(r):
    """Wall time by part: the Gate's scoring, the service's reloads, rollout, update, evaluation."""
    reload = (r.get("arm_stats") or {}).get("reload_seconds", 0.0)
    sec = r["seconds"]
    return {"scoring": sec.get("scoring", 0.0), "reload": reload, "rollout": sec["rollout"], "update": sec["update"],
            "evaluation": sec["eval"], "wall": r.get("wall_seconds")}


def tokens_to_reach(curve, target):
    for point in curve:
        if point["accuracy"] >= target - 1e-12:
            return point["tokens"]
    return None


def summarize(runs, plan, wall, sizes):
    by = {}
    for r in runs:
        by.setdefault(r["regime"], {}).setdefault(r["arm"], []).append(r)
    summary = {"sizes": sizes, "wall_seconds": round(wall, 1), "regimes": {}}
    for regime, per_arm in by.items():
        grpo_final = {r["seed"]: r["final_accuracy"] for r in per_arm.get("grpo", [])}
        out = {}
        # When grpo ends where it started, every arm "reaches" its final accuracy at 0 tokens: the
        # gain says whether tokens_to_grpo_final measures anything.
        grpo_gain = median_or_null([r["final_accuracy"] - r["curve"][0]["accuracy"] for r in per_arm.get("grpo", [])])
        for arm, rs in per_arm.items():
            rs = sorted(rs, key=lambda r: r["seed"])
            reach = [tokens_to_reach(r["curve"], grpo_final[r["seed"]]) if r["seed"] in grpo_final else None for r in rs]
            for r, t in zip(rs, reach):
                r["tokens_to_grpo_final"] = t
            out[arm] = {
                "seeds": [r["seed"] for r in rs],
                "rollout_tokens": median_or_null([r["rollout_tokens"] for r in rs]),
                "final_accuracy": median_or_null([r["final_accuracy"] for r in rs]),
                "tokens_to_grpo_final": median_or_null(reach) if grpo_final else None,
                "grpo_gain": grpo_gain,
                "accuracy_gain": median_or_null([r["final_accuracy"] - r["curve"][0]["accuracy"] for r in rs]),
                "effective_ratio": median_or_null([r["effective_ratio"] for r in rs]),
                # the predictor's forward AUROC for pass@G = 0 over the whole run (None: no predictor)
                "zero_pass_auroc": median_of_known([(r.get("prediction_whole_run") or {}).get("zero_pass_auroc")
                                                    for r in rs]),
                "discarded_tokens": median_or_null([r["discarded_tokens"] for r in rs]),
                "prompt_tokens_scored": median_or_null([r["prompt_tokens_scored"] for r in rs]),
                "tokens_to_grpo_final_range": [min(reach, key=lambda v: float("inf") if v is None else v),
                                               max(reach, key=lambda v: float("inf") if v is None else v)]
                if grpo_final else None,  # with 3 seeds the range is the interval of the median
                "final_accuracy_interval": t_interval([r["final_accuracy"] for r in rs]),
                "accuracy_gain_interval": t_interval([r["final_accuracy"] - r["curve"][0]["accuracy"] for r in rs]),
                "final_greedy_accuracy": median_or_null([r["curve"][-1].get("greedy_accuracy") for r in rs]),
                "greedy_gain": median_or_null([r["curve"][-1].get("greedy_accuracy", 0) - r["curve"][0].get("greedy_accuracy", 0)
                                               for r in rs]),
                "steps": median_or_null([r["steps"] for r in rs]),
                "seconds": {k: median_or_null([seconds_split(r)[k] for r in rs]) for k in seconds_split(rs[0])},
                "decisions_total": {k: sum(r["decisions_total"].get(k, 0) for r in rs)
                                    for k in ("keep", "guide", "drop", "defer")},
                "errors": [r["error"] for r in rs if r["error"]],
                "per_seed": [{"seed": r["seed"], "rollout_tokens": r["rollout_tokens"], "final_accuracy": r["final_accuracy"],
                              "tokens_to_grpo_final": t, "effective_ratio": r["effective_ratio"]} for r, t in zip(rs, reach)],
            }
        summary["regimes"][regime] = out
    summary["missing_runs"] = sorted(set(run_name(*p) for p in plan) -
                                     set(run_name(r["regime"], r["arm"], r["seed"]) for r in runs))
    return summary


def run_all(args, cfg, out, queue, running, done, plan, t0, sparsegate, test_set, initial):
    """Runs the plan, --jobs processes at a time; finished runs go into `done`."""
    while queue or running:
        while queue and len(running) < args.jobs:
            regime, arm, seed = queue.pop(0)
            name = run_name(regime, arm, seed)
            finished = os.path.join(out, "runs", name + ".json")
            config = asdict(replace(cfg, regime=regime, seed=seed))
            if args.resume and os.path.exists(finished):  # a run of an earlier, interrupted or partial comparison
                with open(finished) as f:
                    kept = json.load(f)
                if kept.get("config") == config:
                    done.append(kept)
                    print(f"{name}: kept from {finished}", file=sys.stderr, flush=True)
                    continue
                print(f"{name}: {finished} was run with other sizes, running it again", file=sys.stderr, flush=True)
            spec = {"config": config, "arm": arm, "sparsegate": sparsegate,
                    "test_set": test_set, "initial_eval": initial, "target": args.target,
                    "out": os.path.join(out, "runs", name + ".json")}
            spec_path = os.path.join(out, "runs", name + ".spec.json")
            with open(spec_path, "w") as f:
                json.dump(spec, f)
            log = open(os.path.join(out, "runs", name + ".log"), "w")
            proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", spec_path],
                                    stdout=log, stderr=subprocess.STDOUT)
            running.append((proc, name, spec, time.time(), log))
        time.sleep(0.2)
        for item in list(running):
            proc, name, spec, started, log = item
            if proc.poll() is None:
                continue
            running.remove(item)
            log.close()
            os.remove(os.path.join(out, "runs", name + ".spec.json"))
            if proc.returncode != 0 or not os.path.exists(spec["out"]):
                print(f"{name}: FAILED ({proc.returncode}), see runs/{name}.log", file=sys.stderr, flush=True)
                continue
            with open(spec["out"]) as f:
                r = json.load(f)
            done.append(r)
            print(f"{name}: {r['steps']} steps, {r['rollout_tokens']} tokens, accuracy {r['final_accuracy']:.3f}, "
                  f"effective {r['effective_ratio']:.2f}, {time.time() - started:.0f}s "
                  f"[{len(done)}/{len(plan)}, {time.time() - t0:.0f}s]", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one seed: checks the bookkeeping")
    ap.add_argument("--out", default=None, help="output folder (default results/rl, or results/rl/smoke)")
    ap.add_argument("--arms", default=None, help="comma-separated (default: grpo,dapo,greso,ghpo, plus sparsegate "
                                                 "arms when --target is given)")
    ap.add_argument("--regimes", default=",".join(REGIMES))
    ap.add_argument("--seeds", default=None, help="default 0,1,2 (smoke: 0)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--target", help="a running sparsegate service for the sparsegate arms")
    ap.add_argument("--sparsegate", help="the sparsegate CLI (tokenizer); default: the built one, else Python BPE")
    ap.add_argument("--budget-tokens", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--resume", action="store_true",
                    help="keep the runs already in OUT/runs (same sizes assumed) and run only the missing ones")
    ap.add_argument("--report", action="store_true",
                    help="run nothing: write summary.json and report.html from the runs already in OUT/runs")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker)

    t0 = time.time()
    base = SMOKE if args.smoke else FULL
    cfg = replace(base, **{k: v for k, v in (("budget_tokens", args.budget_tokens), ("lr", args.lr),
                                             ("batch", args.batch)) if v is not None})
    out = args.out or os.path.join(policy_mod.ROOT, "results", "rl", "smoke" if args.smoke else "")
    os.makedirs(os.path.join(out, "runs"), exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the service and the runs are stopped
    return compare(args, t0, cfg, out)


def compare(args, t0, cfg, out):
    # The product's arms each start their own service (sparsegate_arms.py); an arm of SPARSEGATE_ARMS
    # instead uses the service at --target.
    product = list(sparsegate_arms.VARIANTS) if sparsegate_available(args.sparsegate) else []
    arms = args.arms.split(",") if args.arms else (list(BASE_ARMS) + product +
                                                    (list(arms_mod.SPARSEGATE_ARMS) if args.target else []))
    seeds = [int(s) for s in (args.seeds or ("0" if args.smoke else "0,1,2")).split(",")]
    regimes = args.regimes.split(",")
    sparsegate = policy_mod.find_sparsegate(args.sparsegate)
    tok = policy_mod.Tokenizer(policy_mod.MODEL_DIR, sparsegate)

    # One held-out set for every run, apart from every pool of the comparison; one starting evaluation.
    all_pools = [grpo.make_pool(replace(cfg, regime=r, seed=s)) for r in regimes for s in seeds]
    test_set = pools.make_test_set(cfg.test_size, 0, all_pools, cfg.levels.split(",") if cfg.levels else None)
    import torch
    torch.set_num_threads(cfg.threads)
    pol = policy_mod.Policy(cfg.model or policy_mod.START_DIR)
    limits = grpo.limits_of(tok, test_set)
    # Kept in OUT for --resume and --report: the same model, test set and G give the same evaluation.
    key = {"model": pol.model_dir, "test_ids": [p["id"] for p in test_set], "prompts": [p["prompt"] for p in test_set],
           "group": cfg.group}
    cached = os.path.join(out, "starting_eval.json")
    stored = json.load(open(cached)) if os.path.exists(cached) else {}
    if stored.get("key") == key:
        initial, eval_seconds = stored["eval"], stored["seconds"]
    else:
        t_eval = time.time()
        initial = grpo.evaluate(pol, tok, test_set, cfg, lambda p: limits[p["id"]])
        eval_seconds = time.time() - t_eval
        with open(cached, "w") as f:
            json.dump({"key": key, "eval": initial, "seconds": eval_seconds}, f)
    print(f"starting model: held-out accuracy (learnable mean@G) {initial['accuracy']:.3f}, greedy "
          f"{initial['greedy_accuracy']:.3f} ({eval_seconds:.0f}s)", file=sys.stderr, flush=True)

    # grpo first (its final accuracy is every arm's target), then seed by seed, so that a comparison
    # stopped part-way (it takes longer than one session; --resume goes on) has whole seeds.
    plan = [(r, "grpo", s) for s in seeds for r in regimes if "grpo" in arms] + \
           [(r, a, s) for s in seeds for r in regimes for a in arms if a != "grpo"]
    running, done = [], []
    queue = [] if args.report else list(plan)
    if args.report:  # no run: the summary and the page of the runs already in OUT/runs
        for regime, arm, seed in plan:
            path = os.path.join(out, "runs", run_name(regime, arm, seed) + ".json")
            if os.path.exists(path):
                with open(path) as f:
                    r = json.load(f)
                if r.get("config") == asdict(replace(cfg, regime=regime, seed=seed)):
                    done.append(r)
    try:
        run_all(args, cfg, out, queue, running, done, plan, t0, sparsegate, test_set, initial)
    finally:
        for proc, *_ in running:  # interrupted: stop the runs still going
            proc.terminate()

    sizes = dict(asdict(cfg), arms=arms, seeds=seeds, regimes=regimes, jobs=args.jobs, tokenizer=tok.backend,
                 test_levels=sorted({pools.level_of(p) for p in test_set}),
                 pool_sizes={r: len(grpo.make_pool(replace(cfg, regime=r))) for r in regimes},
                 levels={f"{op}-{d}": {"kind": k, "share": s} for (op, d), (k, s) in pools.LEVELS.items()},
                 starting_eval=initial, starting_eval_seconds=round(eval_seconds, 1), smoke=args.smoke)
    summary = summarize(done, plan, time.time() - t0, sizes)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    for r in done:  # tokens_to_grpo_final was filled in by summarize
        with open(os.path.join(out, "runs", run_name(r["regime"], r["arm"], r["seed"]) + ".json"), "w") as f:
            json.dump(r, f, indent=1)
    with open(os.path.join(out, "report.html"), "w") as f:
        f.write(report.render(summary, done))
    print(f"wrote {out}/summary.json and report.html in {time.time() - t0:.0f}s", file=sys.stderr)
    return 0 if not summary["missing_runs"] else 1


if __name__ == "__main__":
    sys.exit(main())
