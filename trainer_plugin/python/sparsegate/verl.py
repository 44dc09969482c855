"""verl adapter: a curriculum sampler that gates each prompt before rollout and learns after it.

Read at verl b178a3cd56f58b2d502255daba591e92833930a7 (verl/trainer/main_ppo.py, ppo/ray_trainer.py,
experimental/agent_loop/, utils/dataset/rl_dataset.py, experimental/dataset/sampler.py) and
torchdata's StatefulDataLoader; tests/plugin_python/stubs/verl mirrors them.

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
  dataset loads, unhinted: a hint is fitted to ``data.max_prompt_length`` with the dataset's own
  tokenizer and chat template (Gate.decide's ``fits``), shortened or withheld when needed.
- ``_save_checkpoint`` (``global_step_N/data.pt`` = the loader's state_dict) runs before
  ``sampler.update`` in the same step. The sampler is Stateful (state_dict / load_state_dict), so
  data.pt holds its position and the loader does not fast-forward it by drawing indices (which
  would decide batches nobody trains on). With ``checkpoint_dir`` set to
  ``${trainer.default_local_dir}``, ``update`` of a step that was just saved writes the plugin's
  state into that ``global_step_N`` folder, and a resume reads it back from the folder verl
  resumes from: model, loader and plugin continue at the same step.

Contract of SparsegateSampler:
- Each epoch yields exactly ``len(data_source)`` indices (verl's step count stays right): a
  shuffled order (``data.shuffle``, ``data.seed``), gated batch by batch. Decisions for a batch
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

import logging
import os
import random
import tempfile
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Sized

from omegaconf import DictConfig
from verl import DataProto
from verl.experimental.dataset.sampler import AbstractCurriculumSampler
from verl.utils.dataset.rl_dataset import RLHFDataset

from . import _core
from ._prompts import hinted_prompt, is_chat, lookup, prompt_text, stable_id, with_hint
from .filters import ID_FIELD, GroupFilter, verl_metric, verl_prompt_ids

logger = logging.getLogger(__name__)

_ADAPTER_KEYS = ("checkpoint", "checkpoint_dir", "reference_key", "id_key", "reward_key", "wait_for_service")
STEP_CHECKPOINT = "sparsegate_plugin.json"  # inside verl's global_step_N folder
_TRACKER = "latest_checkpointed_iteration.txt"  # verl's name for the latest saved step


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
        replaced by ``text`` stays within ``max_prompt_length`` tokens, counted the way this dataset
        filters over-long prompts (its tokenizer, chat template and template arguments)."""
        def fits(i: int, text: str) -> bool:
            hinted = hinted_prompt(self.dataframe[indices[i]][self.prompt_key], text)
            if not is_chat(hinted):
                hinted = [{"role": "user", "content": hinted}]
            kwargs = dict(self.apply_chat_template_kwargs or {})
            ids = self.tokenizer.apply_chat_template(hinted, add_generation_prompt=True, tokenize=True, **kwargs)
            return len(ids) <= self.max_prompt_length
        return fits

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

    def make_gate(self, options: Dict[str, Any]) -> Any:
        """The Gate the sampler uses; a subclass may build it differently (e.g. a shared one)."""
        return _core.Gate.create(**options)

    def __len__(self) -> int:
        return len(self.data_source)

    # --- Stateful: what StatefulDataLoader saves in data.pt and restores on resume --------------

    def state_dict(self) -> Dict[str, Any]:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "plugin.json")
            self.gate.save(path)
            with open(path) as f:
                plugin = f.read()
        return {"epoch": self._epoch, "drawn": self._drawn, "in_epoch": self._in_epoch, "updates": self.updates,
                "plugin": plugin}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restores the position and the plugin: from the step folder verl resumes from when
        ``checkpoint_dir`` has it (the state after that step's update), else from data.pt (taken
        before that update, so one batch of observations behind)."""
        updates = int(state["updates"])
        folder_file = self._step_checkpoint(updates + 1) if self.checkpoint_dir else None
        if folder_file and os.path.exists(folder_file):
            self.gate.load(folder_file)
            updates += 1
            logger.info("sparsegate: resumed the plugin from %s", folder_file)
        else:
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "plugin.json")
                with open(path, "w") as f:
                    f.write(state["plugin"])
                self.gate.load(path)
            logger.warning("sparsegate: resumed the plugin from data.pt, which predates its step's update; "
                           "set data.sampler.sparsegate.checkpoint_dir: ${trainer.default_local_dir}")
        self.updates = updates
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
        if self.guides:
            fits = self.data_source.sparsegate_fits(indices) if hasattr(self.data_source, "sparsegate_fits") else None
            decisions = self.gate.decide(prompts, fits=fits)
            for index, decision in zip(indices, decisions):
                self.data_source.set_sparsegate_decision(index, decision)
        else:
            decisions = self.gate.decide(prompts)
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
        candidates = self._orders()
        for _ in range(resume["drawn"]):  # back to where the saved position was, deciding nothing
            next(candidates)
        self._drawn, self._in_epoch = resume["drawn"], resume["in_epoch"]
        misses = 0  # candidates in a row that were not rolled out
        while self._in_epoch < n:
            # Decide exactly what the loader's current batch still needs, so that the decisions
            # for a batch come after update() of the previous one.
            need = min(self.batch_size - self._in_epoch % self.batch_size, n - self._in_epoch)
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
                    misses = 0
                    self._in_epoch += 1
                    self.yielded += 1
                    yield index
                else:
                    misses += 1
                    self.skipped += 1

    # --- after the step -------------------------------------------------------------------------

    def update(self, batch: DataProto) -> None:
        ntb = batch.non_tensor_batch
        key = self.reward_key or ("acc" if "acc" in ntb else "seq_reward")
        values = verl_metric(batch, key)
        GroupFilter(self.gate).filter(self.batch_prompt_ids(batch), values, group_ids=list(ntb["uid"]))
        self.updates += 1
        if self.checkpoint:
            self.gate.save(self.checkpoint)
        if self.checkpoint_dir and self._saved_step() == self.updates:
            # verl saved this step before calling update: complete its folder with the plugin.
            self.gate.save(self._step_checkpoint(self.updates))

    def _saved_step(self) -> Optional[int]:
        try:
            with open(os.path.join(self.checkpoint_dir, _TRACKER)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

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
