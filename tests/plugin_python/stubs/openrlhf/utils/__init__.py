"""Stand-in for openrlhf/utils/__init__.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7."""
from .utils import get_strategy, get_tokenizer

__all__ = ["get_strategy", "get_tokenizer"]
