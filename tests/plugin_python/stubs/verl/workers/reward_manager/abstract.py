"""Stand-in for verl/workers/reward_manager/abstract.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7.

``AbstractRewardManager`` (27): abstract ``__init__(tokenizer, num_examine, compute_score,
reward_fn_key="data_source", **kwargs)`` and ``__call__(data, return_dict=False)``;
``_extract_reward_from_rm_scores(data, return_dict=False)`` (47): None without ``rm_scores``
in ``data.batch``; else the tensor, or with return_dict {"reward_tensor": rm_scores,
"reward_extra_info": {key: non_tensor_batch[key] for key in meta_info["reward_extra_keys"]}}.
"""
from abc import ABC, abstractmethod


class AbstractRewardManager(ABC):
    @abstractmethod
    def __init__(self, tokenizer, num_examine, compute_score, reward_fn_key="data_source", **kwargs):
        pass

    @abstractmethod
    def __call__(self, data, return_dict=False):
        pass

    def _extract_reward_from_rm_scores(self, data, return_dict=False):
        if "rm_scores" not in data.batch.keys():
            return None
        if return_dict:
            reward_extra_keys = data.meta_info.get("reward_extra_keys", [])
            reward_extra_info = {key: data.non_tensor_batch[key] for key in reward_extra_keys}
            return {"reward_tensor": data.batch["rm_scores"], "reward_extra_info": reward_extra_info}
        return data.batch["rm_scores"]
