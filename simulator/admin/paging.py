"""Pages of the control plane's lists (ledger, tasks, journal, webhook attempts).

A cursor names a position, not an index: each list's items carry a number that only
grows as items are added (a ledger entry's id, a task's creation sequence, a journal
entry's id, a webhook attempt's sequence), and the next page starts after the last
number the previous page gave. Items appended between reads land after it, and the
capped lists dropping their oldest does not shift it, so no item is skipped or repeated.

The cursor also names its list and the engine's epoch: a cursor for another list, or
from before a reset (when sequences start again), is refused rather than misread.
Clients treat it as opaque: base64url of ``v1:<list>:<epoch>:<position>``.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_left, bisect_right
from typing import Callable, Sequence, TypeVar

from aiohttp import web

T = TypeVar("T")
VERSION = "v1"


class BadCursor(ValueError):
    """A cursor this list cannot continue from; the message says why."""


def encode(kind: str, epoch: int, position: int) -> str:
    raw = f"{VERSION}:{kind}:{epoch}:{position}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str, kind: str, epoch: int) -> int:
    """The position after which the page starts; BadCursor if ``cursor`` is not one
    this list (of this epoch) handed out."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_",
                               validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("cursor is not one the control plane handed out") from None
    parts = raw.split(":")
    if len(parts) != 4 or parts[0] != VERSION or not parts[2].isdigit() \
            or not parts[3].isdigit():
        raise BadCursor("cursor is not one the control plane handed out")
    if parts[1] != kind:
        raise BadCursor(f"cursor belongs to another list ({parts[1]}), not {kind}")
    if int(parts[2]) != epoch:
        raise BadCursor("cursor is from before the last reset; start again without one")
    return int(parts[3])


def page(items: Sequence[T], position: Callable[[T], int], after: int | None,
         limit: int, newest: bool = False) -> tuple[list[T], int | None]:
    """At most ``limit`` of ``items`` (ordered by ``position``, ascending) after position
    ``after``, and the position to continue after (None on the last page). ``newest``
    reads the list from its end: the page holds the items before ``after``, newest
    first, so a watcher's first page always shows what was added last."""
    if newest:
        end = len(items) if after is None else bisect_left(items, after, key=position)
        start = max(0, end - limit)
        chosen = list(reversed(items[start:end]))
        return chosen, (position(chosen[-1]) if start > 0 else None)
    start = 0 if after is None else bisect_right(items, after, key=position)
    chosen = list(items[start:start + limit])
    more = start + limit < len(items)
    return chosen, (position(chosen[-1]) if more else None)


def link(request: web.Request, next_cursor: str | None) -> dict[str, str] | None:
    """The RFC 8288 ``Link: <…>; rel="next"`` header for a next page: this request's
    path and query with the new cursor."""
    if next_cursor is None:
        return None
    return {"Link": f'<{request.rel_url.update_query(cursor=next_cursor)}>; rel="next"'}
