"""Fake of pydantic 2 (not installed: Debian 12 packages pydantic 1.10, which has no ``ConfigDict``).

verl b178a3c's agent loop declares its outputs as pydantic models at import time
(verl/experimental/agent_loop/agent_loop.py); the tests' paths only build them from keyword
arguments and read their fields back. So a model here is its annotated fields, filled from the
keywords or the class defaults (copied, as pydantic copies mutable defaults); nothing is validated.
"""
import copy

ConfigDict = dict


class _Field:
    def __init__(self, default=None, default_factory=None, **kwargs):
        self.default, self.default_factory = default, default_factory

    def value(self):
        return self.default_factory() if self.default_factory is not None else copy.deepcopy(self.default)


def Field(default=None, *, default_factory=None, **kwargs):
    return _Field(default, default_factory)


def model_validator(*, mode="after"):
    return lambda fn: fn  # no validation here


class BaseModel:
    def __init__(self, **data):
        fields = {}
        for klass in reversed(type(self).__mro__):
            fields.update(getattr(klass, "__annotations__", {}))
        for name in fields:
            if name == "model_config":
                continue
            if name in data:
                value = data.pop(name)
            elif hasattr(type(self), name):
                default = getattr(type(self), name)
                value = default.value() if isinstance(default, _Field) else copy.deepcopy(default)
            else:
                raise TypeError(f"{type(self).__name__}: field {name!r} is required")
            object.__setattr__(self, name, value)
        if data:
            raise TypeError(f"{type(self).__name__}: unknown fields {sorted(data)}")

    def model_dump(self, **kwargs):
        return {k: v for k, v in vars(self).items()}
