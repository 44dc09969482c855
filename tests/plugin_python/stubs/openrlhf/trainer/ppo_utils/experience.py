"""Stand-in for openrlhf/trainer/ppo_utils/experience.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7.

``Experience`` with the real fields. A generated sample is an Experience of batch 1: step tensors
(1, T) / (1, A), episode tensors (1,): rewards (None until a reward model fills it), scores (the
0-1 value dynamic filtering reads, None without a remote reward), prompts/labels one-element lists.
``concat_experiences`` merges like the real one: tensors padded and concatenated, lists chained,
dicts merged key by key, and a field is None when the first item's is None; a None after a
tensor fails (zero_pad_sequences cannot size it).
"""
import itertools
from dataclasses import dataclass, field, fields
from typing import List

import torch

from openrlhf.utils.utils import zero_pad_sequences


@dataclass
class Experience:
    # trajectory (B, T) / (B, A)
    sequences: torch.Tensor = None
    attention_mask: torch.LongTensor = None
    action_mask: torch.BoolTensor = None
    # policy (B, A)
    action_log_probs: torch.Tensor = None
    base_action_log_probs: torch.Tensor = None
    rollout_log_probs: torch.Tensor = None
    # value (B, A)
    values: torch.Tensor = None
    returns: torch.Tensor = None
    advantages: torch.Tensor = None
    kl: torch.Tensor = None
    # episode outcomes (B,)
    rewards: torch.Tensor = None
    scores: torch.Tensor = None
    response_length: torch.Tensor = None
    truncated: torch.Tensor = None
    total_length: torch.Tensor = None
    # metadata
    index: list = None
    prompts: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    images: list = field(default_factory=list)
    mm_train_inputs: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @staticmethod
    def _merge_item(items: List, pad_value: int = 0):
        first = items[0]
        if isinstance(first, torch.Tensor):
            return zero_pad_sequences(items, side="right", value=pad_value)
        if isinstance(first, list):
            return list(itertools.chain.from_iterable(items))
        if isinstance(first, dict):
            keys = {}
            for d in items:
                for k, v in d.items():
                    keys.setdefault(k, []).append(v)
            return {k: Experience._merge_item(v, pad_value) for k, v in keys.items()}
        if first is None:
            return None
        raise ValueError(f"Unsupported type: {type(first)}")

    @staticmethod
    def concat_experiences(experiences_list: List["Experience"], pad_token_id) -> "Experience":
        if not experiences_list:
            return Experience()
        merged = {}
        for f in fields(Experience):
            values = [getattr(e, f.name) for e in experiences_list]
            merged[f.name] = Experience._merge_item(values, pad_token_id if f.name == "sequences" else 0)
        return Experience(**merged)
