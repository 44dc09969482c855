"""Stand-in for src/accelerate/logging.py (huggingface/accelerate at
16cb6eb80dd9aa8b4df1a63ef57863e455d53b83): ``get_logger``, which TRL's trainer modules call at import
time (trl f2cd577 trainer/utils.py, trainer/grpo_trainer.py).

Real: a LoggerAdapter that logs on the main process only unless a call passes
``main_process_only=False``, and in rank order with ``in_order=True``. Here the same filter on the
calling thread's simulated process (simworld); ``in_order`` is accepted and ignored.
"""
import logging


class MultiProcessAdapter(logging.LoggerAdapter):
    def log(self, level, msg, *args, **kwargs):
        from .state import PartialState
        main_process_only = kwargs.pop("main_process_only", True)
        kwargs.pop("in_order", None)
        if self.isEnabledFor(level) and (not main_process_only or PartialState().is_main_process):
            msg, kwargs = self.process(msg, kwargs)
            self.logger.log(level, msg, *args, **kwargs)


def get_logger(name: str, log_level: str = None):
    logger = logging.getLogger(name)
    if log_level is not None:
        logger.setLevel(log_level.upper())
    return MultiProcessAdapter(logger, {})
