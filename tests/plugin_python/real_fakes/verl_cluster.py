"""Fakes of the parts of verl that need GPUs or a Ray cluster, so that the real
``RayPPOTrainer.fit`` (verl b178a3c) and the DAPO recipe's ``fit`` (21892b9) run in a test process.

Everything ``fit`` does on the driver stays real: the StatefulDataLoader with the sampler,
``_get_gen_batch``, ``repeat`` / ``union``, ``_balance_batch``, reward extraction and
``compute_reward``, ``compute_advantage``, the metrics, the tracker, ``_save_checkpoint`` /
``_load_checkpoint``, the CheckpointEngineManager, ``init_workers`` and
``create_colocated_worker_cls``. Faked here, each because it needs a GPU or a cluster:

* the worker groups (``RayWorkerGroup``): the one colocated worker ``init_workers`` builds runs in
  this process, and each role's group calls that role's worker directly;
* the role workers (what ``role_worker_mapping`` names: FSDP actor / rollout / ref and critic
  workers own models on GPUs): ``ActorRolloutRefWorker`` and ``CriticWorker`` below answer with
  DataProto objects of the keys and shapes the real ones return (zeros for log-probs, entropies
  and values; constant losses), and write a small file as their checkpoint;
* the rollout: ``AgentLoopManager`` is verl's own class (its ``generate_sequences``, chunking,
  concat and performance metrics run), selected through verl's
  ``rollout.agent.agent_loop_manager_class`` setting; only the two methods that start GPU servers
  and Ray actors are replaced. Its workers call the hybrid actor-rollout worker's ``rollout``
  function (the tests pass the stand-in's single-turn agent loop with a rule-based policy);
* ``ResourcePoolManager.create_resource_pool`` (Ray placement groups over GPUs).
"""
import copy
import os
import sys

import ray
import torch
from verl import DataProto
from verl.experimental.agent_loop import agent_loop as _agent_loop
from verl.single_controller.base import Worker
from verl.single_controller.ray.base import ResourcePoolManager as _ResourcePoolManager
from verl.trainer.ppo.utils import Role

GLOBAL_POOL = "global_pool"

# torch 1.13 here: verl's DataProto.select_idxs indexes with int32 tensors (real_frameworks.TORCH_LIMITS)
import real_frameworks  # noqa: E402
real_frameworks.torch_limit(DataProto, "select_idxs", "int32 index tensors")


class ResourcePoolManager(_ResourcePoolManager):
    """verl's manager over one pool of one process; get_resource_pool / get_n_gpus are verl's."""

    def create_resource_pool(self):
        for name, process_on_nodes in self.resource_pool_spec.items():
            self.resource_pool_dict[name] = _Pool(name, process_on_nodes)


class _Pool:
    def __init__(self, name, process_on_nodes):
        self.name, self.process_on_nodes = name, process_on_nodes
        self.world_size = sum(process_on_nodes)


def resource_pool_manager(roles):
    return ResourcePoolManager(resource_pool_spec={GLOBAL_POOL: [1]}, mapping={r: GLOBAL_POOL for r in roles})


class _Env:
    """The variables a Ray worker process gets from RayWorkerGroup, for the colocated worker's
    construction only (verl's Worker writes some into os.environ; they are put back after)."""
    VALUES = {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_WORLD_SIZE": "1", "LOCAL_RANK": "0",
              "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "0"}

    def __enter__(self):
        self.saved = dict(os.environ)
        os.environ.update(self.VALUES)

    def __exit__(self, *exc):
        os.environ.clear()
        os.environ.update(self.saved)


class RayWorkerGroup:
    """In place of verl's RayWorkerGroup (Ray actors on a placement group): one worker, built in
    this process from the colocated class ``init_workers`` made; ``spawn`` gives each role a group
    that calls that role's worker."""

    def __init__(self, resource_pool=None, ray_cls_with_init=None, **kwargs):
        self.resource_pool = resource_pool
        with _Env():
            self.worker = ray_cls_with_init.cls._target(*ray_cls_with_init.args, **ray_cls_with_init.kwargs)

    def spawn(self, prefix_set):
        return {prefix: _RoleGroup(self.worker.worker_dict[prefix]) for prefix in prefix_set}


class _RoleGroup:
    world_size = 1

    def __init__(self, worker):
        self.worker = worker
        self._dispatch_info = {}

    def _query_dispatch_info(self, role):
        return [0]  # one data-parallel rank

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.worker, name)


def _zeros_like_responses(data):
    return torch.zeros(data.batch["responses"].shape, dtype=torch.float32)


class ActorRolloutRefWorker(Worker):
    """In place of verl's FSDP ActorRolloutRefWorker (a model on GPUs), with the hybrid engine's
    rollout as ``rollout`` (``chunk -> DataProto``, set by :func:`workers`)."""

    rollout = None

    def __init__(self, config, role):  # RayClassWithInitArgs' arguments, as init_workers passes them
        self.config = config
        self.role = role
        self.saved = []
        self.loaded_from = []
        self.updates = 0

    def init_model(self):
        pass

    def compute_log_prob(self, data: DataProto) -> DataProto:
        return DataProto.from_dict(tensors={"old_log_probs": _zeros_like_responses(data),
                                            "entropys": _zeros_like_responses(data)},
                                   meta_info={"temperature": self.config.rollout.temperature})

    def compute_ref_log_prob(self, data: DataProto) -> DataProto:
        return DataProto.from_dict(tensors={"ref_log_prob": _zeros_like_responses(data)},
                                   meta_info={"temperature": self.config.rollout.temperature})

    def update_actor(self, data: DataProto) -> DataProto:
        assert "advantages" in data.batch and "old_log_probs" in data.batch
        self.updates += 1
        return DataProto(meta_info={"metrics": {"actor/pg_loss": [0.0], "actor/grad_norm": [0.0], "actor/lr": 0.0}})

    def update_weights(self):
        return []  # no ObjectRefs to wait for: nothing to copy to a rollout engine

    def save_checkpoint(self, local_path, hdfs_path=None, global_step=0, max_ckpt_to_keep=None):
        os.makedirs(local_path, exist_ok=True)
        torch.save({"role": self.role, "global_step": global_step, "updates": self.updates},
                   os.path.join(local_path, "model_world_size_1_rank_0.pt"))
        self.saved.append(local_path)

    def load_checkpoint(self, local_path, hdfs_path=None, del_local_after_load=False):
        self.updates = torch.load(os.path.join(local_path, "model_world_size_1_rank_0.pt"))["updates"]
        self.loaded_from.append(local_path)


class CriticWorker(Worker):
    """In place of verl's FSDP CriticWorker (a value model on GPUs)."""

    def __init__(self, config):
        self.config = config

    def init_model(self):
        pass

    def compute_values(self, data: DataProto) -> DataProto:
        return DataProto.from_dict(tensors={"values": _zeros_like_responses(data)})

    def update_critic(self, data: DataProto) -> DataProto:
        return DataProto(meta_info={"metrics": {"critic/vf_loss": [0.0]}})

    def save_checkpoint(self, local_path, hdfs_path=None, global_step=0, max_ckpt_to_keep=None):
        os.makedirs(local_path, exist_ok=True)
        torch.save({"global_step": global_step}, os.path.join(local_path, "model_world_size_1_rank_0.pt"))

    def load_checkpoint(self, local_path, hdfs_path=None, del_local_after_load=False):
        pass


class _AgentLoopWorker:
    """One agent loop worker (a Ray actor in verl, talking to GPU servers): the rollout function on
    its own copy of the chunk, as a Ray actor would get a deserialized one."""

    def __init__(self, rollout):
        self.rollout = rollout

    def generate_sequences(self, batch: DataProto) -> DataProto:
        return self.rollout(copy.deepcopy(batch))


class AgentLoopManager(_agent_loop.AgentLoopManager):
    """verl's AgentLoopManager; only starting the LLM servers and the worker actors is replaced."""

    rollout_replica_class = None  # verl's hook for recipes; the GPU server classes are never built here

    def _initialize_llm_servers(self, rollout_resource_pool):
        self.rollout_replicas = []  # no GPU servers: the CheckpointEngineManager has none to sleep or wake
        self.server_handles = []
        self.server_addresses = []

    def _init_agent_loop_workers(self):
        rollout = self.worker_group.worker.rollout
        self.agent_loop_workers = [ray.remote(_AgentLoopWorker).remote(rollout)
                                   for _ in range(self.config.actor_rollout_ref.rollout.agent.num_workers)]


MANAGER = f"{__name__}.AgentLoopManager"


def workers(rollout, critic=False):
    """What verl's TaskRunner hands RayPPOTrainer, for these fakes: ``(role_worker_mapping,
    resource_pool_manager, ray_worker_group_cls)``. ``rollout(chunk) -> DataProto`` generates."""
    actor = type("ActorRolloutRefWorker", (ActorRolloutRefWorker,), {"rollout": staticmethod(rollout)})
    mapping = {Role.ActorRollout: ray.remote(actor)}
    if critic:
        mapping[Role.Critic] = ray.remote(CriticWorker)
    return mapping, resource_pool_manager(mapping), RayWorkerGroup


def make_config(overrides=None):
    """verl's full trainer config (the hydra composition verl ships as
    trainer/config/_generated_ppo_trainer.yaml) with ``overrides`` merged in, and what running on
    these fakes needs: the agent loop manager above, one CPU process, the console tracker, and the
    validation files defaulting to the training files (verl always builds a validation loader)."""
    from omegaconf import OmegaConf
    import verl.trainer.config as config_pkg
    cfg = OmegaConf.load(os.path.join(os.path.dirname(config_pkg.__file__), "_generated_ppo_trainer.yaml"))
    overrides = OmegaConf.create(overrides or {})
    cfg = OmegaConf.merge(cfg, overrides)
    if OmegaConf.select(overrides, "data.val_files") is None:
        cfg.data.val_files = cfg.data.train_files
    cfg.actor_rollout_ref.rollout.agent.agent_loop_manager_class = MANAGER
    if OmegaConf.select(overrides, "actor_rollout_ref.rollout.name") is None:
        cfg.actor_rollout_ref.rollout.name = "vllm"  # a mandatory choice; no server is started here
    cfg.trainer.logger = ["console"]
    cfg.trainer.device = "cpu"
    cfg.trainer.n_gpus_per_node = 1
    cfg.trainer.nnodes = 1
    return cfg


def single_turn_agent_loop():
    """The stand-in's single-turn agent loop (stubs/verl/experimental/agent_loop/
    single_turn_agent_loop.py: verl's prompt rendering, padding, reward loop and output layout, with
    a policy function in place of the LLM server), loaded on the real verl."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stubs", "verl",
                        "experimental", "agent_loop", "single_turn_agent_loop.py")
    spec = importlib.util.spec_from_file_location("sparsegate_fake_agent_loop", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.single_turn_agent_loop


def recording_metrics(trainer):
    """Records what fit() does, without changing it: ``trainer.logged_metrics``, the dicts it hands
    verl's tracker (one per step); and for the DAPO recipe's fit ``trainer.filter_groups_log``, the
    uids of the groups its filter kept, per generation batch (the rows it selects with
    ``new_batch[kept_traj_idxs]``, dapo_ray_trainer.py 21892b9 line 267)."""
    from verl.utils.tracking import Tracking
    trainer.logged_metrics = []
    trainer.filter_groups_log = []
    fit = trainer.fit
    try:
        from recipe.dapo.dapo_ray_trainer import RayDAPOTrainer
        dapo_fit = RayDAPOTrainer.fit.__code__ if isinstance(trainer, RayDAPOTrainer) else None
    except ImportError:
        dapo_fit = None

    def recorded_fit(*args, **kwargs):
        log, getitem = Tracking.log, DataProto.__getitem__

        def recording(self, data, step, backend=None):
            trainer.logged_metrics.append(dict(data))
            return log(self, data, step, backend)

        def selecting(self, item):
            selected = getitem(self, item)
            if isinstance(item, list) and sys._getframe(1).f_code is dapo_fit:
                trainer.filter_groups_log.append(list(dict.fromkeys(selected.non_tensor_batch["uid"])))
            return selected
        Tracking.log = recording
        if dapo_fit is not None:
            DataProto.__getitem__ = selecting
        try:
            return fit(*args, **kwargs)
        finally:
            Tracking.log, DataProto.__getitem__ = log, getitem
    trainer.fit = recorded_fit
    return trainer

