"""Stand-in for openrlhf/utils/utils.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7: get_strategy, get_tokenizer, zero_pad_sequences.

The tokenizer is tests/plugin_python/char_tokenizer.py's (token id = code point, pad id 0), so
that token ids decode back to the exact text.
"""
from typing import List

import torch
import torch.nn.functional as F
from char_tokenizer import CharTokenizer


def get_strategy(args):
    from openrlhf.utils.deepspeed import DeepspeedStrategy

    return DeepspeedStrategy(
        seed=getattr(args.train, "seed", 42),
        full_determinism=getattr(args.train, "full_determinism_enable", False),
        max_norm=getattr(args, "max_norm", 1.0),
        micro_train_batch_size=getattr(args.train, "micro_batch_size", 1),
        train_batch_size=getattr(args.train, "batch_size", 128),
        zero_stage=args.ds.zero_stage,
        args=args,
    )


def get_tokenizer(pretrain, model, padding_side="left", strategy=None, use_fast=True):
    tokenizer = CharTokenizer()
    tokenizer.padding_side = padding_side
    return tokenizer


def zero_pad_sequences(
    sequences: List[torch.Tensor], side: str = "left", value: int = 0, stack: bool = False
) -> torch.Tensor:
    assert side in ("left", "right")
    width = max(seq.size(-1) for seq in sequences)  # a None in the list fails here, as in the real one
    padded = []
    for seq in sequences:
        missing = width - seq.size(-1)
        padded.append(F.pad(seq, (missing, 0) if side == "left" else (0, missing), value=value))
    return torch.stack(padded, dim=0) if stack else torch.cat(padded, dim=0)
