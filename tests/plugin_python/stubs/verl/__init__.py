"""Stand-in for verl (volcengine/verl at b178a3cd56f58b2d502255daba591e92833930a7, 2026-01-29).

What is mirrored, and where the real code is, is named in each module's docstring; the facts and
file:line citations are in /work/facts/verl.md. Pure Python on numpy + torch (no ray, tensordict,
torchdata, datasets, transformers).
"""
from .protocol import DataProto

__all__ = ["DataProto"]
