"""What one AgentLoopWorker does with a chunk under the default ``single_turn_agent`` loop, at
volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7:
verl/experimental/agent_loop/single_turn_agent_loop.py (SingleTurnAgentLoop.run, 40-84) and
verl/experimental/agent_loop/agent_loop.py (AgentLoopWorker.generate_sequences 406-485,
_agent_loop_postprocess 521-640, _compute_score 701-730, _postprocess 732-806;
AgentLoopBase.apply_chat_template 247-310).

``single_turn_agent_loop(gen_batch, tokenizer, config, respond, reward_loop=None) -> DataProto``
- input: the (repeated) gen batch: ``batch`` None, non_tensor_batch = every dataset column plus
  ``uid`` (``_get_gen_batch`` copies the reward keys back in async mode). ``agent_name`` is added
  when absent (default ``rollout.agent.default_agent_loop``); every row's non-tensor values go to
  the loop as kwargs; the loop reads only ``raw_prompt``.
- prompt: ``tokenizer.apply_chat_template(list(raw_prompt), tools=tool_schemas,
  add_generation_prompt=True, tokenize=True, **data.apply_chat_template_kwargs)``, where
  tool_schemas are those of ``data.tool_config_path`` (SingleTurnAgentLoop.__init__ 31-38; [] without
  one). NOT truncated to max_prompt_length. With ``processor`` given, AgentLoopBase.apply_chat_template's
  processor branch instead: ``processor.apply_chat_template(messages, tools=..., add_generation_prompt=True,
  tokenize=False, **kwargs)`` then ``processor(text=[raw], images=None, videos=None, ...)["input_ids"]``
  (text-only rows: vision inputs are not mirrored).
- response: ``respond(prompt_ids, row) -> list[int]`` stands for the LLM server; cut to
  ``rollout.response_length`` (the only truncation); response_mask all 1.
- padding: prompt LEFT-padded with ``tokenizer.pad`` semantics to ``rollout.prompt_length``
  (= data.max_prompt_length by default), padding="max_length", which never truncates: a longer
  prompt keeps its length, and the per-row tensors of unequal width then fail in ``torch.cat``
  (RuntimeError) in _postprocess (or in DataProto.concat across workers). Response RIGHT-padded
  to ``rollout.response_length``. pad id: ``tokenizer.pad_token_id``.
- reward loop (``reward_model.use_reward_loop``, default true, with no separate RM): per row a
  single-row DataProto (prompts/responses/attention_mask/input_ids/position_ids; non-tensor kwargs
  plus ``__num_turns__`` and ``tool_extra_fields``) goes to ``reward_loop(data) -> {"reward_score":
  float, "reward_extra_info": dict}`` (RewardLoopWorker.compute_score; the naive reward loop gives
  {"acc": score} for a float score, or the score dict itself). Pass ``reward_loop=None`` for the
  path where the trainer's ``reward_fn`` computes rewards instead.
- output DataProto: batch = prompts, responses, response_mask, input_ids, attention_mask,
  position_ids (+ rm_scores [rows, response_length], the score on the last valid response token,
  when every row has a reward_score); non_tensor_batch = ONLY ``__num_turns__`` (int32, 2),
  the reward extra keys (np.array of the values, e.g. "acc", "score"), ``multi_modal_inputs``
  (an object array of {} per row for text-only models: the real ``{}`` is not None so the key is
  always there), ``raw_prompt`` and, with a reward loop, ``reward_extra_info`` (per-row dict).
  meta_info = {"metrics": [per-row dicts], plus "reward_extra_keys" when rm_scores is set}.
  Dataset columns (index, extra_info, data_source, uid, agent_name, tools_kwargs, ...) are not in it.
"""
import numpy as np
import torch

from verl import DataProto
from verl.protocol import TensorDict
from verl.utils.dataset.rl_dataset import get_dataset_class


def _pad(ids, length, pad_id, side):
    ids = list(ids)
    missing = length - len(ids)  # negative: HF tokenizer.pad leaves it as is (no truncation)
    mask = [1] * len(ids)
    if missing > 0:
        if side == "left":
            ids, mask = [pad_id] * missing + ids, [0] * missing + mask
        else:
            ids, mask = ids + [pad_id] * missing, mask + [0] * missing
    return torch.tensor([ids], dtype=torch.long), torch.tensor([mask], dtype=torch.long)


def _position_ids(attention_mask):
    # verl.utils.model.compute_position_id_with_mask: cumsum(mask) - 1, clipped at 0
    return torch.clip(torch.cumsum(attention_mask, dim=-1) - 1, min=0, max=None)


def single_turn_agent_loop(gen_batch, tokenizer, config, respond, reward_loop=None, processor=None):
    rollout = config.actor_rollout_ref.rollout
    tool_schemas = []
    if config.data.get("tool_config_path"):
        from verl.tools.utils.tool_registry import initialize_tools_from_config

        tool_schemas = [tool.tool_schema.model_dump(exclude_unset=True, exclude_none=True)
                        for tool in initialize_tools_from_config(config.data.tool_config_path)]
    prompt_length = rollout.prompt_length
    response_length = rollout.response_length
    apply_kwargs = dict(config.data.get("apply_chat_template_kwargs", {}) or {})
    get_dataset_class(config.data)  # the worker resolves data.custom_cls itself (agent_loop.py:366)
    pad_id = getattr(tokenizer, "pad_token_id", None) or 0

    non_tensor = dict(gen_batch.non_tensor_batch)
    if "agent_name" not in non_tensor:
        default = rollout.get("agent", {}).get("default_agent_loop", "single_turn_agent")
        non_tensor["agent_name"] = np.array([default] * len(gen_batch), dtype=object)

    rows = []
    for i in range(len(gen_batch)):
        kwargs = {k: v[i] for k, v in non_tensor.items()}
        messages = list(kwargs["raw_prompt"])
        if processor is not None:
            raw = processor.apply_chat_template(messages, tools=tool_schemas, add_generation_prompt=True,
                                                tokenize=False, **apply_kwargs)
            prompt_ids = list(processor(text=[raw], images=None, videos=None, video_metadatas=None,
                                        return_tensors="pt", do_sample_frames=False)["input_ids"][0])
        else:
            prompt_ids = list(tokenizer.apply_chat_template(messages, tools=tool_schemas, add_generation_prompt=True,
                                                            tokenize=True, **apply_kwargs))
        token_ids = list(respond(prompt_ids, kwargs))
        response_ids = token_ids[:response_length]
        response_mask = ([1] * len(token_ids))[:response_length]
        extra_fields = {}

        prompt_t, prompt_mask = _pad(prompt_ids, prompt_length, pad_id, "left")
        resp_t, resp_attn = _pad(response_ids, response_length, pad_id, "right")
        resp_mask_t, _ = _pad(response_mask, response_length, pad_id, "right")
        response_mask_t = resp_mask_t * resp_attn
        attention_mask = torch.cat([prompt_mask, resp_attn], dim=1)
        input_ids = torch.cat([prompt_t, resp_t], dim=1)
        position_ids = _position_ids(attention_mask)

        reward_score = None
        if reward_loop is not None:
            data = DataProto(
                batch=TensorDict({"prompts": prompt_t, "responses": resp_t, "attention_mask": attention_mask,
                                  "input_ids": input_ids, "position_ids": position_ids}, batch_size=(1,)),
                non_tensor_batch={**{k: np.array([v]) for k, v in kwargs.items()},
                                  "__num_turns__": np.array([2]),
                                  "tool_extra_fields": np.array([extra_fields], dtype=object)})
            result = reward_loop(data)
            reward_score = result["reward_score"]
            extra_fields["reward_extra_info"] = result["reward_extra_info"]
        extra_fields["raw_prompt"] = kwargs["raw_prompt"]
        rows.append(dict(prompts=prompt_t, responses=resp_t, response_mask=response_mask_t, input_ids=input_ids,
                         attention_mask=attention_mask, position_ids=position_ids, reward_score=reward_score,
                         extra_fields=extra_fields,
                         metrics={"generate_sequences": 0.0, "tool_calls": 0.0, "num_preempted": -1}))
    return _postprocess(rows)


def _postprocess(rows):
    names = ["prompts", "responses", "response_mask", "input_ids", "attention_mask", "position_ids"]
    tensors = {k: torch.cat([r[k] for r in rows], dim=0) for k in names}  # unequal widths -> RuntimeError
    batch = TensorDict(tensors, batch_size=(len(rows),))
    scores = [r["reward_score"] for r in rows]
    if all(s is not None for s in scores):
        plen = tensors["prompts"].size(1)
        last = tensors["attention_mask"][:, plen:].sum(dim=1) - 1
        rm_scores = torch.zeros_like(tensors["response_mask"], dtype=torch.float32)
        rm_scores[torch.arange(len(rows)), last] = torch.tensor(scores, dtype=torch.float32)
        batch["rm_scores"] = rm_scores

    non_tensor = {"__num_turns__": np.array([2] * len(rows), dtype=np.int32)}
    infos = [r["extra_fields"].get("reward_extra_info", {}) for r in rows]
    reward_extra_keys = list(infos[0].keys())
    for key in reward_extra_keys:
        non_tensor[key] = np.array([info[key] for info in infos])
    mmi = np.empty(len(rows), dtype=object)
    mmi[:] = [{} for _ in rows]
    non_tensor["multi_modal_inputs"] = mmi
    for key in set(k for r in rows for k in r["extra_fields"]):
        arr = np.empty(len(rows), dtype=object)
        arr[:] = [r["extra_fields"].get(key) for r in rows]
        non_tensor[key] = arr

    metrics = [r["metrics"] for r in rows]
    meta_info = {"metrics": metrics, "reward_extra_keys": reward_extra_keys} if "rm_scores" in batch else {"metrics": metrics}
    return DataProto(batch=batch, non_tensor_batch=non_tensor, meta_info=meta_info)
