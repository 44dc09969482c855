"""sparsegate.openrlhf inside OpenRLHF's stand-in (stubs/openrlhf, mirroring OpenRLHF 3c3be62): the
real CLI flags, train(args) building engines, actor group and PPOTrainer, fit() with dynamic
filtering, both reward paths, DeepSpeed checkpoints and --ckpt.load_enable resume. With
SPARSEGATE_REAL_FRAMEWORKS the same tests run OpenRLHF's real train() and PPOTrainer on
real_fakes/openrlhf_cluster.py (fakes only for what needs a GPU or a Ray cluster)."""
import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from openrlhf.cli import train_ppo_ray
from openrlhf.trainer import ppo_trainer

REAL = not hasattr(train_ppo_ray, "parse_args")
if REAL:  # the real module: train() runs on real_fakes/openrlhf_cluster.py (no GPU, no Ray cluster)
    import openrlhf_cluster as train_ppo_ray
from openrlhf.trainer.ppo_utils import samples_generator

from fakes import PluginGate
from sparsegate import openrlhf as adapter
from sparsegate._prompts import stable_id

N = 4
# Two prompts the policy never solves, two it always solves, four it solves half the time.
KINDS = ["impossible", "mixed", "easy", "mixed", "impossible", "mixed", "easy", "mixed"]
ROWS = [{"input": f"Problem {i} ({kind}): compute {i} * 3.", "label": str(3 * i)} for i, kind in enumerate(KINDS)]


def kind_of(prompt):
    return prompt.split("(")[1].split(")")[0]


def respond(prompt, label, n):
    """The policy and the reward server's answer per sample: (response text, reward)."""
    kind = kind_of(prompt)
    if kind == "impossible":
        return [("no idea", 0.0)] * n
    if kind == "easy":
        return [(label, 1.0)] * n
    return [(label, 1.0) if i % 2 else ("wrong", 0.0) for i in range(n)]


def parse(tmp_path, *extra):
    # One GPU for each model, the reference included (its default is 8: more ranks than micro-batches).
    one_gpu_ref = ["--ref.num_gpus_per_node", "1"] if REAL else []
    args = train_ppo_ray.parse_args([
        *one_gpu_ref, "--vllm.num_engines", "2", "--actor.num_gpus_per_node", "1", "--reward.num_gpus_per_node", "1",
        "--rollout.batch_size", "4", "--rollout.n_samples_per_prompt", str(N), "--train.batch_size", "8",
        "--rollout.micro_batch_size", "4", "--algo.advantage.estimator", "group_norm",
        "--data.apply_chat_template", "--data.label_key", "label", "--ckpt.path", str(tmp_path / "ckpt"),
        *extra])
    args.data.prompt_dataset = ROWS
    args.actor.model_name_or_path = respond
    return args


def remote_reward(tmp_path, *extra):
    return parse(tmp_path, "--reward.remote_url", "http://127.0.0.1:5000/get_reward", "--algo.dynamic_filtering_enable",
                 *extra)


def engine_calls(trainer):
    """(prompt, n) of every generate_responses call, over all engines."""
    return [c for engine in trainer.vllm_engines for c in engine.instance.calls]


@pytest.fixture
def cancelled(monkeypatch):
    """The refs OpenRLHF's generator cancels (it does when its iterator runs dry while it waits
    for a replacement): their groups are dropped unread, so the plugin never observes them."""
    if REAL:
        import ray as module  # real_fakes/ray
    else:
        from openrlhf import _fake_ray as module  # the stand-in's Ray (a harness module of stubs/openrlhf)
    refs = []
    monkeypatch.setattr(module, "cancel", lambda ref, **kw: refs.append(ref))
    return refs


def cancelled_prompts(refs):
    """The prompt of each cancelled group (every sample of a group answers the same prompt)."""
    return [(getattr(ref, "value", None) or ref._value)[0]["prompt"] for ref in refs]


@pytest.fixture
def gate():
    gate = PluginGate(no_reference_quarantine_after=2, quarantine_epochs=100)
    adapter.install(gate)
    yield gate
    adapter.uninstall()


def test_install_patches_what_openrlhf_builds(gate):
    assert samples_generator.SamplesGenerator is adapter.SparsegateSamplesGenerator
    assert ppo_trainer.SamplesGenerator is adapter.SparsegateSamplesGenerator  # looked up there
    adapter.install(gate)  # idempotent: the trainer hooks are wrapped once
    assert not hasattr(ppo_trainer.BasePPOTrainer.save_logs_and_checkpoints.__wrapped__, "__wrapped__")
    with pytest.raises(ValueError):
        adapter.install()


def test_openrlhf_own_reward_server_answers_lists(tmp_path, cancelled):
    # Issue 24, item 1: OpenRLHF's serve_rm.py answers {"rewards": [r], "scores": [r], ...} per
    # sample, the executor passes the list on, and _score's float() raised inside the generator.
    plain = train_ppo_ray.train(remote_reward(tmp_path / "plain"))
    assert plain.steps_log  # OpenRLHF alone trains on these answers
    plain_cancels = len(cancelled)
    gate = PluginGate(no_reference_quarantine_after=2, quarantine_epochs=100)
    adapter.install(gate)
    try:
        trainer = train_ppo_ray.train(remote_reward(tmp_path / "gated"))
    finally:
        adapter.uninstall()
    kinds = [kind_of(prompt) for prompt, _ in engine_calls(trainer)]
    for prompt in cancelled_prompts(cancelled[plain_cancels:]):
        kinds.remove(kind_of(prompt))
    stats = gate.stats()
    assert trainer.steps_log and trainer.samples_generator.sg_counts["failed_rewards"] == 0
    assert stats["observed_groups"] == len(kinds)
    assert stats["zero_pass_groups"] == kinds.count("impossible") and stats["all_pass_groups"] == kinds.count("easy")
    # One sample's score: a number, or a list, tuple or tensor holding one; anything else is none.
    for answer, score in [(0.5, 0.5), ([1.0], 1.0), ((0.0,), 0.0), ([[1.0]], 1.0), (torch.tensor([0.25]), 0.25),
                          (torch.tensor([[1.0]]), 1.0), ([0.0, 1.0], None), ([], None)]:
        assert adapter._score({"scores": answer, "reward": 0.75}) == score, answer
    assert adapter._score({"scores": None, "reward": [0.75]}) == 0.75


class DigestGate(PluginGate):
    """A gate whose scoring service reports a model digest, as Gate.stats() does."""

    def stats(self):
        return {**super().stats(), "model_digest": "sha256:c0ffee0123456789"}


def test_plugin_counters_reach_openrlhf_loggers(tmp_path):
    # Issue 24, item 3: the plugin's counters never reached OpenRLHF's logs (the status dict that
    # save_logs_and_checkpoints hands to wandb / tensorboard every --logger.logging_steps).
    gate = DigestGate(no_reference_quarantine_after=2, quarantine_epochs=100)
    adapter.install(gate)
    try:
        trainer = train_ppo_ray.train(remote_reward(tmp_path, "--train.num_episodes", "4",
                                                   "--logger.tensorboard_dir", str(tmp_path / "tb")))
    finally:
        adapter.uninstall()
    steps = [step for step, _ in trainer.steps_log]
    scalars = {}
    for tag, value, step in trainer.tensorboard_logger.writer.scalars:
        scalars.setdefault(tag, {})[step] = value
    for key in ("decisions/keep", "decisions/drop", "fail_open", "hint_level/0", "observed_groups",
                "scoring_seconds", "model_digest", "epoch"):
        assert sorted(scalars[f"train/sparsegate/{key}"]) == steps, key  # one value per logged step
    assert "train/rollout/reward_mean" in scalars  # beside OpenRLHF's own
    # Per step, not running totals: the steps add up to the counts at the last step (what is
    # decided after it, for a pass that ends without another step, is in no step).
    stats = trainer.samples_generator._sg_stats
    for kind in ("keep", "drop"):
        assert sum(scalars[f"train/sparsegate/decisions/{kind}"].values()) == stats["decisions"][kind] > 0
    assert sum(scalars["train/sparsegate/observed_groups"].values()) == stats["observed_groups"]
    assert set(scalars["train/sparsegate/model_digest"].values()) == {float(0xc0ffee)}
    assert set(scalars["train/sparsegate/fail_open"].values()) == {0.0}
    assert 0.0 <= min(scalars["train/sparsegate/observed_pass_rate"].values())


def test_every_group_is_observed_and_the_quarantined_are_replaced(gate, tmp_path, monkeypatch, cancelled):
    # Defect 4: drops shrank the batch (prompts were replaced only after a finished group was
    # filtered) and replacement prompts were never decided.
    events = []  # ("dispatch", prompt id) and ("observe", prompt id, rewards), in the order they happen
    observe = gate.observe
    monkeypatch.setattr(gate, "observe",
                        lambda pid, r, **kw: (events.append(("observe", pid, list(r))), observe(pid, r, **kw)))
    args = remote_reward(tmp_path, "--train.num_episodes", "6")

    def recording(prompt, label, n):
        events.append(("dispatch", stable_id(prompt)))
        return respond(prompt, label, n)

    args.actor.model_name_or_path = recording
    trainer = train_ppo_ray.train(args)
    generator = trainer.samples_generator
    dispatched = [e[1] for e in events if e[0] == "dispatch"]
    observed = [e[1] for e in events if e[0] == "observe"]
    stats = gate.stats()
    # Every group that came back reached the plugin, the ones OpenRLHF's filter discarded included
    # (OpenRLHF cancels what is in flight when its iterator runs dry during a replacement).
    assert len(observed) == len(dispatched) - len(cancelled) and set(observed) <= set(dispatched)
    assert stats["unknown_prompt_observations"] == 0
    # A prompt observed with two all-zero groups is quarantined and never dispatched again.
    zero_groups = {}
    for event in events:
        if event[0] == "observe" and max(event[2]) == 0.0:
            zero_groups[event[1]] = zero_groups.get(event[1], 0) + 1
        if event[0] == "dispatch":
            assert zero_groups.get(event[1], 0) < 2, "a quarantined prompt was dispatched"
    assert stats["quarantined_prompts"] == 2 and stats["decisions"]["drop"] > 0
    # Dropped prompts were replaced from the same iterator; no pass went out fail-open.
    assert generator.sg_counts["replacement_draws"] > 0 and generator.sg_counts["fail_open_dispatches"] == 0
    # OpenRLHF's own dynamic filtering still keeps only the mixed groups.
    assert all(status["rollout/reward_mean"] == 0.5 for _, status in trainer.steps_log)


def test_prompts_consumed_counts_the_replacements(gate, tmp_path, monkeypatch):
    # Defect 4 too: prompts drawn to replace dropped ones must count as consumed.
    returned = []
    generate = adapter.SparsegateSamplesGenerator.generate_samples
    monkeypatch.setattr(adapter.SparsegateSamplesGenerator, "generate_samples",
                        lambda self, **kw: returned.append(generate(self, **kw)) or returned[-1])
    trainer = train_ppo_ray.train(remote_reward(tmp_path, "--train.num_episodes", "6"))
    assert trainer.samples_generator.sg_counts["replacement_draws"] > 0
    # Every episode draws the whole dataset once, dispatched, filtered or dropped before dispatch.
    assert sum(consumed for _, _, consumed, _ in returned) == 6 * len(ROWS)


def test_failed_reward_fetches_are_left_out_and_counted(gate, tmp_path, caplog, monkeypatch):
    # Defect 5: a failed fetch left a partial group pending for good.
    def flaky(prompt, label, n):
        answers = respond(prompt, label, n)
        if kind_of(prompt) == "easy":
            return [(text, None) for text, _ in answers]  # the reward server fails every time
        return [(text, None if i == 0 else r) for i, (text, r) in enumerate(answers)]

    args = remote_reward(tmp_path)
    args.actor.model_name_or_path = flaky
    # OpenRLHF's experience maker cannot train on a sample whose reward fetch failed (it asks for a
    # reward model); this test is about what the generator does, so the step itself is skipped.
    monkeypatch.setattr(ppo_trainer.BasePPOTrainer, "train_step", lambda self, samples, step: ({}, step + 1))
    with caplog.at_level(logging.WARNING, logger="sparsegate.openrlhf"):
        trainer = train_ppo_ray.train(args)
    generator = trainer.samples_generator
    calls = engine_calls(trainer)
    easy = sum(1 for c, _ in calls if kind_of(c) == "easy")
    assert generator.sg_counts["unscored_groups"] == easy
    assert generator.sg_counts["failed_rewards"] == easy * N + (len(calls) - easy)
    assert gate.stats()["observed_groups"] == len(calls) - easy
    assert generator._sg_pending == {}  # no half group left to mix with a later one
    assert "without scores" in caplog.text


def test_reward_model_path_trains_and_says_the_plugin_cannot_learn(gate, tmp_path, caplog):
    # Defect 5: with a reward model nothing was observed and nothing warned.
    args = parse(tmp_path)
    args.reward.model_name_or_path = lambda text: 1.0 if "wrong" not in text and "no idea" not in text else 0.0
    with caplog.at_level(logging.WARNING, logger="sparsegate.openrlhf"):
        trainer = train_ppo_ray.train(args)
    assert trainer.steps_log  # training ran on the reward model's rewards
    assert gate.stats()["observed_groups"] == 0
    assert trainer.samples_generator.sg_counts["unscored_groups"] == len(engine_calls(trainer))
    assert "learns only from --reward.remote_url" in caplog.text


def test_evaluation_is_untouched(gate, tmp_path, cancelled):
    args = remote_reward(tmp_path, "--eval.steps", "1")
    args.eval.dataset = [{"input": f"Eval {i} (mixed): compute {i} * 3.", "label": str(3 * i)} for i in range(2)]
    trainer = train_ppo_ray.train(args)
    calls = engine_calls(trainer)
    eval_calls = [c for c, _ in calls if c.startswith("<|im_start|>user\nEval")]
    assert eval_calls
    decided = {p["id"] for call in gate.decide_calls for p in call}
    assert not decided & {stable_id(c) for c in eval_calls}
    assert gate.stats()["observed_groups"] == len(calls) - len(eval_calls) - len(cancelled)


def test_resume_restores_the_plugin_with_the_model_and_loader(tmp_path, monkeypatch):
    # Defect 6: the plugin's one file ran ahead of the model and the loader after a resume.
    def impossible_observations(gate):
        seen = []
        observe = gate.observe
        gate.observe = lambda pid, r, **kw: (seen.append(pid), observe(pid, r, **kw))
        return seen

    def at_each_save(gate, seen):
        """The gate's state and the impossible observations so far, when each checkpoint is
        written (what OpenRLHF generates after its last step is in no checkpoint)."""
        saves = []
        save = ppo_trainer.BasePPOTrainer.save_logs_and_checkpoints

        def recording(self, global_step, logs_dict=None, client_states=None):
            path = tmp_path / f"state{len(saves)}.json"
            gate.save(str(path))
            saves.append((path.read_text(), sum(1 for pid in seen if pid in impossible)))
            return save(self, global_step, logs_dict, client_states)
        monkeypatch.setattr(ppo_trainer.BasePPOTrainer, "save_logs_and_checkpoints", recording)
        return saves

    impossible = {stable_id(f"<|im_start|>user\n{r['input']}<|im_end|>\n<|im_start|>assistant\n")
                  for r, k in zip(ROWS, KINDS) if k == "impossible"}
    first = PluginGate(no_reference_quarantine_after=2, quarantine_epochs=100)
    first_seen = impossible_observations(first)
    saves = at_each_save(first, first_seen)
    adapter.install(first)
    try:
        trainer = train_ppo_ray.train(remote_reward(tmp_path, "--ckpt.save_steps", "1"))
    finally:
        adapter.uninstall()
        monkeypatch.undo()
    last = trainer.steps_log[-1][0]
    states = torch.load(tmp_path / "ckpt" / "_actor" / f"global_step{last}" / "mp_rank_00_model_states.pt")
    last_state, before = saves[-1]
    assert states[adapter.CLIENT_STATE_KEY] == last_state  # the state after the last step
    assert before > 0

    resumed = PluginGate(no_reference_quarantine_after=2, quarantine_epochs=100)
    resumed_seen = impossible_observations(resumed)
    adapter.install(resumed)
    try:
        trainer = train_ppo_ray.train(remote_reward(tmp_path, "--ckpt.save_steps", "1", "--ckpt.load_enable",
                                                    "--train.num_episodes", "3"))
    finally:
        adapter.uninstall()
    assert trainer.steps_log[0][0] == last + 1  # the model resumed after the saved step...
    # ...and the plugin: each impossible prompt is quarantined after two all-zero groups over both
    # runs together, not two more.
    assert sum(1 for pid in resumed_seen if pid in impossible) == 2 * len(impossible) - before
    saved = json.loads(last_state)["state"]["counters"]["observed_groups"]
    assert resumed.stats()["observed_groups"] == saved + len(resumed_seen)


def test_a_resume_in_the_middle_of_a_pass_keeps_the_plugin_epoch(tmp_path):
    # Issue 24, item 5: every resume began a new plugin epoch, also when the restored dataloader
    # goes on in the middle of the pass the checkpoint interrupted.
    calls = []

    def crashing(prompt, label, n):  # the run dies during step 2 of the first pass
        calls.append(prompt)
        if len(calls) == 5:
            raise RuntimeError("node lost")
        return respond(prompt, label, n)

    def epochs(gate):
        began = []
        begin = gate.begin_epoch
        gate.begin_epoch = lambda epoch: (began.append(epoch), begin(epoch))
        return began

    url = ("--reward.remote_url", "http://127.0.0.1:5000/get_reward", "--ckpt.save_steps", "1")
    first = PluginGate()
    first_epochs = epochs(first)
    adapter.install(first)
    try:
        args = parse(tmp_path, *url)
        args.actor.model_name_or_path = crashing
        with pytest.raises(RuntimeError, match="node lost"):
            train_ppo_ray.train(args)
    finally:
        adapter.uninstall()
    assert first_epochs == [1]

    resumed = PluginGate()
    resumed_epochs = epochs(resumed)
    adapter.install(resumed)
    try:
        trainer = train_ppo_ray.train(parse(tmp_path, *url, "--ckpt.load_enable", "--train.num_episodes", "2"))
    finally:
        adapter.uninstall()
    assert [step for step, _ in trainer.steps_log] == [2, 3, 4]  # the rest of pass 1, then pass 2
    assert resumed_epochs == [2] and resumed.stats()["epoch"] == 2  # pass 1 stays epoch 1


GUIDE_KINDS = ["hard", "easy", "impossible", "hard"]
GUIDE_ROWS = [{"input": f"Problem {i} ({kind}): compute {i} * 3.", "label": str(3 * i),
               "solution": f"Multiply by three.\n{i} * 3 = {3 * i}.\nThe answer is {3 * i}."}
              for i, kind in enumerate(GUIDE_KINDS)]
HINT_MARK = "<partial_solution>"


def respond_with_hints(prompt, label, n):
    """The policy: solves easy prompts, hard ones only with a hint, impossible ones never."""
    kind = kind_of(prompt)
    solved = kind == "easy" or (kind == "hard" and HINT_MARK in prompt)
    return [(label, 1.0) if solved else ("no idea", 0.0)] * n


def guided_run(tmp_path, gate, *extra):
    adapter.install(gate, reference_key="solution")
    try:
        args = parse(tmp_path, "--reward.remote_url", "http://127.0.0.1:5000/get_reward", *extra)
        args.data.prompt_dataset = GUIDE_ROWS
        args.actor.model_name_or_path = respond_with_hints
        return train_ppo_ray.train(args)
    finally:
        adapter.uninstall()


def test_guide_rolls_out_hinted_prompts_and_observes_them_per_rung(tmp_path):
    # Issue 24, item 5: OpenRLHF had no GUIDE (KEEP or DROP only).
    gate = PluginGate(quarantine_epochs=100)
    trainer = guided_run(tmp_path, gate, "--train.num_episodes", "4")
    calls = [prompt for prompt, _ in engine_calls(trainer)]
    hinted = [p for p in calls if HINT_MARK in p]
    assert hinted and {kind_of(p) for p in hinted} == {"hard", "impossible"}
    # The hint is inside the user turn, the prompt finished by the dataset's chat template.
    assert all(p.index(HINT_MARK) < p.index("<|im_end|>") and p.endswith("<|im_start|>assistant\n") for p in hinted)
    stats = gate.stats()
    assert stats["decisions"]["guide"] > 0 and stats["decisions_by_hint_level"][1] > 0
    # Each hinted group is observed as the prompt it hints, on the rung the plugin chose.
    assert stats["unknown_prompt_observations"] == 0 and stats["observed_groups"] == len(calls)
    assert trainer.samples_generator._sg_ids == {}  # nothing left in flight
    # Hinted hard prompts pass: their groups are observed as all-pass ones, like the easy prompts'.
    passing = [p for p in calls if kind_of(p) == "easy" or (kind_of(p) == "hard" and HINT_MARK in p)]
    assert any(kind_of(p) == "hard" for p in passing) and stats["all_pass_groups"] == len(passing)


def test_guide_keeps_hinted_prompts_within_max_len(tmp_path):
    # OpenRLHF's executor keeps a prompt's last max_len - max_tokens tokens: a hint too long would
    # cut the prompt's start off. The hint is fitted instead (shortened, or withheld).
    longest = max(len(f"<|im_start|>user\n{r['input']}<|im_end|>\n<|im_start|>assistant\n") for r in GUIDE_ROWS)
    max_len = longest + 185  # the hint block and a short hint; one token left to generate
    gate = PluginGate(quarantine_epochs=100)
    trainer = guided_run(tmp_path, gate, "--train.num_episodes", "4", "--data.max_len", str(max_len))
    calls = [prompt for prompt, _ in engine_calls(trainer)]
    stats = gate.stats()
    assert stats["decisions"]["guide"] > 0
    assert stats["hints_shortened_to_fit"] + stats["hints_withheld_to_fit"] > 0
    assert max(len(p) for p in calls) <= max_len - 1  # CharTokenizer: one token per character


def test_setup_hook_builds_a_real_gate_in_the_trainer_process(tmp_path, monkeypatch):
    # Defect 7: the hook runs in every Ray worker; a gate is built only where a generator is.
    # What a Ray worker_process_setup_hook does in the PPOTrainer actor's process. The service is
    # unreachable here, so every decision fails open to KEEP and training goes on.
    monkeypatch.setenv("SPARSEGATE_TARGET", "127.0.0.1:1")
    monkeypatch.setenv("SPARSEGATE_OPTIONS", '{"deadline": 0.2, "max_attempts": 1}')
    adapter.setup_hook()
    try:
        assert ppo_trainer.SamplesGenerator is adapter.SparsegateSamplesGenerator
        trainer = train_ppo_ray.train(remote_reward(tmp_path))
    finally:
        adapter.uninstall()
    stats = trainer.samples_generator.stats()
    assert trainer.steps_log and stats["fail_open_decisions"] > 0
    assert stats["observed_groups"] > 0  # rewards are still learnt from


def test_setup_hook_does_nothing_without_a_target(monkeypatch):
    monkeypatch.delenv("SPARSEGATE_TARGET", raising=False)
    adapter.setup_hook()
    assert ppo_trainer.SamplesGenerator is samples_generator.SamplesGenerator is adapter.SamplesGenerator


def test_setup_hook_installs_only_where_the_trainer_module_is_imported():
    # Issue 24, item 5: Ray runs the setup hook in every worker, vLLM engines included; it imported
    # OpenRLHF's PPO trainer (and with it DeepSpeed) in each, which OpenRLHF itself avoids there.
    # A fresh interpreter stands for one Ray worker process.
    worker = textwrap.dedent("""
        import os, sys
        os.environ["SPARSEGATE_TARGET"] = "127.0.0.1:1"
        from sparsegate import openrlhf as adapter
        adapter.setup_hook()
        imported = sorted(m for m in sys.modules if m.startswith("openrlhf"))
        assert not imported, imported
        import openrlhf.trainer.ray.vllm_engine  # what a vLLM engine worker runs
        assert "openrlhf.trainer.ppo_trainer" not in sys.modules
        from openrlhf.trainer import ppo_trainer  # the trainer actor's process
        assert ppo_trainer.SamplesGenerator is adapter.SparsegateSamplesGenerator
        assert ppo_trainer.BasePPOTrainer.save_logs_and_checkpoints.__wrapped__
        from openrlhf.trainer.ppo_utils import samples_generator
        assert samples_generator.SamplesGenerator is adapter.SparsegateSamplesGenerator
        assert adapter.SamplesGenerator is not adapter.SparsegateSamplesGenerator
        print("ok")
    """)
    if os.environ.get("SPARSEGATE_REAL_FRAMEWORKS"):  # the worker needs the same fakes as this process
        worker = "import real_frameworks\nreal_frameworks.install()\n" + worker
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-c", worker], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr



def test_completion_lengths_reach_the_plugin_beside_their_rewards(tmp_path, gate):
    # Issue 23: signal_per_token learns what a rollout costs only from the lengths given to observe.
    # The stand-in's engine generates a token per character: a right answer is its label, a wrong
    # one "wrong" or "no idea".
    trainer = train_ppo_ray.train(remote_reward(tmp_path))
    assert trainer.steps_log and gate.observed
    label_of = {stable_id(f"<|im_start|>user\n{r['input']}<|im_end|>\n<|im_start|>assistant\n"): r["label"]
                for r in ROWS}
    for pid, rewards, lengths in gate.observed:
        assert lengths is not None, f"{pid} observed without completion lengths"
        wrong = {len("no idea"), len("wrong")}
        for reward, length in zip(rewards, lengths):
            assert length == len(label_of[pid]) if reward == 1.0 else length in wrong
