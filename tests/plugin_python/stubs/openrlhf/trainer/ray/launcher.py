"""Stand-in for openrlhf/trainer/ray/launcher.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7: RayActorGroup, BaseModelActor, RewardModelActor.

``RayActorGroup(num_nodes, num_gpus_per_node, ray_actor_type, ...)`` holds ActorHandles
(openrlhf._fake_ray) of num_nodes * num_gpus_per_node actors built as
``ray_actor_type(world_size, rank, master_addr, master_port)``; ``async_run_method`` calls a method
on every actor, ``async_run_method_batch`` splits list arguments into one chunk per actor and runs
the method once per item (execute_batch). The reward model is a callable:
``RewardModelActor.init_model_from_pretrained(strategy, pretrain)`` takes ``pretrain=score``,
``score(text) -> float`` on the decoded prompt + response (args.reward.model_name_or_path).
"""
from typing import Dict, Optional

import torch

from openrlhf import _fake_ray as ray


class BaseDistributedActor:
    def __init__(self, world_size, rank, master_addr, master_port):
        self._world_size, self._rank = world_size, rank


class BaseModelActor(BaseDistributedActor):
    def _setup_distributed(self, strategy):
        self.strategy = strategy
        strategy.setup_distributed()

    def init_model_from_pretrained(self, *args, **kwargs):
        raise NotImplementedError()

    def empty_cache(self) -> None:
        pass

    def execute_batch(self, method_name: str, all_data, start_idx, end_idx):
        chunk = {key: value[start_idx:end_idx] for key, value in all_data.items()}
        length = len(next(iter(chunk.values())))
        func = getattr(self, method_name)
        return [func(**{key: value[i] for key, value in chunk.items()}) for i in range(length)]


class RewardModelActor(BaseModelActor):
    def init_model_from_pretrained(self, strategy, pretrain):
        from openrlhf.utils.utils import get_tokenizer

        self._setup_distributed(strategy)
        self.score = pretrain
        self.tokenizer = get_tokenizer(pretrain, None, "left", strategy)

    def forward(
        self,
        sequences: torch.LongTensor,
        attention_mask: Optional[torch.Tensor] = None,
        packed_seq_lens=None,
        pad_sequence=False,
    ) -> torch.Tensor:
        rows = [self.tokenizer.decode(seq[mask.bool()].tolist()) for seq, mask in zip(sequences, attention_mask)]
        return torch.tensor([float(self.score(text)) for text in rows])


class RayActorGroup:
    def __init__(
        self,
        num_nodes,
        num_gpus_per_node,
        ray_actor_type,
        pg=None,
        num_gpus_per_actor=1,
        duplicate_actors: int = 1,
        resources: Dict[str, float] = None,
        num_resources_per_node: int = None,
    ) -> None:
        self.ray_actor_type = ray_actor_type
        self.duplicate_actors = duplicate_actors
        world_size = num_nodes * num_gpus_per_node
        self._actor_handlers = [ray.ActorHandle(ray_actor_type(world_size, rank, None, None))
                                for rank in range(world_size)]

    def async_init_model_from_pretrained(self, *args, **kwargs):
        return [actor.init_model_from_pretrained.remote(*args, **kwargs) for actor in self._actor_handlers]

    def async_save_model(self):
        return [actor.save_model.remote() for actor in self._actor_handlers]

    def async_run_method(self, method_name, *args, **kwargs):
        return [getattr(actor, method_name).remote(*args, **kwargs) for actor in self._actor_handlers]

    def async_run_method_batch(self, method_name, **kwargs):
        total = len(next(iter(kwargs.values())))
        effective = len(self._actor_handlers) // self.duplicate_actors
        if total == 0 or total < effective:
            raise ValueError(f"Insufficient batch size for async_run_method_batch: total_length={total}, "
                             f"effective_actors={effective}")
        chunk = -(-total // effective)
        refs = []
        for c in range(effective):
            start, end = c * chunk, min((c + 1) * chunk, total)
            data = {key: value[start:end] for key, value in kwargs.items()}
            for j in range(self.duplicate_actors):
                refs.append(self._actor_handlers[c * self.duplicate_actors + j].execute_batch.remote(
                    method_name, data, 0, end - start))
        return refs
