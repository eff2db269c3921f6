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

With ``--musicsim-url`` the session shares a simulator that is already running, perhaps
with other sessions or xdist workers: each test then gets a sandbox of its own (its own
demo key, tasks, faults, journal and manual clock), removed after the test, so tests
running side by side never see each other. ``@pytest.mark.musicsim_state(PATH)`` starts
a test from a state file (``musicsim state export``); ``musicsim.key(KEY)`` is the key a
file's KEY answers as (suffixed with the sandbox's id in a shared simulator, where
several tests may load the same file).
"""

from __future__ import annotations

import pytest

from .control import Clock, ControlPlaneError, MusicSim

__all__ = ["Clock", "ControlPlaneError", "MusicSim", "musicsim", "musicsim_server"]

STATE_MARK = "musicsim_state"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("musicsim", "the musicsim fixture")
    group.addoption("--musicsim-url", metavar="URL", default=None,
                    help="share a simulator already running there (a sandbox per test) "
                         "instead of starting one")
    group.addoption("--musicsim-admin-token", metavar="T", default=None,
                    help="the control plane's token, for a simulator started with one")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{STATE_MARK}(path): start the test's simulator from "
                                       f"a musicsim state file")


@pytest.fixture(scope="session")
def musicsim_server(request: pytest.FixtureRequest):
    """The session's simulator: started here unless --musicsim-url names one (then it
    is shared, and each test works in a sandbox of its own)."""
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
def musicsim(request: pytest.FixtureRequest, musicsim_server: MusicSim):
    """The simulator for this test: clean, on a manual clock, and (when given) loaded
    from the test's state file."""
    shared = request.config.getoption("musicsim_url") is not None
    if shared:
        sim = musicsim_server.sandbox(clock="manual")
    else:
        sim = musicsim_server
        sim.reset()
        sim.clock.set(mode="manual")
    try:
        mark = request.node.get_closest_marker(STATE_MARK)
        if mark is not None:  # a path relative to the test's file, or absolute
            given = mark.args[0] if mark.args else mark.kwargs["path"]
            # Tests side by side may load one file: each sandbox gets the keys its own.
            sim.load_state(request.path.parent / given,
                           key_suffix=sim.sandbox_id if shared else None)
        yield sim
    finally:
        if shared:
            sim.remove()
