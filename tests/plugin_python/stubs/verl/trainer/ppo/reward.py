"""Stand-in for verl/trainer/ppo/reward.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7:
``compute_reward(data, reward_fn)`` (179-197): ``reward_fn(data, return_dict=True)`` -> its
"reward_tensor" and "reward_extra_info" (default {}); on ANY exception it prints, calls
``reward_fn(data)`` and uses no extras. (``extract_reward`` does not exist at this commit; it was
added later, and only recipe commits after the one verl pins, 21892b9, import it.)

``load_reward_manager(config, tokenizer, num_examine, **reward_kwargs)`` (102-176), the class
choice: ``config.reward_manager.source`` "register" -> ``get_reward_manager_cls(reward_manager.name)``
(the YAML default name is ``reward_model.reward_manager``, else naive); "importlib" ->
``load_extern_object(reward_manager.module.path, reward_manager.name)``. Then
``cls(tokenizer=, num_examine=, compute_score=, reward_fn_key=data.reward_fn_key, **reward_kwargs)``.
Not mirrored: custom_reward_function, sandbox fusion, RewardManagerBase managers
(compute_score is None here, which DAPORewardManager accepts).

Stand-in convenience: a ``reward_fn(batch)`` that returns a tuple ``(token_level_scores,
reward_extra_info)`` is also accepted (called without return_dict when it takes no such keyword).
A real reward manager (e.g. NaiveRewardManager) with return_dict=True returns
{"reward_tensor": [rows, response_length] float tensor, score on the last valid response token,
"reward_extra_info": {key: list per row}} - extras only when compute_score returns a dict
(its keys, e.g. "score", "acc"); a float score gives no extras on this path.
"""
import inspect


def _takes_return_dict(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return "return_dict" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def compute_reward(data, reward_fn):
    if not _takes_return_dict(reward_fn):  # the tuple form (stand-in convenience)
        result = reward_fn(data)
        if isinstance(result, tuple):
            tensor, extra = result
            return tensor, dict(extra or {})
        return result, {}
    try:
        reward_result = reward_fn(data, return_dict=True)
        reward_tensor = reward_result["reward_tensor"]
        reward_extra_infos_dict = reward_result.get("reward_extra_info", {})
    except Exception as e:
        print(f"Error in reward_fn: {e}")
        reward_tensor = reward_fn(data)
        reward_extra_infos_dict = {}
    return reward_tensor, reward_extra_infos_dict


def load_reward_manager(config, tokenizer, num_examine, **reward_kwargs):
    reward_manager_cfg = config.reward_manager
    if reward_manager_cfg.source == "register":
        from verl.workers.reward_manager import get_reward_manager_cls

        reward_manager_cls = get_reward_manager_cls(reward_manager_cfg.name)
    elif reward_manager_cfg.source == "importlib":
        from verl.utils.import_utils import load_extern_object

        module_cfg = reward_manager_cfg.module
        assert module_cfg is not None and module_cfg.path is not None
        reward_manager_cls = load_extern_object(module_path=module_cfg.path, object_name=reward_manager_cfg.name)
    return reward_manager_cls(tokenizer=tokenizer, num_examine=num_examine, compute_score=None,
                              reward_fn_key=config.data.reward_fn_key, **reward_kwargs)
