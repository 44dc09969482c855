"""The framework-neutral group filter, and reading a verl DataProto the way verl's DAPO trainer does."""
import math

import numpy as np
import pytest
import torch
from verl import DataProto

from fakes import PluginGate
from sparsegate._prompts import prompt_text, stable_id, unit_rewards, with_hint
from sparsegate.filters import GroupFilter


def decide(gate, ids):
    return gate.decide([{"id": i, "text": f"question {i}", "reference": "step one.\nstep two.\nanswer."} for i in ids])


def test_dapo_rule_keeps_groups_with_variance_and_observes_all():
    gate = PluginGate()
    decide(gate, ["a", "b", "c", "d"])
    ids = ["a"] * 4 + ["b"] * 4 + ["c"] * 4 + ["d"]
    rewards = [0, 0, 0, 0] + [1, 1, 1, 1] + [0, 1, 0, 0] + [1]
    f = GroupFilter(gate)
    kept = f.filter(ids, rewards)
    assert kept == [8, 9, 10, 11, 12]  # c has variance; d is a single rollout
    assert (f.kept_groups, f.dropped_groups) == (2, 2)
    stats = gate.stats()
    assert stats["observed_groups"] == 4 and stats["zero_pass_groups"] == 1 and stats["all_pass_groups"] == 2
    # The dropped all-zero group still moved its prompt up the ladder.
    assert {d.prompt_id: d.hint_level for d in decide(gate, ["a", "b"])} == {"a": 1, "b": 0}


def test_openrlhf_rule_and_group_ids():
    f = GroupFilter(PluginGate(), reward_range=(0.0, 1.0), observe=False)
    assert f.keeps([0.0, 1.0]) and not f.keeps([1.0, 1.0]) and not f.keeps([0.0, 0.0])
    # Two groups of the same prompt (say, two steps' worth) stay apart when group ids say so.
    kept = f.filter(["p", "p", "p", "p"], [0, 0, 1, 0], group_ids=["u1", "u1", "u2", "u2"])
    assert kept == [2, 3]
    with pytest.raises(ValueError):
        GroupFilter(PluginGate(), reward_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="2 prompt ids but 1 rewards"):
        f.filter(["a", "b"], [1.0])


def test_rewards_are_mapped_into_unit_range():
    assert unit_rewards([True, False, -1.0, 2.5, 0.25, math.nan, np.float32(0.5), torch.tensor(1.0)]) == \
        [1.0, 0.0, 0.0, 1.0, 0.25, 0.5, 1.0]
    gate = PluginGate()
    decide(gate, ["x"])
    GroupFilter(gate).filter(["x"] * 4, [-1.0, -1.0, 1.0, -1.0])  # a -1/+1 verifier, as DAPO's math scorer
    assert gate.stats()["observed_groups"] == 1 and gate.stats()["zero_pass_groups"] == 0


def verl_batch(prompt_ids, rewards_per_prompt, n):
    """A DataProto as verl's trainer holds it after rewards: n interleaved rows per prompt."""
    rows = len(prompt_ids) * n
    scores = torch.zeros(rows, 5)
    flat = [r for rs in rewards_per_prompt for r in rs]
    scores[:, -1] = torch.tensor(flat, dtype=torch.float32)  # the reward sits on the last response token
    uids = np.array([f"uid-{i}" for i in range(len(prompt_ids)) for _ in range(n)], dtype=object)
    # The id inside extra_info, where sparsegate.verl's dataset writes it (the only dataset column
    # besides data_source and reward_model that verl keeps up to the reward step).
    extra = np.array([{"index": k, "sparsegate_id": p} for k, p in enumerate(prompt_ids) for _ in range(n)],
                     dtype=object)
    acc = np.array([r > 0 for r in flat], dtype=object)
    # from_dict, as verl's own code builds one: the real DataProto takes a TensorDict, not a dict.
    return DataProto.from_dict(tensors={"token_level_scores": scores, "token_level_rewards": scores.clone()},
                               non_tensors={"uid": uids, "extra_info": extra, "acc": acc})


def test_completion_lengths_go_with_their_rewards_nan_rows_left_out_of_both():
    gate = PluginGate()
    decide(gate, ["a", "b"])
    f = GroupFilter(gate)
    f.filter(["a", "a", "a", "b", "b"], [1.0, float("nan"), 0.0, 1, 1], completion_tokens=[5, 6, 7, np.int64(3), 4])
    assert gate.observed == [("a", [1.0, 0.0], [5.0, 7.0]), ("b", [1.0, 1.0], [3.0, 4.0])]
    with pytest.raises(ValueError, match="5 rewards but 4 completion lengths"):
        f.filter(["a"] * 5, [0] * 5, completion_tokens=[1] * 4)
    f.filter(["a"], [1])  # without lengths, observe gets none
    assert gate.observed[-1] == ("a", [1.0], None)


def test_filter_verl_reads_uids_and_metrics():
    gate = PluginGate()
    decide(gate, ["a", "b", "c"])
    batch = verl_batch(["a", "b", "c"], [[0, 0], [1, 0], [1, 1]], n=2)
    f = GroupFilter(gate)
    for metric in ("acc", "seq_reward", "seq_final_reward"):
        assert GroupFilter(gate, observe=False).filter_verl(batch, metric=metric) == [2, 3]
    kept = f.filter_verl(batch)
    # An index array, not the list: verl's select_idxs makes a list int32, and torch 1.13 (here)
    # indexes with int64 or bool only.
    assert kept == [2, 3] and len(batch[np.array(kept)]) == 2
    assert gate.stats()["observed_groups"] == 3
    with pytest.raises(KeyError, match="metric 'score'"):
        f.filter_verl(batch, metric="score")
    # Without the dataset's id, an id_key names where the id is; without either, the error says so.
    for row in batch.non_tensor_batch["extra_info"]:
        del row["sparsegate_id"]
    assert GroupFilter(gate, observe=False).filter_verl(batch, id_key="extra_info.index") == [2, 3]
    with pytest.raises(KeyError, match="row 0 of the batch carries no prompt id"):
        f.filter_verl(batch)


def test_prompt_helpers():
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]
    assert prompt_text(chat) == "What is 2+2?" and prompt_text("plain") == "plain"
    hinted = with_hint(chat, "\nHINT")
    assert hinted[1]["content"] == "What is 2+2?\nHINT" and chat[1]["content"] == "What is 2+2?"
    parts = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe."}]}]
    assert prompt_text(parts) == "Describe."
    assert with_hint(parts, "H")[0]["content"][-1] == {"type": "text", "text": "H"}
    assert stable_id("x") == stable_id("x") != stable_id("y") and len(stable_id("x")) == 16
    with pytest.raises(TypeError):
        prompt_text(42)
