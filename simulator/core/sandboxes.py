"""Sandboxes: isolated simulators inside one server, told apart by their keys.

Each sandbox is an engine of its own (its own store, clock, scheduler, fault rules,
journal, webhook record and ids), so resetting or advancing one touches no other, the
way a payment provider's test clock moves only the objects made under it. What ties
them together is the key: every key belongs to exactly one engine, and a request is
answered by the engine of the key it carries. The default sandbox is the server's own
engine; a key nobody made is answered there, as unknown.

Media links stay global (their ids cannot be guessed): a clip is looked for in every
sandbox.

On a shared store the store keeps the list of sandboxes too: a sandbox made through one
process is made (from the store) in every other as it next looks (see fleet.py), and
one removed is let go everywhere; a process that stops only lets go of its own engines.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterator

from .engine import Engine
from .ids import Ids
from .keys import DEFAULT_SANDBOX, Keys


class SandboxError(ValueError):
    """A sandbox request refused; ``status`` and ``param`` say how to answer it."""

    def __init__(self, message: str, status: int = 400, param: str | None = None):
        super().__init__(message)
        self.status, self.param = status, param


def sandbox_seed(seed: int | None, name: str) -> int | None:
    """A sandbox's own seed under ``--seed``: fixed by the server's seed and the
    sandbox's name, so a named sandbox repeats its ids while two sandboxes draw apart."""
    if seed is None:
        return None
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class Sandboxes:
    """The default engine and the sandboxes made beside it.

    ``make(name)`` builds a new, unstarted engine for a sandbox (the server knows its
    settings); ``on_made`` and ``on_removed`` hear each one, so the layers above can give
    it what it needs (the dialects that answer for it)."""

    def __init__(self, default: Engine, make: Callable[[str], Engine], seed: int | None):
        self.default = default
        self.keys: Keys = default.keys
        self._make = make
        # Names are drawn apart from every engine's ids, so making a sandbox shifts no
        # id of the default one.
        self._ids = Ids(sandbox_seed(seed, ""))
        self._made: dict[str, Engine] = {}
        # The store that lists the sandboxes every process has, when shared.
        self.shared = default.store if default.durable is not None else None
        self.on_made: list[Callable[[Engine], None]] = []
        self.on_removed: list[Callable[[Engine], None]] = []

    def __iter__(self) -> Iterator[Engine]:
        """Every engine, the default first."""
        yield self.default
        yield from self._made.values()

    def named(self) -> list[Engine]:
        """The sandboxes made, oldest first (the default one is not among them)."""
        return list(self._made.values())

    def get(self, name: str) -> Engine | None:
        return self._made.get(name)

    def for_key(self, key: str | None) -> Engine:
        """The engine that answers a request carrying ``key``."""
        owner = self.keys.owner(key)
        return self.default if owner is None else self._made.get(owner, self.default)

    async def create(self, name: str | None = None,
                     prepare: Callable[[Engine], None] | None = None,
                     credits: float | None = None) -> Engine:
        """A new sandbox, started; ``prepare`` sets it up first (its clock), and what it
        raises leaves nothing made. ``credits``: its demo key's grant, at first and
        after each reset (None: the server's), kept with the sandbox in a shared store,
        so every process resets it alike."""
        drawn = name is None
        while True:
            if drawn:
                name = "sb_" + self._ids.token(12)
                if name in self._made:
                    continue
            elif name in self._made or name == DEFAULT_SANDBOX:
                raise SandboxError(f"a sandbox named {name!r} exists", 409, "id")
            if self.shared is None or await self.shared.add_sandbox(
                    name, {"credits": credits}):
                break
            if not drawn:  # made meanwhile through another process
                raise SandboxError(f"a sandbox named {name!r} exists", 409, "id")
        engine = self._made_as(name, {"credits": credits})
        if prepare is not None:
            prepare(engine)
        try:
            await self._started(engine)
        except BaseException:
            await self.remove(name)
            raise
        return engine

    def _made_as(self, name: str, info: dict) -> Engine:
        engine = self._make(name)
        if info.get("credits") is not None:
            engine.default_credits = info["credits"]
        return engine

    async def _started(self, engine: Engine) -> None:
        self._made[engine.sandbox] = engine
        for hear in self.on_made:
            hear(engine)
        await engine.start()

    async def remove(self, name: str) -> bool:
        """Remove a sandbox with everything in it (from the store, when shared)."""
        engine = self._made.get(name)
        if self.shared is not None:
            if not await self.shared.drop_sandbox(name) and engine is None:
                return False
            # Wiped here even when this process never made its engine.
            await (engine or self._make(name)).store.reset()
        elif engine is None:
            return False
        await self.keys.release_all(name)
        await self.let_go(name)
        return True

    async def let_go(self, name: str) -> None:
        """Stop this process's engine of a sandbox, which stays made in the store."""
        engine = self._made.pop(name, None)
        if engine is not None:
            await engine.stop()
            for hear in self.on_removed:
                hear(engine)

    async def remove_all(self) -> int:
        names = list(self._made) if self.shared is None else \
            list(await self.shared.sandboxes())
        for name in names:
            await self.remove(name)
        return len(names)

    async def let_all_go(self) -> None:
        for name in list(self._made):
            await self.let_go(name)

    async def follow(self) -> None:
        """Make here what the store lists and this process lacks, and let go of what it
        no longer lists (another process made or removed them)."""
        listed = await self.shared.sandboxes()
        for name, info in listed.items():
            if name not in self._made:
                await self._started(self._made_as(name, info))
        for name in [name for name in self._made if name not in listed]:
            await self.let_go(name)

    async def find_clip(self, clip_id: str):
        """The engine, task and clip of a clip made in any sandbox; None if none has it."""
        for engine in self:
            found = await engine.find_clip(clip_id)
            if found is not None:
                return engine, *found
        return None
