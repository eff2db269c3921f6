"""A state store in Redis (``--state redis://HOST:PORT/DB``), which every process
pointed at the same server shares.

Each step that must be atomic is one Lua script (redis_scripts.py), so the server itself
serialises two processes holding credits on one key or claiming the same work; records
are kept as the bytes of records.py. Every call is one round trip, on the one connection
a process keeps per URL (redis_line.py), which every namespace's store shares. A task or
account read again unchanged is not decoded again: the object decoded before is handed
out, as MemoryStore hands out its own.

Keys: ``musicsim:{namespace}:`` and a fixed name for the namespace's hashes and sorted
sets; ``...:ledger:``, ``book:``, ``free:`` and ``loose:`` and an API key for a key's
ledger (the entries by id; what ``Book`` in memory.py keeps: each reference's entry ids,
each loose reference's end, the book's version and its opening entry; the ids of entries
naming no reference; the loose references in the order they came); ``...:log:`` and a
name for a log. The keys index, the sandboxes, the generation and the counter of log
positions are under ``musicsim:`` alone, for every namespace.
"""

from __future__ import annotations

import asyncio
import weakref
from urllib.parse import urlsplit

import orjson
import redis.asyncio
from redis.asyncio.connection import parse_url
from redis.exceptions import RedisError

from ..models import Account, Clip, LedgerEntry, Persona, Task
from .base import InsufficientBalance, StaleWrite
from .memory import CLOSING, _opening
from .records import (dump_entry, dump_persona, dump_task, load_entry, load_persona,
                      load_task)
from .redis_line import Line, Script
from .redis_scripts import SCRIPTS

ROOT = "musicsim:"
# Decoded records kept per store, by id, with the bytes they came from: a record read
# again unchanged is handed out as decoded before, the oldest let go past this many.
CACHED = 50_000
GENERATION, KEYS, SANDBOXES, SANDBOX_ORDER, POSITIONS = (ROOT + name for name in (
    "generation", "keys", "sandboxes", "sandbox-order", "log-positions"))


class _Link:
    """The line (redis_line.py) to a URL in one event loop, and the scripts registered
    for it: every namespace's store on that URL shares it."""

    def __init__(self, url: str):
        self.url, self.users = url, 0
        self.client = redis.asyncio.from_url(url, socket_connect_timeout=5)
        self.line = Line(self.client.connection_pool, url)
        self.call = self.line.call
        for name, source in SCRIPTS.items():
            setattr(self, name, Script(self.line, self.client.register_script(source)))

    async def close(self) -> None:
        await self.line.close()
        await self.client.aclose()


# Per event loop (a client's connections belong to the loop that made them), per URL.
_running = asyncio.get_running_loop
_LINKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Link]] = \
    weakref.WeakKeyDictionary()


def _kept(cache: dict, key: str, data: bytes, record):
    if len(cache) >= CACHED and key not in cache:
        del cache[next(iter(cache))]
    cache[key] = (data, record)
    return record


def _account(raw: bytes) -> Account:
    available, held, spent, granted, rest = raw.split(b" ", 4)
    key, models, created_at, secret = orjson.loads(rest)
    return Account(key, float(available), float(held), float(spent), float(granted),
                   models, created_at, secret)


def _account_value(account: Account) -> bytes:
    return b"%r %r %r %r " % (float(account.available), float(account.held),
                              float(account.spent), float(account.granted)) + \
        orjson.dumps([account.api_key, account.models, account.created_at,
                      account.webhook_secret])


class RedisStore:
    durable = True
    shared = True

    def __init__(self, url: str, namespace: str = "default"):
        self.url, self.namespace = url, namespace
        self.seen_generation = 0
        self._decoded: dict[str, tuple[bytes, Task]] = {}
        self._decoded_accounts: dict[str, tuple[bytes, Account]] = {}
        self._link: _Link | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        p = self._p = f"{ROOT}{namespace}:"
        (self._accounts, self._account_order, self._counters, self._tasks, self._versions,
         self._order, self._clips, self._personas, self._persona_order, self._docs,
         self._counts, self._logs, self._work, self._records, self._claims,
         self._buckets) = (
            p + name for name in (
                "accounts", "account-order", "counters", "tasks", "task-versions",
                "task-order", "clips", "personas", "persona-order", "docs", "counts",
                "logs", "work", "work-records", "work-claims", "buckets"))
        self._queue = (self._work, self._records, self._claims)

    @classmethod
    def open(cls, url: str, namespace: str = "default") -> RedisStore:
        """The store, not yet connected: it connects on first use (see check). A URL
        redis-py cannot read is a ValueError here."""
        try:
            parse_url(url)
            path = urlsplit(url).path.strip("/")
            if path and not path.isdigit():
                raise ValueError(f"the database must be a number, not {path!r}")
        except ValueError as exc:
            raise ValueError(f"bad redis URL {url!r}: {exc}") from None
        return cls(url, namespace)

    def _use(self) -> _Link:
        """The link of the running loop, made on first use there (nothing is reached
        until a command goes out: the first that cannot names the URL)."""
        loop = _running()
        if self._loop is loop:
            return self._link
        if self._link is not None:
            self._link.users -= 1  # bound in another loop, whose connections stay there
        links = _LINKS.setdefault(loop, {})
        link = links.get(self.url)
        if link is None:
            link = links[self.url] = _Link(self.url)
        link.users += 1
        self._link, self._loop = link, loop
        return link

    async def check(self) -> None:
        """Fail now with a ValueError naming the URL if the server cannot be reached (the
        server calls it as it starts)."""
        try:
            await self._use().call("PING")
        except (RedisError, OSError) as exc:
            message = str(exc)
            raise ValueError(message if self.url in message else
                             f"cannot reach redis at {self.url}: {message}") from None

    async def server_time(self) -> float:
        """The Redis server's clock, which every process on it shares."""
        seconds, micros = await self._use().call("TIME")
        return int(seconds) + int(micros) / 1e6

    async def close(self) -> None:
        """Let go of the shared connections (the last store to let go closes them); a
        later call connects again."""
        link, loop = self._link, self._loop
        self._link = self._loop = None
        if link is not None:
            link.users -= 1
            if link.users == 0 and loop is _running():
                links = _LINKS.get(loop, {})
                if links.get(self.url) is link:
                    del links[self.url]
                await link.close()

    def _book(self, api_key: str) -> tuple[str, str, str, str]:
        p = self._p
        return (p + "ledger:" + api_key, p + "book:" + api_key, p + "free:" + api_key,
                p + "loose:" + api_key)

    async def reset(self) -> None:
        self._decoded.clear()
        self._decoded_accounts.clear()
        await self._use().reset((
            self._accounts, self._logs, self._account_order, self._counters, self._tasks,
            self._versions, self._order, self._clips, self._personas, self._persona_order,
            self._docs, self._counts, *self._queue, self._buckets, GENERATION), (self._p,))

    # -- accounts and the ledger ---------------------------------------------------------
    async def get_account(self, api_key: str) -> Account | None:
        raw, generation = await self._use().get_account((self._accounts, GENERATION),
                                                        (api_key,))
        self.seen_generation = int(generation or 0)
        if raw is None:
            return None
        cached = self._decoded_accounts.get(api_key)
        if cached is not None and cached[0] == raw:
            return cached[1]
        return _kept(self._decoded_accounts, api_key, raw, _account(raw))

    async def _add_account(self, account: Account, opening: bytes | None) -> Account:
        args = (account.api_key, _account_value(account))
        if not await self._use().add_account(
                (self._accounts, self._account_order, self._counters,
                 *self._book(account.api_key)),
                args if opening is None else (*args, opening)):
            raise KeyError(account.api_key)
        return account

    async def create_account(self, account: Account) -> Account:
        return await self._add_account(account, None)

    async def open_account(self, account: Account, time: float) -> Account:
        return await self._add_account(account, dump_entry(LedgerEntry(
            0, account.api_key, time, "opening", account.granted, None, account.available,
            account.held, account.spent)))

    async def list_accounts(self) -> list[Account]:
        _, values = await self._use().listing((self._account_order, self._accounts))
        return [_account(raw) for raw in values if raw is not None]

    async def move_credits(self, api_key, kind, amount, time, task_id, *, available=0.0,
                           held=0.0, spent=0.0, granted=0.0):
        out = await self._use().move(self._move_keys(api_key), self._move_args(
            api_key, kind, amount, time, task_id, available, held, spent, granted))
        return self._moved(out, api_key, available)

    def _move_keys(self, api_key: str) -> tuple[str, ...]:
        return (self._accounts, self._counters, *self._book(api_key), self._versions)

    def _move_args(self, api_key, kind, amount, time, task_id, available, held, spent,
                   granted) -> tuple:
        mark = "n" if task_id is None else "c" if kind in CLOSING else "o"
        return (api_key, float(available), float(held), float(spent), float(granted),
                orjson.dumps((api_key, time, kind, amount, task_id))[1:-1], task_id or "",
                mark)

    @staticmethod
    def _moved(out, api_key: str, available: float) -> Account:
        if out is None:
            raise KeyError(api_key)
        if type(out) is list:
            raise InsufficientBalance(api_key, -available, float(out[0]))
        return _account(out)

    async def ledger(self, api_key: str) -> list[LedgerEntry]:
        ledger, book, _, _ = self._book(api_key)
        opening, entries = await self._use().ledger((book, ledger))
        listing = [load_entry(entry) for entry in entries]
        return listing if opening is None else [load_entry(opening), *listing]

    # -- tasks ---------------------------------------------------------------------------
    async def begin_task(self, task: Task, time: float) -> Account:
        cost, put = task.cost, self._put_args(task)
        self._decoded.pop(task.id, None)
        out = await self._use().begin(
            (*self._move_keys(task.api_key), self._tasks, self._order, self._clips),
            (*self._move_args(task.api_key, "hold", cost, time, task.id, -cost, cost, 0.0,
                              0.0), *put))
        if out == -1:
            raise StaleWrite(task.id)
        if type(out) is list and len(out) == 2:
            seq, out = out
            self._written(task, put[2], seq)
        return self._moved(out, task.api_key, -cost)

    async def put_task(self, task: Task) -> None:
        put = self._put_args(task)
        self._decoded.pop(task.id, None)
        seq = await self._use().put_task(
            (self._tasks, self._versions, self._counters, self._order, self._clips), put)
        if seq is None:
            raise StaleWrite(task.id)
        self._written(task, put[2], seq)

    def _written(self, task: Task, head: bytes, seq: int) -> None:
        task.version += 1
        task.seq = seq
        _kept(self._decoded, task.id, head + b"%d}" % seq, task)

    @staticmethod
    def _put_args(task: Task) -> tuple:
        """The record is sent up to its seq, which the script appends: only it knows a
        new task's."""
        data = dump_task(task)
        head = data[:data.rindex(b',"version":')] + \
            b',"version":%d,"seq":' % (task.version + 1)
        clips = [clip.id for clip in task.clips] if task.version == 0 else ()
        return (task.id, task.version, head, *clips)

    async def get_task(self, task_id: str) -> Task | None:
        data = await self._use().call("HGET", self._tasks, task_id)
        return None if data is None else self._task(task_id, data)

    def _task(self, task_id: str, data: bytes) -> Task:
        """Handed out as MemoryStore hands out its records: the same object to every
        reader until the task is written again."""
        cached = self._decoded.get(task_id)
        if cached is not None and cached[0] == data:
            return cached[1]
        return _kept(self._decoded, task_id, data, load_task(data))

    async def forget_task(self, task_id: str) -> bool:
        """Read what folds, fold it here (with memory.py's own arithmetic), then write it
        back in one script that refuses if the task or the key's ledger moved meanwhile;
        on refusal, again."""
        link = self._use()
        data = await link.call("HGET", self._tasks, task_id)
        if data is None:
            return False
        api_key = orjson.loads(data)["api_key"]
        while True:
            plan = await link.fold_plan(
                (self._tasks, self._versions, *self._book(api_key)), (task_id,))
            if plan is None:
                return False
            data, version, book_version, opening, entries, refs, free = plan
            task = orjson.loads(data)
            if task["api_key"] != api_key:
                api_key = task["api_key"]
                continue
            folded = [load_entry(entry) for entry in entries]
            start = dump_entry(_opening(load_entry(opening) if opening else None,
                                        folded)) if folded else b""
            self._decoded.pop(task_id, None)
            if await link.fold_apply(
                    (self._tasks, self._versions, self._order, self._clips,
                     *self._book(api_key)),
                    (task_id, version, book_version, start, len(refs), *refs, len(free),
                     *free, len(folded), *(entry.id for entry in folded),
                     *(clip[0] for clip in task["clips"]))):
                return True

    async def find_clip(self, clip_id: str) -> tuple[Task, Clip] | None:
        found = await self._use().find_clip((self._clips, self._tasks), (clip_id,))
        if found is None:
            return None
        task = load_task(found[1])
        return task, task.clips[int(found[0])]

    async def list_tasks(self, provider=None, status=None, api_key=None) -> list[Task]:
        ids, values = await self._use().listing((self._order, self._tasks))
        tasks = (self._task(task_id.decode(), data)
                 for task_id, data in zip(ids, values) if data is not None)
        return [task for task in tasks
                if (not provider or task.provider == provider)
                and (not status or task.status == status)
                and (not api_key or task.api_key == api_key)]

    # -- personas ------------------------------------------------------------------------
    async def put_persona(self, persona: Persona) -> None:
        await self._use().put_listed((self._personas, self._persona_order, self._counters),
                                     (persona.id, dump_persona(persona), "persona"))

    async def get_persona(self, persona_id: str) -> Persona | None:
        data = await self._use().call("HGET", self._personas, persona_id)
        return None if data is None else load_persona(data)

    async def list_personas(self, api_key: str) -> list[Persona]:
        _, values = await self._use().listing((self._persona_order, self._personas))
        personas = (load_persona(data) for data in values if data is not None)
        return [persona for persona in personas if persona.api_key == api_key]

    async def delete_persona(self, persona_id: str) -> bool:
        return bool(await self._use().drop_listed((self._personas, self._persona_order),
                                                  (persona_id,)))

    # -- documents, counters, logs -------------------------------------------------------
    async def get_doc(self, name: str) -> object | None:
        data = await self._use().call("HGET", self._docs, name)
        return None if data is None else orjson.loads(data)

    async def put_doc(self, name: str, value: object) -> int:
        return await self._use().put_doc((self._docs, GENERATION), (name, orjson.dumps(value)))

    async def generation(self) -> int:
        self.seen_generation = int(await self._use().call("GET", GENERATION) or 0)
        return self.seen_generation

    async def count(self, name: str, delta: int = 1) -> int:
        return await self._use().call("HINCRBY", self._counts, name, delta)

    async def take_token(self, bucket: str, rate: float, burst: float,
                         now: float) -> tuple[bool, float]:
        allowed, tokens = await self._use().take_token(
            (self._buckets,), (bucket, float(rate), float(burst), float(now)))
        return allowed == 1, float(tokens)

    async def push(self, name: str, items: list[bytes], cap: int) -> None:
        await self._use().push((self._p + "log:" + name, self._logs, POSITIONS),
                               (name, cap, *items))

    async def items(self, name: str) -> list[tuple[int, bytes]]:
        """Positions come from one counter for every namespace, never reset: a reader
        that remembers the last it saw is never fooled by a reset."""
        logged = await self._use().call("LRANGE", self._p + "log:" + name, 0, -1)
        return [(int(at), item) for at, item in (raw.split(b" ", 1) for raw in logged)]

    # -- due work ------------------------------------------------------------------------
    async def put_work(self, ref: str, due: float, record: bytes,
                       held: float | None = None) -> None:
        args = (ref, float(due), record)
        await self._use().put_work(self._queue,
                                   args if held is None else (*args, float(held)))

    async def claim_work(self, until: float, wall_now: float, lease: float,
                         limit: int = 100) -> list[tuple[str, float, bytes]]:
        if limit <= 0:
            return []
        out = await self._use().claim_work(
            self._queue, (float(until), float(wall_now), float(lease), limit))
        return [(out[i].decode(), float(out[i + 1]), out[i + 2])
                for i in range(0, len(out), 3)]

    async def drop_work(self, ref: str) -> None:
        await self._use().drop_work(self._queue, (ref,))

    async def work_count(self) -> int:
        return await self._use().call("ZCARD", self._work)

    # -- keys and sandboxes, for every namespace -----------------------------------------
    async def claim_key(self, api_key: str, namespace: str) -> bool:
        return await self._use().claim_key((KEYS, GENERATION), (api_key, namespace)) == 1

    async def release_key(self, api_key: str) -> None:
        await self._use().release_key((KEYS, GENERATION), (api_key,))

    async def key_owner(self, api_key: str) -> str | None:
        owner = await self._use().call("HGET", KEYS, api_key)
        return None if owner is None else owner.decode()

    async def release_keys(self, namespace: str) -> None:
        await self._use().release_keys((KEYS, GENERATION), (namespace,))

    async def add_sandbox(self, name: str, info: dict) -> bool:
        return bool(await self._use().add_sandbox((SANDBOXES, SANDBOX_ORDER, GENERATION),
                                                  (name, orjson.dumps(info))))

    async def sandboxes(self) -> dict[str, dict]:
        names, values = await self._use().listing((SANDBOX_ORDER, SANDBOXES))
        return {name.decode(): orjson.loads(info)
                for name, info in zip(names, values) if info is not None}

    async def drop_sandbox(self, name: str) -> bool:
        return bool(await self._use().drop_listed((SANDBOXES, SANDBOX_ORDER, GENERATION),
                                                  (name,)))
