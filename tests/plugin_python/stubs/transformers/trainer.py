"""Stand-in for src/transformers/trainer.py (huggingface/transformers, stored version at commit
000945a9b726d87a93e61e873b88ff8f3cd411b5, a 4.5x release): the Trainer loop and checkpoint hooks
that TRL's GRPOTrainer builds on.

Mirrored from the real file (by function; the file was read through the code index, which gives
character offsets rather than line numbers):
- ``train(resume_from_checkpoint=None, trial=None, ignore_keys_for_eval=None, **kwargs)``:
  ``resume_from_checkpoint=True`` means ``get_last_checkpoint(args.output_dir)``; then
  ``_inner_training_loop``.
- ``_inner_training_loop``: builds ``get_train_dataloader()``, resets ``self.state``, puts the
  model in train mode, calls ``self._load_optimizer_and_scheduler(resume_from_checkpoint)`` (with
  the checkpoint FOLDER, or None; before trainer_state.json is read), sets ``state.epoch = 0``,
  then, resuming, loads trainer_state.json and skips the batches already trained. Per optimizer
  step: ``gradient_accumulation_steps`` calls of ``training_step(model, inputs,
  num_items_in_batch)``, then ``state.global_step += 1``, ``state.epoch = epoch + (step + 1 +
  steps_skipped) / steps_in_epoch``, then ``_maybe_log_save_evaluate`` which calls
  ``self._save_checkpoint(model, trial)`` on EVERY process when a save is due (save_strategy
  "steps" every ``save_steps`` and at the last step, or "epoch"; the DefaultFlowCallback rules).
- ``_save_checkpoint(model, trial)``: folder ``f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"``
  under ``self._get_output_dir(trial=trial)`` (= args.output_dir without hyperparameter search);
  ``save_model`` (writes on ``args.should_save`` only), optimizer/scheduler (should_save only),
  RNG state (every process: it creates the folder with exist_ok, ``rng_state_<rank>.pth`` when
  world_size > 1), trainer_state.json (should_save only), rotation (should_save only; here:
  ``save_total_limit`` honoured by deleting the oldest folders).
- ``_load_optimizer_and_scheduler(checkpoint)``: returns at once when checkpoint is None; loads
  optimizer.pt and scheduler.pt from the folder when both exist.
- ``_prepare_inputs(inputs)``: moves the tensors of a dict to ``args.device``.
- Logging: DefaultFlowCallback sets ``control.should_log`` after an optimizer step when
  ``global_step % logging_steps == 0`` (logging_strategy "steps"); ``_maybe_log_save_evaluate``
  then, when ``global_step > self._globalstep_last_logged``, builds ``logs`` (the mean loss since
  the last log, learning_rate) and calls ``self.log(logs, start_time)``, before saving. ``log(logs,
  start_time=None)`` adds ``epoch``, appends ``{**logs, "step": global_step}`` to
  ``state.log_history`` and hands ``logs`` to the callbacks' ``on_log`` (the reporting
  integrations: wandb, tensorboard, ...), which resets ``should_log``.
Not simulated: backward/optimizer (there are no parameters), evaluation, hub, DeepSpeed, FSDP,
hyperparameter search, the reporting integrations themselves.
"""
import copy
import math
import os
import random
import shutil
import time

import numpy as np
import torch
from torch.utils.data import BatchSampler, RandomSampler

from accelerate import Accelerator
from accelerate.data_loader import BatchSamplerShard

from .trainer_callback import TrainerControl, TrainerState
from .trainer_utils import PREFIX_CHECKPOINT_DIR, SaveStrategy, _re_checkpoint, get_last_checkpoint
from .training_args import TrainingArguments

TRAINER_STATE_NAME = "trainer_state.json"
OPTIMIZER_NAME = "optimizer.pt"
SCHEDULER_NAME = "scheduler.pt"
WEIGHTS_NAME = "pytorch_model.bin"


class _ShardedLoader:
    """What ``accelerator.prepare(DataLoader(...))`` yields on one process: collated batches of rows."""

    def __init__(self, dataset, batch_sampler, collate_fn):
        self.dataset = dataset
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn

    def __len__(self):
        return len(self.batch_sampler)

    def __iter__(self):
        for indices in self.batch_sampler:
            # A datasets.Dataset hands out a fresh dict per row access; copy to keep that property.
            yield self.collate_fn([copy.deepcopy(self.dataset[i]) for i in indices])


class Trainer:
    def __init__(self, model=None, args=None, data_collator=None, train_dataset=None, eval_dataset=None,
                 processing_class=None, model_init=None, compute_loss_func=None, compute_metrics=None,
                 callbacks=None, optimizers=(None, None), optimizer_cls_and_kwargs=None,
                 preprocess_logits_for_metrics=None):
        self.args = args if args is not None else TrainingArguments(output_dir="tmp_trainer")
        self.model = model
        self.model_wrapped = model
        self.data_collator = data_collator if data_collator is not None else (lambda rows: rows)
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        self.processing_class = processing_class
        self.compute_loss_func = compute_loss_func
        self.callbacks = list(callbacks or [])
        self.optimizer, self.lr_scheduler = optimizers
        self.accelerator = Accelerator()
        self.state = TrainerState(is_local_process_zero=self.accelerator.is_local_main_process,
                                  is_world_process_zero=self.accelerator.is_main_process)
        self.control = TrainerControl()
        self.hp_search_backend = None
        self.hp_name = None
        self.is_deepspeed_enabled = getattr(self.accelerator.state, "deepspeed_plugin", None) is not None
        self.is_fsdp_enabled = getattr(self.accelerator.state, "fsdp_plugin", None) is not None
        self.hub_model_id = None  # set by init_hf_repo() with push_to_hub (not simulated)
        self._train_batch_size = self.args.train_batch_size
        self.current_gradient_accumulation_steps = self.args.gradient_accumulation_steps
        self._signature_columns = None

    def add_callback(self, callback):
        self.callbacks.append(callback)

    # --- data --------------------------------------------------------------------------------------

    def _get_train_sampler(self, train_dataset=None):
        return RandomSampler(train_dataset if train_dataset is not None else self.train_dataset)

    def _get_dataloader(self, dataset, description, batch_size, sampler_fn=None, is_training=False,
                        dataloader_key=None):
        sampler = sampler_fn(dataset) if sampler_fn is not None else range(len(dataset))
        batches = BatchSampler(sampler, batch_size=batch_size, drop_last=self.args.dataloader_drop_last)
        shard = BatchSamplerShard(batches, num_processes=self.accelerator.num_processes,
                                  process_index=self.accelerator.process_index)
        return _ShardedLoader(dataset, shard, self.data_collator)

    def get_train_dataloader(self):
        return self._get_dataloader(dataset=self.train_dataset, description="Training",
                                    batch_size=self._train_batch_size, sampler_fn=self._get_train_sampler,
                                    is_training=True)

    def _prepare_input(self, data):
        if isinstance(data, dict):
            return type(data)({k: self._prepare_input(v) for k, v in data.items()})
        if isinstance(data, (tuple, list)):
            return type(data)(self._prepare_input(v) for v in data)
        if isinstance(data, torch.Tensor):
            return data.to(self.args.device)
        return data

    def _prepare_inputs(self, inputs):
        inputs = self._prepare_input(inputs)
        if len(inputs) == 0:
            raise ValueError("The batch received was empty, your model won't be able to train on it.")
        return inputs

    # --- training ----------------------------------------------------------------------------------

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        raise NotImplementedError("stand-in Trainer: a subclass computes the loss")

    def training_step(self, model, inputs, num_items_in_batch=None):
        model.train()
        inputs = self._prepare_inputs(inputs)
        loss = self.compute_loss(model, inputs, num_items_in_batch=num_items_in_batch)
        if self.compute_loss_func is None and self.args.gradient_accumulation_steps > 1:
            loss = loss / self.args.gradient_accumulation_steps
        if loss.requires_grad:
            loss.backward()
        return loss.detach()

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        batch_samples = []
        for _ in range(num_batches):
            try:
                batch_samples.append(next(epoch_iterator))
            except StopIteration:
                break
        return batch_samples, None

    def train(self, resume_from_checkpoint=None, trial=None, ignore_keys_for_eval=None, **kwargs):
        if resume_from_checkpoint is False:
            resume_from_checkpoint = None
        if len(kwargs) > 0:
            raise TypeError(f"train() got unexpected keyword arguments: {', '.join(list(kwargs.keys()))}.")
        self.is_in_train = True
        self._train_batch_size = self.args.train_batch_size
        if isinstance(resume_from_checkpoint, bool) and resume_from_checkpoint:
            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir)
            if resume_from_checkpoint is None:
                raise ValueError(f"No valid checkpoint found in output directory ({self.args.output_dir})")
        return self._inner_training_loop(batch_size=self._train_batch_size, args=self.args,
                                         resume_from_checkpoint=resume_from_checkpoint, trial=trial,
                                         ignore_keys_for_eval=ignore_keys_for_eval)

    def _inner_training_loop(self, batch_size=None, args=None, resume_from_checkpoint=None, trial=None,
                             ignore_keys_for_eval=None):
        self._train_batch_size = batch_size
        train_dataloader = self.get_train_dataloader()
        ga = args.gradient_accumulation_steps
        len_dataloader = len(train_dataloader)
        num_update_steps_per_epoch = max(len_dataloader // ga, 1)
        if args.max_steps > 0:
            max_steps = args.max_steps
            num_train_epochs = max_steps // num_update_steps_per_epoch + int(max_steps % num_update_steps_per_epoch > 0)
        else:
            max_steps = math.ceil(args.num_train_epochs * num_update_steps_per_epoch)
            num_train_epochs = math.ceil(args.num_train_epochs)

        self.state = TrainerState(is_local_process_zero=self.accelerator.is_local_main_process,
                                  is_world_process_zero=self.accelerator.is_main_process)
        self.state.train_batch_size = self._train_batch_size
        self.state.max_steps = max_steps
        self.state.num_train_epochs = num_train_epochs
        self.state.save_steps = (math.ceil(max_steps * args.save_steps) if args.save_steps < 1
                                 else int(args.save_steps))
        self.state.logging_steps = args.logging_steps
        self.model.train()
        self._load_optimizer_and_scheduler(resume_from_checkpoint)

        self.state.epoch = 0
        start_time = time.time()
        epochs_trained = 0
        steps_trained_in_current_epoch = 0
        if resume_from_checkpoint is not None and os.path.isfile(
                os.path.join(resume_from_checkpoint, TRAINER_STATE_NAME)):
            self.state = TrainerState.load_from_json(os.path.join(resume_from_checkpoint, TRAINER_STATE_NAME))
            epochs_trained = int(self.state.global_step // num_update_steps_per_epoch)
            if not args.ignore_data_skip:
                steps_trained_in_current_epoch = (self.state.global_step % num_update_steps_per_epoch) * ga

        self._globalstep_last_logged = self.state.global_step
        model = self.model_wrapped
        tr_loss = torch.tensor(0.0)
        self.control = TrainerControl()
        for epoch in range(epochs_trained, num_train_epochs):
            steps_in_epoch = len_dataloader
            epoch_iterator = iter(train_dataloader)
            steps_skipped = 0
            if steps_trained_in_current_epoch > 0:  # accelerate's skip_first_batches
                for _ in range(steps_trained_in_current_epoch):
                    next(epoch_iterator, None)
                steps_skipped = steps_trained_in_current_epoch
                steps_trained_in_current_epoch = 0
            step = -1
            remainder = steps_in_epoch % ga or ga
            total_updates = steps_in_epoch // ga + int(remainder < ga)
            for update_step in range(total_updates):
                num_batches = ga if update_step != total_updates - 1 else remainder
                batch_samples, num_items_in_batch = self.get_batch_samples(epoch_iterator, num_batches, args.device)
                if not batch_samples:
                    break
                self.current_gradient_accumulation_steps = len(batch_samples)
                for inputs in batch_samples:
                    step += 1
                    tr_loss = tr_loss + self.training_step(model, inputs, num_items_in_batch)
                    do_sync_step = (step + 1) % ga == 0 or (step + 1) == steps_in_epoch
                    if do_sync_step:
                        model.zero_grad()
                        if self.optimizer is not None:
                            self.optimizer.step()
                        self.state.global_step += 1
                        self.state.epoch = epoch + (step + 1 + steps_skipped) / steps_in_epoch
                        self._on_step_end(args)
                        self._maybe_log_save_evaluate(tr_loss, None, model, trial, epoch, ignore_keys_for_eval,
                                                      start_time)
                    if self.control.should_epoch_stop or self.control.should_training_stop:
                        break
                if self.control.should_epoch_stop or self.control.should_training_stop:
                    break
            if args.save_strategy == SaveStrategy.EPOCH:
                self.control.should_save = True
            self._maybe_log_save_evaluate(tr_loss, None, model, trial, epoch, ignore_keys_for_eval, start_time)
            if self.control.should_training_stop:
                break
        self.is_in_train = False
        return self.state.global_step, float(tr_loss)

    def _on_step_end(self, args):
        # transformers' DefaultFlowCallback.on_step_end
        if (getattr(args, "logging_strategy", "steps") == "steps" and self.state.logging_steps > 0
                and self.state.global_step % self.state.logging_steps == 0):
            self.control.should_log = True
        if (args.save_strategy == SaveStrategy.STEPS and self.state.save_steps > 0
                and self.state.global_step % self.state.save_steps == 0):
            self.control.should_save = True
        if self.state.global_step >= self.state.max_steps:
            self.control.should_training_stop = True
            if args.save_strategy not in (SaveStrategy.NO, SaveStrategy.BEST):
                self.control.should_save = True
        for cb in self.callbacks:
            cb.on_step_end(args, self.state, self.control)

    def _maybe_log_save_evaluate(self, tr_loss, grad_norm, model, trial, epoch, ignore_keys_for_eval, start_time,
                                 learning_rate=None):
        if self.control.should_log and self.state.global_step > self._globalstep_last_logged:
            tr_loss_scalar = float(tr_loss.mean().item())
            tr_loss -= tr_loss
            logs = {"loss": round(tr_loss_scalar / (self.state.global_step - self._globalstep_last_logged), 4),
                    "learning_rate": learning_rate if learning_rate is not None else float(self.args.learning_rate)}
            self._globalstep_last_logged = self.state.global_step
            self.log(logs, start_time)
        if self.control.should_save:
            self._save_checkpoint(model, trial)
            for cb in self.callbacks:
                cb.on_save(self.args, self.state, self.control)
            self.control.should_save = False

    def log(self, logs, start_time=None):
        if self.state.epoch is not None:
            logs["epoch"] = self.state.epoch
        output = {**logs, **{"step": self.state.global_step}}
        self.state.log_history.append(output)
        self.control.should_log = False  # CallbackHandler.on_log
        for cb in self.callbacks:
            cb.on_log(self.args, self.state, self.control, logs=logs)

    # --- checkpoints -------------------------------------------------------------------------------

    def _get_output_dir(self, trial):
        return self.args.output_dir  # hyperparameter search (run-<id> subfolders) is not simulated

    def save_model(self, output_dir=None, _internal_call=False):
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if self.args.should_save:
            os.makedirs(output_dir, exist_ok=True)
            torch.save(self.model.state_dict() if hasattr(self.model, "state_dict") else {},
                       os.path.join(output_dir, WEIGHTS_NAME))

    def _save_checkpoint(self, model, trial):
        checkpoint_folder = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        run_dir = self._get_output_dir(trial=trial)
        output_dir = os.path.join(run_dir, checkpoint_folder)
        self.save_model(output_dir, _internal_call=True)
        if not self.args.save_only_model:
            self._save_optimizer_and_scheduler(output_dir)
            self._save_rng_state(output_dir)
        if self.args.should_save:
            self.state.save_to_json(os.path.join(output_dir, TRAINER_STATE_NAME))
        if self.args.should_save:
            self._rotate_checkpoints(use_mtime=True, output_dir=run_dir)

    def _save_rng_state(self, output_dir):
        rng_states = {"python": random.getstate(), "numpy": np.random.get_state(),
                      "cpu": torch.random.get_rng_state()}
        os.makedirs(output_dir, exist_ok=True)
        if self.args.world_size <= 1:
            torch.save(rng_states, os.path.join(output_dir, "rng_state.pth"))
        else:
            torch.save(rng_states, os.path.join(output_dir, f"rng_state_{self.args.process_index}.pth"))

    def _save_optimizer_and_scheduler(self, output_dir):
        if self.args.should_save and self.optimizer is not None:
            torch.save(self.optimizer.state_dict(), os.path.join(output_dir, OPTIMIZER_NAME))
        if self.args.should_save and self.lr_scheduler is not None:
            torch.save(self.lr_scheduler.state_dict(), os.path.join(output_dir, SCHEDULER_NAME))

    def _load_optimizer_and_scheduler(self, checkpoint):
        """If optimizer and scheduler states exist, load them."""
        if checkpoint is None:
            return
        if (os.path.isfile(os.path.join(checkpoint, OPTIMIZER_NAME))
                and os.path.isfile(os.path.join(checkpoint, SCHEDULER_NAME))):
            if self.optimizer is not None:
                self.optimizer.load_state_dict(torch.load(os.path.join(checkpoint, OPTIMIZER_NAME)))
            if self.lr_scheduler is not None:
                self.lr_scheduler.load_state_dict(torch.load(os.path.join(checkpoint, SCHEDULER_NAME)))

    def _rotate_checkpoints(self, use_mtime=False, output_dir=None):
        limit = self.args.save_total_limit
        if limit is None or limit <= 0:
            return
        folders = [p for p in os.listdir(output_dir) if _re_checkpoint.search(p)
                   and os.path.isdir(os.path.join(output_dir, p))]
        folders.sort(key=lambda p: int(_re_checkpoint.search(p).groups()[0]))
        for old in folders[:max(0, len(folders) - limit)]:
            shutil.rmtree(os.path.join(output_dir, old), ignore_errors=True)

    def is_world_process_zero(self) -> bool:
        return self.args.process_index == 0

