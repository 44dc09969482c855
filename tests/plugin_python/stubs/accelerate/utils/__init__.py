"""Stand-in for src/accelerate/utils/__init__.py (huggingface/accelerate at
16cb6eb80dd9aa8b4df1a63ef57863e455d53b83): the names TRL's GRPOTrainer imports from it
(``gather, gather_object, is_peft_model, set_seed``) and ``broadcast_object_list``."""
from .operations import broadcast_object_list, gather, gather_object, reduce


def is_peft_model(model) -> bool:
    return False  # no PEFT in the stand-ins


def set_seed(seed: int, device_specific: bool = False, deterministic: bool = False):
    import random

    import numpy as np
    import torch

    from ..state import PartialState
    if device_specific:
        seed += PartialState().process_index
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


__all__ = ["broadcast_object_list", "gather", "gather_object", "is_peft_model", "reduce", "set_seed"]
