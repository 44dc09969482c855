"""A post-rollout group filter: observe every group into the plugin, keep the groups that teach.

Dynamic sampling (DAPO; verl ``algorithm.filter_groups``, OpenRLHF ``--dynamic_filtering``) drops a
group after rollout when its rewards carry no learning signal. This filter does the same, and
first feeds *every* group, the dropped ones included, to the plugin: an all-zero group is exactly
what moves a prompt up the hint ladder, so observing only the kept groups would blind it.

Contract of ``GroupFilter.filter(prompt_ids, rewards, group_ids=None, completion_tokens=None) -> kept
indices``:
- One entry per rollout. Rollouts with the same group id form a group (default: the prompt id).
  Each group is observed once, under its prompt id, with its rewards mapped into [0, 1] by
  ``_prompts.unit_rewards`` (clamped; NaN left out) and, when given, each rollout's completion
  length in tokens, which teaches the plugin what a rollout of the prompt costs
  (``Decision.expected_completion_tokens``, ``rule="signal_per_token"``).
- Keep rule, on the raw rewards exactly as given (not the [0, 1] values observed): by default
  DAPO's, evaluated with numpy as verl-recipe 21892b9 dapo/dapo_ray_trainer.py evaluates it: kept
  when ``np.std(values) > 0`` or the group has a single rollout. So it is DAPO's on every input,
  including what "not all equal" would get wrong: a constant group of non-0/1 values can have a
  rounding-error std above 0 (``np.std([0.1] * 3)``), which DAPO keeps, and any NaN makes the std
  NaN, which DAPO drops (unless the group has one rollout). Values keep their dtype (float32 from
  a tensor stays float32), since the rounding depends on it. With ``reward_range=(lo, hi)``,
  OpenRLHF's instead: kept when ``lo < mean < hi``.
- Returns the kept rollouts' indices in their original order, ready for ``batch[kept]``;
  ``kept_group_ids`` then lists the kept groups in order of first appearance (DAPO's
  ``kept_prompt_uids``), so a caller counts kept prompts as DAPO does.
- Framework-neutral: it imports no trainer. ``filter_verl`` reads a verl ``DataProto``
  (duck-typed) the way verl's DAPO trainer does.
Observing is per group and not idempotent: observe each group in one place only (this filter, or
the verl sampler's ``update``, not both).
"""

from collections import OrderedDict
from typing import Any, Hashable, List, Optional, Sequence, Tuple

from ._prompts import lookup, prompt_text, stable_id, unit_group

# Where sparsegate.verl's dataset puts a row's prompt id: inside extra_info, the one dataset column
# (with data_source, reward_model and uid) that verl's _get_gen_batch leaves in the training batch.
ID_FIELD = "sparsegate_id"


class GroupFilter:
    def __init__(self, gate: Any, *, reward_range: Optional[Tuple[float, float]] = None, observe: bool = True):
        """``gate``: anything with ``observe(prompt_id, rewards)`` (a Gate or a TrainerPlugin)."""
        if reward_range is not None and not reward_range[0] < reward_range[1]:
            raise ValueError(f"reward_range must be (low, high) with low < high, got {reward_range}")
        self.gate = gate
        self.reward_range = reward_range
        self.observe = observe
        self.kept_groups = 0
        self.dropped_groups = 0
        self.kept_group_ids: List[Hashable] = []  # of the last filter() call

    def keeps(self, values: Sequence[Any]) -> bool:
        """The keep rule on one group's raw rewards (module docstring)."""
        if self.reward_range is not None:
            values = [float(v) for v in values]
            low, high = self.reward_range
            return low < sum(values) / len(values) < high
        if len(values) == 1:
            return True
        # numpy, not a comparison of max and min: DAPO's rule is what np.std gives, rounding and
        # NaN included. Imported here so that the package itself does not depend on numpy.
        import numpy as np

        return bool(np.std(list(values)) > 0)

    def observe_group(self, prompt_id: str, values: Sequence[Any],
                      completion_tokens: Optional[Sequence[Any]] = None) -> bool:
        """Observes one group (when enabled) and returns whether it is kept."""
        if self.observe:
            rewards, lengths = unit_group(values, completion_tokens)
            if rewards:
                if lengths is None:
                    self.gate.observe(str(prompt_id), rewards)
                else:
                    self.gate.observe(str(prompt_id), rewards, completion_tokens=lengths)
        kept = self.keeps(values)
        if kept:
            self.kept_groups += 1
        else:
            self.dropped_groups += 1
        return kept

    def filter(self, prompt_ids: Sequence[Any], rewards: Sequence[Any],
               group_ids: Optional[Sequence[Hashable]] = None,
               completion_tokens: Optional[Sequence[Any]] = None) -> List[int]:
        if len(prompt_ids) != len(rewards):
            raise ValueError(f"{len(prompt_ids)} prompt ids but {len(rewards)} rewards")
        if completion_tokens is not None and len(completion_tokens) != len(rewards):
            raise ValueError(f"{len(rewards)} rewards but {len(completion_tokens)} completion lengths")
        if group_ids is None:
            group_ids = prompt_ids
        elif len(group_ids) != len(rewards):
            raise ValueError(f"{len(group_ids)} group ids but {len(rewards)} rewards")
        groups: "OrderedDict[Hashable, List[int]]" = OrderedDict()
        for i, g in enumerate(group_ids):
            groups.setdefault(g, []).append(i)
        kept = []
        self.kept_group_ids = []
        for group, rows in groups.items():
            lengths = None if completion_tokens is None else [completion_tokens[i] for i in rows]
            if self.observe_group(prompt_ids[rows[0]], [rewards[i] for i in rows], lengths):
                kept.extend(rows)
                self.kept_group_ids.append(group)
        return sorted(kept)

    def filter_verl(self, batch: Any, metric: str = "acc", id_key: Optional[str] = None) -> List[int]:
        """Kept trajectory indices of a verl ``DataProto``, for ``batch[kept]``.

        Groups are the rows sharing ``non_tensor_batch["uid"]``, as in verl's DAPO trainer
        (verl-recipe 21892b9, dapo/dapo_ray_trainer.py, the filter_groups block of ``fit``).
        ``metric`` is read as that trainer reads ``algorithm.filter_groups.metric``: "seq_reward"
        (``token_level_scores`` summed per row, as a float32 numpy array), "seq_final_reward"
        (``token_level_rewards`` summed), or a ``non_tensor_batch`` key such as "acc" or "score",
        its elements as stored. ``kept_group_ids`` then holds the kept uids. Prompt ids as ``verl_prompt_ids`` reads them (``id_key``: the sampler's
        ``id_key``, e.g. "extra_info.index", for datasets other than sparsegate.verl's).
        """
        values = verl_metric(batch, metric)
        ids = verl_prompt_ids(batch, id_key)
        return self.filter(ids, list(values), group_ids=list(batch.non_tensor_batch["uid"]),
                           completion_tokens=verl_completion_tokens(batch))


def verl_prompt_ids(batch: Any, id_key: Optional[str] = None, hashing_allowed: bool = False) -> List[str]:
    """Per row of a verl DataProto, the plugin prompt id it was decided under:
    ``extra_info["sparsegate_id"]`` (written by sparsegate.verl's dataset), else ``id_key`` read from
    the row (e.g. "extra_info.index"), else, only when ``hashing_allowed`` (no hint can have changed
    the prompt), a hash of ``raw_prompt``'s text. A row with none of these is a KeyError naming it."""
    ntb = batch.non_tensor_batch
    ids = []
    for i in range(len(ntb["uid"])):
        extra = ntb["extra_info"][i] if "extra_info" in ntb else None
        if isinstance(extra, dict) and extra.get(ID_FIELD) is not None:
            ids.append(str(extra[ID_FIELD]))
            continue
        row = {k: v[i] for k, v in ntb.items()}
        value = lookup(row, id_key)
        if value is not None:
            ids.append(str(value))
        elif hashing_allowed and "raw_prompt" in row:
            ids.append(stable_id(prompt_text(row["raw_prompt"])))
        else:
            raise KeyError(f"row {i} of the batch carries no prompt id: neither extra_info['{ID_FIELD}'] "
                           f"(data.custom_cls: sparsegate.verl SparsegateDataset) nor id_key {id_key!r}")
    return ids


def verl_completion_tokens(batch: Any) -> Optional[List[int]]:
    """Tokens each rollout of a verl DataProto generated, or None when the batch has no responses.

    verl b178a3c's agent loop (experimental/agent_loop/agent_loop.py, _postprocess) puts
    ``response_mask`` in the batch: 1 on the tokens the model generated, 0 on padding and on tool
    or environment tokens of a multi-turn rollout. Without it (a batch before
    ``compute_response_mask``), the response part of ``attention_mask`` is counted, as
    ray_trainer.compute_response_mask and the DAPO reward manager count it: tool tokens included."""
    tensors = batch.batch
    if "response_mask" in tensors.keys():
        mask = tensors["response_mask"]
    elif "responses" in tensors.keys() and "attention_mask" in tensors.keys():
        mask = tensors["attention_mask"][:, -tensors["responses"].shape[-1]:]
    else:
        return None
    return [int(n) for n in mask.sum(dim=-1).tolist()]


def verl_metric(batch: Any, metric: str) -> List[Any]:
    """Per-rollout values of ``metric`` in a verl DataProto (see GroupFilter.filter_verl), each as
    DAPO's filter sees it: numpy scalars of the array it builds or reads, not Python floats (the
    keep rule's rounding depends on the dtype)."""
    if metric == "seq_reward":
        return list(batch.batch["token_level_scores"].sum(dim=-1).numpy())
    if metric == "seq_final_reward":
        return list(batch.batch["token_level_rewards"].sum(dim=-1).numpy())
    if metric in batch.non_tensor_batch:
        return list(batch.non_tensor_batch[metric])
    raise KeyError(f"metric '{metric}' is neither seq_reward, seq_final_reward nor a non_tensor_batch key "
                   f"(have {sorted(batch.non_tensor_batch)})")
