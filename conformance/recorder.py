"""``musicsim record``: a proxy in front of a provider that keeps every exchange.

A client points its base URL at the proxy; each request goes on to the upstream (a real
provider, or any server of the dialect) and its answer comes back unchanged, streamed
as it arrives when the upstream streams it. Each exchange is appended to the cassette
(secrets masked, media as a digest) and held against the dialect at once: every
difference is one log line.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from simulator.cassette import (HOP_BY_HOP, Digest, Exchange, Writer, body_text, is_text,
                                mask_headers, mask_query)

from .drift import Drift

log = logging.getLogger("musicsim.record")
# What the proxy itself answers when the upstream cannot be reached (never recorded).
UNREACHABLE = 502
# Request headers the proxy sets itself.
_NOT_FORWARDED = HOP_BY_HOP | {"accept-encoding"}


class Recorder:
    """The proxy: :meth:`start` serves it, :attr:`url` is then its base URL."""

    def __init__(self, provider: str, upstream: str, cassette: str | Path,
                 host: str = "127.0.0.1", port: int = 0, on_finding=None):
        self.provider, self.upstream = provider, upstream.rstrip("/")
        self.cassette = Path(cassette)
        self.host, self.port = host, port
        self.drift = Drift(provider)
        self.differences = 0
        self.on_finding = on_finding
        self.url = ""
        self._writer: Writer | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> "Recorder":
        self._writer = Writer(self.cassette, self.provider, self.upstream, time.time())
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=600),
            cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True)
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        port = self._runner.addresses[0][1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{port}"
        return self

    @property
    def exchanges(self) -> int:
        """How many exchanges this recorder has appended so far (and the cassette before)."""
        return self._writer.seq if self._writer is not None else 0

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
        if self._writer is not None:
            self._writer.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None and self._writer is not None
        raw = await request.read()
        headers = CIMultiDict((k, v) for k, v in request.headers.items()
                              if k.lower() not in _NOT_FORWARDED)
        target = self.upstream + request.rel_url.raw_path + (
            f"?{request.query_string}" if request.query_string else "")
        at, started = time.time(), time.monotonic()
        try:
            upstream = await self._session.request(request.method, target, headers=headers,
                                                   data=raw or None, allow_redirects=False)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            log.error("upstream %s unreachable: %s", self.upstream, exc)
            return web.json_response({"error": {"type": "upstream_unreachable", "message": (
                f"musicsim record could not reach {self.upstream}: {exc}")}},
                status=UNREACHABLE)
        async with upstream:
            kind = upstream.headers.get("Content-Type", "")
            answered = CIMultiDict((k, v) for k, v in upstream.headers.items()
                                   if k.lower() not in HOP_BY_HOP)
            digest = None if is_text(kind) else Digest(kind.split(";")[0].strip())
            pieces: list[bytes] = []
            streamed = "Content-Length" not in upstream.headers or "ndjson" in kind
            if streamed:
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason,
                                              headers=answered)
                await response.prepare(request)
                async for piece in upstream.content.iter_any():
                    self._keep(piece, pieces, digest)
                    await response.write(piece)
                await response.write_eof()
                sent: web.StreamResponse = response
            else:
                body = await upstream.read()
                self._keep(body, pieces, digest)
                sent = web.Response(body=body, status=upstream.status, reason=upstream.reason,
                                    headers=answered)
        try:
            self._record(request, raw, upstream, kind, at, started, pieces, digest, streamed)
        except Exception:  # the client has its answer; a recording fault must not cost it
            log.exception("could not record %s %s", request.method, request.path)
        return sent

    def _record(self, request: web.Request, raw: bytes, upstream: aiohttp.ClientResponse,
                kind: str, at: float, started: float, pieces: list[bytes],
                digest: Digest | None, streamed: bool) -> None:
        assert self._writer is not None
        whole = b"".join(pieces)
        exchange = Exchange(
            seq=self._writer.next_seq(), provider=self.provider, at=round(at, 4),
            took=round(time.monotonic() - started, 4), method=request.method,
            path=request.path, query=mask_query(request.query_string),
            request_headers=mask_headers(request.headers),
            request_text=body_text(raw, request.headers.get("Content-Type", "")),
            status=upstream.status, response_headers=mask_headers(upstream.headers),
            response_text=body_text(whole, kind) if digest is None else None,
            media=digest.summary() if digest is not None and digest.size else None,
            streamed=streamed)
        self._writer.write(exchange)
        for finding in self.drift.check(exchange):
            self.differences += not finding.informational
            log.warning("drift: %s", finding.line())
            if self.on_finding is not None:
                self.on_finding(finding)

    @staticmethod
    def _keep(piece: bytes, pieces: list[bytes], digest: Digest | None) -> None:
        if digest is None:
            pieces.append(piece)
        else:
            digest.update(piece)


def main(provider: str, upstream: str, port: int, cassette: str, host: str = "127.0.0.1") -> int:
    """Serve the proxy until Ctrl-C; the exit status is 0 (differences are logged)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    async def serve() -> Recorder:
        recorder = await Recorder(provider, upstream, cassette, host, port).start()
        print(f"musicsim record: {provider} at {recorder.url}  ->  {recorder.upstream}\n"
              f"  point your client's base URL at {recorder.url}\n"
              f"  cassette: {recorder.cassette} (Ctrl-C stops)", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await recorder.stop()
        return recorder

    recorder = asyncio.run(serve())
    print(f"musicsim record: {recorder.exchanges} exchanges in "
          f"{recorder.cassette}; {recorder.differences} difference(s) seen as they came. "
          f"Run `musicsim drift {recorder.cassette}` for the whole report.", flush=True)
    return 0
