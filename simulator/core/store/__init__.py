"""State stores: where accounts, the ledger and tasks live.

The core talks to a store only through :class:`Store`; the in-memory store is the
default, and any store that keeps the protocol's promises can replace it.
"""

from .base import InsufficientBalance, StaleWrite, Store
from .copying import CopyingStore
from .memory import MemoryStore

STATES = {"memory": MemoryStore, "memory+copies": CopyingStore}


def open_store(url: str) -> Store:
    """A store from a ``--state`` value."""
    kind = url or "memory"
    if kind in STATES:
        return STATES[kind]()
    scheme = kind.split(":", 1)[0]
    raise ValueError(f"state store {scheme!r} is not available in this build; use one of "
                     f"{', '.join(STATES)}")


__all__ = ["InsufficientBalance", "MemoryStore", "StaleWrite", "Store", "open_store"]
