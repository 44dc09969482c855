"""sparsegate.verl inside verl's stand-in (stubs/verl, mirroring verl b178a3c): the real fit() step
order, _get_gen_batch's pop, the single-turn agent loop, save-before-update and the
StatefulDataLoader resume. Each test names the defect of issue 11 it guards against."""
import json

from verl.experimental.agent_loop import single_turn_agent_loop
from verl.trainer.main_ppo import create_rl_dataset, create_rl_sampler
from verl.trainer.ppo.ray_trainer import RayPPOTrainer, make_config
from verl.trainer.ppo.utils import Role

from sparsegate.filters import GroupFilter
from sparsegate.verl import STEP_CHECKPOINT

KINDS = ["easy", "hard", "impossible", "easy", "hard", "easy", "impossible", "hard"]
HINT_MARK = "<partial_solution>"  # in the default hint template
RIGHT, WRONG = 7, 8  # the response token that says whether the fake policy solved it


class Tokenizer:
    """What the dataset's overlong filter and the agent loop call: one token per word."""
    pad_token_id = 0

    def apply_chat_template(self, messages, tools=None, add_generation_prompt=False, tokenize=True, **kwargs):
        words = " ".join(m["content"] for m in messages).split()
        return [1 + len(w) % 50 for w in words] + ([2] if add_generation_prompt else [])


def write_rows(path, solution_words=6):
    with open(path, "w") as f:
        for i, kind in enumerate(KINDS):
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


def trainer_for(cfg, trainer_cls=RayPPOTrainer, policy=respond):
    """What verl's TaskRunner does: dataset, sampler, trainer, in that order."""
    tokenizer = Tokenizer()
    dataset = create_rl_dataset(cfg.data.train_files, cfg.data, tokenizer, None)
    sampler = create_rl_sampler(cfg.data, dataset)
    generate = lambda chunk: single_turn_agent_loop(chunk, tokenizer, cfg, respond=policy, reward_loop=reward_loop)
    trainer = trainer_cls(cfg, tokenizer, {Role.ActorRollout: generate}, None, train_dataset=dataset,
                          train_sampler=sampler)
    trainer.init_workers()
    return trainer, sampler


def recording(gate):
    """Every observe() the gate gets, as (prompt id, rewards)."""
    seen = []
    observe = gate.observe
    gate.observe = lambda prompt_id, rewards: (seen.append((prompt_id, list(rewards))), observe(prompt_id, rewards))
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


def test_dapo_filter_reads_ids_from_the_batch_the_dapo_trainer_has(tmp_path):
    # Defect 2: the DAPO trainer pops the same columns; filter_verl looked for sparsegate_id or
    # index at the top level and raised KeyError.
    from recipe.dapo import dapo_ray_trainer
    write_rows(tmp_path / "train.json")
    cfg = config(tmp_path, epochs=1)
    cfg.algorithm.filter_groups = {"enable": True, "metric": "acc", "max_num_gen_batches": 0}
    trainer, sampler = trainer_for(cfg, trainer_cls=dapo_ray_trainer.RayDAPOTrainer)
    batches = []  # the generation batches as the filter sees them (extract_reward runs just before it)
    original = dapo_ray_trainer.extract_reward
    dapo_ray_trainer.extract_reward = lambda batch: (batches.append(batch), original(batch))[1]
    try:
        trainer.fit()
    finally:
        dapo_ray_trainer.extract_reward = original
    assert batches
    seen = recording(sampler.gate)
    group_filter = GroupFilter(sampler.gate)
    for batch, dapo_kept_uids in zip(batches, trainer.filter_groups_log):
        kept = group_filter.filter_verl(batch, metric="acc")
        assert {batch.non_tensor_batch["uid"][i] for i in kept} == set(dapo_kept_uids)
    assert seen and {pid for pid, _ in seen} <= decided_ids(sampler.gate)


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
