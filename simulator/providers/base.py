"""What every dialect shares: spec-checked JSON bodies, keys, rate limits, links.

A provider subclass lists its routes and renders errors and tasks in its own shapes;
everything else comes from here or from the engine.
"""

from __future__ import annotations

import abc
import asyncio
from http import HTTPStatus
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from ..config import Settings
from ..core.engine import CallbackRejected, Engine
from ..core.faults import DEFAULT_RETRY_AFTER
from ..core.models import Account, Clip
from ..core.ratelimit import Limit, Verdict
from ..media.files import clip_id_in, media_path
from ..openapi import Violation, load_spec


# Where authenticate leaves the caller's rate-limit verdict, for the answer's headers.
RATE = web.RequestKey("rate", Verdict)

GENERIC_OUTAGES = {400: "Bad request", 402: "Insufficient credits", 403: "Forbidden",
                   404: "Not found", 500: "Internal server error", 502: "Bad gateway",
                   503: "Service temporarily unavailable", 504: "Gateway timeout"}


class BadRequest(Exception):
    """Raised inside a handler to answer an error in the dialect's shape."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 **fields: Any):
        super().__init__(message)
        self.status, self.message, self.headers, self.fields = status, message, headers, fields


class Provider(abc.ABC):
    id: ClassVar[str]
    # Rules a dialect has only where its seed states them: callbacks over HTTPS only, and
    # request bodies declared as JSON (anything else is refused, not guessed at).
    callbacks_https_only: ClassVar[bool] = False
    json_content_type_only: ClassVar[bool] = False

    def __init__(self, engine: Engine, settings: Settings):
        self.engine, self.settings = engine, settings
        # Where callbacks' media links point: the simulator as its callers reach it.
        self.base_url = settings.base_url
        self.spec = load_spec(self.id)

    @abc.abstractmethod
    def routes(self) -> list[web.RouteDef]:
        """The dialect's endpoints, with paths as the provider documents them."""

    @abc.abstractmethod
    def error_body(self, status: int, message: str, **fields: Any) -> dict[str, Any]:
        """An error in the dialect's documented shape."""

    def api_key(self, request: web.Request) -> str | None:
        """The caller's key; Bearer by default, dialects with other headers override."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None

    # -- responses ---------------------------------------------------------------------
    @staticmethod
    def json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(body=orjson.dumps(data), status=status, headers=headers,
                            content_type="application/json")

    def error(self, status: int, message: str, headers: dict[str, str] | None = None,
              **fields: Any) -> web.Response:
        return self.json(self.error_body(status, message, **fields), status, headers)

    # -- who is calling ------------------------------------------------------------------
    def refuse_missing_key(self) -> BadRequest:
        return BadRequest(401, "Missing API key: send Authorization: Bearer YOUR_API_KEY")

    def refuse_unknown_key(self) -> BadRequest:
        return BadRequest(401, "Invalid API key")

    def refuse_rate(self, wait: int, limit: Limit) -> BadRequest:
        return BadRequest(429, "Rate limit exceeded", headers={"Retry-After": str(wait)})

    # What the dialect says when it, or the service behind it, fails: for magic values and
    # injected faults. Statuses it has no words for get the generic ones below.
    outages: ClassVar[dict[int, str]] = {}

    def outage(self, status: int, retry_after: int | None = None, message: str | None = None,
               api_key: str | None = None) -> BadRequest:
        """The dialect's own answer for a failure of ``status`` it did not decide itself."""
        if status == 429:
            wait = DEFAULT_RETRY_AFTER if retry_after is None else retry_after
            refusal = self.refuse_rate(wait, self.limit_of(api_key))
        elif status == 401:
            refusal = self.refuse_unknown_key()
        else:
            refusal = BadRequest(status, self.outages.get(status) or generic_outage(status),
                                 **self.outage_fields(status, retry_after))
        if message:
            refusal.message = message
        if retry_after is not None:
            refusal.headers = {**(refusal.headers or {}), "Retry-After": str(retry_after)}
        return refusal

    def outage_fields(self, status: int, retry_after: int | None) -> dict[str, Any]:
        """Fields beyond the message that the dialect's error carries for an outage."""
        return {}

    def rate_headers(self, verdict: Verdict) -> dict[str, str]:
        """Headers every answer carries about the caller's rate limit; most dialects
        send none."""
        return {}

    def authenticate(self, request: web.Request) -> Account:
        """The caller's account, after its key and its rate limit are checked; each
        refusal is the dialect's own (the refuse_* methods)."""
        key = self.api_key(request)
        if key is None:
            raise self.refuse_missing_key()
        account = self.engine.authenticate(key)
        if account is None:
            raise self.refuse_unknown_key()
        verdict = self.engine.rate_limited(self.id, key)
        request[RATE] = verdict
        if not verdict.allowed:
            raise self.refuse_rate(verdict.wait, verdict.limit)
        return account

    def limit_of(self, api_key: str | None = None) -> Limit:
        return self.engine.rates.limit(self.id, api_key)

    async def valid_body(self, request: web.Request, path: str, method: str = "post") -> Any:
        """The request's JSON body, checked against the spec's schema for ``path``."""
        body = await self.json_body(request)
        self.require_valid_body(path, method, body)
        return body

    # -- request helpers ---------------------------------------------------------------
    async def json_body(self, request: web.Request) -> Any:
        """The body as JSON. Where the spec says ``x-null-means-absent``, every null member
        is left out: an optional field sent as null means "not given", as clients that
        serialize their unset fields expect."""
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
        return without_nulls(body) if self.spec.document.get("x-null-means-absent") else body

    def require_valid_body(self, path: str, method: str, body: Any) -> None:
        """Refuse a body that breaks the spec, in the words and status the spec gives."""
        violation = self.spec.check_body(path, method, body)
        if violation is not None:
            raise _refusal(violation)

    def require_valid_path(self, path: str, method: str, values: dict[str, str]) -> None:
        violation = self.spec.check_path_params(path, method, values)
        if violation is not None:
            raise _refusal(violation)

    def require_callback_url(self, url: str | None, name: str = "callback_url") -> None:
        """Refuse a callback URL the simulator would not call: one pointing inside a
        network, or plain HTTP where the dialect's seed asks for HTTPS; both rules are
        lifted by --allow-local-callbacks, and for the URLs the control plane allows."""
        if not url:
            return
        local = self.settings.allow_local_callbacks
        try:
            self.engine.check_callback(url, https_only=self.callbacks_https_only and not local,
                                       allow_internal=local, name=name)
        except CallbackRejected as exc:
            raise BadRequest(400, str(exc), param=name) from None

    def valid_query(self, path: str, method: str, request: web.Request) -> dict[str, Any]:
        """The query parameters the spec defines, checked and typed."""
        violation, values = self.spec.check_params(path, method, "query", dict(request.query))
        if violation is not None:
            raise _refusal(violation)
        return values

    @staticmethod
    def origin(request: web.Request) -> str:
        """The scheme and host the client used, so links work through any port mapping."""
        return f"{request.scheme}://{request.host}"

    @staticmethod
    def media_url(origin: str, clip_id: str, name: str) -> str:
        return origin + media_path(clip_id, name)

    def served_clip(self, url: str) -> Clip | None:
        """The finished clip behind one of the simulator's own media links, if the URL is
        one, so uploading a song the simulator made uploads that song."""
        try:
            path = urlsplit(url).path
        except ValueError:  # not a URL a client could fetch, so not one of ours
            return None
        clip_id = clip_id_in(path)
        return self.engine.finished_clip(clip_id) if clip_id else None


def iso_time(seconds: float) -> str:
    """A simulated time as Suno-family answers write it: UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


async def off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Run rendering or analysis in a worker thread, so the event loop keeps serving."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def without_nulls(value: Any) -> Any:
    """``value`` with the null members of its objects (at any depth) left out; nulls
    inside arrays stay, since an array's items are not optional fields."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


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
                      type=extra.get("type"), param=violation.param,
                      fallback_suggestion=extra.get("fallback_suggestion"))
