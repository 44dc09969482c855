"""Stand-in for openrlhf/utils/logging_utils.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7: the training loggers.

``BasePPOTrainer.__init__`` builds ``WandbLogger(args)`` when --logger.wandb.key is set and
``TensorboardLogger(args)`` when --logger.tensorboard_dir is; ``save_logs_and_checkpoints`` calls
their ``log_train(global_step, logs_dict)`` every --logger.logging_steps steps with the step's
status dict. ``TensorboardLogger.log_train`` writes every entry but "generated_samples" with
``SummaryWriter.add_scalar(f"train/{k}", v, global_step)`` (None values skipped), so every other
value must be a number. Here the writer is an in-memory one (``scalars``: (tag, value, step) per
call) that refuses what add_scalar refuses; wandb is not mirrored.
"""
import logging
import numbers
import os
from typing import Any, Dict


def init_logger(name: str):
    return logging.getLogger(name)


class _SummaryWriter:
    """torch.utils.tensorboard.SummaryWriter, reduced to the calls OpenRLHF makes, in memory."""

    def __init__(self, log_dir=None):
        self.log_dir = log_dir
        self.scalars = []
        self.texts = []

    def add_scalar(self, tag, scalar_value, global_step=None):
        if isinstance(scalar_value, bool) or not isinstance(scalar_value, numbers.Real):
            raise TypeError(f"add_scalar({tag!r}) takes a number, not {type(scalar_value).__name__}")
        self.scalars.append((tag, float(scalar_value), global_step))

    def add_text(self, tag, text_string, global_step=None):
        self.texts.append((tag, text_string, global_step))

    def close(self):
        pass


class WandbLogger:
    def __init__(self, args) -> None:
        raise NotImplementedError("stand-in: wandb is not mirrored; use --logger.tensorboard_dir")


class TensorboardLogger:
    def __init__(self, args) -> None:
        self.writer = _SummaryWriter(log_dir=os.path.join(args.logger.tensorboard_dir, args.logger.wandb.run_name))

    def log_train(self, global_step: int, logs_dict: Dict[str, Any]) -> None:
        for k, v in logs_dict.items():
            if k == "generated_samples" and v is not None:
                text, reward = v
                self.writer.add_text("train/generated_samples", f"Sample:\n{text}\n\nReward: {reward:.4f}", global_step)
            elif v is not None:
                self.writer.add_scalar(f"train/{k}", v, global_step)

    def log_eval(self, global_step: int, logs_dict: Dict[str, Any]) -> None:
        for k, v in logs_dict.items():
            if v is not None:
                self.writer.add_scalar(f"eval/{k}", v, global_step)

    def close(self) -> None:
        self.writer.close()
