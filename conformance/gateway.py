"""``musicsim conformance gateway``: the catalog against any server speaking a dialect."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from rich.console import Console

from simulator.openapi import load_spec

from . import report
from .case import CaseFailed, Result
from .context import Admin, Budget, Run
from .dialects import catalog, driver
from .receiver import Receiver, receiver_ssl, trusting
from .recorder import Recorder

SECOND_KEY_CREDITS = 1_000_000
# How fast the runner runs the simulator's clock when it controls one: a song then takes
# about two seconds, and polls come as often as that pace needs.
CLOCK_SPEED = 50.0
DRIVEN_POLL_EVERY = 0.1
REAL_POLL_EVERY = 2.0
DRIVEN_CONCURRENCY, REAL_CONCURRENCY = 8, 4
LOOPBACK = ("127.", "::1", "localhost")


@dataclass
class GatewayCheck:
    provider: str
    base_url: str
    api_key: str
    cases: list[str] = field(default_factory=list)
    upstream_admin: str | None = None
    admin_token: str | None = None
    second_api_key: str | None = None
    max_credits: float | None = None
    timeout: float = 600.0
    poll_every: float | None = None  # None: as fits the clock (see CLOCK_SPEED)
    callback_wait: float = 60.0
    concurrency: int | None = None  # None: as fits the clock, like poll_every
    receiver_host: str = "127.0.0.1"
    webhook_secret: str | None = None
    # The simulator's CA (serve --tls-ca): the receiver serves HTTPS with a certificate
    # from it, and the runner trusts it for the target too.
    receiver_tls_ca: str | None = None
    # Run the controlled simulator's clock at this speed (0: leave it as it is).
    clock_speed: float = CLOCK_SPEED
    # A cassette: the run goes through a recording proxy, and drift is reported after.
    record: str | None = None


async def _own_admin(session: aiohttp.ClientSession, base_url: str,
                     token: str | None) -> Admin | None:
    """The target's own control plane, when the target is a simulator."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    admin = Admin(session, origin, token)
    try:
        async with session.get(f"{admin.url}/health", headers=admin.headers) as response:
            if response.status != 200:
                return None
            health = await response.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return None
    return admin if isinstance(health, dict) and "providers" in health else None


class Unreachable(Exception):
    """Nothing answers at the base URL: no case could say anything about it."""


async def _reachable(session: aiohttp.ClientSession, base_url: str) -> None:
    try:
        async with session.get(base_url, allow_redirects=False):
            pass
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        raise Unreachable(f"nothing answers at {base_url}: "
                          f"{exc.__class__.__name__}: {exc}") from None


def _unreachable_receiver(options: GatewayCheck) -> str | None:
    """Why the target could never post to the run's receiver, when that is plain."""
    target = urlsplit(options.base_url).hostname or ""
    if options.receiver_host.startswith(LOOPBACK) and not target.startswith(LOOPBACK):
        return (f"the runner's callback receiver listens on {options.receiver_host}, which "
                f"{target} cannot reach: give --receiver-host an address of this machine "
                f"that the target can reach")
    return None


async def _allow_receiver(admin: Admin | None, receiver: Receiver,
                          notes: list[str]) -> str | None:
    """Ask the simulator serving the tasks to let callbacks reach the receiver for this
    run (an allow-list entry, not a global switch); the entry, to remove at the end."""
    if admin is None:
        return None
    entry = receiver.url + "/"
    try:
        await admin.call("POST", "/webhooks/allowed", {"url": entry})
    except CaseFailed as exc:
        notes.append(f"callbacks: the simulator would not allow the receiver {entry} ({exc}); "
                     f"callback cases it refuses are skipped")
        return None
    notes.append(f"callbacks: the simulator at {admin.url} let the runner's receiver "
                 f"{entry} through for this run (POST /_sim/webhooks/allowed)")
    return entry


async def _drive_clock(admin: Admin | None, speed: float,
                       notes: list[str]) -> dict[str, Any] | None:
    """Run the simulator's clock at ``speed`` for the run; the clock as it was."""
    if admin is None or not speed:
        return None
    try:
        before = await admin.call("GET", "/clock")
        await admin.call("PUT", "/clock", {"mode": "scaled", "speed": speed})
    except CaseFailed as exc:
        notes.append(f"clock: left as it is ({exc})")
        return None
    notes.append(f"clock: the simulator ran at {speed:g}x real time for the run "
                 f"(it was {before['mode']}"
                 + (f", {before['speed']:g}x" if before.get("speed") else "")
                 + "; set back afterwards; --clock-speed 0 leaves it alone)")
    return before


async def _restore(admin: Admin | None, clock: dict[str, Any] | None,
                   allowed: str | None) -> None:
    if admin is None:
        return
    if clock is not None:
        mode = clock["mode"]
        await admin.call("PUT", "/clock", {"mode": mode, **(
            {"speed": clock["speed"]} if mode == "scaled" else {})})
    if allowed is not None:
        async with admin.session.delete(f"{admin.url}/webhooks/allowed",
                                        params={"url": allowed}, headers=admin.headers):
            pass


async def check(options: GatewayCheck, on_start=None, on_result=None,
                notes: list[str] | None = None,
                recording: dict[str, Any] | None = None) -> list[Result]:
    """Run the selected cases; ``on_start(cases)`` and ``on_result(result)`` report progress,
    ``notes`` collects what the run did to the simulator it controls, and ``recording``
    (with ``options.record``) the pace the recorded service ran at, for the drift."""
    notes = [] if notes is None else notes
    recording = {} if recording is None else recording
    cases = catalog(options.provider).select(options.cases)
    timeout = aiohttp.ClientTimeout(total=120, connect=15)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=trusting(options.receiver_tls_ca)) as session:
        await _reachable(session, options.base_url)
        own = await _own_admin(session, options.base_url, options.admin_token)
        admin = (Admin(session, options.upstream_admin, options.admin_token)
                 if options.upstream_admin else own)
        second = options.second_api_key
        if second is None and own is not None:
            second = (await own.call("POST", "/accounts",
                                     {"credits": SECOND_KEY_CREDITS}))["api_key"]
        receiver = await Receiver(options.receiver_host, ssl=receiver_ssl(
            options.receiver_tls_ca, options.receiver_host)).start()
        unreachable = _unreachable_receiver(options)
        allowed = None if unreachable else await _allow_receiver(admin, receiver, notes)
        clock = await _drive_clock(admin, options.clock_speed, notes)
        driven = clock is not None
        recording["speed"] = options.clock_speed if driven else 1.0
        target = options.base_url.rstrip("/")
        recorder = None
        if options.record:
            recorder = await Recorder(options.provider, target, options.record).start()
            notes.append(f"recording: every request went through {recorder.url} to {target}; "
                         f"the exchanges are in {options.record}")
            target = recorder.url
        poll_every = options.poll_every
        if poll_every is None:
            poll_every = DRIVEN_POLL_EVERY if driven else REAL_POLL_EVERY
        concurrency = options.concurrency
        if concurrency is None:
            concurrency = DRIVEN_CONCURRENCY if driven else REAL_CONCURRENCY
        run = Run(options.provider, target, options.api_key,
                  driver(options.provider), session, load_spec(options.provider),
                  second_key=second, admin=admin,
                  receiver=None if unreachable else receiver, receiver_problem=unreachable,
                  direct=own is not None, timeout=options.timeout, poll_every=poll_every,
                  callback_wait=options.callback_wait, budget=Budget(options.max_credits),
                  webhook_secret=options.webhook_secret)
        if on_start is not None:
            on_start(cases)
        from .runner import run_cases
        try:
            return await run_cases(run, cases, concurrency=concurrency,
                                   on_result=on_result)
        finally:
            await _restore(admin, clock, allowed)
            await receiver.stop()
            if recorder is not None:
                await recorder.stop()


def main(options: GatewayCheck, junit: str | None, json_path: str | None,
         console: Console | None = None) -> int:
    console = console or Console(stderr=False)
    suite = f"musicsim conformance {options.provider}"
    bar = report.progress(console)
    handle = {}

    def started(cases) -> None:
        handle["task"] = bar.add_task(f"{options.provider}", total=len(cases), last="")

    def finished(result: Result) -> None:
        bar.update(handle["task"], advance=1, last=f"{result.case.id}: {result.outcome}")

    notes: list[str] = []
    recording: dict[str, Any] = {}
    try:
        with bar:
            results = asyncio.run(check(options, started, finished, notes, recording))
    except Unreachable as exc:
        console.print(f"musicsim: {exc}", style="red", markup=False)
        return 2
    for note in notes:
        console.print(note, style="dim", markup=False)
    report.print_report(console, suite, results)
    if junit:
        report.write_junit(junit, suite, results)
    if json_path:
        report.write_json(json_path, suite, results, notes)
    if not results:
        console.print(f"[red]no case matches {options.cases}[/red]")
        return 2
    if options.record:
        _report_drift(console, options.record, recording.get("speed", 1.0))
    return 0 if all(r.ok for r in results) else 1


def _report_drift(console: Console, cassette: str, speed: float) -> None:
    """The recording held against the dialect: the run's second report. Its differences
    are the service's, not the cases', so they leave the exit status alone."""
    from simulator.cassette import read

    from .drift import analyze, report as drift_report

    analysis = asyncio.run(analyze(read(cassette), speed=speed))
    drift_report.print_report(console, analysis)
    console.print(f"drift: the same run's exchanges are in {cassette}; "
                  f"musicsim drift {cassette} --speed {speed:g} --suggest reports them again",
                  markup=False)
