"""Stand-in for src/transformers/training_args.py (huggingface/transformers, 4.5x): TrainingArguments.

A subset of the real dataclass fields, same names and defaults. The distributed properties read the
calling thread's simulated process (accelerate stand-in), the way the real ones read
``self.distributed_state``: build the arguments inside each simulated process.
- ``world_size``, ``process_index``, ``local_process_index``: the process group.
- ``should_save``: True on the main process only (``save_on_each_node=False``: process_index == 0).
- ``train_batch_size``: per_device_train_batch_size (no DataParallel n_gpu here).
"""
from dataclasses import dataclass, field
from typing import Any, Optional, Union


@dataclass
class TrainingArguments:
    # A class attribute in the real one (not a field): the fields a string may give as JSON. TRL's
    # configs extend it at class-definition time (trl f2cd577 grpo_config.py), so it must exist.
    _VALID_DICT_FIELDS = ["accelerator_config", "fsdp_config", "deepspeed", "gradient_checkpointing_kwargs",
                          "lr_scheduler_kwargs"]

    output_dir: Optional[str] = None
    do_train: bool = False
    do_eval: bool = False
    eval_strategy: str = "no"
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5
    num_train_epochs: float = 3.0
    max_steps: int = -1
    logging_steps: float = 500
    save_strategy: str = "steps"
    save_steps: float = 500
    save_total_limit: Optional[int] = None
    save_only_model: bool = False
    save_on_each_node: bool = False
    seed: int = 42
    bf16: Optional[bool] = False
    fp16: bool = False
    dataloader_drop_last: bool = False
    dataloader_num_workers: int = 0
    remove_unused_columns: Optional[bool] = True
    ignore_data_skip: bool = False
    auto_find_batch_size: bool = False
    gradient_checkpointing: bool = False
    gradient_checkpointing_kwargs: Optional[Union[dict, str]] = None
    use_liger_kernel: bool = False
    hub_model_id: Optional[str] = None
    hub_private_repo: Optional[bool] = None
    push_to_hub: bool = False
    report_to: Union[None, str, list] = "none"
    parallelism_config: Optional[Any] = None
    deepspeed_plugin: Optional[Any] = field(default=None, repr=False)

    def __post_init__(self):
        if self.output_dir is None:
            self.output_dir = "trainer_output"

    @property
    def _state(self):
        from accelerate import PartialState
        return PartialState()

    @property
    def world_size(self) -> int:
        return self._state.num_processes

    @property
    def process_index(self) -> int:
        return self._state.process_index

    @property
    def local_process_index(self) -> int:
        return self._state.local_process_index

    @property
    def should_save(self) -> bool:
        if self.save_on_each_node:
            return self.local_process_index == 0
        return self.process_index == 0

    @property
    def should_log(self) -> bool:
        return self.process_index == 0

    @property
    def train_batch_size(self) -> int:
        return self.per_device_train_batch_size

    @property
    def eval_batch_size(self) -> int:
        return self.per_device_eval_batch_size

    @property
    def device(self):
        return self._state.device

    @property
    def distributed_state(self):
        return self._state
