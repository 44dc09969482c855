"""Direct tests of the adapters against the real framework functions; they run only with
SPARSEGATE_REAL_FRAMEWORKS (scripts/frameworks/run_real.sh), and are skipped on the stand-ins."""
import json
import os

import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("SPARSEGATE_REAL_FRAMEWORKS"),
                                reason="needs the real framework source (SPARSEGATE_REAL_FRAMEWORKS)")


class WordTokenizer:
    """What verl's overlong filter calls: one token per word (no real tokenizer is installed)."""
    pad_token_id = 0

    def apply_chat_template(self, messages, tools=None, add_generation_prompt=False, tokenize=True, **kwargs):
        words = (json.dumps(tools).split() if tools else []) + " ".join(m["content"] for m in messages).split()
        return [1 + len(w) % 50 for w in words] + ([2] if add_generation_prompt else [])


def write_rows(path, n=8):
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"data_source": "synthetic",
                                "prompt": [{"role": "user", "content": f"Problem {i}: compute {i} * 7."}],
                                "reward_model": {"ground_truth": str(i * 7)},
                                "extra_info": {"index": i, "solution": "Step 1: x\nStep 2: y"}}) + "\n")


def verl_data_config(tmp_path):
    from omegaconf import OmegaConf
    return OmegaConf.create({
        "train_files": str(tmp_path / "train.json"), "train_batch_size": 4, "dataloader_num_workers": 0,
        "max_prompt_length": 64, "shuffle": True, "seed": 7, "filter_overlong_prompts_workers": 1,
        "custom_cls": {"path": "pkg://sparsegate.verl", "name": "SparsegateDataset"},
        "sampler": {"class_path": "pkg://fake_verl", "class_name": "PluginGateSampler",
                    "sparsegate": {"reference_key": "extra_info.solution", "id_key": "extra_info.index"}}})


def test_verl_dataset_class_and_sampler_from_a_real_config(tmp_path):
    # verl's own get_dataset_class / RLHFDataset / load_extern_object, as create_rl_dataset and
    # create_rl_sampler's curriculum branch call them.
    from verl.experimental.dataset.sampler import AbstractSampler
    from verl.utils.dataset.rl_dataset import get_dataset_class
    from verl.utils.import_utils import load_extern_object
    write_rows(tmp_path / "train.json")
    cfg = verl_data_config(tmp_path)
    dataset_cls = get_dataset_class(cfg)
    dataset = dataset_cls(data_files=[cfg.train_files], tokenizer=WordTokenizer(), processor=None, config=cfg,
                          max_samples=-1)
    assert len(dataset) == 8
    sampler = load_extern_object(cfg.sampler.class_path, cfg.sampler.class_name)(data_source=dataset,
                                                                                  data_config=cfg)
    assert isinstance(sampler, AbstractSampler)
    first = [next(iter(sampler)) for _ in range(1)]
    row = dataset[first[0]]
    assert row["extra_info"]["sparsegate_id"] == str(row["extra_info"]["index"])


def test_verl_create_rl_sampler_and_dataset(tmp_path):
    from verl.trainer.main_ppo import create_rl_dataset, create_rl_sampler
    write_rows(tmp_path / "train.json")
    cfg = verl_data_config(tmp_path)
    dataset = create_rl_dataset([cfg.train_files], cfg, WordTokenizer(), None)
    sampler = create_rl_sampler(cfg, dataset)
    assert type(sampler).__name__ == "PluginGateSampler"


def test_trl_grpo_trainer_imports_with_the_adapter():
    from trl import GRPOTrainer  # noqa: F401
    import sparsegate.trl  # noqa: F401


def test_openrlhf_serve_rm_answer_is_read_by_the_adapter():
    # openrlhf/cli/serve_rm.py (3c3be62, line 133) answers {"rewards": r, "scores": r, ...} with r the
    # list get_reward(queries) returns, one value per query; the agent sends one query per sample.
    import openrlhf.cli.serve_rm as serve_rm  # the real module must import
    from sparsegate.openrlhf import _score
    source = open(serve_rm.__file__).read()
    assert 'result = {"rewards": rewards, "scores": rewards' in source  # the answer format tested below
    rewards = [0.75]
    answer = {"rewards": rewards, "scores": rewards, "extra_logs": {"dummy_scores": rewards}}
    assert _score(answer) == 0.75
