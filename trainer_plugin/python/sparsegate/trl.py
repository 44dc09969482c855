"""TRL adapter: a GRPOTrainer that gates each prompt group before generation and learns after it.

Read at huggingface/trl f2cd57710ae345ea6428ae95363267fcf38a3dc8 (trl/trainer/grpo_trainer.py,
grpo_config.py, trainer/utils.py), transformers' Trainer (000945a9) and accelerate (16cb6eb8);
tests/plugin_python/stubs mirror them. What GRPOTrainer gives a subclass:
- ``_generate_and_score_completions(self, inputs)`` (via ``_prepare_inputs``, once per
  ``steps_per_generation * num_iterations`` training steps): ``inputs`` is this process's part of
  the generation batch, a list of dataset rows with a "prompt" (a string or a chat).
  RepeatSampler lays out the GLOBAL batch with each prompt's ``num_generations`` copies adjacent,
  and process k holds rows [k*n, (k+1)*n), so a group may span processes. It returns tensors only
  (prompt/completion ids and masks, advantages, num_items_in_batch, ...): no rewards, no prompts.
- ``_calculate_rewards(inputs, prompts, completions, completion_ids_list)`` returns
  ``rewards_per_func`` already gathered: one row per completion of the global batch in rank
  order, one column per reward function, NaN where a function returned None.
- Prompts are tokenized without truncation (``max_prompt_length`` is gone at this commit), so a
  hint can only be kept within a budget by the adapter: ``max_prompt_tokens``, or by default,
  with vLLM and ``vllm_max_model_length`` set, that length minus ``max_completion_length``.
  ``_tokenize_prompts`` renders a chat with ``tools=self.tools or None`` (per example, the
  environment's tools, with ``environment_factory``), ``chat_template=self.chat_template`` and
  ``chat_template_kwargs``: the tools' schemas are part of the prompt's length.
- ``self._metrics[mode]`` holds one list per metric; each generation batch appends to them and
  ``log(logs, start_time)`` (every ``logging_steps``) averages each list into the logs it passes
  to the Trainer's ``log`` (``state.log_history`` and the reporting callbacks), then clears them.
- ``_save_checkpoint(model, trial)`` runs on every process after the step's update;
  ``_load_optimizer_and_scheduler(checkpoint)`` runs on every process with the checkpoint folder
  when training resumes, before trainer_state.json is read.

Contract of SparsegateGRPOTrainer (training batches only; evaluation passes through untouched):
- One decision per group, made on the main process by ``gate``; the other processes receive it
  (accelerate's gather_object / broadcast_object_list), so every process rolls out the same thing.
- GUIDE: every row of the group gets the hinted prompt (the hint block appended to the last user
  message, or to a string prompt), the way GHPO feeds hints; within the token budget, if any
  (a shorter hint on a step boundary, or none: Gate.decide's ``fits``), counted as
  ``_tokenize_prompts`` counts it, tools included.
- DROP / DEFER: GRPO's batch has a fixed shape, so a group cannot just disappear. Its rows are
  replaced by a copy of a group that is rolled out (round-robin over the batch's rolled-out
  groups, hint included): those G rollouts go to a prompt with learning signal, and their rewards
  are observed together with the original group's, as one observation. If no group of a batch is
  rolled out, the batch goes out unchanged and none of it is observed.
  Why a copy and not a new prompt: ``_generate_and_score_completions`` only gets the rows
  RepeatSampler chose for this batch; TRL draws no further rows during a step. A new prompt
  could still be read from ``train_dataset`` on the main process and broadcast (TRL does not
  check where rows come from), but it would lie outside the sampler's epoch order (the same
  prompt comes again in its own slot, and a resume does not know it was used): not done yet.
- After scoring, each rolled-out prompt is observed with column ``success_reward`` of
  ``rewards_per_func`` (the accuracy reward; index 0 by default, as in GHPO) mapped into [0, 1],
  and with each rollout's completion length: ``len(ids)`` of ``completion_ids_list``, gathered
  across processes as the rewards are (TRL's own ``completion_lengths`` when no tools are used;
  with tools the tools' tokens are counted too).
- The gate's state is saved into every checkpoint folder as ``sparsegate_plugin.json`` and loaded
  from it when training resumes from that checkpoint.
- Metrics: after each generation batch the main process appends the plugin's counters for that
  batch (``_prompts.plugin_metrics``: decisions per kind, fail-open, hint levels, predicted and
  observed pass rate, time in Gate.decide, model digest) to ``self._metrics["train"]`` under
  ``sparsegate/``; TRL's ``log`` averages them over the logging window with its own metrics and
  hands them to the Trainer's reporting callbacks (wandb, tensorboard, ...).
Pass the same ``gate`` construction on every process; only the main process's is used.
"""

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import GRPOTrainer

from ._prompts import hinted_prompt, is_chat, plugin_metrics, prompt_text, stable_id, unit_group, with_hint

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "sparsegate_plugin.json"
_ROLLED_OUT = ("keep", "guide")


@dataclass
class _Plan:
    """What one generation batch became: the rows to generate from and whose rewards they are."""
    local_rows: List[Dict[str, Any]]
    group_size: int = 0
    # Per group slot of the global batch: the prompt id its rewards belong to (None: not observed).
    observe_as: List[Optional[str]] = field(default_factory=list)


class SparsegateGRPOTrainer(GRPOTrainer):
    """GRPOTrainer with sparsegate's decisions applied before generation (module docstring)."""

    def __init__(self, *args, gate: Any = None, reference_column: Optional[str] = "solution",
                 prompt_id_column: Optional[str] = None, success_reward: int = 0,
                 max_prompt_tokens: Optional[int] = None, **kwargs):
        super().__init__(*args, **kwargs)
        if max_prompt_tokens is None and self.args.use_vllm and self.args.vllm_max_model_length:
            max_prompt_tokens = self.args.vllm_max_model_length - (self.args.max_completion_length or 0)
        self.max_prompt_tokens = max_prompt_tokens
        self.gate = gate
        self.reference_column = reference_column
        self.prompt_id_column = prompt_id_column
        self.success_reward = success_reward
        self._sparsegate_rewards = None
        self._sparsegate_lengths = None  # completion tokens per rollout of the global batch
        self._sparsegate_warned = False
        self._sparsegate_stats = None  # the gate's stats after the last logged batch
        self._sparsegate_scoring_seconds = 0.0

    # --- TRL hooks -------------------------------------------------------------------------------

    def _generate_and_score_completions(self, inputs):
        if self.gate is None or not self.model.training:
            return super()._generate_and_score_completions(inputs)
        if self._sparsegate_stats is None and self.accelerator.is_main_process:
            self._sparsegate_stats = self.gate.stats()  # a resumed gate's counts are not this batch's
        plan = self._sparsegate_plan(inputs)
        self._sparsegate_rewards = self._sparsegate_lengths = None
        output = super()._generate_and_score_completions(plan.local_rows)
        self._sparsegate_observe(plan)
        self._sparsegate_log_metrics()
        return output

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._sparsegate_rewards = rewards_per_func
        if self.gate is not None and self.model.training:
            # Gathered like the rewards (every process calls this), so row i of both is one rollout.
            from accelerate.utils import gather_object

            self._sparsegate_lengths = gather_object([len(ids) for ids in completion_ids_list])
        return rewards_per_func

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.gate is not None and self.args.should_save:
            folder = os.path.join(self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
            self.gate.save(os.path.join(folder, CHECKPOINT_NAME))

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if self.gate is not None and checkpoint is not None:
            path = os.path.join(checkpoint, CHECKPOINT_NAME)
            if os.path.exists(path):
                self.gate.load(path)

    # --- before generation -----------------------------------------------------------------------

    def _describe(self, row: Dict[str, Any]) -> Dict[str, Any]:
        text = prompt_text(row["prompt"])
        pid = row.get(self.prompt_id_column) if self.prompt_id_column else None
        reference = row.get(self.reference_column) if self.reference_column else None
        return {"id": str(pid) if pid is not None else stable_id(text), "text": text,
                "reference": reference if isinstance(reference, str) and reference else None}

    def _prompt_tools(self, row: Dict[str, Any]) -> Optional[List[Any]]:
        """The tools GRPOTrainer._tokenize_prompts renders into this row's prompt: the environment's
        with an ``environment_factory`` (chosen by the row's "environment" when there are several),
        else ``self.tools``; an empty list as None, as TRL passes it."""
        if getattr(self, "environment_factories", None) is not None:
            name = row.get("environment") if getattr(self, "_multi_environment", False) else None
            return getattr(self, "_env_tools", {}).get(name) or None
        return getattr(self, "tools", None) or None

    def _prompt_tokens(self, prompt: Any, tools: Optional[List[Any]] = None) -> int:
        """Tokens of a prompt as GRPOTrainer._tokenize_prompts counts them: a chat through the
        processing class's chat template with the trainer's tools, chat_template (TRL's training
        template when the model's is not prefix-preserving) and chat_template_kwargs; a string as
        it is. Batched, as TRL calls."""
        if is_chat(prompt):
            ids = self.processing_class.apply_chat_template(
                conversation=[prompt], tools=tools, chat_template=getattr(self, "chat_template", None),
                add_generation_prompt=True, tokenize=True, return_dict=True,
                **(self.chat_template_kwargs or {}))["input_ids"]
        else:
            ids = self.processing_class(text=[prompt])["input_ids"]
        return len(ids[0])

    def _fits(self, groups: List[List[Dict[str, Any]]]):
        """Gate.decide's ``fits``: whether group i's prompt with its text replaced stays within the budget."""
        def fits(i: int, text: str) -> bool:
            row = groups[i][0]
            tokens = self._prompt_tokens(hinted_prompt(row["prompt"], text), self._prompt_tools(row))
            return tokens <= self.max_prompt_tokens
        return fits

    def _pass_through(self, inputs, why: str) -> _Plan:
        if not self._sparsegate_warned:
            logger.warning("sparsegate: batch passed through ungated: %s", why)
            self._sparsegate_warned = True
        return _Plan(local_rows=list(inputs))

    def _sparsegate_plan(self, inputs) -> _Plan:
        accelerator = self.accelerator
        distributed = accelerator.num_processes > 1
        if distributed:
            from accelerate.utils import broadcast_object_list, gather_object
            rows = gather_object(list(inputs))
        else:
            rows = list(inputs)
        size = self.num_generations
        if not rows or len(rows) % size or any("prompt" not in r for r in rows):
            return self._pass_through(inputs, "rows are not whole groups with a 'prompt'")
        groups = [rows[i:i + size] for i in range(0, len(rows), size)]
        if any(r["prompt"] != g[0]["prompt"] for g in groups for r in g):
            return self._pass_through(inputs, "a group mixes prompts (not RepeatSampler's layout)")

        decisions = None
        if accelerator.is_main_process:
            self.gate.begin_epoch(int(self.state.epoch or 0))
            prompts = [self._describe(g[0]) for g in groups]
            started = time.perf_counter()
            if self.max_prompt_tokens is not None:
                decided = self.gate.decide(prompts, fits=self._fits(groups))
            else:
                decided = self.gate.decide(prompts)
            self._sparsegate_scoring_seconds += time.perf_counter() - started
            decisions = [d.to_dict() for d in decided]
        if distributed:
            decisions = broadcast_object_list([decisions], from_process=0)[0]

        rolled = [i for i, d in enumerate(decisions) if d["kind"] in _ROLLED_OUT]
        if not rolled:
            return _Plan(local_rows=list(inputs), group_size=size, observe_as=[None] * len(groups))
        new_rows, observe_as = [], []
        substitutes = 0
        for i, d in enumerate(decisions):
            source = i
            if d["kind"] not in _ROLLED_OUT:
                source = rolled[substitutes % len(rolled)]
                substitutes += 1
            chosen = decisions[source]
            for row in groups[source]:
                row = dict(row)
                if chosen["kind"] == "guide":
                    row["prompt"] = with_hint(row["prompt"], chosen["hint_text"])
                new_rows.append(row)
            observe_as.append(chosen["prompt_id"])
        n = len(inputs)
        start = accelerator.process_index * n
        return _Plan(local_rows=new_rows[start:start + n], group_size=size, observe_as=observe_as)

    # --- after scoring ---------------------------------------------------------------------------

    def _sparsegate_observe(self, plan: _Plan) -> None:
        if not plan.observe_as or not self.accelerator.is_main_process:
            return
        rewards = self._sparsegate_rewards
        if rewards is None or rewards.shape[0] != plan.group_size * len(plan.observe_as):
            logger.warning("sparsegate: no rewards matching the batch were computed; nothing observed")
            return
        column = rewards[:, self.success_reward].tolist()
        lengths = self._sparsegate_lengths
        if lengths is not None and len(lengths) != len(column):
            lengths = None
        by_prompt: Dict[str, List[float]] = {}
        lengths_by_prompt: Dict[str, List[int]] = {}
        for slot, prompt_id in enumerate(plan.observe_as):
            if prompt_id is not None:
                rows = slice(slot * plan.group_size, (slot + 1) * plan.group_size)
                by_prompt.setdefault(prompt_id, []).extend(column[rows])
                if lengths is not None:
                    lengths_by_prompt.setdefault(prompt_id, []).extend(lengths[rows])
        for prompt_id, values in by_prompt.items():
            values, completion_tokens = unit_group(values, lengths_by_prompt.get(prompt_id))
            if values:
                self.gate.observe(prompt_id, values, completion_tokens=completion_tokens)

    def _sparsegate_log_metrics(self) -> None:
        """This batch's plugin counters into TRL's ``self._metrics["train"]`` (main process, where the
        gate is): GRPOTrainer.log averages each list over the logging window, as it does its own."""
        if not self.accelerator.is_main_process:
            return
        stats = self.gate.stats()
        for key, value in plugin_metrics(stats, self._sparsegate_stats, self._sparsegate_scoring_seconds).items():
            self._metrics["train"][key].append(value)
        self._sparsegate_stats, self._sparsegate_scoring_seconds = stats, 0.0

