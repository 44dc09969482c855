"""Stand-in for verl/trainer/ppo/ray_trainer.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7.

RayPPOTrainer with the real data path; models, Ray and GPUs replaced by small fakes:
- ``__init__`` (232) - same parameters. ``role_worker_mapping[Role.ActorRollout]`` (which in verl is
  the actor/rollout worker class that owns the model) is here the GENERATION FUNCTION
  ``generate_fn(chunk: DataProto) -> DataProto`` standing for one AgentLoopWorker (see
  verl.experimental.agent_loop; ``single_turn_agent_loop`` gives the real single-turn output).
  ``reward_fn``: verl's reward manager (``reward_fn(batch, return_dict=True) -> {"reward_tensor",
  "reward_extra_info"}``) or the tuple form ``reward_fn(batch) -> (token_level_scores, extras)``.
  ``resource_pool_manager`` may be None.
- ``_create_dataloader`` (314): StatefulDataLoader(batch_size = data.gen_batch_size or
  data.train_batch_size, num_workers = data.dataloader_num_workers, drop_last=True, sampler).
  Stand-in: the val loader is only built when a val dataset / data.val_files is given.
- ``init_workers`` (731): async_rollout_mode = True always (898), AgentLoopManager, checkpoint
  manager (no-ops here).
- ``_get_gen_batch`` (536), ``_compute_or_extract_reward`` (480), ``_save_checkpoint`` (928),
  ``_load_checkpoint`` (997), ``_balance_batch`` (1096, with dp size 1), ``fit`` (1302): same logic
  and order. Log-prob / value / actor / critic computations are placeholders (zeros, no-ops) that
  keep the keys the real ones add; ``compute_advantage`` is a simplified GRPO/GAE.
- ``make_config(overrides)`` (stand-in only): the defaults of verl/trainer/config/
  _generated_ppo_trainer.yaml that this module reads, deep-merged with ``overrides``.
"""
import copy
import os
import uuid
from typing import Any, Optional

import numpy as np
import torch
from omegaconf import OmegaConf
from torch.utils.data import Dataset, Sampler

from verl import DataProto
from verl._torchdata import StatefulDataLoader
from verl.experimental.dataset.sampler import AbstractCurriculumSampler
from verl.trainer.ppo.core_algos import AdvantageEstimator
from verl.trainer.ppo.reward import compute_reward
from verl.trainer.ppo.utils import Role, need_critic, need_reference_policy, need_reward_model
from verl.utils.checkpoint.checkpoint_manager import find_latest_ckpt_path, should_save_ckpt_esi

WorkerType = Any
ResourcePoolManager = Any
RayWorkerGroup = object

_DEFAULTS = {
    "data": {
        "tokenizer": None, "train_files": None, "val_files": None, "train_max_samples": -1, "val_max_samples": -1,
        "prompt_key": "prompt", "reward_fn_key": "data_source", "max_prompt_length": 512,
        "max_response_length": 512, "train_batch_size": 1024, "val_batch_size": None, "tool_config_path": None,
        "return_raw_chat": True, "shuffle": True, "seed": None, "dataloader_num_workers": 8,
        "validation_shuffle": False, "filter_overlong_prompts": False, "filter_overlong_prompts_workers": 1,
        "truncation": "error", "image_key": "images", "video_key": "videos",
        "custom_cls": {"path": None, "name": None}, "sampler": {"class_path": None, "class_name": None},
        "apply_chat_template_kwargs": {},
    },
    "actor_rollout_ref": {
        "hybrid_engine": True,
        "model": {"path": "stand-in-model", "lora_rank": 0},
        "actor": {"strategy": "fsdp", "use_kl_loss": False, "ppo_mini_batch_size": 256,
                  "loss_agg_mode": "token-mean", "checkpoint": {"async_save": False}},
        "rollout": {"name": "vllm", "mode": "async", "temperature": 1.0, "n": 1, "prompt_length": None,
                    "response_length": None, "calculate_log_probs": False, "multi_turn": {"enable": False},
                    "agent": {"num_workers": 8, "default_agent_loop": "single_turn_agent"}},
    },
    "critic": {"enable": None, "strategy": "fsdp"},
    "reward_model": {"enable": False, "enable_resource_pool": False, "use_reward_loop": True,
                     "launch_reward_fn_async": False, "reward_manager": "naive"},
    "reward_manager": {"source": "register", "name": "naive",
                       "module": {"path": None, "name": "custom_reward_manager"}},
    "algorithm": {"gamma": 1.0, "lam": 1.0, "adv_estimator": "gae", "norm_adv_by_std_in_grpo": True,
                  "use_kl_in_reward": False, "kl_penalty": "kl",
                  "filter_groups": {"enable": False, "metric": None, "max_num_gen_batches": 0}},
    "trainer": {"balance_batch": True, "total_epochs": 30, "total_training_steps": None,
                "project_name": "verl_examples", "experiment_name": "gsm8k", "logger": ["console"],
                "rollout_data_dir": None, "nnodes": 1, "n_gpus_per_node": 8, "save_freq": -1,
                "esi_redundant_time": 0, "resume_mode": "auto", "resume_from_path": None,
                "val_before_train": True, "val_only": False, "test_freq": -1, "critic_warmup": 0,
                "default_hdfs_dir": None, "del_local_ckpt_after_load": False,
                "default_local_dir": "checkpoints/verl_examples/gsm8k", "max_actor_ckpt_to_keep": None,
                "max_critic_ckpt_to_keep": None, "device": "cuda", "use_legacy_worker_impl": "auto"},
    "global_profiler": {"steps": None, "profile_continuous_steps": False},
}


def _merge(base, over):
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def make_config(overrides: Optional[dict] = None):
    """Stand-in only: the trainer config with verl's YAML defaults for the keys used here."""
    cfg = _merge(_DEFAULTS, _plain(overrides))
    rollout = cfg["actor_rollout_ref"]["rollout"]
    if rollout["prompt_length"] is None:  # ${oc.select:data.max_prompt_length,512}
        rollout["prompt_length"] = cfg["data"]["max_prompt_length"]
    if rollout["response_length"] is None:
        rollout["response_length"] = cfg["data"]["max_response_length"]
    return OmegaConf.create(cfg)


def _plain(value):
    return OmegaConf.to_container(value) if isinstance(value, dict) else value


def compute_response_mask(data: DataProto):
    responses = data.batch["responses"]
    return data.batch["attention_mask"][:, -responses.size(1):]


def apply_kl_penalty(data: DataProto, kl_ctrl, kl_penalty="kl"):
    raise NotImplementedError("the stand-in has no reference policy (algorithm.use_kl_in_reward)")


def compute_advantage(data: DataProto, adv_estimator, gamma: float = 1.0, lam: float = 1.0, num_repeat: int = 1,
                      norm_adv_by_std_in_grpo: bool = True, config=None) -> DataProto:
    """Simplified: GRPO-style outcome advantage per uid for every estimator but GAE (returns = rewards)."""
    mask = data.batch["response_mask"].float()
    scores = data.batch["token_level_rewards"].sum(dim=-1)
    if adv_estimator in (AdvantageEstimator.GAE, "gae"):
        data.batch["advantages"] = data.batch["token_level_rewards"] * mask
        data.batch["returns"] = data.batch["advantages"].clone()
        return data
    uids = data.non_tensor_batch["uid"]
    adv = torch.zeros_like(scores)
    for uid in set(uids.tolist()):
        idx = torch.tensor([i for i, u in enumerate(uids) if u == uid])
        group = scores[idx]
        std = group.std() if len(group) > 1 else torch.tensor(1.0)
        centred = group - group.mean() if len(group) > 1 else torch.zeros_like(group)
        adv[idx] = centred / (std + 1e-6) if norm_adv_by_std_in_grpo else centred
    data.batch["advantages"] = adv.unsqueeze(-1) * mask
    data.batch["returns"] = data.batch["advantages"].clone()
    return data


class _FakeWorkerGroup:
    """The actor/rollout (or critic) worker group: checkpoints as placeholder files."""

    world_size = 1

    def __init__(self, role):
        self.role = role
        self.loaded_from = []

    def save_checkpoint(self, local_path, hdfs_path=None, global_step=0, max_ckpt_to_keep=None):
        os.makedirs(local_path, exist_ok=True)
        torch.save({"role": str(self.role), "global_step": global_step},
                   os.path.join(local_path, "model_world_size_1_rank_0.pt"))

    def load_checkpoint(self, local_path, hdfs_path=None, del_local_after_load=False):
        self.loaded_from.append(local_path)

    def update_actor(self, batch):
        return DataProto(meta_info={"metrics": {"actor/pg_loss": [0.0]}})

    def update_critic(self, batch):
        return DataProto(meta_info={"metrics": {"critic/vf_loss": [0.0]}})


class _FakeCheckpointManager:
    def update_weights(self):
        pass

    def sleep_replicas(self):
        pass


class RayPPOTrainer:
    def __init__(
        self,
        config,
        tokenizer,
        role_worker_mapping: dict,
        resource_pool_manager,
        ray_worker_group_cls=RayWorkerGroup,
        processor=None,
        reward_fn=None,
        val_reward_fn=None,
        train_dataset: Optional[Dataset] = None,
        val_dataset: Optional[Dataset] = None,
        collate_fn=None,
        train_sampler: Optional[Sampler] = None,
        device_name=None,
    ):
        self.tokenizer = tokenizer
        self.processor = processor
        self.config = config
        self.reward_fn = reward_fn
        self.val_reward_fn = val_reward_fn
        self.hybrid_engine = config.actor_rollout_ref.hybrid_engine
        assert self.hybrid_engine, "Currently, only support hybrid engine"
        assert Role.ActorRollout in role_worker_mapping or Role.ActorRolloutRef in role_worker_mapping, (
            f"{role_worker_mapping.keys()=}")
        self.role_worker_mapping = role_worker_mapping
        self.resource_pool_manager = resource_pool_manager
        self.use_reference_policy = need_reference_policy(self.config)
        self.use_rm = need_reward_model(self.role_worker_mapping)
        self.use_reward_loop = self.config.reward_model.use_reward_loop
        self.use_critic = need_critic(self.config)
        self.ray_worker_group_cls = ray_worker_group_cls
        self.device_name = device_name if device_name else self.config.trainer.device
        self.logged_metrics = []  # stand-in: what fit() would send to the tracker, per step
        self._create_dataloader(train_dataset, val_dataset, collate_fn, train_sampler)

    def _create_dataloader(self, train_dataset, val_dataset, collate_fn, train_sampler: Optional[Sampler]):
        from verl.trainer.main_ppo import create_rl_dataset, create_rl_sampler

        if train_dataset is None:
            train_dataset = create_rl_dataset(self.config.data.train_files, self.config.data, self.tokenizer,
                                              self.processor, max_samples=self.config.data.get("train_max_samples", -1))
        if val_dataset is None and self.config.data.get("val_files") is not None:
            val_dataset = create_rl_dataset(self.config.data.val_files, self.config.data, self.tokenizer,
                                            self.processor, max_samples=self.config.data.get("val_max_samples", -1))
        self.train_dataset, self.val_dataset = train_dataset, val_dataset
        if train_sampler is None:
            train_sampler = create_rl_sampler(self.config.data, self.train_dataset)
        if collate_fn is None:
            from verl.utils.dataset.rl_dataset import collate_fn as default_collate_fn

            collate_fn = default_collate_fn
        num_workers = self.config.data["dataloader_num_workers"]
        self.train_dataloader = StatefulDataLoader(
            dataset=self.train_dataset,
            batch_size=self.config.data.get("gen_batch_size", self.config.data.train_batch_size),
            num_workers=num_workers,
            drop_last=True,
            collate_fn=collate_fn,
            sampler=train_sampler,
        )
        self.val_dataloader = None
        if self.val_dataset is not None:
            val_batch_size = self.config.data.val_batch_size or len(self.val_dataset)
            self.val_dataloader = StatefulDataLoader(dataset=self.val_dataset, batch_size=val_batch_size,
                                                     num_workers=num_workers, drop_last=False, collate_fn=collate_fn)
        assert len(self.train_dataloader) >= 1, "Train dataloader is empty!"
        total_training_steps = len(self.train_dataloader) * self.config.trainer.total_epochs
        if self.config.trainer.total_training_steps is not None:
            total_training_steps = self.config.trainer.total_training_steps
        self.total_training_steps = total_training_steps

    def init_workers(self):
        from verl.experimental.agent_loop import AgentLoopManager

        actor_role = Role.ActorRolloutRef if Role.ActorRolloutRef in self.role_worker_mapping else Role.ActorRollout
        self.actor_rollout_wg = _FakeWorkerGroup(actor_role)
        if self.use_critic:
            self.critic_wg = _FakeWorkerGroup(Role.Critic)
        self.async_rollout_mode = True
        self.async_rollout_manager = AgentLoopManager(config=self.config,
                                                      worker_group=self.role_worker_mapping[actor_role])
        self.checkpoint_manager = _FakeCheckpointManager()
        self.checkpoint_manager.sleep_replicas()

    def _compute_or_extract_reward(self, batch: DataProto, reward_fn=None, reward_for_val: bool = False,
                                   sum_reward: bool = False):
        if "rm_scores" in batch.batch.keys():
            reward_tensor = batch.batch["rm_scores"]
            if sum_reward:
                reward_tensor = reward_tensor.sum(dim=-1)
            if not reward_for_val and sum_reward:
                return reward_tensor
            reward_extra_keys = batch.meta_info.get("reward_extra_keys", [])
            return reward_tensor, ({k: batch.non_tensor_batch[k] for k in reward_extra_keys} if reward_extra_keys else {})
        if reward_fn is None:
            raise ValueError("reward_fn must be provided when rm_scores is not available.")
        reward_tensor, reward_extra_infos_dict = compute_reward(batch, reward_fn)
        if sum_reward:
            reward_tensor = reward_tensor.sum(dim=-1)
        return reward_tensor, reward_extra_infos_dict

    def _get_gen_batch(self, batch: DataProto) -> DataProto:
        reward_model_keys = set({"data_source", "reward_model", "extra_info", "uid"}) & batch.non_tensor_batch.keys()
        # every other non-tensor key leaves the batch; no tensor is popped (gen_batch.batch is None)
        batch_keys_to_pop = []
        non_tensor_batch_keys_to_pop = set(batch.non_tensor_batch.keys()) - reward_model_keys
        gen_batch = batch.pop(batch_keys=batch_keys_to_pop, non_tensor_batch_keys=list(non_tensor_batch_keys_to_pop))
        # async (agent loop) mode, always on at this commit: the reward keys are shared back
        if self.async_rollout_mode:
            gen_batch.non_tensor_batch.update(batch.non_tensor_batch)
        return gen_batch

    def _validate(self, merged: bool = False):
        raise NotImplementedError("validation is not mirrored: pass val_reward_fn=None or trainer.val_before_train=False")

    def _balance_batch(self, batch: DataProto, metrics, logging_prefix="global_seqlen", keep_minibatch=False):
        """dp size 1: sort rows by (workload, index), then smaller ones at both ends (1150-1160)."""
        attention_mask = batch.batch["attention_mask"]
        seqlen = attention_mask.view(attention_mask.shape[0], -1).sum(-1)
        workload = (24576 * seqlen + seqlen ** 2).tolist()
        partition = sorted(range(len(workload)), key=lambda x: (workload[x], x))
        ordered = partition[::2] + partition[1::2][::-1]
        batch.reorder(torch.tensor(ordered))

    def _compute_old_log_prob(self, batch: DataProto):
        shape = batch.batch["responses"].shape
        return DataProto.from_dict(tensors={"old_log_probs": torch.zeros(shape), "entropys": torch.zeros(shape)}), 0.0

    def _compute_ref_log_prob(self, batch: DataProto) -> DataProto:
        return DataProto.from_dict(tensors={"ref_log_prob": torch.zeros(batch.batch["responses"].shape)})

    def _compute_values(self, batch: DataProto) -> DataProto:
        return DataProto.from_dict(tensors={"values": torch.zeros(batch.batch["responses"].shape)})

    def _update_actor(self, batch: DataProto) -> DataProto:
        rollout_config = self.config.actor_rollout_ref.rollout
        batch.meta_info["multi_turn"] = rollout_config.multi_turn.enable
        batch.meta_info["temperature"] = rollout_config.temperature
        return self.actor_rollout_wg.update_actor(batch)

    def _update_critic(self, batch: DataProto) -> DataProto:
        return self.critic_wg.update_critic(batch)

    def _save_checkpoint(self):
        local_global_step_folder = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
        actor_local_path = os.path.join(local_global_step_folder, "actor")
        actor_remote_path = (None if self.config.trainer.default_hdfs_dir is None else
                             os.path.join(self.config.trainer.default_hdfs_dir, f"global_step_{self.global_steps}", "actor"))
        self.actor_rollout_wg.save_checkpoint(actor_local_path, actor_remote_path, self.global_steps,
                                              max_ckpt_to_keep=self.config.trainer.get("max_actor_ckpt_to_keep", None))
        if self.use_critic:
            critic_local_path = os.path.join(local_global_step_folder, str(Role.Critic))
            self.critic_wg.save_checkpoint(critic_local_path, None, self.global_steps,
                                           max_ckpt_to_keep=self.config.trainer.get("max_critic_ckpt_to_keep", None))
        os.makedirs(local_global_step_folder, exist_ok=True)
        torch.save(self.train_dataloader.state_dict(), os.path.join(local_global_step_folder, "data.pt"))
        checkpoint = self.config.actor_rollout_ref.actor.get("checkpoint", {}) or {}
        if checkpoint.get("async_save", False):
            print("skip write latest_checkpointed_iteration.txt when async_save is True")
            return
        with open(os.path.join(self.config.trainer.default_local_dir, "latest_checkpointed_iteration.txt"), "w") as f:
            f.write(str(self.global_steps))

    def _load_checkpoint(self):
        if self.config.trainer.resume_mode == "disable":
            return 0
        if self.config.trainer.default_hdfs_dir is not None:
            raise NotImplementedError("load from hdfs is not implemented yet")
        checkpoint_folder = self.config.trainer.default_local_dir
        if not os.path.isabs(checkpoint_folder):
            checkpoint_folder = os.path.join(os.getcwd(), checkpoint_folder)
        global_step_folder = find_latest_ckpt_path(checkpoint_folder)
        if self.config.trainer.resume_mode == "auto":
            if global_step_folder is None:
                print("Training from scratch")
                return 0
        elif self.config.trainer.resume_mode == "resume_path":
            assert isinstance(self.config.trainer.resume_from_path, str), "resume ckpt must be str type"
            assert "global_step_" in self.config.trainer.resume_from_path, "resume ckpt must specify the global_steps"
            global_step_folder = self.config.trainer.resume_from_path
            if not os.path.isabs(global_step_folder):
                global_step_folder = os.path.join(os.getcwd(), global_step_folder)
        self.global_steps = int(global_step_folder.split("global_step_")[-1])
        self.actor_rollout_wg.load_checkpoint(os.path.join(global_step_folder, "actor"),
                                              del_local_after_load=self.config.trainer.del_local_ckpt_after_load)
        if self.use_critic:
            self.critic_wg.load_checkpoint(os.path.join(global_step_folder, str(Role.Critic)),
                                           del_local_after_load=self.config.trainer.del_local_ckpt_after_load)
        dataloader_local_path = os.path.join(global_step_folder, "data.pt")
        if os.path.exists(dataloader_local_path):
            self.train_dataloader.load_state_dict(torch.load(dataloader_local_path))
        else:
            print(f"Warning: No dataloader state found at {dataloader_local_path}, will start from scratch")

    def fit(self):
        self.global_steps = 0
        self._load_checkpoint()
        self.checkpoint_manager.update_weights()
        current_epoch = self.global_steps // len(self.train_dataloader)

        if self.val_reward_fn is not None and self.config.trainer.get("val_before_train", True):
            self._validate()

        self.global_steps += 1
        for epoch in range(current_epoch, self.config.trainer.total_epochs):
            for batch_dict in self.train_dataloader:
                metrics, timing_raw = {}, {}
                batch: DataProto = DataProto.from_single_dict(batch_dict)
                batch.meta_info["temperature"] = self.config.actor_rollout_ref.rollout.temperature
                batch.non_tensor_batch["uid"] = np.array([str(uuid.uuid4()) for _ in range(len(batch.batch))],
                                                         dtype=object)
                gen_batch = self._get_gen_batch(batch)
                gen_batch.meta_info["global_steps"] = self.global_steps
                gen_batch_output = gen_batch.repeat(repeat_times=self.config.actor_rollout_ref.rollout.n, interleave=True)
                is_last_step = self.global_steps >= self.total_training_steps

                gen_batch_output = self.async_rollout_manager.generate_sequences(gen_batch_output)
                self.checkpoint_manager.sleep_replicas()
                timing_raw.update(gen_batch_output.meta_info["timing"])
                gen_batch_output.meta_info.pop("timing", None)
                if self.config.algorithm.adv_estimator == AdvantageEstimator.REMAX:
                    raise NotImplementedError("REMAX baseline generation is not mirrored")

                batch = batch.repeat(repeat_times=self.config.actor_rollout_ref.rollout.n, interleave=True)
                batch = batch.union(gen_batch_output)
                if "response_mask" not in batch.batch.keys():
                    batch.batch["response_mask"] = compute_response_mask(batch)
                if self.config.trainer.balance_batch:
                    self._balance_batch(batch, metrics=metrics)
                batch.meta_info["global_token_num"] = torch.sum(batch.batch["attention_mask"], dim=-1).tolist()
                images_seqlens_all = []
                for multi_modal_input in batch.non_tensor_batch["multi_modal_inputs"]:  # KeyError if absent, as real
                    if "image_grid_thw" not in multi_modal_input.keys():
                        continue
                    images_seqlens_all.extend(multi_modal_input["images_seqlens"].tolist())
                batch.meta_info["images_seqlens"] = images_seqlens_all

                reward_tensor, reward_extra_infos_dict = self._compute_or_extract_reward(
                    batch, reward_fn=self.reward_fn, reward_for_val=False)

                old_log_prob, _ = self._compute_old_log_prob(batch)
                old_log_prob.batch.pop("entropys")
                batch = batch.union(old_log_prob)
                assert "old_log_probs" in batch.batch
                if self.use_reference_policy:
                    batch = batch.union(self._compute_ref_log_prob(batch))
                if self.use_critic:
                    batch = batch.union(self._compute_values(batch))

                batch.batch["token_level_scores"] = reward_tensor
                if reward_extra_infos_dict:
                    batch.non_tensor_batch.update({k: np.array(v) for k, v in reward_extra_infos_dict.items()})
                if self.config.algorithm.use_kl_in_reward:
                    batch, kl_metrics = apply_kl_penalty(batch, kl_ctrl=None, kl_penalty=self.config.algorithm.kl_penalty)
                else:
                    batch.batch["token_level_rewards"] = batch.batch["token_level_scores"]
                batch = compute_advantage(batch, adv_estimator=self.config.algorithm.adv_estimator,
                                          gamma=self.config.algorithm.gamma, lam=self.config.algorithm.lam,
                                          num_repeat=self.config.actor_rollout_ref.rollout.n,
                                          norm_adv_by_std_in_grpo=self.config.algorithm.get("norm_adv_by_std_in_grpo", True),
                                          config=self.config.algorithm)
                if self.use_critic:
                    self._update_critic(batch)
                if self.config.trainer.critic_warmup <= self.global_steps:
                    self._update_actor(batch)
                    self.checkpoint_manager.update_weights()

                if (self.val_reward_fn is not None and self.config.trainer.test_freq > 0
                        and (is_last_step or self.global_steps % self.config.trainer.test_freq == 0)):
                    self._validate()

                esi_close_to_expiration = should_save_ckpt_esi(max_steps_duration=0,
                                                               redundant_time=self.config.trainer.esi_redundant_time)
                if self.config.trainer.save_freq > 0 and (
                        is_last_step or self.global_steps % self.config.trainer.save_freq == 0 or esi_close_to_expiration):
                    self.checkpoint_manager.sleep_replicas()
                    self._save_checkpoint()
                    self.checkpoint_manager.update_weights()

                metrics.update({"training/global_step": self.global_steps, "training/epoch": epoch})
                # after the checkpoint of this step (ray_trainer.py:1693-1694)
                if isinstance(self.train_dataloader.sampler, AbstractCurriculumSampler):
                    self.train_dataloader.sampler.update(batch=batch)

                self.logged_metrics.append(metrics)
                self.global_steps += 1
                if is_last_step:
                    return
                if hasattr(self.train_dataset, "on_batch_end"):
                    self.train_dataset.on_batch_end(batch=batch)
