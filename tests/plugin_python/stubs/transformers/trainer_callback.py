"""Stand-in for src/transformers/trainer_callback.py (huggingface/transformers, 4.5x): TrainerState,
TrainerControl, TrainerCallback.

TrainerState mirrors the fields the trainers read: ``epoch`` (None until training starts, then a
float: epoch index + fraction of the epoch done), ``global_step`` (optimizer steps done),
``max_steps``, ``save_steps``, ``num_input_tokens_seen``, ``best_model_checkpoint``,
``best_global_step``; ``save_to_json`` / ``load_from_json`` as trainer_state.json.
"""
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class TrainerState:
    epoch: Optional[float] = None
    global_step: int = 0
    max_steps: int = 0
    logging_steps: int = 500
    eval_steps: int = 500
    save_steps: int = 500
    train_batch_size: Optional[int] = None
    num_train_epochs: int = 0
    num_input_tokens_seen: int = 0
    total_flos: float = 0
    log_history: List[Dict[str, float]] = field(default_factory=list)
    best_metric: Optional[float] = None
    best_global_step: Optional[int] = None
    best_model_checkpoint: Optional[str] = None
    is_local_process_zero: bool = True
    is_world_process_zero: bool = True
    is_hyper_param_search: bool = False
    stateful_callbacks: Dict[str, Any] = field(default_factory=dict)

    def save_to_json(self, json_path: str):
        with open(json_path, "w", encoding="utf-8") as f:
            f.write(json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load_from_json(cls, json_path: str):
        with open(json_path, encoding="utf-8") as f:
            return cls(**json.loads(f.read()))


@dataclass
class TrainerControl:
    should_training_stop: bool = False
    should_epoch_stop: bool = False
    should_save: bool = False
    should_evaluate: bool = False
    should_log: bool = False


class TrainerCallback:
    """Base class for callbacks; the stand-in Trainer calls on_step_end, on_log and on_save."""

    def on_step_end(self, args, state, control, **kwargs):
        pass

    def on_save(self, args, state, control, **kwargs):
        pass

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass
