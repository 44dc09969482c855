"""Fake of tqdm.auto: see tqdm/__init__.py."""
from . import tqdm, trange  # noqa: F401
