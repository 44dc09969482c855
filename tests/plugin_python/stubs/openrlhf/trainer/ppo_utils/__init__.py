"""Stand-in for openrlhf/trainer/ppo_utils/__init__.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7 (exports Experience)."""
from .experience import Experience

__all__ = ["Experience"]
