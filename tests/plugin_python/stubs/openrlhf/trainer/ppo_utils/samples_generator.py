"""Stand-in for openrlhf/trainer/ppo_utils/samples_generator.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7.

Mirrored as the real code does it (read it there, lines cited in /work/facts/openrlhf.md):
- ``_collect_prompt_batch(dataloader_iter, num_prompts)`` draws up to num_prompts from
  dataloader batches (datasources, prompts, labels, images) and says whether the iterator ran dry.
- ``generate_samples(**generate_kwargs) -> (rollout_samples, filter_pass_rate, prompts_consumed,
  exhausted)``: one _generate_vllm of vllm_generate_batch_size (or rollout.batch_size) prompts into
  a sample buffer, then at most batch_size * n_samples_per_prompt samples out. A drained
  dataloader sets _dataloader_iter to None; the next call starts a new iterator and an empty
  buffer. filter_pass_rate = len(samples) / prompts_consumed * 100 with dynamic filtering.
- ``_generate_vllm``: one dispatch of all drawn prompts; responses are taken in completion order
  (ray.wait, one ref at a time), each ref's responses become Experiences; with dynamic filtering a
  group whose scores are all set and whose mean is not strictly inside
  algo.dynamic_filtering_range is dropped, and ONE replacement prompt is drawn from the same
  iterator and dispatched through self._dispatch_prompts_to_vllm; if none is left, the pending
  refs are cancelled and ([], prompts_consumed, True) is returned (accepted samples discarded).
- ``_dispatch_prompts_to_vllm(prompts, labels, *, images=None, **generate_kwargs)``: one
  generate_responses ref per prompt, n_samples_per_prompt (generate_kwargs first, else
  args.rollout) responses each, spread over engines by pending load.
- ``_process_response_into_experience(response, **generate_kwargs)``: the response dict into an
  Experience of batch 1 (rewards/scores tensors or None; info["reward"]/info["score"] when set).
"""
import heapq
import logging
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch

from openrlhf import _fake_ray as ray
from openrlhf.trainer.ppo_utils.experience import Experience
from openrlhf.trainer.ray.vllm_engine import batch_vllm_engine_call

logger = logging.getLogger(__name__)


@dataclass
class SamplingParams:
    """vllm.SamplingParams, the fields OpenRLHF sets."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    max_tokens: Optional[int] = None
    min_tokens: int = 1
    skip_special_tokens: bool = False
    logprobs: Optional[int] = None


def _collect_prompt_batch(dataloader_iter, num_prompts: int):
    prompts, labels, images = [], [], []
    exhausted = False
    while len(prompts) < num_prompts:
        try:
            _, batch_prompts, batch_labels, batch_images = next(dataloader_iter)
        except StopIteration:
            exhausted = True
            break
        room = num_prompts - len(prompts)
        prompts += batch_prompts[:room]
        labels += batch_labels[:room]
        images += batch_images[:room]
    return prompts, labels, images, exhausted


class SamplesGenerator:
    def __init__(
        self,
        strategy,
        prompts_dataloader,
        eval_dataloader,
        tokenizer,
        vllm_engines: List,
    ):
        self.strategy = strategy
        self.args = strategy.args
        self.tokenizer = tokenizer
        self.vllm_engines = vllm_engines or []
        self.prompts_dataloader = prompts_dataloader
        self.eval_dataloader = eval_dataloader

    @torch.no_grad()
    def generate_eval_samples(self, **generate_kwargs) -> List[Experience]:
        if getattr(self, "_eval_dataloader_iter", None) is None:
            self._eval_dataloader_iter = iter(self.eval_dataloader)
        if self.args.vllm.enable_sleep:
            batch_vllm_engine_call(self.vllm_engines, "wake_up")
        collected: List[Experience] = []
        try:
            while True:
                experiences, _, exhausted = self._generate_vllm(
                    dataloader_iter=self._eval_dataloader_iter,
                    num_prompts=self.args.rollout.batch_size,
                    dynamic_filtering=False,
                    **generate_kwargs,
                )
                collected += experiences
                if exhausted:
                    break
        finally:
            if self.args.vllm.enable_sleep:
                batch_vllm_engine_call(self.vllm_engines, "sleep")
            self._eval_dataloader_iter = None
        return collected

    @torch.no_grad()
    def generate_samples(self, **generate_kwargs) -> Tuple[List[Experience], Optional[float], int, bool]:
        if getattr(self, "_dataloader_iter", None) is None:
            self._dataloader_iter = iter(self.prompts_dataloader)
            self._sample_buffer: List[Experience] = []

        chunk_size = self.args.rollout.batch_size * self.args.rollout.n_samples_per_prompt
        prompts_consumed, filter_pass_rate = 0, None
        if len(self._sample_buffer) < chunk_size and self._dataloader_iter is not None:
            if self.args.vllm.enable_sleep:
                batch_vllm_engine_call(self.vllm_engines, "wake_up")
            num_prompts = getattr(self.args.rollout, "vllm_generate_batch_size", None) or self.args.rollout.batch_size
            experiences, prompts_consumed, dl_exhausted = self._generate_vllm(
                dataloader_iter=self._dataloader_iter,
                num_prompts=num_prompts,
                dynamic_filtering=self.args.algo.dynamic_filtering_enable,
                **generate_kwargs,
            )
            if self.args.vllm.enable_sleep:
                batch_vllm_engine_call(self.vllm_engines, "sleep")
            if self.args.algo.dynamic_filtering_enable and prompts_consumed:
                filter_pass_rate = len(experiences) / prompts_consumed * 100
            self._sample_buffer += experiences
            if dl_exhausted:
                self._dataloader_iter = None

        rollout_samples = self._sample_buffer[:chunk_size]
        self._sample_buffer = self._sample_buffer[chunk_size:]
        exhausted = self._dataloader_iter is None and not self._sample_buffer
        return rollout_samples, filter_pass_rate, prompts_consumed, exhausted

    def _generate_vllm(
        self, dataloader_iter, num_prompts: int, dynamic_filtering, **generate_kwargs
    ) -> Tuple[List[Experience], int, bool]:
        accepted: List[Experience] = []
        prompts, labels, images, exhausted = _collect_prompt_batch(dataloader_iter, num_prompts)
        if not prompts:
            return [], 0, True

        pending = self._dispatch_prompts_to_vllm(prompts, labels, images=images, **generate_kwargs)
        prompts_consumed = len(prompts)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=10.0)
            for ref in ready:
                experiences = [self._process_response_into_experience(r, **generate_kwargs) for r in ray.get(ref)]
                if dynamic_filtering and all(e.scores is not None for e in experiences):
                    scores = [e.scores[0].item() for e in experiences]
                    low, high = self.args.algo.dynamic_filtering_range
                    if not (low < sum(scores) / len(scores) < high):
                        experiences = []
                if experiences:
                    accepted += experiences
                elif dynamic_filtering:
                    new_prompts, new_labels, new_images, exhausted = _collect_prompt_batch(dataloader_iter, 1)
                    prompts_consumed += len(new_prompts)
                    if exhausted and not new_prompts:
                        for other in pending:
                            ray.cancel(other)
                        return [], prompts_consumed, True
                    if new_prompts:
                        pending += self._dispatch_prompts_to_vllm(new_prompts, new_labels, images=new_images,
                                                                  **generate_kwargs)
        return accepted, prompts_consumed, exhausted

    def _dispatch_prompts_to_vllm(
        self, prompts: List[str], labels: List[str], *, images: List = None, **generate_kwargs
    ) -> List:
        sampling_params = SamplingParams(
            temperature=generate_kwargs.get("temperature", 1.0),
            top_p=generate_kwargs.get("top_p", 1.0),
            top_k=generate_kwargs.get("top_k", -1),
            max_tokens=generate_kwargs.get("max_new_tokens"),
            min_tokens=generate_kwargs.get("min_new_tokens", 1),
            skip_special_tokens=generate_kwargs.get("skip_special_tokens", False),
            logprobs=1 if self.args.algo.advantage.is_correction_enable else None,
        )
        max_length = generate_kwargs.get("max_len", 2048)
        n_samples = generate_kwargs.get("n_samples_per_prompt", self.args.rollout.n_samples_per_prompt)

        loads = ray.get([engine.get_num_unfinished_requests.remote() for engine in self.vllm_engines])
        heap = [(load, i) for i, load in enumerate(loads)]
        heapq.heapify(heap)
        if images is None:
            images = [None] * len(prompts)
        refs = []
        for prompt, label, image in zip(prompts, labels, images):
            load, i = heapq.heappop(heap)
            heapq.heappush(heap, (load + n_samples, i))
            refs.append(self.vllm_engines[i].generate_responses.remote(
                prompt=prompt, label=label, sampling_params=sampling_params, max_length=max_length,
                hf_tokenizer=self.tokenizer, num_samples=n_samples, images=image))
        return refs

    def _process_response_into_experience(self, response, **generate_kwargs) -> Experience:
        max_len = generate_kwargs.get("max_len", 2048)
        tokens = list(response["observation_tokens"])
        reward, score = response.get("reward", None), response.get("scores", None)

        sequences = torch.tensor(tokens, dtype=torch.long)
        attention_mask = torch.ones(len(tokens), dtype=torch.long)
        action_mask = torch.zeros_like(attention_mask)
        for start, end in response["action_ranges"]:
            action_mask[start:end] = 1
        sequences, attention_mask, action_mask = sequences[:max_len], attention_mask[:max_len], action_mask[1:max_len]
        acted = torch.where(action_mask)[0]
        response_length = (acted[-1] - acted[0] + 1).item() if len(acted) else 0
        total_length = attention_mask.float().sum()

        info = {"response_clip_ratio": torch.tensor([bool(total_length >= max_len)])}
        if reward is not None:
            info["reward"] = torch.tensor([reward])
        if score is not None:
            info["score"] = torch.tensor([score])
        for key, value in response.get("extra_logs", {}).items():
            info[key] = torch.tensor([value.flatten()[0].item() if isinstance(value, torch.Tensor) else value])

        return Experience(
            sequences=sequences.unsqueeze(0),
            attention_mask=attention_mask.unsqueeze(0),
            action_mask=action_mask.unsqueeze(0),
            rollout_log_probs=None,
            prompts=[response["prompt"]],
            labels=[response["label"]],
            images=[response.get("images")],
            mm_train_inputs=[response.get("mm_train_inputs")],
            rewards=torch.tensor([reward]) if reward is not None else None,
            scores=torch.tensor([score]) if score is not None else None,
            response_length=torch.tensor([response_length]),
            truncated=torch.tensor([response.get("truncated", False)]),
            total_length=torch.tensor([total_length]),
            info=info,
        )
