"""Stand-in for openrlhf/trainer/ppo_utils/experience_maker.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7: RemoteExperienceMaker.

Where the reward-model rewards come from. ``make_experience_batch(rollout_samples)`` =
split_rollout_samples (indexes each sample, concatenates micro-batches of
rollout.micro_batch_size) -> make_experience -> compute_advantages_and_returns.
``make_experience(samples_list)``: when the FIRST micro-batch has no rewards
(``samples_list[0].rewards is None``), the reward model group scores every micro-batch
(ValueError without one) and sets ``samples.rewards`` and ``samples.info["reward"]``; each
micro-batch still carries its ``prompts``. Then actor log-probs (KL is zero here: no reference
model is modelled). ``compute_advantages_and_returns`` concatenates every rewards tensor (a None
fails), reshapes to (-1, n_samples_per_prompt) in original sample order, subtracts the group
baseline of the estimator (rloo, reinforce_baseline/dr_grpo, group_norm), and puts the shaped
reward on the response tokens as returns/advantages (length penalties, KL and GAE not modelled).
"""
import itertools
from typing import List

import torch

from openrlhf import _fake_ray as ray
from openrlhf.trainer.ppo_utils.experience import Experience


class RemoteExperienceMaker:
    def __init__(
        self,
        actor_model_group,
        critic_model_group,
        reward_model_group,
        initial_model_group,
        kl_controller,
        strategy,
        tokenizer,
        **kwargs,
    ):
        self.strategy = strategy
        self.args = strategy.args
        self.advantage_estimator = strategy.args.algo.advantage.estimator
        self.actor_model_group = actor_model_group
        self.critic_model_group = critic_model_group
        self.reward_model_group = reward_model_group
        self.initial_model_group = initial_model_group
        self.tokenizer = tokenizer
        self.kl_ctl = kl_controller

    def split_rollout_samples(self, rollout_samples):
        for i, sample in enumerate(rollout_samples):
            sample.index = [i]
        size = self.args.rollout.micro_batch_size
        return [Experience.concat_experiences(rollout_samples[i:i + size], self.tokenizer.pad_token_id)
                for i in range(0, len(rollout_samples), size)]

    @torch.no_grad()
    def make_experience_batch(self, rollout_samples) -> List[Experience]:
        samples_list = self.split_rollout_samples(rollout_samples)
        experiences = self.make_experience(samples_list)
        return self.compute_advantages_and_returns(experiences)

    def _flatten_results(self, refs, duplicate_factor):
        return list(itertools.chain.from_iterable(ray.get(refs)[::duplicate_factor]))

    @torch.no_grad()
    def make_experience(self, samples_list: List[Experience]) -> List[Experience]:
        duplicate_factor = self.args.ds.ring_attn_size * self.args.ds.tensor_parallel_size
        sequences = [s.sequences for s in samples_list]
        attention_masks = [s.attention_mask for s in samples_list]
        action_masks = [s.action_mask for s in samples_list]

        use_reward_model = samples_list[0].rewards is None
        if use_reward_model:
            if self.reward_model_group is None:
                raise ValueError("reward_model_group is required when rewards are not precomputed")
            r_refs = self.reward_model_group.async_run_method_batch(
                method_name="forward", sequences=sequences, attention_mask=attention_masks,
                pad_sequence=[True] * len(samples_list))
        log_prob_refs = self.actor_model_group.async_run_method_batch(
            method_name="forward", sequences=sequences, action_mask=action_masks, attention_mask=attention_masks)

        log_probs = self._flatten_results(log_prob_refs, duplicate_factor)
        if use_reward_model:
            rewards = self._flatten_results(r_refs, duplicate_factor)
            for samples, reward in zip(samples_list, rewards):
                samples.rewards = reward
                samples.info["reward"] = reward
        for samples, action_log_probs in zip(samples_list, log_probs):
            samples.action_log_probs = action_log_probs
            samples.kl = torch.zeros_like(action_log_probs)
            samples.info["kl"] = torch.zeros(len(samples.sequences))
        return samples_list

    @torch.no_grad()
    def compute_advantages_and_returns(self, experiences: List[Experience]) -> List[Experience]:
        args = self.strategy.args
        n = args.rollout.n_samples_per_prompt
        sizes = [len(e.index) for e in experiences]
        indices = torch.tensor(list(itertools.chain.from_iterable(e.index for e in experiences)))
        raw = torch.cat([e.rewards for e in experiences], dim=0)
        rewards = torch.empty_like(raw, dtype=torch.float)
        rewards[indices] = raw.float()
        rewards = rewards.reshape(-1, n)
        if args.algo.advantage.estimator == "rloo":
            rewards = rewards - (rewards.sum(-1, keepdim=True) - rewards) / (n - 1)
        elif args.algo.advantage.estimator in ["reinforce_baseline", "dr_grpo"]:
            rewards = rewards - rewards.mean(-1, keepdim=True)
        elif args.algo.advantage.estimator == "group_norm":
            rewards = (rewards - rewards.mean(-1, keepdim=True)) / (rewards.std(-1, keepdim=True) + 1e-9)
        for experience, reward in zip(experiences, rewards.reshape(-1)[indices].split(sizes)):
            experience.returns = reward.unsqueeze(-1) * experience.action_mask.float()
            experience.advantages = experience.returns.clone()
            experience.info["return"] = reward
            experience.kl = None
        return experiences
