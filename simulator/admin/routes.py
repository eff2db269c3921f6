"""The /_sim control plane: accounts, credits, the clock, tasks, the journal, faults,
rate limits, webhook deliveries, sandboxes and metrics.

Only loopback callers may use it, unless an admin token is set; then every call must
carry it. Bodies are checked against specs/admin.yaml like any provider's. Every call
about a sandbox's state is served twice: under /_sim for the default sandbox, and under
/_sim/sandboxes/{sandbox} for a made one.

On a shared store, each call first catches this process up with the others, and a call
that changes something saves the sandbox's documents for them (see core/durable.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any, Callable

import yarl
from aiohttp import web

from .. import __version__
from ..config import Settings
from ..core.clock import ClockError
from ..core.engine import (AccountExists, CallbackRejected, ClipNotFound, Engine, TaskFinished,
                           TaskNotFound)
from ..core.faults import FaultError
from ..core.journal import stats
from ..core.ledger import InsufficientCredits
from ..core.models import STATES, Task
from ..core.ratelimit import Limit
from ..core.sandboxes import Sandboxes
from ..core.store import is_shared
from ..media.facts import song_sheet
from ..media.files import (AUDIO_M4A, AUDIO_MP3, AUDIO_WAV, COVER, COVER_LARGE, MEDIA, VIDEO_MP4,
                           media_path, stem_file)
from ..metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, Metrics
from . import paging
from .access import Access
from .answers import AdminError, error_answer, http_error, json_answer
from .dashboard import dashboard_routes
from .events import Streams, events_handler
from .requests import body, clock_dict, flag, number, paged
from .sandboxes import ADMIN_PREFIX, SANDBOX_PREFIX, engine_of, sandbox_routes
from .state import state_routes

if TYPE_CHECKING:
    from ..core.fleet import Fleet
    from ..replay import Replay

log = logging.getLogger(__name__)
# The files of a finished song a player offers for download, beside its stems.
SONG_FILES = (AUDIO_MP3, AUDIO_WAV, AUDIO_M4A, VIDEO_MP4, COVER, COVER_LARGE)
# A dialect's word for a task's status (Provider.status_word).
Words = dict[str, Callable[[Task, float], str]]


def admin_routes(sandboxes: Sandboxes, settings: Settings, providers: list[str],
                 metrics: Metrics, replay: Replay | None = None,
                 fleet: Fleet | None = None, words: Words | None = None,
                 streams: Streams | None = None) -> list[web.RouteDef]:
    access = Access(settings)
    words = words or {}

    def task_dict(task: Task, now: float) -> dict[str, Any]:
        said = words.get(task.provider)
        return {**task.to_dict(now), "dialect_status": said(task, now) if said
                else task.state(now)}
    store = describe_store(sandboxes.default.store, settings.state)

    def guarded(handler, scoped: bool):
        """The handler behind the access rules, its refusals in admin.yaml's shape; a
        ``scoped`` one is handed the engine of the sandbox its path names (the default
        sandbox's under /_sim itself)."""
        async def wrapper(request: web.Request) -> web.Response:
            refusal = access.refusal(request)
            if refusal is not None:
                return error_answer(refusal.status, refusal.code, refusal.message,
                                    refusal.param)
            try:
                if fleet is not None:
                    await fleet.sync()
                if not scoped:
                    return await handler(request)
                engine = engine_of(sandboxes, request)
                answer = await handler(request, engine)
                if fleet is not None and request.method != "GET":
                    await engine.durable.save()
                return answer
            except AdminError as exc:
                return error_answer(exc.status, exc.code, exc.message, exc.param)
            except web.HTTPException as exc:
                return http_error(exc)
            except Exception:
                log.exception("control plane error on %s %s", request.method, request.path)
                return error_answer(500, "internal_error",
                                    "the control plane failed; see the server log")
        return wrapper

    async def account_or_404(engine: Engine, api_key: str):
        account = await engine.account(api_key)
        if account is None:
            raise AdminError(404, "not_found", f"no account with key {api_key!r}", "api_key")
        return account

    async def task_or_404(engine: Engine, task_id: str):
        task = await engine.task(task_id)
        if task is None:
            raise AdminError(404, "not_found", f"no task {task_id!r}", "task_id")
        return task

    async def health(request):
        return json_answer({"status": "ok", "providers": providers,
                            "clock": clock_dict(sandboxes.default), "version": __version__,
                            "sandboxes": len(sandboxes.named()), "store": store,
                            "workers": {"count": settings.workers, "index": settings.worker,
                                        "pid": os.getpid()},
                            **({"replay": replay.describe()} if replay is not None else {})})

    async def reset(request, engine):
        await engine.reset()
        if replay is not None:
            replay.rewind()  # a clean slate: each recorded key starts at its first answer
        return json_answer({"status": "reset"})

    async def create_account(request, engine):
        data = await body(request, "/_sim/accounts")
        try:
            account = await engine.create_account(data.get("api_key"), data.get("credits"),
                                                  data.get("models"))
        except AccountExists:
            raise AdminError(409, "conflict", f"an account with key {data['api_key']!r} "
                                              f"exists", "api_key") from None
        return json_answer(account.to_dict(), 201)

    async def list_accounts(request, engine):
        return json_answer({"accounts": [a.to_dict() for a in await engine.accounts()]})

    async def get_account(request, engine):
        return json_answer((await account_or_404(engine, request.match_info["api_key"])).to_dict())

    async def credits(request, engine):
        key = request.match_info["api_key"]
        data = await body(request, "/_sim/accounts/{api_key}/credits")
        await account_or_404(engine, key)
        try:
            account = await engine.grant(key, data["delta"])
        except InsufficientCredits as exc:
            raise AdminError(409, "insufficient_credits",
                             f"cannot withdraw {exc.needed}: {exc.available} available",
                             "delta") from None
        return json_answer(account.to_dict())

    async def ledger(request, engine):
        key = request.query.get("api_key")
        if not key:
            raise AdminError(400, "invalid_request", "api_key is required", "api_key")
        await account_or_404(engine, key)
        entries = await engine.ledger_entries(key)
        task_id = request.query.get("task_id")
        if task_id:
            entries = [e for e in entries if e.task_id == task_id]
        chosen, following = paged(request, engine, "ledger", entries, lambda e: e.id, 1000)
        return json_answer({"api_key": key, "entries": [e.to_dict() for e in chosen],
                            "count": len(entries), "next_cursor": following},
                           headers=paging.link(request, following))

    async def get_clock(request, engine):
        return json_answer(clock_dict(engine))

    async def put_clock(request, engine):
        data = await body(request, "/_sim/clock", "put")
        try:
            engine.set_clock(data.get("mode"), data.get("speed"))
        except ClockError as exc:
            raise AdminError(400, "invalid_request", str(exc), exc.param) from None
        return json_answer(clock_dict(engine))

    async def advance(request, engine):
        data = await body(request, "/_sim/clock/advance")
        await engine.advance(float(data["seconds"]))
        return json_answer(clock_dict(engine))

    async def list_tasks(request, engine):
        status = request.query.get("status")
        if status is not None and status not in STATES:
            raise AdminError(400, "invalid_request", f"status must be one of {', '.join(STATES)}",
                             "status")
        found = await engine.tasks(request.query.get("provider") or None, status,
                                   request.query.get("api_key") or None)
        chosen, following = paged(request, engine, "tasks", found, lambda t: t.seq, 1000)
        now = engine.now()
        return json_answer({"tasks": [task_dict(t, now) for t in chosen], "count": len(found),
                            "next_cursor": following}, headers=paging.link(request, following))

    async def get_task(request, engine):
        task = await task_or_404(engine, request.match_info["task_id"])
        return json_answer(task_dict(task, engine.now()))

    async def outcome(request, engine):
        task_id = request.match_info["task_id"]
        data = await body(request, "/_sim/tasks/{task_id}/outcome")
        try:
            task = await engine.force_outcome(task_id, data["outcome"], data.get("reason"))
        except TaskNotFound:
            raise AdminError(404, "not_found", f"no task {task_id!r}", "task_id") from None
        except TaskFinished:
            raise AdminError(409, "conflict", f"task {task_id!r} has already finished",
                             "task_id") from None
        return json_answer(task_dict(task, engine.now()))

    async def clip_or_404(engine: Engine, clip_id: str):
        found = await engine.find_clip(clip_id)
        if found is None:
            raise AdminError(404, "not_found", f"no clip {clip_id!r}", "clip_id")
        return found

    async def get_clip(request, engine):
        task, clip = await clip_or_404(engine, request.match_info["clip_id"])
        return json_answer({**clip.to_dict(), "task_id": task.id, "provider": task.provider})

    async def clip_song(request, engine):
        clip_id = request.match_info["clip_id"]
        task, clip = await clip_or_404(engine, clip_id)
        if not task.clip_ready(clip):
            raise AdminError(409, "conflict", f"clip {clip_id!r} is not finished yet",
                             "clip_id")
        sheet = await asyncio.to_thread(song_sheet, clip.recipe, clip.lyrics)
        return json_answer({
            "id": clip.id, "task_id": task.id, "provider": task.provider, "title": clip.title,
            **sheet, "files": {name: media_path(clip.id, name) for name in SONG_FILES},
            "stems": [{"part": part, "url": media_path(clip.id, stem_file(part))}
                      for part in sheet["parts"]]})

    async def expire_upstream(request, engine):
        clip_id = request.match_info["clip_id"]
        try:
            await engine.expire_upstream(clip_id)
        except ClipNotFound:
            raise AdminError(404, "not_found", f"no clip {clip_id!r}", "clip_id") from None
        return await get_clip(request, engine)

    def journal_entries(request: web.Request, engine: Engine) -> list:
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
            faulted=faulted, replayed=replayed,
            mentions=request.query.get("mentions") or None))

    async def journal(request, engine):
        await engine.gather_logs()
        entries = journal_entries(request, engine)
        chosen, following = paged(request, engine, "journal", entries, lambda e: e.id, 10_000)
        return json_answer({"entries": [e.to_dict() for e in chosen], "count": len(entries),
                            "next_cursor": following}, headers=paging.link(request, following))

    async def journal_stats(request, engine):
        await engine.gather_logs()
        return json_answer(stats(journal_entries(request, engine)))

    async def clear_journal(request, engine):
        await engine.clear_journal()
        return json_answer({"status": "cleared"})

    # -- faults, scenarios, rate limits, webhooks, metrics ------------------------------
    def rules_dict(engine: Engine) -> dict[str, Any]:
        return {"rules": [r.to_dict() for r in engine.faults.rules()],
                "scenario": engine.scenario}

    async def add_fault(request, engine):
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
        return json_answer(rule.to_dict(), 201)

    async def list_faults(request, engine):
        return json_answer(rules_dict(engine))

    async def clear_faults(request, engine):
        engine.faults.clear()
        return json_answer(rules_dict(engine))

    async def delete_fault(request, engine):
        rule_id = request.match_info["fault_id"]
        if not engine.faults.remove(rule_id):
            raise AdminError(404, "not_found", f"no fault rule {rule_id!r}", "fault_id")
        return json_answer(rules_dict(engine))

    async def list_scenarios(request, engine):
        return json_answer({"scenarios": [
            {"name": name, "description": scenario.get("description", ""),
             "rules": scenario["rules"]}
            for name, scenario in sorted(engine.faults.scenarios.items())]})

    async def use_scenario(request, engine):
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
        return json_answer({"scenario": name, "rules": [r.to_dict() for r in added]}, 201)

    def limits_dict(engine: Engine) -> dict[str, Any]:
        return {"limits": {p: engine.rates.limit(p).to_dict() for p in providers},
                "keys": [{"provider": p, "api_key": k, **limit.to_dict()}
                         for (p, k), limit in engine.rates.per_key().items()]}

    async def get_limits(request, engine):
        return json_answer(limits_dict(engine))

    async def put_limit(request, engine):
        provider = request.match_info["provider"]
        if provider not in providers:
            raise AdminError(404, "not_found", f"no provider {provider!r}", "provider")
        data = await body(request, "/_sim/rate-limits/{provider}", "put")
        if data.get("api_key") is not None:
            await account_or_404(engine, data["api_key"])
        engine.rates.configure(provider, Limit(float(data["rate"]), float(data.get("burst", 1))),
                               data.get("api_key"))
        return json_answer(limits_dict(engine))

    async def webhooks(request, engine):
        await engine.gather_logs()
        numbered = engine.webhooks.numbered(request.query.get("provider") or None,
                                            request.query.get("task_id") or None,
                                            request.query.get("url") or None)
        chosen, following = paged(request, engine, "webhooks", numbered, lambda n: n[0], 10_000)
        return json_answer({"attempts": [attempt for _, attempt in chosen],
                            "count": len(numbered), "next_cursor": following,
                            "pending": engine.webhooks.pending(),
                            "allowed": engine.allowed_callbacks.list()},
                           headers=paging.link(request, following))

    async def allow_callbacks(request, engine):
        data = await body(request, "/_sim/webhooks/allowed")
        try:
            allowed = engine.allowed_callbacks.add(data["url"])
        except CallbackRejected as exc:
            raise AdminError(400, "invalid_request", str(exc), "url") from None
        return json_answer({"allowed": allowed}, status=201)

    async def disallow_callbacks(request, engine):
        url = request.query.get("url")
        return json_answer({"allowed": engine.allowed_callbacks.remove(url)})

    async def get_metrics(request):
        return web.Response(body=await metrics.exposition(),
                            headers={"Content-Type": METRICS_CONTENT_TYPE})

    # Every sandbox has these, under /_sim/sandboxes/{sandbox} as under /_sim.
    scoped = [
        ("POST", "/reset", reset),
        ("POST", "/accounts", create_account),
        ("GET", "/accounts", list_accounts),
        ("GET", "/accounts/{api_key}", get_account),
        ("POST", "/accounts/{api_key}/credits", credits),
        ("GET", "/ledger", ledger),
        ("GET", "/clock", get_clock),
        ("PUT", "/clock", put_clock),
        ("POST", "/clock/advance", advance),
        ("GET", "/tasks", list_tasks),
        ("GET", "/tasks/{task_id}", get_task),
        ("POST", "/tasks/{task_id}/outcome", outcome),
        ("GET", "/clips/{clip_id}", get_clip),
        ("GET", "/clips/{clip_id}/song", clip_song),
        ("POST", "/clips/{clip_id}/expire-upstream", expire_upstream),
        ("GET", "/journal", journal),
        ("DELETE", "/journal", clear_journal),
        ("GET", "/journal/stats", journal_stats),
        ("POST", "/faults", add_fault),
        ("GET", "/faults", list_faults),
        ("DELETE", "/faults", clear_faults),
        ("DELETE", "/faults/{fault_id}", delete_fault),
        ("GET", "/scenarios", list_scenarios),
        ("POST", "/scenarios/{name}", use_scenario),
        ("GET", "/rate-limits", get_limits),
        ("PUT", "/rate-limits/{provider}", put_limit),
        ("GET", "/webhooks", webhooks),
        ("POST", "/webhooks/allowed", allow_callbacks),
        ("DELETE", "/webhooks/allowed", disallow_callbacks),
        ("GET", "/events", events_handler(sandboxes, streams or Streams(), fleet)),
        *state_routes(),
    ]
    served = [("GET", "/_sim/health", health), ("GET", "/_sim/metrics", get_metrics),
              *sandbox_routes(sandboxes)]
    return [web.route(method, path, guarded(handler, False))
            for method, path, handler in served] \
        + [web.route(method, prefix + path, guarded(handler, True))
           for prefix in (ADMIN_PREFIX, SANDBOX_PREFIX) for method, path, handler in scoped] \
        + dashboard_routes()


def describe_store(store, state: str) -> dict[str, Any]:
    """Where state is kept, as health reports it: a Redis URL without its password."""
    kind = state.split(":", 1)[0] if ":" in state else state
    location = None
    if kind == "sqlite":
        location = store.path
    elif kind == "redis":
        url = yarl.URL(state)
        location = str(url.with_password(None) if url.password else url)
    return {"kind": kind, "location": location, "durable": is_shared(store),
            "shared": is_shared(store)}
