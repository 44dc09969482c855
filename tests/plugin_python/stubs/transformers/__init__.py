"""Stand-in for transformers: the names TRL's GRPOTrainer and the sparsegate TRL adapter import.

Read from huggingface/transformers src/transformers/trainer.py (stored version at commit
000945a9b726d87a93e61e873b88ff8f3cd411b5, a 4.5x release; the repository was too large to fetch
whole, so it was read file by file) and src/transformers/trainer_utils.py (at
007360d654f36b1f4bc0c701c7b1b69273a7c4ed). Mirrored: module paths and names, the Trainer hooks
GRPOTrainer overrides and the checkpoint layout; bodies are small imitations. Against the real TRL
(tests/plugin_python/real_frameworks.py) this stand-in serves the real GRPOTrainer too, so the model
side it reads is here as well: PretrainedConfig, PreTrainedModel's generation and checkpointing
switches, GenerationConfig's dict round trip, modeling_outputs.CausalLMOutputWithPast.
"""
from .configuration_utils import PretrainedConfig
from .generation import GenerationConfig
from .modeling_utils import PreTrainedModel
from .processing_utils import AutoProcessor, ProcessorMixin
from .tokenization_utils_base import AutoTokenizer, PreTrainedTokenizerBase
from .trainer import Trainer
from .trainer_callback import TrainerCallback, TrainerControl, TrainerState
from .training_args import TrainingArguments

__version__ = "4.57.0"
__all__ = ["AutoProcessor", "AutoTokenizer", "GenerationConfig", "PreTrainedModel", "PreTrainedTokenizerBase",
           "PretrainedConfig", "ProcessorMixin", "Trainer", "TrainerCallback", "TrainerControl", "TrainerState",
           "TrainingArguments"]
