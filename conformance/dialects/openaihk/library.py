"""The song and upload most chains start from, made once per run and shared.

Every chain, media and clip-rule case builds on the same finished custom song
(scenario 2) and the same upload, so each costs one step less. They belong to one key,
which all those cases poll at once: against a simulator it is a key with a roomy rate
limit of its own, so they do not wait on each other (the dialect's limit itself is the
shared burst case's business); through a gateway it is the run's key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ...case import CaseFailed
from .calls import made, uploaded
from .driver import LYRICS

LIBRARY_CREDITS = 100_000_000  # the shared key pays for every case built on the library
RATE, BURST = 500, 1000  # requests a second and at once, for all those cases together


@dataclass
class Library:
    """A finished custom song (its two clips), an upload, and the key that owns them."""

    key: str
    songs: list[dict[str, Any]]
    upload: dict[str, Any]

    @property
    def song(self) -> dict[str, Any]:
        return self.songs[0]


async def library(ctx) -> Library:
    """The run's library, made by the first case that asks for it."""
    async def make() -> Library:
        key = (await ctx.new_key(LIBRARY_CREDITS, rate=RATE, burst=BURST) if ctx.run.direct
               else ctx.api_key)
        body = {"prompt": LYRICS, "mv": "chirp-v3-5", "title": "Work", "tags": " edm",
                "negative_tags": ctx.marker("library")}
        (_, songs), upload = await asyncio.gather(made(ctx, body, key=key),
                                                  uploaded(ctx, key=key))
        return Library(key, songs, upload)

    try:
        return await ctx.run.once("openaihk.library", make)
    except CaseFailed as exc:
        raise CaseFailed(f"making the shared song and upload: {exc}") from exc
