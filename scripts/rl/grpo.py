#!/usr/bin/python3
"""A short GRPO trainer for the embedded model: the RL testbed of issue 9, and the worked example of
how a trainer uses sparsegate.

One training step, as every arm (arms.py) sees it:

    1. candidates = the next prompts of the stream (the pool in a seeded order, epoch after epoch)
    2. choices = arm.select(step, candidates)          # sparsegate: gate.decide(...) -> keep/guide/drop/defer
       dropped / deferred prompts get no rollout; the stream refills the batch
    3. roll out G samples of each choice.text           # the hinted prompt when guided
       (temperature 1, KV cache, all prompts x G of the round in one batch)
    4. reward = 1 if the final answer is right, else 0 (the model card's check)
    5. arm.observe(choice, rewards, completion_tokens) for every group    # sparsegate: gate.observe(...)
       arm.reroll(...) may roll a group out again in the step (GHPO's ladder); arm.keep_group(...)
       may discard it (DAPO / GRESO); arm.round_size(...) may ask for another sampling round
    6. GRPO update on the kept groups: advantages (r - mean) / (std + 1e-4) per group, clipped
       token-level surrogate (clip 0.2 / 0.28, DAPO's clip-higher), token-mean over all tokens of the
       batch, old log-probs from the rollout policy, no KL, AdamW
    7. held-out evaluation whenever the cumulative rollout tokens pass the next checkpoint

For sparsegate the trainer's side is exactly steps 2 and 5 (plus begin_epoch and a save with the
checkpoint): the Gate is consulted before any rollout is spent and told the rewards afterwards.

Every generated token is counted, trained or discarded, and the ledger of rolled-out groups is
checked at the end (tokens counted == tokens the policy generated, every group observed, dropped
prompts never rolled out, guided rollouts carry their hint): result["checks"].

Deterministic from the seed: one thread count, seeded generators for sampling and for the stream.

    grpo.py --arm grpo --regime multi_epoch --seed 0 --out results/rl/runs/grpo-multi_epoch-0.json
    grpo.py --measure-levels            # the starting model's pass rates per level (pools.LEVELS)
"""
import argparse
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, asdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import policy as policy_mod  # noqa: E402  (sets OMP_WAIT_POLICY before torch loads)
import torch  # noqa: E402
import arm_registry  # noqa: E402
import arms as arms_mod  # noqa: E402
import pools  # noqa: E402
from scipy import stats  # noqa: E402


@dataclass
class Config:
    seed: int = 0
    model: str = ""                  # the starting policy's model directory ("" = policy.START_DIR)
    regime: str = "multi_epoch"      # multi_epoch: a fixed pool seen several times; single_pass: each prompt ~once
    pool_size: int = 48              # multi_epoch pool; single_pass draws enough for the budget
    test_size: int = 320             # held-out problems (greedy and mean@G, per level)
    batch: int = 8                   # B: prompts (groups) trained per step
    group: int = 8                   # G: rollouts per prompt
    lr: float = 5e-5
    minibatches: int = 1             # optimizer steps per pass over the step's groups
    epochs: int = 1                  # passes over the step's groups (PPO epochs; > 1 reuses rollouts, clipped)
    clip_low: float = 0.2
    clip_high: float = 0.28
    adv_eps: float = 1e-4
    budget_tokens: int = 60000       # rollout tokens per run (every arm the same)
    max_steps: int = 10 ** 6
    evals: int = 4                   # evaluations at budget * k / evals, plus one before training
    threads: int = 1                 # 1 thread per run, 2 runs at once: small matmuls scale badly over threads
    hint_style: str = "prefill"      # ghpo: GHPO's wording; prefill: after the answer marker (arms.place_hint)
    max_draws_per_step: int = 0      # 0: 20 * batch; a guard against an arm that drops everything
    keep_ledger: bool = False        # return every group (the smoke test reads it)
    levels: str = ""                 # comma-separated subset of pools.LEVELS ("" = all); the smoke run's cheap mix
    dapo_max_gen_batches: int = 10   # verl's max_num_gen_batches for the dapo arm (the paper's 10; <= 0 unlimited)
    test_on_pool: bool = False       # evaluate on the training pool itself: the trainer's sanity check (can it
                                     # raise the pass rate of what it trains on?), not a held-out measurement


@dataclass
class Group:
    step: int
    choice: arms_mod.Choice
    prompt_ids: list
    completions: list
    old_logps: list
    rewards: list
    tokens: int
    fate: str = ""                   # trained | filtered | replaced | overflow
    parts: list = field(default_factory=list)  # a group the arm built from ledger groups (SPEED): those groups


class Stream:
    """The pool in a seeded order, epoch after epoch; tells the arm when an epoch begins."""

    def __init__(self, pool, seed, arm):
        self.pool, self.seed, self.arm = pool, seed, arm
        self.epoch, self.order, self.i = -1, [], 0
        self.seen = Counter()

    def next(self, n):
        out = []
        while len(out) < n:
            if self.i == len(self.order):
                self.epoch += 1
                self.order = list(self.pool)
                random.Random(f"stream-{self.seed}-{self.epoch}").shuffle(self.order)
                self.i = 0
                self.arm.begin_epoch(self.epoch)
            out.append(self.order[self.i])
            self.seen[self.order[self.i]["id"]] += 1
            self.i += 1
        return out


class Trainer:
    def __init__(self, cfg, arm, pool, test_set, tokenizer):
        self.cfg, self.arm, self.pool, self.test = cfg, arm, pool, test_set
        self.tok = tokenizer
        torch.manual_seed(cfg.seed)
        torch.set_num_threads(cfg.threads)
        self.policy = policy_mod.Policy(cfg.model or policy_mod.START_DIR)
        decay = [p for p in self.policy.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.policy.parameters() if p.dim() < 2]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                      {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.stream = Stream(pool, cfg.seed, arm)
        self.limits = limits_of(tokenizer, pool + test_set)
        tokenizer.encode([p["prompt"] for p in pool + test_set])  # one CLI call for every prompt
        self.ledger, self.curve, self.decisions = [], [], []
        self.merged_with_signal = set()  # ids of ledger groups trained inside a merged group with signal (SPEED)
        self.seconds = Counter()
        self.selected_by_step = defaultdict(set)
        self.tokens = Counter()  # generated, trained, discarded, prompt_scored

    # -- tokens ---------------------------------------------------------------------------------
    def encode(self, texts):
        return self.tok.encode(texts)  # cached: prompts once per pool, hinted prompts once per round

    def limit(self, p):
        return self.limits[p["id"]]

    # -- rollouts ---------------------------------------------------------------------------------
    def rollout(self, step, choices):
        if not choices:
            return []
        t0 = time.perf_counter()
        sizes = [c.n or self.cfg.group for c in choices]  # G, or the arm's own count (SPEED's screening)
        prompt_ids = self.encode([c.text for c in choices])
        rows = [ids for ids, n in zip(prompt_ids, sizes) for _ in range(n)]
        limits = [self.limit(c.prompt) for c, n in zip(choices, sizes) for _ in range(n)]
        completions, logps = self.policy.sample(rows, limits, 1.0, self.gen)
        groups, at = [], 0
        for k, c in enumerate(choices):
            comp, lp = completions[at:at + sizes[k]], logps[at:at + sizes[k]]
            at += sizes[k]
            rewards = [pools.reward(c.prompt, self.tok.decode(y), c.hint) for y in comp]
            groups.append(Group(step, c, prompt_ids[k], comp, lp, rewards, sum(map(len, comp))))
        self.tokens["generated"] += sum(g.tokens for g in groups)
        self.seconds["rollout"] += time.perf_counter() - t0
        return groups

    def select(self, step, n, chunk, dropped):
        """Draw candidates until n of them are to be rolled out (or the draw guard trips)."""
        chosen, drawn = [], 0
        cap = self.cfg.max_draws_per_step or 20 * self.cfg.batch
        while len(chosen) < n and drawn < cap:
            cands = self.stream.next(min(chunk or n - len(chosen), cap - drawn))
            drawn += len(cands)
            if self.arm.scores_prompts:  # the service's prefill: counted for sparsegate arms
                self.tokens["prompt_scored"] += sum(map(len, self.encode([p["prompt"] for p in cands])))
            t0 = time.perf_counter()
            choices = self.arm.select(step, cands)
            self.seconds["select"] += time.perf_counter() - t0
            assert len(choices) == len(cands)
            for c in choices:
                self.step_kinds[c.kind] += 1
                if c.rolled_out:
                    chosen.append(c)
                    self.selected_by_step[step].add(c.prompt["id"])
                else:
                    dropped.add(c.prompt["id"])
        return chosen

    def gather(self, step):
        """One step's sampling: rounds of select + rollout + observe / reroll / filter."""
        trained, round_index, last_round, dropped = [], 0, [], set()
        while True:
            n = self.arm.round_size(step, round_index, trained, last_round)
            if n <= 0:
                break
            chosen = self.select(step, n, self.arm.chunk, dropped)
            carried = self.arm.continuations(step)  # rolled out with this round's prompts (SPEED)
            self.selected_by_step[step].update(c.prompt["id"] for c in carried)
            groups = self.rollout(step, chosen + carried)
            finals = []
            while groups:  # in-step retries (GHPO's ladder): replaced groups are discarded
                retry = []
                for g in groups:
                    self.arm.observe(g.choice, g.rewards, completion_tokens=[len(y) for y in g.completions])
                    self.ledger.append(g)
                    again = self.arm.reroll(step, g.choice, g.rewards)
                    if again is not None:
                        g.fate = "replaced"
                        retry.append(again)
                        continue
                    finals.append(g)
                    if self.arm.hold(g):  # the arm keeps it; trained only as a part of a group truncate returns
                        g.fate = "overflow"
                        continue
                    if self.arm.keep_group(g.rewards):
                        trained.append(g)
                    else:
                        g.fate = "filtered"
                groups = self.rollout(step, retry)
            last_round = finals
            round_index += 1
            if round_index > 100:
                raise RuntimeError(f"{self.arm.name}: more than 100 sampling rounds in step {step}")
        kept = self.arm.truncate(trained)
        for g in trained:
            g.fate = "trained" if any(g is k for k in kept) else "overflow"
        for k in kept:
            for part in k.parts:
                part.fate = "trained"
                if not arms_mod.zero_variance(k.rewards):
                    self.merged_with_signal.add(id(part))
        self.arm.end_step(step, kept)
        return kept, dropped

    # -- the update -------------------------------------------------------------------------------
    def update(self, groups):
        t0 = time.perf_counter()
        cfg = self.cfg
        rows = []  # (prompt ids, completion, old log-probs, advantage)
        for g in groups:
            r = torch.tensor(g.rewards)
            adv = (r - r.mean()) / (r.std() + cfg.adv_eps) if len(r) > 1 else torch.zeros_like(r)
            rows += [(g.prompt_ids, y, lp, float(a)) for y, lp, a in zip(g.completions, g.old_logps, adv)]
        size = max(1, -(-len(rows) // cfg.minibatches))
        for s in [s for _ in range(cfg.epochs) for s in range(0, len(rows), size)]:
            chunk = rows[s:s + size]
            denom = sum(len(y) for _, y, _, _ in chunk)  # token-mean over every token of the minibatch
            # Rows with advantage 0 (zero-variance groups) have zero gradient: they count in the
            # token-mean's denominator but need no forward pass. Same loss, less CPU.
            live = [row for row in chunk if row[3] != 0.0 and row[1]]
            if not live:
                continue
            lp, mask = self.policy.completion_logprobs([r[0] for r in live], [r[1] for r in live])
            old = torch.zeros_like(lp)
            for i, r in enumerate(live):
                old[i, :len(r[2])] = torch.tensor(r[2])
            adv = torch.tensor([r[3] for r in live])[:, None]
            ratio = torch.exp(lp - old)
            surrogate = torch.max(-ratio * adv, -ratio.clamp(1 - cfg.clip_low, 1 + cfg.clip_high) * adv)
            loss = (surrogate * mask).sum() / denom
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), 1.0)
            self.opt.step()
        self.seconds["update"] += time.perf_counter() - t0

    # -- evaluation -------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self):
        t0 = time.perf_counter()
        result = evaluate(self.policy, self.tok, self.test, self.cfg, self.limit)
        self.seconds["eval"] += time.perf_counter() - t0
        return result

    # -- the run ----------------------------------------------------------------------------------
    def run(self, initial_eval=None):
        cfg = self.cfg
        t_start = time.perf_counter()
        marks = [cfg.budget_tokens * k / cfg.evals for k in range(1, cfg.evals + 1)]
        first = initial_eval or self.evaluate()
        self.curve.append(dict(first, tokens=0, step=0, groups=0))
        step, error = 0, None
        rolled_ids_by_step = defaultdict(set)
        dropped_by_step = {}
        while self.tokens["generated"] < cfg.budget_tokens and step < cfg.max_steps:
            step += 1
            self.step_kinds = Counter()
            try:
                groups, dropped = self.gather(step)
            except arms_mod.TooDifficult as e:  # DAPO stops the run, as verl raises
                error = str(e)
                for g in self.ledger:  # the aborted step's kept groups: generated, never trained
                    g.fate = g.fate or "overflow"
                break
            self.decisions.append(dict(self.step_kinds, step=step))
            dropped_by_step[step] = dropped
            self.update(groups)
            self.arm.after_update(step, self.policy)
            while marks and self.tokens["generated"] >= marks[0]:
                marks.pop(0)
                self.curve.append(self.checkpoint_point(step))
        if self.curve[-1]["tokens"] != self.tokens["generated"]:
            self.curve.append(self.checkpoint_point(step))
        for g in self.ledger:
            rolled_ids_by_step[g.step].add(g.choice.prompt["id"])
        return self.result(step, error, time.perf_counter() - t_start, rolled_ids_by_step, dropped_by_step)

    def checkpoint_point(self, step):
        """One point of the curve: the held-out evaluation, and what the arm's predictor knows now."""
        return dict(self.evaluate(), tokens=self.tokens["generated"], step=step, groups=len(self.ledger),
                    predictor=self.arm.predictor_quality())

    def result(self, steps, error, wall, rolled_ids_by_step, dropped_by_step):
        led = self.ledger
        trained = sum(g.tokens for g in led if g.fate == "trained")
        rollouts = sum(len(g.rewards) for g in led)
        # A rollout is informative when the group it is trained in has signal: for a SPEED continuation,
        # the merged group of screening and continuation, whatever the continuation's own rewards.
        informative = sum(len(g.rewards) for g in led
                          if not arms_mod.zero_variance(g.rewards) or id(g) in self.merged_with_signal)
        guided = [g for g in led if g.choice.kind == "guide"]
        checks = {
            "tokens_counted": sum(g.tokens for g in led),
            "tokens_generated": self.policy.generated_tokens,
            "trained_plus_discarded": trained + sum(g.tokens for g in led if g.fate != "trained"),
            "groups_rolled_out": len(led),
            "groups_observed": self.arm.observed,
            # a prompt dropped in a step (and not also chosen in it: a tiny pool can wrap) must get no rollout
            "dropped_and_rolled_out": sum(len((dropped_by_step[s] - self.selected_by_step[s]) & rolled_ids_by_step[s])
                                          for s in dropped_by_step),
            "guided_groups": len(guided),
            "guided_without_hint": sum(1 for g in guided if not g.choice.hint or not g.choice.text.endswith(g.choice.hint)
                                       or self.tok.decode(g.prompt_ids) != g.choice.text),
            "unfated_groups": sum(1 for g in led if not g.fate),
        }
        final = self.curve[-1]
        out = {
            "arm": self.arm.name, "seed": self.cfg.seed, "regime": self.cfg.regime, "config": asdict(self.cfg),
            "tokenizer": self.tok.backend, "steps": steps, "epochs_started": self.stream.epoch + 1, "error": error,
            "rollout_tokens": self.tokens["generated"], "trained_tokens": trained,
            "discarded_tokens": self.tokens["generated"] - trained, "prompt_tokens_scored": self.tokens["prompt_scored"],
            "rollouts": rollouts, "groups": len(led),
            "groups_by_fate": dict(Counter(g.fate for g in led)),
            "effective_ratio": informative / rollouts if rollouts else None,
            # Hinted groups rolled out, and those that no hint rescued (no reward above 0): what a
            # failed rung costs (issue 23's target: at most half of GHPO's).
            "guided": {"groups": len(guided), "all_zero": sum(1 for g in guided if all(r <= 0 for r in g.rewards))},
            "final_accuracy": final["accuracy"], "curve": self.curve,
            "prediction_over_training": prediction_over_training(self.ledger, self.curve),
            "prediction_whole_run": (prediction_over_training(self.ledger, [self.curve[0], self.curve[-1]]) or [None])[0],
            "decisions": self.decisions, "decisions_total": dict(sum((Counter({k: v for k, v in d.items() if k != "step"})
                                                                     for d in self.decisions), Counter())),
            "seconds": {k: round(self.seconds[k], 2) for k in ("select", "rollout", "update", "eval")},
            "wall_seconds": round(wall, 2),
            "prompts_seen": {"distinct": len(self.stream.seen), "pool": len(self.pool)},
            "arm_stats": self.arm.stats(), "checks": checks,
        }
        out["seconds"]["scoring"] = out["seconds"].pop("select")  # the arm's pre-rollout time (the Gate's decide)
        if self.cfg.keep_ledger:
            out["ledger"] = [{"step": g.step, "id": g.choice.prompt["id"], "kind": g.choice.kind, "text": g.choice.text,
                              "hint": g.choice.hint, "prompt": g.choice.prompt["prompt"], "tokens": g.tokens,
                              "rewards": g.rewards, "fate": g.fate} for g in led]
            out["dropped_by_step"] = {s: sorted(v) for s, v in dropped_by_step.items()}
            out["selected_by_step"] = {s: sorted(v) for s, v in self.selected_by_step.items()}
        return out


def zero_pass_auroc(predicted, zero):
    """AUROC of 1 - predicted pass rate for "the group passed 0 of G" (ties count half): the
    Mann-Whitney U of the zero-pass groups over the others, per pair. None without both kinds."""
    pos = [1 - p for p, z in zip(predicted, zero) if z]
    neg = [1 - p for p, z in zip(predicted, zero) if not z]
    if not pos or not neg:
        return None
    return float(stats.mannwhitneyu(pos, neg).statistic) / (len(pos) * len(neg))


def prediction_over_training(ledger, curve):
    """The arm's predictions, judged as training goes (issue 9 item 5), between consecutive curve points.

    Each unhinted group rolled out is compared with the pass rate predicted for it before its
    rollout, and with the expected pass rate its decision was made with: a forward (prequential)
    test, since no group trains the prediction made for itself. ECE as the plugin computes it
    (quality.h: 10 equal-width bins, each group weighing one). The predictor's own held-out view
    (the plugin's holdout prompts) is in each curve point's "predictor". Empty for arms that predict
    nothing."""
    scored = [(i, g.choice.info.get("predicted_pass_rate"), g) for i, g in enumerate(ledger) if g.choice.kind == "keep"]
    scored = [(i, p, g) for i, p, g in scored if p is not None]
    if not scored:
        return []
    out = []
    for lo, hi in zip(curve, curve[1:]):
        window = [(p, g) for i, p, g in scored if lo["groups"] <= i < hi["groups"]]
        predicted = [p for p, _ in window]
        expected = [g.choice.info.get("expected_pass_rate") for _, g in window]
        observed = [sum(g.rewards) / len(g.rewards) for _, g in window]
        zero = [sum(g.rewards) == 0 for _, g in window]
        n = len(window)
        out.append({"tokens_from": lo["tokens"], "tokens_to": hi["tokens"], "groups": n,
                    "zero_pass_groups": sum(zero), "zero_pass_auroc": zero_pass_auroc(predicted, zero),
                    "mean_predicted": sum(predicted) / n if n else None,
                    "mean_observed": sum(observed) / n if n else None,
                    "ece_predicted": calibration_error(predicted, observed),
                    "ece_expected": calibration_error(expected, observed) if None not in expected else None})
    return out


def calibration_error(predicted, observed, bins=10):
    """Expected calibration error: per equal-width bin of the prediction, |mean predicted - mean
    observed|, weighted by the bin's share of groups; None on no groups. (Neither scipy nor numpy
    has it; the plugin's quality.h computes the same.)"""
    if not predicted:
        return None
    sums = {}
    for p, o in zip(predicted, observed):
        b = min(int(p * bins), bins - 1)
        n, sp, so = sums.get(b, (0, 0.0, 0.0))
        sums[b] = (n + 1, sp + p, so + o)
    return sum(abs(sp - so) for n, sp, so in sums.values()) / len(predicted)


def limits_of(tok, problems):
    """Max new tokens per problem id: its reference completion's length (+ EOS), with measure.py's margin."""
    refs = tok.encode([policy_mod.ANSWER_PREFIX + p["solution"] for p in problems])
    return {p["id"]: int((len(r) + 1) * pools.LIMIT_SLACK) + pools.LIMIT_EXTRA for p, r in zip(problems, refs)}


def evaluate(policy, tok, test, cfg, limit):
    """The held-out evaluation: every problem greedily and G times at temperature 1.

    "accuracy", the figure every comparison uses, is the sampled pass rate (mean@G) over the problems
    of the learnable levels: where RL can move it, and less noisy than one greedy answer per problem.
    Greedy accuracy, pass@G and mean@G are also given per level, per kind and overall."""
    prompts = tok.encode([p["prompt"] for p in test])
    limits = [limit(p) for p in test]
    out, _ = policy.sample_sorted(prompts, limits, 0.0, count=False)
    greedy = [pools.reward(p, tok.decode(y)) for p, y in zip(test, out)]
    G = cfg.group
    gen = torch.Generator().manual_seed(10_000)  # the same for every run: the starting evaluation is shared
    samples, _ = policy.sample_sorted([x for x in prompts for _ in range(G)], [x for x in limits for _ in range(G)],
                                      1.0, gen, count=False)
    rates = [sum(pools.reward(test[i], tok.decode(y)) for y in samples[i * G:(i + 1) * G]) / G
             for i in range(len(test))]
    by_level, by_kind = defaultdict(list), defaultdict(list)
    for i, p in enumerate(test):
        by_level[pools.level_of(p)].append(i)
        by_kind[p["kind"]].append(i)

    def mean(values, idx):
        return sum(values[i] for i in idx) / len(idx) if idx else None

    learnable = by_kind.get("learnable", [])
    return {
        "accuracy": mean(rates, learnable) if learnable else mean(rates, range(len(test))),
        "greedy_accuracy": mean(greedy, range(len(test))),
        "sampled_pass_rate": mean(rates, range(len(test))),
        "problems": len(test), "sampled_problems": len(test), "samples_per_problem": G,
        "per_level": {lv: {"n": len(idx), "greedy": mean(greedy, idx), "mean_at_g": mean(rates, idx),
                           "pass_at_g": mean([float(r > 0) for r in rates], idx)} for lv, idx in sorted(by_level.items())},
        "per_kind": {k: {"n": len(idx), "greedy": mean(greedy, idx), "mean_at_g": mean(rates, idx),
                         "pass_at_g": mean([float(r > 0) for r in rates], idx)} for k, idx in sorted(by_kind.items())},
        "per_problem_mean_at_g": rates,  # the same problems in every run: paired comparisons between arms
    }


def make_pool(cfg, tok_per_prompt_group=650):
    """multi_epoch: cfg.pool_size prompts; single_pass: enough that the budget sees each about once."""
    if cfg.regime == "multi_epoch":
        return pools.make_pool(cfg.pool_size, cfg.seed, cfg.levels.split(",") if cfg.levels else None)
    if cfg.regime == "single_pass":
        # 650 generated tokens per group is the measured mean of the LEVELS mix at G = 8; 1.5x spare
        # so that arms that skip prompts still see fresh ones.
        n = int(1.5 * cfg.budget_tokens / (tok_per_prompt_group * cfg.group / 8)) + cfg.batch
        return pools.make_pool(n, 100 + cfg.seed, cfg.levels.split(",") if cfg.levels else None)
    raise ValueError(cfg.regime)


def run_one(cfg, arm_name, tokenizer, test_set=None, initial_eval=None, arm_options=None, target=None):
    pool = make_pool(cfg)
    if cfg.test_on_pool:
        test_set = [dict(p) for p in pool]
    test_set = test_set or pools.make_test_set(cfg.test_size, 0, [pool], cfg.levels.split(",") if cfg.levels else None)
    options = {"ghpo": {"hint_style": cfg.hint_style}, "dapo": {"max_num_gen_batches": cfg.dapo_max_gen_batches}}
    arm = arm_registry.make_arm(arm_name, cfg.batch, cfg.group, cfg.seed, target=target, model_dir=cfg.model or None,
                            **dict(options.get(arm_name, {}), **(arm_options or {})))
    return Trainer(cfg, arm, pool, test_set, tokenizer).run(initial_eval)


def measure_levels(tok, per_level, seed=0, G=8, threads=2, model=""):
    """The starting model's mean pass rate, pass@G and share of all-correct groups per level of pools.LEVELS."""
    torch.set_num_threads(threads)
    pol = policy_mod.Policy(model or policy_mod.START_DIR)
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for (op, digits), (kind, _) in pools.LEVELS.items():
        rng = random.Random(f"levels-{seed}-{op}-{digits}")
        probs = [dict(pools.arithmetic.make_problem(rng, op, digits), id=str(i)) for i in range(per_level)]
        ids = tok.encode([p["prompt"] for p in probs])
        lim = list(limits_of(tok, probs).values())
        t0 = time.perf_counter()
        comp, _ = pol.sample([x for x in ids for _ in range(G)], [x for x in lim for _ in range(G)], 1.0, gen)
        r = [pools.reward(probs[i // G], tok.decode(y)) for i, y in enumerate(comp)]
        rates = [sum(r[i * G:(i + 1) * G]) / G for i in range(per_level)]
        out[f"{op}-{digits}"] = {"kind": kind, "n": per_level, "mean_pass_rate": sum(rates) / per_level,
                                 "pass_at_g": sum(x > 0 for x in rates) / per_level,
                                 "all_correct": sum(x == 1 for x in rates) / per_level,
                                 "tokens_per_rollout": sum(map(len, comp)) / len(comp),
                                 "seconds": round(time.perf_counter() - t0, 2)}
        print(f"{op}-{digits} ({kind}): {out[f'{op}-{digits}']}", file=sys.stderr, flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arm", default="grpo")
    ap.add_argument("--target", help="sparsegate service for the sparsegate arms (host:port)")
    ap.add_argument("--sparsegate", help="the sparsegate CLI (tokenizer); default: the built one, else Python BPE")
    ap.add_argument("--out", help="write the run's JSON here")
    ap.add_argument("--measure-levels", type=int, metavar="PER_LEVEL", nargs="?", const=16,
                    help="measure the starting model's pass rates per level instead of training")
    for f in Config.__dataclass_fields__.values():
        ap.add_argument("--" + f.name.replace("_", "-"), type=int if isinstance(f.default, bool) else type(f.default),
                        default=f.default)
    args = ap.parse_args()
    tok = policy_mod.Tokenizer(policy_mod.MODEL_DIR, policy_mod.find_sparsegate(args.sparsegate))
    if args.measure_levels:
        result = measure_levels(tok, args.measure_levels, threads=args.threads, model=args.model)
    else:
        cfg = Config(**{k: getattr(args, k) for k in Config.__dataclass_fields__})
        result = run_one(cfg, args.arm, tok, target=args.target)
        print(json.dumps({k: result[k] for k in ("arm", "regime", "seed", "steps", "rollout_tokens", "final_accuracy",
                                                 "effective_ratio", "seconds", "checks")}, indent=1))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
