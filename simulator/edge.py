"""The edge: the one place a provider request passes through on its way in and out.

It applies fault rules, turns refusals and surprises into the dialect's error shape,
adds the dialect's rate-limit headers, writes the request journal and counts the request
for the metrics. Providers never see a fault; they only see fewer or stranger requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Awaitable, Callable

from aiohttp import web

from .core.engine import Engine
from .core.faults import AFTER, BEFORE, DEFAULT_RETRY_AFTER, Decision, task_steering
from .core.magic import NO_STEERING
from .media.files import MEDIA
from .media.serve import media_error
from .metrics import Metrics
from .providers import Provider
from .providers.base import RATE, BadRequest, generic_outage

if TYPE_CHECKING:
    from .answers import AnswerChecker

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RESERVED = ("/_sim", "/media")
TEXT_TYPES = ("application/json", "application/x-ndjson", "application/xml", "text/")
# A trickled body goes out in this many pieces, spread over the rule's time.
TRICKLE_PIECES = 10


def edge_middleware(engine: Engine, providers: dict[str, Provider], root: Provider | None,
                    metrics: Metrics, answers: AnswerChecker | None = None):
    surfaces: dict[str, Surface] = {**providers, MEDIA: MediaSurface()}

    def locate(request: web.Request) -> tuple[Surface | None, str]:
        path = request.path
        head, _, _rest = path[1:].partition("/")
        if head in surfaces:
            return surfaces[head], path[len(head) + 1:] or "/"
        if root is not None and not path.startswith(RESERVED):
            return root, path
        return None, path

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        provider, inner = locate(request)
        if provider is None:
            return await handler(request)
        started = time.perf_counter()
        try:
            body = await request.read() if request.body_exists else b""
        except web.HTTPException as exc:  # too large to read: refused, like any request
            body, refused = b"", _http_error(provider, exc)
        else:
            refused = None
        key = provider.api_key(request)
        decision = engine.faults.for_request(provider.id, request.method, inner, key, body)
        if decision is not None and decision.latency:
            await asyncio.sleep(decision.latency)
        response: web.StreamResponse | None = refused
        if response is None and decision is not None and decision.phase == BEFORE:
            response = _early(provider, decision, key)
        if response is None and decision is not None and decision.steering != NO_STEERING:
            with task_steering(decision.steering):
                response = await _answer(provider, request, handler)
        elif response is None:
            response = await _answer(provider, request, handler)
        # A streamed answer (NDJSON, a progressive download) went out as it was made:
        # nothing that happens after the handler can change it, so nothing is claimed.
        streamed = response.prepared
        if decision is not None and not streamed and decision.phase == AFTER \
                and decision.status:
            response = _fault_answer(provider, decision, key)
        damage = None if streamed else _damage(decision)
        dropped = decision is not None and decision.drop is not None and not streamed
        if not streamed and not dropped and RATE in request:
            response.headers.update(provider.rate_headers(request[RATE]))
        kept = _body_of(response)  # the whole answer, whatever part of it is sent
        if answers is not None and not dropped:  # --check-answers: before any damage
            answers.check(provider.id, request.method, inner, response,
                          injected=decision is not None and decision.status is not None)
        if dropped:
            _close(request)
            sent: web.StreamResponse = web.Response()  # never sent: the connection is gone
        elif damage is not None and isinstance(response, web.Response):
            sent = await _damaged(request, response, decision)
        else:
            sent = response
        seconds = time.perf_counter() - started
        engine.journal.record(
            time=engine.now(), provider=provider.id, method=request.method, path=inner,
            query=request.query_string, api_key=key,
            status=None if dropped else response.status, duration_ms=seconds * 1000,
            request_headers=request.headers, request_body=body,
            response_headers=response.headers, response_body=kept,
            faults=decision.rules if decision else (), damage=damage)
        metrics.request(provider.id, request.match_info.route, request.method,
                        "dropped" if dropped else str(response.status), seconds)
        return sent

    return edge


async def _answer(provider: Surface, request: web.Request,
                  handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        return provider.error(exc.status, exc.message, exc.headers, **exc.fields)
    except web.HTTPException as exc:
        return _http_error(provider, exc)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return provider.error(500, "Internal server error",
                              fallback_suggestion="try again later")


class MediaSurface:
    """What the edge needs of the media server: a name, and errors in its one shape."""

    id = MEDIA

    def api_key(self, request: web.Request) -> None:
        return None  # media links are open to whoever holds them

    def error(self, status: int, message: str, headers: dict[str, str] | None = None,
              **_fields: object) -> web.Response:
        return media_error(status, message, headers)

    def outage(self, status: int, retry_after: int | None = None, message: str | None = None,
               api_key: str | None = None) -> BadRequest:
        if status == 429 and retry_after is None:
            retry_after = DEFAULT_RETRY_AFTER
        return BadRequest(status, message or generic_outage(status),
                          {"Retry-After": str(retry_after)} if retry_after is not None else None)

    def rate_headers(self, verdict: object) -> dict[str, str]:
        return {}


Surface = Provider | MediaSurface


def _http_error(provider: Surface, exc: web.HTTPException) -> web.Response:
    message = "Not found" if exc.status == 404 else exc.reason
    return provider.error(exc.status, message, {"Allow": exc.headers["Allow"]}
                          if "Allow" in exc.headers else None)


def _early(provider: Surface, decision: Decision,
           api_key: str | None) -> web.StreamResponse | None:
    """The answer a fault gives before the request reaches the provider, if any."""
    if decision.drop == BEFORE:
        return web.Response()  # a placeholder; the connection is closed instead
    if decision.status:
        return _fault_answer(provider, decision, api_key)
    return None


def _fault_answer(provider: Surface, decision: Decision, api_key: str | None) -> web.Response:
    """An injected error status, in the dialect's words and shape."""
    refusal = provider.outage(decision.status, decision.retry_after, decision.message, api_key)
    return provider.error(refusal.status, refusal.message, refusal.headers, **refusal.fields)


def _damage(decision: Decision | None) -> str | None:
    """What the client received instead of a whole answer, for the journal."""
    if decision is None:
        return None
    if decision.drop:
        return "dropped before the request was handled" if decision.drop == BEFORE \
            else "dropped after the request was handled"
    if decision.truncate:
        return "truncated"
    if decision.malformed:
        return "malformed"
    if decision.trickle:
        return f"trickled over {decision.trickle:g} s"
    return None


async def _damaged(request: web.Request, response: web.Response,
                   decision: Decision) -> web.StreamResponse:
    """Send the answer broken as the rule asks: cut short (and the connection closed),
    malformed (a whole HTTP message whose body does not parse) or trickled slowly."""
    body = response.body if isinstance(response.body, bytes) else b""
    if decision.malformed:
        response.body = body[:max(1, len(body) // 2)]
        return response
    stream = web.StreamResponse(status=response.status, reason=response.reason,
                                headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    try:
        if decision.truncate:
            await stream.write(body[:len(body) // 2])
            _close(request)
            return stream
        step = max(1, -(-len(body) // TRICKLE_PIECES))
        pause = decision.trickle / max(1, -(-len(body) // step))
        for offset in range(0, len(body), step):
            await asyncio.sleep(pause)
            await stream.write(body[offset:offset + step])
        await stream.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass  # the client gave up waiting; nothing more to send
    return stream


def _close(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


def _body_of(response: web.StreamResponse) -> bytes:
    """What the journal keeps of an answer: text as it is, a file as a note of what it
    was; a streamed answer has no body left to keep."""
    body = getattr(response, "body", None)
    if not isinstance(body, bytes):
        return b""
    kind = response.headers.get("Content-Type", "")
    if kind.startswith(TEXT_TYPES):
        return body
    return f"<{len(body)} bytes of {kind.split(';')[0]}>".encode()
