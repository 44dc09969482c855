"""Stand-in for verl/workers/reward_manager/registry.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7:
``register(name)`` (a class decorator; a second, different class under one name is a ValueError) and
``get_reward_manager_cls(name)`` (ValueError "Unknown reward manager" when absent)."""
REWARD_MANAGER_REGISTRY = {}


def register(name):
    def decorator(cls):
        if name in REWARD_MANAGER_REGISTRY and REWARD_MANAGER_REGISTRY[name] != cls:
            raise ValueError(f"Reward manager {name} has already been registered")
        REWARD_MANAGER_REGISTRY[name] = cls
        return cls

    return decorator


def get_reward_manager_cls(name):
    if name not in REWARD_MANAGER_REGISTRY:
        raise ValueError(f"Unknown reward manager: {name}")
    return REWARD_MANAGER_REGISTRY[name]
