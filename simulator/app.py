"""Builds the aiohttp application: every provider under its prefix, /_sim and /media.

The edge middleware is the one place a provider request passes through on its way in
and out: it turns refusals and surprises into the dialect's error shape and writes the
request journal.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from .admin import admin_routes
from .config import Settings
from .core.engine import Engine
from .media.serve import MediaServer
from .providers import REGISTRY, Provider
from .providers.base import BadRequest

log = logging.getLogger(__name__)

ENGINE = web.AppKey("engine", Engine)
PROVIDERS = web.AppKey("providers", dict)


def build_engine(settings: Settings) -> Engine:
    return Engine(seed=settings.seed, clock_mode=settings.clock, speed=settings.speed,
                  state=settings.state, default_credits=settings.default_credits,
                  demo_key=settings.demo_key, journal_entries=settings.journal_entries,
                  journal_body=settings.journal_body_bytes)


def build_app(settings: Settings) -> web.Application:
    engine = build_engine(settings)
    providers: dict[str, Provider] = {pid: REGISTRY[pid](engine, settings)
                                      for pid in settings.providers}
    root = next(iter(providers.values())) if len(providers) == 1 else None
    app = web.Application(middlewares=[_edge(engine, providers, root)],
                          client_max_size=4 * 1024 * 1024)
    app[ENGINE] = engine
    app[PROVIDERS] = providers
    # One flat router: every provider route under its prefix (and at the root when a
    # single provider is served), so a request is matched once, with no sub-application.
    for pid, provider in providers.items():
        app.add_routes([web.route(r.method, f"/{pid}{r.path}", r.handler, **r.kwargs)
                        for r in provider.routes()])
    app.add_routes(admin_routes(engine, settings, list(providers)))
    app.add_routes(MediaServer(engine, settings.media_cache_bytes).routes())
    if root is not None:
        app.add_routes(root.routes())

    async def on_startup(_app: web.Application) -> None:
        engine.start()

    async def on_cleanup(_app: web.Application) -> None:
        await engine.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def listening(app: web.Application, settings: Settings, port: int) -> None:
    """Tell the providers the port the server got, so the links in their callbacks work
    when it was chosen at bind time (``--port 0``); a --public-url stays as given."""
    if settings.public_url is None and port != settings.port:
        for provider in app[PROVIDERS].values():
            provider.base_url = f"http://{settings.host}:{port}"


def _edge(engine: Engine, providers: dict[str, Provider], root: Provider | None):
    reserved = ("/_sim", "/media")

    def locate(path: str) -> tuple[Provider | None, str]:
        head, _, _rest = path[1:].partition("/")
        if head in providers:
            return providers[head], path[len(head) + 1:] or "/"
        if root is not None and not path.startswith(reserved):
            return root, path
        return None, path

    @web.middleware
    async def edge(request: web.Request, handler):
        provider, inner = locate(request.path)
        if provider is None:
            return await handler(request)
        started = time.perf_counter()
        body = b""
        try:
            body = await request.read() if request.body_exists else b""
            response = await handler(request)
        except BadRequest as exc:
            response = provider.error(exc.status, exc.message, exc.headers, **exc.fields)
        except web.HTTPException as exc:
            message = "Not found" if exc.status == 404 else exc.reason
            response = provider.error(exc.status, message, {"Allow": exc.headers["Allow"]}
                                      if "Allow" in exc.headers else None)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = provider.error(500, "Internal server error",
                                      fallback_suggestion="try again later")
        engine.journal.record(
            time=engine.now(), provider=provider.id, method=request.method, path=inner,
            query=request.query_string, api_key=provider.api_key(request),
            status=response.status, duration_ms=(time.perf_counter() - started) * 1000,
            request_headers=request.headers, request_body=body,
            response_body=_body_of(response))
        return response

    return edge


def _body_of(response: web.StreamResponse) -> bytes:
    """What the journal keeps of an answer; a streamed one has no body left to keep."""
    body = getattr(response, "body", None)
    return body if isinstance(body, bytes) else b""
