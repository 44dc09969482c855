"""Stand-in for src/accelerate/state.py (huggingface/accelerate at
16cb6eb80dd9aa8b4df1a63ef57863e455d53b83): PartialState, the per-process view of the process group.

Real: a singleton set up from the launcher's environment (RANK, WORLD_SIZE, ...). Here it reads the
calling thread's simulated process (simworld.current()), so it is cheap to construct anywhere.
``distributed_type`` is "MULTI_CPU" with more than one process, else "NO" (what the real one
reports for a CPU process group and for a single process).
"""
import torch

import simworld


class PartialState:
    def __init__(self, cpu: bool = False, **kwargs):
        self._ctx = simworld.current()

    @property
    def num_processes(self) -> int:
        return self._ctx.num_processes

    @property
    def process_index(self) -> int:
        return self._ctx.rank

    @property
    def local_process_index(self) -> int:
        return self._ctx.rank

    @property
    def is_main_process(self) -> bool:
        return self.process_index == 0

    @property
    def is_local_main_process(self) -> bool:
        return self.local_process_index == 0

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def distributed_type(self) -> str:
        return "MULTI_CPU" if self.num_processes > 1 else "NO"

    @property
    def use_distributed(self) -> bool:
        return self.num_processes > 1


class AcceleratorState(PartialState):
    """state.py's AcceleratorState: the process view plus the training plugins an Accelerator was set up
    with. None here (no DeepSpeed, no FSDP): TRL f2cd577 reads ``deepspeed_plugin`` and ``fsdp_plugin``
    to pick its distributed paths (trl/distributed.py DistributedBackend, trainer/callbacks.py)."""
    deepspeed_plugin = None
    fsdp_plugin = None
