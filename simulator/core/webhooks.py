"""Callback delivery: address rules, attempts with a timeout, retries with backoff.

Retries wait on the scheduler, in simulated time, so a manual-clock test decides when a
retry happens; each attempt itself is a real HTTP POST with a wall-clock timeout.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .clock import Clock
from .scheduler import Scheduler

log = logging.getLogger(__name__)

_INTERNAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


class CallbackRejected(ValueError):
    """A callback address the dialect's rules do not accept; the message says why."""


def check_callback_url(url: str, *, https_only: bool, allow_internal: bool,
                       max_length: int = 2048) -> None:
    if len(url) > max_length:
        raise CallbackRejected(f"callback_url must not exceed {max_length} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRejected("callback_url must be an absolute http(s) URL")
    if https_only and parts.scheme != "https":
        raise CallbackRejected("callback_url must use HTTPS")
    if allow_internal:
        return
    host = parts.hostname.lower().rstrip(".")
    if host in _INTERNAL_NAMES or host.endswith(_INTERNAL_SUFFIXES) or "." not in host and ":" not in host:
        raise CallbackRejected("callback_url must not point to an internal address")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not address.is_global:
        raise CallbackRejected("callback_url must not point to an internal address")


@dataclass(frozen=True)
class Policy:
    timeout: float = 10.0          # wall seconds per attempt
    retries: int = 3               # attempts after the first
    backoff: tuple[float, ...] = (5.0, 15.0, 45.0)  # simulated seconds before retry n


@dataclass
class Delivery:
    id: int
    url: str
    body: bytes
    headers: dict[str, str]
    policy: Policy
    ref: dict[str, Any]
    attempts: list[dict[str, Any]] = field(default_factory=list)


class Webhooks:
    def __init__(self, scheduler: Scheduler, clock: Clock):
        self.scheduler, self.clock = scheduler, clock
        self._pending: dict[int, Delivery] = {}
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._inflight: set[asyncio.Task] = set()
        scheduler.on("webhook", self._due)

    def send(self, url: str, body: bytes, policy: Policy, headers: dict[str, str] | None = None,
             **ref: Any) -> Delivery:
        delivery = Delivery(next(self._ids), url, body,
                            {"Content-Type": "application/json", **(headers or {})}, policy, ref)
        self._pending[delivery.id] = delivery
        self._launch(delivery)
        return delivery

    def _due(self, delivery_id: int, _due: float) -> None:
        delivery = self._pending.get(delivery_id)
        if delivery is not None:
            self._launch(delivery)

    def _launch(self, delivery: Delivery) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._attempt(delivery))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _attempt(self, delivery: Delivery) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        number = len(delivery.attempts) + 1
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            async with self._session.post(
                    delivery.url, data=delivery.body, headers=delivery.headers,
                    timeout=aiohttp.ClientTimeout(total=delivery.policy.timeout)) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            error = type(exc).__name__ + (f": {exc}" if str(exc) else "")
        ok = status is not None and 200 <= status < 300
        delivery.attempts.append({
            "attempt": number, "time": self.clock.now(), "status": status, "error": error,
            "latency_ms": round((time.monotonic() - started) * 1000, 3)})
        if ok or number > delivery.policy.retries:
            self._pending.pop(delivery.id, None)
            return
        backoff = delivery.policy.backoff
        wait = backoff[min(number - 1, len(backoff) - 1)] if backoff else 0.0
        self.scheduler.at(self.clock.now() + wait, "webhook", delivery.id)

    async def close(self) -> None:
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*list(self._inflight), return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def reset(self) -> None:
        self._pending.clear()
