"""Stand-in for trl/trainer/grpo_trainer.py (v1.9.0): GRPOTrainer's surface that subclasses use.

Real interface mirrored here:
- ``GRPOTrainer(model, reward_funcs=None, args=None, train_dataset=None, eval_dataset=None,
  processing_class=None, reward_processing_classes=None, callbacks=None, optimizers=(None, None),
  quantization_config=None, peft_config=None, tools=None, rollout_func=None,
  environment_factory=None)``.
- ``_generate_and_score_completions(self, inputs)``: inputs are dataset rows with "prompt", a
  prompt's ``num_generations`` copies adjacent; reads ``x["prompt"]``, generates one completion
  per row, calls ``_calculate_rewards``, normalises rewards per group of ``num_generations`` into
  advantages, and returns a dict of tensors for the loss (rewards are not in it).
- ``_calculate_rewards(self, inputs, prompts, completions, completion_ids_list)``: calls each
  reward function as ``f(prompts=, completions=, completion_ids=, **columns)`` where columns are
  the rows' other keys, and returns ``rewards_per_func`` [rows, functions], gathered over processes.
- ``_save_checkpoint(self, model, trial)``, ``_load_optimizer_and_scheduler(self, checkpoint)``,
  ``_get_output_dir(trial)``, ``self.accelerator`` (``num_processes``, ``process_index``,
  ``is_main_process``), ``self.state`` (``epoch``, ``global_step``), ``self.args.should_save``,
  ``self.model.training``, ``self.num_generations``, ``self.reward_weights``.
Generation is fake: ``model(prompt)`` returns the completion text.
"""
import os
from dataclasses import dataclass

import torch

from .grpo_config import GRPOConfig


@dataclass
class _Accelerator:
    num_processes: int = 1
    process_index: int = 0
    is_main_process: bool = True


@dataclass
class _TrainerState:
    epoch: float = None  # transformers: None until training starts
    global_step: int = 0


class GRPOTrainer:
    def __init__(self, model, reward_funcs=None, args: GRPOConfig = None, train_dataset=None, eval_dataset=None,
                 processing_class=None, reward_processing_classes=None, callbacks=None, optimizers=(None, None),
                 quantization_config=None, peft_config=None, tools=None, rollout_func=None,
                 environment_factory=None):
        self.model = model
        self.args = args or GRPOConfig()
        self.reward_funcs = reward_funcs if isinstance(reward_funcs, list) else [reward_funcs]
        self.num_generations = self.args.num_generations
        self.train_dataset = train_dataset
        self.accelerator = _Accelerator()
        self.state = _TrainerState()
        weights = self.args.reward_weights or [1.0] * len(self.reward_funcs)
        self.reward_weights = torch.tensor(weights, dtype=torch.float32)
        self.saved_checkpoints = []

    def _generate_and_score_completions(self, inputs):
        prompts = [x["prompt"] for x in inputs]
        completions = [self.model(p) for p in prompts]
        completion_ids_list = [[ord(c) for c in completion] for completion in completions]
        rewards_per_func = self._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        rewards = (rewards_per_func * self.reward_weights.unsqueeze(0)).nansum(dim=1)
        grouped = rewards.view(-1, self.num_generations)
        advantages = (grouped - grouped.mean(dim=1, keepdim=True)).view(-1)
        n = len(prompts)
        local = slice(self.accelerator.process_index * n, (self.accelerator.process_index + 1) * n)
        return {"prompts": prompts, "completions": completions, "advantages": advantages[local]}

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = torch.zeros(len(prompts), len(self.reward_funcs))
        keys = [key for key in inputs[0] if key not in ["prompt", "completion", "completion_ids"]]
        reward_kwargs = {key: [example[key] for example in inputs] for key in keys}
        for i, reward_func in enumerate(self.reward_funcs):
            values = reward_func(prompts=prompts, completions=completions, completion_ids=completion_ids_list,
                                 **reward_kwargs)
            rewards_per_func[:, i] = torch.tensor([v if v is not None else torch.nan for v in values])
        return rewards_per_func  # gather() over processes in the real trainer

    def _get_output_dir(self, trial):
        return self.args.output_dir

    def _save_checkpoint(self, model, trial):
        folder = os.path.join(self._get_output_dir(trial), f"checkpoint-{self.state.global_step}")
        os.makedirs(folder, exist_ok=True)
        self.saved_checkpoints.append(folder)

    def _load_optimizer_and_scheduler(self, checkpoint):
        pass
