"""A small in-process cache."""


class Cache:
    def __init__(self):
        self._data = {}
        self.hits = 0
        self.misses = 0

    def get(self, key, default=None):
        """The cached value, or default; counts hits and misses."""
        if key in self._data:
            self.hits += 1
            return self._data[key]
        self.misses += 1
        return default

    def put(self, key, value):
        self._data[key] = value
