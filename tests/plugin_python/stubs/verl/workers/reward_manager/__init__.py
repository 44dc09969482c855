"""Stand-in for verl/workers/reward_manager/__init__.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7:
``register``, ``get_reward_manager_cls`` (registry.py) and ``DAPORewardManager`` (dapo.py, registered as
"dapo"). The real package also registers naive, batch and prime managers; they are not mirrored."""
from .registry import get_reward_manager_cls, register  # noqa: I001
from .dapo import DAPORewardManager

__all__ = ["DAPORewardManager", "register", "get_reward_manager_cls"]
