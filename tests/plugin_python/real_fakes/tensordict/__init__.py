"""Fake of tensordict: not installed (and the installed torch, 1.13, predates the releases verl
needs). verl's DataProto keeps its tensors in a ``TensorDict``; this is a dict of tensors sharing a
leading batch dimension, with the operations DataProto calls (index, slice, select, pop, chunk,
``torch.cat``, ``to``). ``tensordict.tensorclass`` / ``base`` names import as placeholders."""
import torch

__version__ = "0.10.0"


class TensorDict(dict):
    def __init__(self, source=None, batch_size=None, device=None, **kwargs):
        super().__init__(source or {})
        self.batch_size = torch.Size(batch_size if batch_size is not None else [])
        self.device = device

    def __getitem__(self, key):
        if isinstance(key, str):
            return dict.__getitem__(self, key)
        if isinstance(key, tuple) and all(isinstance(k, str) for k in key):
            return dict.__getitem__(self, key)
        items = {k: v[key] for k, v in self.items()}
        first = next(iter(items.values()), None)
        size = [first.shape[0]] if first is not None and first.dim() > 0 else []
        return TensorDict(items, batch_size=size, device=self.device)

    def __len__(self):
        return self.batch_size[0] if len(self.batch_size) else 0

    def __eq__(self, other):
        return self is other

    __hash__ = object.__hash__

    def get(self, key, default=None):
        return dict.get(self, key, default)

    def set(self, key, value):
        self[key] = value
        return self

    def select(self, *keys, strict=True):
        return TensorDict({k: self[k] for k in keys if strict or k in self}, batch_size=self.batch_size,
                          device=self.device)

    def exclude(self, *keys):
        return TensorDict({k: v for k, v in self.items() if k not in keys}, batch_size=self.batch_size,
                          device=self.device)

    def to(self, device):
        return TensorDict({k: v.to(device) for k, v in self.items()}, batch_size=self.batch_size, device=device)

    def contiguous(self):
        return TensorDict({k: v.contiguous() for k, v in self.items()}, batch_size=self.batch_size,
                          device=self.device)

    def clone(self):
        return TensorDict({k: v.clone() for k, v in self.items()}, batch_size=self.batch_size, device=self.device)

    def to_dict(self):
        return dict(self)

    def rename_key_(self, old, new):
        for o, n in zip(old if isinstance(old, tuple) else (old,), new if isinstance(new, tuple) else (new,)):
            self[n] = dict.pop(self, o)
        return self

    def chunk(self, chunks, dim=0):
        parts = {k: v.chunk(chunks, dim=dim) for k, v in self.items()}
        count = len(next(iter(parts.values())))
        return [TensorDict({k: p[i] for k, p in parts.items()},
                           batch_size=[next(iter(parts.values()))[i].shape[0]], device=self.device)
                for i in range(count)]

    def split(self, size, dim=0):
        parts = {k: v.split(size, dim=dim) for k, v in self.items()}
        count = len(next(iter(parts.values())))
        return [TensorDict({k: p[i] for k, p in parts.items()},
                           batch_size=[next(iter(parts.values()))[i].shape[0]], device=self.device)
                for i in range(count)]

    def update(self, other=None, **kwargs):
        dict.update(self, other or {}, **kwargs)
        return self

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.cat, torch.stack):
            parts = args[0]
            dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
            merged = {k: func([p[k] for p in parts], dim=dim) for k in parts[0].keys()}
            size = sum(len(p) for p in parts) if func is torch.cat else len(parts)
            return TensorDict(merged, batch_size=[size], device=parts[0].device)
        return NotImplemented


def set_lazy_legacy(value):
    raise RuntimeError("tensordict fake: no lazy legacy switch")  # verl suppresses this


def set_list_to_stack(value):
    raise RuntimeError("tensordict fake: no list-to-stack switch")
