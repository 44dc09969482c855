"""Stand-in for openrlhf/trainer/ray/ppo_actor.py at OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7: PolicyModelActor's checkpoint side.

``init_model_from_pretrained(strategy, pretrain, max_steps=None, vllm_engines=None)`` loads
``<ckpt.path>/_actor`` with strategy.load_ckpt when --ckpt.load_enable and it exists, keeping the
client states for ``get_checkpoint_states()``. ``save_checkpoint(tag, client_states=None,
metric_value=None, metric_key=None)`` saves into ``<ckpt.path>/_actor/<tag>`` with
strategy.save_ckpt(max_num=ckpt.max_num). Training is a counter; forward returns zero log-probs.
"""
import os
from typing import Optional

import torch

from openrlhf.trainer.ray.launcher import BaseModelActor
from openrlhf.utils.deepspeed.deepspeed import DeepSpeedEngine


class PolicyModelActor(BaseModelActor):
    def init_model_from_pretrained(self, strategy, pretrain, max_steps=None, vllm_engines=None):
        self._setup_distributed(strategy)
        args = strategy.args
        self.disable_ds_ckpt = args.ckpt.disable_ds
        self.model = DeepSpeedEngine({"step": 0})
        self.replay_buffer = []
        self.checkpoint_states = {}
        ckpt_path = os.path.join(args.ckpt.path, "_actor")
        if args.ckpt.load_enable and os.path.exists(ckpt_path):
            _, states = strategy.load_ckpt(self.model, ckpt_path)
            self.checkpoint_states = states

    def fit(self, kl_ctl: float = 0):
        self.model.module["step"] += 1
        samples = sum(len(e.sequences) for e in self.replay_buffer)
        self.replay_buffer.clear()
        return {"policy_loss": 0.0, "trained_samples": samples}

    def forward(
        self,
        sequences: torch.LongTensor,
        action_mask=None,
        attention_mask: Optional[torch.Tensor] = None,
        packed_seq_lens=None,
        mm_train_inputs_list=None,
    ) -> torch.Tensor:
        return torch.zeros(action_mask.shape, dtype=torch.float)

    def broadcast_to_vllm(self):
        pass

    def get_checkpoint_states(self):
        return self.checkpoint_states

    def append(self, experience):
        self.replay_buffer.append(experience)

    def save_checkpoint(self, tag, client_states=None, metric_value=None, metric_key=None):
        args = self.strategy.args
        if not self.disable_ds_ckpt:
            self.strategy.save_ckpt(self.model, os.path.join(args.ckpt.path, "_actor"), tag, args.ckpt.max_num,
                                    args.ckpt.max_mem, client_states or {}, metric_value=metric_value,
                                    metric_key=metric_key)

    def save_model(self):
        pass
