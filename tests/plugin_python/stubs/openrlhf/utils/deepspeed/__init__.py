"""Stand-in for openrlhf/utils/deepspeed/__init__.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7."""
from .deepspeed import DeepspeedStrategy

__all__ = ["DeepspeedStrategy"]
