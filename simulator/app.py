"""Builds the aiohttp application: every provider under its prefix, /_sim and /media."""

from __future__ import annotations

from aiohttp import web

from .admin import admin_routes
from .answers import AnswerChecker, admin_middleware
from .config import Settings
from .core.engine import Engine
from .edge import edge_middleware
from .media.serve import MediaServer
from .metrics import Metrics
from .providers import REGISTRY, Provider
from .tls import ServerTLS, server_tls

ENGINE = web.AppKey("engine", Engine)
PROVIDERS = web.AppKey("providers", dict)
TLS = web.AppKey("tls", ServerTLS | None)  # how the server speaks HTTPS (None: plain HTTP)
ANSWERS = web.AppKey("answers", AnswerChecker | None)  # --check-answers (None: off)


def build_engine(settings: Settings) -> Engine:
    return Engine(seed=settings.seed, clock_mode=settings.clock, speed=settings.speed,
                  state=settings.state, default_credits=settings.default_credits,
                  demo_key=settings.demo_key, journal_entries=settings.journal_entries,
                  journal_body=settings.journal_body_bytes, rate_limits=settings.rate_limits,
                  scenarios=settings.scenarios(), scenario=settings.scenario)


def build_app(settings: Settings) -> web.Application:
    tls = server_tls(settings)  # first: a bad TLS setting is refused before anything starts
    engine = build_engine(settings)
    if tls is not None and tls.ca_pem is not None:
        engine.webhooks.trust(tls.ca_pem)  # receivers with a certificate from the local CA
    providers: dict[str, Provider] = {pid: REGISTRY[pid](engine, settings)
                                      for pid in settings.providers}
    root = next(iter(providers.values())) if len(providers) == 1 else None
    metrics = Metrics(engine)
    answers = AnswerChecker([*providers, "admin"]) if settings.check_answers else None
    middlewares = [edge_middleware(engine, providers, root, metrics, answers)]
    if answers is not None:
        middlewares.append(admin_middleware(answers))
    app = web.Application(middlewares=middlewares, client_max_size=4 * 1024 * 1024)
    app[ENGINE] = engine
    app[ANSWERS] = answers
    app[PROVIDERS] = providers
    app[TLS] = tls
    # One flat router: every provider route under its prefix (and at the root when a
    # single provider is served), so a request is matched once, with no sub-application.
    for pid, provider in providers.items():
        app.add_routes([web.route(r.method, f"/{pid}{r.path}", r.handler, **r.kwargs)
                        for r in provider.routes()])
    app.add_routes(admin_routes(engine, settings, list(providers), metrics))
    app.add_routes(MediaServer(engine, settings.media_cache_bytes).routes())
    if root is not None:
        app.add_routes(root.routes())

    async def on_startup(_app: web.Application) -> None:
        await engine.start()

    async def on_cleanup(_app: web.Application) -> None:
        await engine.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


# aiohttp refuses a request line or header over 8 KiB itself, in plain text, before any
# dialect sees it. Room for 64 KiB lets every dialect refuse long input in its own shape
# (the specs' length limits are far below this).
MAX_LINE = 64 * 1024


def runner(app: web.Application) -> web.AppRunner:
    """How the simulator's application is served, by the command and by the tests."""
    return web.AppRunner(app, access_log=None, max_line_size=MAX_LINE, max_field_size=MAX_LINE)


def listening(app: web.Application, settings: Settings, port: int) -> None:
    """Tell the providers the port the server got, so the links in their callbacks work
    when it was chosen at bind time (``--port 0``); a --public-url stays as given."""
    if settings.public_url is None and port != settings.port:
        for provider in app[PROVIDERS].values():
            provider.base_url = settings.origin(port)
