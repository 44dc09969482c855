"""The arms of the RL testbed: how each method chooses what to roll out and what to train on.

Every arm answers the same few questions the trainer (grpo.py) asks in a step:

    select(step, candidates)   before rollout: one Choice per candidate prompt, kind keep / guide /
                               drop / defer; keep and guide are rolled out (choice.text, with the
                               hint for guide), drop and defer are not
    observe(choice, rewards)   after every rolled-out group, the discarded ones included
    reroll(step, choice, rw)   in-step retry: a new Choice to roll out instead (GHPO's ladder), or None
    keep_group(rewards)        train on this group? (DAPO / GRESO discard zero-variance groups)
    round_size(...)            how many prompts to roll out in the next sampling round of this step
                               (0: the step has what it needs); chunk: prompts drawn per select call
    begin_epoch(e), end_step(step, groups)   bookkeeping hooks

The peer rules are implemented as scripts/rl/PEERS.md reads them from their public sources:
- DAPO dynamic sampling: verl-project/verl-recipe @ 48ea0a797fa29867ea0ad92aff7d284eec7d4be3
  (dapo/dapo_ray_trainer.py, RayDAPOTrainer.fit, the filter_groups block);
- GRESO: Infini-AI-Lab/GRESO @ b27784315479921ea1977178d7e6c4858b2ae5a1
  (verl/trainer/ttis/presampling_selector.py DataProfiler, verl/trainer/ppo/ray_trainer.py fit);
- GHPO: hkgc-1/GHPO @ af0a7dd859eafca17531bd7b01c76ccb3e36e0c0
  (src/ghpo/ghpo_trainer.py, _generate_and_score_completions).
Where the testbed has to adapt a rule (our reward is 0/1, one process, a tiny batch) the class says so.

sparsegate arms (SparsegateArm) call the real Python Gate over gRPC; they need a running
`sparsegate serve` and build/python on sys.path.
"""
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field

import numpy as np

ROLLED_OUT = ("keep", "guide")


@dataclass
class Choice:
    prompt: dict             # the pool row: id, prompt, solution, answer, op, digits, kind
    kind: str = "keep"       # keep | guide | drop | defer
    text: str = ""           # what is rolled out (the prompt, plus the hint when guided)
    hint: str = ""           # the hint as placed after the prompt; "" unless guided
    info: dict = field(default_factory=dict)  # arm-specific: rung, fraction, predicted pass rate...

    @property
    def rolled_out(self):
        return self.kind in ROLLED_OUT


def keep(prompt):
    return Choice(prompt, "keep", prompt["prompt"])


def zero_variance(rewards):
    """All rewards equal: the group-normalised advantage is 0 everywhere."""
    return max(rewards) == min(rewards)


class Arm:
    """grpo: uniform sampling, every group trained (the baseline every other arm is measured against)."""
    name = "grpo"

    def __init__(self, batch, group_size, seed):
        self.B, self.G, self.seed = batch, group_size, seed
        self.epoch = 0
        self.observed = 0  # groups that reached observe: the smoke test checks it against the ledger

    chunk = None            # prompts per select call; None: as many as the round still needs
    scores_prompts = False  # whether select() sends the prompts to the scoring service

    def begin_epoch(self, epoch):
        self.epoch = epoch

    def select(self, step, candidates):
        return [keep(p) for p in candidates]

    def observe(self, choice, rewards):
        self.observed += 1

    def reroll(self, step, choice, rewards):
        return None

    def keep_group(self, rewards):
        return True

    def round_size(self, step, round_index, trained, last_round):
        """Prompts to roll out in sampling round `round_index` (0 first); 0 ends the step's sampling."""
        return self.B if round_index == 0 else 0

    def truncate(self, trained):
        return trained

    def end_step(self, step, groups):
        pass

    def after_update(self, step, policy):
        """The policy's weights changed (a service that follows the policy reloads them here)."""

    def stats(self):
        return {}

    def predictor_quality(self):
        """What the arm's difficulty predictor scores on its own held-out prompts now; None without one."""
        return None


class TooDifficult(RuntimeError):
    """DAPO's ValueError: max_num_gen_batches generation batches did not fill the train batch."""


class DapoArm(Arm):
    """dapo: verl's algorithm.filter_groups (dynamic sampling), as RayDAPOTrainer.fit does it.

    Roll out a generation batch, keep a group iff its reward std > 0 (population std; or the group
    has one rollout), append; while fewer than B kept groups, draw the next generation batch; past
    max_num_gen_batches (<= 0: unlimited) raise, as verl does (no partial batch); then keep the
    first B groups in arrival order and throw the rest away. Every rollout generated counts.
    gen_batch defaults to B, verl's default for data.gen_batch_size; the paper used 3 * B and
    max_num_gen_batches = 10.
    """
    name = "dapo"

    def __init__(self, batch, group_size, seed, gen_batch=None, max_num_gen_batches=10):
        super().__init__(batch, group_size, seed)
        self.gen_batch = gen_batch or batch
        self.max_num_gen_batches = max_num_gen_batches
        self.gen_batches = []  # per step: generation batches used (verl's train/num_gen_batches)

    def keep_group(self, rewards):
        return len(rewards) == 1 or float(np.std(rewards)) > 0

    def round_size(self, step, round_index, trained, last_round):
        if len(trained) >= self.B:
            self.gen_batches.append(round_index)
            return 0
        if round_index > 0 and 0 < self.max_num_gen_batches <= round_index:
            raise TooDifficult(f"step {step}: {round_index} generation batches gave {len(trained)} of {self.B} "
                               "groups with signal (verl: 'data are too difficult')")
        return self.gen_batch

    def truncate(self, trained):
        return trained[:self.B]

    def stats(self):
        return {"num_gen_batches": self.gen_batches}


class GresoArm(Arm):
    """greso: GRESO's pre-rollout probabilistic skip plus its adaptive dynamic sampling.

    History per prompt: the mean reward of each rollout group, recorded before filtering (so
    discarded groups count), none for skipped prompts. Before rollout, with c the trailing run of
    all-correct groups (mean >= 0.98) the prompt is skipped with probability 1 - max(p_easy^c, 0.01);
    otherwise, if the last group was all-wrong (mean <= 0.11), with c the trailing all-wrong run,
    with probability 1 - max(p_hard^c, 0.01). No history: never skipped.
    p_easy / p_hard start at 0.5 and move by 0.01 once per step from the second epoch (epoch > 0),
    towards targets target_zero_variance / 3 (easy) and 2 * target_zero_variance / 3 (hard) of the
    responses since the last step, clamped to [0.05, 0.95].
    Sampling: prompts are drawn in chunks (the original's dataloader chunk is 1/8 of the train
    batch) until at least the round's size survived the skip, all of them rolled out; zero-variance
    groups (max == min) are discarded; if fewer than B groups remain, the next round's size is
    int(remaining responses / (1 - zero-variance ratio of the round) / G * 1.25), clamped to
    [min_round, sampling_batch]; a round whose estimate fit under sampling_batch is the last, after
    which the step trains on what it has. The first B groups in arrival order are trained.
    Sizes scaled from the launch script (sampling 384, train 256, minimum round 64): sampling_batch
    = 1.5 B, min_round = B / 4.
    Adaptation: GRESO's reward is 1 / 0.1 / 0 (correct / wrong / no format) and its hard ratio counts
    groups all at 0.1; ours is 1 / 0, so the hard ratio counts all-0 groups (the same meaning: all
    formatted and wrong; our reward has no format term). A round with only zero-variance groups
    (GRESO would divide by zero) asks for sampling_batch.
    """
    name = "greso"
    EASY_MEAN, HARD_MEAN, FLOOR = 0.98, 0.11, 0.01

    def __init__(self, batch, group_size, seed, p_easy=0.5, p_hard=0.5, target_zero_variance=0.25,
                 min_p=0.05, max_p=0.95):
        super().__init__(batch, group_size, seed)
        self.p_easy, self.p_hard = p_easy, p_hard
        self.target_easy, self.target_hard = target_zero_variance / 3, 2 * target_zero_variance / 3
        self.min_p, self.max_p = min_p, max_p
        self.sampling_batch = math.ceil(1.5 * batch)
        self.min_round = max(1, batch // 4)
        self.chunk = max(1, batch // 8)
        self.history = {}  # prompt id -> [mean reward of each rollout group]
        self.rng = random.Random(f"greso-{seed}")  # the original draws torch.rand(1); any seeded uniform
        self.last_sampling = False
        self.easy_responses = self.hard_responses = self.responses = 0
        self.p_trace = []

    @staticmethod
    def trailing(history, test):
        c = 0
        for m in reversed(history):
            if not test(m):
                break
            c += 1
        return c

    def skip_probability(self, history):
        c = self.trailing(history, lambda m: m >= self.EASY_MEAN)
        if c > 0:
            return 1 - max(self.p_easy ** c, self.FLOOR)
        if history and history[-1] <= self.HARD_MEAN:
            c = self.trailing(history, lambda m: m <= self.HARD_MEAN)
            return 1 - max(self.p_hard ** c, self.FLOOR)
        return 0.0

    def select(self, step, candidates):
        out = []
        for p in candidates:
            prob = self.skip_probability(self.history.get(p["id"], []))
            if prob > 0 and self.rng.random() < prob:
                out.append(Choice(p, "drop", "", info={"skip_probability": prob}))
            else:
                out.append(keep(p))
        return out

    def observe(self, choice, rewards):
        super().observe(choice, rewards)
        self.history.setdefault(choice.prompt["id"], []).append(sum(rewards) / len(rewards))
        self.responses += len(rewards)
        if min(rewards) == 1:
            self.easy_responses += len(rewards)
        if max(rewards) == 0:
            self.hard_responses += len(rewards)

    def keep_group(self, rewards):
        return not zero_variance(rewards)

    def round_size(self, step, round_index, trained, last_round):
        if round_index == 0:
            self.last_sampling = False
            return self.sampling_batch
        if len(trained) >= self.B or self.last_sampling:
            return 0
        remaining = (self.B - len(trained)) * self.G
        zero_var = sum(zero_variance(g.rewards) for g in last_round) / max(1, len(last_round))
        est = self.sampling_batch if zero_var >= 1 else int(remaining / (1 - zero_var) / self.G * 1.25)
        if est <= self.sampling_batch:
            self.last_sampling = True
        return max(min(est, self.sampling_batch), self.min_round)

    def truncate(self, trained):
        return trained[:self.B]

    def end_step(self, step, groups):
        if self.epoch > 0 and self.responses:
            easy, hard = self.easy_responses / self.responses, self.hard_responses / self.responses
            self.p_hard += -0.01 if hard >= self.target_hard else 0.01
            self.p_easy += -0.01 if easy >= self.target_easy else 0.01
            self.p_hard = min(max(self.p_hard, self.min_p), self.max_p)
            self.p_easy = min(max(self.p_easy, self.min_p), self.max_p)
        self.easy_responses = self.hard_responses = self.responses = 0
        self.p_trace.append([step, round(self.p_easy, 4), round(self.p_hard, 4)])

    def stats(self):
        return {"p_easy_p_hard": self.p_trace}


# GHPO's wording, appended to the user message (ghpo_trainer.py); note the space after the newline.
GHPO_WORDING = "\n The following text is the beginning part of the answer, which you can refer to for solving the problem:\n"


def hint_prefix(solution, fraction):
    """GHPO's cut: the first round(len * fraction) characters (Python's round), mid-equation allowed."""
    return solution[:round(len(solution) * fraction)]


def place_hint(prompt, hint, style):
    """The hinted prompt and the hint as it appears at its end.

    style "ghpo": GHPO's wording then the hint, appended to the prompt; the model then writes its
    whole answer. style "prefill" (the testbed's default): the embedded model has never seen
    English, so GHPO's wording means nothing to it; the hint is placed where the model itself would
    write it, after the answer marker ("Q: ... = ?\\nA: 8+6=14 wr"), and the rollout continues the
    trace. Either way the hint is a prefix of the reference in the prompt, and the group is trained
    on the hinted prompt.
    """
    from policy import ANSWER_PREFIX
    if style == "ghpo":
        return prompt + GHPO_WORDING + hint, hint
    if style == "prefill":
        return prompt + ANSWER_PREFIX + hint, hint
    raise ValueError(f"hint style {style!r}: ghpo or prefill")


class GhpoArm(Arm):
    """ghpo: GHPO's in-step hint ladder.

    A group is all-wrong iff every accuracy reward is <= 0. Each all-wrong group is rolled out
    again with the first 25%, then 50%, then 75% of its reference (characters), each stage over
    the groups still all-wrong, within the same step: at most three extra rounds. The new group
    replaces the old one and is trained on the hinted prompt; a group still all-wrong at 75% is
    trained on its 75% rollouts (zero advantage). Nothing persists across steps.
    """
    name = "ghpo"
    LADDER = (0.25, 0.5, 0.75)

    def __init__(self, batch, group_size, seed, hint_style="prefill"):
        super().__init__(batch, group_size, seed)
        self.hint_style = hint_style
        self.hinted = [0] * len(self.LADDER)  # groups rolled out at each rung

    def reroll(self, step, choice, rewards):
        rung = choice.info.get("rung", 0)
        if not all(r <= 0 for r in rewards) or rung >= len(self.LADDER):
            return None
        fraction = self.LADDER[rung]
        text, hint = place_hint(choice.prompt["prompt"], hint_prefix(choice.prompt["solution"], fraction),
                                self.hint_style)
        self.hinted[rung] += 1
        return Choice(choice.prompt, "guide", text, hint, {"rung": rung + 1, "fraction": fraction})

    def stats(self):
        return {"groups_per_rung": dict(zip(map(str, self.LADDER), self.hinted))}


class SparsegateArm(Arm):
    """sparsegate: the real Gate decides before rollout; guided prompts are rolled out as returned.

    decide() gets every candidate with its reference; keep and guide are rolled out (d.prompt_text,
    which is the prompt plus d.hint_text for guide), drop and defer are replaced by the next prompts
    of the stream until the batch has B rolled-out prompts (as the verl sampler does). Every group's
    rewards go to observe(); epochs are marked; the Gate's state is saved with the run.
    gate_options are Gate.create keywords (PluginConfig / ClientOptions fields).
    """
    name = "sparsegate"
    scores_prompts = True

    def __init__(self, batch, group_size, seed, target, gate_options=None, checkpoint=None, name=None,
                 follow_dir=None):
        super().__init__(batch, group_size, seed)
        self.follow_dir = follow_dir
        try:
            import sparsegate  # the trainer plugin: build/python
        except ImportError:
            from policy import ROOT
            sys.path.insert(0, os.path.join(ROOT, "build", "python"))
            import sparsegate
        self.name = name or self.name
        self.gate = sparsegate.Gate.create(target=target, **(gate_options or {}))
        self.checkpoint = checkpoint
        self.scoring_seconds = 0.0
        self.decisions = []  # (step, id, kind, predicted pass rate, model digest)

    def begin_epoch(self, epoch):
        super().begin_epoch(epoch)
        self.gate.begin_epoch(epoch)

    def select(self, step, candidates):
        t0 = time.perf_counter()
        decided = self.gate.decide(self.gate_prompts(candidates))
        self.scoring_seconds += time.perf_counter() - t0
        return [self.choice(step, p, d) for p, d in zip(candidates, decided)]

    @staticmethod
    def gate_prompts(candidates):
        return [{"id": p["id"], "text": p["prompt"], "reference": p["solution"]} for p in candidates]

    def choice(self, step, prompt, d):
        """A Gate decision as the trainer's Choice; the decision is logged with the model that scored it."""
        self.decisions.append([step, prompt["id"], d.kind, d.predicted_pass_rate, d.model_digest])
        info = {"hint_level": d.hint_level, "fraction": d.hint_fraction, "reason": d.reason,
                "predicted_pass_rate": d.predicted_pass_rate, "expected_pass_rate": d.expected_pass_rate}
        text = d.prompt_text if d.rolled_out else ""
        return Choice(prompt, d.kind, text, d.hint_text if d.kind == "guide" else "", info)

    def observe(self, choice, rewards):
        super().observe(choice, rewards)
        self.gate.observe(choice.prompt["id"], list(rewards))

    def end_step(self, step, groups):
        if self.checkpoint:
            self.gate.save(self.checkpoint)

    def after_update(self, step, policy):
        """follow_dir: publish the new weights as a model directory, switched by an atomic rename
        (issue 9 item 4's watched-directory design); the service's reload is wired by the lead."""
        if self.follow_dir:
            policy.save(self.follow_dir)

    def stats(self):
        return {"gate": self.gate.stats(), "scoring_seconds": self.scoring_seconds}

    def predictor_quality(self):
        predictor = self.gate.stats()["predictor"]
        held_out = predictor.get(f"{predictor['active']}_on_holdout") or {}
        return {"active": predictor["active"], "training_groups": predictor["training_groups"],
                **{k: held_out.get(k) for k in ("groups", "zero_pass_groups", "zero_pass_auroc",
                                                "expected_calibration_error", "mean_predicted_pass_rate",
                                                "mean_observed_pass_rate")}}


ARMS = {"grpo": Arm, "dapo": DapoArm, "greso": GresoArm, "ghpo": GhpoArm}
# sparsegate arms: name -> Gate.create keywords on top of the target. The hint goes where the model
# writes its answer (the "prefill" placement of GhpoArm): the plugin's default wording is English,
# which the embedded model has never seen. The length-only predictor and the frozen / following
# service variants are for the lead to fill in (issue 9, items 3-4).
SPARSEGATE_ARMS = {"sparsegate-at-target": {"hint_template": "\nA: {hint}"}}


def make_arm(name, batch, group_size, seed, target=None, **options):
    if name in ARMS:
        return ARMS[name](batch, group_size, seed, **options)
    import sparsegate_arms  # the product's arms, each on a service of its own (imported here: it imports this)
    if name in sparsegate_arms.VARIANTS:
        return sparsegate_arms.GateArm(batch, group_size, seed, name=name, **options)
    if name in SPARSEGATE_ARMS:
        if not target:
            raise ValueError(f"arm {name} needs a sparsegate service: --target host:port")
        return SparsegateArm(batch, group_size, seed, target, dict(SPARSEGATE_ARMS[name], **options), name=name)
    raise ValueError(f"unknown arm {name!r}; known: {sorted(ARMS) + sorted(SPARSEGATE_ARMS)}")
