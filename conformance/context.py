"""What a case works with: the target over HTTP, every answer checked against the
dialect's spec, the task watcher, the budget, and the simulator's control plane when
one is within reach."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
import orjson

from simulator.openapi import Spec

from .case import MAX_CREDITS_FLAG, UPSTREAM_ADMIN_FLAG, Case, CaseFailed, Skipped, expect

if TYPE_CHECKING:
    from .dialect import Driver
    from .receiver import Receiver

CASE_KEY = object()  # as a ``key`` argument: the key the case runs with
RATE_LIMIT_PATIENCE = 10  # 429s in a row a poll waits out before it counts as a failure


def retry_after(answer: "Answer", default: float = 1.0) -> float:
    """The wait a 429 or 503 asks for, in seconds (a date form counts as the default)."""
    try:
        return max(0.0, float(answer.header("retry-after") or default))
    except ValueError:
        return default


@dataclass
class Answer:
    """One HTTP answer: status, headers, raw body, and the body as JSON when it is."""

    method: str
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    data: Any = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def __str__(self) -> str:
        text = self.body[:300].decode("utf-8", "replace")
        return f"{self.method} {self.url} -> {self.status} {text}"


class Admin:
    """The /_sim control plane of the simulator that serves the tasks."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str | None = None):
        url = url.rstrip("/")
        self.url = url if url.endswith("/_sim") else f"{url}/_sim"
        self.session = session
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call(self, method: str, path: str, json: Any = None) -> Any:
        async with self.session.request(method, self.url + path, json=json,
                                        headers=self.headers) as response:
            body = await response.read()
            if response.status >= 300:
                raise CaseFailed(f"control plane {method} {path}: {response.status} "
                                 f"{body[:200].decode('utf-8', 'replace')}")
            return orjson.loads(body) if body else None

    async def fault(self, rule: dict[str, Any]) -> str:
        return (await self.call("POST", "/faults", rule))["id"]

    async def drop_fault(self, rule_id: str) -> None:
        async with self.session.delete(f"{self.url}/faults/{rule_id}", headers=self.headers):
            pass

    async def account(self, api_key: str) -> dict[str, Any]:
        """The simulator's account of a key: credits, held, spent, webhook_secret."""
        return await self.call("GET", f"/accounts/{api_key}")

    async def tasks_with(self, text: str, provider: str) -> list[dict[str, Any]]:
        """The simulator's tasks of a provider whose request mentioned ``text``."""
        query = {"provider": provider, "limit": "10000"}
        items: list[dict[str, Any]] = []
        while True:
            tasks = await self.call("GET", f"/tasks?{urlencode(query)}")
            if not isinstance(tasks, dict):
                items += tasks
                break
            items += tasks.get("tasks", [])
            if not tasks.get("next_cursor"):
                break
            query["cursor"] = tasks["next_cursor"]
        return [t for t in items if text in orjson.dumps(t.get("params", {})).decode()]


@dataclass
class Budget:
    """Credits a run may spend on a paid service (None: no bound)."""

    limit: float | None
    spent: float = 0.0

    def take(self, amount: float) -> None:
        if self.limit is not None and self.spent + amount > self.limit:
            raise Skipped(f"would spend {amount:g} credits past --max-credits "
                          f"{self.limit:g} ({self.spent:g} already spent)",
                          flag=MAX_CREDITS_FLAG)
        self.spent += amount


@dataclass
class Run:
    """What every case of one run shares."""

    provider: str
    base_url: str
    api_key: str
    driver: "Driver"
    session: aiohttp.ClientSession
    spec: Spec
    second_key: str | None = None
    admin: Admin | None = None
    receiver: "Receiver | None" = None
    receiver_problem: str | None = None  # why there is no receiver the target can reach
    direct: bool = False  # the target is the simulator itself
    timeout: float = 600.0  # how long a task may take to finish
    poll_every: float = 2.0
    callback_wait: float = 60.0  # how long after a task ends its last callback may take
    webhook_secret: str | None = None  # what the target signs callbacks with, if it says
    budget: Budget = field(default_factory=lambda: Budget(None))

    shared: dict[str, "asyncio.Future[Any]"] = field(default_factory=dict)

    async def once(self, name: str, make) -> Any:
        """``await make()`` the first time a case asks for ``name``; every case asking
        after (or meanwhile) gets the same result. A failure is not kept: the next case
        to ask tries again."""
        future = self.shared.get(name)
        if future is None:
            future = self.shared[name] = asyncio.get_running_loop().create_future()
            try:
                future.set_result(await make())
            except BaseException as exc:
                del self.shared[name]
                future.set_exception(exc)
                future.exception()  # retrieved here; the waiting cases get it raised
                raise
        return await asyncio.shield(future)


class Context:
    """One case's view of the run: its calls, the spec violations they showed, and the
    states each task it watched went through."""

    def __init__(self, run: Run, case: Case):
        self.run, self.case = run, case
        self.driver = run.driver
        self.violations: list[str] = []
        self.states: dict[str, list[str]] = {}
        self.token = secrets.token_hex(4)
        self.own_key: str | None = None  # a key of the case's own, against a simulator

    # --- the target ---------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        return self.own_key or self.run.api_key

    @property
    def admin(self) -> Admin:
        if self.run.admin is None:
            raise Skipped("needs the simulator's control plane (--upstream-admin)",
                          flag=UPSTREAM_ADMIN_FLAG)
        return self.run.admin

    async def new_key(self, credits: float, *, rate: float | None = None,
                      burst: float | None = None, models: list[str] | None = None) -> str:
        """A new key of the simulator serving the tasks, with ``credits`` (and its own
        rate limit, or only some models, if given): for cases that need an exact
        balance or a key alone.
        Skipped unless the target is the simulator itself: a key made upstream of a
        gateway is not one the gateway accepts."""
        if not self.run.direct:
            raise Skipped("needs its own key: the target must be the simulator itself")
        account = {"credits": credits, **({"models": models} if models is not None else {})}
        key = (await self.admin.call("POST", "/accounts", account))["api_key"]
        if rate is not None:
            limit = {"api_key": key, "rate": rate, **({"burst": burst} if burst else {})}
            await self.admin.call("PUT", f"/rate-limits/{self.driver.provider}", limit)
        return key

    def marker(self, text: str = "") -> str:
        """Prompt text unique to this case, so its tasks and faults touch nothing else."""
        return f"conformance {self.case.id} {self.token} {text}".strip()

    async def call(self, method: str, path: str, *, key: Any = CASE_KEY, json: Any = CASE_KEY,
                   raw: bytes | None = None, headers: dict[str, str] | None = None,
                   params: dict[str, str] | None = None, check: bool = True,
                   patient: bool = True) -> Answer:
        """A call to the target with the dialect's auth (``key=None``: none), its answer
        checked against the spec. A patient call waits out 429s as a good client does;
        cases about rate limits make impatient ones."""
        attempts = RATE_LIMIT_PATIENCE if patient else 1
        for attempt in range(attempts):
            answer = await self._call(method, path, key, json, raw, headers, params, check)
            if answer.status != 429 or attempt == attempts - 1:
                break
            await asyncio.sleep(retry_after(answer))
        return answer

    async def _call(self, method, path, key, json, raw, headers, params, check) -> Answer:
        key = self.api_key if key is CASE_KEY else key
        sent = {**(self.driver.auth(key) if key is not None else {}), **(headers or {})}
        body = raw
        if json is not CASE_KEY:
            body = orjson.dumps(json)
            sent.setdefault("Content-Type", "application/json")
        url = self.run.base_url + path
        try:
            async with self.run.session.request(method, url, data=body, headers=sent,
                                                params=params) as response:
                content = await response.read()
                answer = Answer(method, url, response.status,
                                {k.lower(): v for k, v in response.headers.items()}, content)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise CaseFailed(f"{method} {url}: no answer ({exc.__class__.__name__}: {exc})")
        self._receiver_refused(body, answer)
        kind = answer.headers.get("content-type", "application/json")
        if content and "json" in kind and "ndjson" not in kind:  # a stream is read by lines
            try:
                answer.data = orjson.loads(content)
            except orjson.JSONDecodeError:
                self.violations.append(f"{method} {path} -> {answer.status}: body is not JSON")
        if check:
            self._check(method, path, answer)
        return answer

    def _receiver_refused(self, body: bytes | None, answer: Answer) -> None:
        """A request naming the run's receiver, refused for its callback address: the
        target will not call this receiver, so the case cannot be run here. Nothing else
        depends on callbacks, so only callback cases meet this."""
        receiver = self.run.receiver
        if receiver is None or not body or answer.status not in (400, 422) \
                or receiver.url.encode() not in body:
            return
        said = answer.body[:300].decode("utf-8", "replace")
        if not any(word in said.lower() for word in ("callback", "webhook", "url")):
            return
        raise Skipped(f"the target refuses callbacks to the runner's receiver ({said}): run "
                      f"with --upstream-admin so the runner can let its receiver through "
                      f"the simulator, start the simulator with --allow-local-callbacks, or "
                      f"give --receiver-host (and --receiver-tls-ca where the dialect "
                      f"requires HTTPS) an address the target accepts",
                      flag=UPSTREAM_ADMIN_FLAG)

    def _check(self, method: str, path: str, answer: Answer) -> None:
        template = self.run.spec.operation_for(method, path.split("?")[0])
        if template is None:
            return
        problems = self.run.spec.check_answer(template, method, answer.status, answer.data)
        for problem in problems:
            self.violations.append(f"{method} {template} -> {answer.status}: {problem}")

    async def fetch(self, url: str, headers: dict[str, str] | None = None) -> Answer:
        """A media link, as a player would fetch it: no key."""
        try:
            async with self.run.session.get(url, headers=headers or {}) as response:
                return Answer("GET", url, response.status,
                              {k.lower(): v for k, v in response.headers.items()},
                              await response.read())
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise CaseFailed(f"GET {url}: no answer ({exc.__class__.__name__}: {exc})")

    # --- tasks --------------------------------------------------------------------------

    def spend(self, songs: float = 1.0) -> None:
        """Reserve the credits of ``songs`` songs, or skip when the budget is spent."""
        self.run.budget.take(songs * self.driver.price)

    def observe(self, task_id: str, word: str) -> None:
        """A status seen for a task: it must be a word of the dialect, never moving back."""
        driver = self.driver
        expect(word in driver.ranks, f"task {task_id}: status {word!r} is not one of the "
                                     f"dialect's ({', '.join(driver.ranks)})")
        seen = self.states.setdefault(task_id, [])
        if seen and seen[-1] != word:
            before = seen[-1]
            expect(driver.ranks[word] > driver.ranks[before],
                   f"task {task_id}: status went from {before!r} back or across to {word!r} "
                   f"(seen: {' -> '.join(seen + [word])})")
        if not seen or seen[-1] != word:
            seen.append(word)

    async def poll(self, task_id: str, *, key: Any = CASE_KEY) -> Answer:
        answer = await self.driver.poll(self, task_id, key=key)
        expect(answer.status == 200, f"polling task {task_id}: {answer}")
        self.observe(task_id, self.driver.status_of(answer.data))
        return answer

    async def settle(self, task_id: str, *, key: Any = CASE_KEY, until: frozenset[str] | None = None,
                     timeout: float | None = None, poll_every: float | None = None) -> Answer:
        """Poll until the task reaches a terminal status (or one of ``until``)."""
        until = until or self.driver.terminal
        deadline = time.monotonic() + (timeout or self.run.timeout)
        while True:
            answer = await self.poll(task_id, key=key)
            if self.driver.status_of(answer.data) in until:
                return answer
            if time.monotonic() > deadline:
                raise CaseFailed(f"task {task_id} still {self.driver.status_of(answer.data)!r} "
                                 f"after {timeout or self.run.timeout:g} s "
                                 f"(seen: {' -> '.join(self.states.get(task_id, []))})")
            await asyncio.sleep(poll_every or self.run.poll_every)

    async def song(self, text: str = "", *, key: Any = CASE_KEY, **extra: Any) -> Answer:
        """A song made end to end: submitted, settled, and succeeded."""
        self.spend()
        task_id = await self.driver.submit(self, self.marker(text), key=key, **extra)
        answer = await self.settle(task_id, key=key)
        word = self.driver.status_of(answer.data)
        expect(word == self.driver.succeeded, f"task {task_id} ended {word!r}: {answer}")
        return answer
