"""Stand-in for verl/trainer/ppo/core_algos.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7:
only ``AdvantageEstimator`` (a str Enum; values as in the real one for the common estimators)."""
from enum import Enum


class AdvantageEstimator(str, Enum):
    GAE = "gae"
    GRPO = "grpo"
    REINFORCE_PLUS_PLUS = "reinforce_plus_plus"
    REINFORCE_PLUS_PLUS_BASELINE = "reinforce_plus_plus_baseline"
    REMAX = "remax"
    RLOO = "rloo"
    OPO = "opo"
    GRPO_PASSK = "grpo_passk"
    GPG = "gpg"
