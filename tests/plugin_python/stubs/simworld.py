"""Simulated processes for the framework stand-ins: N threads that behave like N accelerate ranks.

No real counterpart: this is the test harness under the accelerate stand-in (stubs/accelerate/).
``run_processes(n, fn)`` runs ``fn(rank)`` in n threads and returns their results in rank order.
Inside a thread, ``accelerate.PartialState()`` / ``Accelerator()`` report ``num_processes=n`` and
``process_index=rank``, and the collectives of ``accelerate.utils`` (``gather``, ``gather_object``,
``broadcast_object_list``) rendezvous across the n threads the way torch.distributed does across
processes: every rank must make the same collective calls in the same order, each call blocks
until all ranks reached it, and every rank gets the result.

Deviations kept on purpose, so that bugs show up as errors rather than hangs:
- two ranks making different collectives at the same point raise ``CollectiveMismatch`` (the real
  thing hangs or garbles data);
- a rank that raises breaks the rendezvous, so the others fail fast with ``BrokenBarrierError``,
  and ``run_processes`` re-raises the first original exception;
- every rendezvous times out after ``timeout`` seconds (a rank that skipped a collective).

Outside ``run_processes`` (a plain test) there is one process, rank 0, and the collectives return
their input, as accelerate's do when not distributed.
"""
import threading
from typing import Any, Callable, List, Optional

__all__ = ["run_processes", "current", "World", "CollectiveMismatch"]

_local = threading.local()


class CollectiveMismatch(RuntimeError):
    """Ranks called different collectives at the same rendezvous."""


class World:
    """The n simulated processes' shared state: one barrier and one slot per rank."""

    def __init__(self, num_processes: int, timeout: float = 60.0):
        self.num_processes = num_processes
        self.timeout = timeout
        self._barrier = threading.Barrier(num_processes, timeout=timeout)
        self._slots: List[Any] = [None] * num_processes

    def exchange(self, rank: int, op: str, value: Any) -> List[Any]:
        """Deposit (op, value) for ``rank``; once every rank has, return all values in rank order."""
        self._slots[rank] = (op, value)
        self._barrier.wait()
        deposited = list(self._slots)
        self._barrier.wait()  # nobody overwrites a slot before everyone has read them all
        ops = {o for o, _ in deposited}
        if len(ops) != 1:
            raise CollectiveMismatch(f"ranks called different collectives at one rendezvous: "
                                     f"{[o for o, _ in deposited]}")
        return [v for _, v in deposited]

    def abort(self) -> None:
        self._barrier.abort()


class _Context:
    def __init__(self, world: Optional[World], rank: int):
        self.world = world
        self.rank = rank

    @property
    def num_processes(self) -> int:
        return self.world.num_processes if self.world else 1


def current() -> _Context:
    """This thread's simulated process: its world (None when not distributed) and rank."""
    ctx = getattr(_local, "ctx", None)
    return ctx if ctx is not None else _Context(None, 0)


def run_processes(n: int, fn: Callable[[int], Any], timeout: float = 60.0) -> List[Any]:
    """Run ``fn(rank)`` for rank 0..n-1 in n threads sharing one World; return results by rank."""
    if n < 1:
        raise ValueError("n must be at least 1")
    world = World(n, timeout=timeout) if n > 1 else None
    results: List[Any] = [None] * n
    errors: List[Optional[BaseException]] = [None] * n

    def main(rank: int) -> None:
        _local.ctx = _Context(world, rank)
        try:
            results[rank] = fn(rank)
        except BaseException as e:  # noqa: BLE001 - handed back to the caller below
            errors[rank] = e
            if world is not None:
                world.abort()
        finally:
            _local.ctx = None

    threads = [threading.Thread(target=main, args=(r,), name=f"simworld-rank{r}", daemon=True)
               for r in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5 if timeout else None)
        if t.is_alive():
            if world is not None:
                world.abort()
            raise TimeoutError(f"{t.name} did not finish")
    original = [e for e in errors if e is not None and not isinstance(e, threading.BrokenBarrierError)]
    if original:
        raise original[0]
    broken = [e for e in errors if e is not None]
    if broken:
        raise broken[0]
    return results
