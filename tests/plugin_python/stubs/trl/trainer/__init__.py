"""Stand-in for trl/trainer/__init__.py (huggingface/trl at f2cd57710ae345ea6428ae95363267fcf38a3dc8)."""
from .grpo_config import GRPOConfig
from .grpo_trainer import GRPOTrainer

__all__ = ["GRPOConfig", "GRPOTrainer"]
