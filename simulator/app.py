"""Builds the aiohttp application: every provider under its prefix, /_sim and /media."""

from __future__ import annotations

from aiohttp import web

from .admin import Streams, admin_routes, answered_in_json
from .answers import AnswerChecker, admin_middleware
from .config import Settings
from .core.engine import Engine
from .core.fleet import Fleet
from .core.keys import DEFAULT_SANDBOX, Keys
from .core.sandboxes import Sandboxes, sandbox_seed
from .edge import Edge, MediaSurface, catch_all, unmatched
from .media.files import MEDIA
from .media.serve import MediaServer
from .metrics import Metrics
from .providers import REGISTRY, Provider
from .replay import Replay
from .tls import ServerTLS, server_tls

ENGINE = web.AppKey("engine", Engine)  # the default sandbox's
SANDBOXES = web.AppKey("sandboxes", Sandboxes)
PROVIDERS = web.AppKey("providers", dict)
TLS = web.AppKey("tls", ServerTLS | None)  # how the server speaks HTTPS (None: plain HTTP)
ANSWERS = web.AppKey("answers", AnswerChecker | None)  # --check-answers (None: off)
REPLAY = web.AppKey("replay", Replay | None)  # --replay's recorded answers (None: off)


def build_engine(settings: Settings, sandbox: str = DEFAULT_SANDBOX,
                 keys: Keys | None = None) -> Engine:
    """The default engine, or a sandbox's: seeded and keyed apart, otherwise alike."""
    default = sandbox == DEFAULT_SANDBOX
    return Engine(seed=settings.seed if default else sandbox_seed(settings.seed, sandbox),
                  clock_mode=settings.clock, speed=settings.speed,
                  state=settings.state, default_credits=settings.default_credits,
                  demo_key=settings.demo_key if default else f"{settings.demo_key}-{sandbox}",
                  journal_entries=settings.journal_entries,
                  journal_body=settings.journal_body_bytes, rate_limits=settings.rate_limits,
                  scenarios=settings.scenarios(), scenario=settings.scenario,
                  allow_local_callbacks=settings.allow_local_callbacks, sandbox=sandbox,
                  keys=keys, max_tasks=settings.max_tasks, worker=settings.worker,
                  # Several processes answer: each one's journal is every one's.
                  share_journal=settings.workers > 1
                  or settings.state.startswith("redis://"))


def build_app(settings: Settings) -> web.Application:
    tls = server_tls(settings)  # first: a bad TLS setting is refused before anything starts
    replay = Replay.load(settings.replay, settings.providers) if settings.replay else None

    def engine_for(name: str = DEFAULT_SANDBOX, keys: Keys | None = None) -> Engine:
        made = build_engine(settings, name, keys)
        if tls is not None and tls.ca_pem is not None:
            made.webhooks.trust(tls.ca_pem)  # receivers with a certificate from the local CA
        return made

    engine = engine_for()
    sandboxes = Sandboxes(engine, lambda name: engine_for(name, engine.keys), settings.seed)
    providers: dict[str, Provider] = {pid: REGISTRY[pid](engine, settings)
                                      for pid in settings.providers}
    root = next(iter(providers.values())) if len(providers) == 1 else None
    # Many processes on one store: each request catches this one up (see core/fleet.py).
    fleet = Fleet(sandboxes) if sandboxes.shared is not None else None
    metrics = Metrics(sandboxes)
    answers = AnswerChecker([*providers, "admin"]) if settings.check_answers else None
    # No middleware unless answers are checked: the edge is bound to each route instead.
    app = web.Application(middlewares=[admin_middleware(answers)] if answers else [],
                          client_max_size=4 * 1024 * 1024)
    app[ENGINE] = engine
    app[SANDBOXES] = sandboxes
    app[ANSWERS] = answers
    app[PROVIDERS] = providers
    app[TLS] = tls
    app[REPLAY] = replay
    # One flat router: every provider route under its prefix (and at the root when a
    # single provider is served), so a request is matched once, with no sub-application.
    # Each provider and media route is bound to the edge; the catch-alls come last, so
    # they only take what nothing else matched.
    edge = Edge(sandboxes, metrics, answers, replay, fleet)

    def dialects_for(made: Engine) -> None:
        """Each sandbox is answered by dialects of its own, over its own engine."""
        dialects = {pid: REGISTRY[pid](made, settings) for pid in providers}
        for pid, dialect in dialects.items():
            dialect.base_url = providers[pid].base_url
        edge.serve(made.sandbox, dialects)

    sandboxes.on_made.append(dialects_for)
    sandboxes.on_removed.append(lambda gone: edge.forget(gone.sandbox))
    for pid, provider in providers.items():
        app.add_routes(edge.routes(provider, provider.routes(), f"/{pid}"))
    streams = Streams()  # the dashboard's live streams, ended as the server stops
    app.on_shutdown.append(streams.close)
    app.add_routes(admin_routes(sandboxes, settings, list(providers), metrics, replay, fleet,
                                {pid: p.status_word for pid, p in providers.items()}, streams))
    media = MediaSurface()
    app.add_routes(edge.routes(media, MediaServer(sandboxes, settings.media_cache_bytes).routes(),
                               f"/{MEDIA}"))
    if root is not None:
        app.add_routes(edge.routes(root, root.routes()))
    app.add_routes([edge.catch_all(provider, f"/{pid}") for pid, provider in providers.items()])
    app.add_routes([edge.catch_all(media, f"/{MEDIA}"),
                    catch_all("/_sim", answered_in_json(unmatched))])
    if root is not None:
        app.add_routes([edge.catch_all(root)])

    async def on_startup(_app: web.Application) -> None:
        await engine.start()
        if fleet is not None:
            await fleet.sync()  # the sandboxes other processes made

    async def on_cleanup(_app: web.Application) -> None:
        if fleet is None:
            await sandboxes.remove_all()
        else:  # they stay in the store, for the other processes and the next start
            await sandboxes.let_all_go()
        await engine.stop()
        if fleet is not None:
            await engine.store.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


# aiohttp refuses a request line or header over 8 KiB itself, in plain text, before any
# dialect sees it. Room for 64 KiB lets every dialect refuse long input in its own shape
# (the specs' length limits are far below this).
MAX_LINE = 64 * 1024


# How long a request still being answered when the simulator stops may take to finish (a
# stream, a waiting request or a slow fault can run for minutes). aiohttp waits this long
# twice: for the handler to end, then again after cutting its request off, before it
# cancels the handler. Stopping (Ctrl-C, a test's teardown) so takes a few seconds
# at most, where aiohttp's default would hold it for two minutes.
SHUTDOWN_GRACE = 1.5


def runner(app: web.Application) -> web.AppRunner:
    """How the simulator's application is served, by the command and by the tests."""
    return web.AppRunner(app, access_log=None, max_line_size=MAX_LINE, max_field_size=MAX_LINE,
                         shutdown_timeout=SHUTDOWN_GRACE)


def listening(app: web.Application, settings: Settings, port: int) -> None:
    """Tell the providers the port the server got, so the links in their callbacks work
    when it was chosen at bind time (``--port 0``); a --public-url stays as given."""
    if settings.public_url is None and port != settings.port:
        for provider in app[PROVIDERS].values():
            provider.base_url = settings.origin(port)
