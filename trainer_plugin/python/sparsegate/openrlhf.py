"""OpenRLHF adapter: a SamplesGenerator that drops prompts before rollout and observes every group.

Read at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7 (openrlhf/trainer/ppo_utils/
samples_generator.py, ppo_trainer.py, utils/agent.py, trainer/ray/ppo_actor.py,
utils/deepspeed/deepspeed.py, cli/train_ppo_ray.py); tests/plugin_python/stubs/openrlhf mirrors them.
What OpenRLHF does, and what that means here:
- ``PPOTrainer`` is a Ray actor (``@ray.remote``) that builds ``SamplesGenerator(strategy,
  prompts_dataloader, eval_dataloader, tokenizer, vllm_engines)``, looked up as a global of
  ppo_trainer.py, and calls ``generate_samples(**generate_kwargs)`` once per step. So the gate lives
  in that actor's process: ``setup_hook`` is a Ray ``worker_process_setup_hook`` that installs the
  generator there (OpenRLHF has no hook of its own). The driver (cli/train_ppo_ray.py) imports
  ppo_trainer only inside ``train`` and the trainer actor's process imports it to build the actor;
  vLLM engines and model actors never do (trainer/__init__.py and trainer/ray/__init__.py keep
  DeepSpeed out of vLLM's processes), so the hook only arms an import hook: install() runs where
  ppo_trainer is imported, and importing this module imports nothing of OpenRLHF.
- ``_generate_vllm`` draws prompts from the dataloader iterator (``_collect_prompt_batch``), sends
  them in one ``_dispatch_prompts_to_vllm(prompts, labels, *, images=None, **generate_kwargs)``
  call (one Ray ref per prompt, answering its n samples), and turns each ref's responses into
  Experiences with ``_process_response_into_experience`` in completion order. With
  ``--algo.dynamic_filtering_enable`` a group whose mean score is not strictly inside
  ``--algo.dynamic_filtering_range`` is dropped and one replacement prompt is drawn and dispatched
  through the same ``_dispatch_prompts_to_vllm``.
- Prompts reach the generator as finished text: PromptDataset (imported by name into
  ppo_trainer.py, built in ``prepare_datasets``) runs ``preprocess_data`` on each row, the
  tokenizer's chat template (``--data.apply_chat_template``) or ``--data.input_template`` over
  ``data[input_key]``. SingleTurnAgentExecutor tokenizes the prompt as it is and keeps its last
  ``max_len - max_tokens`` tokens (``max_tokens`` = ``--rollout.max_new_tokens``, or when unset
  at least 1): an overlong prompt loses its start.
- Rewards: with ``--reward.remote_url`` each response carries "reward" and "scores" (None when the
  fetch failed, which OpenRLHF only logs); with a reward model they are None until
  ``RemoteExperienceMaker.make_experience`` fills them in, after generation.
- ``fit`` passes each step's status dict and ``client_states`` (episode, global_step, consumed
  prompts, dataloader state) to ``save_logs_and_checkpoints``, which hands the status to the
  wandb / tensorboard loggers (``log_train``; tensorboard's ``add_scalar`` takes numbers only)
  every ``--logger.logging_steps`` steps and stores the client states in the DeepSpeed checkpoint
  ``<ckpt.path>/_actor/global_step{N}``; on resume ``init_checkpoint_states`` returns them.

Contract of SparsegateSamplesGenerator (training only; evaluation is untouched):
- GUIDE, with ``install(reference_key=...)``: the prompt dataset is OpenRLHF's with a record per
  finished prompt (the row's input, its reference solution from that column, and how the dataset
  finishes an input). Such prompts are scored on their user text with the reference; a GUIDE
  decision is dispatched as the prompt finished again by OpenRLHF's ``preprocess_data`` from the
  input with the hint appended to its (last user) text, so the hint sits inside the user turn,
  and its samples (Experience.prompts) are the hinted prompt. Hints are fitted to the
  executor's budget (``max_len - max_new_tokens``, or ``max_len - 1``), counted with the
  generator's tokenizer: shorter on a step boundary, or withheld. The group's rewards are
  observed as the unhinted prompt's, which the plugin credits to the rung it chose. Without
  ``reference_key``: KEEP or DROP on the finished text.
- Before rollout: every dispatched prompt (the first dispatch of a step and each dynamic-filtering
  replacement) is decided by the gate. A dropped or deferred prompt is replaced by the next prompts
  of the same dataloader iterator, themselves decided, so the rollout batch keeps its size; at
  most ``max_replacement_draws`` times the dispatch's size are drawn; what is not filled is not
  dispatched (OpenRLHF then draws again, or ends the pass when its iterator runs dry). Only if a
  whole pass over the prompts would dispatch nothing does the last dispatch go out as drawn
  (fail-open), so the gate alone never leaves an episode without a step. The extra
  prompts drawn are added to ``prompts_consumed`` (and to the filter pass rate's denominator).
- After rollout: when a prompt's n responses are in, its group is observed with the scores that
  came back ("scores", else "reward"), before OpenRLHF's dynamic filtering can discard it, and
  with each response's generated tokens (the sum of the experience's ``action_mask``: the action
  ranges the agent executor recorded, after truncation; environment tokens between the turns of
  a multi-turn rollout are not counted, unlike ``response_length``, which spans them).
  Responses whose reward fetch failed are left out (``failed_rewards``); a group without any score
  (every fetch failed, or the reward-model path) is not observed (``unscored_groups``, warned once).
- Prompt ids are stable hashes of the prompt text. Each new pass over the prompt dataloader (a
  new iterator) begins the plugin's next epoch, except the first one after a resume from a
  checkpoint taken in the middle of a pass (``client_states["sparsegate_pass_open"]``): the
  restored dataloader finishes that pass, and the restored plugin stays in its epoch.
- Metrics: every step, the plugin's counters for that step (``_prompts.plugin_metrics``:
  decisions per kind, fail-open, hint levels, predicted and observed pass rate, time in
  Gate.decide, model digest) join the status dict OpenRLHF logs, under ``sparsegate/``.
- The plugin's state rides in ``client_states["sparsegate_plugin"]``: saved with every checkpoint
  (and best checkpoint), restored when OpenRLHF resumes from it (``--ckpt.load_enable``). Model,
  dataloader and plugin continue at the same step.
"""

import json
import logging
import importlib
import importlib.abc
import os
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._prompts import plugin_metrics, prompt_text, stable_id, with_hint
from .filters import GroupFilter

logger = logging.getLogger(__name__)

CLIENT_STATE_KEY = "sparsegate_plugin"
PASS_OPEN_KEY = "sparsegate_pass_open"  # the checkpoint was taken in the middle of a pass
# Importing this module imports nothing of OpenRLHF (its samples generator pulls in Ray and vLLM):
# SparsegateSamplesGenerator and SamplesGenerator are made when first asked for (module
# __getattr__), so that setup_hook can run in every Ray worker at no cost.
_TRAINER_MODULES = ("openrlhf.trainer.ppo_trainer", "openrlhf.trainer.ppo_trainer_async")
_classes: Dict[str, type] = {}


def _sg_module():
    return importlib.import_module("openrlhf.trainer.ppo_utils.samples_generator")


def _generator_classes() -> Dict[str, type]:
    """OpenRLHF's SamplesGenerator (as it was before install()) and SparsegateSamplesGenerator over it."""
    if not _classes:
        base = _sg_module().SamplesGenerator
        base = getattr(base, "_sg_base", base)  # install() has replaced it already (another import path)
        cls = type("SparsegateSamplesGenerator", (_SparsegateGenerator, base),
                   {"__doc__": _SparsegateGenerator.__doc__, "__module__": __name__, "_sg_base": base})
        _classes.update(SamplesGenerator=base, SparsegateSamplesGenerator=cls)
    return _classes


def __getattr__(name: str):
    if name in ("SamplesGenerator", "SparsegateSamplesGenerator"):
        return _generator_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _samples_per_prompt(args: Any, generate_kwargs: Dict[str, Any]) -> int:
    if "n_samples_per_prompt" in generate_kwargs:  # what _dispatch_prompts_to_vllm reads first
        return int(generate_kwargs["n_samples_per_prompt"])
    return int(args.rollout.n_samples_per_prompt)


def _generated_tokens(experience: Any) -> int:
    """Tokens the policy generated for one response: OpenRLHF 3c3be62's samples_generator sets
    ``action_mask`` to 1 on the agent's action ranges only."""
    return int(experience.action_mask.sum().item())


def _score(response: Dict[str, Any]) -> Optional[float]:
    """One response's score ("scores", else "reward") as one number, or None.

    SingleTurnAgentExecutor passes the reward server's JSON answer on as it is, and OpenRLHF's own
    server (cli/serve_rm.py) answers one value per query in a list: ``[r]`` for the one query each
    response is fetched with. A custom ``reward_func`` file may answer a tensor, a custom server a
    number. So a score is a number, or a list, tuple or tensor holding exactly one; anything else
    is no score for this sample (None, counted in ``failed_rewards``), as OpenRLHF's own dynamic
    filter (``e.scores[0].item()``) could not read it either.
    """
    score = response.get("scores")
    if score is None:
        score = response.get("reward")
    if score is None:
        return None
    if hasattr(score, "flatten"):  # torch and numpy
        values = score.flatten().tolist()
    elif isinstance(score, (list, tuple)):
        values = list(score)
        while len(values) == 1 and isinstance(values[0], (list, tuple)):
            values = list(values[0])
    else:
        return float(score)
    if len(values) != 1:
        return None
    value = values[0]
    return float(value.item() if hasattr(value, "item") else value)


class _SparsegateGenerator:
    """OpenRLHF's SamplesGenerator with sparsegate before and after rollout (module docstring).
    The methods of SparsegateSamplesGenerator, which puts them before OpenRLHF's class."""

    gate_factory: Optional[Callable[[], Any]] = None  # set by install()
    drop_before_rollout: bool = True
    max_replacement_draws: int = 4

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        factory = type(self).gate_factory
        self.gate = factory() if factory is not None else None
        self.sg_counts = {"replacement_draws": 0, "fail_open_dispatches": 0, "failed_rewards": 0,
                          "unscored_groups": 0}
        self._sg_training = False
        # Per prompt of the step: (score or None, generated tokens) of each response so far.
        self._sg_pending: Dict[str, List[Tuple[Optional[float], int]]] = {}
        self._sg_extra_consumed = 0
        self._sg_exhausted = False
        self._sg_pass_dispatched = 0  # prompts dispatched in this pass over the dataloader
        self._sg_warned = False
        self._sg_filter = GroupFilter(self.gate) if self.gate is not None else None
        self._sg_stats = self.gate.stats() if self.gate is not None else None  # at the last step's log
        self._sg_scoring_seconds = 0.0
        self._sg_continue_epoch = False  # the next new iterator finishes a resumed pass
        self._sg_ids: Dict[str, Tuple[str, int]] = {}  # hinted text in flight -> (prompt id, dispatches)

    # --- one training step ----------------------------------------------------------------------

    def generate_samples(self, **generate_kwargs) -> Tuple[List[Any], Optional[float], int, bool]:
        if self.gate is None:
            return super().generate_samples(**generate_kwargs)
        self._sg_training, self._sg_extra_consumed, self._sg_exhausted = True, 0, False
        if getattr(self, "_dataloader_iter", None) is None:
            # A new iterator: the plugin's next epoch, unless it resumes a pass that a checkpoint
            # interrupted (the restored loader goes on where that pass was), whose epoch the
            # restored plugin is already in.
            if self._sg_continue_epoch:
                self._sg_continue_epoch = False
            else:
                self.gate.begin_epoch(int(self.gate.stats()["epoch"]) + 1)
            self._sg_pass_dispatched = 0
        try:
            samples, pass_rate, consumed, exhausted = super().generate_samples(**generate_kwargs)
        finally:
            self._sg_training = False
        if self._sg_extra_consumed:
            if pass_rate is not None and consumed:
                pass_rate = pass_rate * consumed / (consumed + self._sg_extra_consumed)
            consumed += self._sg_extra_consumed
        if self._sg_exhausted and getattr(self, "_dataloader_iter", None) is not None:
            # Replacement draws emptied the iterator: say so now, as OpenRLHF would have.
            self._dataloader_iter = None
            exhausted = not self._sample_buffer
        return samples, pass_rate, consumed, exhausted

    # --- before rollout -------------------------------------------------------------------------

    def _dispatch_prompts_to_vllm(self, prompts, labels, *, images=None, **generate_kwargs):
        if self._sg_training and self.drop_before_rollout and prompts:
            prompts, labels, images = self._sg_choose(list(prompts), list(labels), images, generate_kwargs)
            if not prompts:
                return []
            self._sg_pass_dispatched += len(prompts)
        return super()._dispatch_prompts_to_vllm(prompts, labels, images=images, **generate_kwargs)

    def _sg_rows(self) -> Dict[str, Any]:
        """What SparsegatePromptDataset kept per prompt (empty without install(reference_key=...))."""
        dataset = getattr(self.prompts_dataloader, "dataset", None)
        return getattr(dataset, "sparsegate_rows", None) or {}

    def _sg_prompt_budget(self, generate_kwargs: Dict[str, Any]) -> int:
        # SingleTurnAgentExecutor keeps the prompt's LAST max_len - max_tokens tokens (max_tokens =
        # max_new_tokens, or when unset at least 1): a longer hinted prompt would lose its start.
        max_len = int(generate_kwargs.get("max_len", 2048))
        return max_len - int(generate_kwargs.get("max_new_tokens") or 1)

    def _sg_decide(self, batch, generate_kwargs: Dict[str, Any]) -> List[Any]:
        """Decides a batch of (prompt, label, image); returns, per candidate, the prompt to dispatch
        (the hinted one for GUIDE) or None (dropped / deferred)."""
        rows = self._sg_rows()
        described, fits_rows = [], []
        for prompt, _, _ in batch:
            row = rows.get(prompt)
            if row is None:  # not from SparsegatePromptDataset: KEEP or DROP on the finished text
                described.append({"id": stable_id(prompt), "text": prompt})
            else:  # the user's text, as the other adapters score it; the reference enables GUIDE
                described.append({"id": stable_id(prompt), "text": prompt_text(row["input"]),
                                  "reference": row["reference"]})
            fits_rows.append(row)
        budget = self._sg_prompt_budget(generate_kwargs)

        def fits(i: int, text: str) -> bool:
            row = fits_rows[i]
            hinted = row["render"](with_hint(row["input"], text[len(described[i]["text"]):]))
            return len(self.tokenizer(text=hinted, add_special_tokens=False)["input_ids"]) <= budget

        started = time.perf_counter()
        decisions = self.gate.decide(described, fits=fits) if any(fits_rows) else self.gate.decide(described)
        self._sg_scoring_seconds += time.perf_counter() - started
        out = []
        for (prompt, _, _), row, decision in zip(batch, fits_rows, decisions):
            if not decision.rolled_out:
                out.append(None)
                continue
            if row is not None and decision.kind == "guide" and decision.hint_text:
                hinted = row["render"](with_hint(row["input"], decision.hint_text))
                # Its rewards are the unhinted prompt's (the plugin knows the rung it chose).
                pid, outstanding = self._sg_ids.get(hinted, (stable_id(prompt), 0))
                self._sg_ids[hinted] = (pid, outstanding + 1)
                prompt = hinted
            out.append(prompt)
        return out

    def _sg_choose(self, prompts: List[str], labels: List[Any], images: Optional[List[Any]],
                   generate_kwargs: Optional[Dict[str, Any]] = None):
        """The prompts to dispatch in place of ``prompts``: the rolled-out ones (hinted when
        guided), topped up with replacements from the training iterator (module docstring)."""
        generate_kwargs = generate_kwargs or {}
        had_images = images is not None
        candidates = list(zip(prompts, labels, images if had_images else [None] * len(prompts)))
        need, budget = len(candidates), len(candidates) * self.max_replacement_draws
        chosen, batch = [], candidates
        while batch:
            dispatched = self._sg_decide(batch, generate_kwargs)
            chosen += [(p, label, image) for (_, label, image), p in zip(batch, dispatched) if p is not None]
            missing = need - len(chosen)
            iterator = getattr(self, "_dataloader_iter", None)
            if missing <= 0 or budget <= 0 or iterator is None or self._sg_exhausted:
                break
            new_prompts, new_labels, new_images, exhausted = _sg_module()._collect_prompt_batch(
                iterator, min(missing, budget))
            budget -= len(new_prompts)
            self._sg_extra_consumed += len(new_prompts)
            self.sg_counts["replacement_draws"] += len(new_prompts)
            self._sg_exhausted = self._sg_exhausted or exhausted
            batch = list(zip(new_prompts, new_labels, new_images))
            had_images = had_images or any(i is not None for i in new_images)
        if not chosen:
            if not (self._sg_exhausted and self._sg_pass_dispatched == 0):
                return [], [], None
            chosen = candidates
            self.sg_counts["fail_open_dispatches"] += 1
        prompts, labels, images = (list(column) for column in zip(*chosen))
        return prompts, labels, (images if had_images else None)

    # --- after rollout --------------------------------------------------------------------------

    def _process_response_into_experience(self, response, **generate_kwargs):
        experience = super()._process_response_into_experience(response, **generate_kwargs)
        if self._sg_training:
            dispatched = response["prompt"]
            prompt = self._sg_ids[dispatched][0] if dispatched in self._sg_ids else stable_id(dispatched)
            responses = self._sg_pending.setdefault(prompt, [])
            responses.append((_score(response), _generated_tokens(experience)))
            if len(responses) >= _samples_per_prompt(self.args, generate_kwargs):
                del self._sg_pending[prompt]
                self._sg_observe(prompt, responses)
                if dispatched in self._sg_ids:  # one hinted dispatch fewer in flight
                    pid, outstanding = self._sg_ids[dispatched]
                    if outstanding > 1:
                        self._sg_ids[dispatched] = (pid, outstanding - 1)
                    else:
                        del self._sg_ids[dispatched]
        return experience

    def _sg_observe(self, prompt_id: str, responses: List[Tuple[Optional[float], int]]) -> None:
        known = [(score, tokens) for score, tokens in responses if score is not None]
        self.sg_counts["failed_rewards"] += len(responses) - len(known)
        if known:
            self._sg_filter.observe_group(prompt_id, [s for s, _ in known], [t for _, t in known])
            return
        self.sg_counts["unscored_groups"] += 1
        if not self._sg_warned:
            self._sg_warned = True
            logger.warning("sparsegate: a group came back without scores (a reward model scores after "
                           "generation, or every reward fetch failed); the plugin learns only from "
                           "--reward.remote_url scores. Counted in sg_counts['unscored_groups'].")

    # --- checkpoints ----------------------------------------------------------------------------

    def sg_state(self) -> str:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "plugin.json")
            self.gate.save(path)
            with open(path) as f:
                return f.read()

    def sg_restore(self, state: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "plugin.json")
            with open(path, "w") as f:
                f.write(state)
            self.gate.load(path)
        self._sg_stats = self.gate.stats()  # the restored counts are not the next step's

    def sg_metrics(self) -> Dict[str, float]:
        """The plugin's counters since the last call, for OpenRLHF's logs dict (one step's)."""
        stats = self.gate.stats()
        metrics = plugin_metrics(stats, self._sg_stats, self._sg_scoring_seconds)
        self._sg_stats, self._sg_scoring_seconds = stats, 0.0
        return metrics

    def stats(self) -> Dict[str, Any]:
        """The gate's stats plus the generator's own counts, for a logger."""
        stats = self.gate.stats()
        stats["generator"] = dict(self.sg_counts)
        return stats


def _prompt_dataset_class(reference_key: str) -> type:
    """OpenRLHF's PromptDataset that also keeps, per finished prompt, what GUIDE needs: the row's
    input (a string or a chat), its reference solution (column ``reference_key``), and how to
    finish a hinted input the way this dataset finished the prompt (OpenRLHF's own
    ``preprocess_data`` with the dataset's chat template or input template)."""
    module = importlib.import_module("openrlhf.datasets.prompts_dataset")
    base = getattr(module.PromptDataset, "_sg_base", module.PromptDataset)

    def __init__(self, dataset, tokenizer, strategy, input_template=None):
        base.__init__(self, dataset, tokenizer, strategy, input_template=input_template)
        data_args = strategy.args.data
        input_key = getattr(data_args, "input_key", None)
        label_key = getattr(data_args, "label_key", None)
        template = tokenizer.apply_chat_template if getattr(data_args, "apply_chat_template", False) else None

        def renderer(data):
            return lambda hinted: module.preprocess_data({**data, input_key: hinted}, input_template, input_key,
                                                         label_key, template)[0]

        self.sparsegate_rows = {}
        for data, prompt in zip(dataset, self.prompts):
            reference = data.get(reference_key)
            self.sparsegate_rows[prompt] = {
                "input": data[input_key], "render": renderer(data),
                "reference": reference if isinstance(reference, str) and reference else None}

    return type("SparsegatePromptDataset", (base,), {"__init__": __init__, "__module__": __name__,
                                                     "__doc__": _prompt_dataset_class.__doc__, "_sg_base": base})


def _with_plugin_state(save_logs_and_checkpoints):
    def wrapped(self, global_step, logs_dict=None, client_states=None):
        generator = getattr(self, "samples_generator", None)
        if isinstance(generator, _SparsegateGenerator) and generator.gate is not None:
            # The step's counters join the step's status dict, which this method hands to the
            # wandb / tensorboard loggers (every --logger.logging_steps; numbers only).
            logs_dict = logs_dict if logs_dict is not None else {}
            logs_dict.update(generator.sg_metrics())
            # In place: fit() passes the same dict to save_best_checkpoint afterwards.
            client_states = client_states if client_states is not None else {}
            client_states[CLIENT_STATE_KEY] = generator.sg_state()
            client_states[PASS_OPEN_KEY] = getattr(generator, "_dataloader_iter", None) is not None
        return save_logs_and_checkpoints(self, global_step, logs_dict, client_states)
    wrapped.__wrapped__ = save_logs_and_checkpoints
    return wrapped


def _restoring_plugin_state(init_checkpoint_states):
    def wrapped(self):
        states = init_checkpoint_states(self)
        generator = getattr(self, "samples_generator", None)
        if isinstance(generator, _SparsegateGenerator) and generator.gate is not None:
            state = states.get(CLIENT_STATE_KEY) if states else None
            if state:
                generator.sg_restore(state)
                generator._sg_continue_epoch = bool(states.get(PASS_OPEN_KEY))
                logger.info("sparsegate: plugin resumed at global step %s", states.get("global_step"))
            elif states and states.get("global_step"):
                logger.warning("sparsegate: the checkpoint at global step %s holds no plugin state; "
                               "the plugin starts fresh", states.get("global_step"))
        return states
    wrapped.__wrapped__ = init_checkpoint_states
    return wrapped


def install(gate: Any = None, *, gate_factory: Optional[Callable[[], Any]] = None,
            drop_before_rollout: bool = True, max_replacement_draws: int = 4,
            reference_key: Optional[str] = None) -> type:
    """Makes OpenRLHF build SparsegateSamplesGenerator in this process, around ``gate`` or a gate
    made by ``gate_factory()`` when the generator is built, and carry the plugin's state in its
    checkpoints. With ``reference_key`` (a dataset column holding a worked solution) the prompt
    dataset keeps each row's input and reference, and GUIDE decisions are rolled out as hinted
    prompts. Idempotent; works before or after OpenRLHF's trainer module is imported."""
    if (gate is None) == (gate_factory is None):
        raise ValueError("install() takes a gate or a gate_factory, exactly one")
    cls = _generator_classes()["SparsegateSamplesGenerator"]
    cls.gate_factory = staticmethod(gate_factory if gate_factory is not None else (lambda: gate))
    cls.drop_before_rollout = drop_before_rollout
    cls.max_replacement_draws = int(max_replacement_draws)
    _sg_module().SamplesGenerator = cls
    from openrlhf.trainer import ppo_trainer
    ppo_trainer.SamplesGenerator = cls
    dataset_cls = _prompt_dataset_class(reference_key) if reference_key else None
    ppo_trainer.PromptDataset = dataset_cls or getattr(ppo_trainer.PromptDataset, "_sg_base", ppo_trainer.PromptDataset)
    base = ppo_trainer.BasePPOTrainer
    if not hasattr(base.save_logs_and_checkpoints, "__wrapped__"):
        base.save_logs_and_checkpoints = _with_plugin_state(base.save_logs_and_checkpoints)
    if not hasattr(base.init_checkpoint_states, "__wrapped__"):
        base.init_checkpoint_states = _restoring_plugin_state(base.init_checkpoint_states)
    async_module = sys.modules.get("openrlhf.trainer.ppo_trainer_async")
    if async_module is not None and hasattr(async_module, "SamplesGenerator"):
        async_module.SamplesGenerator = cls
    return cls


def uninstall() -> None:
    """Undoes install() (and setup_hook()) in this process."""
    _remove_import_hook()
    from openrlhf.trainer import ppo_trainer
    base = _generator_classes()["SamplesGenerator"]
    _sg_module().SamplesGenerator = base
    ppo_trainer.SamplesGenerator = base
    ppo_trainer.PromptDataset = getattr(ppo_trainer.PromptDataset, "_sg_base", ppo_trainer.PromptDataset)
    async_module = sys.modules.get("openrlhf.trainer.ppo_trainer_async")
    if async_module is not None and hasattr(async_module, "SamplesGenerator"):
        async_module.SamplesGenerator = base
    base = ppo_trainer.BasePPOTrainer
    for name in ("save_logs_and_checkpoints", "init_checkpoint_states"):
        method = getattr(base, name)
        if hasattr(method, "__wrapped__"):
            setattr(base, name, method.__wrapped__)
    _generator_classes()["SparsegateSamplesGenerator"].gate_factory = None


class _AfterExec(importlib.abc.Loader):
    """A module's own loader, then ``then()`` once the module has run."""

    def __init__(self, loader, then: Callable[[], None]):
        self._loader, self._then = loader, then

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        self._then()

    def __getattr__(self, name):  # get_source, is_package, ...: the module's own loader answers
        return getattr(self._loader, name)


class _InstallOnImport(importlib.abc.MetaPathFinder):
    """Runs ``install_now()`` right after OpenRLHF's trainer module (or its async variant) has run,
    in whichever process imports it; other imports pass through untouched."""

    def __init__(self, install_now: Callable[[], None]):
        self.install_now = install_now

    def find_spec(self, fullname, path, target=None):
        if fullname not in _TRAINER_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _AfterExec(spec.loader, self.install_now)
                return spec
        return None


def _remove_import_hook() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _InstallOnImport)]


def setup_hook() -> None:
    """A Ray ``worker_process_setup_hook``: installs the generator when SPARSEGATE_TARGET is set,
    in the process that imports OpenRLHF's trainer module, and nowhere else.

    Ray runs the hook in every worker process: vLLM engines, model actors, the trainer actor. It
    imports nothing of OpenRLHF (OpenRLHF itself keeps DeepSpeed out of its vLLM workers); it
    registers an import hook, and install() runs when ``openrlhf.trainer.ppo_trainer`` is
    imported, which happens where the PPOTrainer actor is made (Ray imports an actor's class by
    its module there) and in the driver that submits it, where no generator, hence no Gate, is
    built. If that module is already imported, install() runs at once. Environment:
    SPARSEGATE_TARGET (the service address), SPARSEGATE_OPTIONS (JSON of further Gate.create
    keywords), SPARSEGATE_REFERENCE_KEY (the dataset column with worked solutions: GUIDE).
    """
    target = os.environ.get("SPARSEGATE_TARGET")
    if not target:
        return
    options = json.loads(os.environ.get("SPARSEGATE_OPTIONS") or "{}")
    reference_key = os.environ.get("SPARSEGATE_REFERENCE_KEY") or None

    def make_gate():
        from . import _core
        return _core.Gate.create(target=target, **options)

    def install_now():
        install(gate_factory=make_gate, reference_key=reference_key)

    _remove_import_hook()
    if any(name in sys.modules for name in _TRAINER_MODULES):
        install_now()
    else:
        sys.meta_path.insert(0, _InstallOnImport(install_now))
