"""The few Ray calls OpenRLHF makes, without Ray (not a real OpenRLHF module; OpenRLHF 3c3be6234e0cb353e76bb8019947db9dfe99fca7).

- ``ActorHandle(obj)``: ``handle.method.remote(*a, **kw)`` runs ``obj.method`` at once and returns
  an ``ObjectRef`` holding the result, or the exception, which ``get`` raises (Ray raises a
  RayTaskError there).
- A ref completes at ``dispatch time + latency``, on a virtual clock; ``wait(refs, num_returns=1)``
  answers the refs that complete first, as ``ray.wait`` answers in completion order. Latency is 0
  unless the actor has a ``latency(**kwargs) -> float`` hook (RolloutRayActor takes one).
"""
import itertools

_clock = 0.0
_seq = itertools.count()


class ObjectRef:
    def __init__(self, value=None, error=None, ready_at=0.0):
        self._value, self._error, self.ready_at, self.seq = value, error, ready_at, next(_seq)
        self.cancelled = False

    def _key(self):
        return (self.ready_at, self.seq)


def put(value):
    return ObjectRef(value, ready_at=_clock)


def get(refs, timeout=None):
    if isinstance(refs, list):
        return [get(r) for r in refs]
    if refs._error is not None:
        raise refs._error
    return refs._value


def wait(refs, num_returns=1, timeout=None):
    """Returns (ready, not_ready) like ray.wait: the num_returns refs that complete first."""
    global _clock
    order = sorted(refs, key=ObjectRef._key)
    ready = order[:num_returns]
    if ready:
        _clock = max(_clock, ready[-1].ready_at)
    return ready, [r for r in refs if r not in ready]


def cancel(ref):
    ref.cancelled = True


class _Method:
    def __init__(self, obj, name):
        self._obj, self._name = obj, name

    def remote(self, *args, **kwargs):
        latency = getattr(self._obj, "latency", None)
        delay = latency(method=self._name, **kwargs) if callable(latency) else 0.0
        try:
            return ObjectRef(getattr(self._obj, self._name)(*args, **kwargs), ready_at=_clock + delay)
        except Exception as e:  # surfaced by get(), as Ray does
            return ObjectRef(error=e, ready_at=_clock + delay)


class ActorHandle:
    def __init__(self, obj):
        self._obj = obj

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        getattr(self._obj, name)
        return _Method(self._obj, name)

    @property
    def instance(self):
        """The object behind the handle (tests only)."""
        return self._obj
