"""sparsegate.trl inside TRL's stand-in (stubs/trl, mirroring trl f2cd577 on transformers' Trainer and
accelerate): trainer.train() end to end with a fake causal LM, one process and two simulated ones.

Against the real TRL (SPARSEGATE_REAL_FRAMEWORKS) the same tests run the real GRPOTrainer (generation,
rewards, advantages, loss, logging, checkpoint hooks) on the transformers and accelerate stand-ins,
with simmodels.FakeCausalLM as the policy; the exceptions are marked where they are made."""
import logging
import os

import pytest

from simmodels import ByteTokenizer, FakeCausalLM
from simworld import run_processes
from trl import GRPOConfig

from fakes import PluginGate
from sparsegate.trl import CHECKPOINT_NAME, SparsegateGRPOTrainer

G = 4
KINDS = ["easy", "hard", "impossible", "easy"]
HINT_MARK = "<partial_solution>"
REAL = bool(os.environ.get("SPARSEGATE_REAL_FRAMEWORKS"))


@pytest.fixture(autouse=True)
def no_hub_model_card(monkeypatch):
    """Against the real TRL: each checkpoint save writes a Hub model card (_BaseTrainer.create_model_card),
    which needs huggingface_hub's ModelCard (not installed) and the installed versions of trl,
    transformers, datasets and tokenizers (importlib.metadata: a source checkout and the stand-ins have
    none). Here it only records its calls; the rest of the save runs for real."""
    if REAL:
        from trl.trainer.base_trainer import _BaseTrainer
        calls = []
        monkeypatch.setattr(_BaseTrainer, "create_model_card", lambda self, *a, **k: calls.append((a, k)))


def solve(prompt_texts):
    """The policy: solves easy prompts, hard ones only with a hint, impossible ones never."""
    return ["ANSWER" if "(easy)" in t or ("(hard)" in t and HINT_MARK in t) else "no idea" for t in prompt_texts]


def accuracy(prompts, completions, completion_ids, solution, **kwargs):
    assert len(solution) == len(completions)  # dataset columns reach reward functions
    return [1.0 if c[-1]["content"] == "ANSWER" else 0.0 for c in completions]


def brevity(prompts, completions, **kwargs):
    return [0.5] * len(completions)


def dataset():
    return [{"prompt": [{"role": "system", "content": "Think."},
                        {"role": "user", "content": f"Problem {i} ({kind}): what is {i} + {i}?"}],
             "solution": f"Add the numbers.\n{i} + {i} = {2 * i}.\nThe answer is {2 * i}.",
             "problem_id": f"P{i}"} for i, kind in enumerate(KINDS)]


def make_trainer(tmp_path, gate=None, processes=1, max_prompt_tokens=None, tools=None, **args):
    """One optimizer step per generation batch; the batch holds every prompt's group once."""
    defaults = dict(output_dir=str(tmp_path), num_generations=G,
                    per_device_train_batch_size=len(KINDS) * G // processes, max_steps=5, save_strategy="no",
                    max_completion_length=16, report_to=[])
    config = GRPOConfig(**{**defaults, **args})
    model = FakeCausalLM(solve)
    trainer = SparsegateGRPOTrainer(model=model, reward_funcs=[accuracy, brevity], args=config,
                                    train_dataset=dataset(), processing_class=ByteTokenizer(),
                                    gate=gate or PluginGate(), prompt_id_column="problem_id",
                                    reference_column="solution", max_prompt_tokens=max_prompt_tokens, tools=tools)
    return trainer, model


def kind_of(text):
    return text.split("(")[1].split(")")[0]


def hinted_kinds(generate_call):
    """The kinds of prompt a generate call rolled out, and whether each was hinted."""
    return {(kind_of(t), HINT_MARK in t) for t in generate_call}


def test_guide_then_drop_with_substitution(tmp_path):
    trainer, model = make_trainer(tmp_path)
    trainer.train()
    calls = model.generate_calls
    assert len(calls) == 5 and all(len(c) == len(KINDS) * G for c in calls)  # GRPO's batch shape is kept
    assert hinted_kinds(calls[0]) == {(k, False) for k in KINDS}
    # Step 2: the failed prompts are guided, whole groups at a time.
    assert hinted_kinds(calls[1]) == {("easy", False), ("hard", True), ("impossible", True)}
    assert any("<partial_solution>\nAdd the" in t for t in calls[1])
    # By the last step the impossible prompt has climbed the ladder and is quarantined; its slot went
    # to a copy of a rolled-out group.
    assert "impossible" not in {kind_of(t) for t in calls[-1]}
    stats = trainer.gate.stats()
    assert stats["decisions"]["drop"] == 1 and stats["quarantined_prompts"] == 1
    assert stats["unknown_prompt_observations"] == 0
    # One observation per rolled-out prompt per step: 4 + 4 + 4 + 4 + 3.
    assert stats["observed_groups"] == 19


def test_success_reward_column_is_observed(tmp_path):
    gate = PluginGate()
    trainer, _ = make_trainer(tmp_path, gate, max_steps=1)
    trainer.train()
    stats = gate.stats()
    # Column 0 (accuracy): easy prompts pass, the rest fail; brevity's constant 0.5 is not what is observed.
    assert stats["all_pass_groups"] == 2 and stats["zero_pass_groups"] == 2


def test_eval_and_foreign_layouts_pass_through(tmp_path, caplog):
    gate = PluginGate()
    trainer, model = make_trainer(tmp_path, gate)
    rows = [dict(r) for r in dataset() for _ in range(G)]
    model.eval()  # evaluation: TRL's _prepare_inputs calls the same hook in eval mode
    trainer._generate_and_score_completions(rows)
    assert gate.decide_calls == [] and not any(HINT_MARK in t for t in model.generate_calls[-1])
    model.train()
    mixed = rows[1:] + rows[:1]  # groups no longer aligned
    with caplog.at_level(logging.WARNING, logger="sparsegate.trl"):
        trainer._generate_and_score_completions(mixed)
    assert "passed through ungated" in caplog.text and gate.decide_calls == []


def test_hints_stay_within_max_prompt_tokens(tmp_path):
    tokenizer = ByteTokenizer()
    unhinted = max(len(tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True)) for r in dataset())
    budget = unhinted + 170  # the hint block and its first solution step, not the second
    trainer, model = make_trainer(tmp_path, max_prompt_tokens=budget)
    trainer.train()
    stats = trainer.gate.stats()
    assert stats["decisions"]["guide"] > 0 and stats["hints_shortened_to_fit"] > 0
    widths = [len(tokenizer.encode(t)) for call in model.generate_calls for t in call]
    assert max(widths) <= budget and any(HINT_MARK in t for call in model.generate_calls for t in call)


def calculator(expression: str) -> str:
    """Evaluates an arithmetic expression and returns the result as text.

    Args:
        expression: the expression, e.g. "2 + 2".
    """
    return str(eval(expression, {"__builtins__": {}}))


def test_hints_with_tools_stay_within_max_prompt_tokens(tmp_path):
    # Issue 24, item 1 (defect 4): TRL's _tokenize_prompts renders the tools' schemas into every chat
    # prompt; the budget check counted the prompt without them, so a hinted prompt with tools went
    # past max_prompt_tokens.
    tokenizer = ByteTokenizer()
    unhinted = max(len(tokenizer.apply_chat_template(r["prompt"], tools=[calculator], add_generation_prompt=True))
                   for r in dataset())
    budget = unhinted + 170  # the hint block and its first solution step, not the second
    try:
        trainer, model = make_trainer(tmp_path, max_prompt_tokens=budget, tools=[calculator])
    except ImportError as error:
        if not REAL:
            raise
        import real_frameworks
        real_frameworks.needs(
            "transformers >= 5 (GRPOTrainer tools)",
            "the real GRPOTrainer refuses tools below transformers 5.0 (trl f2cd577 grpo_trainer.py:587); the stand-in "
            "is 4.57 and the real transformers is not installed. Past that check TRL also needs jmespath, a Jinja chat "
            "template that renders tool calls and that TRL has a response schema for (chat_template_utils "
            "supports_tool_calling, add_response_schema: Qwen, Llama 3, GLM, GPT-OSS, ...), and transformers 5's "
            "tokenizer.parse_response; the stand-in's byte tokenizer has no chat template. The tools' share of the "
            f"prompt length is checked on the real _tokenize_prompts by test_real_frameworks.py. TRL said: {error}")
    trainer.train()
    stats = trainer.gate.stats()
    texts = [t for call in model.generate_calls for t in call]
    assert all(t.startswith("<|tools|>\n") for t in texts)  # what the policy saw had the tools in it
    assert max(len(tokenizer.encode(t)) for t in texts) <= budget and any(HINT_MARK in t for t in texts)
    assert stats["decisions"]["guide"] > 0 and stats["hints_shortened_to_fit"] > 0


class DigestGate(PluginGate):
    """A gate whose scoring service reports a model digest, as Gate.stats() does."""

    def stats(self):
        return {**super().stats(), "model_digest": "sha256:c0ffee0123456789"}


def test_plugin_counters_reach_trl_logs(tmp_path):
    # Issue 24, item 3: the plugin's counters never reached TRL's logger (self._metrics, averaged
    # by GRPOTrainer.log into what the Trainer reports).
    trainer, _ = make_trainer(tmp_path, DigestGate(), max_steps=3, logging_steps=1)
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "sparsegate/decisions/keep" in entry]
    assert [entry["step"] for entry in logs] == [1, 2, 3]
    first, second = logs[0], logs[1]
    assert "reward" in first  # beside TRL's own metrics
    assert first["sparsegate/decisions/keep"] == len(KINDS) and first["sparsegate/hint_level/0"] == len(KINDS)
    # Step 1 observes every prompt unhinted: two pass every rollout, two none.
    assert first["sparsegate/observed_groups"] == len(KINDS) and first["sparsegate/observed_pass_rate"] == 0.5
    assert 0.0 < first["sparsegate/predicted_pass_rate"] < 1.0
    # Step 2 guides the two that failed, on the first rung.
    assert second["sparsegate/decisions/guide"] == 2 and second["sparsegate/hint_level/1"] == 2
    assert second["sparsegate/decisions/keep"] == 2 and "sparsegate/observed_pass_rate" in second  # 2 unhinted
    assert all(entry["sparsegate/fail_open"] == 0 and entry["sparsegate/scoring_seconds"] >= 0 for entry in logs)
    assert all(entry["sparsegate/model_digest"] == float(0xc0ffee) for entry in logs)


def test_checkpoint_is_saved_and_resumed_with_the_trainer(tmp_path):
    trainer, _ = make_trainer(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    trainer.train()
    folder = os.path.join(str(tmp_path), "checkpoint-2")
    assert os.path.exists(os.path.join(folder, CHECKPOINT_NAME))
    saved = trainer.gate.stats()

    resumed, model = make_trainer(tmp_path, max_steps=3)
    resumed.train(resume_from_checkpoint=True)
    assert resumed.gate.stats()["observed_groups"] == saved["observed_groups"] + len(KINDS)
    # The impossible prompt resumes on its rung: step 3 guides it at a higher level than step 2 did.
    assert ("impossible", True) in hinted_kinds(model.generate_calls[-1])
    assert resumed.gate.stats()["decisions_by_hint_level"][2] > 0


def test_two_processes_roll_out_one_decision(tmp_path):
    # Defect 8: the stand-in ran one process, so the gather / broadcast / slice path never ran.
    def rank(r):
        gate = PluginGate()
        trainer, model = make_trainer(tmp_path, gate, processes=2, max_steps=3)
        trainer.train()
        return gate, model

    (gate0, model0), (gate1, model1) = run_processes(2, rank)
    assert gate1.decide_calls == []  # only the main process decides
    stats = gate0.stats()
    assert stats["observed_groups"] == 3 * len(KINDS) and stats["unknown_prompt_observations"] == 0
    for step in range(3):
        together = model0.generate_calls[step] + model1.generate_calls[step]
        assert len(together) == len(KINDS) * G
        # Each prompt went out the same way on both processes (a group can span them).
        assert len({kind_of(t) for t in together}) == len(hinted_kinds(together))
    assert ("hard", True) in hinted_kinds(model0.generate_calls[1] + model1.generate_calls[1])


def lengths_beside_rewards(gate):
    """Each observe's completion lengths, row by row: "ANSWER" and "no idea" are 6 and 7 bytes, one
    token each, plus the EOS."""
    assert gate.observed
    for pid, rewards, lengths in gate.observed:
        assert lengths is not None, f"{pid} observed without completion lengths"
        assert lengths == [7.0 if r == 1.0 else 8.0 for r in rewards]


def test_completion_lengths_reach_the_plugin_beside_their_rewards(tmp_path):
    # Issue 23: signal_per_token learns what a rollout costs only from the lengths given to observe.
    trainer, _ = make_trainer(tmp_path, max_steps=3)
    trainer.train()
    lengths_beside_rewards(trainer.gate)


def test_completion_lengths_are_gathered_like_the_rewards_on_two_processes(tmp_path):
    def rank(r):
        gate = PluginGate()
        trainer, _ = make_trainer(tmp_path, gate, processes=2, max_steps=3)
        trainer.train()
        return gate

    gate0, gate1 = run_processes(2, rank)
    assert gate1.observed == []  # only the main process observes
    lengths_beside_rewards(gate0)
    assert sum(len(rewards) for _, rewards, _ in gate0.observed) == 3 * len(KINDS) * G
