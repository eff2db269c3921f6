"""A simulator served from a thread of this process, on a free loopback port: what the
tests, the pytest plugin and ``musicsim conformance client`` run against."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from aiohttp import web

from .answers import AnswerChecker
from .app import ANSWERS, ENGINE, TLS, build_app, listening, runner
from .config import ENV_PREFIX, load
from .core.engine import Engine

# Settings that change nothing a client sees, only add scrutiny, and so follow the
# environment into every simulator a process starts: a test suite that sets
# MUSICSIM_CHECK_ANSWERS=1 checks the plugin's and the client runner's simulators too.
INHERITED = (f"{ENV_PREFIX}CHECK_ANSWERS",)


class Background:
    """Start with :meth:`start`; ``url`` is then the server's origin.

    Takes the settings ``musicsim serve`` takes, by name: ``Background(tls=True,
    tls_ca=path)`` serves HTTPS with the local CA at ``path`` (``ca_path``, and
    ``ssl_context()`` for a client that trusts it), ``tls_cert=…, tls_key=…`` a pair
    of your own. Other MUSICSIM_* variables are not read, except those in INHERITED;
    with ``check_answers``, ``answers`` holds what the answer checker found."""

    def __init__(self, **settings: Any):
        settings.setdefault("port", 0)
        inherited = {name: os.environ[name] for name in INHERITED if name in os.environ}
        self.settings = load(env=inherited, **settings)
        self.app = build_app(self.settings)
        self.engine: Engine = self.app[ENGINE]
        self.answers: AnswerChecker | None = self.app[ANSWERS]
        self.tls = self.app[TLS]
        self.ca_path = self.tls.ca_path if self.tls is not None else None
        self.loop = asyncio.new_event_loop()
        self.url = ""
        self._runner: web.AppRunner | None = None

    def start(self, timeout: float = 10.0) -> "Background":
        ready = threading.Event()
        failure: list[BaseException] = []

        async def boot() -> None:
            self._runner = runner(self.app)
            await self._runner.setup()
            await web.TCPSite(self._runner, self.settings.host, self.settings.port,
                              ssl_context=self.tls.context if self.tls else None).start()
            port = self._runner.addresses[0][1]
            listening(self.app, self.settings, port)
            self.url = self.settings.origin(port)

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(boot())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                return
            finally:
                ready.set()
            self.loop.run_forever()

        threading.Thread(target=serve, daemon=True, name="musicsim").start()
        if not ready.wait(timeout) or failure:
            raise RuntimeError(f"the simulator did not start: {failure[0] if failure else 'timeout'}")
        return self

    def ssl_context(self):
        """A client SSL context that trusts this server's local CA (and the system's)."""
        from .tls import client_context

        return client_context(self.tls.ca_pem if self.tls is not None else None)

    def call(self, fn, *args):
        """``fn(*args)`` on the server's loop (the engine is not thread-safe), awaited
        when it is a coroutine."""
        async def wrapped():
            result = fn(*args)
            return await result if asyncio.iscoroutine(result) else result
        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
            self._runner = None
        self.loop.call_soon_threadsafe(self.loop.stop)
