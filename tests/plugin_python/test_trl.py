"""sparsegate.trl against TRL's stand-in: GUIDE and DROP in _generate_and_score_completions."""
import logging
import os

from trl import GRPOConfig

from fakes import PluginGate
from sparsegate.trl import CHECKPOINT_NAME, SparsegateGRPOTrainer

G = 4
KINDS = ["easy", "hard", "impossible", "easy"]
HINT_MARK = "<partial_solution>"


class FakePolicy:
    """Generation stand-in: solves easy prompts, hard ones only with a hint, impossible ones never."""
    training = True

    def __call__(self, prompt):
        text = prompt[-1]["content"]
        if "(easy)" in text or ("(hard)" in text and HINT_MARK in text):
            return "ANSWER"
        return "no idea"


def accuracy(prompts, completions, completion_ids, solution, **kwargs):
    assert len(solution) == len(completions)  # dataset columns reach reward functions
    return [1.0 if c == "ANSWER" else 0.0 for c in completions]


def brevity(prompts, completions, **kwargs):
    return [0.5] * len(completions)


def generation_batch():
    """A generation batch as RepeatSampler lays it out: each prompt's G copies side by side."""
    rows = []
    for i, kind in enumerate(KINDS):
        row = {"prompt": [{"role": "system", "content": "Think."},
                          {"role": "user", "content": f"Problem {i} ({kind}): what is {i} + {i}?"}],
               "solution": f"Add the numbers.\n{i} + {i} = {2 * i}.\nThe answer is {2 * i}.",
               "problem_id": f"P{i}"}
        rows.extend(dict(row) for _ in range(G))
    return rows


def make_trainer(tmp_path, gate=None):
    args = GRPOConfig(output_dir=str(tmp_path), num_generations=G, per_device_train_batch_size=len(KINDS) * G)
    return SparsegateGRPOTrainer(model=FakePolicy(), reward_funcs=[accuracy, brevity], args=args,
                                 gate=gate or PluginGate(), prompt_id_column="problem_id", reference_column="solution")


def group_prompts(output):
    return [output["prompts"][i][-1]["content"] for i in range(0, len(output["prompts"]), G)]


def test_guide_then_drop_with_substitution(tmp_path):
    trainer = make_trainer(tmp_path)
    inputs = generation_batch()
    originals = [r["prompt"] for r in inputs]

    out = trainer._generate_and_score_completions(inputs)
    assert [r["prompt"] for r in inputs] == originals  # the caller's rows are never mutated
    assert out["prompts"] == originals and len(out["advantages"]) == len(inputs)

    out = trainer._generate_and_score_completions(inputs)
    firsts = group_prompts(out)
    assert [HINT_MARK in p for p in firsts] == [False, True, True, False]  # hard and impossible: guided
    assert all(out["prompts"][i] == out["prompts"][i - i % G] for i in range(len(inputs)))  # whole groups
    assert "<partial_solution>\nAdd the" in firsts[1]

    for _ in range(3):  # the impossible prompt climbs to the top rung and is quarantined
        out = trainer._generate_and_score_completions(inputs)
    firsts = group_prompts(out)
    assert len(out["prompts"]) == len(inputs)  # GRPO's batch shape is kept
    assert "(impossible)" not in " ".join(firsts)  # its slot went to a copy of a rolled-out group
    assert len(set(firsts)) == 3

    stats = trainer.gate.stats()
    assert stats["decisions"]["drop"] == 1 and stats["quarantined_prompts"] == 1
    assert stats["unknown_prompt_observations"] == 0
    # One observation per rolled-out prompt per step: 4 + 4 + 4 + 4 + 3 (the dropped one is not observed).
    assert stats["observed_groups"] == 19


def test_success_reward_column_is_observed(tmp_path):
    gate = PluginGate()
    trainer = make_trainer(tmp_path, gate)
    trainer._generate_and_score_completions(generation_batch())
    stats = gate.stats()
    # Column 0 (accuracy): easy prompts pass, the rest fail; brevity's constant 0.5 is not what is observed.
    assert stats["all_pass_groups"] == 2 and stats["zero_pass_groups"] == 2


def test_eval_and_foreign_layouts_pass_through(tmp_path, caplog):
    gate = PluginGate()
    trainer = make_trainer(tmp_path, gate)
    trainer.model.training = False
    inputs = generation_batch()
    assert trainer._generate_and_score_completions(inputs)["prompts"] == [r["prompt"] for r in inputs]
    assert gate.decide_calls == []
    trainer.model.training = True
    mixed = inputs[1:] + inputs[:1]  # groups no longer aligned
    with caplog.at_level(logging.WARNING, logger="sparsegate.trl"):
        out = trainer._generate_and_score_completions(mixed)
    assert out["prompts"] == [r["prompt"] for r in mixed] and "passed through ungated" in caplog.text
    assert gate.decide_calls == []


def test_checkpoint_is_saved_and_resumed_with_the_trainer(tmp_path):
    trainer = make_trainer(tmp_path)
    for _ in range(2):
        trainer._generate_and_score_completions(generation_batch())
    trainer.state.global_step = 2
    trainer._save_checkpoint(trainer.model, trial=None)
    folder = os.path.join(str(tmp_path), "checkpoint-2")
    assert os.path.exists(os.path.join(folder, CHECKPOINT_NAME))

    resumed = make_trainer(tmp_path)
    resumed._load_optimizer_and_scheduler(folder)
    assert resumed.gate.stats() == trainer.gate.stats()
    out = resumed._generate_and_score_completions(generation_batch())
    assert HINT_MARK in group_prompts(out)[2]  # the impossible prompt resumes on its rung
