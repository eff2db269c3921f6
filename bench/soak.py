"""musicsim soak: does the server's memory stay bounded under a long run? One million
mixed requests across the five dialects against `musicsim serve --max-tasks 10000`,
printing the server's RSS at start, after warm-up, at its peak and at the end. Prints
figures and a verdict line; asserts nothing (it exits non-zero only when the server
dies).

The simulator runs as `musicsim serve --max-tasks N --clock fast --speed 1000`: at that
speed a song finishes in about a tenth of a wall second, so nearly every task submitted
is soon a finished one, the kind the cap lets go. Through the control plane the bench
makes one key with credits for every submit and no rate limit in any dialect. Then
`--concurrency` aiohttp clients over one keep-alive connector send `--requests`
requests, round-robin across evolink, acedata, openaihk, sunor and orux; per dialect one
submit of a song (the smallest valid body) for every four polls of one of its last 1024
tasks, and every twentieth request a poll of one of its first 64 tasks instead
("poll-old": once the cap is full these are let go, and must answer 404 as an unknown
id does). A 404 on a poll is expected (a task the cap let go, or results past their
retention: evolink's 72 h and orux's 24 h are 4.3 and 1.4 wall minutes at this speed);
any other answer outside 2xx is printed with its request, and 5xx are counted apart.

The server's VmRSS (and VmHWM, the peak) is read from /proc every second. The baseline
is the same run's RSS after warm-up: once 10 % of the requests are done and 2N tasks
were made (the cap filled, then turned over once), whichever comes later; 2N is 10 % of
the default run. The verdict is "flat" when the end RSS is at most 10 % above it. A line
every 10 % of the requests shows the curve: RSS, tasks kept, requests per second in that
stretch. Figures for the whole run: requests per second, statuses per dialect, tasks
kept (at most N + those unfinished), the ledger's and journal's sizes, and the growth
from warm-up to the end, in MB, in % and as a trend per 100,000 requests.

    make soak                  # or: .venv/bin/python bench/soak.py [--requests 1000000]
    .venv/bin/python bench/soak.py --requests 200000  # shorter: warm at half of it
    .venv/bin/python bench/soak.py --requests 20000   # a smoke test (the cap is not reached)
    .venv/bin/python bench/soak.py --requests 200000 --no-cap  # the same, uncapped
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-musicsim-soak"  # made through the control plane: no rate limit, ample credits
DIALECTS = ("evolink", "acedata", "openaihk", "sunor", "orux")
POLLS_PER_SUBMIT = 4
RECENT = 1024  # polls pick among each dialect's last this many tasks
OLDEST = 64  # ... and one poll in OLD_EVERY / POLLS_PER_SUBMIT among its first this many
OLD_EVERY = 20  # (gone once the cap is full: they check a let-go task answers 404)
FLAT = 1.10  # end RSS at most this times the warm-up RSS reads "flat"
JSON = {"Content-Type": "application/json"}
BEARER = {"Authorization": f"Bearer {KEY}"}


def body(value: object) -> bytes:
    return orjson.dumps(value)


# Per dialect: the submit (method, path, body, headers), how to read the poll target out
# of its answer, and the poll made of that target. Bodies are the smallest each dialect's
# tests send for one song.
@dataclass(frozen=True)
class Dialect:
    name: str
    submit_path: str
    submit_body: bytes
    headers: dict
    created: object  # answer -> poll target (a task id, or openaihk's clip ids)
    poll: object  # target -> (method, path, body)


def _openaihk_clips(answer: dict) -> str:
    return ",".join(clip["id"] for clip in answer["clips"])


SPECS = {
    "evolink": Dialect(
        "evolink", "/v1/audios/generations", body({"model": "suno-v4.5", "prompt": "a soak song"}),
        {**BEARER, **JSON}, lambda a: a["id"], lambda t: ("GET", f"/v1/tasks/{t}", None)),
    "acedata": Dialect(
        "acedata", "/suno/audios",
        body({"action": "generate", "prompt": "a soak song", "async": True}),
        {**BEARER, **JSON}, lambda a: a["task_id"],
        lambda t: ("POST", "/suno/tasks", body({"action": "retrieve", "id": t}))),
    "openaihk": Dialect(
        "openaihk", "/sunoapi/generate", body({"gpt_description_prompt": "a soak song"}),
        {**BEARER, **JSON}, _openaihk_clips, lambda t: ("GET", f"/sunoapi/feed/{t}", None)),
    "sunor": Dialect(
        "sunor", "/api/v1/task",
        body({"model": "suno", "task_type": "music",
              "input": {"gpt_description_prompt": "a soak song"}}),
        {"x-api-key": KEY, **JSON}, lambda a: a["data"]["task_id"],
        lambda t: ("GET", f"/api/v1/task/{t}", None)),
    "orux": Dialect(
        "orux", "/api/v1/tasks", body({"model": "suno-v5", "prompt": "a soak song"}),
        {**BEARER, **JSON}, lambda a: a["task_id"], lambda t: ("GET", f"/api/v1/tasks/{t}", None)),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(proc: subprocess.Popen, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"musicsim serve exited with status {proc.returncode} at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"musicsim serve on {port} did not start")


def serve_command(args: argparse.Namespace, port: int) -> list[str]:
    command = [sys.executable, "-m", "simulator.cli", "serve", "--port", str(port),
               "--clock", "fast", "--speed", f"{args.speed:g}", "--log-level", "warning"]
    if not args.no_cap:
        command += ["--max-tasks", str(args.max_tasks)]
    return command


def rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of the process, in kB."""
    found = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                found[name] = int(value.split()[0])
    return found["VmRSS"], found["VmHWM"]


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


@dataclass
class Load:
    total: int
    issued: int = 0
    done: int = 0
    statuses: collections.Counter = field(default_factory=collections.Counter)
    # (dialect, op, method, path, body, status, text), the first 20
    unexpected: list = field(default_factory=list)
    unexpected_count: int = 0
    submitted: int = 0  # submits answered 2xx: each made one task
    errors: collections.Counter = field(default_factory=collections.Counter)
    error_examples: list = field(default_factory=list)
    recent: dict = field(default_factory=lambda: {d: collections.deque(maxlen=RECENT)
                                                   for d in DIALECTS})
    oldest: dict = field(default_factory=lambda: {d: [] for d in DIALECTS})


async def worker(session: aiohttp.ClientSession, base: str, load: Load, rng: random.Random,
                 server: subprocess.Popen) -> None:
    while load.issued < load.total:
        i = load.issued
        load.issued += 1
        name = DIALECTS[i % len(DIALECTS)]
        dialect = SPECS[name]
        known, oldest = load.recent[name], load.oldest[name]
        turn = i // len(DIALECTS)  # this dialect's turn-th request
        if turn % (POLLS_PER_SUBMIT + 1) == 0 or not known:
            op, method, path, sent = "submit", "POST", dialect.submit_path, dialect.submit_body
        elif turn % OLD_EVERY == OLD_EVERY - 1 and len(oldest) == OLDEST:
            op = "poll-old"
            method, path, sent = dialect.poll(oldest[rng.randrange(OLDEST)])
        else:
            op = "poll"
            method, path, sent = dialect.poll(known[rng.randrange(len(known))])
        try:
            async with session.request(method, f"{base}/{name}{path}", data=sent,
                                       headers=dialect.headers) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            load.errors[type(exc).__name__] += 1
            if len(load.error_examples) < 5:
                load.error_examples.append(f"{method} /{name}{path}: {exc!r}")
            if server.poll() is not None:
                raise RuntimeError(f"musicsim serve died (status {server.returncode})") from exc
            load.done += 1
            continue
        load.done += 1
        load.statuses[(name, op, status)] += 1
        if 200 <= status < 300:
            if op == "submit":
                load.submitted += 1
                target = dialect.created(orjson.loads(raw))
                known.append(target)
                if len(oldest) < OLDEST:
                    oldest.append(target)
        elif not (op != "submit" and status == 404):
            load.unexpected_count += 1
            if len(load.unexpected) < 20:
                load.unexpected.append((name, op, method, path, sent, status, raw[:400]))


async def admin_count(session: aiohttp.ClientSession, base: str, status: str | None = None,
                      what: str = "tasks") -> int:
    """The `count` of a control-plane list (tasks, ledger, journal): all pages together."""
    query = "?limit=1" + (f"&status={status}" if status else "")
    if what == "ledger":
        query += f"&api_key={KEY}"
    async with session.get(f"{base}/_sim/{what}{query}") as response:
        response.raise_for_status()
        return (await response.json(loads=orjson.loads))["count"]


async def prepare(session: aiohttp.ClientSession, base: str) -> None:
    async with session.post(f"{base}/_sim/accounts",
                            json={"api_key": KEY, "credits": 1e12}) as made:
        assert made.status == 201, await made.text()
    for name in DIALECTS:
        async with session.put(f"{base}/_sim/rate-limits/{name}",
                               json={"api_key": KEY, "rate": 0}) as limit:
            assert limit.status == 200, await limit.text()


async def soak(args: argparse.Namespace, server: subprocess.Popen, port: int) -> int:
    base = f"http://127.0.0.1:{port}"
    pid = server.pid
    cap = None if args.no_cap else args.max_tasks
    samples: list[tuple[float, int, int, int]] = []  # (wall s, requests done, rss kB, hwm kB)
    load = Load(args.requests)

    async with aiohttp.ClientSession() as admin:
        await prepare(admin, base)
        await asyncio.sleep(1.0)  # let the start settle: imports, the first allocations
        start_rss, start_hwm = rss_kb(pid)
        print(f"RSS at start (after startup, before load): {mb(start_rss)} "
              f"(peak so far {mb(start_hwm)})")

        started = time.perf_counter()

        async def sampler() -> None:
            while True:
                try:
                    rss, hwm = rss_kb(pid)
                except (FileNotFoundError, ProcessLookupError, KeyError):
                    return
                samples.append((time.perf_counter() - started, load.done, rss, hwm))
                await asyncio.sleep(1.0)

        sampling = asyncio.create_task(sampler())
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        timeout = aiohttp.ClientTimeout(total=120)
        rng = random.Random(1)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                         skip_auto_headers=("User-Agent",)) as session:
            workers = asyncio.gather(*(worker(session, base, load, rng, server)
                                       for _ in range(args.concurrency)))
            warm_at = None  # (requests done, wall s, rss kB)
            step = max(1, args.requests // 100)
            next_mark = step
            last_decile = (0, 0.0)
            print(f"{'done':>6} {'requests':>10} {'wall s':>8} {'req/s':>7} {'RSS':>10} "
                  f"{'peak':>10} {'tasks kept':>11}")
            while not workers.done():
                await asyncio.wait([workers], timeout=0.05)
                if server.poll() is not None:
                    break
                try:
                    while load.done >= next_mark and next_mark <= args.requests:
                        mark, next_mark = next_mark, next_mark + step
                        percent = round(100 * mark / args.requests)
                        now = time.perf_counter() - started
                        # Warm once the cap has filled and turned over once: as many tasks
                        # made as it keeps, twice (each accepted submit makes one; counted
                        # here, since the control plane's count reads every task and would
                        # weigh on the load if asked often). Only then has the store let go
                        # as many as it keeps, and the allocator reused what they held.
                        if warm_at is None and percent >= 10 and (cap is None
                                                                  or load.submitted >= 2 * cap):
                            warm_at = (load.done, now, rss_kb(pid)[0])
                            held = await admin_count(admin, base)
                            print(f"  warm-up over at {warm_at[0]} requests ({now:.0f} s, "
                                  f"{held} tasks kept): RSS {mb(warm_at[2])} <- the baseline")
                        if percent % 10 == 0:
                            counted = await admin_count(admin, base)
                            rss, hwm = rss_kb(pid)
                            rate = (load.done - last_decile[0]) / max(now - last_decile[1], 1e-9)
                            last_decile = (load.done, now)
                            print(f"{percent:>5}% {load.done:>10} {now:>8.1f} {rate:>7.0f} "
                                  f"{mb(rss):>10} {mb(hwm):>10} {counted:>11}", flush=True)
                except (aiohttp.ClientError, OSError, KeyError):
                    if server.poll() is None:
                        raise
                    break  # the server died: reported below
            crashed = server.poll() is not None
            if crashed:
                workers.cancel()
            try:
                await workers
            except (asyncio.CancelledError, RuntimeError):
                crashed = True
        elapsed = time.perf_counter() - started
        sampling.cancel()
        if crashed:
            print(f"\nCRASH: musicsim serve exited with status {server.returncode} after "
                  f"{load.done} requests ({elapsed:.0f} s)")
            return 1
        end_rss, end_hwm = rss_kb(pid)
        # Unfinished first, then all: with no new submits the unfinished only fall, so the
        # bound kept <= cap + unfinished holds between the two reads. Then again once every
        # task has had time to finish (a song is ~0.1 s of wall time at --speed 1000).
        unfinished = (await admin_count(admin, base, "running")
                      + await admin_count(admin, base, "queued"))
        kept = await admin_count(admin, base)
        await asyncio.sleep(max(2.0, 300 / args.speed))
        unfinished_later = (await admin_count(admin, base, "running")
                            + await admin_count(admin, base, "queued"))
        kept_later = await admin_count(admin, base)
        sizes = {"ledger entries of the key": await admin_count(admin, base, what="ledger"),
                 "journal entries": await admin_count(admin, base, what="journal")}
        idle_rss, _ = rss_kb(pid)

    settle = max(2.0, 300 / args.speed)
    held = []
    for label, (k, u) in (("at the end of the load", (kept, unfinished)),
                          (f"{settle:g} s later", (kept_later, unfinished_later))):
        if cap is None:
            held.append(f"tasks kept {label}: {k} (no cap)")
        else:
            verdict = "within" if k <= cap + u else "OVER"
            held.append(f"tasks kept {label}: {k} ({verdict} the bound {cap} + {u} unfinished)")
    held.append(f"tasks submitted: {load.submitted}; "
                + ", ".join(f"{name}: {n}" for name, n in sizes.items())
                + f"; RSS after {settle:g} s idle: {mb(idle_rss)}")
    report(args, load, samples, start_rss, warm_at, end_rss, end_hwm, elapsed, cap, held)
    return 0


def slope_mb_per_100k(samples: list[tuple[float, int, int, int]], after: int) -> float | None:
    """Least-squares growth of RSS against requests done, after warm-up."""
    points = [(done, rss) for _, done, rss, _ in samples if done >= after]
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if not sxx:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return sxy / sxx * 100_000 / 1024


def report(args, load: Load, samples, start_rss: int, warm_at, end_rss: int, end_hwm: int,
           elapsed: float, cap: int | None, held: list[str]) -> None:
    print()
    print(f"{load.done} requests in {elapsed:.1f} s: {load.done / elapsed:.0f} req/s "
          f"({args.concurrency} connections)")
    by_op = collections.Counter()
    for (name, op, status), n in load.statuses.items():
        by_op[(op, status)] += n
    def counts(rows: dict) -> str:
        return ", ".join(f"{op} {status}: {n}" for (op, status), n in sorted(rows.items()))

    print("statuses: " + counts(by_op))
    for name in DIALECTS:
        print(f"  {name:<9} " + counts({(op, status): n for (d, op, status), n
                                         in load.statuses.items() if d == name}))
    if load.errors:
        print(f"connection errors: {dict(load.errors)}; e.g. {load.error_examples}")
    if load.unexpected_count:
        print(f"UNEXPECTED answers (not 2xx, nor a poll's 404): {load.unexpected_count}; "
              "the first:")
        for name, op, method, path, sent, status, text in load.unexpected:
            print(f"  {status} {method} /{name}{path} {sent.decode() if sent else ''} -> "
                  f"{text.decode(errors='replace')}")
    fives = sum(n for (_, _, status), n in load.statuses.items() if status >= 500)
    print(f"5xx answers: {fives}")

    print()
    for line in held:
        print(line)
    peak_after = max((rss for _, done, rss, _ in samples if warm_at and done >= warm_at[0]),
                     default=None)
    peak = max([end_hwm, *(rss for _, _, rss, _ in samples)])
    print(f"RSS start {mb(start_rss)}, end {mb(end_rss)}, peak {mb(peak)} (VmHWM, over the "
          f"whole run)" + (f"; peak after warm-up {mb(peak_after)} (of the 1 s samples)"
                           if peak_after else ""))
    if warm_at is None:
        print(f"warm-up never ended (fewer than 2 x {cap} tasks made): no verdict; "
              f"run well over {2 * cap * (POLLS_PER_SUBMIT + 1)} requests")
        return
    warm_rss = warm_at[2]
    growth = end_rss - warm_rss
    print(f"RSS after warm-up ({warm_at[0]} requests, {warm_at[1]:.0f} s): {mb(warm_rss)}; "
          f"end vs warm-up: {growth / 1024:+.1f} MB ({100 * growth / warm_rss:+.1f} %)")
    slope = slope_mb_per_100k(samples, warm_at[0])
    if slope is not None:
        print(f"trend after warm-up (least squares over the 1 s samples): "
              f"{slope:+.2f} MB per 100,000 requests")
    flat = end_rss <= warm_rss * FLAT
    print(f"verdict: {'flat' if flat else 'GROWING'} (flat means end RSS <= warm-up RSS x "
          f"{FLAT:.2f}: {mb(end_rss)} vs {mb(warm_rss * FLAT)})"
          + ("" if cap is not None else "; measured without --max-tasks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000, help="requests in all")
    parser.add_argument("--concurrency", type=int, default=64, help="client connections")
    parser.add_argument("--max-tasks", type=int, default=10_000,
                        help="the server's --max-tasks (finished tasks it keeps)")
    parser.add_argument("--speed", type=float, default=1000.0,
                        help="the server's clock speed (x real time)")
    parser.add_argument("--no-cap", action="store_true",
                        help="serve without --max-tasks: what the cap saves, for comparison")
    args = parser.parse_args()
    if args.requests < 100:
        parser.error("--requests must be at least 100")

    print("reproduce: " + shlex.join([".venv/bin/python", "bench/soak.py", *sys.argv[1:]]))
    port = free_port()
    command = serve_command(args, port)
    print(f"musicsim soak on {os.cpu_count()} cores, python {sys.version.split()[0]}: "
          f"{args.requests} requests, {args.concurrency} connections, round-robin over "
          f"{len(DIALECTS)} dialects, 1 submit : {POLLS_PER_SUBMIT} polls each")
    print("server: " + shlex.join(["musicsim", *command[3:]]), flush=True)
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT)
        try:
            try:
                wait_ready(server, port)
            except RuntimeError as exc:
                log.seek(0)
                sys.exit(f"soak: {exc}\n{log.read().decode(errors='replace')[-2000:]}")
            code = asyncio.run(soak(args, server, port))
        finally:
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
        log.seek(0)
        lines = log.read().decode(errors="replace").splitlines()
    if lines:
        print(f"server log: {len(lines)} lines at --log-level warning; the last:")
        for line in lines[-10:]:
            print("  " + line)
    sys.exit(code)


if __name__ == "__main__":
    main()
