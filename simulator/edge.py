"""The edge: the one place a provider request passes through on its way in and out.

It applies fault rules, turns refusals and surprises into the dialect's error shape,
adds the dialect's rate-limit headers, writes the request journal and counts the request
for the metrics. Providers never see a fault; they only see fewer or stranger requests.
With ``--replay``, a provider the cassette recorded answers from it first, behind the
fault rules, as its upstream would have.

The edge is bound to each route when the application is built, not run as middleware:
it then knows the route's surface, inner path and metric series without looking them up,
and a request pays for no machinery it does not use. Requests no route matches reach it
through a catch-all per surface, so they are refused in the dialect's shape as well.

Every request is answered in the sandbox of the key it carries: that sandbox's fault
rules, journal and dialects (see core/sandboxes.py). A request with no key, or one no
sandbox made, belongs to the default sandbox. On a shared store, the store says which
sandbox has the key, in the round trip that also catches this process up with the others
(see core/fleet.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

from aiohttp import web

from .core.faults import AFTER, BEFORE, DEFAULT_RETRY_AFTER, Decision, task_steering
from .core.fleet import Fleet
from .core.magic import NO_STEERING
from .core.sandboxes import Sandboxes
from .media.files import MEDIA
from .media.serve import media_error
from .metrics import Metrics
from .providers import Provider
from .providers.base import RATE, BadRequest, Endpoint, generic_outage

if TYPE_CHECKING:
    from .answers import AnswerChecker
    from .replay import Replay

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A trickled body goes out in this many pieces, spread over the rule's time.
TRICKLE_PIECES = 10
UNMATCHED = "unmatched"  # the metric route of a request no route matched


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

    sends_rate_headers = False


Surface = Provider | MediaSurface


class Edge:
    """Binds routes to their surface (a dialect, or the media server) through the edge."""

    def __init__(self, sandboxes: Sandboxes, metrics: Metrics,
                 answers: AnswerChecker | None = None, replay: Replay | None = None,
                 fleet: Fleet | None = None):
        self.sandboxes, self.metrics, self.answers, self.replay, self.fleet = \
            sandboxes, metrics, answers, replay, fleet
        # Each made sandbox's dialects, as the endpoints of their routes, in the order
        # the default sandbox's dialect lists them: {sandbox: {dialect: [endpoint]}}.
        self._sandboxed: dict[str, dict[str, list[Endpoint]]] = {}

    def serve(self, sandbox: str, dialects: dict[str, Provider]) -> None:
        """Answer a sandbox's keys with its own dialects from now on."""
        self._sandboxed[sandbox] = {pid: [r.handler for r in dialect.routes()]
                                    for pid, dialect in dialects.items()}

    def forget(self, sandbox: str) -> None:
        self._sandboxed.pop(sandbox, None)

    def routes(self, surface: Surface, routes: Iterable[web.RouteDef],
               prefix: str = "") -> list[web.RouteDef]:
        """The surface's routes under ``prefix``, each answered through the edge."""
        sandboxed = isinstance(surface, Provider)
        return [web.route(r.method, prefix + r.path,
                          self.bind(surface, r.handler, _label(r.path), len(prefix),
                                    index if sandboxed else None), **r.kwargs)
                for index, r in enumerate(routes)]

    def catch_all(self, surface: Surface, prefix: str = "") -> web.RouteDef:
        """The route that takes what no route of the surface matched, so an unknown path
        or method is refused in the surface's shape (added after every other route)."""
        return catch_all(prefix, self.bind(surface, unmatched, UNMATCHED, len(prefix)))

    def bind(self, surface: Surface, handler: Endpoint, label: str, cut: int,
             index: int | None = None) -> Handler:
        """``handler`` behind the edge: ``cut`` is the length of the prefix the route is
        served under, so the journal and the fault rules see the path inside the surface.
        ``index`` is the route's place among its dialect's routes, where a sandbox's own
        dialect has the same route (None: one handler serves every sandbox)."""
        sandboxes, sandboxed, fleet = self.sandboxes, self._sandboxed, self.fleet
        default = sandboxes.default
        answers = self.answers
        series = self.metrics.route(surface.id, label)
        sid = surface.id
        sends_rate_headers = surface.sends_rate_headers
        replay = self.replay if self.replay is not None and self.replay.holds(sid) else None
        if replay is not None:
            handler = _replayed_first(replay, sid, cut, handler)

        async def edge(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            refused = None
            body = b""
            if request.body_exists:
                try:
                    body = await request.read()
                except web.HTTPException as exc:  # too large to read: refused, like any request
                    refused = _http_error(surface, exc)
            inner = request.path[cut:] or "/"
            key = surface.api_key(request)
            engine = sandboxes.for_key(key) if fleet is None else await fleet.arrive(key)
            if engine is default or index is None:
                answer = handler
            else:  # a made sandbox's own dialect, behind the cassette as well
                answer = sandboxed[engine.sandbox][sid][index]
                if replay is not None:
                    answer = _replayed_first(replay, sid, cut, answer)
            decision = engine.faults.for_request(sid, request.method, inner, key, body) \
                if fleet is None else await engine.faults.for_request_counted(
                    sid, request.method, inner, key, body)
            dropped, damage = False, None
            if decision is None:
                response = sent = refused or await _answer(surface, request, answer, key)
            else:
                response, sent, dropped, damage = await _faulted(
                    surface, request, answer, decision, refused, key)
            if sends_rate_headers and not dropped and not response.prepared \
                    and RATE in request:
                response.headers.update(surface.rate_headers(request[RATE]))
            replayed = replay is not None and replay.answered(response)
            # --check-answers: before any damage; a recorded answer is drift's business
            if answers is not None and not dropped and not replayed:
                answers.check(sid, request.method, inner, response,
                              injected=decision is not None and decision.status is not None)
            seconds = time.perf_counter() - started
            status = None if dropped else response.status
            engine.journal.record(engine.now(), sid, request.method, inner,
                                  request.query_string, key, status, seconds,
                                  request.headers, body, response.headers,
                                  getattr(response, "body", None),
                                  decision.rules if decision else (), damage, replayed)
            series.observe(request.method, status, seconds)
            return sent

        return edge


def catch_all(prefix: str, handler: Handler) -> web.RouteDef:
    """A route for every method and every path at or under ``prefix``."""
    return web.route("*", prefix + "{%s:(/.*)?}" % UNMATCHED if prefix
                     else "/{%s:.*}" % UNMATCHED, handler)


async def unmatched(request: web.Request, key: str | None = None) -> web.StreamResponse:
    """What no route matched: a method the path does not take (with the ones it does),
    or a path that is not there. Only catch-alls route here."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.canonical.endswith("{%s}" % UNMATCHED):
            continue  # the catch-alls themselves
        match, methods = await resource.resolve(request)
        allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


def _replayed_first(replay: Replay, sid: str, cut: int, handler: Endpoint) -> Endpoint:
    """``handler``, unless the cassette recorded an answer to the request."""
    async def replayed_first(request: web.Request, key: str | None) -> web.StreamResponse:
        recorded = await replay.answer(sid, request, request.path[cut:] or "/")
        return recorded if recorded is not None else await handler(request, key)
    return replayed_first


async def _faulted(surface: Surface, request: web.Request, handler: Endpoint,
                   decision: Decision, refused: web.Response | None, key: str | None
                   ) -> tuple[web.StreamResponse, web.StreamResponse, bool, str | None]:
    """The request as its fault rules have it: the answer (kept by the journal), what
    was sent instead, whether the connection was dropped, and how the answer was damaged."""
    if decision.latency:
        await asyncio.sleep(decision.latency)
    response: web.StreamResponse | None = refused
    if response is None and decision.phase == BEFORE:
        response = _early(surface, decision, key)
    if response is None and decision.steering != NO_STEERING:
        with task_steering(decision.steering):
            response = await _answer(surface, request, handler, key)
    elif response is None:
        response = await _answer(surface, request, handler, key)
    # A streamed answer (NDJSON, a progressive download) went out as it was made:
    # nothing that happens after the handler can change it, so nothing is claimed.
    streamed = response.prepared
    if not streamed and decision.phase == AFTER and decision.status:
        response = _fault_answer(surface, decision, key)
    damage = None if streamed else _damage(decision)
    dropped = decision.drop is not None and not streamed
    if dropped:
        _close(request)
        sent: web.StreamResponse = web.Response()  # never sent: the connection is gone
    elif damage is not None and isinstance(response, web.Response):
        sent = await _damaged(request, response, decision)
    else:
        sent = response
    return response, sent, dropped, damage


async def _answer(surface: Surface, request: web.Request, handler: Endpoint,
                  key: str | None) -> web.StreamResponse:
    try:
        return await handler(request, key)
    except BadRequest as exc:
        return surface.error(exc.status, exc.message, exc.headers, **exc.fields)
    except web.HTTPException as exc:
        return _http_error(surface, exc)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return surface.error(500, "Internal server error",
                             fallback_suggestion="try again later")


def _label(path: str) -> str:
    """A route's template as metrics name it: ``{clip_id:[^/]+}`` reads ``{clip_id}``."""
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)


def _http_error(surface: Surface, exc: web.HTTPException) -> web.Response:
    message = "Not found" if exc.status == 404 else exc.reason
    return surface.error(exc.status, message, {"Allow": exc.headers["Allow"]}
                         if "Allow" in exc.headers else None)


def _early(surface: Surface, decision: Decision,
           api_key: str | None) -> web.StreamResponse | None:
    """The answer a fault gives before the request reaches the provider, if any."""
    if decision.drop == BEFORE:
        return web.Response()  # a placeholder; the connection is closed instead
    if decision.status:
        return _fault_answer(surface, decision, api_key)
    return None


def _fault_answer(surface: Surface, decision: Decision, api_key: str | None) -> web.Response:
    """An injected error status, in the dialect's words and shape."""
    refusal = surface.outage(decision.status, decision.retry_after, decision.message, api_key)
    return surface.error(refusal.status, refusal.message, refusal.headers, **refusal.fields)


def _damage(decision: Decision) -> str | None:
    """What the client received instead of a whole answer, for the journal."""
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
    if decision.malformed:  # a new answer: the journal keeps the whole one
        return web.Response(body=body[:max(1, len(body) // 2)], status=response.status,
                            reason=response.reason, headers=response.headers)
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
