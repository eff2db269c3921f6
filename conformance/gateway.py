"""``musicsim conformance gateway``: the catalog against any server speaking a dialect."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from rich.console import Console

from simulator.openapi import load_spec

from . import report
from .case import Result
from .context import Admin, Budget, Run
from .dialects import catalog, driver
from .receiver import Receiver

SECOND_KEY_CREDITS = 1_000_000


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
    poll_every: float = 2.0
    callback_wait: float = 60.0
    concurrency: int = 4
    receiver_host: str = "127.0.0.1"
    webhook_secret: str | None = None


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


async def check(options: GatewayCheck, on_start=None, on_result=None) -> list[Result]:
    """Run the selected cases; ``on_start(cases)`` and ``on_result(result)`` report progress."""
    cases = catalog(options.provider).select(options.cases)
    timeout = aiohttp.ClientTimeout(total=120, connect=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await _reachable(session, options.base_url)
        own = await _own_admin(session, options.base_url, options.admin_token)
        admin = (Admin(session, options.upstream_admin, options.admin_token)
                 if options.upstream_admin else own)
        second = options.second_api_key
        if second is None and own is not None:
            second = (await own.call("POST", "/accounts",
                                     {"credits": SECOND_KEY_CREDITS}))["api_key"]
        receiver = await Receiver(options.receiver_host).start()
        run = Run(options.provider, options.base_url.rstrip("/"), options.api_key,
                  driver(options.provider), session, load_spec(options.provider),
                  second_key=second, admin=admin, receiver=receiver, direct=own is not None,
                  timeout=options.timeout, poll_every=options.poll_every,
                  callback_wait=options.callback_wait, budget=Budget(options.max_credits),
                  webhook_secret=options.webhook_secret)
        if on_start is not None:
            on_start(cases)
        from .runner import run_cases
        try:
            return await run_cases(run, cases, concurrency=options.concurrency,
                                   on_result=on_result)
        finally:
            await receiver.stop()


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

    try:
        with bar:
            results = asyncio.run(check(options, started, finished))
    except Unreachable as exc:
        console.print(f"musicsim: {exc}", style="red", markup=False)
        return 2
    report.print_report(console, suite, results)
    if junit:
        report.write_junit(junit, suite, results)
    if json_path:
        report.write_json(json_path, suite, results)
    if not results:
        console.print(f"[red]no case matches {options.cases}[/red]")
        return 2
    return 0 if all(r.ok for r in results) else 1
