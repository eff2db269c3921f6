"""musicsim benchmarks: HTTP throughput against bare aiohttp handlers, and the scheduler
under 100,000 tasks in flight. Prints figures; asserts nothing.

The simulator runs as `musicsim serve` starts it, default flags, with one change made
through its control plane: the bench's key has no rate limit (and credits for every
submit). The baselines are two bare aiohttp handlers in a process of their own: a GET
that answers a task-shaped JSON body, and a POST that parses the JSON it is sent and
answers a task.

    make bench                 # or: .venv/bin/python bench/run.py [--seconds 5] [--tasks 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-musicsim-bench"  # made through the control plane: no rate limit, ample credits
TASK_SHAPE = {
    "created": 1766319090, "id": "task-unified-1766319089-oqs9cue4", "model": "suno-v4.5",
    "object": "audio.generation.task", "progress": 42, "status": "processing",
    "task_info": {"can_cancel": False}, "type": "audio",
}

BARE_SERVER = """
import sys, orjson
from aiohttp import web
task = %r
body = orjson.dumps(task)
async def poll(request):
    return web.Response(body=body, content_type="application/json")
async def submit(request):
    sent = orjson.loads(await request.read())
    return web.Response(body=orjson.dumps({**task, "model": sent.get("model")}),
                        content_type="application/json")
app = web.Application()
app.router.add_get("/{tail:.*}", poll)
app.router.add_post("/{tail:.*}", submit)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""" % (TASK_SHAPE,)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def start_bare() -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)])
    wait_ready(port)
    return proc, port


def start_sim() -> tuple[subprocess.Popen, int]:
    """`musicsim serve` with default flags; then, through the control plane, the bench's
    key without a rate limit and with credits for every submit."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, cwd=ROOT)
    wait_ready(port)
    asyncio.run(_prepare(port))
    return proc, port


async def _prepare(port: int) -> None:
    admin = f"http://127.0.0.1:{port}/_sim"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{admin}/accounts", json={"api_key": KEY,
                                                           "credits": 1e12}) as made:
            assert made.status == 201, await made.text()
        async with session.put(f"{admin}/rate-limits/evolink",
                               json={"api_key": KEY, "rate": 0}) as limit:
            assert limit.status == 200, await limit.text()


def wrk_load(url: str, method: str, body: bytes | None, seconds: float, concurrency: int) -> float:
    """Requests per second measured by wrk, a C load generator that is never the bottleneck."""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    with script:
        script.write(f'wrk.method = "{method}"\n'
                     f'wrk.headers["Authorization"] = "Bearer {KEY}"\n'
                     'wrk.headers["Content-Type"] = "application/json"\n')
        if body:
            script.write(f"wrk.body = {json.dumps(body.decode())}\n")
        script.write('done = function(summary, latency, requests)\n'
                     '  io.write(string.format("RESULT %d %d %f\\n", summary.requests,'
                     ' summary.errors.status, summary.duration / 1e6))\nend\n')
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "-s", script.name, url],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    requests, bad_status, elapsed = next(l for l in out.splitlines() if l.startswith("RESULT")).split()[1:]
    if int(bad_status):
        raise RuntimeError(f"{bad_status} of {requests} requests to {url} failed")
    return int(requests) / float(elapsed)


async def aiohttp_load(url: str, method: str, body: bytes | None, seconds: float,
                       concurrency: int) -> float:
    """Requests per second that ``concurrency`` keep-alive aiohttp clients sustain."""
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    done = 0
    errors = 0
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < stop:
                async with session.request(method, url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                done += 1
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{errors} of {done} requests to {url} failed")
    return done / elapsed


def measure(url: str, method: str, body: bytes | None, seconds: float, concurrency: int) -> float:
    if shutil.which("wrk"):
        return wrk_load(url, method, body, seconds, concurrency)
    return asyncio.run(aiohttp_load(url, method, body, seconds, concurrency))


def http_bench(seconds: float, concurrency: int, rounds: int) -> dict:
    submit_body = json.dumps({"model": "suno-v4.5", "prompt": "a cheerful summer pop song"}).encode()
    bare, bare_port = start_bare()
    sim, sim_port = start_sim()
    try:
        created = asyncio.run(_submit_once(sim_port, submit_body))
        results = {}
        for name, method, path, body in (
                ("poll", "GET", f"/evolink/v1/tasks/{created}", None),
                ("submit", "POST", "/evolink/v1/audios/generations", submit_body)):
            # Alternate the two servers a few times and keep medians, so a noisy
            # neighbour on a shared machine cannot favour either side.
            bare_runs, sim_runs = [], []
            for _ in range(rounds):
                bare_runs.append(measure(f"http://127.0.0.1:{bare_port}{path}", method, body,
                                         seconds, concurrency))
                sim_runs.append(measure(f"http://127.0.0.1:{sim_port}{path}", method, body,
                                        seconds, concurrency))
            bare_rps, sim_rps = statistics.median(bare_runs), statistics.median(sim_runs)
            # Each round's own ratio too: their spread is the noise a single figure hides.
            ratios = [s / b for b, s in zip(bare_runs, sim_runs)]
            results[name] = {"bare_rps": round(bare_rps), "sim_rps": round(sim_rps),
                             "ratio": round(sim_rps / bare_rps, 3),
                             "round_ratios": [round(min(ratios), 3), round(max(ratios), 3)]}
        return results
    finally:
        for proc in (bare, sim):
            proc.terminate()
            proc.wait(10)


async def _submit_once(port: int, body: bytes) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{port}/evolink/v1/audios/generations", data=body,
                                headers={"Authorization": f"Bearer {KEY}",
                                         "Content-Type": "application/json"}) as response:
            return (await response.json())["id"]


SCHEDULER_PROBE = """
import asyncio, json, resource, sys, time
sys.path.insert(0, %r)
from simulator.core.engine import Engine
from simulator.core.lifecycle import PROFILES

async def main(count, speed, window):
    engine = Engine(seed=1, clock_mode="manual", default_credits=1e12)
    await engine.start()
    spec = engine.compose("a cheerful summer pop song")
    song_seconds = PROFILES["song"].finish
    rate = count / song_seconds  # arrivals per simulated second that keep `count` in flight
    submitted = 0

    async def submit(n):
        nonlocal submitted
        for _ in range(n):
            # A callback URL makes each event of the task fire on time, the scheduler's
            # worst case (no dialect is loaded, so nothing is sent).
            await engine.submit("evolink", engine.demo_key, "song", task_id=f"t{submitted}",
                                params={}, cost=24, clips=[spec, spec],
                                callback_url="https://receiver.invalid/hook")
            submitted += 1

    # Warm-up on the frozen clock: arrivals spread over one song's length, so every
    # stage of the lifecycle is populated when the measured window opens.
    started = time.perf_counter()
    steps = 200
    for _ in range(steps):
        await submit(int(count / steps))
        await engine.advance(song_seconds / steps)
    warmup = time.perf_counter() - started
    in_flight = sum(1 for t in await engine.tasks() if not t.terminal)

    # Measured window: time runs at `speed`, arrivals continue at the steady-state rate.
    engine.scheduler.record_lateness = True
    engine.set_clock("scaled", speed)
    tick, owed = 0.01, 0.0
    end = time.perf_counter() + window
    while time.perf_counter() < end:
        owed += rate * speed * tick
        await submit(int(owed))
        owed -= int(owed)
        await asyncio.sleep(tick)
    engine.scheduler.record_lateness = False
    in_flight_end = sum(1 for t in await engine.tasks() if not t.terminal)
    late = sorted(engine.scheduler.lateness)
    p = lambda q: late[min(len(late) - 1, int(q * len(late)))] * 1000
    print(json.dumps({"tasks": submitted, "warmup_seconds": round(warmup, 1),
                      "in_flight": [in_flight, in_flight_end], "transitions": len(late),
                      "speed": speed, "window": window,
                      "lateness_ms": {"p50": round(p(0.50), 2), "p99": round(p(0.99), 2),
                                      "max": round(late[-1] * 1000, 2)},
                      "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))

asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])))
""" % (str(ROOT),)


def scheduler_bench(count: int, speed: float, window: float) -> dict:
    out = subprocess.run([sys.executable, "-c", SCHEDULER_PROBE, str(count), str(speed), str(window)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="load duration per measurement")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per server (median kept)")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--speed", type=float, default=1.0,
                        help="clock speed during the measured window (1 = realtime)")
    parser.add_argument("--window", type=float, default=10.0, help="wall seconds measured")
    parser.add_argument("--skip-http", action="store_true", help="only the scheduler bench")
    parser.add_argument("--skip-scheduler", action="store_true", help="only the HTTP bench")
    args = parser.parse_args()

    print(f"musicsim bench on {os.cpu_count()} cores, python {sys.version.split()[0]}")
    if not args.skip_http:
        client = "wrk" if shutil.which("wrk") else "aiohttp (install wrk for a client that is never the bottleneck)"
        print(f"load client: {client}, {args.concurrency} connections, {args.seconds:g} s per run, "
              f"median of {args.rounds} alternating runs ('rounds': the lowest and highest "
              f"ratio of a single round)")
        http = http_bench(args.seconds, args.concurrency, args.rounds)
        print(f"{'':8}{'bare rps':>10}{'sim rps':>10}{'ratio':>8}{'rounds':>14}   target")
        for name, target in (("poll", 0.6), ("submit", 0.4)):
            row = http[name]
            low, high = row["round_ratios"]
            print(f"{name:8}{row['bare_rps']:>10}{row['sim_rps']:>10}{row['ratio']:>8}"
                  f"{f'{low:.3f}-{high:.3f}':>14}   >= {target}")
    if args.skip_scheduler:
        return
    sched = scheduler_bench(args.tasks, args.speed, args.window)
    print(f"scheduler: {sched['in_flight'][0]} tasks in flight ({sched['in_flight'][1]} at the end), "
          f"{sched['transitions']} transitions in {sched['window']} s at speed {sched['speed']}; "
          f"lateness p50 {sched['lateness_ms']['p50']} ms, "
          f"p99 {sched['lateness_ms']['p99']} ms (target < 50), max {sched['lateness_ms']['max']} ms; "
          f"max RSS {sched['max_rss_mb']} MB (target < 600)")


if __name__ == "__main__":
    main()
