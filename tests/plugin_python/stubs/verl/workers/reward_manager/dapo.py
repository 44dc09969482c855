"""Stand-in for verl/workers/reward_manager/dapo.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7.

``DAPORewardManager`` (registered "dapo"; 26), ``__init__(tokenizer, num_examine, compute_score=None,
reward_fn_key="data_source", max_resp_len=None, overlong_buffer_cfg=None)`` (29; with an overlong
buffer config, max_resp_len is required and at least its len). ``__call__(data, return_dict=False)``
(53): first ``_extract_reward_from_rm_scores`` - with the agent loop's reward loop on (the
default), rewards already sit in ``rm_scores`` and are returned as they are. Scoring the batch itself
(decode, compute_score per row, the overlong penalty) is not mirrored: NotImplementedError.
"""
from verl.workers.reward_manager.abstract import AbstractRewardManager
from verl.workers.reward_manager.registry import register


@register("dapo")
class DAPORewardManager(AbstractRewardManager):
    def __init__(self, tokenizer, num_examine, compute_score=None, reward_fn_key="data_source", max_resp_len=None,
                 overlong_buffer_cfg=None) -> None:
        self.tokenizer = tokenizer
        self.num_examine = num_examine
        self.compute_score = compute_score
        self.reward_fn_key = reward_fn_key
        self.overlong_buffer_cfg = overlong_buffer_cfg
        self.max_resp_len = max_resp_len
        if self.overlong_buffer_cfg is not None:
            assert self.max_resp_len is not None
            assert self.max_resp_len >= self.overlong_buffer_cfg.len

    def __call__(self, data, return_dict: bool = False):
        reward_from_rm_scores = self._extract_reward_from_rm_scores(data, return_dict)
        if reward_from_rm_scores is not None:
            return reward_from_rm_scores
        raise NotImplementedError("the stand-in mirrors only the reward-loop path (rm_scores already computed)")
