"""Stand-in for openrlhf/trainer/ppo_utils/samples_generator.py (main, August 2026).

Real interface mirrored here:
- ``SamplesGenerator(strategy, prompts_dataloader, eval_dataloader, tokenizer, vllm_engines)``;
  ``self.args = strategy.args`` (``args.rollout.batch_size``, ``args.rollout.n_samples_per_prompt``,
  ``args.algo.dynamic_filtering_enable``, ``args.algo.dynamic_filtering_range``).
- ``generate_samples(**generate_kwargs) -> (experiences, filter_pass_rate, prompts_consumed,
  exhausted)`` for training; ``generate_eval_samples(**generate_kwargs)`` for evaluation.
- ``_generate_vllm(dataloader_iter, num_prompts, dynamic_filtering, **generate_kwargs)``: collects
  prompts from the dataloader (batches of ``(datasources, prompts, labels, images)``), dispatches
  them, turns each prompt's responses into experiences, and with dynamic filtering drops a group
  unless ``low < mean(scores) < high`` and dispatches one replacement prompt.
- ``_dispatch_prompts_to_vllm(prompts, labels, *, images=None, **generate_kwargs)``: one ref per
  prompt answering ``n_samples_per_prompt`` response dicts ("prompt", "label", "reward",
  "scores", ...).
- ``_process_response_into_experience(response, **generate_kwargs) -> Experience``.
No Ray here: an engine is a callable ``engine(prompt, label, n) -> list of response dicts`` and a
"ref" is the list it returned.
"""
from typing import List, Optional, Tuple

import torch

from openrlhf.trainer.ppo_utils.experience import Experience


def _collect_prompt_batch(dataloader_iter, num_prompts: int):
    prompts, labels, images = [], [], []
    exhausted = False
    while len(prompts) < num_prompts:
        try:
            _, batch_prompts, batch_labels, batch_images = next(dataloader_iter)
        except StopIteration:
            exhausted = True
            break
        remaining = num_prompts - len(prompts)
        prompts.extend(batch_prompts[:remaining])
        labels.extend(batch_labels[:remaining])
        images.extend(batch_images[:remaining])
    return prompts, labels, images, exhausted


class SamplesGenerator:
    def __init__(self, strategy, prompts_dataloader, eval_dataloader, tokenizer, vllm_engines: List):
        self.strategy = strategy
        self.args = strategy.args
        self.tokenizer = tokenizer
        self.vllm_engines = vllm_engines or []
        self.prompts_dataloader = prompts_dataloader
        self.eval_dataloader = eval_dataloader
        self._dataloader_iter = None

    def generate_eval_samples(self, **generate_kwargs):
        experiences, _, _ = self._generate_vllm(iter(self.eval_dataloader), self.args.rollout.batch_size,
                                                dynamic_filtering=False, **generate_kwargs)
        return experiences

    def generate_samples(self, **generate_kwargs) -> Tuple[List[Experience], Optional[float], int, bool]:
        if self._dataloader_iter is None:
            self._dataloader_iter = iter(self.prompts_dataloader)
        experiences, consumed, exhausted = self._generate_vllm(
            self._dataloader_iter, self.args.rollout.batch_size,
            dynamic_filtering=self.args.algo.dynamic_filtering_enable, **generate_kwargs)
        pass_rate = len(experiences) / consumed * 100 if consumed and self.args.algo.dynamic_filtering_enable else None
        return experiences, pass_rate, consumed, exhausted

    def _generate_vllm(self, dataloader_iter, num_prompts: int, dynamic_filtering, **generate_kwargs):
        accepted: List[Experience] = []
        prompts, labels, images, exhausted = _collect_prompt_batch(dataloader_iter, num_prompts)
        if not prompts:
            return [], 0, True
        pending = self._dispatch_prompts_to_vllm(prompts, labels, images=images, **generate_kwargs)
        consumed = len(prompts)
        while pending:
            ref = pending.pop(0)
            experiences = [self._process_response_into_experience(r, **generate_kwargs) for r in ref]
            if dynamic_filtering and all(e.scores is not None for e in experiences):
                scores = [e.scores[0].item() for e in experiences]
                low, high = self.args.algo.dynamic_filtering_range
                if not (low < sum(scores) / len(scores) < high):
                    experiences = []
            if experiences:
                accepted.extend(experiences)
            elif dynamic_filtering:
                new_prompts, new_labels, new_images, exhausted = _collect_prompt_batch(dataloader_iter, 1)
                consumed += len(new_prompts)
                if new_prompts:
                    pending.extend(self._dispatch_prompts_to_vllm(new_prompts, new_labels, images=new_images,
                                                                  **generate_kwargs))
        return accepted, consumed, exhausted

    def _dispatch_prompts_to_vllm(self, prompts, labels, *, images=None, **generate_kwargs):
        n = generate_kwargs.get("n_samples_per_prompt", self.args.rollout.n_samples_per_prompt)
        engine = self.vllm_engines[0]
        return [engine(prompt, label, n) for prompt, label in zip(prompts, labels)]

    def _process_response_into_experience(self, response, **generate_kwargs) -> Experience:
        reward, score = response.get("reward"), response.get("scores")
        return Experience(
            sequences=torch.zeros(1, 1, dtype=torch.long),
            rewards=torch.tensor([reward]) if reward is not None else None,
            scores=torch.tensor([score]) if score is not None else None,
            prompts=[response["prompt"]],
            labels=[response["label"]],
        )
