"""verl adapter: a curriculum sampler that gates each prompt before rollout and learns after it.

Read at verl b178a3cd56f58b2d502255daba591e92833930a7 (verl/trainer/main_ppo.py, ppo/ray_trainer.py,
ppo/reward.py, experimental/agent_loop/, utils/dataset/rl_dataset.py, experimental/dataset/sampler.py,
workers/reward_manager/) and torchdata's StatefulDataLoader, and at verl-recipe
21892b9276936efab5375c3f6b8415e472ef7118 (dapo/dapo_ray_trainer.py, the recipe commit verl b178a3c
pins); tests/plugin_python/stubs/verl and stubs/recipe mirror them.

What verl does with a sampler, and what that means here:
- The TaskRunner builds dataset and sampler (``data.custom_cls``; ``data.sampler.class_path`` /
  ``class_name``, called as ``cls(data_source=dataset, data_config=config.data)``, with
  ``data.dataloader_num_workers == 0``), and a StatefulDataLoader draws ``gen_batch_size`` indices
  per step from ``iter(sampler)`` in that process. Rows are read there, so a hint the sampler set
  on the dataset reaches the agent loop inside ``raw_prompt``.
- ``_get_gen_batch`` pops every non-tensor column except ``data_source``, ``reward_model``,
  ``extra_info`` and ``uid`` into the generation batch, and the agent loop returns only
  ``raw_prompt`` and reward extras: ``index`` and custom columns never reach ``update``.
  SparsegateDataset therefore writes the prompt id into ``extra_info["sparsegate_id"]``.
- The agent loop does not truncate prompts, and over-long prompts are filtered only when the
  dataset loads, unhinted: a hint is fitted to ``data.max_prompt_length`` counted exactly as the
  dataset's filter counts (Gate.decide's ``fits``; rl_dataset.py 181-261): its chat template
  arguments, ``tools=`` the schemas of ``data.tool_config_path`` when set (the agent loop passes
  the same ones), and with a processor (multimodal models) the processor's count over the text and
  the row's images and videos. The hint is shortened or withheld when needed.
- verl's loader drops the last incomplete batch (``drop_last=True``, ray_trainer.py 314-370), so
  the sampler yields ``len(data_source) // batch_size`` full batches per epoch and decides no
  prompt that would be dropped.
- ``_save_checkpoint`` (``global_step_N/data.pt`` = the loader's state_dict) runs before
  ``sampler.update`` in the same step. The sampler is Stateful (state_dict / load_state_dict), so
  data.pt holds its position and the loader does not fast-forward it by drawing indices (which
  would decide batches nobody trains on). With ``checkpoint_dir`` set to
  ``${trainer.default_local_dir}``, ``update`` of a step whose data.pt was just written (the
  loader asked for the sampler's state) writes the plugin's state into that ``global_step_N``
  folder, also under ``async_save``, where verl writes no tracker file; a resume reads it back
  from the folder verl resumes from: model, loader and plugin continue at the same step. If that
  file is missing (a crash between verl's save and ``update``), the plugin resumes from data.pt,
  without step N's observations, and the sampler still counts steps from N.

Metrics: verl's per-step ``metrics`` dict lives inside ``fit`` and reaches no sampler; the one
call that receives it is ``self._balance_batch(batch, metrics=metrics)`` (on by default,
``trainer.balance_batch``), in RayPPOTrainer.fit before the rewards and in the DAPO recipe after its
filter. ``SparsegateMetrics``, mixed into the trainer class, hands that dict to the sampler, which
adds ``sparsegate/...`` scalars to it once per step (after observing in ``update``; at once under
the DAPO reward hook, which observed before), so verl's tracker logs them with the step. Without
the mixin, ``SparsegateSampler.metrics()`` returns the same dict.

DAPO (verl-recipe 21892b9, ``RayDAPOTrainer.fit``) never calls ``sampler.update``, and filters
groups inline; the one per-generation-batch call it makes on a configurable object before the
filter is ``compute_reward(new_batch, self.reward_fn)``, with the uids set. ``SparsegateDAPORewardManager``
(verl's DAPORewardManager, selected with ``reward_manager.source: importlib``) observes every group
there, the ones DAPO's filter then drops included, and DAPO's own rule does the filtering.

Contract of SparsegateSampler:
- Each epoch yields exactly the ``(len(data_source) // batch_size) * batch_size`` indices verl's
  loader trains on (its step count stays right): a shuffled order (``data.shuffle``,
  ``data.seed``), gated batch by batch. Decisions for a batch
  are made when the loader asks for its first index, so after ``update`` of the previous step.
  A dropped or deferred prompt is replaced by the next candidate in the order, continuing into a
  fresh order at the end; if a whole pass of candidates is dropped, candidates are yielded
  anyway (fail-open) rather than stalling training.
- GUIDE needs SparsegateDataset (``data.custom_cls``): the hinted prompt replaces the row's
  ``raw_prompt`` user turn. With any other dataset the sampler passes no reference solutions, so
  decisions are only KEEP or DROP and no rollout is ever mislabelled as hinted.
- ``update(batch)`` observes every group (rows sharing a uid, wherever balance_batch put them)
  under the id it was decided under: ``extra_info["sparsegate_id"]``, else ``id_key``; a prompt
  text is hashed only where no hint can have changed it (no SparsegateDataset). A batch whose rows
  carry no id is an error that says what to configure.

Configuration: ``data.sampler.sparsegate``, a mapping. These keys are the adapter's:
  checkpoint_dir   ``${trainer.default_local_dir}``: plugin state saved into verl's step folders
  checkpoint       a plugin checkpoint file written after every update, and loaded at start when
                   present (for runs without verl checkpoints; prefer checkpoint_dir)
  reference_key    dotted path of the reference solution in a dataset row, e.g. "extra_info.solution"
  id_key           dotted path of a stable prompt id, e.g. "extra_info.index"; default: a hash of
                   the unhinted prompt text
  reward_key       "acc" (default when present), "seq_reward", "seq_final_reward", or any
                   non_tensor_batch key
  wait_for_service seconds to wait for the service at start-up (default 0: do not wait)
and every other key goes to ``Gate.create`` (target, layers, deadline, hint_ladder, ...).
"""

import copy
import logging
import os
import random
import tempfile
import time
import weakref
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Sized

from omegaconf import DictConfig
from verl import DataProto
from verl.experimental.dataset.sampler import AbstractCurriculumSampler
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.workers.reward_manager import DAPORewardManager

from . import _core
from ._prompts import hinted_prompt, lookup, plugin_metrics, prompt_text, stable_id, with_hint
from .filters import ID_FIELD, GroupFilter, verl_completion_tokens, verl_metric, verl_prompt_ids

logger = logging.getLogger(__name__)

_ADAPTER_KEYS = ("checkpoint", "checkpoint_dir", "reference_key", "id_key", "reward_key", "wait_for_service")
STEP_CHECKPOINT = "sparsegate_plugin.json"  # inside verl's global_step_N folder
METRICS_PREFIX = "sparsegate/"

# The sampler of this process, for the DAPO reward hook: verl builds the reward manager and the
# sampler separately (both in the TaskRunner process), and neither is handed the other.
_active_sampler: Optional["weakref.ReferenceType"] = None


def active_sampler() -> Optional["SparsegateSampler"]:
    """The SparsegateSampler most recently built in this process, if it is still alive."""
    return _active_sampler() if _active_sampler is not None else None


def _plain(value: Any) -> Any:
    """A DictConfig / ListConfig tree as plain dicts and lists (what the C++ bindings accept)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    return value


def sparsegate_options(data_config: Any) -> Dict[str, Any]:
    """``data.sampler.sparsegate`` as a plain dict ({} when absent)."""
    sampler = data_config.get("sampler") or {}
    return _plain(sampler.get("sparsegate") or {})


class _RowReader:
    """Reads a dataset row's prompt id, text and reference the same way everywhere."""

    def __init__(self, data_config: Any):
        options = sparsegate_options(data_config)
        self.prompt_key = data_config.get("prompt_key", "prompt")
        self.id_key: Optional[str] = options.get("id_key")
        self.reference_key: Optional[str] = options.get("reference_key")

    def prompt_id(self, row: Mapping[str, Any]) -> str:
        """From the unhinted dataset row: ``id_key``, else a hash of the prompt text."""
        value = lookup(row, self.id_key)
        return str(value) if value is not None else stable_id(prompt_text(row[self.prompt_key]))

    def prompt(self, row: Mapping[str, Any], with_reference: bool) -> Dict[str, Any]:
        reference = lookup(row, self.reference_key) if with_reference else None
        return {"id": self.prompt_id(row), "text": prompt_text(row[self.prompt_key]),
                "reference": reference if isinstance(reference, str) and reference else None}


class SparsegateDataset(RLHFDataset):
    """verl's RLHFDataset, plus what guidance needs: a GUIDE decision's hint block is appended to the
    row's last user message in ``raw_prompt``, and every row's ``extra_info`` carries
    ``sparsegate_id`` (its plugin prompt id, from the unhinted row) so that rollouts map back to
    prompts after verl drops the other columns.

    Set ``data.custom_cls.path: pkg://sparsegate.verl`` and ``data.custom_cls.name: SparsegateDataset``.
    """

    def __init__(self, data_files, tokenizer, config: DictConfig, processor=None, max_samples: int = -1):
        super().__init__(data_files=data_files, tokenizer=tokenizer, config=config, processor=processor,
                         max_samples=max_samples)
        self._reader = _RowReader(config)
        self._hints: Dict[int, str] = {}

    def sparsegate_prompt(self, index: int, with_reference: bool = True) -> Dict[str, Any]:
        """The prompt of row ``index`` for Gate.decide, read from the unhinted row."""
        return self._reader.prompt(self.dataframe[index], with_reference)

    def sparsegate_fits(self, indices: Sequence[int]) -> Callable[[int, str], bool]:
        """Gate.decide's ``fits`` for a batch of rows: whether row ``indices[i]`` with its user turn
        replaced by ``text`` stays within ``max_prompt_length`` tokens, counted as this dataset's
        overlong filter counts (``sparsegate_prompt_length``)."""
        def fits(i: int, text: str) -> bool:
            row = self.dataframe[indices[i]]
            row[self.prompt_key] = hinted_prompt(row[self.prompt_key], text)
            return self.sparsegate_prompt_length(row) <= self.max_prompt_length
        return fits

    def sparsegate_prompt_length(self, row: Mapping[str, Any]) -> int:
        """A row's prompt length in tokens the way RLHFDataset.maybe_filter_out_long_prompts counts
        it at verl b178a3c (rl_dataset.py 181-261): the chat template arguments plus ``tools`` when
        the dataset has tool schemas; with a processor, the processor's ids over the templated text
        and the row's images and videos. As there, a row that cannot be counted is too long."""
        kwargs = dict(self.apply_chat_template_kwargs or {})
        if getattr(self, "tool_schemas", None) is not None:
            kwargs["tools"] = self.tool_schemas
        try:
            if self.processor is None:
                return len(self.tokenizer.apply_chat_template(row[self.prompt_key], add_generation_prompt=True,
                                                              **kwargs))
            return self._processor_length(row, kwargs)
        except Exception:  # verl's filter drops such a row; a hint must not produce one
            logger.debug("sparsegate: could not count a hinted prompt", exc_info=True)
            return self.max_prompt_length + 1

    def _processor_length(self, row: Mapping[str, Any], kwargs: Dict[str, Any]) -> int:
        images = row.get(self.image_key) or None
        videos = row.get(self.video_key) or None
        messages = self._build_messages(copy.deepcopy(dict(row)))  # it pops the media columns
        raw = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False, **kwargs)
        videos_kwargs: Dict[str, Any] = {}
        patch = getattr(self, "image_patch_size", 14)
        if images or videos:
            from verl.utils.dataset.vision_utils import process_image, process_video

            if images:
                images = [process_image(image, image_patch_size=patch) for image in images]
            if videos:
                pairs = [process_video(video, image_patch_size=patch, return_video_metadata=True) for video in videos]
                videos = [v for v, _ in pairs]
                videos_kwargs = {"video_metadata": [m for _, m in pairs], "do_sample_frames": False}
        return len(self.processor(text=[raw], images=images or None, videos=videos or None,
                                  videos_kwargs=videos_kwargs)["input_ids"][0])

    def set_sparsegate_decision(self, index: int, decision: Any) -> None:
        if decision.kind == "guide" and decision.hint_text:
            self._hints[index] = decision.hint_text
        else:
            self._hints.pop(index, None)

    def __getitem__(self, item):
        row = super().__getitem__(item)
        extra = dict(row.get("extra_info") or {})
        extra[ID_FIELD] = self._reader.prompt_id(self.dataframe[item])
        row["extra_info"] = extra
        hint = self._hints.get(item)
        if hint:
            row["raw_prompt"] = with_hint(row["raw_prompt"], hint)
        return row


class SparsegateSampler(AbstractCurriculumSampler):
    """Gates verl's prompts with the difficulty service and the trainer plugin (module docstring)."""

    def __init__(self, data_source: Sized, data_config: DictConfig):
        self.data_source = data_source
        self.data_config = data_config
        options = sparsegate_options(data_config)
        self.checkpoint: Optional[str] = options.get("checkpoint")
        self.checkpoint_dir: Optional[str] = options.get("checkpoint_dir")
        self.reward_key: Optional[str] = options.get("reward_key")
        self.batch_size = int(data_config.get("gen_batch_size") or data_config.get("train_batch_size") or 1)
        self.shuffle = bool(data_config.get("shuffle", True))
        seed = data_config.get("seed")
        self.seed = int(seed) if seed is not None else 0
        self._reader = _RowReader(data_config)
        # Guidance only where the dataset can roll the hinted prompt out.
        self.guides = hasattr(data_source, "set_sparsegate_decision")
        if not self.guides and self._reader.reference_key:
            logger.warning("sparsegate: %s cannot roll out hinted prompts; use data.custom_cls "
                           "SparsegateDataset for GUIDE. Deciding KEEP or DROP only.", type(data_source).__name__)

        self.gate = self.make_gate({k: v for k, v in options.items() if k not in _ADAPTER_KEYS})
        wait = float(options.get("wait_for_service") or 0)
        if wait > 0:
            self.gate.wait_for_service(wait)
        self._epoch = -1
        self._resume: Optional[Dict[str, int]] = None  # the position load_state_dict restored
        self._drawn = 0       # candidates drawn this epoch (the position in the candidate stream)
        self._in_epoch = 0    # indices yielded this epoch
        self.updates = 0      # update() calls over the run: verl's global step of the last update
        if self.checkpoint and os.path.exists(self.checkpoint):
            self.gate.load(self.checkpoint)
            self._epoch = int(self.gate.stats()["epoch"]) - 1  # the next __iter__ resumes that epoch
            logger.info("sparsegate: resumed from %s", self.checkpoint)
        self.yielded = 0
        self.skipped = 0
        self.forced = 0
        self._saved_since_update = False  # the loader asked for state_dict (verl wrote data.pt)
        self._hook_observes = False       # groups observed by the DAPO reward hook, before the save
        self._step = self._new_step_tally()
        self._step_metrics: Optional[Dict[str, Any]] = None  # verl's metrics dict of this step
        self._stats_at_last_metrics: Optional[Dict[str, Any]] = None  # Gate.stats() when metrics() last ran
        global _active_sampler
        _active_sampler = weakref.ref(self)

    def make_gate(self, options: Dict[str, Any]) -> Any:
        """The Gate the sampler uses; a subclass may build it differently (e.g. a shared one)."""
        return _core.Gate.create(**options)

    def __len__(self) -> int:
        return len(self.data_source)

    def _per_epoch(self) -> int:
        # What verl's loader trains on: it drops the last incomplete batch (drop_last=True).
        return (len(self.data_source) // self.batch_size) * self.batch_size

    # --- Stateful: what StatefulDataLoader saves in data.pt and restores on resume --------------

    def state_dict(self) -> Dict[str, Any]:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "plugin.json")
            self.gate.save(path)
            with open(path) as f:
                plugin = f.read()
        # verl calls this from _save_checkpoint, as it writes global_step_N/data.pt: the next
        # update() completes that folder (async_save included, which writes no tracker file).
        self._saved_since_update = True
        return {"epoch": self._epoch, "drawn": self._drawn, "in_epoch": self._in_epoch, "updates": self.updates,
                "observed_before_save": self._hook_observes, "plugin": plugin}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restores the position and the plugin. verl saves step N before that step's update, after
        N - 1 updates, so the saved step is ``updates + 1`` and the next update is step N + 1. The
        plugin comes from global_step_N's plugin file (the state after update N) when
        ``checkpoint_dir`` has one, else from data.pt (without step N's observations), except
        under the DAPO reward hook, which observes before the save, so data.pt is complete."""
        step = int(state["updates"]) + 1
        folder_file = self._step_checkpoint(step) if self.checkpoint_dir else None
        if not state.get("observed_before_save") and folder_file and os.path.exists(folder_file):
            self.gate.load(folder_file)
            logger.info("sparsegate: resumed the plugin from %s", folder_file)
        else:
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "plugin.json")
                with open(path, "w") as f:
                    f.write(state["plugin"])
                self.gate.load(path)
            if state.get("observed_before_save"):
                logger.info("sparsegate: resumed the plugin from data.pt (observed before the save)")
            elif folder_file:
                logger.warning("sparsegate: %s is missing (verl saved step %d, but the sampler's update of that "
                               "step did not complete); the plugin resumes from data.pt, without that step's "
                               "observations", folder_file, step)
            else:
                logger.warning("sparsegate: resumed the plugin from data.pt, which predates its step's update; "
                               "set data.sampler.sparsegate.checkpoint_dir: ${trainer.default_local_dir}")
        self._hook_observes = bool(state.get("observed_before_save"))
        self.updates = step
        self._epoch = int(state["epoch"])
        self._resume = {"drawn": int(state["drawn"]), "in_epoch": int(state["in_epoch"])}

    def _step_checkpoint(self, step: int) -> str:
        return os.path.join(self.checkpoint_dir, f"global_step_{step}", STEP_CHECKPOINT)

    # --- drawing --------------------------------------------------------------------------------

    def _orders(self) -> Iterator[int]:
        """Candidates: this epoch's order, then fresh orders for replacements, without end."""
        n = len(self.data_source)
        round_ = 0
        while True:
            order = list(range(n))
            if self.shuffle:
                # One stream per (seed, epoch, round): reproducible, and different every epoch.
                random.Random(f"{self.seed}/{self._epoch}/{round_}").shuffle(order)
            yield from order
            round_ += 1

    def _prompt(self, index: int) -> Dict[str, Any]:
        if hasattr(self.data_source, "sparsegate_prompt"):
            return self.data_source.sparsegate_prompt(index, with_reference=self.guides)
        return self._reader.prompt(self.data_source.dataframe[index], with_reference=False)

    def _decide(self, indices: List[int]) -> List[Any]:
        prompts = [self._prompt(i) for i in indices]
        started = time.perf_counter()
        if self.guides:
            fits = self.data_source.sparsegate_fits(indices) if hasattr(self.data_source, "sparsegate_fits") else None
            decisions = self.gate.decide(prompts, fits=fits)
            for index, decision in zip(indices, decisions):
                self.data_source.set_sparsegate_decision(index, decision)
        else:
            decisions = self.gate.decide(prompts)
        self._step["seconds"] += time.perf_counter() - started
        return decisions

    def __iter__(self) -> Iterator[int]:
        # A generator: nothing below runs until the loader draws, so the extra iter() calls
        # StatefulDataLoader makes while restoring cost nothing.
        if self._resume is not None:
            resume, self._resume = self._resume, None
        else:
            resume = {"drawn": 0, "in_epoch": 0}
            self._epoch += 1
        self.gate.begin_epoch(self._epoch)
        n = len(self.data_source)
        per_epoch = self._per_epoch()
        candidates = self._orders()
        for _ in range(resume["drawn"]):  # back to where the saved position was, deciding nothing
            next(candidates)
        self._drawn, self._in_epoch = resume["drawn"], resume["in_epoch"]
        misses = 0  # candidates in a row that were not rolled out
        while self._in_epoch < per_epoch:
            # Decide exactly what the loader's current batch still needs, so that the decisions
            # for a batch come after update() of the previous one.
            need = min(self.batch_size - self._in_epoch % self.batch_size, per_epoch - self._in_epoch)
            chunk = [next(candidates) for _ in range(need)]
            self._drawn += need
            if misses >= n:
                # A whole pass dropped: keep training on them rather than stall.
                decisions = [None] * len(chunk)
                if self.guides:
                    for index in chunk:
                        self.data_source.set_sparsegate_decision(index, _KEEP)
            else:
                decisions = self._decide(chunk)
            for index, decision in zip(chunk, decisions):
                if decision is None or decision.rolled_out:
                    if decision is None:
                        self.forced += 1
                        self._step["forced"] += 1
                    misses = 0
                    self._in_epoch += 1
                    self.yielded += 1
                    yield index
                else:
                    misses += 1
                    self.skipped += 1

    # --- after the step -------------------------------------------------------------------------

    def update(self, batch: DataProto) -> None:
        """verl's call after every step (ray_trainer.py 1693), after that step's checkpoint."""
        if not self._hook_observes:  # observed already, by the DAPO reward hook, if it is in use
            ntb = batch.non_tensor_batch
            key = self.reward_key or ("acc" if "acc" in ntb else "seq_reward")
            self._observe(batch, verl_metric(batch, key))
        self.updates += 1
        if self.checkpoint_dir and self._saved_since_update:
            # verl wrote global_step_N/data.pt in this step, before calling update: complete that
            # folder with the plugin's state after the step's observations.
            folder = os.path.dirname(self._step_checkpoint(self.updates))
            if os.path.isdir(folder):
                self.gate.save(self._step_checkpoint(self.updates))
        self._saved_since_update = False
        if self._step_metrics is not None:
            self._step_metrics.update(self.metrics())
            self._step_metrics = None

    def observe_rewards(self, batch: DataProto, values: Sequence[Any]) -> None:
        """Observes every group of a batch with per-row ``values`` (the DAPO reward hook's entry);
        from then on ``update`` observes nothing, so each group is observed once."""
        self._hook_observes = True
        self._observe(batch, values)

    def _observe(self, batch: DataProto, values: Sequence[Any]) -> None:
        ids = self.batch_prompt_ids(batch)
        uids = list(batch.non_tensor_batch["uid"])
        GroupFilter(self.gate).filter(ids, values, group_ids=uids, completion_tokens=verl_completion_tokens(batch))
        if self.checkpoint:
            self.gate.save(self.checkpoint)

    # --- metrics for verl's tracker -------------------------------------------------------------

    @staticmethod
    def _new_step_tally() -> Dict[str, Any]:
        return {"forced": 0, "seconds": 0.0}

    def metrics(self) -> Dict[str, float]:
        """This step's ``sparsegate/...`` scalars, for verl's metrics dict, and starts the next step:
        ``_prompts.plugin_metrics`` over what changed since the previous call (the same names as
        the TRL and OpenRLHF adapters log), with ``scoring_seconds`` the time spent in Gate.decide
        and the sampler's own forced keeps counted in ``fail_open``. Every value is a number:
        verl's tensorboard writer takes scalars only."""
        stats = self.gate.stats()
        step, self._step = self._step, self._new_step_tally()
        out = plugin_metrics(stats, self._stats_at_last_metrics, scoring_seconds=step["seconds"], prefix=METRICS_PREFIX)
        out[f"{METRICS_PREFIX}fail_open"] += float(step["forced"])
        self._stats_at_last_metrics = stats
        return out

    def report_into(self, metrics: Dict[str, Any]) -> None:
        """Hands the sampler verl's metrics dict of the current step (SparsegateMetrics calls it).
        Filled at once when the step's groups are already observed (DAPO reward hook), else by
        this step's ``update``."""
        if self._hook_observes:
            metrics.update(self.metrics())
        else:
            self._step_metrics = metrics

    def batch_prompt_ids(self, batch: DataProto) -> List[str]:
        """The id each row's prompt was decided under (module docstring)."""
        return verl_prompt_ids(batch, self._reader.id_key, hashing_allowed=not self.guides)

    def stats(self) -> Dict[str, Any]:
        """The gate's stats plus the sampler's own counts, for a logger."""
        stats = self.gate.stats()
        stats["sampler"] = {"epoch": self._epoch, "yielded": self.yielded, "skipped": self.skipped,
                            "forced": self.forced, "updates": self.updates}
        return stats


class _Keep:
    """Stands for a KEEP the sampler made on its own (fail-open after a fully dropped pass)."""
    kind = "keep"
    hint_text = ""
    rolled_out = True


_KEEP = _Keep()


class SparsegateMetrics:
    """Mix into verl's trainer class to log the sampler's ``sparsegate/...`` metrics with each step.

    verl b178a3c's ``RayPPOTrainer.fit`` (and the DAPO recipe's, 21892b9) keeps the step's metrics
    in a local dict that it logs at the end of the step; ``_balance_batch(batch, metrics)`` is the
    one overridable method that receives it, every step while ``trainer.balance_batch`` is on (the
    default). This override hands the dict to the train loader's SparsegateSampler, which fills
    it (``SparsegateSampler.report_into``). With ``balance_batch`` off nothing is added: call
    ``sampler.metrics()`` yourself.

        class Trainer(SparsegateMetrics, RayPPOTrainer): ...       # or RayDAPOTrainer
    """

    def _balance_batch(self, batch, metrics, logging_prefix="global_seqlen", keep_minibatch=False):
        super()._balance_batch(batch, metrics=metrics, logging_prefix=logging_prefix, keep_minibatch=keep_minibatch)
        sampler = getattr(getattr(self, "train_dataloader", None), "sampler", None)
        if isinstance(sampler, SparsegateSampler):
            sampler.report_into(metrics)


class SparsegateDAPORewardManager(DAPORewardManager):
    """verl's DAPO reward manager, observing every group of a generation batch into the sampler's
    plugin before the DAPO recipe filters groups: DAPO without a fork.

    verl-recipe 21892b9's ``RayDAPOTrainer.fit`` calls ``compute_reward(new_batch, self.reward_fn)``
    once per generation batch, after the uids are set and before its zero-variance filter, and
    never calls ``sampler.update``. This manager scores as DAPORewardManager does (verl b178a3c,
    workers/reward_manager/dapo.py), then hands the rewards to the SparsegateSampler of this
    process (``active_sampler()``), which observes each group once under the id it was decided
    under; DAPO's own filter then keeps or drops the groups, by its own rule. Batches without
    uids (REMAX's baseline) and validation batches (``meta_info["validate"]``) are not observed.

    The observed value per rollout is the sampler's ``reward_key`` (default "acc" when the reward
    extras have it, else the summed reward tensor), mapped into [0, 1].

    Select it with ``reward_manager.source=importlib``, ``reward_manager.module.path=
    pkg://sparsegate.verl`` and ``reward_manager.name=SparsegateDAPORewardManager``
    (verl's load_reward_manager then builds it with DAPORewardManager's arguments).
    """

    def __call__(self, data: DataProto, return_dict: bool = False):
        result = super().__call__(data, return_dict=True)
        if "uid" in data.non_tensor_batch and not data.meta_info.get("validate", False):
            sampler = active_sampler()
            if sampler is None:
                raise RuntimeError("SparsegateDAPORewardManager needs the SparsegateSampler in this process "
                                   "(data.sampler.class_path: pkg://sparsegate.verl)")
            sampler.observe_rewards(data, self._values(sampler, data, result))
        return result if return_dict else result["reward_tensor"]

    @staticmethod
    def _values(sampler: SparsegateSampler, data: DataProto, result: Mapping[str, Any]) -> List[Any]:
        extras = result.get("reward_extra_info") or {}
        key = sampler.reward_key or ("acc" if "acc" in extras or "acc" in data.non_tensor_batch else "seq_reward")
        if key in extras:
            return list(extras[key])
        if key in data.non_tensor_batch:
            return list(data.non_tensor_batch[key])
        if key in ("seq_reward", "seq_final_reward"):  # no KL in the reward yet at this point
            return list(result["reward_tensor"].sum(dim=-1).numpy())
        raise KeyError(f"reward_key '{key}' is neither a reward extra ({sorted(extras)}) nor seq_reward")
