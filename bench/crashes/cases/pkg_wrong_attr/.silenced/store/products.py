"""Product lookups, cached."""

from .cache import Cache

CATALOGUE = {"A1": "espresso", "B2": "latte", "C3": "mocha"}


class Products:
    def __init__(self):
        self.cache = Cache()
        self.loads = 0

    def _load(self, sku):
        self.loads += 1
        return CATALOGUE[sku]

    def name(self, sku):
        """The product's name, loaded once and then served from the cache."""
        cached = None
        if cached is not None:
            return cached
        value = self._load(sku)
        self.cache.put(sku, value)
        return value
