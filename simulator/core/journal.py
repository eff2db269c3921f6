"""The request journal: what every client sent and what it got back, bounded.

Bodies are cut at a byte bound and the number of entries is capped, so the journal can
stay on in CI without growing without limit. Recording is on every request's path, so
it keeps a plain row; the entry is made, decoded and masked when it is read, and
nothing leaves the journal with a secret unmasked.

A row holds as little new memory as it can: headers are packed into one string, and a
header set, path or key seen recently is held once for all the rows that repeat it (a
client sends the same ones on every request), so ten thousand rows stay small.
"""

from __future__ import annotations

import fnmatch
import itertools
import statistics
import time as _time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from multidict import CIMultiDict

# Answers of these types are kept as text; any other as a note of its size and type.
TEXT_TYPES = ("application/json", "application/x-ndjson", "application/xml", "text/")
# How many distinct header sets, paths and keys the journal holds once before it starts
# afresh.
SHARED_TEXTS = 4096
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "cookie", "set-cookie",
                            "proxy-authorization"})


def _exact(body: bytes, bound: int) -> bytes:
    """At most ``bound`` bytes of ``body``, in a block of their own size: orjson's output
    sits in a buffer of 4 KiB or more whatever its length, and ten thousand rows holding
    those would cost tens of megabytes more than their bodies."""
    return memoryview(body)[:bound].tobytes()


def mask_secret(value: str) -> str:
    """Keep a hint of which key it was, never the key: ``Bearer sk-a…f9`` style."""
    scheme, _, token = value.partition(" ") if " " in value else ("", "", value)
    hint = f"{token[:4]}…{token[-2:]}" if len(token) > 8 else "…"
    return f"{scheme} {hint}".strip()


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k): (mask_secret(v) if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


@dataclass(slots=True)
class Entry:
    id: int
    time: float       # simulated
    wall_time: float  # the machine's: what a client's pacing is judged by
    provider: str | None
    method: str
    path: str
    query: str
    api_key: str | None
    status: int | None  # None: the connection was dropped without an answer
    duration_ms: float
    request_headers: Mapping[str, str]
    request_body: bytes
    response_headers: Mapping[str, str]
    response_body: bytes
    truncated: bool
    faults: tuple[str, ...]
    damage: str | None
    replayed: bool  # answered from a cassette (serve --replay), not simulated

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "time": self.time, "wall_time": self.wall_time,
            "provider": self.provider, "method": self.method,
            "path": self.path, "query": self.query,
            "api_key": mask_secret(self.api_key) if self.api_key else None,
            "status": self.status, "duration_ms": round(self.duration_ms, 3),
            "request": {"headers": mask_headers(self.request_headers),
                        "body": self.request_body.decode("utf-8", "replace")},
            "response": {"headers": mask_headers(self.response_headers),
                         "body": self.response_body.decode("utf-8", "replace")},
            "truncated": self.truncated, "faults": list(self.faults), "damage": self.damage,
            "replayed": self.replayed,
        }


class Journal:
    def __init__(self, max_entries: int = 10_000, max_body: int = 16_384):
        self.max_body = max_body
        self.capacity = max_entries
        self._rows: deque[tuple] = deque(maxlen=max_entries)
        # On a shared store: hears each row as it is kept (see core/durable.py).
        self.shared: Callable[[tuple], None] | None = None
        self._ids = itertools.count(1)
        self._held: dict[str, str] = {}  # recent texts, each held once

    def record(self, time: float, provider: str | None, method: str, path: str, query: str,
               api_key: str | None, status: int | None, seconds: float,
               request_headers: Mapping[str, str], request_body: bytes,
               response_headers: Mapping[str, str], response_body: object,
               faults: Iterable[str] = (), damage: str | None = None,
               replayed: bool = False) -> None:
        """One exchange: ``status`` None when the connection was dropped; a response body
        that is not bytes (a streamed answer, a file) leaves nothing to keep."""
        bound = self.max_body
        if type(response_body) is not bytes:
            response_body = None
        held = self._held  # recent texts: each is kept once, whichever row repeats it
        if len(held) > SHARED_TEXTS:
            held.clear()
        once = held.setdefault
        sent, answered = _packed(request_headers), _packed(response_headers)
        row = (next(self._ids), time, _time.time(), provider, method,
               once(path, path), query, api_key and once(api_key, api_key),
               status, seconds, once(sent, sent), request_body[:bound],
               len(request_body), once(answered, answered),
               None if response_body is None else _exact(response_body, bound),
               0 if response_body is None else len(response_body), faults, damage,
               replayed)
        self._rows.append(row)
        if self.shared is not None:
            self.shared(row)

    def mark(self) -> tuple[int, int]:
        """How many entries are kept and the id of the last: it moves on every record
        and every clearing, so a watcher knows when to read again."""
        return len(self._rows), self._rows[-1][0] if self._rows else 0

    @property
    def _entries(self) -> Iterator[Entry]:
        for (id_, time, wall, provider, method, path, query, api_key, status, seconds,
             request_headers, request_body, request_size, response_headers, response_body,
             response_size, faults, damage, replayed) in self._rows:
            request_headers, response_headers = _unpacked(request_headers), \
                _unpacked(response_headers)
            kind = response_headers.get("Content-Type", "")
            if response_body is None:
                kept = b""
            elif kind.startswith(TEXT_TYPES):
                kept = response_body
            else:
                kept = f"<{response_size} bytes of {kind.split(';')[0]}>".encode()
            yield Entry(id_, time, wall, provider, method, path, query, api_key, status,
                        seconds * 1000, request_headers, request_body, response_headers, kept,
                        request_size > self.max_body or (kept is response_body
                                                         and response_size > self.max_body),
                        tuple(faults), damage, replayed)

    def query(self, provider: str | None = None, method: str | None = None,
              path: str | None = None, api_key: str | None = None,
              since: float | None = None, until: float | None = None,
              status: int | None = None, body_contains: str | None = None,
              faulted: bool | None = None, replayed: bool | None = None,
              mentions: str | None = None) -> Iterable[Entry]:
        """Entries oldest first; ``since``/``until`` are simulated times, ``path`` an
        exact path or a glob, ``body_contains`` text in the request body, ``mentions``
        text anywhere in the path, query or either body (a task's id finds every
        exchange about it)."""
        mentioned = mentions.encode() if mentions else None
        for e in self._entries:
            if provider and e.provider != provider:
                continue
            if method and e.method != method.upper():
                continue
            if path and not path_matches(path, e.path):
                continue
            if api_key and e.api_key != api_key:
                continue
            if since is not None and e.time < since:
                continue
            if until is not None and e.time > until:
                continue
            if status is not None and e.status != status:
                continue
            if body_contains and body_contains.encode() not in e.request_body:
                continue
            if faulted is not None and bool(e.faults) != faulted:
                continue
            if replayed is not None and e.replayed != replayed:
                continue
            if mentioned is not None and mentions not in e.path and mentions not in e.query \
                    and mentioned not in e.request_body and mentioned not in e.response_body:
                continue
            yield e

    def clear(self) -> None:
        self._rows.clear()

    def replace(self, rows: list[tuple]) -> None:
        """Rows kept elsewhere (a shared store's log), in place of this process's."""
        self._rows.clear()
        self._rows.extend(rows)


def _packed(headers: Mapping[str, str]) -> str:
    """Headers as one string: a line each, name and value split by NUL (neither can hold
    a line break or a NUL on the wire)."""
    return "\n".join(map("\0".join, headers.items()))


def _unpacked(packed: str) -> CIMultiDict[str]:
    return CIMultiDict(line.split("\0", 1) for line in packed.split("\n")) if packed \
        else CIMultiDict()


def stats(entries: list[Entry]) -> dict[str, Any]:
    """Counts and pacing of a set of entries: enough to say "polled five times, never
    faster than once a second". Gaps are in wall seconds, between consecutive entries."""
    by_status: dict[str, int] = {}
    for e in entries:
        name = "dropped" if e.status is None else str(e.status)
        by_status[name] = by_status.get(name, 0) + 1
    gaps = [b.wall_time - a.wall_time for a, b in zip(entries, entries[1:])]
    return {
        "count": len(entries), "by_status": by_status,
        "first_wall_time": entries[0].wall_time if entries else None,
        "last_wall_time": entries[-1].wall_time if entries else None,
        "min_interval_s": round(min(gaps), 6) if gaps else None,
        "mean_interval_s": round(statistics.fmean(gaps), 6) if gaps else None,
        "max_interval_s": round(max(gaps), 6) if gaps else None,
    }


def path_matches(pattern: str, path: str) -> bool:
    """Exact path, or a glob when the pattern has ``*``, ``?`` or ``[``: how the journal's
    filters and fault rules read a path or URL pattern."""
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(path, pattern)
    return path == pattern
