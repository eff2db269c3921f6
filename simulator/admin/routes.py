"""The /_sim control plane: accounts, credits, the clock, tasks and the journal.

Only loopback callers may use it, unless an admin token is set; then every call must
carry it. Bodies are checked against specs/admin.yaml like any provider's.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Any

import orjson
from aiohttp import web

from .. import __version__
from ..config import Settings
from ..core.engine import ClipNotFound, Engine, TaskFinished, TaskNotFound
from ..core.ledger import InsufficientCredits
from ..core.models import STATES
from ..openapi import load_spec

log = logging.getLogger(__name__)


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json({"error": {"code": code, "message": message}}, status)


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


def admin_routes(engine: Engine, settings: Settings, providers: list[str]) -> list[web.RouteDef]:
    spec = load_spec("admin")
    token = settings.admin_token

    def guarded(handler):
        async def wrapper(request: web.Request) -> web.Response:
            if token:
                given = request.headers.get("Authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    return _error(401, "unauthorized", "send Authorization: Bearer ADMIN_TOKEN")
            elif not _is_loopback(request.remote):
                return _error(403, "forbidden",
                              "the control plane answers loopback callers only; start with --admin-token to open it")
            try:
                return await handler(request)
            except AdminError as exc:
                return _error(exc.status, exc.code, exc.message)
            except Exception:
                log.exception("control plane error on %s %s", request.method, request.path)
                return _error(500, "internal_error", "the control plane failed; see the server log")
        return wrapper

    async def body(request: web.Request, path: str, method: str = "post") -> dict[str, Any]:
        raw = await request.read()
        try:
            data = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            raise AdminError(400, "invalid_request", "body must be valid JSON") from None
        violation = spec.check_body(path, method, data)
        if violation is not None:
            raise AdminError(400, "invalid_request", violation.message)
        return data

    def account_or_404(api_key: str):
        account = engine.account(api_key)
        if account is None:
            raise AdminError(404, "not_found", f"no account with key {api_key!r}")
        return account

    def task_or_404(task_id: str):
        task = engine.task(task_id)
        if task is None:
            raise AdminError(404, "not_found", f"no task {task_id!r}")
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
            raise AdminError(400, "invalid_request", f"{name} must be a number") from None

    def limit_of(request: web.Request, default: int = 1000) -> int:
        raw = request.query.get("limit")
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
            raise AdminError(400, "invalid_request", "limit must be an integer from 1 to 10000")
        return int(raw)

    async def health(request):
        return _json({"status": "ok", "providers": providers, "clock": clock_dict(),
                      "version": __version__})

    async def reset(request):
        engine.reset()
        return _json({"status": "reset"})

    async def create_account(request):
        data = await body(request, "/_sim/accounts")
        if data.get("api_key") and engine.account(data["api_key"]) is not None:
            raise AdminError(409, "conflict", f"an account with key {data['api_key']!r} exists")
        account = engine.create_account(data.get("api_key"), data.get("credits"), data.get("models"))
        return _json(account.to_dict(), 201)

    async def list_accounts(request):
        return _json({"accounts": [a.to_dict() for a in engine.accounts()]})

    async def get_account(request):
        return _json(account_or_404(request.match_info["api_key"]).to_dict())

    async def credits(request):
        key = request.match_info["api_key"]
        data = await body(request, "/_sim/accounts/{api_key}/credits")
        account_or_404(key)
        try:
            account = engine.grant(key, data["delta"])
        except InsufficientCredits as exc:
            raise AdminError(409, "insufficient_credits",
                             f"cannot withdraw {exc.needed}: {exc.available} available") from None
        return _json(account.to_dict())

    async def ledger(request):
        key = request.query.get("api_key")
        if not key:
            raise AdminError(400, "invalid_request", "api_key is required")
        account_or_404(key)
        return _json({"api_key": key, "entries": [e.to_dict() for e in engine.ledger_entries(key)]})

    async def get_clock(request):
        return _json(clock_dict())

    async def put_clock(request):
        data = await body(request, "/_sim/clock", "put")
        try:
            engine.set_clock(data.get("mode"), data.get("speed"))
        except ValueError as exc:
            raise AdminError(400, "invalid_request", str(exc)) from None
        return _json(clock_dict())

    async def advance(request):
        data = await body(request, "/_sim/clock/advance")
        engine.advance(float(data["seconds"]))
        return _json(clock_dict())

    async def list_tasks(request):
        status = request.query.get("status")
        if status is not None and status not in STATES:
            raise AdminError(400, "invalid_request", f"status must be one of {', '.join(STATES)}")
        limit = limit_of(request)
        found = list(engine.tasks(request.query.get("provider") or None, status,
                                  request.query.get("api_key") or None))
        now = engine.now()
        return _json({"tasks": [t.to_dict(now) for t in found[:limit]], "count": len(found)})

    async def get_task(request):
        return _json(task_or_404(request.match_info["task_id"]).to_dict(engine.now()))

    async def outcome(request):
        task_id = request.match_info["task_id"]
        data = await body(request, "/_sim/tasks/{task_id}/outcome")
        try:
            task = engine.force_outcome(task_id, data["outcome"], data.get("reason"))
        except TaskNotFound:
            raise AdminError(404, "not_found", f"no task {task_id!r}") from None
        except TaskFinished:
            raise AdminError(409, "conflict", f"task {task_id!r} has already finished") from None
        return _json(task.to_dict(engine.now()))

    async def get_clip(request):
        clip_id = request.match_info["clip_id"]
        found = engine.find_clip(clip_id)
        if found is None:
            raise AdminError(404, "not_found", f"no clip {clip_id!r}")
        task, clip = found
        return _json({**clip.to_dict(), "task_id": task.id, "provider": task.provider})

    async def expire_upstream(request):
        clip_id = request.match_info["clip_id"]
        try:
            engine.expire_upstream(clip_id)
        except ClipNotFound:
            raise AdminError(404, "not_found", f"no clip {clip_id!r}") from None
        return await get_clip(request)

    async def journal(request):
        entries = list(engine.journal.query(
            provider=request.query.get("provider") or None,
            method=request.query.get("method") or None,
            path=request.query.get("path") or None,
            api_key=request.query.get("api_key") or None,
            since=number(request, "since"), until=number(request, "until")))
        limit = limit_of(request, 10_000)
        return _json({"entries": [e.to_dict() for e in entries[:limit]], "count": len(entries)})

    async def clear_journal(request):
        engine.journal.clear()
        return _json({"status": "cleared"})

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
    ]
    return [web.route(method, path, guarded(handler)) for method, path, handler in table]
