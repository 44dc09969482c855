"""A post-rollout group filter: observe every group into the plugin, keep the groups that teach.

Dynamic sampling (DAPO; verl ``algorithm.filter_groups``, OpenRLHF ``--dynamic_filtering``) drops a
group after rollout when its rewards carry no learning signal. This filter does the same, and
first feeds *every* group, the dropped ones included, to the plugin: an all-zero group is exactly
what moves a prompt up the hint ladder, so observing only the kept groups would blind it.

Contract of ``GroupFilter.filter(prompt_ids, rewards, group_ids=None) -> kept indices``:
- One entry per rollout. Rollouts with the same group id form a group (default: the prompt id).
  Each group is observed once, under its prompt id, with its rewards mapped into [0, 1] by
  ``_prompts.unit_rewards`` (clamped; NaN left out).
- Keep rule, on the raw rewards: by default DAPO's, a group is kept when its rewards are not all
  equal or it has a single rollout (``np.std(values) > 0 or len(values) == 1``). With
  ``reward_range=(lo, hi)``, OpenRLHF's instead: kept when ``lo < mean < hi``.
- Returns the kept rollouts' indices in their original order, ready for ``batch[kept]``.
- Framework-neutral: it imports no trainer. ``filter_verl`` reads a verl ``DataProto``
  (duck-typed) the way verl's DAPO trainer does.
Observing is per group and not idempotent: observe each group in one place only (this filter, or
the verl sampler's ``update``, not both).
"""

from collections import OrderedDict
from typing import Any, Hashable, List, Optional, Sequence, Tuple

from ._prompts import unit_rewards


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

    def keeps(self, values: Sequence[float]) -> bool:
        """The keep rule on one group's raw rewards."""
        values = [float(v) for v in values]
        if self.reward_range is not None:
            low, high = self.reward_range
            return low < sum(values) / len(values) < high
        return len(values) == 1 or max(values) != min(values)

    def observe_group(self, prompt_id: str, values: Sequence[Any]) -> bool:
        """Observes one group (when enabled) and returns whether it is kept."""
        values = [v.item() if hasattr(v, "item") else v for v in values]
        if self.observe:
            rewards = unit_rewards(values)
            if rewards:
                self.gate.observe(str(prompt_id), rewards)
        kept = self.keeps(values)
        if kept:
            self.kept_groups += 1
        else:
            self.dropped_groups += 1
        return kept

    def filter(self, prompt_ids: Sequence[Any], rewards: Sequence[Any],
               group_ids: Optional[Sequence[Hashable]] = None) -> List[int]:
        if len(prompt_ids) != len(rewards):
            raise ValueError(f"{len(prompt_ids)} prompt ids but {len(rewards)} rewards")
        if group_ids is None:
            group_ids = prompt_ids
        elif len(group_ids) != len(rewards):
            raise ValueError(f"{len(group_ids)} group ids but {len(rewards)} rewards")
        groups: "OrderedDict[Hashable, List[int]]" = OrderedDict()
        for i, g in enumerate(group_ids):
            groups.setdefault(g, []).append(i)
        kept = []
        for rows in groups.values():
            if self.observe_group(prompt_ids[rows[0]], [rewards[i] for i in rows]):
                kept.extend(rows)
        return sorted(kept)

    def filter_verl(self, batch: Any, metric: str = "acc", id_key: str = "sparsegate_id") -> List[int]:
        """Kept trajectory indices of a verl ``DataProto``, for ``batch[kept]``.

        Groups are the rows sharing ``non_tensor_batch["uid"]``, as in verl's DAPO trainer.
        ``metric`` is read as that trainer reads ``algorithm.filter_groups.metric``:
        "seq_reward" (``token_level_scores`` summed per row), "seq_final_reward"
        (``token_level_rewards`` summed), or a ``non_tensor_batch`` key such as "acc" or "score".
        Prompt ids come from ``non_tensor_batch[id_key]`` (written by ``sparsegate.verl``'s dataset),
        else from verl's ``index`` column (``extra_info.index``).
        """
        ntb = batch.non_tensor_batch
        values = verl_metric(batch, metric)
        if id_key in ntb:
            ids = ntb[id_key]
        elif "index" in ntb:
            ids = ntb["index"]
        else:
            raise KeyError(f"the batch has neither '{id_key}' nor 'index' to identify prompts by")
        return self.filter([str(i) for i in ids], list(values), group_ids=list(ntb["uid"]))


def verl_metric(batch: Any, metric: str) -> List[float]:
    """Per-rollout values of ``metric`` in a verl DataProto (see GroupFilter.filter_verl)."""
    if metric == "seq_reward":
        return batch.batch["token_level_scores"].sum(dim=-1).tolist()
    if metric == "seq_final_reward":
        return batch.batch["token_level_rewards"].sum(dim=-1).tolist()
    if metric in batch.non_tensor_batch:
        return [float(v) for v in batch.non_tensor_batch[metric]]
    raise KeyError(f"metric '{metric}' is neither seq_reward, seq_final_reward nor a non_tensor_batch key "
                   f"(have {sorted(batch.non_tensor_batch)})")
