"""Stand-in for the parts of torchdata verl uses (torchdata is not installed here).

Mirrors torchdata.stateful_dataloader (pytorch/data 088e43477c1c750c26ea6c1466b708c45cc8ba30):
stateful_dataloader.py (StatefulDataLoader, _StatefulSingleProcessDataLoaderIter), sampler.py
(BatchSampler/_BatchSamplerIterator, RandomSampler), stateful.py (Stateful). Only the map-style,
``num_workers == 0`` path (what verl requires with a curriculum sampler). verl itself is at
volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7 (ray_trainer.py:348-355 builds the loader).

What a checkpoint does to the sampler (the behaviour mirrored here):
- ``loader.state_dict()`` (stateful_dataloader.py:415) is the current iterator's state; with no live
  iterator it first CREATES one (calling ``iter(sampler)``). It holds, under "_sampler_iter_state",
  the batch-sampler iterator's state: {"samples_yielded": indices drawn this epoch, plus
  "sampler_state": sampler.state_dict() if the sampler is Stateful (has state_dict AND
  load_state_dict), "sampler_iter_state": iter's state_dict() if iter(sampler) is Stateful};
  "_num_yielded" / "_sampler_iter_yielded" = batches this epoch; "_iterator_finished".
- ``loader.load_state_dict(sd)`` (421) only stores it; the next ``iter(loader)`` builds an iterator
  that restores it (stateful_dataloader.py:522-578, sampler.py:148-163): ``iter(sampler)`` is called
  once for the fresh batch iterator and AGAIN after ``sampler.load_state_dict`` (if any); then, if
  neither the sampler nor its iterator is Stateful, the new iterator is fast-forwarded by calling
  ``next()`` ``samples_yielded`` times (indices drawn and discarded, without fetching rows).
  A restored epoch then continues; the one after starts with a plain ``iter(sampler)``.
"""
import itertools
from typing import Any, Dict, Iterator, List, Protocol, runtime_checkable

import torch
from torch.utils.data import Sampler, SequentialSampler


@runtime_checkable
class Stateful(Protocol):
    def state_dict(self) -> Dict[str, Any]: ...

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None: ...


class _StatefulRandomSamplerIterator(Iterator[int]):
    def __init__(self, sampler):
        self.sampler = sampler
        self.generator_state = sampler.generator.get_state()
        self.yielded = 0
        self.next_yielded = None
        self.n = len(sampler.data_source)
        self.perm = torch.randperm(self.n, generator=sampler.generator).tolist()

    def __iter__(self):
        return self

    def __next__(self) -> int:
        if self.yielded == self.n:
            raise StopIteration()
        val = self.perm[self.yielded]
        self.yielded += 1
        return val

    def state_dict(self) -> dict:
        return {"generator": self.generator_state, "yielded": self.yielded}

    def load_state_dict(self, state_dict: dict) -> None:
        self.generator_state = state_dict["generator"]
        self.sampler.generator.set_state(state_dict["generator"])
        self.perm = torch.randperm(self.n, generator=self.sampler.generator).tolist()
        self.yielded = state_dict["yielded"]


class RandomSampler(Sampler[int]):
    """torchdata.stateful_dataloader.sampler.RandomSampler (no replacement): a Stateful iterator."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        assert not replacement and num_samples is None, "the stand-in mirrors the verl usage only"
        self.data_source = data_source
        if generator is None:
            generator = torch.Generator()
            generator.manual_seed(int(torch.empty((), dtype=torch.int64).random_().item()))
        self.generator = generator

    def __iter__(self):
        return _StatefulRandomSamplerIterator(self)

    def __len__(self):
        return len(self.data_source)


class _BatchSamplerIterator(Iterator[List[int]]):
    def __init__(self, sampler, batch_size: int, drop_last: bool):
        self.sampler = sampler
        self.sampler_iter = iter(self.sampler)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.samples_yielded = 0

    def __next__(self) -> List[int]:
        batch = []
        try:
            for _ in range(self.batch_size):
                batch.append(next(self.sampler_iter))
                self.samples_yielded += 1
            return batch
        except StopIteration:
            if self.drop_last or len(batch) == 0:
                raise StopIteration
            return batch

    def state_dict(self) -> Dict[str, Any]:
        sd: Dict[str, Any] = {"samples_yielded": self.samples_yielded}
        if isinstance(self.sampler, Stateful):
            sd["sampler_state"] = self.sampler.state_dict()
        if isinstance(self.sampler_iter, Stateful):
            sd["sampler_iter_state"] = self.sampler_iter.state_dict()
        return sd

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.samples_yielded = state_dict["samples_yielded"]
        if "sampler_state" in state_dict:
            assert isinstance(self.sampler, Stateful)
            self.sampler.load_state_dict(state_dict["sampler_state"])
        self.sampler_iter = iter(self.sampler)
        if "sampler_iter_state" in state_dict:
            assert isinstance(self.sampler_iter, Stateful)
            self.sampler_iter.load_state_dict(state_dict["sampler_iter_state"])
        if not (isinstance(self.sampler, Stateful) or isinstance(self.sampler_iter, Stateful)):
            for _ in range(self.samples_yielded):  # fast-forward a non-stateful sampler
                next(self.sampler_iter)


class BatchSampler(torch.utils.data.BatchSampler):
    def __iter__(self):
        return _BatchSamplerIterator(self.sampler, self.batch_size, self.drop_last)


class _SingleProcessIter:
    def __init__(self, loader, next_iter_state=None):
        self._loader = loader
        self._index_sampler = loader.batch_sampler
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._sampler_iter_yielded = 0
        self._finished = False
        if next_iter_state is not None:
            self.load_state_dict(next_iter_state)

    def __iter__(self):
        return self

    def __next__(self):
        try:
            indices = next(self._sampler_iter)
        except StopIteration:
            self._finished = True
            raise
        self._sampler_iter_yielded += 1
        self._num_yielded += 1
        return self._loader.collate_fn([self._loader.dataset[i] for i in indices])

    def state_dict(self):
        return {
            "_index_sampler_state": self._index_sampler.state_dict() if isinstance(self._index_sampler, Stateful) else None,
            "_sampler_iter_state": self._sampler_iter.state_dict() if isinstance(self._sampler_iter, Stateful) else None,
            "_sampler_iter_yielded": self._sampler_iter_yielded,
            "_num_yielded": self._num_yielded,
            "_IterableDataset_len_called": None,
            "_shared_seed": None,
            "fetcher_state": None,
            "dataset_state": self._loader.dataset.state_dict() if isinstance(self._loader.dataset, Stateful) else None,
            "_iterator_finished": self._finished,
        }

    def load_state_dict(self, state_dict):
        assert "_num_yielded" in state_dict
        self._sampler_iter_yielded = state_dict["_sampler_iter_yielded"]
        if isinstance(self._index_sampler, Stateful) or isinstance(self._sampler_iter, Stateful):
            if isinstance(self._index_sampler, Stateful):
                self._index_sampler.load_state_dict(state_dict["_index_sampler_state"])
            self._sampler_iter = iter(self._index_sampler)
            if state_dict["_sampler_iter_state"] is not None:
                self._sampler_iter.load_state_dict(state_dict["_sampler_iter_state"])
        else:
            self._sampler_iter = itertools.islice(self._index_sampler, self._sampler_iter_yielded, None)
        self._num_yielded = state_dict["_num_yielded"]
        if state_dict["dataset_state"] is not None and isinstance(self._loader.dataset, Stateful):
            self._loader.dataset.load_state_dict(state_dict["dataset_state"])
        self._finished = state_dict["_iterator_finished"]


class StatefulDataLoader:
    """torchdata StatefulDataLoader, map-style and num_workers=0 only."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, num_workers=0, collate_fn=None,
                 drop_last=False, generator=None, **kwargs):
        assert num_workers == 0, "the stand-in mirrors the single-process loader only"
        self.dataset = dataset
        self.num_workers = num_workers
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.collate_fn = collate_fn
        self._iterator = None
        self._initial_iter_for_state_dict = False
        self.next_iter_state = None

    def _get_iterator(self):
        it = _SingleProcessIter(self, self.next_iter_state)
        self.next_iter_state = None
        return it

    def __iter__(self):
        if self._initial_iter_for_state_dict:
            self._initial_iter_for_state_dict = False
        else:
            self._iterator = self._get_iterator()
        if self._iterator._finished:
            self._iterator = self._get_iterator()
        return self._iterator

    def __len__(self):
        return len(self.batch_sampler)

    def state_dict(self) -> Dict[str, Any]:
        if self._iterator is None:
            self._iterator = self._get_iterator()
            self._initial_iter_for_state_dict = True
        return self._iterator.state_dict()

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self._iterator = None
        self._initial_iter_for_state_dict = False
        if state_dict == {}:
            return
        self.next_iter_state = state_dict
