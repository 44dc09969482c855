"""Stand-in for trl/trainer/utils.py (huggingface/trl at f2cd57710ae345ea6428ae95363267fcf38a3dc8): the helpers GRPOTrainer uses.

Same names, signatures and results as the real ones (line numbers in the real file):
- pad(tensors, padding_value=0, padding_side="right", pad_to_multiple_of=None) (:116): stack
  1-D (or N-D) tensors padded along the first dim, on the left or the right.
- RepeatSampler(data_source, mini_repeat_count, batch_size=1, repeat_count=1, shuffle=True,
  seed=None) (:695): a (seeded) permutation of the dataset, cut into chunks of batch_size
  distinct indices (an incomplete last chunk is dropped); each chunk is yielded repeat_count
  times, and within it each index mini_repeat_count times in a row. GRPOTrainer uses
  mini_repeat_count=num_generations, batch_size=generation_batch_size // num_generations,
  repeat_count=num_iterations * steps_per_generation, so one chunk is one GLOBAL generation batch
  with every prompt's num_generations copies adjacent.
- nanstd(tensor, dim=None, keepdim=False) (:857): NaN-ignoring std with Bessel's correction
  (NaN where fewer than 2 values).
- split_tensor_dict(tensor_dict, num_chunks) (:893), shuffle_sequence_dict(seq_dict) (:928),
  nanmin (:960), nanmax (:975), identity (:990), get_callable_name (:224).
- split_pixel_values_by_grid (:995) / unsplit_pixel_values_by_grid (:1046): here pass-through
  (no images are simulated).
"""
from collections.abc import Sized

import numpy as np
import torch
from torch.utils.data import Sampler


def pad(tensors, padding_value: int = 0, padding_side: str = "right", pad_to_multiple_of=None):
    shape = np.max([t.shape for t in tensors], 0).tolist()
    if pad_to_multiple_of is not None and shape[0] % pad_to_multiple_of:
        shape[0] += pad_to_multiple_of - shape[0] % pad_to_multiple_of
    out = torch.full((len(tensors), *shape), padding_value, dtype=tensors[0].dtype, device=tensors[0].device)
    for i, t in enumerate(tensors):
        if padding_side == "left":
            start = shape[0] - t.shape[0]
        elif padding_side == "right":
            start = 0
        else:
            raise ValueError("padding_side must be 'left' or 'right'")
        out[i][(slice(start, start + t.shape[0]),) + tuple(slice(0, s) for s in t.shape[1:])] = t
    return out


class RepeatSampler(Sampler):
    def __init__(self, data_source: Sized, mini_repeat_count: int, batch_size: int = 1, repeat_count: int = 1,
                 shuffle: bool = True, seed=None):
        self.data_source = data_source
        self.mini_repeat_count = mini_repeat_count
        self.batch_size = batch_size
        self.repeat_count = repeat_count
        self.num_samples = len(data_source)
        self.shuffle = shuffle
        self.seed = seed
        if shuffle:
            self.generator = torch.Generator()
            if seed is not None:
                self.generator.manual_seed(seed)

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self.num_samples, generator=self.generator).tolist()
        else:
            order = list(range(self.num_samples))
        chunks = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        for chunk in (c for c in chunks if len(c) == self.batch_size):
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.mini_repeat_count):
                        yield index

    def __len__(self) -> int:
        return (self.num_samples // self.batch_size) * self.batch_size * self.mini_repeat_count * self.repeat_count


def nanstd(tensor: torch.Tensor, dim=None, keepdim: bool = False) -> torch.Tensor:
    mean = torch.nanmean(tensor, dim=dim, keepdim=True)
    variance = torch.nanmean((tensor - mean) ** 2, dim=dim, keepdim=True)
    count = torch.sum(~torch.isnan(tensor), dim=dim, keepdim=True)
    correction = torch.where(count > 1, count / (count - 1), torch.full_like(count, float("nan"), dtype=variance.dtype))
    std = torch.sqrt(variance * correction)
    if keepdim:
        return std
    if dim is None:
        return std.squeeze()
    dims = [dim] if isinstance(dim, int) else list(dim)
    for d in sorted((d if d >= 0 else d + std.ndim for d in dims), reverse=True):
        std = std.squeeze(d)
    return std


def split_tensor_dict(tensor_dict, num_chunks: int):
    first = next(t for t in tensor_dict.values() if t is not None)
    size = first.shape[0] // num_chunks
    chunks = []
    for i in range(num_chunks):
        chunk = {}
        for key, t in tensor_dict.items():
            if t is not None and (isinstance(t, list) or t.ndim > 0):
                chunk[key] = t[i * size:(i + 1) * size]
            else:
                chunk[key] = t  # a 0-dim tensor (num_items_in_batch) goes to every chunk; None stays None
        chunks.append(chunk)
    return chunks


def shuffle_sequence_dict(seq_dict):
    batch_size = len(next(v for v in seq_dict.values() if v is not None))
    permutation = torch.randperm(batch_size)

    def permute(v):
        if v is None or (isinstance(v, torch.Tensor) and v.ndim == 0):
            return v
        if isinstance(v, torch.Tensor):
            return v[permutation]
        return [v[i] for i in permutation]

    return {key: permute(value) for key, value in seq_dict.items()}


def nanmin(tensor: torch.Tensor) -> torch.Tensor:
    if torch.isnan(tensor).all():
        return torch.tensor(float("nan"), dtype=tensor.dtype, device=tensor.device)
    return torch.min(tensor[~torch.isnan(tensor)])


def nanmax(tensor: torch.Tensor) -> torch.Tensor:
    if torch.isnan(tensor).all():
        return torch.tensor(float("nan"), dtype=tensor.dtype, device=tensor.device)
    return torch.max(tensor[~torch.isnan(tensor)])


def identity(x):
    return x


def split_pixel_values_by_grid(batch):
    return batch


def unsplit_pixel_values_by_grid(batch):
    return batch


def get_callable_name(func) -> str:
    import functools
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__name__", type(func).__name__)


def get_config_model_id(config) -> str:
    return getattr(config, "_name_or_path", None) or getattr(config, "name_or_path", "stand-in/model")
