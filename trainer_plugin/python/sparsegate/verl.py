"""verl adapter: a curriculum sampler that gates each prompt before rollout and learns after it.

What verl does with a sampler (verl/trainer/main_ppo.py ``create_rl_sampler``,
verl/trainer/ppo/ray_trainer.py, verl/experimental/dataset/sampler.py):
- ``data.sampler.class_path`` ("pkg://module") and ``data.sampler.class_name`` name the class;
  verl calls ``cls(data_source=train_dataset, data_config=config.data)``, asserts it is an
  ``AbstractSampler`` and that ``data.dataloader_num_workers == 0``.
- A StatefulDataLoader draws ``data.gen_batch_size`` (default ``data.train_batch_size``) indices
  per step from ``iter(sampler)``, lazily, with drop_last; ``len(sampler)`` sets the step count.
- After every step, ``sampler.update(batch=batch)`` with the step's DataProto: one row per rollout,
  ``non_tensor_batch["uid"]`` shared by a prompt's rollouts, rewards in
  ``batch["token_level_scores"]`` and, from math verifiers, ``non_tensor_batch["acc"]``.

Contract of SparsegateSampler:
- Each epoch yields exactly ``len(data_source)`` indices (verl's step count stays right): a
  shuffled order (``data.shuffle``, ``data.seed``), gated batch by batch. Decisions for a batch
  are made when the loader asks for its first index, so after ``update`` of the previous step.
  A dropped or deferred prompt is replaced by the next candidate in the order, continuing into a
  fresh order at the end; if a whole pass of candidates is dropped, candidates are yielded
  anyway (fail-open) rather than stalling training.
- GUIDE needs the dataset's help, since a sampler only yields indices: with
  ``SparsegateDataset`` (``data.custom_cls``) the hinted prompt replaces the row's ``raw_prompt``
  user turn. With any other dataset the sampler passes no reference solutions, so decisions are
  only KEEP or DROP and no rollout is ever mislabelled as hinted.
- ``update(batch)`` observes every group (rows sharing a uid) under its prompt id, rewards from
  ``reward_key`` mapped into [0, 1] (see filters.py), then saves the plugin checkpoint if one is
  configured. A ``checkpoint`` that exists at construction is loaded (resume).

Configuration: ``data.sampler.sparsegate``, a mapping. These keys are the adapter's:
  checkpoint       plugin checkpoint path (loaded when present, written after every update)
  reference_key    dotted path of the reference solution in a dataset row, e.g. "extra_info.solution"
  id_key           dotted path of a stable prompt id, e.g. "extra_info.index"; default: a hash of
                   the prompt text
  reward_key       "acc" (default when present), "seq_reward", "seq_final_reward", or any
                   non_tensor_batch key
  wait_for_service seconds to wait for the service at start-up (default 0: do not wait)
and every other key goes to ``Gate.create`` (target, layers, deadline, hint_ladder, ...).
"""

import logging
import os
import random
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Sized

from omegaconf import DictConfig
from verl import DataProto
from verl.experimental.dataset.sampler import AbstractCurriculumSampler
from verl.utils.dataset.rl_dataset import RLHFDataset

from . import _core
from ._prompts import lookup, prompt_text, stable_id, with_hint
from .filters import GroupFilter, verl_metric

logger = logging.getLogger(__name__)

_ADAPTER_KEYS = ("checkpoint", "reference_key", "id_key", "reward_key", "wait_for_service")


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

    def prompt_id(self, row: Mapping[str, Any], text: str) -> str:
        value = lookup(row, self.id_key)
        return str(value) if value is not None else stable_id(text)

    def prompt(self, row: Mapping[str, Any], with_reference: bool) -> Dict[str, Any]:
        text = prompt_text(row[self.prompt_key])
        reference = lookup(row, self.reference_key) if with_reference else None
        return {"id": self.prompt_id(row, text), "text": text,
                "reference": reference if isinstance(reference, str) and reference else None}


class SparsegateDataset(RLHFDataset):
    """verl's RLHFDataset, plus what guidance needs: a GUIDE decision's hint block is appended to the
    row's last user message in ``raw_prompt``, and every row carries ``sparsegate_id`` (its plugin
    prompt id, computed from the unhinted prompt) so that rollouts map back to prompts.

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

    def set_sparsegate_decision(self, index: int, decision: Any) -> None:
        if decision.kind == "guide" and decision.hint_text:
            self._hints[index] = decision.hint_text
        else:
            self._hints.pop(index, None)

    def __getitem__(self, item):
        row = super().__getitem__(item)
        row["sparsegate_id"] = self._reader.prompt_id(row, prompt_text(row["raw_prompt"]))
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
        return self._reader.prompt(self.data_source[index], with_reference=False)

    def _decide(self, indices: List[int]) -> List[Any]:
        decisions = self.gate.decide([self._prompt(i) for i in indices])
        if self.guides:
            for index, decision in zip(indices, decisions):
                self.data_source.set_sparsegate_decision(index, decision)
        return decisions

    def __iter__(self) -> Iterator[int]:
        self._epoch += 1
        self.gate.begin_epoch(self._epoch)
        n = len(self.data_source)
        candidates = self._orders()
        yielded = 0
        misses = 0  # candidates in a row that were not rolled out
        while yielded < n:
            # Decide exactly what the loader's current batch still needs, so that the decisions
            # for a batch come after update() of the previous one.
            need = min(self.batch_size - yielded % self.batch_size, n - yielded)
            chunk = [next(candidates) for _ in range(need)]
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
                    yielded += 1
                    self.yielded += 1
                    yield index
                else:
                    misses += 1
                    self.skipped += 1

    def update(self, batch: DataProto) -> None:
        ntb = batch.non_tensor_batch
        key = self.reward_key or ("acc" if "acc" in ntb else "seq_reward")
        values = verl_metric(batch, key)
        GroupFilter(self.gate).filter(self._batch_prompt_ids(batch), values, group_ids=list(ntb["uid"]))
        if self.checkpoint:
            self.gate.save(self.checkpoint)

    def _batch_prompt_ids(self, batch: DataProto) -> List[str]:
        ntb = batch.non_tensor_batch
        if "sparsegate_id" in ntb:
            return [str(i) for i in ntb["sparsegate_id"]]
        ids = []
        for i in range(len(ntb["uid"])):
            row = {k: v[i] for k, v in ntb.items()}
            ids.append(self._reader.prompt_id(row, prompt_text(row["raw_prompt"])))
        return ids

    def stats(self) -> Dict[str, Any]:
        """The gate's stats plus the sampler's own counts, for a logger."""
        stats = self.gate.stats()
        stats["sampler"] = {"epoch": self._epoch, "yielded": self.yielded, "skipped": self.skipped,
                            "forced": self.forced}
        return stats


class _Keep:
    """Stands for a KEEP the sampler made on its own (fail-open after a fully dropped pass)."""
    kind = "keep"
    hint_text = ""
    rolled_out = True


_KEEP = _Keep()
