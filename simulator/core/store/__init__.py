"""State stores: where accounts, the ledger and tasks live.

The core talks to a store only through :class:`Store`; the in-memory store is the
default, and any store that keeps the protocol's atomicity promises can replace it.
"""

from .base import InsufficientBalance, Store
from .memory import MemoryStore


def open_store(url: str) -> Store:
    """A store from a ``--state`` value."""
    if url in ("", "memory"):
        return MemoryStore()
    scheme = url.split(":", 1)[0]
    raise ValueError(f"state store {scheme!r} is not available in this build; use 'memory'")


__all__ = ["InsufficientBalance", "MemoryStore", "Store", "open_store"]
