"""OpenRLHF adapter: a SamplesGenerator that drops prompts before rollout and observes every group.

What OpenRLHF gives (openrlhf/trainer/ppo_utils/samples_generator.py and experience.py,
openrlhf/cli/train_ppo_ray.py; read at main of August 2026):
- The PPOTrainer Ray actor builds ``SamplesGenerator(strategy, prompts_dataloader,
  eval_dataloader, tokenizer, vllm_engines)`` and calls ``generate_samples(**generate_kwargs)``
  once per step; evaluation goes through ``generate_eval_samples``.
- ``_generate_vllm(dataloader_iter, num_prompts, dynamic_filtering, **generate_kwargs)`` sends
  prompts out with ``_dispatch_prompts_to_vllm(prompts, labels, *, images=None,
  **generate_kwargs)`` (one Ray ref per prompt, answering its ``n_samples_per_prompt`` responses),
  turns each response dict ("prompt", "label", "reward", "scores", ...) into an Experience with
  ``_process_response_into_experience(response, **generate_kwargs)``, and with dynamic filtering
  (``--algo.dynamic_filtering_enable``; ``--dynamic_filtering`` before April 2026) drops a
  prompt's group unless ``low < mean(scores) < high`` (``--algo.dynamic_filtering_range``;
  formerly ``--dynamic_filtering_reward_range``), dispatching a replacement prompt.
- Prompts reach the generator chat-templated; there is no hook for a custom filter, so a
  SamplesGenerator subclass is the seam.

Contract of SparsegateSamplesGenerator (training only; evaluation is untouched):
- Before rollout: each dispatched prompt is decided by the gate, without a reference solution
  (the prompt is already templated, so a hint could not be placed inside the user turn): KEEP or
  DROP. Dropped prompts are not dispatched; if a whole dispatch would be dropped, it goes out as
  it is, so training never starves.
- After rollout: each prompt's scores ("scores", else "reward") are collected as its responses
  are turned into experiences; when its ``n_samples_per_prompt`` responses are in, the group is
  observed, before OpenRLHF's own dynamic filtering can discard it. The filtering stays OpenRLHF's.
- Prompt ids are stable hashes of the prompt text. With a checkpoint path the gate is saved after
  every training batch.
``install(gate)`` makes OpenRLHF build this generator; ``setup_hook`` does it from environment
variables inside Ray workers (see the README).
"""

import json
import os
import sys
from typing import Any, Dict, List, Optional

from openrlhf.trainer.ppo_utils import samples_generator as _samples_generator_module

from ._prompts import stable_id
from .filters import GroupFilter


SamplesGenerator = _samples_generator_module.SamplesGenerator


def _samples_per_prompt(args: Any, generate_kwargs: Dict[str, Any]) -> int:
    if "n_samples_per_prompt" in generate_kwargs:
        return int(generate_kwargs["n_samples_per_prompt"])
    rollout = getattr(args, "rollout", None)  # dotted flags (2026) or the flat ones before them
    return int(getattr(rollout, "n_samples_per_prompt", None) or getattr(args, "n_samples_per_prompt", 1))


class SparsegateSamplesGenerator(SamplesGenerator):
    """OpenRLHF's SamplesGenerator with sparsegate before and after rollout (module docstring)."""

    gate: Any = None                  # set by install()
    checkpoint: Optional[str] = None  # set by install()
    drop_before_rollout: bool = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sg_training = False
        self._sg_pending: Dict[str, List[float]] = {}
        self._sg_filter = GroupFilter(self.gate) if self.gate is not None else None

    def generate_samples(self, **generate_kwargs):
        self._sg_training = self.gate is not None
        try:
            return super().generate_samples(**generate_kwargs)
        finally:
            self._sg_training = False
            if self.gate is not None and self.checkpoint:
                self.gate.save(self.checkpoint)

    def _dispatch_prompts_to_vllm(self, prompts, labels, *, images=None, **generate_kwargs):
        if self._sg_training and self.drop_before_rollout and prompts:
            decisions = self.gate.decide([{"id": stable_id(p), "text": p} for p in prompts])
            keep = [i for i, d in enumerate(decisions) if d.rolled_out]
            if keep and len(keep) < len(prompts):
                prompts = [prompts[i] for i in keep]
                labels = [labels[i] for i in keep]
                if images is not None:
                    images = [images[i] for i in keep]
        return super()._dispatch_prompts_to_vllm(prompts, labels, images=images, **generate_kwargs)

    def _process_response_into_experience(self, response, **generate_kwargs):
        experience = super()._process_response_into_experience(response, **generate_kwargs)
        if self._sg_training:
            score = response.get("scores")
            if score is None:
                score = response.get("reward")
            if score is not None:
                prompt = response["prompt"]
                scores = self._sg_pending.setdefault(prompt, [])
                scores.append(float(score))
                if len(scores) >= _samples_per_prompt(self.args, generate_kwargs):
                    del self._sg_pending[prompt]
                    self._sg_filter.observe_group(stable_id(prompt), scores)
        return experience


def install(gate: Any, *, checkpoint: Optional[str] = None, drop_before_rollout: bool = True) -> type:
    """Makes OpenRLHF build SparsegateSamplesGenerator around ``gate`` in this process.

    Call it before OpenRLHF's trainer module is imported, or after: both its own module and the
    trainer modules that imported the name are patched.
    """
    SparsegateSamplesGenerator.gate = gate
    SparsegateSamplesGenerator.checkpoint = checkpoint
    SparsegateSamplesGenerator.drop_before_rollout = drop_before_rollout
    if checkpoint and os.path.exists(checkpoint):
        gate.load(checkpoint)
    _samples_generator_module.SamplesGenerator = SparsegateSamplesGenerator
    for name in ("openrlhf.trainer.ppo_trainer", "openrlhf.trainer.ppo_trainer_async"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "SamplesGenerator"):
            module.SamplesGenerator = SparsegateSamplesGenerator
    return SparsegateSamplesGenerator


def setup_hook() -> None:
    """A Ray ``worker_process_setup_hook``: installs the generator when SPARSEGATE_TARGET is set.

    Environment: SPARSEGATE_TARGET (the service), SPARSEGATE_OPTIONS (JSON of further
    Gate.create keywords), SPARSEGATE_CHECKPOINT (plugin checkpoint path).
    """
    target = os.environ.get("SPARSEGATE_TARGET")
    if not target:
        return
    from . import _core
    options = json.loads(os.environ.get("SPARSEGATE_OPTIONS") or "{}")
    gate = _core.Gate.create(target=target, **options)
    install(gate, checkpoint=os.environ.get("SPARSEGATE_CHECKPOINT") or None)
