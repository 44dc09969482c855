"""Stand-in for src/accelerate/utils/operations.py (huggingface/accelerate at
16cb6eb80dd9aa8b4df1a63ef57863e455d53b83): gather, gather_object, broadcast_object_list.

Semantics mirrored (line numbers in the real file):
- ``gather(tensor)`` (:425, via ``_gpu_gather`` :322): a tensor, or a nested list/tuple/dict of
  tensors; each tensor is all-gathered and the per-process tensors are concatenated along dim 0 in
  rank order (a 0-dim tensor becomes shape [1] first). Every process must pass the same shape
  (all_gather needs it; here a mismatch raises). Non-tensors raise TypeError
  (``error_on_other_type=True``). Not distributed: the input is returned as is.
- ``gather_object(object)`` (:505, via ``_gpu_gather_object`` :498): ``all_gather_object`` then
  flatten one level: ``[x for y in per_process for x in y]``, so a list per process becomes one
  list in rank order. Objects cross processes pickled (here: a pickle round trip, so every rank
  gets copies). Not distributed: the object is returned as is.
- ``broadcast_object_list(object_list, from_process=0)`` (:675): torch's broadcast_object_list;
  the list is overwritten IN PLACE on every other process with (unpickled copies of)
  ``from_process``'s objects, the source's own list is left as is, and the same list is returned.
The rendezvous across simulated processes is stubs/simworld.py.
"""
import pickle
from typing import Any

import torch

import simworld


def _rendezvous(op: str, value: Any):
    ctx = simworld.current()
    return ctx.world.exchange(ctx.rank, op, value)


def _distributed() -> bool:
    return simworld.current().world is not None


def _recursively_apply(func, data):
    if isinstance(data, (tuple, list)):
        return type(data)(_recursively_apply(func, o) for o in data)
    if isinstance(data, dict):
        return type(data)({k: _recursively_apply(func, v) for k, v in data.items()})
    if isinstance(data, torch.Tensor):
        return func(data)
    raise TypeError(f"Unsupported types ({type(data)}) passed to `gather`. Only nested list/tuple/dicts of "
                    "objects that are valid for `is_torch_tensor` should be passed.")


def _gather_one(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.ndim == 0:
        tensor = tensor.clone()[None]
    parts = _rendezvous("gather", tensor.detach().clone())
    shapes = {tuple(p.shape) for p in parts}
    if len(shapes) != 1:
        raise ValueError(f"gather: processes passed tensors of different shapes {[tuple(p.shape) for p in parts]}")
    return torch.cat([p.to(tensor.device) for p in parts], dim=0)


def gather(tensor):
    if not _distributed():
        return tensor
    return _recursively_apply(_gather_one, tensor)


def gather_object(object: Any):
    if not _distributed():
        return object
    output_objects = [pickle.loads(b) for b in _rendezvous("gather_object", pickle.dumps(object))]
    return [x for y in output_objects for x in y]


def broadcast_object_list(object_list, from_process: int = 0):
    if not _distributed():
        return object_list
    payloads = _rendezvous("broadcast_object_list", pickle.dumps(list(object_list)))
    source = pickle.loads(payloads[from_process])
    if len(source) != len(object_list):
        raise ValueError(f"broadcast_object_list: list of {len(object_list)} here, {len(source)} on the source")
    if simworld.current().rank != from_process:
        for i, obj in enumerate(source):
            object_list[i] = obj
    return object_list


def reduce(tensor, reduction: str = "mean", scale: float = 1.0):
    """``reduce`` (operations.py, via ``_gpu_reduce``): every process's tensor summed elementwise, divided
    by the number of processes for "mean", times ``scale``; not distributed: the input times scale."""
    if _distributed():
        parts = _rendezvous("reduce", tensor.detach().clone())
        total = sum(p.to(tensor.device) for p in parts)
        if reduction == "mean":
            total = total / len(parts)
    else:
        total = tensor.clone()
    return total * scale if scale != 1.0 else total
