"""Stand-in for openrlhf/datasets/__init__.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7 (PromptDataset only)."""
from .prompts_dataset import PromptDataset

__all__ = ["PromptDataset"]
