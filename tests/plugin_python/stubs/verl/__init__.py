"""Stand-in for verl (volcengine/verl, main of January 2026): the names the adapter imports."""
from .protocol import DataProto

__all__ = ["DataProto"]
