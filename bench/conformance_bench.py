"""Times the whole conformance catalog of every dialect against one simulator.

The baseline is one song end to end through the same runner on the same simulator
(submit, poll to success), so the figure reads as "the catalog costs N songs".
Prints seconds; nothing is asserted.
Run: .venv/bin/python bench/conformance_bench.py [--speed 50] [--concurrency 8]
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(main(args.speed, args.concurrency))
