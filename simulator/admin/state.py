"""Named state over the control plane: ``GET /_sim/state`` writes a sandbox's state as
a state file's document, ``POST /_sim/state`` replaces the sandbox's state with one (see
core/snapshot.py for what a file holds, and specs/admin.yaml for its shape)."""

from __future__ import annotations

import re
from typing import Awaitable, Callable

from aiohttp import web

from ..core.engine import Engine
from ..core.snapshot import KeyTaken, StateError, export_state, load_state
from .answers import AdminError, json_answer
from .requests import body, clock_dict

ScopedRoute = tuple[str, str, Callable[[web.Request, Engine], Awaitable[web.Response]]]

# The longest name a state file may be given (admin.yaml's State.name says the same).
NAME_LENGTH = 200
# What a key suffix may be (admin.yaml's key_suffix says the same): a key stays a token.
SUFFIX = re.compile(r"[A-Za-z0-9_-]{1,64}")


def state_routes() -> list[ScopedRoute]:
    async def export(request: web.Request, engine: Engine) -> web.Response:
        name = request.query.get("name")
        if name is not None and not 1 <= len(name) <= NAME_LENGTH:
            raise AdminError(400, "invalid_request",
                             f"name must be 1 to {NAME_LENGTH} characters", "name")
        keys = request.query.getall("api_key", None)
        for key in keys or ():
            if await engine.account(key) is None:
                raise AdminError(404, "not_found", f"no account with key {key!r}", "api_key")
        return json_answer(await export_state(engine, name, keys))

    async def load(request: web.Request, engine: Engine) -> web.Response:
        document = await body(request, "/_sim/state")
        suffix = request.query.get("key_suffix")
        if suffix is not None and not SUFFIX.fullmatch(suffix):
            raise AdminError(400, "invalid_request", "key_suffix must be 1 to 64 letters, "
                                                     "digits, - or _", "key_suffix")
        try:
            counts = await load_state(engine, document, suffix)
        except KeyTaken as exc:
            raise AdminError(409, "conflict", str(exc), exc.param) from None
        except StateError as exc:
            raise AdminError(400, "invalid_request", str(exc), exc.param) from None
        return json_answer({"status": "loaded", "name": document.get("name"), **counts,
                            "clock": clock_dict(engine)})

    return [("GET", "/state", export), ("POST", "/state", load)]
