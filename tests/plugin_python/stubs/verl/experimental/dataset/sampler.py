"""Stand-in for verl/experimental/dataset/sampler.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7.

The whole real interface (lines 23-40): ``AbstractSampler(torch.utils.data.Sampler[int])`` with an
abstract ``__init__(self, data_source: Sized, data_config: DictConfig)``, and
``AbstractCurriculumSampler(AbstractSampler)`` adding an abstract ``update(self, batch: DataProto)``.
No state_dict/load_state_dict in the interface: a sampler is checkpointed only if it implements
them itself (torchdata then saves/restores it through the StatefulDataLoader state, see
verl/_torchdata.py). RayPPOTrainer.fit calls ``update(batch=batch)`` once per training step,
after the checkpoint of that step (ray_trainer.py:1693-1694 vs 1653).
"""
from abc import abstractmethod
from collections.abc import Sized

from omegaconf import DictConfig
from torch.utils.data import Sampler

from verl import DataProto


class AbstractSampler(Sampler[int]):
    """Abstract interface for custom samplers."""

    @abstractmethod
    def __init__(self, data_source: Sized, data_config: DictConfig):
        pass


class AbstractCurriculumSampler(AbstractSampler):
    """Experimental interface for curriculum learning samplers."""

    @abstractmethod
    def update(self, batch: DataProto) -> None:
        pass
