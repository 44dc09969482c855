"""Stand-in for verl/trainer/main_ppo.py: ``create_rl_dataset`` and ``create_rl_sampler``.

Real behaviour: the dataset class is ``data.custom_cls`` or RLHFDataset, built as
``cls(data_files=..., tokenizer=..., processor=..., config=data_config, max_samples=...)``. With
``data.sampler.class_path`` set, the sampler is ``cls(data_source=dataset, data_config=data_config)``,
which must be an AbstractSampler, and ``data.dataloader_num_workers`` must be 0.
"""
from torch.utils.data import SequentialSampler

from verl.experimental.dataset.sampler import AbstractSampler
from verl.utils.dataset.rl_dataset import get_dataset_class
from verl.utils.import_utils import load_extern_object


def create_rl_dataset(data_paths, data_config, tokenizer, processor, is_train=True, max_samples: int = -1):
    dataset_cls = get_dataset_class(data_config)
    return dataset_cls(data_files=data_paths, tokenizer=tokenizer, processor=processor, config=data_config,
                       max_samples=max_samples)


def create_rl_sampler(data_config, dataset):
    if data_config.sampler is not None and data_config.sampler.get("class_path", None) is not None:
        curriculum_class = load_extern_object(data_config.sampler.class_path, data_config.sampler.class_name)
        sampler = curriculum_class(data_source=dataset, data_config=data_config)
        assert isinstance(sampler, AbstractSampler)
        assert data_config.get("dataloader_num_workers", 8) == 0, "curriculum samplers need num_workers == 0"
        return sampler
    return SequentialSampler(data_source=dataset)
