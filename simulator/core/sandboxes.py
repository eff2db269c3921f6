"""Sandboxes: isolated simulators inside one server, told apart by their keys.

Each sandbox is an engine of its own (its own store, clock, scheduler, fault rules,
journal, webhook record and ids), so resetting or advancing one touches no other, the
way a payment provider's test clock moves only the objects made under it. What ties
them together is the key: every key belongs to exactly one engine, and a request is
answered by the engine of the key it carries. The default sandbox is the server's own
engine; a key nobody made is answered there, as unknown.

Media links stay global (their ids cannot be guessed): a clip is looked for in every
sandbox.
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
        return self.default if owner is None else owner

    async def create(self, name: str | None = None,
                     prepare: Callable[[Engine], None] | None = None) -> Engine:
        """A new sandbox, started; ``prepare`` sets it up first (its clock, its default
        grant), and what it raises leaves nothing made."""
        if name is None:
            while name is None or name in self._made:
                name = "sb_" + self._ids.token(12)
        elif name in self._made or name == DEFAULT_SANDBOX:
            raise SandboxError(f"a sandbox named {name!r} exists", 409, "id")
        engine = self._make(name)
        if prepare is not None:
            prepare(engine)
        self._made[name] = engine
        for hear in self.on_made:
            hear(engine)
        try:
            await engine.start()
        except BaseException:
            await self.remove(name)
            raise
        return engine

    async def remove(self, name: str) -> bool:
        engine = self._made.pop(name, None)
        if engine is None:
            return False
        self.keys.release_all(engine)
        await engine.stop()
        for hear in self.on_removed:
            hear(engine)
        return True

    async def remove_all(self) -> int:
        names = list(self._made)
        for name in names:
            await self.remove(name)
        return len(names)

    async def find_clip(self, clip_id: str):
        """The engine, task and clip of a clip made in any sandbox; None if none has it."""
        for engine in self:
            found = await engine.find_clip(clip_id)
            if found is not None:
                return engine, *found
        return None
