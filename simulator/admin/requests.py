"""What a control-plane request asks for: its body checked against specs/admin.yaml, its
query's numbers and flags, and the page of a list it wants."""

from __future__ import annotations

from typing import Any, Callable

import orjson
from aiohttp import web

from ..core.engine import Engine
from ..core.keys import DEFAULT_SANDBOX
from ..openapi import load_spec
from . import paging
from .answers import AdminError


async def body(request: web.Request, path: str, method: str = "post") -> dict[str, Any]:
    raw = await request.read()
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        raise AdminError(400, "invalid_request", "body must be valid JSON") from None
    violation = load_spec("admin").check_body(path, method, data)
    if violation is not None:
        raise AdminError(400, "invalid_request", violation.message, violation.param)
    return data


def clock_dict(engine: Engine) -> dict[str, Any]:
    state = engine.clock.state()
    return {"mode": state.mode, "speed": state.speed, "now": state.now}


def number(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise AdminError(400, "invalid_request", f"{name} must be a number",
                         name) from None


def flag(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is not None and raw not in ("true", "false"):
        raise AdminError(400, "invalid_request", f"{name} must be true or false", name)
    return None if raw is None else raw == "true"


ORDERS = ("oldest", "newest")


def limit_of(request: web.Request, default: int = 1000) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise AdminError(400, "invalid_request", "limit must be an integer from 1 to 10000",
                         "limit")
    return int(raw)


def paged(request: web.Request, engine: Engine, kind: str, items: list,
          position: Callable[[Any], int], default_limit: int) -> tuple[list, str | None]:
    """The page of ``items`` (filtered, oldest first) that ``limit``, ``cursor`` and
    ``order`` ask for, and the cursor of the next page (None on the last). A cursor
    names its sandbox's list and its order: it reads no other."""
    if engine.sandbox != DEFAULT_SANDBOX:
        kind = f"{kind}@{engine.sandbox}"
    order = request.query.get("order", "oldest")
    if order not in ORDERS:
        raise AdminError(400, "invalid_request", f"order must be one of {', '.join(ORDERS)}",
                         "order")
    newest = order == "newest"
    if newest:
        kind = f"{kind}~newest"
    limit = limit_of(request, default_limit)
    cursor = request.query.get("cursor")
    try:
        after = None if cursor is None else paging.decode(cursor, kind, engine.epoch)
    except paging.BadCursor as exc:
        raise AdminError(400, "invalid_request", str(exc), "cursor") from None
    chosen, last = paging.page(items, position, after, limit, newest)
    return chosen, None if last is None else paging.encode(kind, engine.epoch, last)
