"""The catalog itself: every case of every dialect passes against the unmodified
simulator, cases are well formed, selection and budgets work."""

from __future__ import annotations

import asyncio
import time

import pytest

from conftest import start_sim
from conformance.case import AREAS
from conformance.dialects import DIALECTS, catalog
from conformance.gateway import GatewayCheck, check

# Areas every dialect's catalog covers; a case may be skipped only for these reasons.
REQUIRED_AREAS = {"auth", "validation", "scenarios", "states", "media", "chains", "credits",
                  "ids", "rate-limits", "callbacks", "upstream"}
NO_CHAINS = {"evolink"}  # its seed documents generation only, no action on a finished song
ALLOWED_SKIPS = {"the dialect shows no balance", "the dialect sends no callbacks",
                 "the dialect keeps results"}


@pytest.fixture(scope="module")
def fast_sim():
    sim = start_sim(clock="scaled", speed=50.0, allow_local_callbacks=True)
    yield sim
    sim.stop()


def options(sim, provider: str, **extra) -> GatewayCheck:
    return GatewayCheck(provider, f"{sim.url}/{provider}", "sk-musicsim-demo",
                        upstream_admin=f"{sim.url}/_sim", timeout=30, poll_every=0.1,
                        callback_wait=10, concurrency=8, **extra)


def test_every_dialect_passes_its_whole_catalog(fast_sim):
    async def everything():
        return await asyncio.gather(*(check(options(fast_sim, p)) for p in DIALECTS))

    started = time.monotonic()
    runs = asyncio.run(everything())
    seconds = time.monotonic() - started
    print(f"\nthe whole catalog of {len(DIALECTS)} dialects: "
          f"{sum(len(r) for r in runs)} cases in {seconds:.1f} s")
    for provider, results in zip(DIALECTS, runs):
        broken = [f"{r.case.id}: {r.outcome}: {r.message}" for r in results
                  if r.outcome in ("failed", "error")]
        assert not broken, "\n".join(broken)
        skipped = {r.message for r in results if r.outcome == "skipped"}
        assert skipped <= ALLOWED_SKIPS, (provider, skipped)
        assert sum(r.outcome == "passed" for r in results) >= 40, provider


@pytest.mark.parametrize("provider", DIALECTS)
def test_cases_are_well_formed_and_cover_every_area(provider):
    cases = catalog(provider).cases
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids))
    for case in cases:
        assert case.id.startswith(f"{provider}.{case.area}.")
        assert case.area in AREAS and case.title and case.seed.startswith("seed 00")
    required = REQUIRED_AREAS - {"chains"} if provider in NO_CHAINS else REQUIRED_AREAS
    assert required <= {c.area for c in cases}, required - {c.area for c in cases}
    assert sum(c.area == "validation" for c in cases) >= 10


def test_globs_select_cases():
    evolink = catalog("evolink")
    auth = evolink.select(["auth.*"])
    assert {c.id for c in auth} == {"evolink.auth.missing-key", "evolink.auth.wrong-key"}
    both = evolink.select(["evolink.auth.wrong-key", "*.upstream.server-error-*"])
    assert [c.id for c in both] == ["evolink.auth.wrong-key",
                                    "evolink.upstream.server-error-500",
                                    "evolink.upstream.server-error-503"]
    assert evolink.select(["nothing-like-this"]) == []
    assert len(evolink.select(None)) == len(evolink.cases)


def test_max_credits_skips_what_it_cannot_pay_for(fast_sim):
    before = fast_sim.admin("GET", "/tasks?provider=evolink&limit=10000").json()["count"]
    results = asyncio.run(check(options(fast_sim, "evolink", max_credits=0,
                                        cases=["scenarios.*", "auth.*"])))
    outcomes = {r.case.id: (r.outcome, r.message) for r in results}
    assert outcomes["evolink.auth.wrong-key"][0] == "passed"
    assert outcomes["evolink.scenarios.song"][0] == "skipped"
    assert "--max-credits 0" in outcomes["evolink.scenarios.song"][1]
    song = next(r for r in results if r.case.id == "evolink.scenarios.song")
    assert (song.flag, song.unchecked) == ("--max-credits", True)
    after = fast_sim.admin("GET", "/tasks?provider=evolink&limit=10000").json()["count"]
    assert after == before  # nothing was spent


def test_unmet_needs_are_skipped_with_the_reason(fast_sim):
    """A target that is not a simulator gets no control plane and no second key."""
    from broken_gateways import Proxy

    proxy = Proxy("evolink", fast_sim.url).start()
    try:
        results = asyncio.run(check(GatewayCheck(
            "evolink", f"{proxy.url}/evolink", "sk-musicsim-demo", timeout=30, poll_every=0.1,
            cases=["ids.*", "upstream.stuck-task", "auth.*"])))
    finally:
        proxy.stop()
    outcomes = {r.case.id: (r.outcome, r.message) for r in results}
    assert outcomes["evolink.auth.missing-key"][0] == "passed"
    assert outcomes["evolink.ids.foreign-task"] == (
        "skipped", "needs a second API key (--second-api-key)")
    assert outcomes["evolink.upstream.stuck-task"][0] == "skipped"
    assert "--upstream-admin" in outcomes["evolink.upstream.stuck-task"][1]
    # Which option would run each: a field of the result, not words to parse.
    flags = {r.case.id: r.flag for r in results if r.outcome == "skipped"}
    assert flags == {"evolink.ids.foreign-task": "--second-api-key",
                     "evolink.upstream.stuck-task": "--upstream-admin"}


def test_the_runners_ear_decodes_measures_and_compares():
    from conformance import audio
    from simulator.core.recipes import Song
    from simulator.media import formats, render

    song, other = Song(5, 7.3, "pop", False), Song(6, 7.3, "pop", False)
    samples, rate = audio.decode(formats.wav(song))
    assert rate == 22050 and len(samples) == round(7.3 * rate)
    assert audio.likeness(samples, render.render(song)) > 0.999
    assert abs(audio.likeness(samples, audio.decode(formats.wav(other))[0])) < 0.5
    assert abs(audio.seconds(formats.mp3(song)) - 7.3) < 0.1
    assert audio.seconds(b"not audio at all") is None
    assert len(audio.window(samples, rate, 1.0, 2.5)) == round(1.5 * rate)
