"""Stand-in for src/transformers/processing_utils.py and models/auto/processing_auto.py
(huggingface/transformers, 4.5x): ProcessorMixin (multimodal processors; none are simulated) and
AutoProcessor.from_pretrained, which GRPOTrainer calls when processing_class is None; here it
returns simmodels.ByteTokenizer for any name."""


class ProcessorMixin:
    tokenizer = None


class AutoProcessor:
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        from simmodels import ByteTokenizer
        return ByteTokenizer(**{k: v for k, v in kwargs.items() if k in ("padding_side", "truncation_side")})
