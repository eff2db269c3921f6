"""A real simulator on a free loopback port, driven over HTTP like any client would."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import yaml
from aiohttp import web
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from simulator.answers import LOGGED, collecting
from simulator.background import Background
from simulator.config import RateLimit
from simulator.core.engine import Engine

DEMO_KEY = "sk-musicsim-demo"
SPECS = Path(__file__).resolve().parent.parent / "specs"

# Every simulator the suite starts holds its answers against the specs: start_sim's by
# name, and through the environment the rest: Background(...) in a test, those library
# code starts (the client runner, the pytest plugin) and `musicsim serve` processes.
os.environ["MUSICSIM_CHECK_ANSWERS"] = "1"


@dataclass
class Sim:
    """A running simulator: its base URL, its engine, and helpers for the control plane."""

    url: str
    engine: Engine
    loop: asyncio.AbstractEventLoop
    _server: Background

    def base(self, provider: str = "evolink") -> str:
        return f"{self.url}/{provider}"

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.url}/_sim{path}", timeout=10, **kwargs)

    def advance(self, seconds: float) -> dict:
        response = self.admin("POST", "/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text
        return response.json()

    def account(self, credits: float | None = None, **extra: Any) -> str:
        body = {**extra, **({"credits": credits} if credits is not None else {})}
        response = self.admin("POST", "/accounts", json=body)
        assert response.status_code == 201, response.text
        return response.json()["api_key"]

    def call(self, fn, *args):
        """Run ``fn(*args)`` on the server's loop and return its result."""
        return self._server.call(fn, *args)

    def stop(self) -> None:
        self._server.stop()


# The suite runs on a store that hands out deep copies and yields on every call, as a
# store in another process would: nothing may rely on holding a live record.
TEST_STATE = os.environ.get("MUSICSIM_TEST_STATE", "memory+copies")


def start_sim(**overrides: Any) -> Sim:
    overrides.setdefault("clock", "manual")
    overrides.setdefault("state", TEST_STATE)
    overrides.setdefault("check_answers", True)
    server = Background(**overrides).start()
    return Sim(server.url, server.engine, server.loop, server)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "wrong_answers: the test makes a simulator answer "
                                       "against its spec on purpose and checks that itself")


def pytest_terminal_summary(terminalreporter) -> None:
    """What the fuzz tests exercised, printed even when they pass (tests/fuzz_report.py,
    loaded only when a fuzz test ran)."""
    report = sys.modules.get("fuzz_report")
    if report is not None:
        report.summarize(terminalreporter)


@pytest.fixture(scope="session", autouse=True)
def answers_seen():
    """Every mismatch any simulator of this process finds, from the start of the session
    (so module fixtures' requests count too) until a test claims them."""
    with collecting() as found:
        yield found


@pytest.fixture(autouse=True)
def answers_match_the_specs(request: pytest.FixtureRequest, answers_seen: list):
    """Fails the test during which (or during whose fixtures' setup) any simulator
    answered against its spec, listing each answer and why: a handler and its spec must
    not drift apart, whichever of them is wrong."""
    yield
    found = answers_seen[:]
    del answers_seen[:len(found)]
    if found and request.node.get_closest_marker("wrong_answers") is None:
        pytest.fail(f"{len(found)} answer(s) broke their spec:\n"
                    + "\n".join(f"  {mismatch}" for mismatch in found), pytrace=False)


def assert_answers_conform(log: str) -> None:
    """Assert that a `musicsim serve` process's log (its stderr) reports no answer that
    broke its spec: the autouse check above sees only this process's simulators."""
    broken = [line for line in log.splitlines() if LOGGED in line]
    assert not broken, "answers broke their spec:\n" + "\n".join(broken)


@pytest.fixture(scope="session")
def sim_session():
    # Rate limiting has its own tests; here it would only throttle the tests' polling.
    off = RateLimit(0.0, 1.0)
    sim = start_sim(allow_local_callbacks=True,
                    rate_limits={"evolink": off, "acedata": off, "openaihk": off,
                                 "sunor": off, "orux": off})
    yield sim
    sim.stop()


@pytest.fixture
def sim(sim_session: Sim) -> Sim:
    """The shared simulator, reset to its defaults and to a manual clock for each test."""
    assert sim_session.admin("POST", "/reset").status_code == 200
    assert sim_session.admin("PUT", "/clock", json={"mode": "manual"}).status_code == 200
    return sim_session


def spec_validator(spec_id: str, schema: str) -> Draft202012Validator:
    """A validator for one of a spec's component schemas, formats checked: how the tests
    check responses against specs/<id>.yaml."""
    return Draft202012Validator({"$ref": f"urn:{spec_id}#/components/schemas/{schema}"},
                                registry=_spec_registry(spec_id),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def conforms(schema: Draft202012Validator, document: Any) -> None:
    """Assert that ``document`` is valid, listing every violation when it is not."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in schema.iter_errors(document)]
    assert not errors, (errors, document)


@functools.lru_cache(maxsize=None)
def _spec_registry(spec_id: str) -> Registry:
    document = yaml.safe_load((SPECS / f"{spec_id}.yaml").read_text(encoding="utf-8"))
    return Registry().with_resource(f"urn:{spec_id}", Resource.from_contents(
        document, default_specification=DRAFT202012))


def bearer(key: str = DEMO_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Receiver:
    """A local HTTP server that records callbacks; it can fail the first N attempts.

    Subclasses change what is recorded and answered by overriding :meth:`record`.
    """

    def __init__(self, fail_first: int = 0):
        self.fail_first, self.calls = fail_first, []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def handle(request: web.Request) -> web.Response:
            status = self.record(await request.read(), dict(request.headers))
            return web.Response(status=status, text="ok" if status == 200 else "no")

        async def boot():
            app = web.Application()
            app.router.add_post("/hook", handle)
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"
            ready.set()

        threading.Thread(target=lambda: (self.loop.run_until_complete(boot()),
                                         self.loop.run_forever()), daemon=True).start()
        assert ready.wait(10)

    def record(self, raw: bytes, headers: dict[str, str]) -> int:
        """Keep one delivery and say which status to answer it with."""
        self.calls.append(orjson.loads(raw))
        return 500 if len(self.calls) <= self.fail_first else 200

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.calls

    def close(self):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def receiver():
    """A callback receiver on loopback, closed after the test."""
    hook = Receiver()
    yield hook
    hook.close()
