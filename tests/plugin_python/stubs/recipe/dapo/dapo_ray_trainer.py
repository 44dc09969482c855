"""Stand-in for dapo/dapo_ray_trainer.py of verl-project/verl-recipe at
21892b9276936efab5375c3f6b8415e472ef7118 (imported as recipe.dapo.dapo_ray_trainer), the recipe
commit that verl b178a3cd56f58b2d502255daba591e92833930a7 pins as its recipe submodule. Every name it
imports from verl exists at b178a3c (checked against the source); built on the verl stand-in.

``RayDAPOTrainer(RayPPOTrainer)``:
- ``compute_kl_related_metrics(batch, metrics, timing_raw)`` (50): response_mask, old log-probs
  (entropy into metrics), reference log-probs when used.
- ``fit`` (76-418), the batch path:
  * no temperature in meta_info, and no checkpoint_manager calls (this recipe predates them);
    epochs run ``range(trainer.total_epochs)`` from 0 even after a resume (134), the loader's
    restored position and ``total_training_steps`` end the run.
  * per dataloader batch: ``new_batch = DataProto.from_single_dict(batch_dict)``,
    ``num_gen_batches += 1``, ``gen_batch = self._get_gen_batch(new_batch)`` BEFORE any uid
    exists, repeat(n, interleave), ``async_rollout_manager.generate_sequences``;
    THEN ``uid`` (187), ``new_batch.repeat(n)``, ``union(gen_batch_output)``.
  * reward (205-227): ``compute_reward(new_batch, self.reward_fn)`` (verl's reward.py: the
    reward manager called with ``return_dict=True``) on EVERY generation batch, after the uid
    and before the filter; at b178a3c the manager returns the agent loop's ``rm_scores`` and
    its ``reward_extra_keys`` columns when present (AbstractRewardManager.
    _extract_reward_from_rm_scores). ``token_level_scores`` = the tensor, extras into
    non_tensor_batch as np.array, ``token_level_rewards`` = scores (no KL in reward).
  * filter_groups (229-289) when ``algorithm.filter_groups.enable``: metric "seq_final_reward"
    -> non_tensor ``seq_final_reward`` = token_level_rewards.sum(-1).numpy(); "seq_reward" -> from
    token_level_scores; any other name must already be a non_tensor key (e.g. "acc", "score").
    Group by uid (zip strict); keep a uid iff ``np.std(values) > 0 or len(values) == 1``;
    ``num_prompt_in_batch += len(kept_prompt_uids)``; ``new_batch = new_batch[kept_traj_idxs]``;
    ``batch = new_batch`` or ``DataProto.concat([batch, new_batch])``. If
    ``num_prompt_in_batch < data.train_batch_size``: keep generating (``continue``, global_steps
    unchanged) unless ``max_num_gen_batches > 0 and num_gen_batches >= max_num_gen_batches`` ->
    ValueError. Else ``batch = batch[:train_batch_size * n]``.
  * then: ``_balance_batch(batch, metrics=metrics)`` (297), global_token_num, old log-prob,
    (values), advantage, (critic), actor update when ``critic_warmup <= global_steps``; then
    validation; then ``_save_checkpoint`` on save_freq / the last step (368), outside the
    critic-warmup block; then ``train/num_gen_batches`` and ``logger.log(metrics)`` (398).
    There is NO ``sampler.update`` anywhere in this trainer.
  * after the loops, a final checkpoint if global_step_<n> does not exist (412-416).
Stand-in: generation as in RayPPOTrainer (``role_worker_mapping[Role.ActorRollout]`` is the
generate_fn); the tracker is ``self.logged_metrics``; profiling, RolloutSkip, REMAX, rollout
correction and rollout-data dumps are left out. ``self.filter_groups_log`` records, per
generation batch, the kept uids (stand-in only).
"""
import os
import uuid
from collections import defaultdict

import numpy as np
import torch

from verl import DataProto
from verl.trainer.ppo.ray_trainer import (
    AdvantageEstimator,
    RayPPOTrainer,
    apply_kl_penalty,
    compute_advantage,
    compute_response_mask,
)
from verl.trainer.ppo.reward import compute_reward


class RayDAPOTrainer(RayPPOTrainer):
    def compute_kl_related_metrics(self, batch: DataProto, metrics: dict, timing_raw: dict):
        batch.batch["response_mask"] = compute_response_mask(batch)
        old_log_prob, _ = self._compute_old_log_prob(batch)
        metrics.update({"actor/entropy": 0.0})
        old_log_prob.batch.pop("entropys")
        batch = batch.union(old_log_prob)
        if self.use_reference_policy:
            batch = batch.union(self._compute_ref_log_prob(batch))
        return batch

    def fit(self):
        self.global_steps = 0
        self.gen_steps = 0
        self.filter_groups_log = []
        self._load_checkpoint()
        if self.val_reward_fn is not None and self.config.trainer.get("val_before_train", True):
            self._validate()

        self.global_steps += 1
        self.gen_steps += 1
        batch = None
        num_prompt_in_batch = 0
        num_gen_batches = 0
        for epoch in range(self.config.trainer.total_epochs):
            for batch_dict in self.train_dataloader:
                metrics, timing_raw = {}, defaultdict(float)
                new_batch: DataProto = DataProto.from_single_dict(batch_dict)
                num_gen_batches += 1
                gen_batch = self._get_gen_batch(new_batch)
                gen_batch_output = gen_batch.repeat(repeat_times=self.config.actor_rollout_ref.rollout.n, interleave=True)
                is_last_step = self.global_steps >= self.total_training_steps

                gen_batch_output = self.async_rollout_manager.generate_sequences(gen_batch_output)
                timing_raw.update(gen_batch_output.meta_info["timing"])
                gen_batch_output.meta_info.pop("timing", None)
                if self.config.algorithm.adv_estimator == AdvantageEstimator.REMAX:
                    raise NotImplementedError("REMAX baseline generation is not mirrored")

                new_batch.non_tensor_batch["uid"] = np.array([str(uuid.uuid4()) for _ in range(len(new_batch.batch))],
                                                             dtype=object)
                new_batch = new_batch.repeat(repeat_times=self.config.actor_rollout_ref.rollout.n, interleave=True)
                new_batch = new_batch.union(gen_batch_output)

                if self.config.algorithm.use_kl_in_reward:
                    new_batch = self.compute_kl_related_metrics(new_batch, metrics, timing_raw)

                reward_tensor, reward_extra_infos_dict = compute_reward(new_batch, self.reward_fn)
                new_batch.batch["token_level_scores"] = reward_tensor
                if reward_extra_infos_dict:
                    new_batch.non_tensor_batch.update({k: np.array(v) for k, v in reward_extra_infos_dict.items()})
                if self.config.algorithm.use_kl_in_reward:
                    new_batch, kl_metrics = apply_kl_penalty(new_batch, kl_ctrl=None,
                                                             kl_penalty=self.config.algorithm.kl_penalty)
                    metrics.update(kl_metrics)
                else:
                    new_batch.batch["token_level_rewards"] = new_batch.batch["token_level_scores"]

                if not self.config.algorithm.filter_groups.enable:
                    batch = new_batch
                else:
                    metric_name = self.config.algorithm.filter_groups.metric
                    if metric_name == "seq_final_reward":
                        new_batch.non_tensor_batch["seq_final_reward"] = (
                            new_batch.batch["token_level_rewards"].sum(dim=-1).numpy())
                    elif metric_name == "seq_reward":
                        new_batch.non_tensor_batch["seq_reward"] = new_batch.batch["token_level_scores"].sum(dim=-1).numpy()

                    values_by_uid = defaultdict(list)
                    for uid, value in zip(new_batch.non_tensor_batch["uid"], new_batch.non_tensor_batch[metric_name],
                                          strict=True):
                        values_by_uid[uid].append(value)
                    kept_prompt_uids = [uid for uid, values in values_by_uid.items()
                                        if np.std(values) > 0 or len(values) == 1]
                    num_prompt_in_batch += len(kept_prompt_uids)
                    self.filter_groups_log.append(list(kept_prompt_uids))

                    kept_traj_idxs = [idx for idx, traj_uid in enumerate(new_batch.non_tensor_batch["uid"])
                                      if traj_uid in kept_prompt_uids]
                    new_batch = new_batch[kept_traj_idxs]
                    batch = new_batch if batch is None else DataProto.concat([batch, new_batch])

                    prompt_bsz = self.config.data.train_batch_size
                    if num_prompt_in_batch < prompt_bsz:
                        max_num_gen_batches = self.config.algorithm.filter_groups.max_num_gen_batches
                        if max_num_gen_batches <= 0 or num_gen_batches < max_num_gen_batches:
                            self.gen_steps += 1
                            is_last_step = self.global_steps >= self.total_training_steps
                            continue
                        raise ValueError(f"{num_gen_batches=} >= {max_num_gen_batches=}."
                                         + " Generated too many. Please check if your data are too difficult."
                                         + " You could also try set max_num_gen_batches=0 to enable endless trials.")
                    traj_bsz = self.config.data.train_batch_size * self.config.actor_rollout_ref.rollout.n
                    batch = batch[:traj_bsz]

                if self.config.trainer.balance_batch:
                    self._balance_batch(batch, metrics=metrics)
                batch.meta_info["global_token_num"] = torch.sum(batch.batch["attention_mask"], dim=-1).tolist()
                if not self.config.algorithm.use_kl_in_reward:
                    batch = self.compute_kl_related_metrics(batch, metrics, timing_raw)
                if self.use_critic:
                    batch = batch.union(self._compute_values(batch))
                batch = compute_advantage(batch, adv_estimator=self.config.algorithm.adv_estimator,
                                          gamma=self.config.algorithm.gamma, lam=self.config.algorithm.lam,
                                          num_repeat=self.config.actor_rollout_ref.rollout.n,
                                          norm_adv_by_std_in_grpo=self.config.algorithm.get("norm_adv_by_std_in_grpo", True))
                if self.use_critic:
                    self.critic_wg.update_critic(batch)
                if self.config.trainer.critic_warmup <= self.global_steps:
                    self.actor_rollout_wg.update_actor(batch)

                if (self.val_reward_fn is not None and self.config.trainer.test_freq > 0
                        and (is_last_step or self.global_steps % self.config.trainer.test_freq == 0)):
                    metrics.update(self._validate())

                if self.config.trainer.save_freq > 0 and (
                        is_last_step or self.global_steps % self.config.trainer.save_freq == 0):
                    self._save_checkpoint()

                metrics["train/num_gen_batches"] = num_gen_batches
                self.logged_metrics.append(metrics)
                self.last_batch = batch  # stand-in: the step's final batch
                batch = None
                num_prompt_in_batch = 0
                num_gen_batches = 0
                if is_last_step:
                    return
                self.global_steps += 1
                self.gen_steps += 1
        checkpoint_dir = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
        if not os.path.exists(checkpoint_dir):
            self._save_checkpoint()
