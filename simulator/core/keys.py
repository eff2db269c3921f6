"""Which sandbox each API key belongs to.

One index for every sandbox (see :mod:`.sandboxes`): a key is taken once across them
all, and a request finds the engine that answers it in one lookup. In this process by
default; on a shared store, the store keeps it (:class:`StoreKeys`), so a key made
through one process is known to every other.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Account
    from .store import SharedStore

# The name of the server's own engine among the sandboxes.
DEFAULT_SANDBOX = "default"

# On a shared store, the caller's key and account as the edge read them on arrival, in
# the round trip that also found the key's sandbox: the engine authenticates from it
# instead of asking the store again (see fleet.py).
ARRIVED: contextvars.ContextVar[tuple[str, Account | None] | None] = \
    contextvars.ContextVar("arrived", default=None)


class Keys:
    def __init__(self) -> None:
        self._owners: dict[str, str] = {}
        self._owned: dict[str, set[str]] = {}

    async def claim(self, key: str, sandbox: str) -> bool:
        """Take ``key`` for ``sandbox``; False when one (the same one too) has it."""
        if key in self._owners:
            return False
        self._owners[key] = sandbox
        self._owned.setdefault(sandbox, set()).add(key)
        return True

    async def release(self, key: str) -> None:
        sandbox = self._owners.pop(key, None)
        if sandbox is not None:
            self._owned[sandbox].discard(key)

    async def release_all(self, sandbox: str) -> None:
        for key in self._owned.pop(sandbox, ()):
            del self._owners[key]

    def owner(self, key: str | None) -> str | None:
        """The sandbox that has the key, in this process's index (the edge's lookup)."""
        return self._owners.get(key) if key is not None else None

    async def owner_of(self, key: str) -> str | None:
        return self._owners.get(key)


class StoreKeys(Keys):
    """The index a shared store keeps for every process on it."""

    def __init__(self, store: SharedStore) -> None:
        super().__init__()
        self.store = store

    async def claim(self, key: str, sandbox: str) -> bool:
        return await self.store.claim_key(key, sandbox)

    async def release(self, key: str) -> None:
        await self.store.release_key(key)

    async def release_all(self, sandbox: str) -> None:
        await self.store.release_keys(sandbox)

    async def owner_of(self, key: str) -> str | None:
        return await self.store.key_owner(key)
