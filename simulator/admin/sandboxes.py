"""Making and removing sandboxes (see core/sandboxes.py): the calls on the collection.

What happens inside one is the rest of the control plane, served again under its own
prefix."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from ..core.clock import ClockError
from ..core.engine import Engine
from ..core.sandboxes import SandboxError, Sandboxes
from .answers import AdminError, json_answer
from .requests import body, clock_dict

ADMIN_PREFIX = "/_sim"
SANDBOX_PREFIX = "/_sim/sandboxes/{sandbox}"

Route = tuple[str, str, Callable[[web.Request], Awaitable[web.Response]]]


def described(engine: Engine) -> dict[str, Any]:
    """A sandbox as its calls answer it: where its control plane is, and its demo key."""
    return {"id": engine.sandbox, "demo_key": engine.demo_key, "created_at": engine.created_at,
            "control": SANDBOX_PREFIX.replace("{sandbox}", engine.sandbox),
            "clock": clock_dict(engine)}


def sandbox_routes(sandboxes: Sandboxes) -> list[Route]:
    def named(request: web.Request) -> Engine:
        name = request.match_info["sandbox"]
        engine = sandboxes.get(name)
        if engine is None:
            raise AdminError(404, "not_found", f"no sandbox {name!r}", "sandbox")
        return engine

    async def create(request):
        data = await body(request, "/_sim/sandboxes")
        clock = data.get("clock") or {}

        def prepare(engine: Engine) -> None:
            if clock:
                engine.set_clock(clock.get("mode"), clock.get("speed"))
            if data.get("credits") is not None:
                engine.default_credits = data["credits"]

        try:
            engine = await sandboxes.create(data.get("id"), prepare)
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
        return json_answer(described(named(request)))

    async def remove(request):
        engine = named(request)
        await sandboxes.remove(engine.sandbox)
        return json_answer({"status": "removed", "id": engine.sandbox})

    async def remove_all(request):
        return json_answer({"status": "removed", "count": await sandboxes.remove_all()})

    return [("POST", "/_sim/sandboxes", create), ("GET", "/_sim/sandboxes", listed),
            ("DELETE", "/_sim/sandboxes", remove_all), ("GET", SANDBOX_PREFIX, one),
            ("DELETE", SANDBOX_PREFIX, remove)]
