"""Fake of codetiming: not installed; verl times its steps with ``Timer`` as a context manager and
reads ``.last``. This one measures with time.perf_counter."""
import time


class Timer:
    def __init__(self, name=None, text=None, logger=None, initial_text=False, **kwargs):
        self.name, self.last = name, 0.0

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.last = time.perf_counter() - self._start
        return False

    def start(self):
        self.__enter__()

    def stop(self):
        self.__exit__()
        return self.last
