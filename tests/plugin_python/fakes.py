"""Test doubles shared by the adapter tests: a Gate without a service, and a synthetic policy.

PluginGate has Gate's Python surface (decide / observe / begin_epoch / save / load / stats /
wait_for_service) over a real TrainerPlugin, with synthetic features in place of the service's:
decisions are the real policy's. Its default config keeps every prediction of the unsupervised
prior at or above 0.2, so that every prompt starts at KEEP and moves only on observed rewards.
"""
import hashlib

import sparsegate

SCHEMA = sparsegate.FeatureSchema.for_feature_sets(["layer-1/last_token"])
DEFAULT_KNOBS = {"prior_hardest_pass_rate": 0.2}


def synthetic_features(prompt_id: str, text: str = "") -> sparsegate.PromptFeatures:
    """Deterministic features in [0.3, 0.7] from the id; token count from the text's length."""
    digest = hashlib.sha256(prompt_id.encode()).digest()
    metrics = [0.3 + 0.4 * digest[i % len(digest)] / 255.0 for i in range(len(SCHEMA))]
    return sparsegate.PromptFeatures(metrics=metrics, token_count=max(1, len(text) // 4))


class PluginGate:
    def __init__(self, **knobs):
        self.plugin = sparsegate.TrainerPlugin.create(SCHEMA, sparsegate.PluginConfig(**{**DEFAULT_KNOBS, **knobs}))
        self.decide_calls = []
        self.observed = []  # (prompt id, rewards, completion lengths or None) per observe call

    def decide(self, prompts, fits=None):
        prompts = list(prompts)
        self.decide_calls.append(prompts)
        features = [synthetic_features(str(p["id"]), p.get("text", "")) for p in prompts]
        return self.plugin.decide(prompts, features, fits=fits)

    def observe(self, prompt_id, rewards, completion_tokens=None):
        self.observed.append((prompt_id, list(rewards), None if completion_tokens is None else list(completion_tokens)))
        self.plugin.observe(prompt_id, rewards, completion_tokens=completion_tokens)

    def begin_epoch(self, epoch):
        self.plugin.begin_epoch(epoch)

    def save(self, path):
        self.plugin.save(path)

    def load(self, path):
        self.plugin.load(path)

    def stats(self):
        return self.plugin.stats()

    def wait_for_service(self, seconds):
        return "synthetic"

