"""Stand-in for openrlhf/utils/deepspeed/deepspeed.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7.

Mirrored: ``DeepspeedStrategy(seed, full_determinism, max_norm, micro_train_batch_size,
train_batch_size, zero_stage, args)``; ``setup_dataloader`` (a StatefulDataLoader: batches of
``collate_fn`` output, ``state_dict()``/``load_state_dict()`` resume mid-epoch); ``save_ckpt`` and
``load_ckpt`` with the real signatures and folder layout: DeepSpeed's
``model.save_checkpoint(save_dir, tag, client_state, save_latest)`` writes
``save_dir/<tag>/mp_rank_00_model_states.pt`` (the client state is stored in that file) and
``save_dir/latest`` (the tag), then ``save_dir/<tag>/metric.json``; before saving, old step folders
are rotated out to keep ``max_num`` (every sub-folder of save_dir not named best* counts; ones
without a metric go first, then the oldest). ``load_ckpt(model, load_dir)`` reads the tag in
``latest`` and returns ``(load_path, client_states)``, or ``(None, {})`` without a checkpoint.
"""
import json
import os
import random
import shutil

import torch


class DeepSpeedEngine:
    """What deepspeed.initialize returns, reduced to its checkpoint calls. ``module`` is a dict."""

    def __init__(self, module=None):
        self.module = module if module is not None else {"step": 0}

    def save_checkpoint(self, save_dir, tag=None, client_state=None, save_latest=True):
        tag = tag or f"global_step{self.module.get('step', 0)}"
        os.makedirs(os.path.join(save_dir, tag), exist_ok=True)
        state = dict(client_state or {})
        state["module"] = dict(self.module)
        torch.save(state, os.path.join(save_dir, tag, "mp_rank_00_model_states.pt"))
        if save_latest:
            with open(os.path.join(save_dir, "latest"), "w") as f:
                f.write(tag)

    def load_checkpoint(self, load_dir, tag=None, **kwargs):
        if tag is None:
            latest = os.path.join(load_dir, "latest")
            if not os.path.exists(latest):
                return None, None
            with open(latest) as f:
                tag = f.read().strip()
        path = os.path.join(load_dir, tag)
        state = torch.load(os.path.join(path, "mp_rank_00_model_states.pt"))
        self.module = state.pop("module")
        return path, state


class StatefulDataLoader:
    """torchdata's StatefulDataLoader, reduced: batches in a per-epoch shuffled order, resumable."""

    def __init__(self, dataset, batch_size=1, shuffle=False, collate_fn=None, drop_last=False, seed=42, **kwargs):
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.collate_fn = collate_fn or (lambda items: items)
        self.seed = seed
        self._epoch = 0
        self._num_yielded = 0
        self._resume_at = 0

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        order = list(range(len(self.dataset)))
        if self.shuffle:
            random.Random(self.seed + self._epoch).shuffle(order)
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        start, self._resume_at = self._resume_at, 0
        self._num_yielded = start
        for batch in batches[start:]:
            self._num_yielded += 1
            yield self.collate_fn([self.dataset[i] for i in batch])
        self._epoch += 1
        self._num_yielded = 0

    def state_dict(self):
        return {"_num_yielded": self._num_yielded, "epoch": self._epoch}

    def load_state_dict(self, state_dict):
        self._epoch = state_dict.get("epoch", 0)
        self._resume_at = state_dict.get("_num_yielded", 0)


class DeepspeedStrategy:
    CKPT_METRIC_FILENAME = "metric.json"

    def __init__(
        self,
        seed: int = 42,
        full_determinism: bool = False,
        max_norm: float = 0.0,
        micro_train_batch_size=1,
        train_batch_size=1,
        zero_stage=2,
        args=None,
    ) -> None:
        self.args = args
        self.seed = seed
        self.stage = zero_stage
        self.train_batch_size = train_batch_size
        self.micro_train_batch_size = micro_train_batch_size
        self.max_norm = max_norm
        self.full_determinism = full_determinism

    def setup_distributed(self, timeout=None) -> None:
        pass

    def setup_dataloader(
        self,
        replay_buffer,
        batch_size: int,
        pin_memory: bool = False,
        shuffle=True,
        collate_fn=None,
        drop_last=True,
        sampler=None,
        consumed_samples=0,
        num_workers: int = 0,
    ):
        return StatefulDataLoader(replay_buffer, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_fn,
                                  drop_last=drop_last, seed=self.seed)

    def is_rank_0(self) -> bool:
        return True

    def get_rank(self) -> int:
        return 0

    def print(self, *msg):
        print(*msg)

    def _read_ckpt_metric(self, ckpt_dir):
        try:
            with open(os.path.join(ckpt_dir, self.CKPT_METRIC_FILENAME)) as f:
                value = json.load(f).get("metric_value")
            return None if value is None else float(value)
        except (OSError, ValueError, TypeError, AttributeError):
            return None

    def save_ckpt(
        self,
        model,
        save_dir,
        tag=None,
        max_num=3,
        max_mem=1000,
        client_state=None,
        save_latest=True,
        metric_value=None,
        metric_key=None,
    ):
        client_state = client_state or {}
        is_best = tag is not None and tag.startswith("best")
        os.makedirs(save_dir, exist_ok=True)
        if is_best:  # one best checkpoint at a time
            for d in os.listdir(save_dir):
                if d.startswith("best") and d != tag and os.path.isdir(os.path.join(save_dir, d)):
                    shutil.rmtree(os.path.join(save_dir, d))
        while not is_best:  # rotation (max_mem is not modelled)
            regular = [os.path.join(save_dir, d) for d in os.listdir(save_dir)
                       if os.path.isdir(os.path.join(save_dir, d)) and not d.startswith("best")]
            if len(regular) - max_num + 1 <= 0:
                break
            candidates = sorted(((p, self._read_ckpt_metric(p), os.path.getmtime(p)) for p in regular),
                                key=lambda c: (c[1] is not None, c[1] if c[1] is not None else float("-inf"), c[2]))
            shutil.rmtree(candidates[0][0])
        model.save_checkpoint(save_dir, tag=tag, client_state=client_state, save_latest=save_latest)
        if tag is not None:
            with open(os.path.join(save_dir, tag, self.CKPT_METRIC_FILENAME), "w") as f:
                json.dump({"metric_key": metric_key, "metric_value": metric_value}, f, indent=2, sort_keys=True)

    def load_ckpt(
        self,
        model,
        load_dir,
        tag=None,
        load_module_strict=True,
        load_optimizer_states=True,
        load_lr_scheduler_states=True,
        load_module_only=False,
    ):
        load_path, states = model.load_checkpoint(load_dir, tag)
        if load_path is None:
            self.print(f"Warning: [deepspeed] No checkpoint found at {load_dir}, skipping checkpoint loading.")
            return None, {}
        return load_path, states
