"""Stand-in for src/transformers/tokenization_utils_base.py (huggingface/transformers, 4.5x):
PreTrainedTokenizerBase, the class GRPOTrainer checks ``processing_class`` against, and
AutoTokenizer.from_pretrained, which here returns simmodels.ByteTokenizer for any name."""


class PreTrainedTokenizerBase:
    pad_token = None
    eos_token = None
    bos_token = None
    pad_token_id = None
    eos_token_id = None
    bos_token_id = None
    unk_token_id = None
    padding_side = "right"
    truncation_side = "right"


class AutoTokenizer:
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *inputs, **kwargs):
        from simmodels import ByteTokenizer
        return ByteTokenizer(**{k: v for k, v in kwargs.items() if k in ("padding_side", "truncation_side")})
