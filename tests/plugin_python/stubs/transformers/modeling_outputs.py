"""Stand-in for src/transformers/modeling_outputs.py (huggingface/transformers, 4.5x; its five fields as
the class declares them at 7d1a3e74fa839037cba010c8f5e283e24a0e3ce6): CausalLMOutputWithPast,
what a causal LM's forward returns. The real class is a ModelOutput (a dataclass that is also an ordered
mapping of its non-None fields, and indexable like a tuple); callers here read ``.logits``."""
from collections import OrderedDict
from dataclasses import dataclass, fields
from typing import Any, Optional

import torch


class ModelOutput(OrderedDict):
    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                self[f.name] = value

    def __getitem__(self, key):
        if isinstance(key, str):
            return super().__getitem__(key)
        return self.to_tuple()[key]

    def to_tuple(self):
        return tuple(self[k] for k in self.keys())


@dataclass
class CausalLMOutputWithPast(ModelOutput):
    loss: Optional[torch.FloatTensor] = None
    logits: Optional[torch.FloatTensor] = None
    past_key_values: Optional[Any] = None
    hidden_states: Optional[tuple] = None
    attentions: Optional[tuple] = None
