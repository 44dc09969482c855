"""Stand-in for openrlhf/trainer/ppo_trainer.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7: prepare_datasets, BasePPOTrainer, PPOTrainer.

- ``SamplesGenerator`` is imported by name at module level and looked up as a module global when
  PPOTrainer is constructed, so a replacement must be set on THIS module (or on samples_generator
  before this module is imported).
- ``PPOTrainer(pretrain, strategy, actor_model_group, critic_model_group, reward_model_group,
  reference_model_group, vllm_engines, **generate_kwargs)`` (a Ray actor in the real code; a plain
  class here) builds the dataloaders and ``SamplesGenerator(strategy=..., prompts_dataloader=...,
  eval_dataloader=..., tokenizer=..., vllm_engines=...)``.
- ``fit(global_step=0)``: init_checkpoint_states (client states of the loaded checkpoint, or zeros)
  -> restores global_step, episode, total_consumed_prompts, the dataloader state; per episode,
  loop: generate_samples -> (no samples: break if exhausted, else retry) -> train_step ->
  client_states {episode, global_step, total_consumed_prompts, data_loader_state_dict} ->
  save_logs_and_checkpoints(global_step, status, client_states) (the step's status dict to the
  wandb / tensorboard loggers every logger.logging_steps; a checkpoint every ckpt.save_steps: actor save_checkpoint(tag="global_step{N}"),
  i.e. <ckpt.path>/_actor/global_step{N}) -> eval every eval.steps -> break if exhausted.
- ``args.reward.model_name_or_path`` / ``args.actor.model_name_or_path`` are callables here
  (score(text) and respond(prompt, label, n)); ``args.data.prompt_dataset`` is a list of row dicts
  (the real one names an HF dataset).
"""
import logging
from typing import Dict, Tuple

import torch

from openrlhf import _fake_ray as ray
from openrlhf.datasets import PromptDataset
from openrlhf.trainer.ppo_utils.experience_maker import RemoteExperienceMaker
from openrlhf.trainer.ppo_utils.samples_generator import SamplesGenerator
from openrlhf.utils.logging_utils import TensorboardLogger, WandbLogger
from openrlhf.utils.utils import get_tokenizer

logger = logging.getLogger(__name__)


class FixedKLController:
    def __init__(self, kl_coef):
        self.value = kl_coef

    def update(self, current, n_steps):
        pass


def prepare_datasets(strategy, tokenizer):
    args = strategy.args
    rows = list(args.data.prompt_dataset)[: args.data.max_samples]
    prompts_dataset = PromptDataset(rows, tokenizer, strategy, input_template=args.data.input_template)
    prompts_dataloader = strategy.setup_dataloader(prompts_dataset, 1, True, True, prompts_dataset.collate_fn)
    eval_dataloader = None
    if getattr(args.eval, "dataset", None):
        eval_dataset = PromptDataset(list(args.eval.dataset)[: args.data.max_samples], tokenizer, strategy,
                                     input_template=args.data.input_template)
        eval_dataloader = strategy.setup_dataloader(eval_dataset, 1, True, False, eval_dataset.collate_fn)
    max_steps = (len(prompts_dataset) * args.rollout.n_samples_per_prompt // args.train.batch_size
                 * args.train.num_episodes * args.train.max_epochs)
    return prompts_dataloader, eval_dataloader, max_steps


def compute_eval_metrics(eval_dataloader, samples_list, n_samples_per_prompt):
    if not samples_list:
        return {}
    rewards = torch.tensor([s.rewards.item() for s in samples_list]).reshape(-1, n_samples_per_prompt)
    return {"eval_default_pass1": rewards.mean().item(), "eval_num_samples": float(len(samples_list))}


class BasePPOTrainer:
    def __init__(
        self,
        strategy,
        actor_model_group,
        critic_model_group,
        reward_model_group,
        reference_model_group,
        vllm_engines,
        tokenizer,
    ) -> None:
        self.strategy = strategy
        self.args = strategy.args
        self.actor_model_group = actor_model_group
        self.critic_model_group = critic_model_group
        self.reward_model_group = reward_model_group
        self.reference_model_group = reference_model_group
        self.vllm_engines = vllm_engines
        self.tokenizer = tokenizer
        self.kl_ctl = FixedKLController(self.args.algo.kl.init_coef)
        self.experience_maker = RemoteExperienceMaker(
            actor_model_group, critic_model_group, reward_model_group, reference_model_group, self.kl_ctl,
            strategy, tokenizer)
        self.wandb_logger = WandbLogger(self.args) if self.args.logger.wandb.key else None
        self.tensorboard_logger = TensorboardLogger(self.args) if self.args.logger.tensorboard_dir else None
        self.best_eval_metric_value = float("-inf")
        self.best_eval_metric_key = getattr(self.args.ckpt, "best_metric_key", "") or ""
        self._latest_eval_metric_value = None

    def restore_best_checkpoint_state(self, checkpoint_states) -> None:
        if not checkpoint_states:
            return
        if checkpoint_states.get("best_eval_metric_key"):
            self.best_eval_metric_key = checkpoint_states["best_eval_metric_key"]
        if checkpoint_states.get("best_eval_metric_value") is not None:
            self.best_eval_metric_value = checkpoint_states["best_eval_metric_value"]
            self._latest_eval_metric_value = self.best_eval_metric_value

    def fit(self, global_step: int = 0) -> None:
        raise NotImplementedError("fit method is not implemented")

    def train_step(self, rollout_samples, global_step: int) -> Tuple[Dict, int]:
        experiences = self.experience_maker.make_experience_batch(rollout_samples)
        rewards = torch.cat([e.info["reward"].reshape(-1).float() for e in experiences if "reward" in e.info])
        ray.get(self.actor_model_group.async_run_method_batch(method_name="append", experience=experiences))
        status = self.ppo_train(global_step)
        if self.vllm_engines is not None:
            self.broadcast_to_vllm()
        status["rollout/reward_mean"] = rewards.mean().item()
        status["rollout/num_samples"] = float(len(rewards))
        return status, global_step + 1

    def ppo_train(self, global_steps: int) -> Dict:
        status = {}
        for result in ray.get(self.actor_model_group.async_run_method(method_name="fit", kl_ctl=self.kl_ctl.value)):
            status.update(result)
        return status

    def broadcast_to_vllm(self) -> None:
        ray.get(self.actor_model_group.async_run_method(method_name="broadcast_to_vllm"))

    def save_best_checkpoint(self, eval_metrics, global_step, client_states=None):
        key = self.best_eval_metric_key or next((k for k in sorted(eval_metrics) if k.endswith("_pass1")), None)
        if not eval_metrics or key in (None, "none") or key not in eval_metrics:
            return
        self.best_eval_metric_key = key
        value = self._latest_eval_metric_value = eval_metrics[key]
        if value > self.best_eval_metric_value:
            self.best_eval_metric_value = value
            client_states = dict(client_states or {}, best_eval_metric_key=key, best_eval_metric_value=value,
                                 checkpoint_metric_key=key)
            ray.get(self.actor_model_group.async_run_method(
                method_name="save_checkpoint", tag=f"best_global_step{global_step}", client_states=client_states,
                metric_value=value, metric_key=key))

    def save_logs_and_checkpoints(self, global_step: int, logs_dict=None, client_states=None) -> None:
        logs_dict = logs_dict or {}
        if global_step % self.args.logger.logging_steps == 0:
            if self.wandb_logger:
                self.wandb_logger.log_train(global_step, logs_dict)
            if self.tensorboard_logger:
                self.tensorboard_logger.log_train(global_step, logs_dict)
        client_states = client_states or {}
        if global_step % self.args.ckpt.save_steps == 0:
            tag = f"global_step{global_step}"
            metric_key = client_states.get("checkpoint_metric_key") or self.best_eval_metric_key or None
            ray.get(self.actor_model_group.async_run_method(
                method_name="save_checkpoint", tag=tag, client_states=client_states,
                metric_value=self._latest_eval_metric_value, metric_key=metric_key))

    def init_checkpoint_states(self) -> Dict:
        import os

        if self.args.ckpt.load_enable and os.path.exists(os.path.join(self.args.ckpt.path, "_actor")):
            return ray.get(self.actor_model_group.async_run_method(method_name="get_checkpoint_states"))[0]
        return {"episode": 0, "global_step": 0, "total_consumed_prompts": 0, "data_loader_state_dict": {}}


class PPOTrainer(BasePPOTrainer):
    def __init__(
        self,
        pretrain: str,
        strategy,
        actor_model_group,
        critic_model_group,
        reward_model_group,
        reference_model_group,
        vllm_engines,
        **generate_kwargs,
    ) -> None:
        if strategy.args.eval.steps == -1:
            strategy.args.eval.steps = float("inf")
        if strategy.args.ckpt.save_steps == -1:
            strategy.args.ckpt.save_steps = float("inf")
        tokenizer = get_tokenizer(pretrain, None, "left", strategy)
        self.prompts_dataloader, self.eval_dataloader, self.max_steps = prepare_datasets(strategy, tokenizer)
        self.generate_kwargs = generate_kwargs
        self.samples_generator = SamplesGenerator(
            strategy=strategy,
            prompts_dataloader=self.prompts_dataloader,
            eval_dataloader=self.eval_dataloader,
            tokenizer=tokenizer,
            vllm_engines=vllm_engines,
        )
        super().__init__(strategy, actor_model_group, critic_model_group, reward_model_group,
                         reference_model_group, vllm_engines, tokenizer)

    def get_max_steps(self):
        return self.max_steps

    def fit(self, global_step: int = 0) -> None:
        checkpoint_states = self.init_checkpoint_states()
        self.restore_best_checkpoint_state(checkpoint_states)
        start_episode = checkpoint_states["episode"]
        if checkpoint_states["global_step"] > 0:
            global_step = checkpoint_states["global_step"]
        total_consumed_prompts = checkpoint_states["total_consumed_prompts"]
        if global_step:
            self.broadcast_to_vllm()
            if checkpoint_states["data_loader_state_dict"]:
                self.prompts_dataloader.load_state_dict(checkpoint_states["data_loader_state_dict"])

        self.steps_log = []  # stand-in only: (global_step, status) per step, for tests
        for episode in range(start_episode, self.args.train.num_episodes):
            while True:
                rollout_samples, filter_pass_rate, prompts_consumed, is_exhausted = (
                    self.samples_generator.generate_samples(**self.generate_kwargs))
                total_consumed_prompts += prompts_consumed
                if not rollout_samples:
                    if is_exhausted:
                        break
                    continue

                status, global_step = self.train_step(rollout_samples, global_step)
                if self.args.algo.dynamic_filtering_enable:
                    status["dynamic_filtering_pass_rate"] = filter_pass_rate
                self.steps_log.append((global_step, status))

                client_states = {
                    "episode": episode,
                    "global_step": global_step,
                    "total_consumed_prompts": total_consumed_prompts,
                    "data_loader_state_dict": self.prompts_dataloader.state_dict(),
                }
                self.save_logs_and_checkpoints(global_step, status, client_states)

                if global_step % self.args.eval.steps == 0 and self.eval_dataloader:
                    eval_kwargs = dict(self.generate_kwargs, temperature=self.args.eval.temperature,
                                       n_samples_per_prompt=self.args.eval.n_samples_per_prompt)
                    self.save_best_checkpoint(self.evaluate(global_step, **eval_kwargs), global_step, client_states)
                if is_exhausted:
                    break

    @torch.no_grad()
    def evaluate(self, global_step, **generate_kwargs):
        samples_list = self.samples_generator.generate_eval_samples(**generate_kwargs)
        return compute_eval_metrics(self.eval_dataloader, samples_list, generate_kwargs["n_samples_per_prompt"])
