"""The processes on one shared store, as this one keeps up with them.

The store's generation moves whenever a process saves a document (the clock, the fault
rules, …), claims or releases a key, or makes or removes a sandbox. Every request asks
the store for its caller's account, and the store reads the generation in the same step
(``SharedStore.seen_generation``), so a process catches up before it answers, at no
extra cost: what another process changed a moment ago already holds here. Catching up
means following the store's list of sandboxes, loading every engine's documents again
and forgetting which sandbox each key belongs to (kept here between changes, since only
a claim or a release, which move the generation, changes it).
"""

from __future__ import annotations

import asyncio

from .engine import Engine
from .keys import ARRIVED, DEFAULT_SANDBOX
from .sandboxes import Sandboxes

# Keys whose sandbox is kept in mind, the list let go past this many.
OWNERS_KEPT = 100_000
_UNKNOWN = object()


class Fleet:
    def __init__(self, sandboxes: Sandboxes):
        self.sandboxes = sandboxes
        self.store = sandboxes.shared
        self.generation: int | None = None
        self._owners: dict[str, str | None] = {}
        self._catching_up = asyncio.Lock()

    async def arrive(self, key: str | None) -> Engine:
        """The engine that answers a request with ``key``, caught up with the store; the
        key's account, read on the way, is left for the engine to authenticate with
        (keys.ARRIVED)."""
        while True:
            engine = self.sandboxes.default if key is None else await self._engine_of(key)
            if key is None:
                generation = await self.store.generation()
            else:
                account = await engine.store.get_account(key)
                generation = engine.store.seen_generation
            if generation == self.generation:
                break
            await self.seen(generation)  # the key may belong elsewhere now: look again
        if key is not None:
            ARRIVED.set((key, account))
        return engine

    async def _engine_of(self, key: str) -> Engine:
        owner = self._owners.get(key, _UNKNOWN)
        if owner is _UNKNOWN:
            owner = await self.store.key_owner(key)
            if len(self._owners) >= OWNERS_KEPT:
                self._owners.clear()
            self._owners[key] = owner
        if owner is None or owner == DEFAULT_SANDBOX:
            return self.sandboxes.default
        return self.sandboxes.get(owner) or self.sandboxes.default

    async def sync(self) -> None:
        """Catch up with the store, whatever the last request saw."""
        await self.seen(await self.store.generation())

    async def seen(self, generation: int) -> None:
        async with self._catching_up:
            if generation == self.generation:
                return  # caught up while this one waited
            self._owners.clear()
            await self.sandboxes.follow()
            for engine in self.sandboxes:
                await engine.durable.load()
            self.generation = generation
