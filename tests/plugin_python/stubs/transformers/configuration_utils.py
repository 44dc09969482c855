"""Stand-in for src/transformers/configuration_utils.py (huggingface/transformers, 4.5x): PretrainedConfig.
`get_text_config(decoder=None, encoder=None)` follows the one read at huggingface/transformers
008e574391258935f3ecc3035c882e73bbcac419 (returns the config itself unless a nested text config exists).

What TRL f2cd577 reads from a policy's config (grpo_trainer.py, trainer/utils.py, base_trainer.py):
``get_text_config()`` (a text-only config is its own text config; the real one looks for a nested
``text_config`` / decoder sub-config first), ``name_or_path`` / ``_name_or_path`` (the model id that
``get_config_model_id`` reports), ``model_type`` (a class attribute, "" on the base class),
``tie_word_embeddings`` (True by default, as in 4.x), ``pad_token_id``. Options an MoE model sets
(``output_router_logits``) are left unset, so ``getattr(..., None)`` answers None as for a dense model.
Keyword arguments become attributes; ``to_dict`` returns them.
"""
import copy


class PretrainedConfig:
    model_type = ""
    sub_configs = {}

    def __init__(self, **kwargs):
        self.return_dict = kwargs.pop("return_dict", True)
        self.output_hidden_states = kwargs.pop("output_hidden_states", False)
        self.tie_word_embeddings = kwargs.pop("tie_word_embeddings", True)
        self.is_encoder_decoder = kwargs.pop("is_encoder_decoder", False)
        self.pad_token_id = kwargs.pop("pad_token_id", None)
        self.bos_token_id = kwargs.pop("bos_token_id", None)
        self.eos_token_id = kwargs.pop("eos_token_id", None)
        self._name_or_path = str(kwargs.pop("name_or_path", ""))
        for key, value in kwargs.items():
            setattr(self, key, value)

    @property
    def name_or_path(self) -> str:
        return getattr(self, "_name_or_path", None)

    @name_or_path.setter
    def name_or_path(self, value):
        self._name_or_path = str(value)

    def get_text_config(self, decoder=None, encoder=None) -> "PretrainedConfig":
        for name in ("text_config", "decoder", "generator", "text_encoder"):
            sub = getattr(self, name, None)
            if isinstance(sub, PretrainedConfig):
                return sub.get_text_config(decoder=decoder, encoder=encoder)
        return self

    def to_dict(self):
        out = copy.deepcopy(self.__dict__)
        out["model_type"] = self.__class__.model_type
        return out

    def __repr__(self):
        return f"{self.__class__.__name__} {self.to_dict()}"
