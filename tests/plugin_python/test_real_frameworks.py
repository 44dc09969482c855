"""Direct tests of the adapters against the real framework functions; they run only with
SPARSEGATE_REAL_FRAMEWORKS (scripts/frameworks/run_real.sh), and are skipped on the stand-ins."""
import json
import os

import pytest
from char_tokenizer import CharTokenizer
from reward_server import RewardServer

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


# --- OpenRLHF: the generator, the agent executor and the reward server's answer ------------------

def unwrapped(actor):
    """The class under a @ray.remote (real_fakes/ray keeps it as _target)."""
    return getattr(actor, "_target", actor)


def test_openrlhf_generator_observes_the_real_executor_and_reward_server(monkeypatch):
    # Issue 24, item 1, on the real code: OpenRLHF's SamplesGenerator (_generate_vllm,
    # _dispatch_prompts_to_vllm, _process_response_into_experience), RolloutRayActor's
    # generate_responses, SingleTurnAgentExecutor with its aiohttp client against a server that
    # answers as serve_rm.py does. Faked: the vLLM engine's token generation (GPU) and vLLM's
    # SamplingParams (a GPU engine's package; here a record of its arguments).
    from types import SimpleNamespace

    import ray
    import torch
    from openrlhf.trainer.ppo_utils import samples_generator
    from openrlhf.trainer.ray import vllm_engine
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    from fakes import PluginGate
    from sparsegate import openrlhf as adapter
    from sparsegate._prompts import stable_id

    kinds = ["easy", "impossible", "easy", "impossible"]
    prompts = [f"Problem {i} ({kind}): compute {i} * 3." for i, kind in enumerate(kinds)]
    tokenizer = CharTokenizer()

    class Engine:
        """In place of the vLLM engine actor: generates "right" for easy prompts, "wrong" else."""
        generate_responses = unwrapped(vllm_engine.RolloutRayActor).generate_responses  # the real one

        def __init__(self, url):
            self.executor = SingleTurnAgentExecutor(url)  # what RolloutRayActor.__init__ builds

        async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
            prompt = tokenizer.decode(prompt_token_ids)
            requests.append(prompt)
            text = " right" if "(easy)" in prompt else " wrong"
            return SimpleNamespace(outputs=[SimpleNamespace(token_ids=[ord(c) for c in text], text=text,
                                                            finish_reason="stop", logprobs=None)])

        def get_num_unfinished_requests(self):
            return 0

    monkeypatch.setattr(samples_generator, "SamplingParams", lambda **kwargs: SimpleNamespace(**kwargs))
    requests = []
    server = RewardServer(lambda query: 1.0 if query.endswith(" right") else 0.0)
    gate = PluginGate(no_reference_quarantine_after=2, quarantine_epochs=100)
    adapter.install(gate)
    try:
        engine = ray.remote(Engine).remote(server.url)  # an actor handle, as OpenRLHF holds its engines
        # The CLI's names (cli/train_ppo_ray.py); 2 prompts a step, 3 samples each, no filtering.
        args = SimpleNamespace(rollout=SimpleNamespace(batch_size=2, n_samples_per_prompt=3,
                                                       vllm_generate_batch_size=None),
                               vllm=SimpleNamespace(enable_sleep=False),
                               algo=SimpleNamespace(dynamic_filtering_enable=False, dynamic_filtering_range=(0.0, 1.0),
                                                    advantage=SimpleNamespace(is_correction_enable=False)))
        loader = [(None, prompts[i:i + 2], [str(i)] * 2, [None, None]) for i in (0, 2)]  # PromptDataset's collate
        generator = samples_generator.SamplesGenerator(SimpleNamespace(args=args), loader, None, tokenizer,
                                                       [engine])
        assert isinstance(generator, adapter.SparsegateSamplesGenerator)
        samples, _, consumed, _ = generator.generate_samples(max_len=256, max_new_tokens=16, n_samples_per_prompt=3)
    finally:
        adapter.uninstall()
        server.close()
    assert len(requests) == 2 * 3 and consumed == 2
    # The executor handed on the server's one-element lists; every group was observed with them.
    assert all(isinstance(s.scores, torch.Tensor) for s in samples)
    assert generator.sg_counts["failed_rewards"] == 0
    stats = gate.stats()
    assert stats["observed_groups"] == 2 and stats["unknown_prompt_observations"] == 0
    assert stats["all_pass_groups"] == 1 and stats["zero_pass_groups"] == 1
    assert {pid for pid, _, _ in gate.observed} == {stable_id(p) for p in prompts[:2]}
    assert all(lengths == [6.0] * 3 for _, _, lengths in gate.observed)  # " right" / " wrong"


# --- TRL: the prompt length the adapter budgets is the one _tokenize_prompts produces -------------

def test_trl_tokenize_prompts_counts_what_the_adapter_budgets():
    # Issue 24, item 1 (defect 4), on the real code: the adapter's count of a (hinted) prompt is the
    # length of what GRPOTrainer._tokenize_prompts (trl f2cd577) hands to generation, with and
    # without tools, through the same processing class.
    from trl import GRPOTrainer

    from simmodels import ByteTokenizer
    from sparsegate._prompts import hinted_prompt, prompt_text
    from sparsegate.trl import SparsegateGRPOTrainer

    def calculator(expression: str) -> str:
        """Evaluates an arithmetic expression.

        Args:
            expression: the expression, e.g. "2 + 2".
        """
        return expression

    prompt = [{"role": "system", "content": "Think."}, {"role": "user", "content": "What is 2 + 2?"}]
    hinted = hinted_prompt(prompt, prompt_text(prompt) + "\n<partial_solution>\nAdd.\n</partial_solution>")
    for tools in (None, [calculator]):
        # The attributes _tokenize_prompts reads, as GRPOTrainer.__init__ sets them for a text model
        # without environments; no model is needed to tokenize.
        trainer = object.__new__(SparsegateGRPOTrainer)
        trainer.processing_class, trainer.tools, trainer.chat_template = ByteTokenizer(), tools, None
        trainer.chat_template_kwargs, trainer._is_vlm, trainer.environment_factories = {}, False, None
        for chat in (prompt, hinted):
            ids, images, fields = GRPOTrainer._tokenize_prompts(trainer, [chat])
            assert images is None and fields == {}
            assert trainer._prompt_tokens(chat, trainer._prompt_tools({"prompt": chat})) == len(ids[0])


# --- verl: one step's data path, from the loader to the plugin, on verl's own functions ----------

RIGHT, WRONG = 7, 8  # the response token that says whether the fake policy solved it

REWARD_FILE = '''
def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    return 1.0 if solution_str == "right" else 0.0
'''


class DecodingTokenizer(WordTokenizer):
    """WordTokenizer, plus the decode verl's reward managers call on the response ids."""
    eos_token = "<eos>"

    def decode(self, ids, skip_special_tokens=True):
        return " ".join({RIGHT: "right", WRONG: "wrong"}.get(int(i), "w") for i in ids)


def verl_step(tmp_path, reward_manager, solved, n=2):
    """One step of RayPPOTrainer.fit (b178a3c, 1364-1480) up to the rewards: the sampler's batch
    through verl's collate_fn, DataProto.from_single_dict, a uid per prompt, _get_gen_batch,
    repeat and union, then verl's own load_reward_manager / compute_reward with a custom reward
    file. Faked: the rollout (GPU engines behind the agent loop), as n one-token responses per
    prompt; and the dataloader is torch's (verl's StatefulDataLoader comes from torchdata, not
    installed), with verl's sampler and collate_fn."""
    import uuid
    from types import SimpleNamespace

    import numpy as np
    import torch
    from omegaconf import OmegaConf
    from verl import DataProto
    from verl.trainer.main_ppo import create_rl_dataset, create_rl_sampler
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer
    from verl.trainer.ppo.reward import compute_reward, load_reward_manager
    from verl.utils.dataset.rl_dataset import collate_fn

    write_rows(tmp_path / "train.json")
    (tmp_path / "reward.py").write_text(REWARD_FILE)
    cfg = verl_data_config(tmp_path)
    cfg.reward_fn_key = "data_source"
    tokenizer = DecodingTokenizer()
    dataset = create_rl_dataset([cfg.train_files], cfg, tokenizer, None)
    sampler = create_rl_sampler(cfg, dataset)
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.train_batch_size, sampler=sampler,
                                         collate_fn=collate_fn, drop_last=True)
    batch = DataProto.from_single_dict(next(iter(loader)))
    batch.non_tensor_batch["uid"] = np.array([str(uuid.uuid4()) for _ in range(len(batch))], dtype=object)
    gen_batch = RayPPOTrainer._get_gen_batch(SimpleNamespace(async_rollout_mode=True), batch)
    gen_batch = gen_batch.repeat(repeat_times=n, interleave=True)

    # The rollout: prompts left-padded, one response token each, as the agent loop returns them.
    prompts = [tokenizer.apply_chat_template(list(m), add_generation_prompt=True) for m in gen_batch.non_tensor_batch["raw_prompt"]]
    width = max(len(p) for p in prompts)
    prompt_ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    responses = torch.tensor([[RIGHT if solved(m[-1]["content"], k % n) else WRONG]
                              for k, m in enumerate(gen_batch.non_tensor_batch["raw_prompt"])])
    attention = torch.cat([(prompt_ids != 0).long(), torch.ones_like(responses)], dim=1)
    output = DataProto.from_dict(tensors={"prompts": prompt_ids, "responses": responses,
                                          "input_ids": torch.cat([prompt_ids, responses], dim=1),
                                          "attention_mask": attention, "response_mask": torch.ones_like(responses)})
    batch = batch.repeat(repeat_times=n, interleave=True).union(output)

    config = OmegaConf.create({"data": {"reward_fn_key": "data_source"}, "reward_model": {},
                               "custom_reward_function": {"path": str(tmp_path / "reward.py"), "name": "compute_score"},
                               "reward_manager": reward_manager})
    overlong = OmegaConf.create({"enable": False, "len": 0, "penalty_factor": 0.0, "log": False})
    extra = {"max_resp_len": 4, "overlong_buffer_cfg": overlong} if "DAPO" in reward_manager["name"] else {}
    reward_fn = load_reward_manager(config, tokenizer, 0, **extra)
    reward_tensor, extra_infos = compute_reward(batch, reward_fn)
    batch.batch["token_level_scores"] = reward_tensor
    batch.non_tensor_batch.update({k: np.array(v) for k, v in extra_infos.items()})
    return sampler, batch


def solved_when_even(text, rollout):
    """Even problems always solved, odd ones never: all-pass and all-fail groups."""
    return int(text.split()[1].rstrip(":")) % 2 == 0


def test_verl_step_rewards_reach_the_sampler_through_update(tmp_path):
    # verl's PPO trainer path: rewards from verl's naive reward manager, then sampler.update(batch)
    # as fit calls it at the end of the step.
    sampler, batch = verl_step(tmp_path, {"source": "register", "name": "naive"}, solved_when_even)
    sampler.update(batch)
    stats = sampler.gate.stats()
    ids = {str(i["sparsegate_id"]) for i in batch.non_tensor_batch["extra_info"]}
    assert stats["observed_groups"] == 4 == len(ids) and stats["unknown_prompt_observations"] == 0
    assert {pid for pid, _, _ in sampler.gate.observed} == ids
    assert stats["all_pass_groups"] + stats["zero_pass_groups"] == 4 and stats["all_pass_groups"] > 0


def test_verl_dapo_reward_hook_observes_every_group_before_the_filter(tmp_path):
    # Issue 24, item 4, on the real code: the adapter's DAPORewardManager subclass, loaded the way
    # the DAPO recipe loads its reward manager (reward_manager.source: importlib), observes each
    # group once when verl's compute_reward calls it; a later update() observes nothing twice.
    manager = {"source": "importlib", "name": "SparsegateDAPORewardManager",
               "module": {"path": "pkg://sparsegate.verl", "name": "custom_reward_manager"}}
    sampler, batch = verl_step(tmp_path, manager, lambda text, rollout: rollout == 0 or solved_when_even(text, 1))
    stats = sampler.gate.stats()
    assert stats["observed_groups"] == 4 and stats["unknown_prompt_observations"] == 0
    assert all(sorted(rewards) in ([0.0, 1.0], [1.0, 1.0]) for _, rewards, _ in sampler.gate.observed)
    sampler.update(batch)
    assert sampler.gate.stats()["observed_groups"] == 4
