"""Stand-in for openrlhf/trainer/ray/__init__.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7."""
from .vllm_engine import batch_vllm_engine_call, create_vllm_engines

__all__ = ["create_vllm_engines", "batch_vllm_engine_call"]
