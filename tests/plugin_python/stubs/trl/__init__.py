"""Stand-in for trl (huggingface/trl at commit f2cd57710ae345ea6428ae95363267fcf38a3dc8, version 1.10.0.dev0):
trl/__init__.py's GRPOConfig and GRPOTrainer. See trl/trainer/grpo_trainer.py here for what is
mirrored, and /work/facts/trl.md (the fact report it was written from)."""
from .trainer.grpo_config import GRPOConfig
from .trainer.grpo_trainer import GRPOTrainer

__version__ = "1.10.0.dev0"
__all__ = ["GRPOConfig", "GRPOTrainer"]
