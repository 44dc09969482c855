"""Stand-in for verl/utils/dataset/rl_dataset.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7.

Mirrored (lines at that commit):
- ``collate_fn(data_list)`` (39): tensors stacked on a new dim 0; every other value, per key, into
  a 1-D numpy dtype=object array (np.fromiter). A key missing from some rows gives a shorter array.
- ``RLHFDataset(data_files, tokenizer, config, processor=None, max_samples=-1)`` (87):
  * files (153-164): ``.parquet`` -> datasets "parquet", ``.json`` -> datasets "json" (JSON Lines or
    a JSON array), anything else -> ValueError("Unsupported file format") - a ``.jsonl`` name is
    rejected. Here ``.json`` is read with the json module (both layouts); ``.parquet`` needs pyarrow
    (not installed here). ``self.dataframe`` is a Hugging Face ``datasets.Dataset``: here a small
    ``_Rows`` with the same access semantics (``dataframe[i]`` is a fresh dict every time;
    ``select``, ``filter``, ``len``) and Arrow's schema unification (a key that some rows lack
    appears as None in those rows, inside nested dicts / lists of dicts too).
  * ``max_samples`` (169-177): first N rows, or with ``shuffle`` a seeded rng.choice.
  * overlong filter (181-261), AT LOAD TIME, only if ``filter_overlong_prompts`` (code default True
    when the key is absent; the shipped YAML sets it False): keeps rows with
    ``len(tokenizer.apply_chat_template(row[prompt_key], add_generation_prompt=True,
    **apply_chat_template_kwargs, tools=tool_schemas)) <= max_prompt_length`` (default 1024), with
    ``tools`` passed only when ``data.tool_config_path`` names a tool config (116-131: the schemas
    ``initialize_tools_from_config`` gives, as plain dicts; a config that fails to load leaves
    None). With a processor (multimodal models) the count is the processor's instead:
    ``processor.apply_chat_template(_build_messages(row), add_generation_prompt=True,
    tokenize=False, **kwargs)`` as text, then ``len(processor(text=[raw], images=..., videos=...,
    videos_kwargs=...)["input_ids"][0])``; here for text-only rows (images=None, videos=None,
    videos_kwargs={}), since images are not mirrored. An exception counts as too long.
  * ``__getitem__`` (341-362): the row's columns, plus ``raw_prompt`` (= the messages under
    ``prompt_key``, the same list object; ``images``/``videos`` columns are popped),
    ``dummy_tensor`` = tensor([0], uint8), ``extra_info`` ({} when missing/None), ``index`` =
    ``extra_info.get("index", 0)``, ``tools_kwargs`` and ``interaction_kwargs`` (from extra_info,
    default {}). No input_ids / attention_mask: tokenization happens in the agent loop.
- ``get_dataset_class(data_config)`` (450): ``data.custom_cls.path``/``name`` via
  load_extern_object (TypeError unless a torch Dataset subclass), else RLHFDataset.
"""
import copy
import json
import logging
import os
from collections import defaultdict
from typing import Optional

import numpy as np
import torch
from omegaconf import DictConfig, ListConfig
from torch.utils.data import Dataset

from verl.utils.import_utils import load_extern_object

logger = logging.getLogger(__name__)


def collate_fn(data_list: list) -> dict:
    tensors = defaultdict(list)
    non_tensors = defaultdict(list)
    for data in data_list:
        for key, val in data.items():
            (tensors if isinstance(val, torch.Tensor) else non_tensors)[key].append(val)
    for key, val in tensors.items():
        tensors[key] = torch.stack(val, dim=0)
    for key, val in non_tensors.items():
        non_tensors[key] = np.fromiter(val, dtype=object, count=len(val))
    return {**tensors, **non_tensors}


def _schema(values):
    """The unified 'struct' keys of a column (None for non-struct values), recursively."""
    dicts = [v for v in values if isinstance(v, dict)]
    if dicts:
        keys = {}
        for d in dicts:
            for k in d:
                keys.setdefault(k, [])
        for d in dicts:
            for k in keys:
                keys[k].append(d.get(k))
        return ("struct", {k: _schema(vs) for k, vs in keys.items()})
    items = [x for v in values if isinstance(v, list) for x in v]
    if items and any(isinstance(x, dict) for x in items):
        return ("list", _schema(items))
    return None


def _conform(value, schema):
    if schema is None or value is None:
        return value
    kind, inner = schema
    if kind == "struct" and isinstance(value, dict):
        return {k: _conform(value.get(k), s) for k, s in inner.items()}
    if kind == "list" and isinstance(value, list):
        return [_conform(x, inner) for x in value]
    return value


class _Rows:
    """What RLHFDataset.dataframe is used as (a datasets.Dataset): rows read back as fresh dicts."""

    def __init__(self, rows):
        self._rows = rows

    @classmethod
    def from_records(cls, records):
        columns = {}
        for r in records:
            for k in r:
                columns.setdefault(k, None)
        schema = {k: _schema([r.get(k) for r in records]) for k in columns}
        return cls([{k: _conform(r.get(k), schema[k]) for k in columns} for r in records])

    def __len__(self):
        return len(self._rows)

    def __getitem__(self, i):
        if isinstance(i, str):
            return [copy.deepcopy(r[i]) for r in self._rows]
        return copy.deepcopy(self._rows[int(i)])

    def select(self, indices):
        return _Rows([self._rows[int(i)] for i in indices])

    def filter(self, function, num_proc=None, desc=None):
        return _Rows([r for r in self._rows if function(copy.deepcopy(r))])

    @staticmethod
    def concatenate(parts):
        return _Rows.from_records([r for p in parts for r in p._rows])


def _load_file(path):
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq  # not installed here: parquet is real verl's usual format

        return pq.read_table(path).to_pylist()
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        stripped = text.lstrip()
        if stripped.startswith("["):
            return json.loads(stripped)
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    raise ValueError(f"Unsupported file format: {path}")


class RLHFDataset(Dataset):
    def __init__(
        self,
        data_files,
        tokenizer,
        config: DictConfig,
        processor=None,
        max_samples: int = -1,
    ):
        if not isinstance(data_files, (list, ListConfig)):
            data_files = [data_files]
        self.data_files = copy.deepcopy(list(data_files))
        self.original_data_files = copy.deepcopy(list(data_files))
        self.tokenizer = tokenizer
        self.processor = processor
        self.max_samples = max_samples
        self.config = config

        self.prompt_key = config.get("prompt_key", "prompt")
        self.image_key = config.get("image_key", "images")
        self.video_key = config.get("video_key", "videos")
        self.image_patch_size = config.get("image_patch_size", 14)
        self.max_prompt_length = config.get("max_prompt_length", 1024)
        self.return_raw_chat = config.get("return_raw_chat", False)
        self.truncation = config.get("truncation", "error")
        self.filter_overlong_prompts = config.get("filter_overlong_prompts", True)
        self.apply_chat_template_kwargs = config.get("apply_chat_template_kwargs", {})
        self.tool_config_path = config.get("tool_config_path", None)
        self.tool_schemas = None
        if self.tool_config_path:
            try:
                from verl.tools.utils.tool_registry import initialize_tools_from_config

                tool_list = initialize_tools_from_config(self.tool_config_path)
                self.tool_schemas = [tool.tool_schema.model_dump(exclude_unset=True, exclude_none=True)
                                     for tool in tool_list]
            except Exception as e:
                logger.warning("Failed to initialize tools from %s: %s", self.tool_config_path, e)
                self.tool_schemas = None
        self.need_tools_kwargs = config.get("need_tools_kwargs", False)
        self.serialize_dataset = False
        self.shuffle = config.get("shuffle", False)
        self.seed = config.get("seed")

        self._read_files_and_tokenize()

    def _read_files_and_tokenize(self):
        records = []
        for path in self.data_files:
            records.extend(_load_file(os.path.expanduser(path)))
        self.dataframe = _Rows.from_records(records)
        total = len(self.dataframe)
        print(f"dataset len: {total}")
        if 0 < self.max_samples < total:
            if self.shuffle:
                rng = np.random.default_rng(*((self.seed,) if self.seed is not None else ()))
                indices = rng.choice(total, size=self.max_samples, replace=False)
            else:
                indices = np.arange(self.max_samples)
            self.dataframe = self.dataframe.select(indices.tolist())
        self.dataframe = self.maybe_filter_out_long_prompts(self.dataframe)

    def maybe_filter_out_long_prompts(self, dataframe=None):
        if self.filter_overlong_prompts:
            tokenizer, prompt_key = self.tokenizer, self.prompt_key

            def processor_doc2len(doc) -> int:
                try:
                    messages = self._build_messages(doc)
                    apply_kwargs = dict(**self.apply_chat_template_kwargs)
                    if self.tool_schemas is not None:
                        apply_kwargs["tools"] = self.tool_schemas
                    raw_prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True,
                                                                    tokenize=False, **apply_kwargs)
                    return len(self.processor(text=[raw_prompt], images=None, videos=None,
                                              videos_kwargs={})["input_ids"][0])
                except Exception:
                    print("Error processing one of the samples, skipping...")
                    return self.max_prompt_length + 1

            def doc2len(doc) -> int:
                try:
                    apply_kwargs = dict(**self.apply_chat_template_kwargs)
                    if self.tool_schemas is not None:
                        apply_kwargs["tools"] = self.tool_schemas
                    return len(tokenizer.apply_chat_template(doc[prompt_key], add_generation_prompt=True, **apply_kwargs))
                except Exception:
                    print("Error processing one of the samples, skipping...")
                    return self.max_prompt_length + 1

            length = processor_doc2len if self.processor is not None else doc2len
            dataframe = dataframe.filter(lambda doc: length(doc) <= self.max_prompt_length)
            print(f"filter dataset len: {len(dataframe)}")
        return dataframe

    def __len__(self):
        return len(self.dataframe)

    def _build_messages(self, example: dict):
        messages: list = example[self.prompt_key]
        images = example.pop(self.image_key, None) or []
        videos = example.pop(self.video_key, None) or []
        if images or videos:
            raise NotImplementedError("the stand-in does not mirror multimodal rows")
        return messages

    def __getitem__(self, item):
        row_dict: dict = self.dataframe[item]
        row_dict["raw_prompt"] = self._build_messages(row_dict)
        row_dict["dummy_tensor"] = torch.tensor([0], dtype=torch.uint8)
        if "extra_info" not in row_dict or row_dict["extra_info"] is None:
            row_dict["extra_info"] = dict()
        index = row_dict.get("extra_info", {}).get("index", 0)
        tools_kwargs = row_dict.get("extra_info", {}).get("tools_kwargs", {})
        interaction_kwargs = row_dict.get("extra_info", {}).get("interaction_kwargs", {})
        row_dict["index"] = index
        row_dict["tools_kwargs"] = tools_kwargs
        row_dict["interaction_kwargs"] = interaction_kwargs
        return row_dict


def get_dataset_class(data_config: DictConfig):
    if "custom_cls" in data_config and data_config.custom_cls.get("path", None) is not None:
        dataset_cls = load_extern_object(data_config.custom_cls.path, data_config.custom_cls.name)
        if not issubclass(dataset_cls, Dataset):
            raise TypeError(
                f"The custom dataset class '{data_config.custom_cls.name}' from "
                f"'{data_config.custom_cls.path}' must inherit from torch.utils.data.Dataset")
    else:
        dataset_cls = RLHFDataset
    print(f"Using dataset class: {dataset_cls.__name__}")
    return dataset_cls
