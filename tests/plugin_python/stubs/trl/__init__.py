"""Stand-in for trl (huggingface/trl v1.9.0): the names the adapter imports."""
from .trainer.grpo_config import GRPOConfig
from .trainer.grpo_trainer import GRPOTrainer

__all__ = ["GRPOConfig", "GRPOTrainer"]
