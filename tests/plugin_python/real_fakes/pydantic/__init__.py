"""Fake of pydantic 2 (not installed: Debian 12 packages pydantic 1.10, which has no ``ConfigDict``).

verl b178a3c's agent loop declares its outputs as pydantic models at import time
(verl/experimental/agent_loop/agent_loop.py); the tests' paths only build them from keyword
arguments and read their fields back. So a model here is its annotated fields, filled from the
keywords or the class defaults (copied, as pydantic copies mutable defaults). verl's tool registry
also builds tool schemas from YAML (``model_validate``: nested models from dicts; a missing
required field raises, as pydantic does) and dumps them (``model_dump(exclude_unset, exclude_none)``);
types are not otherwise checked.
"""
import copy
import typing

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
        given = set(data)
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
        object.__setattr__(self, "_fields_set", given)

    @classmethod
    def model_validate(cls, obj):
        if isinstance(obj, cls):
            return obj
        hints = typing.get_type_hints(cls)
        return cls(**{k: _validate(hints.get(k), v) for k, v in dict(obj).items()})

    def model_dump(self, exclude_unset=False, exclude_none=False, **kwargs):
        out = {}
        for k, v in vars(self).items():
            if k == "_fields_set" or (exclude_unset and k not in self._fields_set) or (exclude_none and v is None):
                continue
            out[k] = _dump(v, exclude_unset, exclude_none)
        return out


def _validate(tp, value):
    """value as a field of type tp: dicts become the models tp names (also inside dict / list /
    Optional types)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(value, dict):
        return tp.model_validate(value)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return {k: _validate(args[1], v) for k, v in value.items()}
    if origin is list and args and isinstance(value, list):
        return [_validate(args[0], v) for v in value]
    if args and origin not in (dict, list):  # Union / Optional
        for arg in args:
            if isinstance(arg, type) and issubclass(arg, BaseModel) and isinstance(value, dict):
                return arg.model_validate(value)
    return value


def _dump(value, exclude_unset, exclude_none):
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=exclude_unset, exclude_none=exclude_none)
    if isinstance(value, dict):
        return {k: _dump(v, exclude_unset, exclude_none) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v, exclude_unset, exclude_none) for v in value]
    return value
