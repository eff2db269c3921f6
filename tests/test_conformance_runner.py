"""The gateway runner against simulators started the default way: it lets its own
receiver through for the run, drives the clock it controls and sets it back, and skips
(never fails) the callback cases when the target will not call its receiver."""

from __future__ import annotations

import asyncio

import pytest

import aiohttp

from broken_gateways import Proxy
from conformance.context import Admin
from conformance.gateway import GatewayCheck, _allow_receiver, check
from conformance.receiver import Receiver
from conftest import start_sim


@pytest.fixture(scope="module")
def default_sim():
    """As `musicsim serve` starts: no --allow-local-callbacks, the fast clock."""
    sim = start_sim(clock="fast")
    yield sim
    sim.stop()


def options(sim, provider: str, cases, **extra) -> GatewayCheck:
    return GatewayCheck(provider, f"{sim.url}/{provider}", "sk-musicsim-demo", cases=cases,
                        timeout=60, callback_wait=15, concurrency=8, **extra)


def run(options: GatewayCheck) -> tuple[dict[str, tuple[str, str]], list[str]]:
    notes: list[str] = []
    results = asyncio.run(check(options, notes=notes))
    return {r.case.id: (r.outcome, r.message) for r in results}, notes


@pytest.mark.parametrize("provider, cases", [
    ("evolink", ["evolink.callbacks.*", "evolink.scenarios.song"]),
    ("acedata", ["acedata.callbacks.*", "acedata.chains.*", "acedata.scenarios.*"]),
    ("orux", ["orux.callbacks.*", "orux.chains.*"]),
])
def test_a_default_simulator_passes_its_callback_cases(default_sim, provider, cases):
    outcomes, notes = run(options(default_sim, provider, cases))
    bad = {k: v for k, v in outcomes.items() if v[0] != "passed"}
    assert outcomes and not bad, bad
    assert any(f"{provider}.callbacks." in case for case in outcomes)
    assert any("let the runner's receiver" in note for note in notes), notes
    assert any("ran at 50x real time" in note for note in notes), notes
    # The run leaves the simulator as it found it: no allowed URL, the clock it had.
    assert default_sim.admin("GET", "/webhooks").json()["allowed"] == []
    clock = default_sim.admin("GET", "/clock").json()
    assert clock["mode"] == "fast"


def test_the_allowed_receiver_is_recorded_while_the_run_lasts(default_sim):
    async def allow_and_look():
        async with aiohttp.ClientSession() as session:
            receiver = await Receiver().start()
            try:
                notes: list[str] = []
                entry = await _allow_receiver(Admin(session, default_sim.url), receiver, notes)
                listed = default_sim.admin("GET", "/webhooks").json()["allowed"]
                default_sim.admin("DELETE", "/webhooks/allowed", params={"url": entry})
                return entry, listed, receiver.url
            finally:
                await receiver.stop()

    entry, listed, url = asyncio.run(allow_and_look())
    assert entry == url + "/" and listed == [entry]


def test_a_manual_clock_is_driven_and_set_back():
    sim = start_sim()  # manual clock: without the runner's help nothing would ever finish
    try:
        outcomes, notes = run(options(sim, "sunor", ["sunor.scenarios.*"]))
        assert outcomes and {o for o, _ in outcomes.values()} == {"passed"}, outcomes
        assert any("it was manual" in note for note in notes), notes
        assert sim.admin("GET", "/clock").json()["mode"] == "manual"
    finally:
        sim.stop()


def test_the_clock_is_left_alone_when_asked(default_sim):
    outcomes, notes = run(options(default_sim, "evolink", ["evolink.auth.*"], clock_speed=0))
    assert {o for o, _ in outcomes.values()} == {"passed"}
    assert not any(note.startswith("clock:") for note in notes), notes


def test_callback_cases_are_skipped_when_the_target_refuses_the_receiver(default_sim):
    """A gateway in front of a default simulator, run without --upstream-admin: the
    runner cannot let its receiver through, the upstream refuses loopback callbacks,
    and the callback cases say so and how to mend it, while the others pass."""
    proxy = Proxy("orux", default_sim.url).start()
    try:
        outcomes, _ = run(GatewayCheck("orux", f"{proxy.url}/orux", "sk-musicsim-demo",
                                       cases=["orux.callbacks.*", "orux.scenarios.song"],
                                       timeout=120, callback_wait=15, concurrency=8))
    finally:
        proxy.stop()
    callbacks = {k: v for k, v in outcomes.items() if ".callbacks." in k}
    assert callbacks and {o for o, _ in callbacks.values()} == {"skipped"}, callbacks
    refused = [reason for _, reason in callbacks.values() if "refuses callbacks" in reason]
    assert refused, callbacks  # the others need the simulator's magic values, and say so
    for reason in refused:
        assert "--upstream-admin" in reason and "--allow-local-callbacks" in reason, reason
    assert outcomes["orux.scenarios.song"][0] == "passed", outcomes

