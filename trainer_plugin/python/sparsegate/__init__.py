"""sparsegate: decide, before any rollout is spent, what to do with each prompt of an RL batch.

The core (``sparsegate._core``) is the C++ trainer plugin, bound with pybind11:

    gate = sparsegate.Gate.create(target="localhost:50051", hint_ladder=[0.25, 0.5, 0.75])
    decisions = gate.decide([{"id": "q1", "text": prompt, "reference": solution}, ...])
    for d in decisions:          # d.kind: "keep" | "guide" | "drop" | "defer"
        if d.rolled_out:         # keep and guide; roll out d.prompt_text (the hinted prompt for guide)
            ...
    gate.observe("q1", rewards)  # the G rollouts' rewards, each in [0, 1]
    gate.save(path); gate.load(path); gate.stats()

Contract:
- Gate.decide never fails because the service is down: prompts it cannot score are decided
  fail-open (KEEP, or the prompt's last known state) and counted in stats()["fail_open_decisions"].
- Errors from the core are ValueError (bad arguments), FileNotFoundError (a missing checkpoint) or
  RuntimeError (anything else), each with the core's message.
- The adapters are submodules, imported only when asked for, each against its framework's real
  interface: ``sparsegate.verl`` (sampler and dataset), ``sparsegate.trl`` (GRPOTrainer subclass),
  ``sparsegate.openrlhf`` (samples generator), and ``sparsegate.filters`` (a framework-neutral
  post-rollout group filter). ``import sparsegate`` alone imports none of those frameworks.
"""

from ._core import (
    ClientOptions,
    Decision,
    DifficultyClient,
    FeatureSchema,
    Gate,
    PluginConfig,
    PromptFeatures,
    TrainerPlugin,
    __version__,
    sparsity_metric_names,
)

__all__ = [
    "ClientOptions",
    "Decision",
    "DifficultyClient",
    "FeatureSchema",
    "Gate",
    "PluginConfig",
    "PromptFeatures",
    "TrainerPlugin",
    "__version__",
    "sparsity_metric_names",
]
