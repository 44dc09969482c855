"""Stand-in for openrlhf/trainer/ray/vllm_engine.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7.

The model is a callable. ``create_vllm_engines(num_engines, ..., pretrain, ...)`` takes
``pretrain=respond``, where ``respond(prompt, label, n)`` answers the n samples of one prompt as a
list of ``(response_text, reward)``; reward is a float, a rewards_info dict ({"rewards",
"scores", "extra_logs"}) or None. It is what the reward server would answer for that sample:
used only with remote_rm_url (None = the fetch fails), ignored without (reward-model path).
An exception raised by respond surfaces at ray.get of that prompt's ref.
Each engine is an ActorHandle (openrlhf._fake_ray) of a RolloutRayActor, as real engines are Ray
actor handles: ``engine.generate_responses.remote(prompt=..., label=..., sampling_params=...,
max_length=..., hf_tokenizer=..., num_samples=n, images=...)`` -> one ref answering the n response
dicts (SingleTurnAgentExecutor, once per sample). An optional ``respond.latency = lambda prompt:
seconds`` (or RolloutRayActor's ``latency=`` keyword) orders completions for ray.wait.
"""
from types import SimpleNamespace
from typing import Any, List, Optional

from openrlhf import _fake_ray as ray
from openrlhf.utils.agent import SingleTurnAgentExecutor


class RolloutRayActor:
    def __init__(
        self,
        *args,
        bundle_indices: list = None,
        agent_func_path: Optional[str] = None,
        remote_rm_url: Optional[str] = None,
        mm_pad_token_ids: Optional[set] = None,
        **kwargs,
    ):
        if agent_func_path:
            raise NotImplementedError("custom agent executors are not mirrored")
        self.executor = SingleTurnAgentExecutor(remote_rm_url)
        self.respond = kwargs.pop("model", None) or (args[0] if args else None)
        self._latency = kwargs.pop("latency", None)
        self.kwargs = kwargs
        self.sleeping = False
        self.calls = []  # (prompt, num_samples) per generate_responses call, for tests
        self._answers = iter(())

    def latency(self, method, **kwargs):
        if method == "generate_responses" and self._latency is not None:
            return float(self._latency(kwargs.get("prompt")))
        return 0.0

    def sleep(self, level=1):
        self.sleeping = True

    def wake_up(self, tags=None):
        self.sleeping = False

    def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        text, reward = next(self._answers)
        return SimpleNamespace(token_ids=[ord(c) for c in text], text=text, reward=reward)

    def get_num_unfinished_requests(self) -> int:
        return 0

    def generate_responses(
        self,
        prompt: str,
        label: str,
        sampling_params,
        max_length: int,
        hf_tokenizer,
        num_samples: int = 1,
        images=None,
    ):
        from openrlhf.utils.utils import CharTokenizer

        self.calls.append((prompt, num_samples))
        answers = list(self.respond(prompt, label, num_samples))
        assert len(answers) == num_samples, f"respond answered {len(answers)} samples, expected {num_samples}"
        self._answers = iter(answers)
        return [
            self.executor.execute(prompt=prompt, label=label, sampling_params=sampling_params, max_length=max_length,
                                  hf_tokenizer=hf_tokenizer or CharTokenizer(), llm_engine=self, images=images)
            for _ in range(num_samples)
        ]


def create_vllm_engines(
    num_engines: int,
    tensor_parallel_size: int,
    pretrain: str,
    seed: int,
    full_determinism: bool,
    enable_prefix_caching: bool,
    enforce_eager: bool,
    max_model_len: int,
    shared_pg=None,
    gpu_memory_utilization=None,
    vllm_enable_sleep=False,
    logprobs_mode=None,
    agent_func_path: Optional[str] = None,
    remote_rm_url: Optional[str] = None,
    max_images_per_prompt: int = 0,
):
    engines = [ray.ActorHandle(RolloutRayActor(model=pretrain, seed=seed + i, agent_func_path=agent_func_path,
                                               remote_rm_url=remote_rm_url, latency=getattr(pretrain, "latency", None)))
               for i in range(num_engines)]
    if vllm_enable_sleep:
        batch_vllm_engine_call(engines, "sleep")
    return engines


def batch_vllm_engine_call(engines: List[Any], method_name: str, *args, rank_0_only: bool = True, **kwargs):
    return ray.get([getattr(engine, method_name).remote(*args, **kwargs) for engine in engines])
