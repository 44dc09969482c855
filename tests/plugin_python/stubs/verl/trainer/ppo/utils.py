"""Stand-in for verl/trainer/ppo/utils.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7:
``Role`` (str() gives "actor_rollout", "critic", ... - the critic checkpoint folder name),
``need_reference_policy``, ``need_reward_model``, ``need_critic``."""
import warnings
from enum import Enum

from verl.trainer.ppo.core_algos import AdvantageEstimator


class Role(Enum):
    Actor = 0
    Rollout = 1
    ActorRollout = 2
    Critic = 3
    RefPolicy = 4
    RewardModel = 5
    ActorRolloutRef = 6
    Env = 7

    def __str__(self):
        return {Role.Actor: "actor", Role.Rollout: "rollout", Role.ActorRollout: "actor_rollout",
                Role.Critic: "critic", Role.RefPolicy: "ref", Role.RewardModel: "rm",
                Role.ActorRolloutRef: "actor_rollout_ref"}.get(self, self.name.lower())


def need_reference_policy(config) -> bool:
    return config.algorithm.use_kl_in_reward or config.actor_rollout_ref.actor.use_kl_loss


def need_reward_model(role_worker_mapping) -> bool:
    return Role.RewardModel in role_worker_mapping


def need_critic(config) -> bool:
    if config.critic.get("enable") is not None:
        return bool(config.critic.enable)
    elif config.algorithm.adv_estimator == AdvantageEstimator.GAE:
        return True
    warnings.warn("Disabled critic as algorithm.adv_estimator != gae.", stacklevel=2)
    return False
