"""The /_sim control plane: accounts, credits, the clock, tasks, the journal, faults,
rate limits, webhook deliveries and metrics.

Only loopback callers may use it, unless an admin token is set; then every call must
carry it. Bodies are checked against specs/admin.yaml like any provider's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import orjson
from aiohttp import web

from .. import __version__
from ..config import Settings
from ..core.clock import ClockError
from ..core.engine import (AccountExists, CallbackRejected, ClipNotFound, Engine, TaskFinished,
                           TaskNotFound)
from ..core.faults import FaultError
from ..core.journal import stats
from ..core.ledger import InsufficientCredits
from ..core.models import STATES
from ..core.ratelimit import Limit
from ..media.files import MEDIA
from ..metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, Metrics
from ..openapi import load_spec
from . import paging
from .access import Access

if TYPE_CHECKING:
    from ..replay import Replay

log = logging.getLogger(__name__)


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str, param: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, headers=headers,
                        content_type="application/json")


def _error(status: int, code: str, message: str, param: str | None = None,
           headers: dict[str, str] | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    return _json({"error": error}, status, headers)


# What aiohttp's own refusals (a body too large, a method a path does not take) are
# called in admin.yaml's codes.
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def http_error(exc: web.HTTPException) -> web.Response:
    """aiohttp's refusal as a control-plane error, so no answer under /_sim is plain text."""
    if exc.status == 404:
        message = "no such control-plane call; GET /_sim/health lists the server, " \
                  "specs/admin.yaml every call"
    elif exc.status == 405:
        message = f"{exc.reason}; this path takes {exc.headers.get('Allow', 'no method')}"
    else:
        message = exc.reason
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return _error(exc.status, _HTTP_CODES.get(exc.status, "invalid_request"), message,
                  headers=headers)


def answered_in_json(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``handler`` with aiohttp's refusals (no such path, a method the path does not
    take) answered in admin.yaml's error shape: for what no control-plane route matched."""
    async def json_refusals(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return http_error(exc)
    return json_refusals


def admin_routes(engine: Engine, settings: Settings, providers: list[str],
                 metrics: Metrics, replay: Replay | None = None) -> list[web.RouteDef]:
    spec = load_spec("admin")
    access = Access(settings)

    def guarded(handler):
        async def wrapper(request: web.Request) -> web.Response:
            refusal = access.refusal(request)
            if refusal is not None:
                return _error(refusal.status, refusal.code, refusal.message, refusal.param)
            try:
                return await handler(request)
            except AdminError as exc:
                return _error(exc.status, exc.code, exc.message, exc.param)
            except web.HTTPException as exc:
                return http_error(exc)
            except Exception:
                log.exception("control plane error on %s %s", request.method, request.path)
                return _error(500, "internal_error", "the control plane failed; see the server log")
        return wrapper

    async def body(request: web.Request, path: str, method: str = "post") -> dict[str, Any]:
        raw = await request.read()
        try:
            data = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise AdminError(400, "invalid_request", "body must be valid JSON") from None
        violation = spec.check_body(path, method, data)
        if violation is not None:
            raise AdminError(400, "invalid_request", violation.message, violation.param)
        return data

    async def account_or_404(api_key: str):
        account = await engine.account(api_key)
        if account is None:
            raise AdminError(404, "not_found", f"no account with key {api_key!r}", "api_key")
        return account

    async def task_or_404(task_id: str):
        task = await engine.task(task_id)
        if task is None:
            raise AdminError(404, "not_found", f"no task {task_id!r}", "task_id")
        return task

    def clock_dict() -> dict[str, Any]:
        state = engine.clock.state()
        return {"mode": state.mode, "speed": state.speed, "now": state.now}

    def number(request: web.Request, name: str) -> float | None:
        raw = request.query.get(name)
        if raw is None:
            return None
        try:
            return float(raw)
        except ValueError:
            raise AdminError(400, "invalid_request", f"{name} must be a number",
                             name) from None

    def flag(request: web.Request, name: str) -> bool | None:
        raw = request.query.get(name)
        if raw is not None and raw not in ("true", "false"):
            raise AdminError(400, "invalid_request", f"{name} must be true or false", name)
        return None if raw is None else raw == "true"

    def limit_of(request: web.Request, default: int = 1000) -> int:
        raw = request.query.get("limit")
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
            raise AdminError(400, "invalid_request", "limit must be an integer from 1 to 10000",
                             "limit")
        return int(raw)

    def paged(request: web.Request, kind: str, items: list, position: Callable[[Any], int],
              default_limit: int) -> tuple[list, str | None]:
        """The page of ``items`` (filtered, oldest first) that ``limit`` and ``cursor``
        ask for, and the cursor of the next page (None on the last)."""
        limit = limit_of(request, default_limit)
        cursor = request.query.get("cursor")
        try:
            after = None if cursor is None else paging.decode(cursor, kind, engine.epoch)
        except paging.BadCursor as exc:
            raise AdminError(400, "invalid_request", str(exc), "cursor") from None
        chosen, last = paging.page(items, position, after, limit)
        return chosen, None if last is None else paging.encode(kind, engine.epoch, last)

    async def health(request):
        return _json({"status": "ok", "providers": providers, "clock": clock_dict(),
                      "version": __version__,
                      **({"replay": replay.describe()} if replay is not None else {})})

    async def reset(request):
        await engine.reset()
        if replay is not None:
            replay.rewind()  # a clean slate: each recorded key starts at its first answer
        return _json({"status": "reset"})

    async def create_account(request):
        data = await body(request, "/_sim/accounts")
        try:
            account = await engine.create_account(data.get("api_key"), data.get("credits"),
                                                  data.get("models"))
        except AccountExists:
            raise AdminError(409, "conflict", f"an account with key {data['api_key']!r} "
                                              f"exists", "api_key") from None
        return _json(account.to_dict(), 201)

    async def list_accounts(request):
        return _json({"accounts": [a.to_dict() for a in await engine.accounts()]})

    async def get_account(request):
        return _json((await account_or_404(request.match_info["api_key"])).to_dict())

    async def credits(request):
        key = request.match_info["api_key"]
        data = await body(request, "/_sim/accounts/{api_key}/credits")
        await account_or_404(key)
        try:
            account = await engine.grant(key, data["delta"])
        except InsufficientCredits as exc:
            raise AdminError(409, "insufficient_credits",
                             f"cannot withdraw {exc.needed}: {exc.available} available",
                             "delta") from None
        return _json(account.to_dict())

    async def ledger(request):
        key = request.query.get("api_key")
        if not key:
            raise AdminError(400, "invalid_request", "api_key is required", "api_key")
        await account_or_404(key)
        entries = await engine.ledger_entries(key)
        chosen, following = paged(request, "ledger", entries, lambda e: e.id, 1000)
        return _json({"api_key": key, "entries": [e.to_dict() for e in chosen],
                      "count": len(entries), "next_cursor": following},
                     headers=paging.link(request, following))

    async def get_clock(request):
        return _json(clock_dict())

    async def put_clock(request):
        data = await body(request, "/_sim/clock", "put")
        try:
            engine.set_clock(data.get("mode"), data.get("speed"))
        except ClockError as exc:
            raise AdminError(400, "invalid_request", str(exc), exc.param) from None
        return _json(clock_dict())

    async def advance(request):
        data = await body(request, "/_sim/clock/advance")
        await engine.advance(float(data["seconds"]))
        return _json(clock_dict())

    async def list_tasks(request):
        status = request.query.get("status")
        if status is not None and status not in STATES:
            raise AdminError(400, "invalid_request", f"status must be one of {', '.join(STATES)}",
                             "status")
        found = await engine.tasks(request.query.get("provider") or None, status,
                                   request.query.get("api_key") or None)
        chosen, following = paged(request, "tasks", found, lambda t: t.seq, 1000)
        now = engine.now()
        return _json({"tasks": [t.to_dict(now) for t in chosen], "count": len(found),
                      "next_cursor": following}, headers=paging.link(request, following))

    async def get_task(request):
        return _json((await task_or_404(request.match_info["task_id"])).to_dict(engine.now()))

    async def outcome(request):
        task_id = request.match_info["task_id"]
        data = await body(request, "/_sim/tasks/{task_id}/outcome")
        try:
            task = await engine.force_outcome(task_id, data["outcome"], data.get("reason"))
        except TaskNotFound:
            raise AdminError(404, "not_found", f"no task {task_id!r}", "task_id") from None
        except TaskFinished:
            raise AdminError(409, "conflict", f"task {task_id!r} has already finished",
                             "task_id") from None
        return _json(task.to_dict(engine.now()))

    async def get_clip(request):
        clip_id = request.match_info["clip_id"]
        found = await engine.find_clip(clip_id)
        if found is None:
            raise AdminError(404, "not_found", f"no clip {clip_id!r}", "clip_id")
        task, clip = found
        return _json({**clip.to_dict(), "task_id": task.id, "provider": task.provider})

    async def expire_upstream(request):
        clip_id = request.match_info["clip_id"]
        try:
            await engine.expire_upstream(clip_id)
        except ClipNotFound:
            raise AdminError(404, "not_found", f"no clip {clip_id!r}", "clip_id") from None
        return await get_clip(request)

    def journal_entries(request: web.Request) -> list:
        status = request.query.get("status")
        if status is not None and not (status.isdigit() and 100 <= int(status) <= 599):
            raise AdminError(400, "invalid_request", "status must be an HTTP status code",
                             "status")
        faulted, replayed = flag(request, "faulted"), flag(request, "replayed")
        return list(engine.journal.query(
            provider=request.query.get("provider") or None,
            method=request.query.get("method") or None,
            path=request.query.get("path") or None,
            api_key=request.query.get("api_key") or None,
            since=number(request, "since"), until=number(request, "until"),
            status=int(status) if status else None,
            body_contains=request.query.get("body_contains") or None,
            faulted=faulted, replayed=replayed))

    async def journal(request):
        entries = journal_entries(request)
        chosen, following = paged(request, "journal", entries, lambda e: e.id, 10_000)
        return _json({"entries": [e.to_dict() for e in chosen], "count": len(entries),
                      "next_cursor": following}, headers=paging.link(request, following))

    async def journal_stats(request):
        return _json(stats(journal_entries(request)))

    async def clear_journal(request):
        engine.journal.clear()
        return _json({"status": "cleared"})

    # -- faults, scenarios, rate limits, webhooks, metrics ------------------------------
    def rules_dict() -> dict[str, Any]:
        return {"rules": [r.to_dict() for r in engine.faults.rules()],
                "scenario": engine.scenario}

    async def add_fault(request):
        data = await body(request, "/_sim/faults")
        provider = (data.get("match") or {}).get("provider")
        if provider is not None and provider not in (*providers, MEDIA):
            raise AdminError(400, "invalid_request", f"match.provider must be one of "
                                                     f"{', '.join((*providers, MEDIA))}",
                             "match.provider")
        try:
            rule = engine.faults.add(data)
        except FaultError as exc:
            raise AdminError(400, "invalid_request", str(exc), exc.param) from None
        return _json(rule.to_dict(), 201)

    async def list_faults(request):
        return _json(rules_dict())

    async def clear_faults(request):
        engine.faults.clear()
        return _json(rules_dict())

    async def delete_fault(request):
        rule_id = request.match_info["fault_id"]
        if not engine.faults.remove(rule_id):
            raise AdminError(404, "not_found", f"no fault rule {rule_id!r}", "fault_id")
        return _json(rules_dict())

    async def list_scenarios(request):
        return _json({"scenarios": [
            {"name": name, "description": scenario.get("description", ""),
             "rules": scenario["rules"]}
            for name, scenario in sorted(engine.faults.scenarios.items())]})

    async def use_scenario(request):
        name = request.match_info["name"]
        data = await body(request, "/_sim/scenarios/{name}")
        provider = data.get("provider")
        if provider is not None and provider not in (*providers, MEDIA):
            raise AdminError(400, "invalid_request", f"provider must be one of "
                                                     f"{', '.join((*providers, MEDIA))}",
                             "provider")
        if name not in engine.faults.scenarios:
            raise AdminError(404, "not_found", f"no scenario {name!r}; choose from "
                                               f"{', '.join(sorted(engine.faults.scenarios))}",
                             "name")
        if data.get("replace", True):
            engine.faults.clear()
        added = engine.faults.use_scenario(name, provider)
        return _json({"scenario": name, "rules": [r.to_dict() for r in added]}, 201)

    def limits_dict() -> dict[str, Any]:
        return {"limits": {p: engine.rates.limit(p).to_dict() for p in providers},
                "keys": [{"provider": p, "api_key": k, **limit.to_dict()}
                         for (p, k), limit in engine.rates.per_key().items()]}

    async def get_limits(request):
        return _json(limits_dict())

    async def put_limit(request):
        provider = request.match_info["provider"]
        if provider not in providers:
            raise AdminError(404, "not_found", f"no provider {provider!r}", "provider")
        data = await body(request, "/_sim/rate-limits/{provider}", "put")
        if data.get("api_key") is not None:
            await account_or_404(data["api_key"])
        engine.rates.configure(provider, Limit(float(data["rate"]), float(data.get("burst", 1))),
                               data.get("api_key"))
        return _json(limits_dict())

    async def webhooks(request):
        numbered = engine.webhooks.numbered(request.query.get("provider") or None,
                                            request.query.get("task_id") or None,
                                            request.query.get("url") or None)
        chosen, following = paged(request, "webhooks", numbered, lambda n: n[0], 10_000)
        return _json({"attempts": [attempt for _, attempt in chosen], "count": len(numbered),
                      "next_cursor": following, "pending": engine.webhooks.pending(),
                      "allowed": engine.allowed_callbacks.list()},
                     headers=paging.link(request, following))

    async def allow_callbacks(request):
        data = await body(request, "/_sim/webhooks/allowed")
        try:
            allowed = engine.allowed_callbacks.add(data["url"])
        except CallbackRejected as exc:
            raise AdminError(400, "invalid_request", str(exc), "url") from None
        return _json({"allowed": allowed}, status=201)

    async def disallow_callbacks(request):
        return _json({"allowed": engine.allowed_callbacks.remove(request.query.get("url"))})

    async def get_metrics(request):
        return web.Response(body=await metrics.exposition(),
                            headers={"Content-Type": METRICS_CONTENT_TYPE})

    table = [
        ("GET", "/_sim/health", health),
        ("POST", "/_sim/reset", reset),
        ("POST", "/_sim/accounts", create_account),
        ("GET", "/_sim/accounts", list_accounts),
        ("GET", "/_sim/accounts/{api_key}", get_account),
        ("POST", "/_sim/accounts/{api_key}/credits", credits),
        ("GET", "/_sim/ledger", ledger),
        ("GET", "/_sim/clock", get_clock),
        ("PUT", "/_sim/clock", put_clock),
        ("POST", "/_sim/clock/advance", advance),
        ("GET", "/_sim/tasks", list_tasks),
        ("GET", "/_sim/tasks/{task_id}", get_task),
        ("POST", "/_sim/tasks/{task_id}/outcome", outcome),
        ("GET", "/_sim/clips/{clip_id}", get_clip),
        ("POST", "/_sim/clips/{clip_id}/expire-upstream", expire_upstream),
        ("GET", "/_sim/journal", journal),
        ("DELETE", "/_sim/journal", clear_journal),
        ("GET", "/_sim/journal/stats", journal_stats),
        ("POST", "/_sim/faults", add_fault),
        ("GET", "/_sim/faults", list_faults),
        ("DELETE", "/_sim/faults", clear_faults),
        ("DELETE", "/_sim/faults/{fault_id}", delete_fault),
        ("GET", "/_sim/scenarios", list_scenarios),
        ("POST", "/_sim/scenarios/{name}", use_scenario),
        ("GET", "/_sim/rate-limits", get_limits),
        ("PUT", "/_sim/rate-limits/{provider}", put_limit),
        ("GET", "/_sim/webhooks", webhooks),
        ("POST", "/_sim/webhooks/allowed", allow_callbacks),
        ("DELETE", "/_sim/webhooks/allowed", disallow_callbacks),
        ("GET", "/_sim/metrics", get_metrics),
    ]
    return [web.route(method, path, guarded(handler)) for method, path, handler in table]
