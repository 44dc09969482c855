"""Stand-in for src/transformers/generation/configuration_utils.py (huggingface/transformers, 4.5x):
GenerationConfig keeps the keyword arguments it is given as attributes, over the real class's defaults
for the sampling options (max_new_tokens, do_sample, temperature, top_k, top_p, ..., the special token
ids). ``to_dict`` / ``from_dict`` round-trip them; ``update(**kwargs)`` sets only the options the config
has and returns the others, as the real one does; ``from_model_config`` takes the token ids of a model
config (what PreTrainedModel does for a model that can generate). TRL f2cd577 copies and updates a
policy's generation config around ``generate`` on transformers < 5 (models/utils.py
``_override_model_generation_config``)."""
import copy

_DEFAULTS = {"max_length": 20, "max_new_tokens": None, "min_new_tokens": None, "do_sample": False,
             "num_beams": 1, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "min_p": None,
             "repetition_penalty": 1.0, "num_return_sequences": 1, "pad_token_id": None, "bos_token_id": None,
             "eos_token_id": None, "cache_implementation": None, "disable_compile": False}


class GenerationConfig:
    def __init__(self, **kwargs):
        for key, value in _DEFAULTS.items():
            setattr(self, key, kwargs.pop(key, value))
        for key, value in kwargs.items():
            setattr(self, key, value)

    def to_dict(self):
        return copy.deepcopy(self.__dict__)

    @classmethod
    def from_dict(cls, config_dict, **kwargs):
        return cls(**{**config_dict, **kwargs})

    @classmethod
    def from_model_config(cls, model_config):
        return cls(**{k: getattr(model_config, k, None) for k in ("pad_token_id", "bos_token_id", "eos_token_id")})

    def update(self, **kwargs):
        unused = {}
        for key, value in kwargs.items():
            if hasattr(self, key):
                setattr(self, key, value)
            else:
                unused[key] = value
        return unused
