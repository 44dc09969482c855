"""sparsegate.verl inside verl's stand-in (stubs/verl, mirroring verl b178a3c, and stubs/recipe,
verl-recipe 21892b9): the real fit() step order, _get_gen_batch's pop, the single-turn agent loop,
save-before-update, the StatefulDataLoader resume and drop_last, the DAPO trainer with its reward
manager. Each test names the defect of issue 11 or 24 it guards against.

With SPARSEGATE_REAL_FRAMEWORKS (scripts/frameworks/run_real.sh) the same tests drive verl's real
RayPPOTrainer.fit and the recipe's RayDAPOTrainer.fit; real_fakes/verl_cluster.py stands in for the
GPU and Ray cluster side only."""
import json
import logging
import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from verl.trainer.main_ppo import create_rl_dataset, create_rl_sampler
from verl.trainer.ppo.ray_trainer import RayPPOTrainer

try:
    from verl.experimental.agent_loop import single_turn_agent_loop
    from verl.trainer.ppo.ray_trainer import make_config
    verl_cluster = None
except ImportError:  # the real verl (SPARSEGATE_REAL_FRAMEWORKS): these two are the stand-in's harness
    # The real fit() runs; what needs GPUs or a Ray cluster comes from real_fakes/verl_cluster.py.
    import verl_cluster
    make_config = verl_cluster.make_config
    single_turn_agent_loop = verl_cluster.single_turn_agent_loop()
from verl.trainer.ppo.reward import load_reward_manager
from verl.trainer.ppo.utils import Role

from fakes import synthetic_features
from sparsegate.filters import GroupFilter
from sparsegate.verl import STEP_CHECKPOINT, SparsegateMetrics

KINDS = ["easy", "hard", "impossible", "easy", "hard", "easy", "impossible", "hard"]
HINT_MARK = "<partial_solution>"  # in the default hint template
RIGHT, WRONG = 7, 8  # the response token that says whether the fake policy solved it


class Tokenizer:
    """What the dataset's overlong filter and the agent loop call: one token per word."""
    pad_token_id = 0

    def apply_chat_template(self, messages, tools=None, add_generation_prompt=False, tokenize=True, **kwargs):
        # Tool schemas are rendered into the prompt, as real chat templates do (a system block).
        words = (json.dumps(tools).split() if tools else []) + " ".join(m["content"] for m in messages).split()
        return [1 + len(w) % 50 for w in words] + ([2] if add_generation_prompt else [])


def write_rows(path, solution_words=6, kinds=KINDS):
    with open(path, "w") as f:
        for i, kind in enumerate(kinds):
            solution = "\n".join(f"Step {s}: " + " ".join(["w"] * solution_words) for s in range(4))
            f.write(json.dumps({
                "data_source": "synthetic",
                "prompt": [{"role": "user", "content": f"Problem {i} ({kind}): compute {i} * 7."}],
                "reward_model": {"ground_truth": str(i * 7)},
                "extra_info": {"index": i, "solution": solution},
            }) + "\n")


def respond(prompt_ids, row):
    """Easy prompts are always solved, hard ones only with a hint, impossible ones never."""
    text = row["raw_prompt"][-1]["content"]
    kind = text.split("(")[1].split(")")[0]
    solved = kind == "easy" or (kind == "hard" and HINT_MARK in text)
    return [RIGHT if solved else WRONG]


def reward_loop(data):
    right = int(data.batch["responses"][0, 0]) == RIGHT
    return {"reward_score": 1.0 if right else -1.0, "reward_extra_info": {"acc": float(right)}}


def config(tmp_path, epochs=3, save_freq=0, max_prompt_length=64, sampler_keys=None, custom_dataset=True, **data):
    sparsegate = {"reference_key": "extra_info.solution", "quarantine_epochs": 1,
                  "checkpoint_dir": str(tmp_path / "ckpt"), **(sampler_keys or {})}
    data_config = {"train_files": str(tmp_path / "train.json"), "train_batch_size": 4, "dataloader_num_workers": 0,
                   "max_prompt_length": max_prompt_length, "max_response_length": 4, "shuffle": True, "seed": 7,
                   "sampler": {"class_path": "pkg://fake_verl", "class_name": "PluginGateSampler",
                               "sparsegate": sparsegate}, **data}
    if custom_dataset:
        data_config["custom_cls"] = {"path": "pkg://sparsegate.verl", "name": "SparsegateDataset"}
    return make_config({"data": data_config,
                        "actor_rollout_ref": {"rollout": {"n": 4, "agent": {"num_workers": 2}}},
                        "algorithm": {"adv_estimator": "grpo"},
                        "trainer": {"total_epochs": epochs, "save_freq": save_freq,
                                    "default_local_dir": str(tmp_path / "ckpt"), "val_before_train": False}})


def trainer_for(cfg, trainer_cls=RayPPOTrainer, policy=respond, rewards=reward_loop, reward_fn=None):
    """What verl's TaskRunner does: dataset, sampler, trainer, in that order."""
    tokenizer = Tokenizer()
    dataset = create_rl_dataset(cfg.data.train_files, cfg.data, tokenizer, None)
    sampler = create_rl_sampler(cfg.data, dataset)
    generate = lambda chunk: single_turn_agent_loop(chunk, tokenizer, cfg, respond=policy, reward_loop=rewards)
    if verl_cluster is None:
        trainer = trainer_cls(cfg, tokenizer, {Role.ActorRollout: generate}, None, train_dataset=dataset,
                              train_sampler=sampler, reward_fn=reward_fn)
    else:
        mapping, pools, group_cls = verl_cluster.workers(generate)
        trainer = verl_cluster.recording_metrics(trainer_cls(cfg, tokenizer, mapping, pools, group_cls,
                                                             train_dataset=dataset, train_sampler=sampler,
                                                             reward_fn=reward_fn))
    trainer.init_workers()
    return trainer, sampler


def recording(gate):
    """Every observe() the gate gets, as (prompt id, rewards)."""
    seen = []
    observe = gate.observe
    gate.observe = lambda prompt_id, rewards, **kw: (seen.append((prompt_id, list(rewards))),
                                                     observe(prompt_id, rewards, **kw))
    return seen


def decided_ids(gate):
    return {str(p["id"]) for call in gate.decide_calls for p in call}


def test_guided_prompts_are_observed_under_the_id_they_were_decided_under(tmp_path):
    # Defect 1: verl drops sparsegate_id and index before update(); the sampler then hashed the
    # hinted raw_prompt, so every guided group went to a new id and its ladder never moved.
    write_rows(tmp_path / "train.json")
    trainer, sampler = trainer_for(config(tmp_path))
    seen = recording(sampler.gate)
    trainer.fit()
    stats = sampler.gate.stats()
    assert seen and {pid for pid, _ in seen} <= decided_ids(sampler.gate)
    assert stats["unknown_prompt_observations"] == 0
    assert stats["decisions"]["guide"] > 0
    # Hard prompts are solved once hinted: some group observed under a hard prompt's id succeeded.
    hard = {sampler.data_source.sparsegate_prompt(i)["id"] for i, k in enumerate(KINDS) if k == "hard"}
    assert any(pid in hard and max(r) == 1.0 for pid, r in seen)


def test_without_the_dataset_the_id_key_or_an_unhinted_hash_is_used(tmp_path):
    write_rows(tmp_path / "train.json")
    trainer, sampler = trainer_for(config(tmp_path, epochs=1, custom_dataset=False))
    seen = recording(sampler.gate)
    trainer.fit()
    assert seen and {pid for pid, _ in seen} <= decided_ids(sampler.gate)
    assert sampler.gate.stats()["decisions"]["guide"] == 0


def dapo_config(tmp_path, metric="acc", n=4, **kwargs):
    """The DAPO recipe's settings, with the reward hook selected the way verl selects any reward
    manager class (reward_manager.source: importlib)."""
    cfg = config(tmp_path, **kwargs)
    cfg.algorithm.filter_groups = {"enable": True, "metric": metric, "max_num_gen_batches": 0}
    cfg.actor_rollout_ref.rollout.n = n
    cfg.reward_manager = {"source": "importlib", "name": "SparsegateDAPORewardManager",
                          "module": {"path": "pkg://sparsegate.verl", "name": "custom_reward_manager"}}
    return cfg


def some_solved():
    """A policy for DAPO runs: impossible prompts never solved, the others every other rollout (so
    their groups have variance and DAPO keeps them)."""
    rollouts = {"count": 0}

    def policy(prompt_ids, row):
        rollouts["count"] += 1
        solved = "impossible" not in row["raw_prompt"][-1]["content"] and rollouts["count"] % 2 == 0
        return [RIGHT if solved else WRONG]
    return policy


def dapo_reward_fn(cfg):
    # As recipe 21892b9's main_dapo.py builds it (num_examine 0 for training).
    overlong = OmegaConf.create({"enable": False, "len": 0, "penalty_factor": 0.0, "log": False})
    return load_reward_manager(cfg, Tokenizer(), 0, max_resp_len=cfg.data.max_response_length,
                               overlong_buffer_cfg=overlong)


def test_dapo_recipe_observes_every_group_without_a_fork(tmp_path):
    # Issue 24, 2 and 4: the recipe pin (48ea0a7) did not import with verl b178a3c, and using the
    # filter meant editing RayDAPOTrainer.fit. With recipe 21892b9, the reward manager hook sees
    # every generation batch before DAPO's filter, which keeps its own rule.
    from recipe.dapo.dapo_ray_trainer import RayDAPOTrainer
    write_rows(tmp_path / "train.json")
    cfg = dapo_config(tmp_path, epochs=2, gen_batch_size=4)
    cfg.data.train_batch_size = 2  # prompts DAPO collects per step, from generation batches of 4
    trainer, sampler = trainer_for(cfg, trainer_cls=RayDAPOTrainer, policy=some_solved(),
                                   reward_fn=dapo_reward_fn(cfg))
    seen = recording(sampler.gate)
    trainer.fit()
    assert trainer.logged_metrics  # steps were trained
    generated_groups = 4 * len(trainer.filter_groups_log)  # every generation batch went through the filter
    kept_groups = sum(len(uids) for uids in trainer.filter_groups_log)
    assert len(seen) == generated_groups > kept_groups  # dropped groups were observed too
    assert {pid for pid, _ in seen} <= decided_ids(sampler.gate)
    assert sampler.gate.stats()["unknown_prompt_observations"] == 0
    assert sampler.updates == 0  # the recipe never calls update(): nothing was observed twice


def test_group_filter_keeps_what_dapo_keeps_on_nan_and_constant_fractions(tmp_path):
    # Issue 24, 2: GroupFilter kept groups whose values were not all equal, DAPO those with
    # np.std > 0: a constant 0.1 group has a rounding std > 0 (DAPO keeps it), and a NaN makes the
    # std NaN (DAPO drops the group); max != min said the opposite for both.
    from recipe.dapo.dapo_ray_trainer import RayDAPOTrainer
    write_rows(tmp_path / "train.json")
    cfg = dapo_config(tmp_path, metric="score", n=3, epochs=1)
    rows = {"count": 0}

    def scores(data):
        text = data.non_tensor_batch["raw_prompt"][0][-1]["content"]
        kind = text.split("(")[1].split(")")[0]
        rollout = rows["count"] % 3
        rows["count"] += 1
        score = {"easy": 0.1, "impossible": math.nan if rollout == 0 else 0.0}.get(kind, float(rollout == 1))
        return {"reward_score": 0.0, "reward_extra_info": {"acc": 0.0, "score": score}}

    batches = []  # the generation batches, as DAPO's filter then reads them
    reward_fn = dapo_reward_fn(cfg)

    def recorder(data, return_dict=False):
        batches.append(data)
        return reward_fn(data, return_dict=return_dict)

    trainer, sampler = trainer_for(cfg, trainer_cls=RayDAPOTrainer, rewards=scores, reward_fn=recorder)
    trainer.fit()
    assert batches and len(batches) == len(trainer.filter_groups_log)
    group_filter = GroupFilter(sampler.gate, observe=False)
    for batch, dapo_kept in zip(batches, trainer.filter_groups_log):
        kept = group_filter.filter_verl(batch, metric="score")
        assert group_filter.kept_group_ids == dapo_kept
        assert {batch.non_tensor_batch["uid"][i] for i in kept} == set(dapo_kept)
    # Both kinds of group did occur: constant 0.1 (kept) and NaN-carrying (dropped).
    flat = [v for b in batches for v in b.non_tensor_batch["score"]]
    assert 0.1 in flat and any(isinstance(v, float) and math.isnan(v) for v in flat)


def test_a_hint_never_pushes_a_prompt_over_max_prompt_length(tmp_path):
    # Defect 3: the agent loop does not truncate, so a hinted prompt longer than
    # rollout.prompt_length broke the batch (unequal widths).
    write_rows(tmp_path / "train.json")
    widths = []  # every prompt the agent loop rolled out, in tokens

    def measuring(prompt_ids, row):
        widths.append(len(prompt_ids))
        return respond(prompt_ids, row)

    # Unhinted prompts are 7 tokens; the hint block adds 25 and each solution step 8, so 44 leaves
    # room for one step of a two-step hint.
    trainer, sampler = trainer_for(config(tmp_path, max_prompt_length=44), policy=measuring)
    trainer.fit()
    stats = sampler.gate.stats()
    assert stats["decisions"]["guide"] > 0
    assert stats["hints_shortened_to_fit"] > 0
    assert widths and max(widths) <= 44, widths
    assert max(widths) > 7  # hinted prompts did go out


def test_resume_continues_model_loader_and_plugin_at_the_same_step(tmp_path):
    # Defect 6: verl saves before update(); the adapter's one file ran ahead of the model and the
    # loader, and the resumed loader fast-forwarded the sampler, deciding batches nobody trained.
    write_rows(tmp_path / "train.json")
    cfg = config(tmp_path, epochs=2, save_freq=3)  # 2 steps per epoch: saves at step 3 (mid epoch 2) and 4
    trainer, sampler = trainer_for(cfg)
    trainer.total_training_steps = 3  # stop after the save at step 3, as a crash after it would
    trainer.fit()
    step = tmp_path / "ckpt" / "global_step_3"
    assert (step / "data.pt").exists() and (step / STEP_CHECKPOINT).exists()
    saved = json.loads((step / STEP_CHECKPOINT).read_text())
    assert saved == json.loads(_save(sampler.gate, tmp_path / "after3.json"))  # the state after update 3

    resumed_trainer, resumed = trainer_for(cfg)
    seen_decides = len(resumed.gate.decide_calls)
    resumed_trainer.fit()
    assert resumed.updates == 4
    # Only step 4's batch was decided after the resume: no fast-forward through earlier batches.
    assert len(resumed.gate.decide_calls) - seen_decides >= 1
    assert sum(len(c) for c in resumed.gate.decide_calls[seen_decides:]) < 2 * 4 * 2
    assert resumed.gate.stats()["observed_groups"] == saved["state"]["counters"]["observed_groups"] + 4


def _save(gate, path):
    gate.save(str(path))
    return open(path).read()


def test_resume_without_the_step_plugin_file_keeps_counting_steps(tmp_path, caplog):
    # Issue 24, 3: with global_step_N/sparsegate_plugin.json missing (a crash between verl's save
    # and update), updates came back as N - 1, no later step folder got the plugin, and the
    # warning blamed checkpoint_dir, which was set.
    write_rows(tmp_path / "train.json")
    cfg = config(tmp_path, epochs=3, save_freq=3)  # 2 steps per epoch: saves at steps 3 and 6
    trainer, sampler = trainer_for(cfg)
    trainer.total_training_steps = 3
    trainer.fit()
    (tmp_path / "ckpt" / "global_step_3" / STEP_CHECKPOINT).unlink()

    resumed_trainer, resumed = trainer_for(cfg)
    with caplog.at_level(logging.WARNING, logger="sparsegate.verl"):
        resumed_trainer.fit()
    assert resumed.updates == 6
    assert (tmp_path / "ckpt" / "global_step_6" / STEP_CHECKPOINT).exists()
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "global_step_3" in warning and "set data.sampler.sparsegate.checkpoint_dir" not in warning


def test_async_save_still_gets_the_plugin_into_the_step_folder(tmp_path):
    # Issue 24, 3: with actor.checkpoint.async_save verl writes data.pt but no tracker file, and
    # update() looked for the tracker.
    write_rows(tmp_path / "train.json")
    cfg = config(tmp_path, epochs=1, save_freq=1)
    cfg.actor_rollout_ref.actor.checkpoint = {"async_save": True}
    trainer, sampler = trainer_for(cfg)
    trainer.fit()
    assert not (tmp_path / "ckpt" / "latest_checkpointed_iteration.txt").exists()
    for step in (1, 2):
        assert (tmp_path / "ckpt" / f"global_step_{step}" / STEP_CHECKPOINT).exists()


def test_no_prompt_is_decided_for_the_batch_the_loader_drops(tmp_path):
    # Issue 24, 3: verl's loader drops the last incomplete batch; the sampler still decided its
    # prompts (stats and ladders moved for prompts nobody rolled out).
    write_rows(tmp_path / "train.json", kinds=KINDS + ["easy", "hard"])  # 10 rows, batches of 4
    trainer, sampler = trainer_for(config(tmp_path, epochs=2))
    trainer.fit()
    trained = 2 * 2 * 4  # epochs x full batches x batch size
    assert sampler.yielded == trained
    assert sum(len(c) for c in sampler.gate.decide_calls) == sampler.yielded + sampler.skipped


# `required` is a mandatory field of verl's OpenAIFunctionParametersSchema (verl/tools/schemas.py):
# without it pydantic refuses the schema and verl's dataset runs without tools.
TOOLS_YAML = """tools:
  - class_name: verl.tools.gsm8k_tool.Gsm8kTool
    config: {type: native}
    tool_schema:
      type: function
      function:
        name: calc_gsm8k_reward
        description: A tool for calculating the reward of gsm8k answers, one per answer
        parameters: {type: object, properties: {answer: {type: string, description: the answer}}, required: [answer]}
"""


def test_hint_budget_counts_the_tool_schemas_the_agent_loop_sends(tmp_path):
    # Issue 24, 4: the dataset's filter and the agent loop pass tools= to the chat template; the
    # budget check did not, so a hinted prompt with tools went over max_prompt_length.
    write_rows(tmp_path / "train.json")
    (tmp_path / "tools.yaml").write_text(TOOLS_YAML)
    widths = []

    def measuring(prompt_ids, row):
        widths.append(len(prompt_ids))
        return respond(prompt_ids, row)

    # Unhinted prompts are 7 tokens plus 30 of tool schema; hints of one and two solution steps add
    # 33 and 41, so at 75 the two-step hint must be shortened.
    cfg = config(tmp_path, max_prompt_length=75, tool_config_path=str(tmp_path / "tools.yaml"))
    trainer, sampler = trainer_for(cfg, policy=measuring)
    schema_words = len(json.dumps(sampler.data_source.tool_schemas).split())
    assert schema_words == 30
    trainer.fit()
    stats = sampler.gate.stats()
    assert stats["decisions"]["guide"] > 0 and stats["hints_shortened_to_fit"] > 0
    assert widths and max(widths) <= 75, max(widths)
    assert max(widths) > 8 + schema_words  # hinted prompts did go out


def rows_of(rows):
    """Rows as verl's dataset holds them: a datasets.Dataset (the real verl), or the stand-in's."""
    try:
        from datasets import Dataset
    except ImportError:
        from verl.utils.dataset.rl_dataset import _Rows
        return _Rows(rows)
    return Dataset.from_list(rows)


class WordProcessor:
    """A multimodal processor's text path: two ids per word, its own chat template."""

    def apply_chat_template(self, messages, tools=None, add_generation_prompt=False, tokenize=False, **kwargs):
        return " ".join(["<tools>"] * len(tools or []) + [m["content"] for m in messages])

    def __call__(self, text, images=None, videos=None, **kwargs):
        return {"input_ids": [[1, 1] * len(t.split()) for t in text]}


def test_hint_budget_counts_with_the_processor_when_there_is_one(tmp_path):
    # Issue 24, 4: with a processor verl's filter counts the processor's ids; the budget check
    # used the tokenizer's chat template.
    write_rows(tmp_path / "train.json")
    # The data config alone (no trainer), so that this runs on the real verl too.
    data = OmegaConf.create({"train_files": str(tmp_path / "train.json"), "train_batch_size": 4,
                             "max_prompt_length": 40, "filter_overlong_prompts": True, "shuffle": True, "seed": 7,
                             "custom_cls": {"path": "pkg://sparsegate.verl", "name": "SparsegateDataset"},
                             "sampler": {"class_path": "pkg://fake_verl", "class_name": "PluginGateSampler",
                                         "sparsegate": {"reference_key": "extra_info.solution"}}})
    dataset = create_rl_dataset(data.train_files, data, Tokenizer(), WordProcessor())
    prompt = dataset.sparsegate_prompt(0)
    fits = dataset.sparsegate_fits([0])
    for extra in (0, 5, 10, 20, 40):
        text = prompt["text"] + " w" * extra
        row = dataset.dataframe[0]
        row["prompt"][-1]["content"] = text
        verl_keeps = len(dataset.maybe_filter_out_long_prompts(rows_of([row]))) == 1
        assert fits(0, text) == verl_keeps, extra


def test_sparsegate_metrics_reach_verls_metrics_dict_each_step(tmp_path):
    # Issue 24, item 3: the plugin's counters never reached verl's logger.
    write_rows(tmp_path / "train.json")

    class Trainer(SparsegateMetrics, RayPPOTrainer):
        pass

    trainer, sampler = trainer_for(config(tmp_path, epochs=2), trainer_cls=Trainer)
    trainer.fit()
    assert len(trainer.logged_metrics) == 4
    for metrics in trainer.logged_metrics:
        decided = sum(metrics[f"sparsegate/decisions/{k}"] for k in ("keep", "guide", "drop", "defer"))
        rolled_out = sum(v for k, v in metrics.items() if k.startswith("sparsegate/hint_level/"))
        assert decided >= rolled_out == 4  # a batch of 4 rolled out; drops were replaced
        # Pass rates are of the step's unhinted groups (calibration is of the unhinted prediction),
        # absent in a step that rolled out only hinted prompts.
        unhinted = metrics["sparsegate/hint_level/0"] > 0
        assert ("sparsegate/observed_pass_rate" in metrics) == unhinted
        if unhinted:
            assert 0.0 <= metrics["sparsegate/observed_pass_rate"] <= 1.0
            assert 0.0 <= metrics["sparsegate/predicted_pass_rate"] <= 1.0
        assert metrics["sparsegate/scoring_seconds"] >= 0.0 and metrics["sparsegate/fail_open"] == 0
        assert all(isinstance(v, float) for k, v in metrics.items() if k.startswith("sparsegate/"))
    # Over the run, the per-step counts add up to the plugin's own totals.
    totals = sampler.gate.stats()["decisions"]
    for kind, total in totals.items():
        assert sum(m[f"sparsegate/decisions/{kind}"] for m in trainer.logged_metrics) == total


def test_sparsegate_metrics_under_the_dapo_recipe(tmp_path):
    from recipe.dapo.dapo_ray_trainer import RayDAPOTrainer

    class Trainer(SparsegateMetrics, RayDAPOTrainer):
        pass

    write_rows(tmp_path / "train.json")
    cfg = dapo_config(tmp_path, epochs=1, gen_batch_size=4)
    cfg.data.train_batch_size = 1
    trainer, sampler = trainer_for(cfg, trainer_cls=Trainer, policy=some_solved(),
                                   reward_fn=dapo_reward_fn(cfg))
    trainer.fit()
    assert trainer.logged_metrics
    assert all("sparsegate/observed_pass_rate" in m for m in trainer.logged_metrics)


def wordy(policy):
    """The policy with its failures three tokens long (a wrong answer rambles): each rollout's
    completion length then says which reward it must sit beside."""
    def respond_wordy(prompt_ids, row):
        tokens = policy(prompt_ids, row)
        return tokens if tokens == [RIGHT] else [WRONG] * 3
    return respond_wordy


def lengths_beside_rewards(gate):
    """Each observe's completion lengths, checked row by row against its rewards."""
    assert gate.observed
    for pid, rewards, lengths in gate.observed:
        assert lengths is not None, f"{pid} observed without completion lengths"
        assert lengths == [1.0 if r == 1.0 else 3.0 for r in rewards]


def test_completion_lengths_reach_the_plugin_beside_their_rewards(tmp_path):
    # Issue 23: signal_per_token learns what a rollout costs only from the lengths given to observe;
    # the sampler's update gave none. response_mask's row sums, in the rewards' row order.
    write_rows(tmp_path / "train.json")
    trainer, sampler = trainer_for(config(tmp_path, epochs=1), policy=wordy(respond))
    trainer.fit()
    lengths_beside_rewards(sampler.gate)
    # What the plugin learned: a prompt's rollouts cost between one and three tokens here.
    pid = sampler.gate.observed[0][0]
    decision = sampler.gate.plugin.decide([{"id": pid, "text": "?"}], [synthetic_features(pid)])[0]
    assert 1.0 <= decision.expected_completion_tokens <= 3.0


def test_completion_lengths_reach_the_plugin_from_the_dapo_reward_hook(tmp_path):
    from recipe.dapo.dapo_ray_trainer import RayDAPOTrainer
    write_rows(tmp_path / "train.json")
    cfg = dapo_config(tmp_path, epochs=1, gen_batch_size=4)
    cfg.data.train_batch_size = 2
    trainer, sampler = trainer_for(cfg, trainer_cls=RayDAPOTrainer, policy=wordy(some_solved()),
                                   reward_fn=dapo_reward_fn(cfg))
    trainer.fit()
    lengths_beside_rewards(sampler.gate)
