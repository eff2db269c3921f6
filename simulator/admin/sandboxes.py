"""Making and removing sandboxes (see core/sandboxes.py): the calls on the collection.

What happens inside one is the rest of the control plane, served again under its own
prefix."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from ..core.clock import ClockError
from ..core.engine import Engine
from ..core.sandboxes import SandboxError, Sandboxes
from ..openapi import load_spec
from .answers import AdminError, json_answer
from .requests import body, clock_dict

# Where the default sandbox's calls are served, and where a made one's: as admin.yaml's
# x-sandboxed says, so the routes and the spec cannot part.
_SERVED = load_spec("admin").document["x-sandboxed"]
ADMIN_PREFIX, SANDBOX_PREFIX = _SERVED["base"], _SERVED["prefix"]

Route = tuple[str, str, Callable[[web.Request], Awaitable[web.Response]]]


def described(engine: Engine) -> dict[str, Any]:
    """A sandbox as its calls answer it: where its control plane is, and its demo key."""
    return {"id": engine.sandbox, "demo_key": engine.demo_key, "created_at": engine.created_at,
            "control": SANDBOX_PREFIX.replace("{sandbox}", engine.sandbox),
            "clock": clock_dict(engine)}


def engine_of(sandboxes: Sandboxes, request: web.Request) -> Engine:
    """The engine of the sandbox the path names (the default one's when it names none);
    a 404 naming ``sandbox`` when there is no such sandbox."""
    name = request.match_info.get("sandbox")
    if name is None:
        return sandboxes.default
    engine = sandboxes.get(name)
    if engine is None:
        raise AdminError(404, "not_found", f"no sandbox {name!r}", "sandbox")
    return engine


def sandbox_routes(sandboxes: Sandboxes) -> list[Route]:
    async def create(request):
        data = await body(request, "/_sim/sandboxes")
        clock = data.get("clock") or {}

        def prepare(engine: Engine) -> None:
            if clock:
                engine.set_clock(clock.get("mode"), clock.get("speed"))

        try:
            engine = await sandboxes.create(data.get("id"), prepare, data.get("credits"))
        except SandboxError as exc:
            raise AdminError(exc.status, "conflict" if exc.status == 409 else "invalid_request",
                             str(exc), exc.param) from None
        except ClockError as exc:
            raise AdminError(400, "invalid_request", str(exc), f"clock.{exc.param}") from None
        return json_answer(described(engine), 201)

    async def listed(request):
        made = sandboxes.named()
        return json_answer({"sandboxes": [described(e) for e in made], "count": len(made)})

    async def one(request):
        return json_answer(described(engine_of(sandboxes, request)))

    async def remove(request):
        engine = engine_of(sandboxes, request)
        await sandboxes.remove(engine.sandbox)
        return json_answer({"status": "removed", "id": engine.sandbox})

    async def remove_all(request):
        return json_answer({"status": "removed", "count": await sandboxes.remove_all()})

    collection = SANDBOX_PREFIX.rsplit("/", 1)[0]  # /_sim/sandboxes
    return [("POST", collection, create), ("GET", collection, listed),
            ("DELETE", collection, remove_all), ("GET", SANDBOX_PREFIX, one),
            ("DELETE", SANDBOX_PREFIX, remove)]
