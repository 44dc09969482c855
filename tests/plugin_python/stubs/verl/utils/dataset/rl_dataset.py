"""Stand-in for verl/utils/dataset/rl_dataset.py: RLHFDataset, collate_fn, get_dataset_class.

Real interface: ``RLHFDataset(data_files, tokenizer, config, processor=None, max_samples=-1)``
reads parquet rows into ``self.dataframe`` (a Hugging Face Dataset: each access returns a fresh
dict). ``__getitem__`` returns the row with ``raw_prompt`` (the chat messages under
``config.prompt_key``; the chat template is applied later, in the agent loop), ``index`` (from
``extra_info.index``, default 0), ``tools_kwargs`` and ``interaction_kwargs``, plus a dummy tensor.
Here rows come from JSON Lines files.
"""
import copy
import json

import numpy as np
import torch
from torch.utils.data import Dataset

from omegaconf import DictConfig


class RLHFDataset(Dataset):
    def __init__(self, data_files, tokenizer, config: DictConfig, processor=None, max_samples: int = -1):
        if not isinstance(data_files, (list, tuple)):
            data_files = [data_files]
        self.tokenizer = tokenizer
        self.processor = processor
        self.config = config
        self.prompt_key = config.get("prompt_key", "prompt")
        rows = []
        for path in data_files:
            with open(path, encoding="utf-8") as f:
                rows.extend(json.loads(line) for line in f if line.strip())
        if max_samples > 0:
            rows = rows[:max_samples]
        self._rows = rows

    @property
    def dataframe(self):
        return _Rows(self._rows)

    def __len__(self):
        return len(self._rows)

    def __getitem__(self, item):
        row_dict = self.dataframe[item]
        row_dict["raw_prompt"] = row_dict[self.prompt_key]
        row_dict["dummy_tensor"] = torch.tensor([0], dtype=torch.uint8)
        if row_dict.get("extra_info") is None:
            row_dict["extra_info"] = {}
        row_dict["index"] = row_dict["extra_info"].get("index", 0)
        row_dict["tools_kwargs"] = row_dict["extra_info"].get("tools_kwargs", {})
        row_dict["interaction_kwargs"] = row_dict["extra_info"].get("interaction_kwargs", {})
        return row_dict


class _Rows:
    """Like a Hugging Face Dataset: indexing returns a fresh copy of the row."""

    def __init__(self, rows):
        self._rows = rows

    def __getitem__(self, i):
        return copy.deepcopy(self._rows[i])

    def __len__(self):
        return len(self._rows)


def collate_fn(data_list):
    """Tensors stacked, everything else into numpy object arrays, as verl's collate_fn does."""
    tensors, others = {}, {}
    for row in data_list:
        for k, v in row.items():
            (tensors if isinstance(v, torch.Tensor) else others).setdefault(k, []).append(v)
    out = {k: torch.stack(v) for k, v in tensors.items()}
    for k, v in others.items():
        arr = np.empty(len(v), dtype=object)
        arr[:] = v
        out[k] = arr
    return out


def get_dataset_class(data_config: DictConfig):
    if "custom_cls" in data_config and data_config.custom_cls.get("path", None) is not None:
        from verl.utils.import_utils import load_extern_object
        dataset_cls = load_extern_object(data_config.custom_cls.path, data_config.custom_cls.name)
        if not issubclass(dataset_cls, Dataset):
            raise TypeError(f"{data_config.custom_cls.name} must inherit from torch.utils.data.Dataset")
        return dataset_cls
    return RLHFDataset
