"""The callback receiver a run hosts: it records every delivery the target sends."""

from __future__ import annotations

import asyncio
import ssl as _ssl
import time
from dataclasses import dataclass, field

import aiohttp
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

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 ssl: _ssl.SSLContext | None = None):
        self.host, self.port, self.ssl = host, port, ssl
        self.deliveries: dict[str, list[Delivery]] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> "Receiver":
        app = web.Application()
        app.router.add_post("/hooks/{token}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl).start()
        scheme = "https" if self.ssl is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"{scheme}://{host}:{self._runner.addresses[0][1]}/hooks"
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


def receiver_ssl(ca_path: str | None, host: str) -> _ssl.SSLContext | None:
    """With the simulator's CA file (``--receiver-tls-ca``, the file ``serve --tls-ca``
    writes, its key beside it): a server context whose certificate that CA issues now
    for ``host`` and the loopback names, so the receiver serves HTTPS the simulator (or
    anything trusting that CA) accepts. None without a CA: plain HTTP."""
    if not ca_path:
        return None
    from simulator.tls import identities, leaf_context, load_ca

    ca, _key = load_ca(ca_path, "--receiver-tls-ca")
    return leaf_context(ca, identities(host))


def trusting(ca_path: str | None) -> aiohttp.TCPConnector | None:
    """A connector for the runner's own calls that trusts that CA as well as the system's
    store, so a target serving a certificate from it (``serve --tls``) is verified.
    None without a CA: aiohttp's default (the system's store, or SSL_CERT_FILE)."""
    if not ca_path:
        return None
    import aiohttp

    from simulator.tls import client_context, load_ca

    ca, _key = load_ca(ca_path, "--receiver-tls-ca")
    return aiohttp.TCPConnector(ssl=client_context(ca.cert_pem.bytes()))
