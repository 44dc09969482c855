"""The sparsegate arms of the RL testbed, as a trainer would configure the product for this task.

Each arm runs its own `sparsegate serve --allow-reload` on the starting policy (a run that follows
the policy must not move another run's service) and talks to it through the real Python Gate:

    candidates = the next oversample x B prompts of the stream
    chosen = gate.select(candidates, B)      # decided keep / guide / drop / defer, then the B whose
                                             # expected pass rate is nearest 0.5 (Prompt Curriculum
                                             # Learning's choice, from the plugin's own expectations)
    ... roll out chosen (guided prompts as returned, with the hint), gate.observe(id, rewards) ...
    after the update: policy saved as a model directory, gate.reload_service(dir)   # follow the policy

Candidates that are not chosen are not rolled out (kind "defer" here, reason "not selected") and need
no observe. What the variants change:
- `sparsegate`: all of the above, the service following the policy;
- `sparsegate-frozen`: the service keeps the starting weights (issue 9 item 4's comparison);
- `sparsegate-length`: the predictor sees only the prompt's length (PluginConfig.length_only), so the
  report shows what the sparsity features add beyond length;
- `sparsegate-decide`: no oversampling: the Gate's decide() on B candidates, drops refilled from the
  stream (how the verl sampler adapter uses it).
- `sparsegate-signal`: Gate.select(rule="signal"): the B candidates whose groups of G are likeliest to
  hold a success and a failure under each decision's Beta posterior;
- `sparsegate-thompson`: Gate.select(rule="thompson"): one draw per posterior, nearest 0.5 (seeded by
  the run's seed);
- `sparsegate-quality`: `sparsegate-signal` with the prior weighed by the predictor's held-out quality
  (PluginConfig.expectation_prior_by_quality);
- `sparsegate-calibrated`: `sparsegate` with a predictor that follows the policy (PluginConfig
  recalibrate and recency_half_life_groups);
- `sparsegate-calibrated-fast`: the same with a half-life of 32 groups;
- `sparsegate-combined`: `sparsegate-thompson` on the `sparsegate-calibrated-fast` predictor;
- `sparsegate-per-token`: Gate.select(rule="signal_per_token"): the chance of signal divided by the
  expected completion tokens, which the Gate learns from the lengths each observe() passes;
- `sparsegate-group-size`: `sparsegate-signal` with a group size per prompt (select(vary_group_size=
  True)): the step's B x G rollouts divided among the chosen prompts, 2 to 16 each.
- `sparsegate-decide-rungs`, `sparsegate-rungs`: `sparsegate-decide` and `sparsegate` with hint rungs
  chosen by prediction (PluginConfig rungs_by_prediction): the hinted variants scored in the same
  call, the rung the smallest expected inside [0.2, 0.8].

The plugin settings used, and why (the defaults are for long math prompts of unknown difficulty):
- hint_template "\\nA: {hint}": the hint is the start of the answer, where this model writes it (its
  training never saw English instructions; GhpoArm's `prefill` placement does the same);
- enable_defer: trivially easy prompts are most of the pool at the start; deferring one after two
  all-pass groups in a row is the plugin's built-in remedy;
- min_training_groups 16 / min_holdout_groups 4: the testbed has a few hundred groups per run, so the
  supervised predictor must be allowed to start early to matter at all.
"""
import atexit
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time

import arms as arms_mod
import policy as policy_mod

PLUGIN_SETTINGS = {"hint_template": "\nA: {hint}", "enable_defer": True, "min_training_groups": 16,
                   "min_holdout_groups": 4}

VARIANTS = {
    "sparsegate": {"oversample": 4, "follow": True, "gate": {}},
    "sparsegate-frozen": {"oversample": 4, "follow": False, "gate": {}},
    "sparsegate-length": {"oversample": 4, "follow": True, "gate": {"length_only": True}},
    "sparsegate-decide": {"oversample": 1, "follow": True, "gate": {}},
    # Issue 23's selection rules, each an ablation of `sparsegate` (selection.h):
    "sparsegate-signal": {"oversample": 4, "follow": True, "gate": {}, "select": {"rule": "signal"}},
    "sparsegate-thompson": {"oversample": 4, "follow": True, "gate": {}, "select": {"rule": "thompson"}},
    "sparsegate-quality": {"oversample": 4, "follow": True, "gate": {"expectation_prior_by_quality": True},
                           "select": {"rule": "signal"}},
    # Issue 23 item 3: the predictor follows the policy: Platt recalibration on the recent groups it
    # did not train on (the prior trains on none), and fits whose groups' weight halves every 128
    # newer groups (16 steps of B = 8; a run has 12 to 15 steps, so the first steps count about half
    # as much as the last).
    "sparsegate-calibrated": {"oversample": 4, "follow": True,
                              "gate": {"recalibrate": True, "recency_half_life_groups": 128}},
    # The same with a half-life of 32 groups (4 steps): the calibrated arm lagged the improving
    # policy by about a step, so weigh the last few steps' outcomes most.
    "sparsegate-calibrated-fast": {"oversample": 4, "follow": True,
                                   "gate": {"recalibrate": True, "recency_half_life_groups": 32}},
    # The combination issue 23 asks for: Thompson draws (the best rule so far) on posteriors whose
    # prior follows the policy.
    "sparsegate-combined": {"oversample": 4, "follow": True,
                            "gate": {"recalibrate": True, "recency_half_life_groups": 32},
                            "select": {"rule": "thompson"}},
    # The chance of signal per expected completion token (issue 22's analysis: learning here is paid
    # per optimizer step, and choosing long rollouts costs steps).
    "sparsegate-per-token": {"oversample": 4, "follow": True, "gate": {}, "select": {"rule": "signal_per_token"}},
    # Issue 23 item 4: a group size per prompt, the step's B x G rollouts divided so that the expected
    # number of groups with signal is largest (2 to 16 each).
    "sparsegate-group-size": {"oversample": 4, "follow": True, "gate": {},
                              "select": {"rule": "signal", "vary_group_size": True, "min_group_size": 2,
                                         "max_group_size": 16}},
    # Issue 23 item 2: hint rungs chosen by prediction. Each candidate with a reference is scored with
    # its three hinted variants in the same service call, and goes out at the smallest rung expected
    # inside [0.2, 0.8] instead of climbing the ladder one all-zero group at a time; against
    # `sparsegate-decide` (where the ladder guides most) and `sparsegate` (selection).
    "sparsegate-decide-rungs": {"oversample": 1, "follow": True, "gate": {"rungs_by_prediction": True}},
    "sparsegate-rungs": {"oversample": 4, "follow": True, "gate": {"rungs_by_prediction": True}},
}


def _die_with_parent():
    """In the child: SIGTERM when the run's worker ends, however it ends (Linux prctl PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


class Service:
    """`sparsegate serve --allow-reload` on a model directory, on a free loopback port. Reload needs a
    token allowed to reload: the run makes one (`token`, for the arm's Gate) in a private file. Reloads
    are confined to `reload_root`, where the arm saves the policy it follows."""

    def __init__(self, binary, model_dir, reload_root, threads=1):
        if not binary:
            raise RuntimeError("the sparsegate arms need the sparsegate CLI (build it, or pass --sparsegate)")
        self.token = secrets.token_hex(32)
        fd, self.tokens_file = tempfile.mkstemp(prefix="sparsegate-tokens-")
        with os.fdopen(fd, "w") as f:
            f.write(f"{self.token} score reload\n")
        self.proc = subprocess.Popen([binary, "serve", "--model", model_dir, "--address", "127.0.0.1:0",
                                      "--allow-reload", "--auth-tokens", self.tokens_file, "--reload-root", reload_root,
                                      "--intra-op-threads", str(threads)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     preexec_fn=_die_with_parent)
        log = []
        for line in self.proc.stdout:  # "ready on port N" once the model is loaded and warmed up
            log.append(line)
            if line.startswith("ready on port"):
                self.target = f"127.0.0.1:{int(line.split()[-1])}"
                break
        else:
            raise RuntimeError(f"sparsegate serve exited ({self.proc.wait()}) before it was ready:\n{''.join(log)}")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # keep draining its log
        atexit.register(self.stop)  # a run's worker process takes its service with it

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if os.path.exists(self.tokens_file):
            os.unlink(self.tokens_file)


class GateArm(arms_mod.SparsegateArm):
    """One sparsegate variant (VARIANTS), on a service of its own."""

    def __init__(self, batch, group_size, seed, name="sparsegate", binary=None, model_dir=None, **options):
        variant = VARIANTS[name]
        self.work = tempfile.mkdtemp(prefix=f"rl-{name}-")
        self.service = Service(binary or policy_mod.find_sparsegate(None), model_dir or policy_mod.START_DIR,
                               reload_root=self.work)
        self.oversample, self.follow = variant["oversample"], variant["follow"]
        self.selection = dict(variant.get("select", {}), group_size=group_size)
        super().__init__(batch, group_size, seed, self.service.target,
                         dict(PLUGIN_SETTINGS, **variant["gate"], auth_token=self.service.token,
                              selection_seed=seed, **options),
                         name=name)
        self.chunk = self.oversample * batch if self.oversample > 1 else None
        self.reloads, self.reload_seconds = [], 0.0
        self.chosen_in_step = (None, 0)  # (step, prompts chosen so far): a refill round asks only for the rest

    def select(self, step, candidates):
        if self.oversample <= 1:
            return super().select(step, candidates)
        prompts = self.gate_prompts(self.first_of_each_id(candidates))
        already = self.chosen_in_step[1] if self.chosen_in_step[0] == step else 0
        t0 = time.perf_counter()
        chosen = {d.prompt_id: d for d in self.gate.select(prompts, self.B - already, **self.selection)}
        self.scoring_seconds += time.perf_counter() - t0
        self.chosen_in_step = (step, already + len(chosen))
        return self.choices(step, candidates, chosen)

    def after_update(self, step, policy):
        if not self.follow:
            return
        t0 = time.perf_counter()
        link = os.path.join(self.work, "policy")
        policy.save(link)
        switched = self.gate.reload_service(os.path.realpath(link))
        self.reload_seconds += time.perf_counter() - t0
        self.reloads.append({"step": step, "digest": switched[0]["model_digest"], "load_ms": switched[0]["load_ms"]})

    def stats(self):
        out = super().stats()
        out.update({"reloads": len(self.reloads), "reload_seconds": self.reload_seconds,
                    "digests": len({r["digest"] for r in self.reloads})})
        return out

    def close(self):
        self.service.stop()
