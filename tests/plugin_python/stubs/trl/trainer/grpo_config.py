"""Stand-in for trl/trainer/grpo_config.py (huggingface/trl at f2cd57710ae345ea6428ae95363267fcf38a3dc8): GRPOConfig.

Real: a dataclass subclassing trl's _BaseConfig(transformers.TrainingArguments) (grpo_config.py:23)
with ~100 fields. This one keeps the fields GRPOTrainer reads, with the real names and defaults
(TRL's own overrides included: logging_steps=10, gradient_checkpointing=True, bf16=None,
remove_unused_columns=False, learning_rate=1e-6), and the real __post_init__ batch arithmetic
(grpo_config.py:1035-1112):
- neither generation_batch_size nor steps_per_generation set: steps_per_generation =
  gradient_accumulation_steps and generation_batch_size = per_device_train_batch_size *
  world_size * steps_per_generation;
- one of them set: the other is derived (generation_batch_size must be a multiple of
  per_device_train_batch_size * world_size); both set: ValueError;
- generation_batch_size % num_generations == 0 and num_generations >= 2, else ValueError;
- scale_rewards True/False become "group"/"none".
world_size is the simulated process count at construction: build the config inside each
simulated process, as each real process builds its own. Removed upstream and absent here:
max_prompt_length (removed in 89070d2, #4847, first in v0.28.0).
"""
from dataclasses import dataclass
from typing import Any, Optional

from transformers import TrainingArguments


@dataclass
class GRPOConfig(TrainingArguments):
    # TRL's defaults over TrainingArguments (trl/trainer/base_config.py and grpo_config.py:418)
    logging_steps: float = 10
    gradient_checkpointing: bool = True
    bf16: Optional[bool] = None
    learning_rate: float = 1e-6
    remove_unused_columns: Optional[bool] = False
    # model
    model_init_kwargs: Optional[Any] = None
    trust_remote_code: bool = False
    router_aux_loss_coef: float = 0.001
    disable_dropout: bool = False
    cast_lm_head_to_fp32: bool = False
    # data
    num_generations: Optional[int] = 8
    num_generations_eval: Optional[int] = None
    max_completion_length: Optional[int] = 512
    ds3_gather_for_generation: bool = True
    shuffle_dataset: Optional[bool] = True
    pad_to_multiple_of: Optional[int] = None
    # generation
    generation_batch_size: Optional[int] = None
    steps_per_generation: Optional[int] = None
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: Optional[float] = None
    generation_kwargs: Optional[dict] = None
    chat_template_kwargs: Optional[dict] = None
    repetition_penalty: float = 1.0
    cache_implementation: Optional[str] = None
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    vllm_model_impl: str = "vllm"
    vllm_enable_sleep_mode: bool = False
    vllm_structured_outputs_regex: Optional[str] = None
    vllm_server_base_url: Optional[str] = None
    vllm_server_host: str = "0.0.0.0"
    vllm_server_port: int = 8000
    vllm_server_timeout: float = 240.0
    vllm_group_port: int = 51216
    vllm_gpu_memory_utilization: float = 0.3
    vllm_max_model_length: Optional[int] = None
    vllm_tensor_parallel_size: int = 1
    # training
    beta: float = 0.0
    num_iterations: int = 1
    epsilon: float = 0.2
    delta: Optional[float] = None
    epsilon_high: Optional[float] = None
    importance_sampling_level: str = "token"
    reward_weights: Optional[list] = None
    multi_objective_aggregation: str = "sum_then_normalize"
    scale_rewards: str = "group"
    loss_type: str = "dapo"
    mask_truncated_completions: bool = False
    sync_ref_model: bool = False
    top_entropy_quantile: float = 1.0
    entropy_coef: float = 0.0
    use_adaptive_entropy: bool = False
    max_tool_calling_iterations: Optional[int] = None
    vllm_importance_sampling_correction: bool = True
    vllm_importance_sampling_mode: str = "sequence_mask"
    vllm_importance_sampling_clip_max: Optional[float] = 3.0
    vllm_importance_sampling_clip_min: Optional[float] = None
    off_policy_mask_threshold: Optional[float] = None
    # logging
    log_completions: bool = False
    log_multimodal: bool = True
    num_completions_to_print: Optional[int] = None
    log_unique_prompts: bool = False
    log_completions_hub_repo: Optional[str] = None
    use_transformers_continuous_batching: bool = False

    def __post_init__(self):
        super().__post_init__()
        self.scale_rewards = {True: "group", False: "none"}.get(self.scale_rewards, self.scale_rewards)
        if self.auto_find_batch_size:
            raise ValueError("auto_find_batch_size is not supported by GRPO")
        num_processes = self.world_size
        global_batch = self.per_device_train_batch_size * num_processes
        if self.generation_batch_size is None and self.steps_per_generation is None:
            self.steps_per_generation = self.gradient_accumulation_steps
            self.generation_batch_size = global_batch * self.steps_per_generation
        elif self.generation_batch_size is not None and self.steps_per_generation is None:
            if self.generation_batch_size % global_batch != 0:
                raise ValueError(f"generation_batch_size ({self.generation_batch_size}) must be divisible by the "
                                 f"global batch size ({global_batch}).")
            self.steps_per_generation = self.generation_batch_size // global_batch
        elif self.generation_batch_size is None and self.steps_per_generation is not None:
            self.generation_batch_size = global_batch * self.steps_per_generation
        else:
            raise ValueError("'generation_batch_size' and 'steps_per_generation' can not be both configured at "
                             "the same time")
        if self.do_eval and self.eval_strategy != "no":
            num_generations = self.num_generations_eval or self.num_generations
            if (self.per_device_eval_batch_size * num_processes) % num_generations != 0:
                raise ValueError("The global eval batch size must be divisible by the number of generations")
        if self.generation_batch_size % self.num_generations != 0:
            raise ValueError(f"generation_batch_size ({self.generation_batch_size}) must be divisible by "
                             f"num_generations ({self.num_generations}).")
        if self.num_generations < 2:
            raise ValueError("GRPO requires at least 2 generations per prompt to calculate the advantages.")
