"""GET /_sim/events: what changed in a sandbox, as server-sent events, for the dashboard.

A stream looks at its sandbox every TICK and names the lists that moved since it last
looked (tasks, accounts, journal, webhooks, faults, sandboxes), with the clock; the page
then reads those lists through the ordinary, paged calls. Looking, rather than being
told, works alike on every store: on a shared one the change may have been made by
another process, and catching up with the store (as every control-plane call does)
shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ..core.engine import Engine
from ..core.sandboxes import Sandboxes
from .requests import clock_dict

if TYPE_CHECKING:
    from ..core.fleet import Fleet

TICK = 0.5  # wall seconds between looks
KEEPALIVE = 15.0  # a comment line this often keeps proxies from closing a quiet stream
TOPICS = ("tasks", "accounts", "journal", "webhooks", "faults", "sandboxes")


class Streams:
    """Every open stream ends when the server stops, rather than holding it for its
    grace period."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()

    async def close(self, _app: object = None) -> None:
        self.closing.set()


async def _marks(engine: Engine, sandboxes: Sandboxes) -> dict[str, Any]:
    """A value per topic that moves whenever what the topic's list shows moves."""
    tasks = await engine.tasks()
    running = any(not t.terminal for t in tasks)
    return {
        # A running task's progress moves with the clock, so it is news every look.
        "tasks": (len(tasks), sum(t.version for t in tasks), max((t.seq for t in tasks),
                                                                  default=0),
                  engine.now() if running else None),
        "accounts": tuple((a.api_key, a.available, a.held, a.spent, a.granted)
                          for a in await engine.accounts()),
        "journal": engine.journal.mark(),
        "webhooks": engine.webhooks.mark(),
        "faults": (orjson.dumps([r.to_dict() for r in engine.faults.rules()]),
                   engine.scenario),
        "sandboxes": tuple(e.sandbox for e in sandboxes.named()),
    }


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def events_handler(sandboxes: Sandboxes, streams: Streams, fleet: Fleet | None):
    async def events(request: web.Request, engine: Engine) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no"})
        await response.prepare(request)
        seen: dict[str, Any] = {}
        name, quiet = "hello", 0.0
        with contextlib.suppress(ConnectionError):
            while not streams.closing.is_set():
                if fleet is not None:
                    await fleet.sync()
                if engine is not sandboxes.default and sandboxes.get(engine.sandbox) is not engine:
                    await response.write(_event("gone", {"sandbox": engine.sandbox}))
                    break
                await engine.gather_logs()
                marks = {**await _marks(engine, sandboxes), "clock": clock_dict(engine)}
                changed = [t for t in TOPICS if seen.get(t) != marks[t]]
                if changed or marks["clock"] != seen.get("clock"):
                    await response.write(_event(name, {"sandbox": engine.sandbox,
                                                       "clock": marks["clock"],
                                                       "changed": changed}))
                    name, quiet = "change", 0.0
                elif quiet >= KEEPALIVE:
                    await response.write(b": still here\n\n")
                    quiet = 0.0
                seen = marks
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(streams.closing.wait(), TICK)
                quiet += TICK
        return response
    return events
