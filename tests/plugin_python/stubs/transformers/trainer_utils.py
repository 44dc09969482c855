"""Stand-in for src/transformers/trainer_utils.py (huggingface/transformers, stored version at
007360d654f36b1f4bc0c701c7b1b69273a7c4ed): checkpoints live in <output_dir>/checkpoint-<global_step>.

``PREFIX_CHECKPOINT_DIR = "checkpoint"`` and ``get_last_checkpoint(folder)`` (the highest
``checkpoint-N`` directory in folder, or None), as in the real file.
"""
import os
import re

PREFIX_CHECKPOINT_DIR = "checkpoint"
_re_checkpoint = re.compile(r"^" + PREFIX_CHECKPOINT_DIR + r"\-(\d+)$")


def get_last_checkpoint(folder):
    content = os.listdir(folder)
    checkpoints = [p for p in content
                   if _re_checkpoint.search(p) is not None and os.path.isdir(os.path.join(folder, p))]
    if not checkpoints:
        return None
    return os.path.join(folder, max(checkpoints, key=lambda x: int(_re_checkpoint.search(x).groups()[0])))


class SaveStrategy:
    NO = "no"
    STEPS = "steps"
    EPOCH = "epoch"
    BEST = "best"
