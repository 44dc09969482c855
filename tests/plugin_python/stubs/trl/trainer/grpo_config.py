"""Stand-in for trl/trainer/grpo_config.py: the GRPOConfig fields the stand-in trainer reads."""
from dataclasses import dataclass
from typing import List, Optional


@dataclass
class GRPOConfig:
    output_dir: str = "trainer_output"
    num_generations: int = 8
    per_device_train_batch_size: int = 8
    steps_per_generation: int = 1
    reward_weights: Optional[List[float]] = None

    @property
    def should_save(self) -> bool:
        return True  # the main process, in transformers' TrainingArguments
