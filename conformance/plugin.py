"""The pytest plugin (``pytest11`` entry point ``musicsim``): a client's own tests get a
running simulator through the ``musicsim`` fixture.

The server starts once per test session on a free loopback port and is reset before
each test, on a manual clock, so time moves only when the test says::

    def test_my_client_reports_failure(musicsim):
        client = MyClient(base_url=musicsim.base_url("evolink"), api_key=musicsim.api_key)
        musicsim.fault(match={"provider": "evolink"}, action={"task": "fail"})
        task = client.start_song("a song")
        musicsim.clock.advance(120)
        assert client.status(task) == "failed"
        assert musicsim.journal_stats(provider="evolink", method="GET")["count"] == 1
"""

from __future__ import annotations

import pytest

from .control import Clock, ControlPlaneError, MusicSim

__all__ = ["Clock", "ControlPlaneError", "MusicSim", "musicsim", "musicsim_server"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("musicsim", "the musicsim fixture")
    group.addoption("--musicsim-url", metavar="URL", default=None,
                    help="use a simulator already running there instead of starting one")
    group.addoption("--musicsim-admin-token", metavar="T", default=None,
                    help="the control plane's token, for a simulator started with one")


@pytest.fixture(scope="session")
def musicsim_server(request: pytest.FixtureRequest):
    """The session's simulator: started here unless --musicsim-url names one."""
    url = request.config.getoption("musicsim_url")
    token = request.config.getoption("musicsim_admin_token")
    if url:
        yield MusicSim(url, "sk-musicsim-demo", token)
        return
    from simulator.background import Background
    server = Background(clock="manual", allow_local_callbacks=True).start()
    try:
        yield MusicSim(server.url, server.settings.demo_key)
    finally:
        server.stop()


@pytest.fixture
def musicsim(musicsim_server: MusicSim) -> MusicSim:
    """The simulator, reset and on a manual clock for this test."""
    musicsim_server.reset()
    musicsim_server.clock.set(mode="manual")
    return musicsim_server
