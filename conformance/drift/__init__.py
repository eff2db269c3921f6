"""Drift: a provider's recorded answers held against the dialect the simulator serves.

:class:`Drift` takes exchanges one at a time (the recorder logs what it finds as each
answer arrives); :func:`analyze` reads a whole cassette and adds what only a whole life
shows: states skipped, and how long each state lasted beside the simulator's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.cassette import Cassette, Exchange

from ..dialects import driver as driver_of
from .findings import Finding
from .lives import Lives, Timing, timing_table
from .shadow import Shadow
from .shapes import Shapes

# Tasks of one operation that get the simulator's timeline: enough to compare its
# timing, few enough that a long recording is judged in seconds.
SHADOWED_PER_OPERATION = 8


class Drift:
    """The checks that need one answer at a time: shape, status, error shape, status
    words and their order."""

    def __init__(self, provider: str):
        self.provider = provider
        self.shapes = Shapes(provider)
        self.lives = Lives(provider, driver_of(provider))

    def check(self, exchange: Exchange) -> list[Finding]:
        if exchange.provider != self.provider:
            return []
        found = self.shapes.check(exchange)
        return found + self.lives.observe(exchange, self.shapes.operation(exchange))


@dataclass
class Analysis:
    provider: str
    exchanges: int
    findings: list[Finding]
    timings: list[Timing] = field(default_factory=list)
    speed: float = 1.0

    def differences(self, timing: bool = False) -> list[Finding]:
        """The findings that count against the recording (timing only when asked)."""
        return [f for f in self.findings
                if not f.informational or (timing and f.kind == "timing")]

    def timing_rows(self):
        return timing_table(self.timings)


async def analyze(cassette: Cassette, *, speed: float = 1.0, provider: str | None = None,
                  shadow: bool = True) -> Analysis:
    """Every finding of ``cassette``; ``speed`` is the pace of the recorded service
    compared with the real one (1 for a real provider), for the timing."""
    provider = provider or cassette.provider
    if provider is None:
        return Analysis("", 0, [], speed=speed)
    drift = Drift(provider)
    findings: list[Finding] = []
    for exchange in cassette.exchanges:
        findings += drift.check(exchange)
    timings: list[Timing] = []
    if shadow and drift.lives.lives:
        shadowed: dict[str, int] = {}
        timelines = {}
        async with Shadow(provider, drift.lives.driver, speed) as simulator:
            for task, life in drift.lives.lives.items():
                operation = drift.shapes.operation(life.origin)
                shadowed[operation] = shadowed.get(operation, 0) + 1
                if shadowed[operation] <= SHADOWED_PER_OPERATION:
                    timelines[task] = await simulator.timeline(life.origin)
        judged, timings = drift.lives.judge(timelines, drift.shapes.operation)
        findings += judged
    return Analysis(provider, len(cassette.exchanges), findings, timings, speed)
