"""Replay (``musicsim serve --replay CASSETTE``): recorded answers in place of simulated ones.

A client or gateway test can then run against what a real provider once said, byte for
byte, while everything the cassette never saw is still simulated. The edge asks the
replay where it would ask the provider's handler, so fault rules still act first and
the journal and metrics see the request as usual.

A request is found by :func:`cassette.request_key`: method, path inside the provider,
query and body, each masked as the cassette masks them, so a client sending its own key
matches the recording made with another. Headers are not part of it. The n-th request
with a key gets the n-th answer recorded for it (the n-th poll of a task, its n-th
state), and the last answer once they run out. A key recorded with only a media digest
has no bytes to give back, so the simulator answers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from .cassette import HOP_BY_HOP, CassetteError, Exchange, body_text, read, request_key

Key = tuple[str, str, str, str]
Answer = tuple[int, dict[str, str], bytes]  # status, headers, body


class Recorded(web.Response):
    """An answer taken from the cassette, so the edge can tell the journal so."""


class Replay:
    """The recorded answers of one cassette, by provider and request key, and how many
    times each key has been asked for."""

    def __init__(self, path: str, exchanges: Iterable[Exchange]):
        self.path, self.exchanges = path, 0
        self._answers: dict[str, dict[Key, list[Answer]]] = {}
        media: set[tuple[str, Key]] = set()
        for exchange in exchanges:
            self.exchanges += 1
            key = exchange.key()
            if exchange.media is not None:
                media.add((exchange.provider, key))
                continue
            headers = {name: value for name, value in exchange.response_headers.items()
                       if name.lower() not in HOP_BY_HOP}
            body = (exchange.response_text or "").encode("utf-8")
            self._answers.setdefault(exchange.provider, {}).setdefault(key, []).append(
                (exchange.status, headers, body))
        for provider, key in media:  # no bytes for some of its answers: none are given
            self._answers.get(provider, {}).pop(key, None)
        self._asked: dict[tuple[str, Key], int] = {}

    @classmethod
    def load(cls, path: str, served: Iterable[str]) -> "Replay":
        """The cassette at ``path``; a ValueError, in one line, when it cannot be read or
        records a provider that is not served."""
        try:
            cassette = read(path)
        except CassetteError as exc:
            raise ValueError(f"cannot replay {exc}") from None
        served = list(served)
        recorded = {e.provider for e in cassette.exchanges} | (
            {cassette.provider} if cassette.provider else set())
        missing = sorted(recorded - set(served))
        if missing:
            raise ValueError(f"cannot replay {path}: it records {', '.join(missing)}, which "
                             f"is not served (serving {', '.join(served)})")
        return cls(str(Path(path)), cassette.exchanges)

    def holds(self, provider: str) -> bool:
        """Whether any request to ``provider`` can be answered from the cassette."""
        return bool(self._answers.get(provider))

    async def answer(self, provider: str, request: web.Request, path: str) -> Recorded | None:
        """The recorded answer to ``request`` (``path`` inside ``provider``), or None when
        the cassette has none for it."""
        recorded = self._answers.get(provider)
        if not recorded:
            return None
        raw = await request.read()  # already read by the edge: aiohttp hands back its copy
        key = request_key(request.method, path, request.query_string,
                          body_text(raw, request.headers.get("Content-Type", "")))
        answers = recorded.get(key)
        if answers is None:
            return None
        asked = self._asked.get((provider, key), 0)
        self._asked[(provider, key)] = asked + 1
        status, headers, body = answers[min(asked, len(answers) - 1)]
        return Recorded(status=status, headers=headers, body=body)

    @staticmethod
    def answered(response: web.StreamResponse) -> bool:
        """Whether ``response`` came from the cassette."""
        return type(response) is Recorded

    def rewind(self) -> None:
        """Start every key from its first answer again (``POST /_sim/reset``)."""
        self._asked.clear()

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "exchanges": self.exchanges}
