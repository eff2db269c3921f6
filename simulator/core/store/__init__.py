"""State stores: where accounts, the ledger and tasks live.

The core talks to a store only through :class:`Store`; the in-memory store is the
default, and any store that keeps the protocol's promises can replace it. ``sqlite:PATH``
and ``redis://HOST:PORT/DB`` are :class:`SharedStore` s: they outlive the process, and
several processes may share one.
"""

from __future__ import annotations

from .base import InsufficientBalance, SharedStore, StaleWrite, Store
from .copying import CopyingStore
from .memory import MemoryStore

STATES = {"memory": MemoryStore, "memory+copies": CopyingStore}
# --state values whose stores outlive the process and several processes may share.
SCHEMES = ("sqlite:", "redis://")


def open_store(url: str, namespace: str = "default") -> Store:
    """A store from a ``--state`` value, for one namespace (a sandbox)."""
    kind = url or "memory"
    if kind in STATES:
        return STATES[kind]()
    if kind.startswith("sqlite:"):
        from .sqlite import SqliteStore
        return SqliteStore.open(kind, namespace)
    if kind.startswith("redis://"):
        from .redis import RedisStore
        return RedisStore.open(kind, namespace)
    raise ValueError(f"state store {kind!r} is not one this build knows; use memory, "
                     f"sqlite:PATH or redis://HOST:PORT/DB")


def is_shared(store: Store) -> bool:
    """Whether a store outlives the process and may be shared (see SharedStore)."""
    return getattr(store, "durable", False)


__all__ = ["InsufficientBalance", "MemoryStore", "SharedStore", "StaleWrite", "Store",
           "is_shared", "open_store"]
