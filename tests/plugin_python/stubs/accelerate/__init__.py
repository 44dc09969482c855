"""Stand-in for accelerate (huggingface/accelerate at 16cb6eb80dd9aa8b4df1a63ef57863e455d53b83,
version 1.15.0.dev0): src/accelerate/__init__.py's Accelerator and PartialState.

The process group is simulated by threads (stubs/simworld.py): inside ``simworld.run_processes``
each thread is one rank; elsewhere there is a single process.
"""
from .accelerator import Accelerator
from .state import PartialState

__version__ = "1.15.0.dev0"
__all__ = ["Accelerator", "PartialState"]
