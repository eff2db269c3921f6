"""A byte-bounded LRU for rendered media.

Songs are megabytes and re-rendering one costs a fraction of a second, so the bound that
matters is memory, not entry count; the media server runs on one event loop, so no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable


class ByteLRU:
    """Keeps the most recently used values whose total length fits in max_bytes."""

    def __init__(self, max_bytes: int):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, not {max_bytes}")
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0

    @property
    def size(self) -> int:
        """Bytes currently held."""
        return self._size

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def get(self, key: Hashable) -> bytes | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: bytes) -> None:
        """Store value as the most recent entry; one too big to ever fit is not kept."""
        old = self._items.pop(key, None)
        if old is not None:
            self._size -= len(old)
        if len(value) > self.max_bytes:
            return
        self._items[key] = value
        self._size += len(value)
        while self._size > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self._size -= len(evicted)

    def get_or_make(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value
