"""Stand-in for verl/experimental/agent_loop/agent_loop.py at volcengine/verl b178a3cd56f58b2d502255daba591e92833930a7.

Real layout: ``AgentLoopManager`` (845) lives in the trainer (TaskRunner) process and owns
``agent.num_workers`` (default 8) ``AgentLoopWorker`` Ray actors (930-945). Each worker, in its own
process, runs ``self.dataset_cls = get_dataset_class(config.data)`` (366): it imports
``data.custom_cls`` itself (a fresh module for a file path; a normal import for pkg://), only to
call ``dataset_cls.process_vision_info`` for multimodal rows; the dataset OBJECT is never shipped to
workers, only the rows (as the gen batch's non_tensor_batch).
``AgentLoopManager.generate_sequences(prompts)`` (947): ``prompts.chunk(num_workers)`` (asserts
len % num_workers == 0), one chunk per worker, ``DataProto.concat`` of the outputs, per-worker
"metrics" popped from meta_info and turned into a "timing" dict; ``output.meta_info =
{"timing": ..., **outputs[0].meta_info}`` (976).

Stand-in: the workers are not separate processes. ``worker_group`` is the generation function
``generate_fn(chunk: DataProto) -> DataProto`` that stands for one AgentLoopWorker's
``generate_sequences`` (use ``single_turn_agent_loop`` to get the real single-turn behaviour). As
in real verl the function gets a copy of the chunk (real workers get a deserialized copy, so
nothing they do to rows reaches the trainer's batch).
"""
import copy

import numpy as np

from verl import DataProto
from verl.utils.dataset.rl_dataset import get_dataset_class


class AgentLoopWorker:
    """One worker: resolves the dataset class from config.data (as the real one does) and runs
    ``generate_fn`` on its chunk."""

    def __init__(self, config, generate_fn):
        self.config = config
        self.dataset_cls = get_dataset_class(config.data)
        self.generate_fn = generate_fn

    def generate_sequences(self, batch: DataProto) -> DataProto:
        batch = DataProto(batch=copy.deepcopy(batch.batch), non_tensor_batch=copy.deepcopy(batch.non_tensor_batch),
                          meta_info=copy.deepcopy(batch.meta_info))
        return self.generate_fn(batch)


class AgentLoopManager:
    def __init__(self, config, worker_group=None, rollout_resource_pool=None, rm_resource_pool=None):
        self.config = config
        self.worker_group = worker_group
        num_workers = config.actor_rollout_ref.rollout.get("agent", {}).get("num_workers", 8)
        self.agent_loop_workers = [AgentLoopWorker(config, worker_group) for _ in range(num_workers)]
        self.rollout_replicas = []

    def generate_sequences(self, prompts: DataProto) -> DataProto:
        chunks = prompts.chunk(len(self.agent_loop_workers))
        outputs = [w.generate_sequences(c) for w, c in zip(self.agent_loop_workers, chunks)]
        output = DataProto.concat(outputs)
        metrics = [o.meta_info.pop("metrics", []) for o in outputs]
        timing = self._performance_metrics(metrics)
        output.meta_info = {"timing": timing, **outputs[0].meta_info}
        return output

    @staticmethod
    def _performance_metrics(metrics):
        flat = [m for chunk in metrics for m in (chunk or [])]
        if not flat:
            return {}
        t = np.array([m.get("generate_sequences", 0.0) for m in flat])
        return {"agent_loop/generate_sequences/min": t.min(), "agent_loop/generate_sequences/max": t.max(),
                "agent_loop/generate_sequences/mean": t.mean()}
