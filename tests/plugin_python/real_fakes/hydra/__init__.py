"""Fake of hydra (hydra-core is not packaged in Debian, no PyPI here). verl.trainer.main_ppo
decorates its command-line entry point with ``hydra.main`` at import time; the tests call the
module's functions, never the entry point, so the decorator leaves the function as it is. Other
hydra names are placeholders (real_frameworks.PLACEHOLDERS)."""


def main(config_path=None, config_name=None, version_base=None):
    return lambda task_function: task_function
