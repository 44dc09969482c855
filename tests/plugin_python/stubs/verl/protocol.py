"""Stand-in for verl/protocol.py: DataProto as the trainer hands it to ``sampler.update``.

Real fields: ``batch`` (a TensorDict of per-row tensors, e.g. "token_level_scores" [rows, response
length]), ``non_tensor_batch`` (dict of numpy object arrays, one entry per row: "uid", dataset
columns such as "raw_prompt", "index", "extra_info", and reward extras such as "acc"), and
``meta_info``. Here ``batch`` is a plain dict of tensors.
"""
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class DataProto:
    batch: dict = None
    non_tensor_batch: dict = field(default_factory=dict)
    meta_info: dict = field(default_factory=dict)

    def __len__(self):
        if self.batch:
            return next(iter(self.batch.values())).shape[0]
        if self.non_tensor_batch:
            return len(next(iter(self.non_tensor_batch.values())))
        return 0

    def __getitem__(self, item):
        """Rows by a list of indices (what the DAPO filter does with its kept indices)."""
        idx = list(item) if not isinstance(item, slice) else list(range(len(self)))[item]
        return DataProto(
            batch={k: v[idx] for k, v in (self.batch or {}).items()},
            non_tensor_batch={k: v[idx] for k, v in self.non_tensor_batch.items()},
            meta_info=dict(self.meta_info),
        )

    @classmethod
    def from_single_dict(cls, data, meta_info=None, auto_padding=False):
        tensors = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
        others = {k: v for k, v in data.items() if isinstance(v, np.ndarray)}
        return cls(batch=tensors, non_tensor_batch=others, meta_info=meta_info or {})

    def repeat(self, repeat_times=2, interleave=True):
        n = len(self)
        if interleave:
            idx = [i for i in range(n) for _ in range(repeat_times)]
        else:
            idx = [i for _ in range(repeat_times) for i in range(n)]
        return self[idx]
