"""Stand-in for openrlhf/utils/agent.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7: the single-turn executor and its reward fetch.

``SingleTurnAgentExecutor(remote_rm_url)``: ``execute(...)`` tokenizes the (already templated)
prompt, generates one continuation through ``llm_engine.generate``, and returns the response dict
with the real keys: prompt, label, images, mm_train_inputs, observation_tokens, action_ranges,
rollout_log_probs, truncated, reward, scores, extra_logs. "reward" and "scores" stay None unless
reward endpoints are configured (--reward.remote_url); then the reward is fetched for this one
sample right after generation, as a one-query request: rewards_info = {"rewards", "scores",
"extra_logs"} is the (first) server's JSON answer, passed on as it is; scores falls back to
rewards. OpenRLHF's own server (cli/serve_rm.py) answers lists, one value per query, so with it
"reward" and "scores" are one-element lists. A failed fetch (the real HTTP path retries 5 times,
then raises RuntimeError) is caught and only logged: the response goes on with reward=None and scores=None.
The real methods are async; these are plain functions. The multi-turn executor is not mirrored.
"""
import logging
from abc import ABC, abstractmethod

logger = logging.getLogger(__name__)


class AgentExecutorBase(ABC):
    @abstractmethod
    def execute(self, prompt, label, sampling_params, max_length: int, hf_tokenizer, llm_engine, images=None):
        raise NotImplementedError


class SingleTurnAgentExecutor(AgentExecutorBase):
    def __init__(self, remote_rm_url=None):
        endpoints = [remote_rm_url] if isinstance(remote_rm_url, str) else remote_rm_url
        self.reward_endpoints = endpoints or []

    def execute(self, prompt, label, sampling_params, max_length: int, hf_tokenizer, llm_engine, images=None):
        prompt_ids = hf_tokenizer(text=prompt, add_special_tokens=False, return_tensors="pt")["input_ids"][0].tolist()
        max_tokens = sampling_params.max_tokens or max(1, max_length - len(prompt_ids))
        prompt_ids = prompt_ids[-max(max_length - max_tokens, 0):] if len(prompt_ids) > max_length - max_tokens else prompt_ids

        output = llm_engine.generate(prompt_ids, sampling_params)
        action_ids = output.token_ids[:max_tokens]
        observation = prompt_ids + action_ids
        response = {
            "prompt": prompt,
            "label": label,
            "images": images,
            "mm_train_inputs": None,
            "observation_tokens": observation,
            "action_ranges": [(len(prompt_ids), len(observation))],
            "rollout_log_probs": None,
            "truncated": len(output.token_ids) >= max_tokens,
            "reward": None,
            "scores": None,
            "extra_logs": {},
        }
        if self.reward_endpoints:
            try:
                query = hf_tokenizer.decode(observation, skip_special_tokens=False)
                self._answer = output.reward
                infos = self._fetch_rewards_via_http([query], [prompt], [label])
                info = infos[0] if infos else None
                if info:
                    scores = info.get("scores")
                    if scores is None:
                        scores = info.get("rewards")
                    response.update(reward=info.get("rewards"), scores=scores, extra_logs=info.get("extra_logs") or {})
            except Exception as e:
                logger.info(f"[SingleTurnExecutor] Failed to fetch reward from remote RM: {e}")
        return response

    def _fetch_rewards_via_http(self, queries_list, prompts_list, labels_list):
        """The reward server's answer for this sample, from what the test's respond() gave: a number
        is answered as OpenRLHF's own server (openrlhf/cli/serve_rm.py, ``get_reward``) answers a
        request: one value per query in a list, ``{"rewards": [r], "scores": [r], "extra_logs":
        {"dummy_scores": [r]}}``; a rewards_info dict is answered as is (a custom server); None is a
        server that keeps failing (raises, as the real one does after its 5 tries)."""
        _given = getattr(self, "_answer", None)
        if _given is None:
            raise RuntimeError("Request error for 5 times, returning None. Please check the API server.")
        if isinstance(_given, dict):
            return [_given]
        rewards = [float(_given)]  # one query per request: one entry
        return [{"rewards": rewards, "scores": rewards, "extra_logs": {"dummy_scores": rewards}}]
