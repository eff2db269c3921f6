"""State and scale: polling and submitting through `musicsim serve` on each state store,
measured side by side in one run. Prints figures and the targets; asserts nothing.

Every server runs with default flags and one change made through its control plane: the
bench's key has no rate limit (and credits for every submit), as in bench/run.py. Pairs
are measured in alternating rounds and medians kept, so a noisy neighbour cannot favour
either side:

- one process each: sqlite and redis against memory (targets: sqlite poll >= 0.8x and
  submit >= 0.5x; redis poll >= 0.6x);
- redis with --workers 2 against --workers 1 (targets: poll >= 1.2x, submit > 1.0x).
  Two cores carry the load client, the workers and redis-server at once: these are
  floors, not what more cores give.

After each submit run the bench waits for the servers to go idle (the songs it started
finish in the background), so no run is measured against another's leftovers. Redis is
a real redis-server started here on a free port (`apt-get install redis-server`).

    .venv/bin/python bench/stores.py [--seconds 5] [--rounds 3] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, _prepare, _submit_once, free_port, measure  # noqa: E402

SUBMIT_BODY = json.dumps({"model": "suno-v4.5", "prompt": "a cheerful summer pop song"}).encode()


@contextmanager
def redis_server() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        sys.exit("bench/stores.py needs redis-server (apt-get install redis-server)")
    port = free_port()
    folder = tempfile.mkdtemp(prefix="musicsim-bench-redis-")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", folder],
                            stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                             text=True).stdout.strip() != "PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (a supervisor's workers), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/task/{pid}/children") as listed:
            children = [int(child) for child in listed.read().split()]
    except FileNotFoundError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in children)


def settle(pids: list[int], limit: float = 60.0) -> None:
    """Until the servers are idle again: the songs a submit run started finish in the
    background, and would otherwise slow whichever server is measured next."""
    deadline = time.monotonic() + limit
    before = sum(cpu_seconds(pid) for pid in pids)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = sum(cpu_seconds(pid) for pid in pids)
        if now - before < 0.05:
            return
        before = now


SERVERS: list[int] = []  # the pids of every server running, for settle()


@contextmanager
def served(state: str, workers: int = 1) -> Iterator[tuple[int, str]]:
    """A `musicsim serve` on ``state``, ready, with the bench key; (port, a task id)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--port",
                             str(port), "--state", state,
                             *(("--workers", str(workers)) if workers > 1 else ())],
                            stdout=subprocess.DEVNULL, cwd=ROOT)
    SERVERS.append(proc.pid)
    try:
        asyncio.run(_ready(port, workers))
        asyncio.run(_prepare(port))
        yield port, asyncio.run(_submit_once(port, SUBMIT_BODY))
    finally:
        SERVERS.remove(proc.pid)
        proc.terminate()
        proc.wait(20)


async def _ready(port: int, workers: int, timeout: float = 60) -> None:
    """Until every worker has answered a health check (connections spread over them)."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"musicsim serve on {port} did not start")
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/_sim/health") as answer:
                    seen.add((await answer.json())["workers"]["index"])
        except (aiohttp.ClientError, OSError):
            await asyncio.sleep(0.1)


def compare(base: tuple[int, str], other: tuple[int, str], seconds: float,
            concurrency: int, rounds: int) -> dict[str, dict]:
    """Poll and submit against both servers in alternating rounds: medians and ratios."""
    found = {}
    for name, method, body in (("poll", "GET", None), ("submit", "POST", SUBMIT_BODY)):
        runs: tuple[list[float], list[float]] = ([], [])
        for _ in range(rounds):
            for side, (port, task_id) in enumerate((base, other)):
                path = f"/evolink/v1/tasks/{task_id}" if name == "poll" \
                    else "/evolink/v1/audios/generations"
                runs[side].append(measure(f"http://127.0.0.1:{port}{path}", method, body,
                                          seconds, concurrency))
                if name == "submit":
                    settle(SERVERS)
        base_rps, other_rps = statistics.median(runs[0]), statistics.median(runs[1])
        ratios = [o / b for b, o in zip(*runs)]
        found[name] = {"base": round(base_rps), "other": round(other_rps),
                       "ratio": round(other_rps / base_rps, 3),
                       "rounds": (round(min(ratios), 3), round(max(ratios), 3))}
    return found


def show(title: str, names: tuple[str, str], found: dict[str, dict],
         targets: dict[str, str]) -> None:
    print(f"\n{title}")
    print(f"{'':8}{names[0]:>12}{names[1]:>12}{'ratio':>8}{'rounds':>14}   target")
    for name, row in found.items():
        low, high = row["rounds"]
        print(f"{name:8}{row['base']:>12}{row['other']:>12}{row['ratio']:>8}"
              f"{f'{low:.3f}-{high:.3f}':>14}   {targets.get(name, '')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="load per measurement")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating runs per server (median kept)")
    parser.add_argument("--only", choices=("sqlite", "redis", "workers"),
                        help="only that comparison")
    args = parser.parse_args()
    client = "wrk" if shutil.which("wrk") else \
        "aiohttp (install wrk for a client that is never the bottleneck)"
    print(f"musicsim state-store bench on {os.cpu_count()} cores, python "
          f"{sys.version.split()[0]}; load client: {client}, {args.concurrency} connections, "
          f"{args.seconds:g} s per run, median of {args.rounds} alternating runs")
    load = (args.seconds, args.concurrency, args.rounds)
    wanted = {args.only} if args.only else {"sqlite", "redis", "workers"}
    with ExitStack() as stack:
        redis = stack.enter_context(redis_server())
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="musicsim-bench-"))
        memory = stack.enter_context(served("memory"))
        if "sqlite" in wanted:
            sqlite = stack.enter_context(served(f"sqlite:{folder}/state.db"))
            show("one process: memory against sqlite", ("memory", "sqlite"),
                 compare(memory, sqlite, *load), {"poll": ">= 0.8", "submit": ">= 0.5"})
        if "redis" in wanted:
            one = stack.enter_context(served(f"{redis}/0"))
            show("one process: memory against redis", ("memory", "redis"),
                 compare(memory, one, *load), {"poll": ">= 0.6"})
    if "workers" not in wanted:
        return
    with ExitStack() as stack:
        redis = stack.enter_context(redis_server())
        one = stack.enter_context(served(f"{redis}/1"))
        two = stack.enter_context(served(f"{redis}/2", workers=2))
        show("redis: --workers 1 against --workers 2", ("1 worker", "2 workers"),
             compare(one, two, *load), {"poll": ">= 1.2", "submit": "> 1.0"})


if __name__ == "__main__":
    main()
