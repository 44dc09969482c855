"""A fake causal LM and a byte tokenizer for the TRL stand-in (no real counterpart).

``FakeCausalLM(generate_fn)`` is what a test passes as GRPOTrainer's ``model``: it is a
``transformers.PreTrainedModel`` (an nn.Module, so ``training`` / ``train()`` / ``eval()`` work) whose
``generate(input_ids, attention_mask, generation_config)`` decodes each (left-padded) prompt row
to text, calls ``generate_fn(list_of_prompt_texts) -> list_of_completion_texts`` once per call,
and returns ``cat([input_ids, completion_ids])`` the way HF generate does: each completion's bytes,
then EOS, cut at ``generation_config.max_new_tokens`` (a cut completion has no EOS), right-padded.
The prompt text ``generate_fn`` sees is what the policy would see: a string prompt as is, a chat
rendered by ``ByteTokenizer.apply_chat_template`` (``"<|role|>\\ncontent\\n"`` per message, then
``"<|assistant|>\\n"``; with ``tools``, first a ``"<|tools|>\\n"`` block of one JSON line per tool,
its name and description, as HF templates put the tools' schemas into the prompt). The same
model serves the simulated vLLM paths (``complete``).

What else a trainer touches on a causal LM is there too, so that the real GRPOTrainer (trl f2cd577)
can train it: a ``config`` (transformers.PretrainedConfig: ``name_or_path``, ``vocab_size``,
``get_text_config()``, the special token ids), ``generation_config``, and ``forward(input_ids,
attention_mask, logits_to_keep=0, use_cache=None)`` returning ``CausalLMOutputWithPast(logits=...)``
of shape (batch, length or logits_to_keep, vocab). The logits are one trainable bias per vocabulary
entry, the same at every position: they give the trainer log-probs, an entropy and a loss with a
gradient, and have nothing to do with what ``generate`` returns.

``ByteTokenizer`` is a ``PreTrainedTokenizerBase``: token = UTF-8 byte + 3; pad=0, eos=1, bos=2
(special, dropped by ``skip_special_tokens``). It implements what GRPOTrainer calls:
``__call__(text=...)["input_ids"]``, ``apply_chat_template(conversation=..., tokenize=True,
return_dict=True, add_generation_prompt=True, ...)``, ``batch_decode``, ``decode``.
"""
import json
from typing import Callable, List, Sequence

import torch
from torch import nn

from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase
from transformers.modeling_outputs import CausalLMOutputWithPast

OFFSET = 3
VOCAB_SIZE = 256 + OFFSET


def _content_text(content) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")


class ByteTokenizer(PreTrainedTokenizerBase):
    pad_token, eos_token, bos_token = "<pad>", "<eos>", "<bos>"
    pad_token_id, eos_token_id, bos_token_id = 0, 1, 2
    unk_token_id = None

    def __init__(self, padding_side: str = "left", truncation_side: str = "left"):
        self.padding_side = padding_side
        self.truncation_side = truncation_side

    def encode(self, text: str, add_special_tokens: bool = False) -> List[int]:
        return [b + OFFSET for b in text.encode("utf-8")]

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        names = {self.pad_token_id: self.pad_token, self.eos_token_id: self.eos_token,
                 self.bos_token_id: self.bos_token}
        out, raw = [], bytearray()
        for t in ids:
            if t >= OFFSET:
                raw.append(t - OFFSET)
                continue
            if not skip_special_tokens:
                out.append(raw.decode("utf-8", errors="replace"))
                raw = bytearray()
                out.append(names[t])
        out.append(raw.decode("utf-8", errors="replace"))
        return "".join(out)

    def batch_decode(self, sequences, skip_special_tokens: bool = False) -> List[str]:
        return [self.decode(s, skip_special_tokens=skip_special_tokens) for s in sequences]

    def __call__(self, text=None, **kwargs):
        texts = [text] if isinstance(text, str) else list(text)
        ids = [self.encode(t) for t in texts]
        return {"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids]}

    def render_chat(self, messages: Sequence[dict], add_generation_prompt: bool = True, tools=None) -> str:
        text = ""
        if tools:
            schemas = [{"name": t.__name__, "description": (t.__doc__ or "").strip().split("\n")[0]} for t in tools]
            text = "<|tools|>\n" + "".join(json.dumps(schema) + "\n" for schema in schemas)
        text += "".join(f"<|{m['role']}|>\n{_content_text(m['content'])}\n" for m in messages)
        return text + ("<|assistant|>\n" if add_generation_prompt else "")

    def apply_chat_template(self, conversation, tools=None, chat_template=None, add_generation_prompt=False,
                            tokenize=True, return_dict=False, **kwargs):
        batched = len(conversation) > 0 and isinstance(conversation[0], (list, tuple))
        chats = conversation if batched else [conversation]
        texts = [self.render_chat(c, add_generation_prompt, tools) for c in chats]
        if not tokenize:
            return texts if batched else texts[0]
        ids = [self.encode(t) for t in texts]
        if return_dict:
            return {"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids]}
        return ids if batched else ids[0]


class FakeCausalLM(PreTrainedModel):
    def __init__(self, generate_fn: Callable[[List[str]], List[str]], tokenizer: ByteTokenizer = None,
                 name_or_path: str = "stand-in/fake-causal-lm"):
        tokenizer = tokenizer or ByteTokenizer()
        super().__init__(PretrainedConfig(name_or_path=name_or_path, vocab_size=VOCAB_SIZE, tie_word_embeddings=False,
                                          pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                                          eos_token_id=tokenizer.eos_token_id))
        self.generate_fn = generate_fn
        self.tokenizer = tokenizer
        self.generate_calls: List[List[str]] = []  # prompt texts of every call, for tests
        # The only weights: one logit per vocabulary entry, the same at every position. Enough for a
        # trainer's log-probs and loss to be computed, and to carry a gradient; what is generated comes
        # from generate_fn, not from these.
        self.lm_head_bias = nn.Parameter(torch.zeros(VOCAB_SIZE))

    def forward(self, input_ids=None, attention_mask=None, use_cache=None, logits_to_keep=0, **kwargs):
        """(B, L, vocab) logits, or the last ``logits_to_keep`` positions' (0: all), as a causal LM's
        forward returns them."""
        length = input_ids.shape[1] if not logits_to_keep else min(int(logits_to_keep), input_ids.shape[1])
        logits = self.lm_head_bias.view(1, 1, -1).repeat(input_ids.shape[0], length, 1)
        return CausalLMOutputWithPast(logits=logits)

    def complete(self, prompt_ids: Sequence[Sequence[int]], max_new_tokens) -> List[List[int]]:
        """One completion (token ids, EOS included unless cut) per prompt, from generate_fn."""
        texts = [self.tokenizer.decode([t for t in ids if t >= OFFSET]) for ids in prompt_ids]
        self.generate_calls.append(texts)
        completions = list(self.generate_fn(texts))
        if len(completions) != len(texts):
            raise ValueError(f"generate_fn returned {len(completions)} completions for {len(texts)} prompts")
        out = []
        for c in completions:
            ids = self.tokenizer.encode(c) + [self.tokenizer.eos_token_id]
            out.append(ids[:max_new_tokens] if max_new_tokens is not None else ids)
        return out

    def generate(self, input_ids=None, attention_mask=None, generation_config=None, **kwargs):
        max_new = getattr(generation_config, "max_new_tokens", None) if generation_config is not None else None
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        rows = [ids[mask.bool()].tolist() for ids, mask in zip(input_ids, attention_mask)]
        completions = self.complete(rows, max_new)
        width = max(1, max(len(c) for c in completions))
        pad_id = getattr(generation_config, "pad_token_id", None)
        pad_id = self.tokenizer.pad_token_id if pad_id is None else pad_id
        tail = torch.full((len(completions), width), pad_id, dtype=input_ids.dtype, device=input_ids.device)
        for i, c in enumerate(completions):
            tail[i, :len(c)] = torch.tensor(c, dtype=input_ids.dtype)
        return torch.cat([input_ids, tail], dim=1)
