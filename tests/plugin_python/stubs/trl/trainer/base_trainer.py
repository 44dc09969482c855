"""Stand-in for trl/trainer/base_trainer.py (huggingface/trl at f2cd57710ae345ea6428ae95363267fcf38a3dc8): _BaseTrainer, the
transformers.Trainer subclass every TRL trainer derives from (base_trainer.py:67). Its
create_model_card writes README.md in the real one; here it does nothing."""
from transformers import Trainer


class _BaseTrainer(Trainer):
    _tag_names = []
    _name = "Base"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

    def create_model_card(self, model_name=None, dataset_name=None, tags=None):
        return None
