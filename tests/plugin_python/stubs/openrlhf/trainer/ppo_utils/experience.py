"""Stand-in for openrlhf/trainer/ppo_utils/experience.py: the Experience fields a generator fills."""
from dataclasses import dataclass, field

import torch


@dataclass
class Experience:
    sequences: torch.Tensor = None
    rewards: torch.Tensor = None  # (B,) used for advantages
    scores: torch.Tensor = None   # (B,) 0-1 scores for dynamic filtering
    prompts: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
