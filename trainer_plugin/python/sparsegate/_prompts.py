"""Prompt plumbing shared by the adapters: ids, text, hints and rewards in the shapes trainers use.

Contract:
- ``stable_id(text)`` is the same string for the same prompt text in every process and every run
  (a hash, not Python's salted ``hash``), so a prompt keeps its plugin history across epochs and
  restarts when the dataset has no id column.
- A prompt is either a string or a chat (a list of ``{"role", "content"}`` messages). Its *text*,
  what the service scores and what hints extend, is the string itself, or the content of the
  chat's last user message. ``with_hint`` appends a hint block there and returns a new prompt; it
  never mutates the caller's.
- ``unit_rewards`` maps one group's rewards into [0, 1], the range the plugin accepts: booleans
  become 0/1, values are clamped (a -1/+1 verifier gives 0/1), and NaN (an unscorable rollout)
  is left out.
"""

import copy
import hashlib
import math
from typing import Any, Iterable, List, Mapping, Optional, Sequence


def stable_id(text: str) -> str:
    """A short, stable id for a prompt: the first 16 hex digits of SHA-256 over its UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _content_text(content: Any) -> str:
    # Multimodal chats hold a list of parts; the text parts are what a text-only scorer can read.
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return str(content)


def _last_user_index(messages: Sequence[Mapping[str, Any]]) -> Optional[int]:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            return i
    return None


def is_chat(prompt: Any) -> bool:
    return (not isinstance(prompt, str)) and isinstance(prompt, Sequence) and all(
        isinstance(m, Mapping) and "role" in m for m in prompt)


def prompt_text(prompt: Any) -> str:
    """The text of a prompt: itself, or its chat's last user message."""
    if isinstance(prompt, str):
        return prompt
    if is_chat(prompt):
        i = _last_user_index(prompt)
        return _content_text(prompt[i]["content"]) if i is not None else ""
    raise TypeError(f"a prompt is a str or a list of chat messages, not {type(prompt).__name__}")


def with_hint(prompt: Any, hint_text: str) -> Any:
    """The prompt with ``hint_text`` appended to its text (the user turn, as GHPO does)."""
    if not hint_text:
        return prompt
    if isinstance(prompt, str):
        return prompt + hint_text
    if not is_chat(prompt):
        raise TypeError(f"a prompt is a str or a list of chat messages, not {type(prompt).__name__}")
    messages = [dict(m) for m in prompt]
    i = _last_user_index(messages)
    if i is None:
        raise ValueError("the chat has no user message to put the hint in")
    content = messages[i]["content"]
    if isinstance(content, str):
        messages[i]["content"] = content + hint_text
    else:  # multimodal parts: the hint is one more text part, after the others
        messages[i]["content"] = copy.deepcopy(list(content)) + [{"type": "text", "text": hint_text}]
    return messages


def hinted_prompt(prompt: Any, text: str) -> Any:
    """The prompt whose text has become ``text``: what Gate.decide's ``fits`` is asked about, a
    hinted text that extends the prompt's own text."""
    original = prompt_text(prompt)
    if not text.startswith(original):
        raise ValueError("the hinted text does not extend the prompt's text")
    return with_hint(prompt, text[len(original):])


def lookup(row: Mapping[str, Any], path: Optional[str]) -> Any:
    """``row["a"]["b"]`` for path "a.b"; None when any step is missing or path is None."""
    if path is None:
        return None
    value: Any = row
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _number(v: Any) -> float:
    return float(v.item() if hasattr(v, "item") else v)  # numpy and torch scalars too


def _unit_reward(v: Any) -> Optional[float]:
    """One reward in [0, 1], or None for NaN (see the module docstring)."""
    v = _number(v)
    return None if math.isnan(v) else min(1.0, max(0.0, v))


def unit_rewards(values: Iterable[Any]) -> List[float]:
    """One group's rewards in [0, 1], NaNs left out (see the module docstring)."""
    return [r for r in map(_unit_reward, values) if r is not None]


def unit_group(values: Sequence[Any], completion_tokens: Optional[Sequence[Any]] = None):
    """(rewards, completion lengths) of one group for ``observe``: the rewards as ``unit_rewards``
    gives them, and the lengths of those same rollouts (a NaN reward's rollout left out of both),
    or None when no lengths were given."""
    if completion_tokens is None:
        return unit_rewards(values), None
    if len(completion_tokens) != len(values):
        raise ValueError(f"{len(values)} rewards but {len(completion_tokens)} completion lengths")
    kept = [(r, _number(n)) for r, n in zip(map(_unit_reward, values), completion_tokens) if r is not None]
    return [r for r, _ in kept], [n for _, n in kept]


def _digest_number(digest: Any) -> Optional[float]:
    # The first 24 bits of the hex digest: loggers take numbers only, and 24 bits are exact in the
    # float32 that TensorBoard stores.
    hex_digits = "".join(c for c in str(digest or "").split(":")[-1] if c in "0123456789abcdefABCDEF")
    return float(int(hex_digits[:6], 16)) if len(hex_digits) >= 6 else None


def _pass_rate_sums(stats: Mapping[str, Any]):
    """(unhinted groups, sum of their predicted pass rates, sum of their observed pass rates)."""
    calibration = stats.get("predicted_vs_observed") or {}
    groups = predicted = observed = 0.0
    for bin in calibration.get("bins") or []:
        n = bin.get("groups") or 0
        if n:
            groups += n
            predicted += n * bin["mean_predicted"]
            observed += n * bin["mean_observed"]
    return groups, predicted, observed


def plugin_metrics(stats: Mapping[str, Any], previous: Optional[Mapping[str, Any]] = None,
                   scoring_seconds: Optional[float] = None, prefix: str = "sparsegate/") -> dict:
    """The plugin's counters for a framework's own per-step logger: a flat dict of floats, every
    key under ``prefix``. ``stats`` is Gate.stats() (or TrainerPlugin.stats()) after the step,
    ``previous`` the same before it (None: counted from zero).

    Per step (what changed since ``previous``): ``decisions/<kind>`` for keep, guide, drop and
    defer; ``fail_open`` (decisions that fell back because the service did not answer);
    ``hint_level/<k>`` (decisions at rung k, 0 = no hint); ``observed_groups``; ``guided_groups``
    and ``guided_zero_pass_groups`` (hinted groups observed, and those with no success);
    ``hint_variants_scored`` (hinted variants scored to choose rungs by prediction); and, over the
    unhinted groups observed in the step, ``predicted_pass_rate`` and ``observed_pass_rate``
    (absent when the step observed none, so that a logger's average is not pulled to zero).
    ``scoring_seconds`` when given: the wall time the adapter spent in Gate.decide (the service
    call and the decisions). Levels: ``epoch``, ``quarantined_prompts``, ``deferred_prompts``, and
    ``model_digest``, the first 24 bits of the scoring model's digest as a number, when the gate
    has one (a change says the service now runs another model). When a window of the forward
    quality closed in the step: ``forward/ece_predicted``, ``forward/ece_expected`` and
    ``forward/auroc`` of that window (the decisions' own numbers against the outcomes after).
    """
    previous = previous or {}
    out = {}

    def delta(value, before):
        return float((value or 0) - (before or 0))

    decisions, before = stats.get("decisions") or {}, previous.get("decisions") or {}
    for kind in ("keep", "guide", "drop", "defer"):
        out[f"{prefix}decisions/{kind}"] = delta(decisions.get(kind), before.get(kind))
    out[f"{prefix}fail_open"] = delta(stats.get("fail_open_decisions"), previous.get("fail_open_decisions"))
    levels, before = stats.get("decisions_by_hint_level") or [], previous.get("decisions_by_hint_level") or []
    for k, count in enumerate(levels):
        out[f"{prefix}hint_level/{k}"] = delta(count, before[k] if k < len(before) else 0)
    for key in ("observed_groups", "guided_groups", "guided_zero_pass_groups", "hint_variants_scored"):
        out[prefix + key] = delta(stats.get(key), previous.get(key))
    groups, predicted, observed = _pass_rate_sums(stats)
    groups_before, predicted_before, observed_before = _pass_rate_sums(previous)
    if groups > groups_before:
        out[f"{prefix}predicted_pass_rate"] = (predicted - predicted_before) / (groups - groups_before)
        out[f"{prefix}observed_pass_rate"] = (observed - observed_before) / (groups - groups_before)
    if scoring_seconds is not None:
        out[f"{prefix}scoring_seconds"] = float(scoring_seconds)
    for key in ("epoch", "quarantined_prompts", "deferred_prompts"):
        if stats.get(key) is not None:
            out[prefix + key] = float(stats[key])
    digest = _digest_number(stats.get("model_digest"))
    if digest is not None:
        out[f"{prefix}model_digest"] = digest
    windows = (stats.get("forward_quality") or {}).get("windows") or []
    windows_before = (previous.get("forward_quality") or {}).get("windows") or []
    if windows and (not windows_before or windows[-1]["first_group"] != windows_before[-1]["first_group"]):
        newest = windows[-1]
        for name, value in (("forward/ece_predicted", newest["predicted"]["expected_calibration_error"]),
                            ("forward/ece_expected", newest["expected"]["expected_calibration_error"]),
                            ("forward/auroc", newest["predicted"]["zero_pass_auroc"])):
            if value is not None:
                out[prefix + name] = float(value)
    return out
