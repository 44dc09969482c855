"""Stand-in for src/transformers/modeling_utils.py (huggingface/transformers, 4.5x): PreTrainedModel,
an nn.Module with a ``config``; ``training`` / ``train()`` / ``eval()`` are nn.Module's. The fake
causal LM the tests use is simmodels.FakeCausalLM."""
from types import SimpleNamespace

from torch import nn


class PreTrainedModel(nn.Module):
    def __init__(self, config=None):
        super().__init__()
        self.config = config if config is not None else SimpleNamespace(name_or_path="stand-in/model",
                                                                         _name_or_path="stand-in/model")
        self.model_tags = []

    def add_model_tags(self, tags):
        self.model_tags.extend(t for t in tags if t not in self.model_tags)
