"""Times the whole conformance catalog of every dialect against one simulator.

Two runs:
- all five dialects at once on a simulator already at ``--speed``, against one song end
  to end through the same runner (submit, poll to success), so the figure reads as "the
  catalog costs N songs";
- the five catalogs one after another with the runner's defaults, as a user types the
  five commands, against a simulator started the default way (``musicsim serve``: the
  fast clock, no --allow-local-callbacks): the runner driving that simulator's clock,
  against the same with ``--clock-speed 0`` (the clock left alone) as the baseline.
Prints seconds; nothing is asserted.
Run: .venv/bin/python bench/conformance_bench.py [--speed 50] [--concurrency 8] [--in-a-row]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conformance.dialects import DIALECTS  # noqa: E402
from conformance.gateway import GatewayCheck, check  # noqa: E402
from simulator.background import Background  # noqa: E402


def options(url: str, provider: str, concurrency: int, cases=()) -> GatewayCheck:
    return GatewayCheck(provider, f"{url}/{provider}", "sk-musicsim-demo", cases=list(cases),
                        upstream_admin=f"{url}/_sim", timeout=60, poll_every=0.1,
                        callback_wait=10, concurrency=concurrency)


async def timed(url: str, provider: str, concurrency: int, cases=()) -> tuple[float, list]:
    started = time.monotonic()
    results = await check(options(url, provider, concurrency, cases))
    return time.monotonic() - started, results


async def main(speed: float, concurrency: int) -> None:
    server = Background(clock="scaled", speed=speed, allow_local_callbacks=True).start()
    try:
        song, _ = await timed(server.url, "evolink", 1, ["evolink.scenarios.song"])
        started = time.monotonic()
        runs = await asyncio.gather(*(timed(server.url, p, concurrency) for p in DIALECTS))
        total = time.monotonic() - started
    finally:
        server.stop()
    print(f"clock {speed:g}x real time, {concurrency} cases at once per dialect")
    print(f"baseline: one song end to end {song:.2f} s")
    for provider, (seconds, results) in zip(DIALECTS, runs):
        counts = {o: sum(r.outcome == o for r in results)
                  for o in ("passed", "failed", "error", "skipped")}
        print(f"  {provider:<9} {len(results):>4} cases  {seconds:5.1f} s (alongside the others)  "
              + "  ".join(f"{k} {v}" for k, v in counts.items()))
    cases = sum(len(r) for _, r in runs)
    print(f"all five dialects together: {cases} cases in {total:.1f} s "
          f"({total / song:.0f}x the baseline song)")


async def in_a_row(url: str, clock_speed: float) -> tuple[float, int, dict[str, int]]:
    """The five catalogs one after another with the runner's defaults."""
    started, cases, outcomes = time.monotonic(), 0, {}
    for provider in DIALECTS:
        results = await check(GatewayCheck(provider, f"{url}/{provider}", "sk-musicsim-demo",
                                           clock_speed=clock_speed))
        cases += len(results)
        for r in results:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    return time.monotonic() - started, cases, outcomes


def main_in_a_row(baseline: bool) -> None:
    server = Background(clock="fast").start()  # as `musicsim serve` starts
    try:
        driven = asyncio.run(in_a_row(server.url, 50.0))
        left = asyncio.run(in_a_row(server.url, 0.0)) if baseline else None
    finally:
        server.stop()
    seconds, cases, outcomes = driven
    print(f"five catalogs in a row, runner defaults, a default server: {cases} cases in "
          f"{seconds:.1f} s with the runner driving the clock at 50x ({outcomes})")
    if left is not None:
        print(f"  the same with --clock-speed 0 (the server's own fast clock, 2 s polls): "
              f"{left[0]:.1f} s ({left[2]}), {left[0] / seconds:.1f}x as long")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--in-a-row", action="store_true",
                        help="also time the five catalogs in a row against a default server")
    parser.add_argument("--no-baseline", action="store_true",
                        help="with --in-a-row: skip the slow run with the clock left alone")
    args = parser.parse_args()
    asyncio.run(main(args.speed, args.concurrency))
    if args.in_a_row:
        main_in_a_row(not args.no_baseline)
