"""Stand-in for trl/data_utils.py (huggingface/trl at f2cd57710ae345ea6428ae95363267fcf38a3dc8): is_conversational (data_utils.py:160).

An example is conversational when its first supported key ("prompt", "chosen", "rejected",
"completion", "messages") holds a list whose first item is a dict with a "role"."""
from typing import Any


def is_conversational(example: dict[str, Any]) -> bool:
    supported_keys = ["prompt", "chosen", "rejected", "completion", "messages"]
    example_keys = {key for key in example.keys() if key in supported_keys}
    if example_keys:
        value = example[example_keys.pop()]
        if isinstance(value, list) and value:
            first = value[0]
            if isinstance(first, dict) and "role" in first:
                return True
    return False
