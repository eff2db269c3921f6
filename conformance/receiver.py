"""The callback receiver a run hosts: it records every delivery the target sends."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import orjson
from aiohttp import web


@dataclass
class Delivery:
    path: str
    body: bytes
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)

    @property
    def data(self):
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None


class Receiver:
    """Callbacks land at ``{url}/{token}``: each case asks for its own path."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.deliveries: dict[str, list[Delivery]] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> "Receiver":
        app = web.Application()
        app.router.add_post("/hooks/{token}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.url = f"http://{self.host}:{self._runner.addresses[0][1]}/hooks"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        delivery = Delivery(request.path, await request.read(), dict(request.headers))
        self.deliveries.setdefault(token, []).append(delivery)
        return web.json_response({"received": True})

    def address(self, token: str) -> str:
        return f"{self.url}/{token}"

    async def wait(self, token: str, done, timeout: float) -> list[Delivery]:
        """The deliveries to ``token`` once ``done(deliveries)`` holds, or at the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.deliveries.get(token, [])
            if done(got):
                return list(got)
            await asyncio.sleep(0.05)
        return list(self.deliveries.get(token, []))
