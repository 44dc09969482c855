"""Stand-in for src/accelerate/accelerator.py (huggingface/accelerate at
16cb6eb80dd9aa8b4df1a63ef57863e455d53b83): the parts of ``Accelerator`` the trainers read.

Mirrored: ``num_processes`` (accelerator.py:675), ``process_index`` (:679), ``is_main_process``
(:733), ``device``, ``gather(tensor)`` (:3036, which calls ``accelerate.utils.gather``),
``unwrap_model``, ``prepare_model``; ``reduce``, ``gather_for_metrics`` (without the trimming of a
dataloader's padded remainder), ``sync_gradients``. The real constructor takes ~30 options; this one
accepts and ignores them.
"""
from .state import AcceleratorState


class Accelerator:
    def __init__(self, *args, **kwargs):
        self.state = AcceleratorState()
        # The real one clears this inside accumulate() on the micro-steps that end no accumulation window;
        # the stand-in Trainer does not use accumulate(), so every backward counts as syncing.
        self.sync_gradients = True

    @property
    def num_processes(self) -> int:
        return self.state.num_processes

    @property
    def process_index(self) -> int:
        return self.state.process_index

    @property
    def local_process_index(self) -> int:
        return self.state.local_process_index

    @property
    def is_main_process(self) -> bool:
        return self.state.is_main_process

    @property
    def is_local_main_process(self) -> bool:
        return self.state.is_local_main_process

    @property
    def device(self):
        return self.state.device

    @property
    def distributed_type(self):
        return self.state.distributed_type

    def gather(self, tensor):
        from .utils import gather
        return gather(tensor)

    def reduce(self, tensor, reduction: str = "sum", scale: float = 1.0):
        from .utils import reduce
        return reduce(tensor, reduction, scale)

    def gather_for_metrics(self, input_data, use_gather_object: bool = False):
        from .utils import gather, gather_object
        return gather_object(input_data) if use_gather_object else gather(input_data)

    def unwrap_model(self, model, keep_fp32_wrapper: bool = True, keep_torch_compile: bool = True):
        return model

    def prepare_model(self, model, device_placement=None, evaluation_mode: bool = False):
        return model

    def wait_for_everyone(self):
        from .utils.operations import _rendezvous
        _rendezvous("wait_for_everyone", None)
