"""Fake of Hugging Face datasets: not installed. verl's RLHFDataset reads its files with
``load_dataset("json" | "parquet", data_files=...)["train"]``, ``concatenate_datasets`` and
``Dataset.filter`` / ``select`` / ``__getitem__``; TRL and OpenRLHF take a ``Dataset``. Rows are
kept as a list of dicts; only JSON lines (or a JSON list) are read: parquet needs pyarrow, which
is not installed either. Like the real Dataset, which decodes each row from Arrow on access, every
row read out is a fresh copy: changing it changes nothing stored."""
import copy
import json

__version__ = "0.0-fake"


class Dataset:
    def __init__(self, rows):
        self._rows = list(rows)

    @classmethod
    def from_list(cls, rows):
        return cls(rows)

    @classmethod
    def from_dict(cls, columns):
        keys = list(columns)
        return cls([dict(zip(keys, values)) for values in zip(*(columns[k] for k in keys))])

    def __len__(self):
        return len(self._rows)

    def __iter__(self):
        return (copy.deepcopy(row) for row in self._rows)

    def __getitem__(self, item):
        if isinstance(item, str):
            return [copy.deepcopy(row[item]) for row in self._rows]
        if isinstance(item, slice):
            return Dataset(self._rows[item])
        return copy.deepcopy(self._rows[item])

    @property
    def column_names(self):
        return list(self._rows[0]) if self._rows else []

    def filter(self, function, num_proc=None, desc=None, **kwargs):
        return Dataset([row for row in self._rows if function(row)])

    def map(self, function, num_proc=None, desc=None, remove_columns=None, **kwargs):
        out = []
        for row in self._rows:
            new = dict(row)
            for key in remove_columns or []:
                new.pop(key, None)
            new.update(function(row) or {})
            out.append(new)
        return Dataset(out)

    def select(self, indices):
        return Dataset([self._rows[i] for i in indices])

    def shuffle(self, seed=None):
        import random
        rows = list(self._rows)
        random.Random(seed).shuffle(rows)
        return Dataset(rows)

    def to_list(self):
        return copy.deepcopy(self._rows)


class IterableDataset(Dataset):
    pass


class DatasetDict(dict):
    pass


class IterableDatasetDict(dict):  # named in TRL's GRPOTrainer.__init__ annotations
    pass


def load_dataset(kind, data_files=None, split=None, **kwargs):
    if kind != "json":
        raise NotImplementedError(f"datasets fake: {kind} files need pyarrow, not installed")
    files = [data_files] if isinstance(data_files, str) else list(data_files)
    rows = []
    for path in files:
        with open(path) as f:
            text = f.read()
        rows += json.loads(text) if text.lstrip().startswith("[") else [json.loads(l) for l in text.splitlines() if l.strip()]
    result = DatasetDict(train=Dataset(rows))
    return result[split] if split else result


def concatenate_datasets(parts):
    return Dataset([row for part in parts for row in part])


def interleave_datasets(parts, **kwargs):
    return concatenate_datasets(parts)
