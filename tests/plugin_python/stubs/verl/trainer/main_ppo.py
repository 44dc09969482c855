"""Stand-in for verl/trainer/main_ppo.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7.

Where things are built (real): ``run_ppo`` (49) starts ``TaskRunner`` as a Ray actor
(``ray.remote(num_cpus=1)(TaskRunner)``, 80) and calls ``runner.run.remote(config)`` (99).
``TaskRunner.run`` (261) - inside that actor process, not the driver - builds the tokenizer,
``create_rl_dataset`` for train and val (330-345), ``create_rl_sampler(config.data, train_dataset)``
(346), the ``RayPPOTrainer`` (349-362, which builds the StatefulDataLoader) and calls
``init_workers()`` and ``fit()``. So dataset, sampler and the trainer loop share the TaskRunner
process; the agent-loop workers (separate Ray actors) re-resolve ``data.custom_cls`` themselves.

Mirrored:
- ``create_rl_dataset(data_paths, data_config, tokenizer, processor, is_train=True, max_samples=-1)``
  (370): ``get_dataset_class(data_config)(data_files=..., tokenizer=..., processor=...,
  config=data_config, max_samples=...)``; ``is_train`` is unused.
- ``create_rl_sampler(data_config, dataset)`` (400): with ``data.sampler.class_path`` set,
  ``load_extern_object(class_path, class_name)(data_source=dataset, data_config=data_config)``,
  ``assert isinstance(sampler, AbstractSampler)`` and ``assert data_config.get(
  "dataloader_num_workers", 8) == 0``; elif ``data.shuffle``: torchdata's stateful RandomSampler
  with a torch.Generator seeded by ``data.seed`` (if set); else SequentialSampler.
"""
import torch
from torch.utils.data import SequentialSampler

from verl._torchdata import RandomSampler
from verl.experimental.dataset.sampler import AbstractSampler
from verl.utils.import_utils import load_extern_object


def create_rl_dataset(data_paths, data_config, tokenizer, processor, is_train=True, max_samples: int = -1):
    from verl.utils.dataset.rl_dataset import get_dataset_class

    dataset_cls = get_dataset_class(data_config)
    return dataset_cls(
        data_files=data_paths,
        tokenizer=tokenizer,
        processor=processor,
        config=data_config,
        max_samples=max_samples,
    )


def create_rl_sampler(data_config, dataset):
    if data_config.sampler is not None and data_config.sampler.get("class_path", None) is not None:
        curriculum_class = load_extern_object(data_config.sampler.class_path, data_config.sampler.class_name)
        sampler = curriculum_class(data_source=dataset, data_config=data_config)
        assert isinstance(sampler, AbstractSampler)
        assert data_config.get("dataloader_num_workers", 8) == 0, (
            "If using curriculum, num_workers must be 0 to prevent data caching. "
            "If the dataloader caches data before the batch is done the "
            "curriculum sampler won't have the opportunity to reorder it. ")
    elif data_config.shuffle:
        train_dataloader_generator = torch.Generator()
        seed = data_config.get("seed")
        if seed is not None:
            train_dataloader_generator.manual_seed(seed)
        sampler = RandomSampler(data_source=dataset, generator=train_dataloader_generator)
    else:
        sampler = SequentialSampler(data_source=dataset)
    return sampler
