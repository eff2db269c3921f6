"""The simulator's own timeline for a recorded request.

A recording says how long each state of a task lasted on the real service; to say how
long the simulator holds the same states, the request that made the task is sent again
to a private simulator on a manual clock, whose clock is then stepped through the job
while the task is polled the dialect's way. The answer is ``[(seconds, word), …]``, each
word with the time it began, in seconds of the pace compared (``speed``: 1 is the real
service's, 50 the conformance runner's).

Callback members are taken out of the request first: the private simulator must not
deliver to anyone's endpoint.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp

from simulator.background import Background
from simulator.cassette import Exchange, request_key
from simulator.config import RateLimit
from simulator.dialects import DIALECTS

from ..dialect import Driver
from .lives import Timeline

CALLBACK = re.compile(r"(?i)(callback|webhook|notify)")
DEMO_KEY = "sk-musicsim-drift"
# Simulated seconds: a job still running after this long is compared as far as it got.
LONGEST = 900.0
FIRST_STEP = 0.2
STEP_GROWTH = 0.02  # each step is this share of the time gone by, for 2 % resolution
SUBMIT_WAIT = 2.0  # wall seconds: a request that waits for its result cannot be stepped


class Shadow:
    def __init__(self, provider: str, driver: Driver, speed: float):
        self.provider, self.driver, self.speed = provider, driver, speed
        self._cache: dict[Any, Timeline | None] = {}
        self._sim: Background | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Shadow":
        off = RateLimit(0.0, 1.0)
        self._sim = await asyncio.to_thread(lambda: Background(
            providers=(self.provider,), clock="manual", seed=0, demo_key=DEMO_KEY,
            default_credits=1e12, rate_limits={d: off for d in DIALECTS}).start())
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._session is not None:
            await self._session.close()
        if self._sim is not None:
            await asyncio.to_thread(self._sim.stop)

    async def timeline(self, origin: Exchange) -> Timeline | None:
        """How the simulator's task for ``origin`` moves, or None when the simulator
        cannot make one of that request (a refusal, an id only the service knows)."""
        if origin.method not in ("POST", "PUT"):
            return None
        key = request_key(origin.method, origin.path, origin.query, origin.request_text)
        if key not in self._cache:
            try:
                self._cache[key] = await self._follow(origin)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, TypeError):
                self._cache[key] = None
        return self._cache[key]

    async def _follow(self, origin: Exchange) -> Timeline | None:
        body = _without_callbacks(origin.request_json())
        try:
            data, status = await self._call(origin.method, origin.path, origin.query, body,
                                            timeout=SUBMIT_WAIT)
        except asyncio.TimeoutError:
            # It waits for its result (acedata without async): run its clock out, so the
            # request ends instead of hanging on when the simulator stops.
            await self._admin("/_sim/clock/advance", {"seconds": LONGEST})
            return None
        if not 200 <= status < 300:
            return None
        task, word = self.driver.task_id_of(data), self.driver.status_of(data)
        if not isinstance(task, str) or not isinstance(word, str):
            return None
        timeline: Timeline = [(0.0, word)]
        elapsed = 0.0
        while word not in self.driver.terminal and elapsed < LONGEST:
            step = max(FIRST_STEP, elapsed * STEP_GROWTH)
            await self._admin("/_sim/clock/advance", {"seconds": step})
            elapsed += step
            method, path, poll_body = self.driver.poll_request(task)
            data, status = await self._call(method, path, "", poll_body)
            now = self.driver.status_of(data) if 200 <= status < 300 else None
            if isinstance(now, str) and now != word:
                word = now
                timeline.append((round(elapsed / self.speed, 4), word))
        return timeline

    async def _call(self, method: str, path: str, query: str, body: Any,
                    timeout: float = 10.0) -> tuple[Any, int]:
        assert self._sim is not None and self._session is not None
        url = f"{self._sim.url}/{self.provider}{path}" + (f"?{query}" if query else "")
        headers = self.driver.auth(DEMO_KEY)
        kwargs: dict[str, Any] = {"headers": headers,
                                  "timeout": aiohttp.ClientTimeout(total=timeout)}
        if body is not None:
            kwargs["json"] = body
        async with self._session.request(method, url, **kwargs) as answer:
            try:
                return await answer.json(content_type=None), answer.status
            except ValueError:
                return None, answer.status

    async def _admin(self, path: str, body: Any) -> None:
        assert self._sim is not None and self._session is not None
        async with self._session.post(self._sim.url + path, json=body) as answer:
            answer.raise_for_status()


def _without_callbacks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_callbacks(v) for k, v in value.items() if not CALLBACK.search(k)}
    if isinstance(value, list):
        return [_without_callbacks(v) for v in value]
    return value
