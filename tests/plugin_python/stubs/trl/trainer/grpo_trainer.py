"""Stand-in for trl/trainer/grpo_trainer.py (huggingface/trl at commit
f2cd57710ae345ea6428ae95363267fcf38a3dc8, version 1.10.0.dev0): GRPOTrainer.

Written from the real file (line numbers there), not copied. Same method names and signatures
(tests/plugin_python/stubs/signatures/trl.json checks them); the data path of one generation batch
follows the real one step by step, with a fake model (simmodels.FakeCausalLM: ``generate_fn``
turns prompt texts into completion texts) and fake log-probabilities (zeros).

The generation batch, per process (``_prepare_inputs`` :1555, ``get_train_dataloader`` :1213,
``_get_train_sampler`` :1235): the train dataloader yields per_device_train_batch_size *
steps_per_generation dataset rows per process; RepeatSampler lays out the GLOBAL batch with each
prompt's num_generations copies adjacent, and accelerate deals consecutive batches to processes
in rank order, so process k holds rows [k*n, (k+1)*n) of the global batch (a group can span two
processes). ``_generate_and_score_completions`` runs every steps_per_generation * num_iterations
training steps (``self._step`` counts them); its output is shuffled and split into
steps_per_generation per-step batches.

``_generate_and_score_completions(inputs)`` (:2260), in order:
1. ``prompts = [x["prompt"] for x in inputs]`` (:2274); "images"/"image" columns (:2335) are
   multimodal, not simulated (NotImplementedError).
2. ``_generate(prompts)`` (:2143): ``rollout_func(prompts, self)`` if given, else
   ``_tokenize_prompts`` (:1705; chat prompts through ``processing_class.apply_chat_template``,
   string prompts through ``processing_class(text=...)``; NO truncation) and
   ``_generate_single_turn`` (:1784; vLLM server/colocate via VLLMGeneration, or the transformers
   path: left-pad, ``model.generate``, cut after the first EOS). Completions are decoded (a chat
   prompt's completion is ``[{"role": "assistant", "content": text}]``). Lengths are gathered
   with ``self.accelerator.gather`` for metrics.
3. ids -> tensors: prompt ids LEFT-padded, completion ids RIGHT-padded (:2377-2396);
   ``num_items_in_batch = self.accelerator.gather(loss_mask.sum()).sum()`` (:2427).
4. ``old_per_token_logps`` when gradient_accumulation_steps % (steps_per_generation *
   num_iterations) != 0 or vLLM importance sampling is on (:2561); ``ref_per_token_logps`` when
   beta != 0 (here: zeros).
5. ``rewards_per_func = self._calculate_rewards(inputs, prompts, completions,
   completion_ids_list)`` (:2673): computed on the local rows, then ``gather(rewards_per_func)``
   (:1702): GLOBAL, [global rows, reward funcs], in rank order.
6. advantages over the global batch (:2679-2730): weighted nansum of the columns, grouped in
   consecutive num_generations rows: (r - group mean) / (group std + 1e-4) ("group"), or batch
   std, or no scaling ("none"); rows where every reward func returned None get advantage 0.
7. ``process_slice = slice(process_index * len(prompts), (process_index + 1) * len(prompts))``
   (:2733) -> this process's advantages.
8. logs: ``gather_object(prompts_text)``, ``gather_object(completions_text)`` (:2753).
9. returns {prompt_ids, prompt_mask, completion_ids, completion_mask, advantages,
   num_items_in_batch} plus, when present, old_per_token_logps, importance_sampling_ratio,
   sampling_per_token_logps, ref_per_token_logps (:2815-2853).

Metrics: each generation batch appends its values to ``self._metrics[mode][key]`` (lists);
``log(logs, start_time)`` (:3272), called by the Trainer every ``logging_steps`` optimizer steps,
averages each list into ``logs``, passes them on to the Trainer's log and clears them.

Tools (``tools=``, :585-732): ``self.tools`` is the list given; ``_tokenize_prompts`` renders
it into every chat prompt (``tools=self.tools or None``, :1760), so it counts in the prompt's
length; ``_generate`` runs ``_tool_call_loop`` (:1934) on the decoded completions. The stand-in's
completions never call a tool (``_tool_call_loop`` raises NotImplementedError if one does), and
its ByteTokenizer's template is prefix-preserving, so ``self.chat_template`` stays None (:730). The
real checks on the transformers version, jmespath and the template's tool support are left out.

Not simulated (raise NotImplementedError): model given as a hub id, reward models (nn.Module or
str reward_funcs), PEFT, quantization, tool calls made by a completion, environment_factory,
images, Liger, continuous batching. The loss (``compute_loss``) is a stand-in scalar, no backward.
"""
import asyncio
import copy
import inspect
import json
import math
import os
from collections import defaultdict, deque
from pathlib import Path

import torch
from torch import nn

from accelerate.utils import gather, gather_object, set_seed
from transformers import AutoProcessor, GenerationConfig, PreTrainedTokenizerBase, ProcessorMixin
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..data_utils import is_conversational
from ..generation.vllm_generation import VLLMGeneration
from .base_trainer import _BaseTrainer
from .grpo_config import GRPOConfig
from .utils import (RepeatSampler, get_callable_name, get_config_model_id, identity, nanmax, nanmin, nanstd,
                    pad, shuffle_sequence_dict, split_pixel_values_by_grid, split_tensor_dict,
                    unsplit_pixel_values_by_grid)


class GRPOTrainer(_BaseTrainer):
    _tag_names = ["trl", "grpo"]
    _name = "GRPO"

    def __init__(self, model, reward_funcs=None, args=None, train_dataset=None, eval_dataset=None,
                 processing_class=None, reward_processing_classes=None, callbacks=None, optimizers=(None, None),
                 quantization_config=None, peft_config=None, tools=None, rollout_func=None,
                 environment_factory=None):
        if isinstance(model, str):
            raise NotImplementedError("stand-in: pass a model object (simmodels.FakeCausalLM), not a hub id")
        if args is None:
            args = GRPOConfig(f"{get_config_model_id(model.config).split('/')[-1]}-GRPO")
        for name, value in (("quantization_config", quantization_config), ("peft_config", peft_config),
                            ("environment_factory", environment_factory)):
            if value:
                raise NotImplementedError(f"stand-in: {name} is not simulated")

        # Processing class (:368): loaded from the model's id when not given
        if processing_class is None:
            processing_class = AutoProcessor.from_pretrained(get_config_model_id(model.config),
                                                             truncation_side="left", padding_side="left",
                                                             trust_remote_code=args.trust_remote_code)
        if isinstance(processing_class, ProcessorMixin):
            self._tokenizer = processing_class.tokenizer
            self._is_vlm = True
        elif isinstance(processing_class, PreTrainedTokenizerBase):
            self._tokenizer = processing_class
            self._is_vlm = False
        else:
            raise TypeError("The `processing_class` must be either a `PreTrainedTokenizerBase` or a `ProcessorMixin`")
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token

        # Reward functions (:506-536)
        if reward_funcs is None:
            reward_funcs = []
        elif not isinstance(reward_funcs, list):
            reward_funcs = [reward_funcs]
        self.reward_func_names = []
        for reward_func in reward_funcs:
            if isinstance(reward_func, (str, nn.Module)):
                raise NotImplementedError("stand-in: reward models are not simulated; pass reward functions")
            self.reward_func_names.append(get_callable_name(reward_func))
        self.reward_funcs = reward_funcs
        if args.reward_weights is not None:
            if len(args.reward_weights) != len(reward_funcs):
                raise ValueError(f"Number of reward weights ({len(args.reward_weights)}) must match number of reward "
                                 f"functions ({len(reward_funcs)})")
            self.reward_weights = torch.tensor(args.reward_weights, dtype=torch.float32)
        else:
            self.reward_weights = torch.ones(len(reward_funcs), dtype=torch.float32)
        if reward_processing_classes is None:
            reward_processing_classes = [None] * len(reward_funcs)
        elif not isinstance(reward_processing_classes, list):
            reward_processing_classes = [reward_processing_classes]
        if len(reward_processing_classes) != len(reward_funcs):
            raise ValueError("The number of reward processing classes must match the number of reward functions.")
        self.reward_processing_classes = reward_processing_classes
        self.rollout_func = rollout_func
        self.environment_factories = None
        self._multi_environment = False
        tools = tools or []
        self._standalone_tools = tools  # (:613)
        self.tools = tools  # (:686, no environment_factory)
        if not self.reward_funcs:
            raise ValueError("No reward source provided. Pass `reward_funcs`, or an `environment_factory` whose "
                             "environment defines a `get_reward` method.")
        self.environments = None
        self._has_async_funcs = any(inspect.iscoroutinefunction(f) for f in self.reward_funcs + self.tools)
        self.chat_template = None  # (:730) ByteTokenizer's template is prefix-preserving

        # Training arguments (:735-820)
        self.max_completion_length = args.max_completion_length
        self.num_generations = args.num_generations
        self.num_generations_eval = args.num_generations_eval or self.num_generations
        self.chat_template_kwargs = args.chat_template_kwargs or {}
        self.temperature = args.temperature
        self.top_p = args.top_p
        self.top_k = args.top_k
        self.min_p = args.min_p
        self.repetition_penalty = args.repetition_penalty
        self.use_transformers_continuous_batching = args.use_transformers_continuous_batching
        if self.use_transformers_continuous_batching:
            raise NotImplementedError("stand-in: continuous batching is not simulated")
        self.pad_to_multiple_of = args.pad_to_multiple_of
        self.use_vllm = args.use_vllm
        self.vllm_mode = args.vllm_mode
        self.vllm_importance_sampling_correction = args.vllm_importance_sampling_correction
        self.vllm_importance_sampling_mode = args.vllm_importance_sampling_mode
        self.vllm_importance_sampling_clip_max = args.vllm_importance_sampling_clip_max
        self.vllm_importance_sampling_clip_min = args.vllm_importance_sampling_clip_min
        self.use_liger_kernel = args.use_liger_kernel
        self.loss_type = args.loss_type
        self.multi_objective_aggregation = args.multi_objective_aggregation
        self.scale_rewards = args.scale_rewards
        self.importance_sampling_level = args.importance_sampling_level
        self.mask_truncated_completions = args.mask_truncated_completions
        self.top_entropy_quantile = args.top_entropy_quantile
        self.entropy_coef = args.entropy_coef
        self.use_adaptive_entropy = args.use_adaptive_entropy
        self._last_world_entropy = float("inf")
        self.shuffle_dataset = args.shuffle_dataset
        if train_dataset is None:
            raise ValueError("`train_dataset` is required unless an `environment_factory` is provided.")
        self.num_iterations = args.num_iterations
        self.epsilon_low = args.epsilon
        self.epsilon_high = args.epsilon_high if args.epsilon_high is not None else args.epsilon
        self._step = 0
        self._buffered_inputs = None

        super().__init__(model=model, args=args, data_collator=identity, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, processing_class=processing_class, callbacks=callbacks,
                         optimizers=optimizers, compute_loss_func="non-None value to disable scaling")

        self.beta = args.beta
        self.ref_model = None  # real: a second copy of the model when beta != 0 (here ref log-probs are zeros)

        self._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
        self._total_train_tokens = 0
        self.log_completions = args.log_completions
        self._logs = {
            "images": deque(maxlen=args.generation_batch_size),
            "prompt": deque(maxlen=args.generation_batch_size),
            "completion": deque(maxlen=args.generation_batch_size),
            "rewards": defaultdict(lambda: deque(maxlen=args.generation_batch_size)),
            "advantages": deque(maxlen=args.generation_batch_size),
            "extra": defaultdict(lambda: deque(maxlen=args.generation_batch_size)),
        }
        self._pending_extra_logs = defaultdict(list)
        self._pending_metrics = defaultdict(list)

        set_seed(args.seed, device_specific=True)

        if self.use_vllm:
            self.vllm_generation = VLLMGeneration(
                model=self.model, accelerator=self.accelerator, processing_class=self.processing_class,
                mode=args.vllm_mode, structured_outputs_regex=args.vllm_structured_outputs_regex,
                server_base_url=args.vllm_server_base_url, server_host=args.vllm_server_host,
                server_port=args.vllm_server_port, group_port=args.vllm_group_port,
                server_timeout=args.vllm_server_timeout, tensor_parallel_size=args.vllm_tensor_parallel_size,
                gpu_memory_utilization=args.vllm_gpu_memory_utilization, max_model_length=args.vllm_max_model_length,
                max_num_seqs=args.per_device_train_batch_size * args.vllm_tensor_parallel_size
                * args.steps_per_generation,
                enable_sleep_mode=args.vllm_enable_sleep_mode, model_impl=args.vllm_model_impl,
                trust_remote_code=args.trust_remote_code, repetition_penalty=self.repetition_penalty,
                temperature=self.temperature, top_p=self.top_p, top_k=self.top_k, min_p=self.min_p,
                max_completion_length=self.max_completion_length, logprobs=0,
                generation_kwargs=args.generation_kwargs)
            self._last_loaded_step = -1
        else:
            generation_kwargs = {
                "max_new_tokens": self.max_completion_length, "do_sample": True,
                "pad_token_id": self._tokenizer.pad_token_id, "bos_token_id": self._tokenizer.bos_token_id,
                "eos_token_id": self._tokenizer.eos_token_id, "temperature": self.temperature,
                "top_p": self.top_p, "top_k": self.top_k, "min_p": self.min_p,
                "repetition_penalty": self.repetition_penalty, "cache_implementation": args.cache_implementation,
            }
            if args.generation_kwargs is not None:
                generation_kwargs.update(args.generation_kwargs)
            self.generation_config = GenerationConfig(**generation_kwargs, disable_compile=True)
            self.generation_kwargs = generation_kwargs
        self.model_accepts_loss_kwargs = False
        if hasattr(self.model, "add_model_tags"):
            self.model.add_model_tags(self._tag_names)

    # --- data ----------------------------------------------------------------------------------------

    def _set_signature_columns_if_needed(self):
        if self._signature_columns is None:
            self._signature_columns = ["prompt", "image", "images"]

    def get_train_dataloader(self):
        return self._get_dataloader(dataset=self.train_dataset, description="Training",
                                    batch_size=self._train_batch_size * self.args.steps_per_generation,
                                    sampler_fn=self._get_train_sampler, is_training=True)

    def _get_train_sampler(self, dataset=None):
        if dataset is None:
            dataset = self.train_dataset
        return RepeatSampler(data_source=dataset, mini_repeat_count=self.num_generations,
                             batch_size=self.args.generation_batch_size // self.num_generations,
                             repeat_count=self.num_iterations * self.args.steps_per_generation,
                             shuffle=self.shuffle_dataset, seed=self.args.seed)

    def training_step(self, model, inputs, num_items_in_batch):
        output = super().training_step(model, inputs, num_items_in_batch)
        self._step += 1
        return output

    def _prepare_inputs(self, generation_batch):
        mode = "train" if self.model.training else "eval"
        if mode == "train":
            generate_every = self.args.steps_per_generation * self.num_iterations
            if self._step % generate_every == 0 or self._buffered_inputs is None:
                generation_batch = self._generate_and_score_completions(generation_batch)
                generation_batch = split_pixel_values_by_grid(generation_batch)
                generation_batch = shuffle_sequence_dict(generation_batch)
                generation_batches = split_tensor_dict(generation_batch, self.args.steps_per_generation)
                self._buffered_inputs = [unsplit_pixel_values_by_grid(batch) for batch in generation_batches]
            inputs = self._buffered_inputs[self._step % self.args.steps_per_generation]
        else:
            inputs = self._generate_and_score_completions(generation_batch)
        return inputs

    # --- rewards -------------------------------------------------------------------------------------

    def _log_completion_extra(self, column, values):
        self._pending_extra_logs[column].extend(values)

    def _log_metric(self, name, value):
        self._pending_metrics[name].append(value)

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        device = self.accelerator.device
        rewards_per_func = torch.zeros(len(prompts), len(self.reward_funcs), device=device)
        keys = [key for key in inputs[0] if key not in ["prompt", "completion", "completion_ids"]]
        reward_kwargs = {key: [example[key] for example in inputs] for key in keys}
        reward_kwargs["trainer_state"] = self.state
        reward_kwargs["log_extra"] = self._log_completion_extra
        reward_kwargs["log_metric"] = self._log_metric
        if self.environments is not None:
            reward_kwargs["environments"] = self.environments

        async_funcs = []
        for i, reward_func in enumerate(self.reward_funcs):
            if inspect.iscoroutinefunction(reward_func):
                async_funcs.append((i, reward_func))
                continue
            output = reward_func(prompts=prompts, completions=completions, completion_ids=completion_ids_list,
                                 **reward_kwargs)
            output = [r if r is not None else torch.nan for r in output]  # None -> NaN
            rewards_per_func[:, i] = torch.tensor(output, dtype=torch.float32, device=device)
        if async_funcs:
            async def run_all():
                async def one(i, func):
                    out = await func(prompts=prompts, completions=completions, completion_ids=completion_ids_list,
                                     **reward_kwargs)
                    return i, [r if r is not None else torch.nan for r in out]
                return await asyncio.gather(*(one(i, f) for i, f in async_funcs))
            for i, output in asyncio.run(run_all()):  # real: a daemon event loop thread
                rewards_per_func[:, i] = torch.tensor(output, dtype=torch.float32, device=device)

        # Gathered over processes: the rewards are normalized per group, and a group may span processes
        rewards_per_func = gather(rewards_per_func)
        return rewards_per_func

    # --- generation ----------------------------------------------------------------------------------

    def _tokenize_prompts(self, prompts):
        if is_conversational({"prompt": prompts[0]}):
            tokenized = self.processing_class.apply_chat_template(
                conversation=prompts, tools=self.tools or None, chat_template=self.chat_template,
                add_generation_prompt=True, tokenize=True, return_dict=True, **self.chat_template_kwargs)
            prompt_ids = tokenized["input_ids"]
            multimodal_fields = {k: v for k, v in tokenized.items() if k not in ("input_ids", "attention_mask")}
        else:
            prompt_ids = self.processing_class(text=prompts)["input_ids"]
            multimodal_fields = {}
        return prompt_ids, None, multimodal_fields

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields):
        device = self.accelerator.device
        mode = "train" if self.model.training else "eval"
        if self.use_vllm:
            if self.state.global_step != self._last_loaded_step:
                self.vllm_generation.sync_weights()
                self._last_loaded_step = self.state.global_step
            num_generations = self.num_generations if mode == "train" else self.num_generations_eval
            _, completion_ids, logprobs, _ = self.vllm_generation.generate(
                prompts=prompt_ids, images=images, num_generations=num_generations, profiler=None)
            logprobs = [[lp[0] for lp in seq] for seq in logprobs]
        else:
            prompt_tensors = [torch.tensor(ids) for ids in prompt_ids]
            padded_ids = pad(prompt_tensors, padding_value=self._tokenizer.pad_token_id, padding_side="left")
            attention_mask = pad([torch.ones_like(t) for t in prompt_tensors], padding_value=0, padding_side="left")
            generate_inputs = super()._prepare_inputs({"input_ids": padded_ids, "attention_mask": attention_mask})
            unwrapped_model = self.accelerator.unwrap_model(self.model_wrapped)
            with torch.no_grad():
                prompt_completion_ids = unwrapped_model.generate(**generate_inputs,
                                                                 generation_config=self.generation_config)
            prompt_length = generate_inputs["input_ids"].size(1)
            completion_ids = prompt_completion_ids[:, prompt_length:]
            is_eos = completion_ids == self._tokenizer.eos_token_id
            eos_idx = torch.full((is_eos.size(0),), is_eos.size(1), dtype=torch.long, device=device)
            eos_idx[is_eos.any(dim=1)] = is_eos.int().argmax(dim=1)[is_eos.any(dim=1)]
            sequence_indices = torch.arange(is_eos.size(1), device=device).expand(is_eos.size(0), -1)
            completion_mask = (sequence_indices <= eos_idx.unsqueeze(1)).int()
            completion_ids = [c[m].tolist() for c, m in zip(completion_ids.cpu(), completion_mask.bool().cpu())]
            logprobs = None
        return completion_ids, logprobs

    def _generate(self, prompts):
        device = self.accelerator.device
        mode = "train" if self.model.training else "eval"
        prompts = copy.deepcopy(prompts)
        if self.rollout_func is not None:
            if self.use_vllm and self.state.global_step != self._last_loaded_step:
                self.vllm_generation.sync_weights()
                self._last_loaded_step = self.state.global_step
            output = self.rollout_func(prompts, self)
            required_keys = {"prompt_ids", "completion_ids", "logprobs"}
            missing = required_keys - output.keys()
            if missing:
                raise ValueError(f"rollout_func must return keys {sorted(missing)} in its output dict.")
            extra_fields = {k: v for k, v in output.items() if k not in required_keys}
            prompt_ids, completion_ids, logprobs = output["prompt_ids"], output["completion_ids"], output["logprobs"]
            images = None
            multimodal_fields = {}
        else:
            prompt_ids, images, multimodal_fields = self._tokenize_prompts(prompts)
            completion_ids, logprobs = self._generate_single_turn(prompt_ids, images, multimodal_fields)
            extra_fields = {}

        if is_conversational({"prompt": prompts[0]}):
            contents = self.processing_class.batch_decode(completion_ids, skip_special_tokens=True)
            completions = [[{"role": "assistant", "content": content}] for content in contents]
        else:
            completions = self.processing_class.batch_decode(completion_ids, skip_special_tokens=True)

        tool_images = []
        if self.tools:
            (tool_mask, completions, completion_ids, logprobs, tool_call_count, tool_failure_count,
             tool_images) = self._tool_call_loop(prompts, prompt_ids, completion_ids, completions, logprobs, images,
                                                 multimodal_fields)
        else:
            tool_mask = extra_fields.pop("env_mask", None)

        prompt_lengths = torch.tensor([len(ids) for ids in prompt_ids], device=device)
        if tool_mask is not None:
            completion_lengths = torch.tensor([sum(mask) for mask in tool_mask], device=device)
        else:
            completion_lengths = torch.tensor([len(ids) for ids in completion_ids], device=device)
        agg_prompt_lengths = self.accelerator.gather(prompt_lengths)
        agg_completion_lengths = self.accelerator.gather(completion_lengths)
        if mode == "train":
            self.state.num_input_tokens_seen += (agg_prompt_lengths.sum() + agg_completion_lengths.sum()).item()
        self._metrics[mode]["num_tokens"] = [self.state.num_input_tokens_seen]
        self._metrics[mode]["completions/mean_length"].append(agg_completion_lengths.float().mean().item())
        eos_and_pad = [self._tokenizer.eos_token_id, self._tokenizer.pad_token_id]
        is_truncated = torch.tensor([len(ids) == 0 or ids[-1] not in eos_and_pad for ids in completion_ids],
                                    device=device)
        agg_is_truncated = self.accelerator.gather(is_truncated)
        self._metrics[mode]["completions/clipped_ratio"].append(agg_is_truncated.float().mean().item())
        if self.tools:
            agg_tool_call_count = self.accelerator.gather(torch.tensor(tool_call_count, device=device)).sum()
            self._metrics[mode]["tools/call_frequency"].append((agg_tool_call_count / len(agg_prompt_lengths)).item())
            agg_tool_failure_count = self.accelerator.gather(torch.tensor(tool_failure_count, device=device)).sum()
            self._metrics[mode]["tools/failure_frequency"].append(
                (agg_tool_failure_count / agg_tool_call_count).item() if agg_tool_call_count > 0 else 0.0)
        return prompt_ids, completion_ids, tool_mask, completions, logprobs, extra_fields, images, tool_images

    def _tool_call_loop(self, prompts, prompt_ids, completion_ids, completions, logprobs, images, multimodal_fields):
        # (:1933) The real loop runs the tools a completion calls and regenerates after their results;
        # here only its answer for completions that call none: every token is the model's (mask 1).
        if any(completion[0].get("tool_calls") for completion in completions if isinstance(completion, list)):
            raise NotImplementedError("stand-in: tool calls made by a completion are not simulated")
        tool_mask = [[1] * len(ids) for ids in completion_ids]
        tool_images = [[] for _ in completion_ids]
        return tool_mask, completions, completion_ids, logprobs, 0, 0, tool_images

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, pixel_values=None,
                                           image_grid_thw=None, num_images=None, pixel_attention_mask=None,
                                           spatial_shapes=None, num_tiles=None, image_sizes=None,
                                           token_type_ids=None, mm_token_type_ids=None, image_position_ids=None):
        # Stand-in: there is no forward pass; every completion token gets log-prob 0.0 (entropy 0.0).
        shape = (input_ids.size(0), logits_to_keep)
        logps = torch.zeros(shape, device=input_ids.device)
        return logps, (torch.zeros(shape, device=input_ids.device) if compute_entropy else None), None

    # --- one generation batch ------------------------------------------------------------------------

    def _generate_and_score_completions(self, inputs):
        device = self.accelerator.device
        mode = "train" if self.model.training else "eval"

        prompts = [x["prompt"] for x in inputs]
        if "images" in inputs[0] or "image" in inputs[0]:
            raise NotImplementedError("stand-in: multimodal inputs are not simulated")
        images = None

        (prompt_ids_list, completion_ids_list, tool_mask_list, completions, sampling_per_token_logps_list,
         extra_fields, images, tool_images) = self._generate(prompts)

        prompt_ids = [torch.tensor(ids) for ids in prompt_ids_list]
        prompt_mask = [torch.ones_like(ids, dtype=torch.long) for ids in prompt_ids]
        prompt_ids = pad(prompt_ids, padding_value=self._tokenizer.pad_token_id, padding_side="left",
                         pad_to_multiple_of=self.pad_to_multiple_of).to(device=device)
        prompt_mask = pad(prompt_mask, padding_value=0, padding_side="left",
                          pad_to_multiple_of=self.pad_to_multiple_of).to(device=device)
        completion_ids = [torch.tensor(ids, dtype=torch.long) for ids in completion_ids_list]
        completion_mask = [torch.ones_like(ids, dtype=torch.long) for ids in completion_ids]
        completion_ids = pad(completion_ids, padding_value=self._tokenizer.pad_token_id, padding_side="right",
                             pad_to_multiple_of=self.pad_to_multiple_of).to(device=device)
        completion_mask = pad(completion_mask, padding_value=0, padding_side="right",
                              pad_to_multiple_of=self.pad_to_multiple_of).to(device=device)
        if sampling_per_token_logps_list is not None:
            sampling_per_token_logps = pad([torch.tensor(lp, dtype=torch.float32) for lp in sampling_per_token_logps_list],
                                           padding_value=0.0, padding_side="right",
                                           pad_to_multiple_of=self.pad_to_multiple_of).to(device=device)
        else:
            sampling_per_token_logps = None
        if tool_mask_list is not None:
            tool_mask = pad([torch.tensor(m) for m in tool_mask_list], padding_value=1, padding_side="right",
                            pad_to_multiple_of=self.pad_to_multiple_of).to(device=device)
        else:
            tool_mask = None

        if self.mask_truncated_completions:
            eos_and_pad = [self._tokenizer.eos_token_id, self._tokenizer.pad_token_id]
            is_truncated = torch.tensor([len(ids) == 0 or ids[-1] not in eos_and_pad for ids in completion_ids_list],
                                        device=device)
            completion_mask = completion_mask * (~is_truncated).unsqueeze(1).int()
            if tool_mask is not None:
                tool_mask = tool_mask * (~is_truncated).unsqueeze(1).int()

        loss_mask = completion_mask if tool_mask is None else completion_mask * tool_mask
        num_items_in_batch = self.accelerator.gather(loss_mask.sum()).sum()

        prompt_completion_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        logits_to_keep = completion_ids.size(1)
        batch_size = self.args.per_device_train_batch_size if mode == "train" else self.args.per_device_eval_batch_size

        with torch.no_grad():
            generate_every = self.args.steps_per_generation * self.num_iterations
            if self.args.gradient_accumulation_steps % generate_every != 0 or (
                    self.use_vllm and self.vllm_importance_sampling_correction):
                old_per_token_logps, _, _ = self._get_per_token_logps_and_entropies(
                    self.model, prompt_completion_ids, attention_mask, logits_to_keep, batch_size)
            else:
                old_per_token_logps = None

            if self.use_vllm and self.vllm_importance_sampling_correction:
                mask = completion_mask if tool_mask is None else completion_mask * tool_mask
                diff = (old_per_token_logps - sampling_per_token_logps) * mask
                sequence_level_is = self.vllm_importance_sampling_mode in ["sequence_mask", "sequence_truncate"]
                ratio = torch.exp(diff.sum(dim=-1, keepdim=True) if sequence_level_is else diff)
                if self.vllm_importance_sampling_mode in ["sequence_truncate", "token_truncate"]:
                    ratio = torch.clamp(ratio, min=self.vllm_importance_sampling_clip_min,
                                        max=self.vllm_importance_sampling_clip_max)
                elif self.vllm_importance_sampling_mode in ["sequence_mask", "token_mask"]:
                    lo = self.vllm_importance_sampling_clip_min
                    hi = self.vllm_importance_sampling_clip_max
                    lo = -math.inf if lo is None else lo
                    hi = math.inf if hi is None else hi
                    ratio = ratio.masked_fill((ratio < lo) | (ratio > hi), value=0.0)
                else:
                    raise ValueError(f"Unknown vLLM importance sampling level: {self.vllm_importance_sampling_mode}.")
                vllm_importance_sampling_ratio = ratio

            if self.beta != 0.0:
                ref_per_token_logps, _, _ = self._get_per_token_logps_and_entropies(
                    self.ref_model or self.model, prompt_completion_ids, attention_mask, logits_to_keep, batch_size)
            else:
                ref_per_token_logps = None

        prompts_text = self.processing_class.batch_decode(prompt_ids, skip_special_tokens=True)
        completions_text = self.processing_class.batch_decode(completion_ids, skip_special_tokens=True)

        if extra_fields:
            for i, inp in enumerate(inputs):
                for key, values in extra_fields.items():
                    if isinstance(values, list) and i < len(values):
                        inp[key] = values[i]
                    elif not isinstance(values, list):
                        inp[key] = values

        # Global rewards: [rows of all processes, reward functions]
        rewards_per_func = self._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        num_generations = self.num_generations if mode == "train" else self.num_generations_eval
        unscorable_mask = torch.isnan(rewards_per_func).all(dim=1)

        if self.multi_objective_aggregation == "sum_then_normalize":
            rewards = (rewards_per_func * self.reward_weights.to(device).unsqueeze(0)).nansum(dim=1)
            rewards[unscorable_mask] = torch.nan
            mean_grouped_rewards = torch.nanmean(rewards.view(-1, num_generations), dim=1)
            mean_grouped_rewards = mean_grouped_rewards.repeat_interleave(num_generations, dim=0)
            if self.scale_rewards in ["group", "none"]:
                if num_generations > 1:
                    std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)
                    std_rewards = std_rewards.repeat_interleave(num_generations, dim=0)
                else:
                    std_rewards = torch.zeros_like(rewards)
            elif self.scale_rewards == "batch":
                std_rewards = nanstd(rewards).expand_as(rewards) if rewards.numel() > 1 else torch.zeros_like(rewards)
            else:
                raise ValueError(f"Invalid value for scale_rewards: {self.scale_rewards}. "
                                 "Must be one of 'batch', 'group', or 'none'.")
            advantages = rewards - mean_grouped_rewards
            if self.scale_rewards != "none":
                advantages = advantages / (std_rewards + 1e-4)
            is_std_zero = torch.isclose(std_rewards, torch.zeros_like(std_rewards))
        elif self.multi_objective_aggregation == "normalize_then_sum":
            grouped = rewards_per_func.view(-1, num_generations, len(self.reward_funcs))
            mean_k = torch.nanmean(grouped, dim=1, keepdim=True)
            std_k = nanstd(grouped, dim=1, keepdim=True) if num_generations > 1 else torch.zeros_like(mean_k)
            reward_k = ((grouped - mean_k) / (std_k + 1e-4)).view(-1, len(self.reward_funcs))
            rewards = (reward_k * self.reward_weights.to(device).unsqueeze(0)).nansum(dim=1)
            rewards[unscorable_mask] = torch.nan
            std_rewards = nanstd(rewards).expand_as(rewards) if rewards.numel() > 1 else torch.zeros_like(rewards)
            advantages = (rewards - torch.nanmean(rewards)) / (std_rewards + 1e-4)
            is_std_zero = torch.isclose(std_rewards, torch.zeros_like(std_rewards))
        else:
            raise ValueError(f"Invalid multi_objective_aggregation: {self.multi_objective_aggregation}.")
        advantages = torch.nan_to_num(advantages, nan=0.0)

        # This process's part of the global batch
        process_slice = slice(self.accelerator.process_index * len(prompts),
                              (self.accelerator.process_index + 1) * len(prompts))
        all_process_advantages = advantages.clone()
        advantages = advantages[process_slice]

        for i, name in enumerate(self.reward_func_names):
            self._metrics[mode][f"rewards/{name}/mean"].append(torch.nanmean(rewards_per_func[:, i]).item())
            self._metrics[mode][f"rewards/{name}/std"].append(nanstd(rewards_per_func[:, i]).item())
        rewards = (rewards_per_func * self.reward_weights.to(rewards_per_func.device).unsqueeze(0)).nansum(dim=1)
        rewards[unscorable_mask] = torch.nan
        self._metrics[mode]["reward"].append(torch.nanmean(rewards).item())
        self._metrics[mode]["reward_std"].append(nanstd(rewards).item())
        self._metrics[mode]["frac_reward_zero_std"].append(is_std_zero.float().mean().item())

        self._logs["prompt"].extend(gather_object(prompts_text))
        self._logs["completion"].extend(gather_object(completions_text))
        for i, name in enumerate(self.reward_func_names):
            self._logs["rewards"][name].extend(rewards_per_func[:, i].tolist())
        self._logs["advantages"].extend(all_process_advantages.tolist())
        for column in sorted(self._pending_extra_logs):
            self._logs["extra"][column].extend(gather_object(self._pending_extra_logs[column]))
        self._pending_extra_logs.clear()
        for name in sorted(self._pending_metrics):
            values = self._pending_metrics[name]
            local_mean = sum(values) / len(values)
            self._metrics[mode][name].append(
                self.accelerator.gather(torch.tensor(local_mean, device=device)).mean().item())
        self._pending_metrics.clear()

        if self.use_vllm and self.vllm_importance_sampling_correction:
            flat = vllm_importance_sampling_ratio.flatten()
            self._metrics[mode]["sampling/importance_sampling_ratio/min"].append(
                nanmin(self.accelerator.gather(torch.min(flat))).item())
            self._metrics[mode]["sampling/importance_sampling_ratio/max"].append(
                nanmax(self.accelerator.gather(torch.max(flat))).item())

        output = {
            "prompt_ids": prompt_ids,
            "prompt_mask": prompt_mask,
            "completion_ids": completion_ids,
            "completion_mask": completion_mask,
            "advantages": advantages,
            "num_items_in_batch": num_items_in_batch,
        }
        if old_per_token_logps is not None:
            output["old_per_token_logps"] = old_per_token_logps
        if self.use_vllm and self.vllm_importance_sampling_correction:
            output["importance_sampling_ratio"] = vllm_importance_sampling_ratio
        if sampling_per_token_logps is not None:
            output["sampling_per_token_logps"] = sampling_per_token_logps
        if ref_per_token_logps is not None:
            output["ref_per_token_logps"] = ref_per_token_logps
        if tool_mask is not None:
            output["tool_mask"] = tool_mask
        return output

    # --- loss ----------------------------------------------------------------------------------------

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs:
            raise ValueError("The GRPOTrainer does not support returning outputs")
        return self._compute_loss(model, inputs)

    def _compute_loss(self, model, inputs):
        # Stand-in loss: with log-probs all zero, the clipped GRPO surrogate is -advantage per token;
        # aggregated as "dapo" (sum over tokens / num_items_in_batch of the whole accumulated batch).
        mask = inputs["completion_mask"].float()
        per_token_loss = -inputs["advantages"].unsqueeze(1) * mask
        normalizer = inputs["num_items_in_batch"].clamp(min=1.0) / self.accelerator.num_processes
        return per_token_loss.sum() / normalizer

    # --- logging -------------------------------------------------------------------------------------

    def log(self, logs, start_time=None):
        # (:3272) Every list in self._metrics[mode] is averaged (NaNs left out; None when nothing is
        # left) into the logs the Trainer hands to its reporting callbacks, then cleared. The
        # completions table (log_completions) is not simulated.
        mode = "train" if self.model.training else "eval"
        metrics = {}
        for key, val in self._metrics[mode].items():
            valid = [v for v in val if not math.isnan(v)]
            metrics[key] = sum(valid) / len(valid) if valid else None
        if mode == "eval":
            metrics = {f"eval_{key}": val for key, val in metrics.items()}
        logs.update(metrics)
        super().log(logs, start_time)
        self._metrics[mode].clear()

    # --- checkpoints ---------------------------------------------------------------------------------

    def _save_checkpoint(self, model, trial):
        if self.args.hub_model_id is None:
            model_name = Path(self.args.output_dir).name
        else:
            model_name = self.args.hub_model_id.split("/")[-1]
        self.create_model_card(model_name=model_name)
        super()._save_checkpoint(model, trial)
        if self.use_adaptive_entropy and self.args.should_save:
            checkpoint_folder = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            output_dir = os.path.join(self._get_output_dir(trial=trial), checkpoint_folder)
            with open(os.path.join(output_dir, "entropy_ctrl_state.json"), "w") as f:
                json.dump({"entropy_coef": self.entropy_coef, "last_world_entropy": self._last_world_entropy}, f)

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if self.use_adaptive_entropy and checkpoint is not None:
            path = os.path.join(checkpoint, "entropy_ctrl_state.json")
            if os.path.exists(path):
                with open(path) as f:
                    state = json.load(f)
                self.entropy_coef = state["entropy_coef"]
                self._last_world_entropy = state["last_world_entropy"]

