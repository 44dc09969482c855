"""Fake of ray: not installed, and a cluster runtime. verl and OpenRLHF decorate classes with
``@ray.remote`` at import time and call ``ray.get`` / ``ray.put``; here remote objects are local
objects, ``.remote(...)`` calls them synchronously and ``get`` returns the value. Submodules not
here (ray.util.*, ray.actor, ...) import as placeholders."""
import asyncio
import concurrent.futures

__version__ = "0.0-fake"


class ObjectRef:
    def __init__(self, value):
        self.value = value


class _Remote:
    def __init__(self, target):
        self._target = target
        if isinstance(target, type):  # Ray's ActorClass names the class it wraps (verl unwraps it)
            self.__ray_actor_class__ = target

    def options(self, **kwargs):
        return self

    def remote(self, *args, **kwargs):
        result = self._target(*args, **kwargs)
        return _Handle(result) if isinstance(self._target, type) else ObjectRef(result)

    def __call__(self, *args, **kwargs):
        return self._target(*args, **kwargs)


def _run(value):
    """An async actor method's result: Ray runs the coroutine on the actor's own event loop, so
    the caller never sees it; here a fresh loop (a thread of its own if the caller is in one)."""
    if not asyncio.iscoroutine(value):
        return value
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(value)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, value).result()


class _Method:
    def __init__(self, fn):
        self._fn = fn

    def remote(self, *args, **kwargs):
        # Ray hands an actor the values of the ObjectRefs passed as top-level arguments.
        args = [get(a) if isinstance(a, ObjectRef) else a for a in args]
        kwargs = {k: get(v) if isinstance(v, ObjectRef) else v for k, v in kwargs.items()}
        return ObjectRef(_run(self._fn(*args, **kwargs)))


class _Handle:
    def __init__(self, obj):
        self._obj = obj

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Method(getattr(self._obj, name))

    @property
    def instance(self):
        """The object behind the handle (tests only)."""
        return self._obj


def remote(*args, **kwargs):
    if len(args) == 1 and not kwargs and callable(args[0]):
        return _Remote(args[0])
    return lambda target: _Remote(target)


def method(*args, **kwargs):
    return lambda fn: fn


def get(refs, timeout=None):
    if isinstance(refs, list):
        return [get(r) for r in refs]
    return refs.value if isinstance(refs, ObjectRef) else refs


def put(value):
    return ObjectRef(value)


def wait(refs, num_returns=1, timeout=None):
    return list(refs[:num_returns]), list(refs[num_returns:])


def cancel(ref, force=False, recursive=True):
    """Everything ran when it was dispatched: there is nothing left to stop."""


def is_initialized():
    return False


def init(*args, **kwargs):
    raise RuntimeError("ray is a fake here: no cluster")


def __getattr__(name):  # ray.actor.ActorHandle, ray.util.*: placeholders
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib
    return importlib.import_module(f"{__name__}.{name}")
