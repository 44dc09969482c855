"""sparsegate.verl against verl's stand-in: configured by YAML keys, driven like verl's trainer."""
import json
import logging

import numpy as np
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader
from verl import DataProto
from verl.experimental.dataset.sampler import AbstractCurriculumSampler
from verl.trainer.main_ppo import create_rl_dataset, create_rl_sampler
from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

from sparsegate.verl import SparsegateDataset

BATCH = 4
ROLLOUTS = 4
KINDS = ["easy", "hard", "impossible", "easy", "hard", "easy", "impossible", "easy"]
HINT_MARK = "<partial_solution>"  # in the default hint template


def write_rows(path):
    with open(path, "w") as f:
        for i, kind in enumerate(KINDS):
            f.write(json.dumps({
                "data_source": "synthetic",
                "prompt": [{"role": "system", "content": "Reason step by step."},
                           {"role": "user", "content": f"Problem {i} ({kind}): compute {i} * 7."}],
                "reward_model": {"ground_truth": str(i * 7)},
                "extra_info": {"index": i, "kind": kind,
                               "solution": f"We multiply.\n{i} * 7 = {i * 7}.\nThe answer is {i * 7}."},
            }) + "\n")


def data_config(tmp_path, custom_dataset=True, **sparsegate_keys):
    config = {
        "train_batch_size": BATCH, "shuffle": True, "seed": 7, "dataloader_num_workers": 0, "prompt_key": "prompt",
        "sampler": {"class_path": "pkg://fake_verl", "class_name": "PluginGateSampler",
                    "sparsegate": {"reference_key": "extra_info.solution", "id_key": "extra_info.index",
                                   "checkpoint": str(tmp_path / "sparsegate.json"), "quarantine_epochs": 1,
                                   **sparsegate_keys}},
    }
    if custom_dataset:
        config["custom_cls"] = {"path": "pkg://sparsegate.verl", "name": "SparsegateDataset"}
    return OmegaConf.create(config)


def rollout(batch_dict):
    """What verl's trainer does between the loader and sampler.update, with a fake policy:
    easy prompts are always solved, hard ones only with a hint (half the time), impossible ones never."""
    batch = DataProto.from_single_dict(batch_dict)
    batch.non_tensor_batch["uid"] = np.array([f"u{i}-{id(batch)}" for i in range(len(batch))], dtype=object)
    batch = batch.repeat(repeat_times=ROLLOUTS, interleave=True)
    acc = []
    for row, messages in enumerate(batch.non_tensor_batch["raw_prompt"]):
        kind = batch.non_tensor_batch["extra_info"][row]["kind"]
        hinted = HINT_MARK in messages[-1]["content"]
        acc.append(kind == "easy" or (kind == "hard" and hinted and row % 2 == 0))
    scores = torch.zeros(len(batch), 3)
    scores[:, -1] = torch.tensor([1.0 if a else -1.0 for a in acc])  # a -1/+1 verifier, like DAPO's math scorer
    batch.batch["token_level_scores"] = scores
    batch.non_tensor_batch["acc"] = np.array(acc, dtype=object)
    return batch


def train(loader, sampler, epochs):
    """verl's fit loop: for each epoch, for each batch: roll out, then sampler.update(batch)."""
    per_epoch = []
    for _ in range(epochs):
        rows = []
        for batch_dict in loader:
            batch = rollout(batch_dict)
            ids = [str(e["index"]) for e in batch_dict["extra_info"]]
            rows.extend(zip(ids, (m[-1]["content"] for m in batch_dict["raw_prompt"])))
            if isinstance(loader.sampler, AbstractCurriculumSampler):
                loader.sampler.update(batch=batch)
        per_epoch.append(rows)
    return per_epoch


def make(tmp_path, **kwargs):
    write_rows(tmp_path / "train.jsonl")
    config = data_config(tmp_path, **kwargs)
    dataset = create_rl_dataset([str(tmp_path / "train.jsonl")], config, tokenizer=None, processor=None)
    sampler = create_rl_sampler(config, dataset)
    # verl: StatefulDataLoader(batch_size=gen_batch_size or train_batch_size, drop_last=True, sampler=...)
    loader = DataLoader(dataset, batch_size=BATCH, sampler=sampler, collate_fn=collate_fn, drop_last=True,
                        num_workers=0)
    return dataset, sampler, loader


def test_sampler_gates_guides_and_learns(tmp_path):
    dataset, sampler, loader = make(tmp_path)
    assert isinstance(dataset, SparsegateDataset) and type(sampler).__name__ == "PluginGateSampler"
    assert len(sampler) == len(KINDS) and len(loader) == len(KINDS) // BATCH

    epochs = train(loader, sampler, epochs=6)
    assert [len(rows) for rows in epochs] == [len(KINDS)] * 6  # verl's step count holds every epoch

    kind = {str(i): k for i, k in enumerate(KINDS)}
    first = epochs[0]
    assert sorted(pid for pid, _ in first) == sorted(str(i) for i in range(len(KINDS)))  # a plain permutation
    assert not any(HINT_MARK in text for _, text in first)
    # From the second epoch on, prompts that failed are rolled out with a hint; solved ones never are.
    later = [row for rows in epochs[1:] for row in rows]
    assert all(HINT_MARK not in text for pid, text in later if kind[pid] == "easy")
    assert any(HINT_MARK in text for pid, text in later if kind[pid] == "hard")
    # Impossible prompts climb to the top rung, get quarantined and are skipped, replaced by others.
    assert sampler.skipped > 0
    last = [pid for pid, _ in epochs[-1]]
    assert len(last) == len(KINDS)
    stats = sampler.stats()
    assert stats["observed_groups"] == 6 * len(KINDS) and stats["decisions"]["drop"] == sampler.skipped
    assert stats["unknown_prompt_observations"] == 0  # every group mapped back to its prompt id
    assert stats["sampler"]["yielded"] == 6 * len(KINDS)


def test_checkpoint_resumes_the_plugin(tmp_path):
    _, sampler, loader = make(tmp_path)
    train(loader, sampler, epochs=2)
    saved = sampler.gate.stats()
    _, resumed, _ = make(tmp_path)  # the checkpoint written by update() is loaded at construction
    assert resumed.gate.stats() == saved


def test_plain_dataset_means_keep_or_drop_only(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="sparsegate.verl"):
        dataset, sampler, loader = make(tmp_path, custom_dataset=False)
    assert type(dataset) is RLHFDataset and "KEEP or DROP only" in caplog.text
    epochs = train(loader, sampler, epochs=3)
    assert all(p["reference"] is None for call in sampler.gate.decide_calls for p in call)
    assert not any(HINT_MARK in text for rows in epochs for _, text in rows)
    stats = sampler.stats()
    assert stats["decisions"]["guide"] == 0
    # Without sparsegate_id in the rows, update() still maps rollouts to prompts (by extra_info.index).
    assert stats["unknown_prompt_observations"] == 0 and stats["observed_groups"] == 3 * len(KINDS)
