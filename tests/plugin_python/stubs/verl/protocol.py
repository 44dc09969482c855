"""Stand-in for verl/protocol.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7.

``DataProto(batch, non_tensor_batch, meta_info)``:
- ``batch``: a TensorDict of per-row tensors (dim 0 = rows). tensordict is not installed here, so
  ``TensorDict`` below is a minimal stand-in (keys/items/pop/[key]/[rows]/batch_size). For
  convenience a plain dict of tensors passed as ``batch`` is converted to it (real verl would
  fail on a plain dict; build with ``DataProto.from_dict``/``from_single_dict`` to be faithful).
- ``non_tensor_batch``: dict of numpy arrays, one entry per row (``check_consistency`` asserts
  np.ndarray and matching length; from_dict turns lists into dtype=object arrays).
- ``meta_info``: dict.
Methods mirrored (protocol.py lines at that commit): ``__len__`` 345, ``__getitem__`` 354 (slice ->
``slice``; list / np.ndarray / torch.Tensor -> ``select_idxs``; int -> ``DataProtoItem``),
``check_consistency`` 465, ``from_single_dict`` 491 (ValueError on anything but Tensor/ndarray),
``from_dict`` 507, ``select`` 611, ``select_idxs`` 646, ``slice`` 686, ``pop`` 732 (returns a new
DataProto; with no batch_keys its ``batch`` is None), ``union`` 792 (in place, asserts equal values
on shared keys, meta_info via ``union_two_dict``), ``chunk`` 875, ``concat`` 928 (meta_info merged,
"metrics" aggregated, conflicting other keys assert), ``reorder`` 974 (in place), ``repeat`` 982
(interleave: np.repeat / repeat_interleave; else tile).
"""
import copy
import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch


class TensorDict:
    """Minimal tensordict.TensorDict: a dict of tensors sharing batch_size[0]."""

    def __init__(self, source=None, batch_size=None, device=None):
        self._data = dict(source or {})
        if batch_size is None:
            batch_size = next(iter(self._data.values())).shape[:1] if self._data else (0,)
        if isinstance(batch_size, int):
            batch_size = (batch_size,)
        self.batch_size = torch.Size(batch_size)
        self.device = device
        for k, v in self._data.items():
            assert v.shape[: len(self.batch_size)] == self.batch_size, f"{k}: {tuple(v.shape)} vs {self.batch_size}"

    def keys(self):
        return self._data.keys()

    def items(self):
        return self._data.items()

    def values(self):
        return self._data.values()

    def __contains__(self, key):
        return key in self._data

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return self.batch_size[0]

    def __getitem__(self, item):
        if isinstance(item, str):
            return self._data[item]
        if isinstance(item, (int, np.integer)):
            return TensorDict({k: v[item] for k, v in self._data.items()}, batch_size=())
        rows = {k: v[item] for k, v in self._data.items()}
        n = len(range(*item.indices(self.batch_size[0]))) if isinstance(item, slice) else (
            int(torch.as_tensor(item).sum()) if torch.as_tensor(item).dtype == torch.bool else len(item))
        return TensorDict(rows, batch_size=(n,))

    def __setitem__(self, key, value):
        assert value.shape[: len(self.batch_size)] == self.batch_size, f"{key}: {tuple(value.shape)}"
        self._data[key] = value

    def pop(self, key, *default):
        return self._data.pop(key, *default)

    def get(self, key, default=None):
        return self._data.get(key, default)

    def select(self, *keys):
        return TensorDict({k: self._data[k] for k in keys}, batch_size=self.batch_size)

    def chunk(self, chunks, dim=0):
        parts = {k: torch.chunk(v, chunks, dim=0) for k, v in self._data.items()}
        sizes = [len(p) for p in next(iter(parts.values()))] if parts else []
        return [TensorDict({k: p[i] for k, p in parts.items()}, batch_size=(sizes[i],)) for i in range(len(sizes))]

    def to(self, device):
        return TensorDict({k: v.to(device) for k, v in self._data.items()}, batch_size=self.batch_size)

    def __repr__(self):
        return f"TensorDict({ {k: tuple(v.shape) for k, v in self._data.items()} }, batch_size={tuple(self.batch_size)})"


def _cat_tensordicts(tds):
    keys = tds[0].keys()
    return TensorDict({k: torch.cat([td[k] for td in tds], dim=0) for k in keys},
                      batch_size=(sum(td.batch_size[0] for td in tds),))


def union_tensor_dict(tensor_dict1: TensorDict, tensor_dict2: TensorDict) -> TensorDict:
    """protocol.py:108. Same batch size; a shared key must hold equal tensors."""
    assert tensor_dict1.batch_size == tensor_dict2.batch_size, (
        f"Two tensor dict must have identical batch size. Got {tensor_dict1.batch_size} and {tensor_dict2.batch_size}")
    for key in tensor_dict2.keys():
        if key not in tensor_dict1.keys():
            tensor_dict1[key] = tensor_dict2[key]
        else:
            assert tensor_dict1[key].equal(tensor_dict2[key]), f"{key} in tensor_dict1 and tensor_dict2 are not the same object"
    return tensor_dict1


def _deep_equal(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype != object:
            return np.array_equal(a, b, equal_nan=True)
        return all(_deep_equal(x, y) for x, y in zip(a.flat, b.flat))
    return a == b


def union_numpy_dict(tensor_dict1: dict, tensor_dict2: dict) -> dict:
    """protocol.py:187. A shared key must hold deep-equal arrays (same dtype and shape)."""
    for key, val in tensor_dict2.items():
        if key in tensor_dict1:
            assert isinstance(tensor_dict2[key], np.ndarray) and isinstance(tensor_dict1[key], np.ndarray)
            assert _deep_equal(tensor_dict1[key], tensor_dict2[key]), f"`{key}` in tensor_dict1 and tensor_dict2 are not the same object."
        tensor_dict1[key] = val
    return tensor_dict1


def union_two_dict(dict1: dict, dict2: dict):
    """verl/utils/py_functional.py:149 (used by DataProto.union for meta_info)."""
    for key, val in dict2.items():
        if key in dict1:
            assert dict2[key] == dict1[key], f"{key} in meta_dict1 and meta_dict2 are not the same object"
        dict1[key] = val
    return dict1


def list_of_dict_to_dict_of_list(list_of_dict: list):
    if len(list_of_dict) == 0:
        return {}
    out = {key: [] for key in list_of_dict[0].keys()}
    for d in list_of_dict:
        for key, item in d.items():
            assert key in out
            out[key].append(item)
    return out


@dataclass
class DataProtoItem:
    batch: Any = None
    non_tensor_batch: dict = field(default_factory=dict)
    meta_info: dict = field(default_factory=dict)


@dataclass
class DataProto:
    batch: Any = None
    non_tensor_batch: dict = field(default_factory=dict)
    meta_info: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.batch, dict):  # stand-in convenience, see the module docstring
            self.batch = TensorDict(self.batch) if self.batch else None
        self.check_consistency()

    def __len__(self):
        if self.batch is not None:
            return self.batch.batch_size[0]
        elif self.non_tensor_batch is not None and len(self.non_tensor_batch) > 0:
            return self.non_tensor_batch[list(self.non_tensor_batch.keys())[0]].shape[0]
        return 0

    def __getitem__(self, item):
        if isinstance(item, slice):
            return self.slice(item.start, item.stop, item.step)
        elif isinstance(item, (list, np.ndarray, torch.Tensor)):
            return self.select_idxs(item)
        elif isinstance(item, (int, np.integer)):
            tensor_data = self.batch[item] if self.batch is not None else None
            return DataProtoItem(batch=tensor_data, non_tensor_batch={k: v[item] for k, v in self.non_tensor_batch.items()},
                                 meta_info=self.meta_info)
        raise TypeError(f"Indexing with {type(item)} is not supported")

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def check_consistency(self):
        if self.batch is not None:
            assert len(self.batch.batch_size) == 1, "only support num_batch_dims=1"
        if self.non_tensor_batch is not None:
            for key, val in self.non_tensor_batch.items():
                assert isinstance(val, np.ndarray), f"{key}: {type(val)}"
        if self.batch is not None and self.non_tensor_batch:
            batch_size = self.batch.batch_size[0]
            for key, val in self.non_tensor_batch.items():
                assert val.shape[0] == batch_size, f"key {key} length {len(val)} is not equal to batch size {batch_size}"

    @classmethod
    def from_single_dict(cls, data: dict, meta_info=None, auto_padding=False):
        tensors, non_tensors = {}, {}
        for key, val in data.items():
            if isinstance(val, torch.Tensor):
                tensors[key] = val
            elif isinstance(val, np.ndarray):
                non_tensors[key] = val
            else:
                raise ValueError(f"Unsupported type in data {type(val)}")
        return cls.from_dict(tensors=tensors, non_tensors=non_tensors, meta_info=meta_info, auto_padding=auto_padding)

    @classmethod
    def from_dict(cls, tensors: Optional[dict] = None, non_tensors=None, meta_info=None, num_batch_dims=1,
                  auto_padding=False):
        assert num_batch_dims == 1, "the stand-in supports num_batch_dims=1 only"
        tensors = tensors or {}
        meta_info = {} if meta_info is None else meta_info
        non_tensors = {} if non_tensors is None else non_tensors
        batch_size = None
        for key, tensor in tensors.items():
            if batch_size is None:
                batch_size = tensor.shape[:1]
            else:
                assert batch_size == tensor.shape[:1], f"Not all the tensor in tensors have the same batch size: {key}"
        for key, val in non_tensors.items():
            if not isinstance(val, np.ndarray):
                non_tensors[key] = np.array(val, dtype=object)
        tensor_dict = TensorDict(source=tensors, batch_size=batch_size) if tensors else None
        return cls(batch=tensor_dict, non_tensor_batch=non_tensors, meta_info=meta_info)

    def select(self, batch_keys=None, non_tensor_batch_keys=None, meta_info_keys=None, deepcopy=False) -> "DataProto":
        sub_batch = self.batch.select(*tuple(batch_keys)) if batch_keys is not None else self.batch
        if non_tensor_batch_keys is not None:
            non_tensor_batch = {k: v for k, v in self.non_tensor_batch.items() if k in non_tensor_batch_keys}
        else:
            non_tensor_batch = self.non_tensor_batch
        if deepcopy:
            non_tensor_batch = copy.deepcopy(non_tensor_batch)
        if meta_info_keys is not None:
            sub_meta_info = {k: v for k, v in self.meta_info.items() if k in meta_info_keys}
        else:
            sub_meta_info = self.meta_info
        if deepcopy:
            sub_meta_info = copy.deepcopy(sub_meta_info)
        return type(self)(batch=sub_batch, non_tensor_batch=non_tensor_batch, meta_info=sub_meta_info)

    def select_idxs(self, idxs):
        if isinstance(idxs, list):
            idxs = torch.tensor(idxs)
            if idxs.dtype != torch.bool:
                idxs = idxs.type(torch.int32)
        if isinstance(idxs, np.ndarray):
            idxs_np, idxs_torch = idxs, torch.from_numpy(idxs)
        else:
            idxs_torch, idxs_np = idxs, idxs.detach().cpu().numpy()
        if idxs_torch.dtype not in (torch.bool, torch.int64):
            idxs_torch = idxs_torch.long()  # old torch cannot index with int32
        batch_size = int(idxs_np.sum()) if idxs_np.dtype == bool else idxs_np.shape[0]
        selected_batch = None
        if self.batch is not None:
            selected_batch = TensorDict({k: t[idxs_torch] for k, t in self.batch.items()}, batch_size=(batch_size,))
        selected_non_tensor = {k: v[idxs_np] for k, v in self.non_tensor_batch.items()}
        return type(self)(batch=selected_batch, non_tensor_batch=selected_non_tensor, meta_info=self.meta_info)

    def slice(self, start=None, end=None, step=None):
        s = slice(start, end, step)
        sliced_batch = self.batch[s] if self.batch is not None else None
        return type(self)(batch=sliced_batch, non_tensor_batch={k: v[s] for k, v in self.non_tensor_batch.items()},
                          meta_info=self.meta_info)

    def pop(self, batch_keys=None, non_tensor_batch_keys=None, meta_info_keys=None) -> "DataProto":
        tensors, non_tensors, meta_info = {}, {}, {}
        for key in batch_keys or []:
            assert key in self.batch.keys()
            tensors[key] = self.batch.pop(key)
        for key in non_tensor_batch_keys or []:
            assert key in self.non_tensor_batch.keys()
            non_tensors[key] = self.non_tensor_batch.pop(key)
        for key in meta_info_keys or []:
            assert key in self.meta_info.keys()
            meta_info[key] = self.meta_info.pop(key)
        return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors, meta_info=meta_info)

    def union(self, other: "DataProto") -> "DataProto":
        self.batch = union_tensor_dict(self.batch, other.batch)
        self.non_tensor_batch = union_numpy_dict(self.non_tensor_batch, other.non_tensor_batch)
        self.meta_info = union_two_dict(self.meta_info, other.meta_info)
        return self

    def chunk(self, chunks: int) -> list:
        assert len(self) % chunks == 0, f"only support equal chunk. Got size of DataProto {len(self)} and chunk {chunks}."
        if self.batch is not None:
            batch_lst = self.batch.chunk(chunks=chunks, dim=0)
            split_at = np.cumsum([b.batch_size[0] for b in batch_lst])[:-1].tolist()
        else:
            batch_lst, split_at = [None] * chunks, chunks
        non_tensor_lst = [{} for _ in range(chunks)]
        for key, val in self.non_tensor_batch.items():
            for i, part in enumerate(np.array_split(val, split_at)):
                non_tensor_lst[i][key] = part
        return [type(self)(batch=batch_lst[i], non_tensor_batch=non_tensor_lst[i], meta_info=self.meta_info)
                for i in range(chunks)]

    @staticmethod
    def concat(data: list) -> "DataProto":
        new_batch = _cat_tensordicts([d.batch for d in data]) if data[0].batch is not None else None
        non_tensor_batch = list_of_dict_to_dict_of_list([d.non_tensor_batch for d in data])
        for key, val in non_tensor_batch.items():
            non_tensor_batch[key] = np.concatenate(val, axis=0)
        merged_meta_info, all_metrics = {}, []
        for d in data:
            for k, v in d.meta_info.items():
                if k == "metrics":
                    if v is not None:
                        all_metrics.extend(v) if isinstance(v, list) else all_metrics.append(v)
                elif k in merged_meta_info:
                    assert merged_meta_info[k] == v, f"Conflicting values for meta_info key '{k}'"
                else:
                    merged_meta_info[k] = v
        if all_metrics:
            merged_meta_info["metrics"] = list_of_dict_to_dict_of_list(all_metrics)
        cls = type(data[0]) if data else DataProto
        return cls(batch=new_batch, non_tensor_batch=non_tensor_batch, meta_info=merged_meta_info)

    def reorder(self, indices):
        indices_np = indices.detach().numpy()
        self.batch = self.batch[indices]
        self.non_tensor_batch = {k: v[indices_np] for k, v in self.non_tensor_batch.items()}

    def repeat(self, repeat_times=2, interleave=True):
        repeated_batch = None
        if self.batch is not None:
            if interleave:
                tensors = {k: t.repeat_interleave(repeat_times, dim=0) for k, t in self.batch.items()}
            else:
                tensors = {k: t.unsqueeze(0).expand(repeat_times, *t.shape).reshape(-1, *t.shape[1:])
                           for k, t in self.batch.items()}
            repeated_batch = TensorDict(tensors, batch_size=(self.batch.batch_size[0] * repeat_times,))
        repeated_non_tensor = {}
        for key, val in self.non_tensor_batch.items():
            if interleave:
                repeated_non_tensor[key] = np.repeat(val, repeat_times, axis=0)
            else:
                repeated_non_tensor[key] = np.tile(val, (repeat_times,) + (1,) * (val.ndim - 1))
        return type(self)(batch=repeated_batch, non_tensor_batch=repeated_non_tensor, meta_info=self.meta_info)
