"""What every dialect shares, written once: routes bound to the spec's operations, every
request checked against the spec before its handler, keys and rate limits, ownership,
steered outages, the refusals for credits, and the subscription to task events.

A dialect is a package of the same shape (``provider.py``: its handlers and its words
for refusals; ``planner.py``: what a request makes; ``render.py``: how a task reads on
the wire). Its :class:`Provider` subclass names a handler for each ``operationId`` of
``specs/<id>.yaml`` and overrides the ``refuse_*`` hooks whose words differ.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from ..config import Settings
from ..core.engine import CallbackRejected, Engine, InsufficientCredits, TaskNotFound
from ..core.faults import DEFAULT_RETRY_AFTER
from ..core.magic import Steering
from ..core.models import EXPIRED, Account, Clip, Task
from ..core.ratelimit import Limit, Verdict
from ..media.files import clip_id_in, media_path
from ..openapi import ParameterCheck, Violation, load_spec

# Where an endpoint leaves the caller's rate-limit verdict, for the answer's headers.
RATE = web.RequestKey("rate", Verdict)
METHODS = ("get", "post", "put", "patch", "delete")

GENERIC_OUTAGES = {400: "Bad request", 402: "Insufficient credits", 403: "Forbidden",
                   404: "Not found", 500: "Internal server error", 502: "Bad gateway",
                   503: "Service temporarily unavailable", 504: "Gateway timeout"}


class BadRequest(Exception):
    """Raised inside a handler to answer an error in the dialect's shape."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 **fields: Any):
        super().__init__(message)
        self.status, self.message, self.headers, self.fields = status, message, headers, fields


class Call:
    """One request as a handler receives it: its caller, and what it sent, checked against
    the spec and typed (``path`` and ``query`` hold the spec's parameters)."""

    __slots__ = ("request", "account", "body", "path", "query")

    def __init__(self, request: web.Request, account: Account, body: Any = None,
                 path: dict[str, Any] | None = None, query: dict[str, Any] | None = None):
        self.request, self.account, self.body = request, account, body
        self.path = {} if path is None else path
        self.query = {} if query is None else query

    @property
    def origin(self) -> str:
        """The scheme and host the client used, so links work through any port mapping."""
        return f"{self.request.scheme}://{self.request.host}"


Handler = Callable[[Call], Awaitable[web.StreamResponse]]
# A route's function behind the edge: the request, and the caller's key as the edge read
# it (once, for the fault rules and the journal too).
Endpoint = Callable[[web.Request, str | None], Awaitable[web.StreamResponse]]


# Task answers remembered by task_json; past this many, or this many bytes of them (an
# answer may be a few KiB), the memory starts afresh.
DRAWN_KEPT, DRAWN_BYTES = 4096, 4 * 1024 * 1024


class Provider(abc.ABC):
    id: ClassVar[str]
    # Rules a dialect has only where its seed states them: callbacks over HTTPS only, and
    # request bodies declared as JSON (anything else is refused, not guessed at).
    callbacks_https_only: ClassVar[bool] = False
    # Whether every answer carries rate-limit headers: set for the dialects that say
    # which (those that override rate_headers), so the others skip the step.
    sends_rate_headers: ClassVar[bool] = False
    json_content_type_only: ClassVar[bool] = False
    # Whether a task past its retention reads as one that never was (the dialect has no
    # word for expired).
    expired_tasks_gone: ClassVar[bool] = False
    # What the dialect says when it, or the service behind it, fails: for magic values and
    # injected faults. Statuses it has no words for get the generic ones below.
    outages: ClassVar[dict[int, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.sends_rate_headers = cls.rate_headers is not Provider.rate_headers

    def __init__(self, engine: Engine, settings: Settings):
        self.engine, self.settings = engine, settings
        # Where callbacks' media links point: the simulator as its callers reach it.
        self.base_url = settings.base_url
        self.spec = load_spec(self.id)
        self._drawn: dict[tuple, bytes] = {}
        self._drawn_bytes = 0
        engine.subscribe(self.id, self.on_task_event)

    # -- what a dialect says -------------------------------------------------------------
    @abc.abstractmethod
    def handlers(self) -> dict[str, Handler]:
        """The handler of each ``operationId`` of the dialect's spec."""

    @abc.abstractmethod
    def error_body(self, status: int, message: str, **fields: Any) -> dict[str, Any]:
        """An error in the dialect's documented shape."""

    def api_key(self, request: web.Request) -> str | None:
        """The caller's key; Bearer by default, dialects with other headers override."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None

    def refuse_missing_key(self) -> BadRequest:
        return BadRequest(401, "Missing API key: send Authorization: Bearer YOUR_API_KEY")

    def refuse_unknown_key(self) -> BadRequest:
        return BadRequest(401, "Invalid API key")

    def refuse_rate(self, wait: int, limit: Limit) -> BadRequest:
        return BadRequest(429, "Rate limit exceeded", headers={"Retry-After": str(wait)})

    def refuse_credits(self, needed: float, available: float) -> BadRequest:
        """The dialect's answer when the key cannot pay for the work."""
        return BadRequest(402, f"Insufficient credits: available {available:g}, "
                               f"required {needed:g}")

    def refuse_unknown_task(self, task_id: str) -> BadRequest:
        """The dialect's answer for a task that is not the caller's (or not at all)."""
        return BadRequest(404, "Task not found")

    def outage_fields(self, status: int, retry_after: int | None,
                      **context: Any) -> dict[str, Any]:
        """Fields beyond the message that the dialect's error carries for an outage;
        ``context`` is what the request that met it said (see :meth:`steered`)."""
        return {}

    def rate_headers(self, verdict: Verdict) -> dict[str, str]:
        """Headers every answer carries about the caller's rate limit; most dialects
        send none."""
        return {}

    def status_word(self, task: Task, now: float) -> str:
        """The task's status as this dialect's answers word it (the dashboard shows it
        beside the core's); a dialect with words of its own says them."""
        return task.state(now)

    async def on_task_event(self, task: Task, event: str) -> None:
        """Called after each change of one of the dialect's tasks (callbacks go here)."""

    # -- the routes, from the spec -------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        """One route per operation of the spec, each checked before its handler runs; each
        route's handler is an :data:`Endpoint`, for the edge to bind."""
        handlers = self.handlers()
        routes, bound = [], set()
        for path, operations in self.spec.document.get("paths", {}).items():
            for method, operation in operations.items():
                if method not in METHODS:
                    continue
                name = operation["operationId"]
                if name not in handlers:
                    raise LookupError(f"{self.id}: no handler for {name} "
                                      f"({method.upper()} {path})")
                bound.add(name)
                routes.append(web.route(method.upper(), path,
                                        self._checked(path, method, operation, handlers[name])))
        unused = set(handlers) - bound
        if unused:
            raise LookupError(f"{self.id}: handlers for no operation of its spec: "
                              f"{sorted(unused)}")
        return routes

    def _checked(self, path: str, method: str, operation: dict[str, Any],
                 handler: Handler) -> Endpoint:
        engine, has_body = self.engine, "requestBody" in operation
        locations = {p.get("in") for p in self.spec.parameters(path, method)}
        path_check = self.spec.parameter_check(path, method, "path") \
            if "path" in locations else None
        query_check = self.spec.parameter_check(path, method, "query") \
            if "query" in locations else None

        async def endpoint(request: web.Request, key: str | None) -> web.StreamResponse:
            # The caller: its key, then its rate limit; each refusal in the dialect's words.
            if key is None:
                raise self.refuse_missing_key()
            account = await engine.authenticate(key)
            if account is None:
                raise self.refuse_unknown_key()
            verdict = engine.rate_limited(self.id, key)
            if not isinstance(verdict, Verdict):  # a bucket on a shared store
                verdict = await verdict
            if self.sends_rate_headers:
                request[RATE] = verdict  # for the edge, which adds the headers to the answer
            if not verdict.allowed:
                raise self.refuse_rate(verdict.wait, verdict.limit)
            values = None if path_check is None else \
                _checked_values(path_check, request.match_info)
            query = None if query_check is None else _checked_values(query_check, request.query)
            body = None
            if has_body:
                body, violation = self.spec.accept_body(path, method,
                                                        await self.json_body(request))
                if violation is not None:
                    raise _refusal(violation)
            try:
                return await handler(Call(request, account, body, values, query))
            except TaskNotFound as gone:
                # A task let go (--max-tasks) while the request was using it: as unknown.
                raise self.refuse_unknown_task(str(gone.args[0])) from None

        return endpoint

    async def json_body(self, request: web.Request) -> Any:
        """The body as JSON, as sent (the spec then takes it: see ``Spec.accept_body``)."""
        raw = await request.read()
        if self.json_content_type_only and raw.strip() and \
                request.content_type not in ("application/json", "application/x-ndjson"):
            said = request.headers.get("Content-Type")
            raise BadRequest(400, "Request body must be application/json (the request said "
                                  + (f"Content-Type: {said})" if said else "no Content-Type)"))
        try:
            body = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            raise BadRequest(400, "Request body must be valid JSON") from None
        return body

    # -- responses -----------------------------------------------------------------------
    @staticmethod
    def json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(body=orjson.dumps(data), status=status, headers=headers,
                            content_type="application/json")

    def task_json(self, draw: Callable[..., Any], task: Task, origin: str, *extra: Any
                  ) -> web.Response:
        """``draw(task, origin, now, *extra)`` as JSON, drawn once for each thing a client
        can see change. Polling loops ask for one task many times a second, and between two
        writes to it only its state and progress move with the clock; ``draw`` must depend
        on the time through those two alone."""
        now = self.engine.now()
        key = (draw, self.engine.epoch, task.id, task.version, task.state(now),
               task.progress(now), origin, extra)
        body = self._drawn.get(key)
        if body is None:
            if len(self._drawn) >= DRAWN_KEPT or self._drawn_bytes >= DRAWN_BYTES:
                self._drawn.clear()
                self._drawn_bytes = 0
            # Copied to its own size: orjson's output sits in a buffer of 4 KiB or more,
            # and the drawn answers kept would hold those.
            body = self._drawn[key] = memoryview(
                orjson.dumps(draw(task, origin, now, *extra))).tobytes()
            self._drawn_bytes += len(body)
        return web.Response(body=body, content_type="application/json")

    def error(self, status: int, message: str, headers: dict[str, str] | None = None,
              **fields: Any) -> web.Response:
        return self.json(self.error_body(status, message, **fields), status, headers)

    # -- who is calling, and what they may do ---------------------------------------------
    def limit_of(self, api_key: str | None = None) -> Limit:
        return self.engine.rates.limit(self.id, api_key)

    async def own_task(self, account: Account, task_id: str) -> Task:
        """The caller's task of this dialect, or the dialect's refusal: a key sees only
        its own tasks."""
        task = await self.engine.own_task(account.api_key, task_id, self.id)
        if task is None or (self.expired_tasks_gone
                            and task.state(self.engine.now()) == EXPIRED):
            raise self.refuse_unknown_task(task_id)
        return task

    def steered(self, *texts: object, **context: Any) -> Steering:
        """The magic values in a request's texts; one that asks for an error status is
        answered with it here, in the dialect's words (``context``: see outage_fields)."""
        steering = self.engine.steering(*texts)
        if steering.http_status:
            raise self.outage(steering.http_status, context=context)
        return steering

    def outage(self, status: int, retry_after: int | None = None, message: str | None = None,
               api_key: str | None = None, context: dict[str, Any] | None = None) -> BadRequest:
        """The dialect's own answer for a failure of ``status`` it did not decide itself."""
        if status == 429:
            wait = DEFAULT_RETRY_AFTER if retry_after is None else retry_after
            refusal = self.refuse_rate(wait, self.limit_of(api_key))
        elif status == 401:
            refusal = self.refuse_unknown_key()
        else:
            refusal = BadRequest(status, self.outages.get(status) or generic_outage(status),
                                 **self.outage_fields(status, retry_after, **(context or {})))
        if message:
            refusal.message = message
        if retry_after is not None:
            refusal.headers = {**(refusal.headers or {}), "Retry-After": str(retry_after)}
        return refusal

    async def submit(self, account: Account, job: str, **work: Any) -> Task:
        """Start a task for the caller, or refuse in the dialect's words when the key
        cannot pay (nothing is held then)."""
        try:
            return await self.engine.submit(self.id, account.api_key, job, **work)
        except InsufficientCredits as exc:
            raise self.refuse_credits(exc.needed, exc.available) from None

    async def charge(self, account: Account, price: str) -> None:
        """Bill work done as it is asked, or refuse as :meth:`submit` does."""
        amount = self.settings.price(self.id, price)
        try:
            await self.engine.charge(account.api_key, f"{price}:{self.engine.ids.uuid()}",
                                     amount)
        except InsufficientCredits as exc:
            raise self.refuse_credits(exc.needed, exc.available) from None

    def price(self, item: str) -> float:
        return self.settings.price(self.id, item)

    def require_callback_url(self, url: str | None, name: str = "callback_url") -> None:
        """Refuse a callback URL the simulator would not call: one pointing inside a
        network, or plain HTTP where the dialect's seed asks for HTTPS; both rules are
        lifted by --allow-local-callbacks, and for the URLs the control plane allows. A
        non-canonical IPv4 spelling (``127.1``, ``0x7f.0.0.1``) is refused whatever the
        flags. Where a name leads is judged again at each delivery."""
        if not url:
            return
        local = self.settings.allow_local_callbacks
        try:
            self.engine.check_callback(url, https_only=self.callbacks_https_only and not local,
                                       allow_internal=local, name=name)
        except CallbackRejected as exc:
            raise BadRequest(400, str(exc), param=name) from None

    async def served_clip(self, url: str) -> Clip | None:
        """The finished clip behind one of the simulator's own media links, if the URL is
        one, so uploading a song the simulator made uploads that song."""
        try:
            path = urlsplit(url).path
        except ValueError:  # not a URL a client could fetch, so not one of ours
            return None
        clip_id = clip_id_in(path)
        return await self.engine.finished_clip(clip_id) if clip_id else None


def media_url(origin: str, clip_id: str, name: str) -> str:
    """A link to one of a clip's files, on the host the caller reached."""
    return origin + media_path(clip_id, name)


def iso_time(seconds: float) -> str:
    """A simulated time as Suno-family answers write it: UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


async def off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Run rendering or analysis in a worker thread, so the event loop keeps serving."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def generic_outage(status: int) -> str:
    """Words for a failure of ``status`` when a dialect has none of its own."""
    if status in GENERIC_OUTAGES:
        return GENERIC_OUTAGES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


def _refusal(violation: Violation) -> BadRequest:
    extra = violation.extra
    return BadRequest(extra.get("status", 400), extra.get("message", violation.message),
                      type=extra.get("type"), param=extra.get("param", violation.param),
                      fallback_suggestion=extra.get("fallback_suggestion"))


def _checked_values(check: ParameterCheck, values: Mapping[str, str]) -> dict[str, Any]:
    violation, typed = check(values)
    if violation is not None:
        raise _refusal(violation)
    return typed
