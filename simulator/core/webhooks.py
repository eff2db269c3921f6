"""Callback delivery: address rules, signatures, attempts with a timeout, retries with
backoff, and a record of every attempt.

Retries wait on the scheduler, in simulated time, so a manual-clock test decides when a
retry happens; each attempt itself is a real HTTP POST with a wall-clock timeout. On a
store that outlives the process, deliveries wait in its queue instead (an
:class:`Outbox`), where any process claims them when due and a crash loses none.

Every attempt carries ``X-Musicsim-Delivery``: the delivery's id, the same on its
retries and duplicates, and on a delivery made again after a crash, so a receiver can
drop what it already had.

A URL's text is checked at submit (:func:`check_callback_url`); where a delivery really
goes is checked as it is made, on the addresses the connector dials (see addresses.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import itertools
import logging
import ssl
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver

from .addresses import (Refused, ScreeningResolver, forbidden, judge, literal,
                        loopback_name, noncanonical_ipv4)
from .clock import Clock
from .faults import Faults
from .scheduler import Scheduler

log = logging.getLogger(__name__)

# Suffixes of names inside a network, besides this machine's own (addresses.loopback_name).
_INTERNAL_SUFFIXES = (".local", ".internal", ".lan", ".home.arpa")


class CallbackRejected(ValueError):
    """A callback address the dialect's rules do not accept; the message says why."""


def check_callback_url(url: str, *, https_only: bool, allow_internal: bool,
                       max_length: int = 2048, name: str = "callback_url") -> None:
    if len(url) > max_length:
        raise CallbackRejected(f"{name} must not exceed {max_length} characters")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        raise CallbackRejected(f"{name} must be an absolute http(s) URL") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise CallbackRejected(f"{name} must be an absolute http(s) URL")
    if https_only and parts.scheme != "https":
        raise CallbackRejected(f"{name} must use HTTPS")
    # Whatever else is allowed: such a spelling is never what a user means, and resolvers
    # disagree on where it leads.
    if noncanonical_ipv4(hostname):
        raise CallbackRejected(f"{name} host must be a canonical dotted-quad IPv4 address "
                               "or a name")
    if allow_internal:
        return
    host = hostname.lower().rstrip(".")
    internal = CallbackRejected(f"{name} must not point to an internal address")
    if loopback_name(host) or host.endswith(_INTERNAL_SUFFIXES) \
            or "." not in host and ":" not in host:
        raise internal
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if forbidden(address) is not None:
        raise internal


class Allowed:
    """Callback URLs let through whatever the address rules say: a test's own receiver
    on loopback, named through the control plane for one run, instead of a switch that
    opens every internal address (``--allow-local-callbacks``).

    An entry is a URL prefix: it lets through itself and every URL below it (an entry
    ending in ``/hooks/`` lets through ``/hooks/anything``, not ``/hooksmith``).
    """

    def __init__(self) -> None:
        self._prefixes: list[str] = []

    def add(self, url: str) -> list[str]:
        check_callback_url(url, https_only=False, allow_internal=True, name="url")
        if url not in self._prefixes:
            self._prefixes.append(url)
        return self.list()

    def remove(self, url: str | None = None) -> list[str]:
        """Forget one entry, or all of them."""
        self._prefixes = [] if url is None else [p for p in self._prefixes if p != url]
        return self.list()

    def load(self, prefixes: list[str]) -> None:
        """The entries a store kept (see core/durable.py), in place of these."""
        self._prefixes = list(prefixes)

    def list(self) -> list[str]:
        return list(self._prefixes)

    def __contains__(self, url: str) -> bool:
        return any(url == prefix or url.startswith(prefix if prefix.endswith("/")
                                                   else prefix + "/")
                   for prefix in self._prefixes)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over ``"{timestamp}." + body``, hex: binding the time into what is
    signed is what lets a receiver refuse a replayed delivery."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body,
                    hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, timestamp: str | None, given: str | None, *,
           tolerance: float = 300.0, now: float | None = None) -> bool:
    """Whether a delivery is genuine and fresh: what a receiver should check."""
    if not timestamp or not given or not timestamp.isdigit():
        return False
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance:
        return False
    expected = signature(secret, int(timestamp), body)
    return hmac.compare_digest(expected, given.removeprefix("sha256="))


@dataclass(frozen=True)
class Signer:
    """How a dialect signs its deliveries: the headers that carry the time and the
    signature. Each attempt is signed afresh, with the wall-clock time it is sent at, so
    a receiver can compare it with its own clock whatever the simulated clock says."""

    secret: str
    timestamp_header: str
    signature_header: str

    def headers(self, body: bytes) -> dict[str, str]:
        stamp = int(time.time())
        return {self.timestamp_header: str(stamp),
                self.signature_header: "sha256=" + signature(self.secret, stamp, body)}


@dataclass(frozen=True)
class Policy:
    timeout: float = 10.0          # wall seconds per attempt
    retries: int = 3               # attempts after the first
    backoff: tuple[float, ...] = (5.0, 15.0, 45.0)  # simulated seconds before retry n


# The header that names the delivery an attempt belongs to.
DELIVERY_HEADER = "X-Musicsim-Delivery"


def delivery_id(task_id: str, version: int, stage: str) -> int:
    """A delivery's id, from what it is about: made again after a crash, it is the same."""
    digest = hashlib.sha256(f"{task_id}\n{version}\n{stage}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


@dataclass
class Delivery:
    id: int
    url: str
    body: bytes
    headers: dict[str, str]
    policy: Policy
    provider: str | None
    task_id: str | None
    api_key: str | None
    stage: str | None
    signer: Signer | None = None
    tried: int = 0  # attempts made, duplicates not counted
    held_by: list[str] = field(default_factory=list)  # the delay rules that held it back


class Outbox(Protocol):
    """Where deliveries wait on a store that outlives the process (see core/durable.py)."""

    async def hold(self, delivery: Delivery, due: float) -> None:
        """Queued, and held by this process, which attempts it now."""

    async def queue(self, delivery: Delivery, due: float) -> None:
        """Due again at ``due``, for whichever process claims it."""

    async def done(self, delivery: Delivery) -> None: ...

    def record(self, attempt: dict[str, Any]) -> None:
        """Keep an attempt in the record every process shares."""


class Webhooks:
    """The one delivery service: every dialect's callbacks go out, are retried and are
    recorded here, and fault rules with ``target: webhook`` act on them.

    A delivery reaches internal addresses (loopback, private, link-local, …) only with
    ``allow_local`` or when its URL is in ``allowed``; otherwise the addresses its host
    leads to are judged as they are dialled, and a refused delivery connects nothing.
    ``resolver`` looks host names up (None: the system's resolver); a test sets it, before
    the first delivery or after, to lead made-up names wherever it likes.
    """

    def __init__(self, scheduler: Scheduler, clock: Clock, faults: Faults,
                 max_attempts: int = 10_000, *, allowed: Allowed | None = None,
                 allow_local: bool = False, resolver: AbstractResolver | None = None):
        self.scheduler, self.clock, self.faults = scheduler, clock, faults
        self.allowed = allowed if allowed is not None else Allowed()
        self.allow_local = allow_local
        self.resolver = resolver
        self._system_resolver: AbstractResolver | None = None
        self._pending: dict[int, Delivery] = {}
        # Each attempt with its sequence number: a position that stays put when the
        # oldest are dropped, so a page of the record can be continued from it.
        self.capacity = max_attempts
        self._attempts: deque[tuple[int, dict[str, Any]]] = deque(maxlen=max_attempts)
        self._attempt_seq = itertools.count(1)
        self._counts: Counter[tuple[str | None, str]] = Counter()
        self._ids = itertools.count(1)
        # One session per policy, keyed by whether it screens addresses: a pooled
        # connection or a cached lookup of one is never used by the other.
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        self._inflight: set[asyncio.Task] = set()
        # What an https:// receiver's certificate is checked against: the system's store,
        # plus the simulator's local CA once trust() is given it (serve --tls).
        self._ssl: ssl.SSLContext | bool = True
        self.outbox: Outbox | None = None
        scheduler.on("webhook", self._due)

    def send(self, url: str, body: bytes, policy: Policy, *, provider: str | None = None,
             task_id: str | None = None, api_key: str | None = None, stage: str | None = None,
             headers: dict[str, str] | None = None, signer: Signer | None = None,
             number: int | None = None) -> Delivery:
        """Deliver ``body``; ``number`` is the delivery's id (see delivery_id), else the
        next of this process's own."""
        delivery = Delivery(next(self._ids) if number is None else number, url, body,
                            {"Content-Type": "application/json", **(headers or {})}, policy,
                            provider, task_id, api_key, stage, signer)
        self._pending[delivery.id] = delivery
        if self.outbox is None:
            self._launch(delivery, self.clock.now())
        else:
            self._spawn(self._held_then_sent(delivery, self.clock.now()))
        return delivery

    def resume(self, delivery: Delivery, due: float) -> None:
        """Attempt a delivery this process claimed from the outbox."""
        self._pending[delivery.id] = delivery
        self._launch(delivery, due)

    async def _held_then_sent(self, delivery: Delivery, due: float) -> None:
        await self.outbox.hold(delivery, due)
        await self._attempt(delivery, due)

    def attempts(self, provider: str | None = None, task_id: str | None = None,
                 url: str | None = None) -> list[dict[str, Any]]:
        """Every attempt made, oldest first."""
        return [a for _, a in self.numbered(provider, task_id, url)]

    def numbered(self, provider: str | None = None, task_id: str | None = None,
                 url: str | None = None) -> list[tuple[int, dict[str, Any]]]:
        """Every attempt made, oldest first, each after its sequence number (increasing,
        never reused)."""
        return [(seq, a) for seq, a in self._attempts
                if (provider is None or a["provider"] == provider)
                and (task_id is None or a["task_id"] == task_id)
                and (url is None or a["url"] == url)]

    def pending(self) -> int:
        return len(self._pending)

    def mark(self) -> tuple[int, int, int]:
        """Attempts kept, the last one's sequence and deliveries pending: a watcher
        reads again when it moves."""
        return len(self._attempts), self._attempts[-1][0] if self._attempts else 0, \
            len(self._pending)

    def replace(self, numbered: list[tuple[int, dict[str, Any]]]) -> None:
        """Attempts kept elsewhere (a shared store's log), in place of this process's."""
        self._attempts.clear()
        self._attempts.extend(numbered)

    def counts(self) -> Counter[tuple[str | None, str]]:
        """Attempts by provider and outcome (delivered, rejected, error, faulted,
        refused)."""
        return Counter(self._counts)

    def _due(self, ref: tuple[int, float], _due: float) -> None:
        delivery_id, due = ref
        delivery = self._pending.get(delivery_id)
        if delivery is not None:
            self._launch(delivery, due)

    def _launch(self, delivery: Delivery, due: float) -> None:
        self._spawn(self._attempt(delivery, due))

    def _spawn(self, work) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            work.close()
            return
        task = loop.create_task(work)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _attempt(self, delivery: Delivery, due: float) -> None:
        """One attempt, due at simulated time ``due``; a retry is scheduled from that
        time, so one long clock advance runs every retry it covers, in order."""
        fault = None if delivery.held_by else await self.faults.for_webhook(
            delivery.provider, delivery.url, delivery.api_key, delivery.stage, delivery.body)
        if fault is not None and fault.delay:
            delivery.held_by = list(fault.rules)
            await self._again(delivery, due + fault.delay)
            return
        if fault is not None and fault.latency:
            await asyncio.sleep(fault.latency)
        delivery.tried += 1
        number = delivery.tried
        result = await self._post(delivery, number, fault, duplicate=False)
        if fault is not None and fault.duplicate:
            await self._post(delivery, number, fault, duplicate=True)
        # A refusal is the address policy's answer, not the network's: a retry would be
        # refused again, so the delivery ends here.
        if result["ok"] or result["refused"] or number > delivery.policy.retries:
            self._pending.pop(delivery.id, None)
            if self.outbox is not None:
                await self.outbox.done(delivery)
            return
        backoff = delivery.policy.backoff
        wait = backoff[min(number - 1, len(backoff) - 1)] if backoff else 0.0
        await self._again(delivery, due + wait)

    async def _again(self, delivery: Delivery, due: float) -> None:
        """Attempt the delivery again at ``due``: here, or by whoever claims it then."""
        if self.outbox is None:
            self.scheduler.at(due, "webhook", (delivery.id, due))
        else:
            self._pending.pop(delivery.id, None)
            await self.outbox.queue(delivery, due)

    def _names(self) -> AbstractResolver:
        """The resolver that looks names up: the injected one, else the system's."""
        if self.resolver is not None:
            return self.resolver
        if self._system_resolver is None:
            self._system_resolver = aiohttp.ThreadedResolver()
        return self._system_resolver

    def _session(self, screen: bool) -> aiohttp.ClientSession:
        session = self._sessions.get(screen)
        if session is None or session.closed:
            # A screened name is looked up afresh at each attempt (no DNS cache), so a
            # name that changes its answer is judged on the answer dialled this time.
            connector = aiohttp.TCPConnector(
                resolver=ScreeningResolver(self._names, screen=screen),
                use_dns_cache=not screen)
            session = self._sessions[screen] = aiohttp.ClientSession(connector=connector)
        return session

    async def _post(self, delivery: Delivery, number: int, fault, *,
                    duplicate: bool) -> dict[str, Any]:
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        refused = False
        headers = dict(delivery.headers)
        headers[DELIVERY_HEADER] = str(delivery.id)
        if delivery.signer is not None:
            headers.update(delivery.signer.headers(delivery.body))
        screen = not (self.allow_local or delivery.url in self.allowed)
        if fault is not None and fault.fail and not duplicate:
            error = "fault: the delivery was made to fail"
        else:
            try:
                host = yarl.URL(delivery.url).raw_host or ""
                if screen and literal(host):
                    judge(host, host)  # dialled as written, no lookup to screen
                async with self._session(screen).post(
                        delivery.url, data=delivery.body, headers=headers,
                        timeout=aiohttp.ClientTimeout(total=delivery.policy.timeout),
                        ssl=self._ssl, allow_redirects=False) as response:
                    status = response.status
                    await response.read()
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
                reason = _refusal(exc)
                if reason is not None:
                    refused = True
                    error = (f"refused: {reason}; start with --allow-local-callbacks or "
                             "allow this URL via POST /_sim/webhooks/allowed")
                else:
                    error = type(exc).__name__ + (f": {exc}" if str(exc) else "")
        ok = status is not None and 200 <= status < 300
        signed = delivery.signer.signature_header if delivery.signer else None
        attempt = {
            "delivery": delivery.id, "attempt": number, "duplicate": duplicate,
            "provider": delivery.provider, "task_id": delivery.task_id, "stage": delivery.stage,
            "url": delivery.url, "time": self.clock.now(), "wall_time": time.time(),
            "request_headers": headers, "payload": delivery.body.decode("utf-8", "replace"),
            "status": status, "error": error, "ok": ok,
            "signature": headers.get(signed) if signed else None,
            "faults": [*delivery.held_by, *(fault.rules if fault is not None else ())],
            "latency_ms": round((time.monotonic() - started) * 1000, 3), "refused": refused}
        self._attempts.append((next(self._attempt_seq), attempt))
        if self.outbox is not None:
            self.outbox.record(attempt)
        outcome = ("faulted" if error and error.startswith("fault:") else
                   "refused" if refused else
                   "delivered" if ok else "rejected" if status is not None else "error")
        self._counts[(delivery.provider, outcome)] += 1
        return attempt

    def trust(self, ca_pem: bytes) -> None:
        """Accept receivers whose certificate comes from this CA (PEM), in addition to
        the system's trusted authorities."""
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=ca_pem.decode("ascii"))
        self._ssl = context

    async def close(self) -> None:
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*list(self._inflight), return_exceptions=True)
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
        if self._system_resolver is not None:
            await self._system_resolver.close()
            self._system_resolver = None

    def reset(self) -> None:
        self._pending.clear()
        self._attempts.clear()
        self._counts.clear()


def _refusal(exc: BaseException | None) -> str | None:
    """Why the address policy refused, when ``exc`` is (or was caused by) a refusal:
    aiohttp wraps a resolver's error in its own."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        if isinstance(exc, Refused):
            return str(exc)
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return None
