"""Stand-in for src/transformers/generation/configuration_utils.py (huggingface/transformers, 4.5x):
GenerationConfig keeps the keyword arguments it is given as attributes (max_new_tokens,
pad_token_id, eos_token_id, do_sample, temperature, ...)."""


class GenerationConfig:
    def __init__(self, **kwargs):
        self.max_new_tokens = None
        for key, value in kwargs.items():
            setattr(self, key, value)
