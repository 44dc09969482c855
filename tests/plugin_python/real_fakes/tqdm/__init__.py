"""Fake of tqdm: not installed; progress bars only. ``tqdm(iterable)`` iterates, ``update`` /
``close`` / ``set_postfix`` do nothing."""


class tqdm:
    def __init__(self, iterable=None, *args, **kwargs):
        self.iterable = iterable
        self.n = 0

    def __iter__(self):
        return iter(self.iterable)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        self.n += n

    def set_postfix(self, *args, **kwargs):
        pass

    def set_description(self, *args, **kwargs):
        pass

    def close(self):
        pass

    @staticmethod
    def write(*args, **kwargs):
        print(*args)


trange = lambda *args, **kwargs: tqdm(range(*args))  # noqa: E731
