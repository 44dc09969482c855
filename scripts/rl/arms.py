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
    truncate(trained)          the groups the step trains (DAPO / GRESO: the first B)
    begin_epoch(e), end_step(step, groups)   bookkeeping hooks

Two-phase rollouts (SPEED) use three more, which the other arms leave at their defaults:

    Choice.n                   rollouts for this choice (0: the trainer's G), e.g. a few screening rollouts
    continuations(step)        choices the arm carries into the next sampling round, rolled out with the
                               prompts drawn for it (SPEED: the continuation of prompts screened earlier)
    hold(group)                the arm keeps a rolled-out group (its fate is "overflow" unless a trained group
                               built from it, a Group whose .parts list it, is returned by truncate later)

The peer rules are implemented as scripts/rl/PEERS.md reads them from their public sources:
- DAPO dynamic sampling: verl-project/verl-recipe @ 48ea0a797fa29867ea0ad92aff7d284eec7d4be3
  (dapo/dapo_ray_trainer.py, RayDAPOTrainer.fit, the filter_groups block);
- GRESO: Infini-AI-Lab/GRESO @ b27784315479921ea1977178d7e6c4858b2ae5a1
  (verl/trainer/ttis/presampling_selector.py DataProfiler, verl/trainer/ppo/ray_trainer.py fit);
- GHPO: hkgc-1/GHPO @ af0a7dd859eafca17531bd7b01c76ccb3e36e0c0
  (src/ghpo/ghpo_trainer.py, _generate_and_score_completions).
- MoPPS: thu-rllab/MoPPS @ a883f519bb2ec9e6bea3cb586639ee9c4f4cf146
  (recipe/ours/mopps.py PosteriorSampler, recipe/ours/our_ray_trainer.py, recipe/ours/config/our_trainer.yaml);
- SPEED-RL: guanning03/JSPO-Official @ 75970c3f279cd0a9766c734a2f986acbf7fe66d5 (verl/trainer/ppo/data_controller.py
  DataController, recipe/dapo/src/fast_dapo_ray_trainer.py RayFastDAPOTrainer.fit; the same files as
  Zanette-Labs/speed-rl @ 80e47b5f7bd7a45c5f043ea0e10e434989900529).
Where the testbed has to adapt a rule (our reward is 0/1, one process, a tiny batch) the class says so.

sparsegate arms (SparsegateArm) call the real Python Gate over gRPC; they need a running
`sparsegate serve` and build/python on sys.path.
"""
import dataclasses
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
    n: int = 0               # rollouts of this choice; 0: the trainer's group size G

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

    def observe(self, choice, rewards, completion_tokens=None):
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

    def continuations(self, step):
        """Choices to roll out in the coming sampling round besides the prompts drawn for it (SPEED)."""
        return []

    def hold(self, group):
        """Keep a rolled-out group instead of training or filtering it now (SPEED); False: the usual path."""
        return False

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

    def observe(self, choice, rewards, completion_tokens=None):
        super().observe(choice, rewards, completion_tokens)
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


class MoppsArm(Arm):
    """mopps: MoPPS (Model Predictive Prompt Selection): a Beta posterior of each prompt's success rate,
    Thompson sampling towards a target rate; no extra model calls.

    Follows thu-rllab/MoPPS @ a883f519bb2ec9e6bea3cb586639ee9c4f4cf146 (recipe/ours/mopps.py PosteriorSampler,
    called from recipe/ours/our_ray_trainer.py).

    Each step draws candidates_ratio x B candidates; every candidate without a posterior gets the prior
    Beta(prior_alpha, prior_beta). One success rate is drawn from each candidate's Beta posterior, and
    the B whose draws are nearest the target rate are rolled out ("topk": smallest squared distance).
    "threshold" (the original's other strategy) instead takes B at random among the draws inside
    [lower, upper], or, when fewer than B are inside, the B with the smallest distance to the interval
    (inside counts as 0). After the rollout, with s successes (reward >= 1) of k rollouts:
    alpha <- decay * alpha + (1 - decay) * prior_alpha + s, beta <- decay * beta + (1 - decay) * prior_beta + k - s.
    The decay (forgetting) applies only when the prompt is rolled out. Every selected group is trained.
    Defaults: the README's example launch script (countdown, cd_verl_3b_topk_noinit.sh, also geo3k):
    ts_ratio 8, bandit_decay_ratio 0.5, topk, target 0.5, no offline initialisation; the prior is the
    constructor's Beta(1, 1). The math scripts use ts_ratio 16 and decay 1.0 (no forgetting).

    Adaptations: the original's dataloader batch is ts_ratio x gen_batch_size prompts, capped at the
    dataset size; here candidates_ratio x B prompts come from the stream, and a prompt drawn twice in one
    draw (a pool smaller than the draw, or a draw across an epoch boundary) is a candidate once, which
    caps the candidates at the pool as the original caps them at the dataset. Candidates not selected
    are "defer" (not rolled out; the stream comes back to them). The original scales total_epochs by
    ts_ratio so that the number of steps stays the same; the testbed's budget is tokens, so nothing to
    scale. Our reward is 0/1, the same as the original's binarised accuracy. The draws come from a
    seeded numpy Generator (the original uses the global np.random). The offline initialisation
    (bandit_init: 3 pseudo-counts per recorded success or failure) is off in the default scripts and
    not implemented. The posterior mean before rollout is kept as info["posterior_mean"], not as
    "predicted_pass_rate", so it stays out of the trainer's prediction_over_training.
    """
    name = "mopps"

    def __init__(self, batch, group_size, seed, candidates_ratio=8, target=0.5, prior_alpha=1.0, prior_beta=1.0,
                 decay=0.5, strategy="topk", lower=0.3, upper=0.7):
        super().__init__(batch, group_size, seed)
        if strategy not in ("topk", "threshold"):
            raise ValueError(f"mopps strategy {strategy!r}: topk or threshold")
        self.chunk = max(1, int(candidates_ratio * batch))  # candidates drawn per step (one select call)
        self.target, self.strategy, self.lower, self.upper = target, strategy, lower, upper
        self.prior_alpha, self.prior_beta, self.decay = prior_alpha, prior_beta, decay
        self.alpha, self.beta = {}, {}  # prompt id -> the Beta posterior's parameters
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6D6F707073]))  # "mopps"
        self.trace = []  # per step: distinct candidates, mean draw and mean posterior mean of the selected

    def posterior(self, pid):
        if pid not in self.alpha:
            self.alpha[pid], self.beta[pid] = self.prior_alpha, self.prior_beta
        return self.alpha[pid], self.beta[pid]

    def pick(self, draws):
        """Indices of the B candidates to roll out, given one posterior draw per distinct candidate."""
        m = len(draws)
        if m <= self.B:
            return list(range(m))
        if self.strategy == "topk":
            return [int(i) for i in np.argsort((draws - self.target) ** 2, kind="stable")[:self.B]]
        inside = np.flatnonzero((draws >= self.lower) & (draws <= self.upper))
        if len(inside) >= self.B:
            return [int(i) for i in self.rng.permutation(inside)[:self.B]]
        score = np.where(draws < self.lower, self.lower - draws, np.where(draws > self.upper, draws - self.upper, 0.0))
        return [int(i) for i in np.argsort(score, kind="stable")[:self.B]]

    def select(self, step, candidates):
        first = {}
        for i, p in enumerate(candidates):
            first.setdefault(p["id"], i)
        distinct = sorted(first.values())
        ab = np.array([self.posterior(candidates[i]["id"]) for i in distinct], dtype=float).reshape(-1, 2)
        draws = self.rng.beta(ab[:, 0], ab[:, 1]) if len(distinct) else np.zeros(0)
        chosen = set(self.pick(draws))
        out = [None] * len(candidates)
        for j, i in enumerate(distinct):
            p = candidates[i]
            info = {"thompson_sample": float(draws[j]), "posterior_mean": float(ab[j, 0] / ab[j].sum())}
            out[i] = Choice(p, "keep", p["prompt"], "", info) if j in chosen else \
                Choice(p, "defer", "", "", dict(info, reason="not selected"))
        for i, p in enumerate(candidates):
            if out[i] is None:
                out[i] = Choice(p, "defer", "", "", {"reason": "drawn twice in one candidate set"})
        sel = [j for j in range(len(distinct)) if j in chosen]
        self.trace.append([step, len(distinct), round(float(np.mean(draws[sel])), 4) if sel else None,
                           round(float(np.mean(ab[sel, 0] / ab[sel].sum(axis=1))), 4) if sel else None])
        return out

    def observe(self, choice, rewards, completion_tokens=None):
        super().observe(choice, rewards, completion_tokens)
        a, b = self.posterior(choice.prompt["id"])
        s = sum(1 for r in rewards if r >= 1)
        self.alpha[choice.prompt["id"]] = self.decay * a + (1 - self.decay) * self.prior_alpha + s
        self.beta[choice.prompt["id"]] = self.decay * b + (1 - self.decay) * self.prior_beta + len(rewards) - s

    def stats(self):
        return {"candidates_mean_draw_mean_posterior": self.trace,
                "posterior": {pid: [round(self.alpha[pid], 4), round(self.beta[pid], 4)] for pid in sorted(self.alpha)}}


def merged_group(first, second):
    """One group trained from two rolled-out groups of the same prompt (SPEED: screening + continuation).

    A copy of `first` (the trainer's Group) holding both groups' rollouts, with .parts naming the two
    ledger groups; the trainer marks the parts "trained" when the merged group is."""
    assert first.prompt_ids == second.prompt_ids, "a continuation must roll out the screened prompt"
    return dataclasses.replace(first, completions=first.completions + second.completions,
                               old_logps=first.old_logps + second.old_logps, rewards=first.rewards + second.rewards,
                               tokens=first.tokens + second.tokens, fate="", parts=[first, second])


class SpeedArm(Arm):
    """speed: SPEED-RL's screening and continuation (online curriculum on pass rates strictly between 0 and 1).

    Follows guanning03/JSPO-Official @ 75970c3f279cd0a9766c734a2f986acbf7fe66d5 (verl/trainer/ppo/
    data_controller.py DataController; recipe/dapo/src/fast_dapo_ray_trainer.py RayFastDAPOTrainer.fit;
    identical to Zanette-Labs/speed-rl @ 80e47b5f7bd7a45c5f043ea0e10e434989900529).

    Each generation batch holds gen_batch new prompts with n_init screening rollouts each, plus the
    continuation of every prompt that passed screening in the previous generation batch, n_continue
    rollouts each. A screened prompt passes iff its screening rewards are not all equal (np.std > 0; no
    other pass-rate threshold); a prompt that fails is discarded (its rollouts count). A continued prompt
    is complete: its screening and continuation rollouts are one group of n_init + n_continue, trained
    together (the advantage is taken over the whole group). Generation batches follow one another
    while fewer than B prompts are complete; then the B completed first are trained and the rest stay
    in the buffer for the next step, as do prompts still waiting for their continuation (a step may
    train from the buffer without generating). The original raises once a step reaches
    max_num_gen_batches generation batches.
    Defaults scaled from the original to G = n_init + n_continue = 8: the shipped config
    (fast_dapo_trainer.yaml) has n 4, n_continue 12: a quarter of the group screens and the continuation
    is 3x the screening (n_continue must be a multiple of n_init), so n_init 2, n_continue 6 (the launch
    scripts use 8 + 16 and 4 + 20). gen_batch: the scripts' 64 prompts per generation batch for 16
    trained, so 4 B. max_num_gen_batches 50 (the scripts). n_init is at least 2 (for G < 8), since a single
    screening rollout never has variance.

    Adaptations: one process, so the original's rounding of the continuation batch to a multiple of the
    GPU count (the remainder waits a batch) does not arise. A prompt drawn twice in one generation batch
    (a pool smaller than the batch, or a draw across an epoch boundary) is screened once, the second copy
    "defer"; the original's dataloader batch never holds a row twice. The original's fit loop takes a
    dataloader batch in the iteration that trains and does not use it (those prompts are skipped for the
    epoch); the testbed skips nothing. max_num_gen_batches <= 0 means unlimited here (the original has
    no such case). The original recomputes old log-probs with the current policy before each update;
    the testbed keeps each rollout's own, so rollouts made before an earlier update (buffered groups,
    screenings continued after an update) enter the clipped ratio as off-policy samples. Groups the arm
    still holds when the run ends are "overflow" (generated, never trained). The run's effective_ratio
    counts each rolled-out group on its own: a continuation whose rewards are all equal but whose
    screening differed trains with a non-zero advantage yet counts as zero-variance there; stats()
    reports the share of rollouts that were trained in (non-zero-variance) merged groups.
    """
    name = "speed"

    def __init__(self, batch, group_size, seed, n_init=None, gen_batch=None, max_num_gen_batches=50):
        super().__init__(batch, group_size, seed)
        self.n_init = n_init or max(2, group_size // 4)  # one screening rollout never has variance
        self.n_continue = group_size - self.n_init
        if self.n_continue < 1 or self.n_continue % self.n_init:
            raise ValueError(f"speed: n_continue = G - n_init = {self.n_continue} must be a positive multiple of "
                             f"n_init = {self.n_init} (as the original asserts)")
        self.chunk = gen_batch or 4 * batch  # one select call draws one generation batch
        self.max_num_gen_batches = max_num_gen_batches
        self.queue = []  # screened and passed, waiting for the continuation (the original's second phase)
        self.ready = []  # complete merged groups, in the order they passed screening
        self.screened = self.passed = self.rollouts = self.rollouts_trained = 0
        self.gen_batches, self.buffer = [], []

    def round_size(self, step, round_index, trained, last_round):
        if len(self.ready) >= self.B:
            self.gen_batches.append(round_index)
            return 0
        if 0 < self.max_num_gen_batches <= round_index + 1:
            raise TooDifficult(f"step {step}: {round_index + 1} generation batches for {len(self.ready)} of {self.B} "
                               "complete prompts (SPEED: 'generated too many batches')")
        return 1  # with chunk = gen_batch: one select call, i.e. one generation batch of new prompts

    def select(self, step, candidates):
        seen, out = set(), []
        for p in candidates:
            if p["id"] in seen:
                out.append(Choice(p, "defer", "", "", {"reason": "drawn twice in one generation batch"}))
                continue
            seen.add(p["id"])
            out.append(Choice(p, "keep", p["prompt"], "", {"phase": "screen"}, n=self.n_init))
        return out

    def continuations(self, step):
        out = [Choice(g.choice.prompt, "keep", g.choice.text, "", {"phase": "continue", "screen": g}, n=self.n_continue)
               for g in self.queue]
        self.queue = []
        return out

    def observe(self, choice, rewards, completion_tokens=None):
        super().observe(choice, rewards, completion_tokens)
        self.rollouts += len(rewards)
        if choice.info.get("phase") == "screen":
            self.screened += 1

    def hold(self, group):
        phase = group.choice.info.get("phase")
        if phase == "continue":
            self.ready.append(merged_group(group.choice.info["screen"], group))
            return True
        if phase == "screen" and not zero_variance(group.rewards):
            self.passed += 1
            self.queue.append(group)
            return True
        return False

    def keep_group(self, rewards):
        return False  # only what hold() did not keep reaches here: screenings that failed

    def truncate(self, trained):
        assert not trained, "speed trains merged groups only"
        kept, self.ready = self.ready[:self.B], self.ready[self.B:]
        self.rollouts_trained += sum(len(g.rewards) for g in kept)
        return kept

    def end_step(self, step, groups):
        self.buffer.append([step, len(self.ready), len(self.queue)])

    def stats(self):
        return {"n_init": self.n_init, "n_continue": self.n_continue, "gen_batch": self.chunk,
                "num_gen_batches": self.gen_batches, "screened": self.screened, "passed": self.passed,
                "pass_rate_of_screening": self.passed / self.screened if self.screened else None,
                "buffer_complete_waiting_per_step": self.buffer,
                "trained_rollout_share": self.rollouts_trained / self.rollouts if self.rollouts else None}


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
        firsts = self.first_of_each_id(candidates)
        decided = dict(zip((p["id"] for p in firsts), self.gate.decide(self.gate_prompts(firsts))))
        self.scoring_seconds += time.perf_counter() - t0
        return self.choices(step, candidates, decided)

    @staticmethod
    def first_of_each_id(candidates):
        """The candidates whose id has not come earlier in the batch. A trainer's sampler never puts a
        prompt twice into one batch; this testbed's stream does where an epoch ends inside a batch, and
        the Gate decides (and is told the rewards of) each id once per batch: it refuses repeats."""
        seen, firsts = set(), []
        for p in candidates:
            if p["id"] not in seen:
                seen.add(p["id"])
                firsts.append(p)
        return firsts

    def choices(self, step, candidates, decided):
        """One Choice per candidate: the Gate's decision for the first of each id that it decided, a
        deferral for a repeat or for a candidate it did not return."""
        out, used = [], set()
        for p in candidates:
            if p["id"] in decided and p["id"] not in used:
                used.add(p["id"])
                out.append(self.choice(step, p, decided[p["id"]]))
            else:
                reason = "already in this batch" if p["id"] in used else "not selected"
                out.append(Choice(p, "defer", "", "", {"reason": reason}))
        return out

    @staticmethod
    def gate_prompts(candidates):
        return [{"id": p["id"], "text": p["prompt"], "reference": p["solution"]} for p in candidates]

    def choice(self, step, prompt, d):
        """A Gate decision as the trainer's Choice; the decision is logged with the model that scored it."""
        self.decisions.append([step, prompt["id"], d.kind, d.predicted_pass_rate, d.model_digest])
        info = {"hint_level": d.hint_level, "fraction": d.hint_fraction, "reason": d.reason,
                "predicted_pass_rate": d.predicted_pass_rate, "expected_pass_rate": d.expected_pass_rate}
        text = d.prompt_text if d.rolled_out else ""
        # A size of its own when the Gate divided the step's rollouts (select(vary_group_size=True)).
        return Choice(prompt, d.kind, text, d.hint_text if d.kind == "guide" else "", info,
                      n=d.recommended_group_size or 0)

    def observe(self, choice, rewards, completion_tokens=None):
        super().observe(choice, rewards, completion_tokens)
        self.gate.observe(choice.prompt["id"], list(rewards),
                          completion_tokens=None if completion_tokens is None else [float(t) for t in completion_tokens])

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


ARMS = {"grpo": Arm, "dapo": DapoArm, "greso": GresoArm, "ghpo": GhpoArm, "mopps": MoppsArm, "speed": SpeedArm}
# The Gate on a service the caller runs (--target): name -> Gate.create keywords. The hint goes where
# the model writes its answer (the "prefill" placement of GhpoArm): the plugin's default wording is
# English, which the embedded model has never seen. The comparison's own variants, each on a service
# of its own, are sparsegate_arms.VARIANTS.
SPARSEGATE_ARMS = {"sparsegate-at-target": {"hint_template": "\nA: {hint}"}}
