"""Stand-in for src/transformers/modeling_utils.py (huggingface/transformers, 4.5x): PreTrainedModel,
an nn.Module with a ``config`` (a PretrainedConfig); ``training`` / ``train()`` / ``eval()`` are
nn.Module's. Also what TRL f2cd577 touches on the policy around generation and the loss
(models/utils.py ``unwrap_model_for_generation``, ``disable_gradient_checkpointing``):
``is_gradient_checkpointing`` and ``gradient_checkpointing_enable`` / ``_disable``, ``can_generate()``
and ``generation_config`` (set from the config when the model can generate, else None). The fake
causal LM the tests use is simmodels.FakeCausalLM."""
from torch import nn

from .configuration_utils import PretrainedConfig
from .generation import GenerationConfig


class PreTrainedModel(nn.Module):
    config_class = PretrainedConfig
    main_input_name = "input_ids"

    def __init__(self, config=None):
        super().__init__()
        self.config = config if config is not None else PretrainedConfig(name_or_path="stand-in/model")
        self.model_tags = []
        self.generation_config = GenerationConfig.from_model_config(self.config) if self.can_generate() else None
        self._gradient_checkpointing = False

    @classmethod
    def can_generate(cls) -> bool:
        return callable(getattr(cls, "generate", None))  # the real one: a GenerationMixin or an own generate

    @property
    def is_gradient_checkpointing(self) -> bool:
        return self._gradient_checkpointing

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None):
        self._gradient_checkpointing = True

    def gradient_checkpointing_disable(self):
        self._gradient_checkpointing = False

    def add_model_tags(self, tags):
        self.model_tags.extend(t for t in tags if t not in self.model_tags)
