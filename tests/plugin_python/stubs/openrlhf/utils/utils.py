"""Stand-in for openrlhf/utils/utils.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7: get_strategy, get_tokenizer, zero_pad_sequences.

The tokenizer is a character tokenizer (token id = code point, pad id 0), so that token ids
decode back to the exact text; ``apply_chat_template`` writes a ChatML-like template.
"""
from typing import List

import torch
import torch.nn.functional as F


class CharTokenizer:
    pad_token_id = 0
    eos_token_id = 3
    padding_side = "left"

    def __call__(self, text, add_special_tokens=False, return_tensors=None, **kwargs):
        ids = [ord(c) for c in text]
        return {"input_ids": torch.tensor([ids], dtype=torch.long) if return_tensors == "pt" else ids}

    def decode(self, ids, skip_special_tokens=False):
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        if ids and isinstance(ids[0], list):
            return [self.decode(row, skip_special_tokens) for row in ids]
        return "".join(chr(i) for i in ids if not (skip_special_tokens and i == self.pad_token_id))

    def apply_chat_template(self, chat, tokenize=False, add_generation_prompt=True):
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in chat)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


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
