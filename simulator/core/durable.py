"""An engine on a store that outlives the process and that other processes may share
(``--state sqlite:PATH``, ``--state redis://…``).

Records (accounts, the ledger, tasks, personas) are the store's own business. What the
engine keeps beside them goes there as documents: the clock's setting, the fault rules,
the rate limits, the callback URLs the control plane allowed, and the epoch. A process
loads them as it starts, saves them after the control plane changed one, and loads them
again whenever the store's generation moved, which means another process saved (see
fleet.py: the edge reads the generation with the caller's account, in one round trip).

Time. Every process reads the simulated clock from one wall clock, the store's own (the
Redis server's ``TIME``; the host's clock for a SQLite file), so all read the same now.
While no process runs, simulated time stands still: each process keeps its latest
reading in the store every HEARTBEAT, and a process that starts after the last reading
went stale resumes from it (or from the latest moment a task records, if later) instead
of jumping ahead by the time nothing ran.

Work. What falls due for a task is armed again at start from the task itself (its plan
says what falls due when). Each change is a versioned write: when two processes fire
the same event, one write lands and the other reads the task again and finds nothing
left to do, so each transition happens once. Callbacks wait in the store's queue, held
by the process attempting them; a retry goes back to the queue, due in simulated time,
and whoever claims it first attempts it. A claim held longer than LEASE (its process
died) is claimed again: the delivery is made at least once, with the same delivery id.

Logs. Webhook attempts go to the store's capped log as they are made, and journal rows
too when several processes answer (``share_journal``: Redis, or ``--workers``); a lone
process on a SQLite file keeps its journal to itself, as in memory, rather than write
every request it answers to the file. What one turn of the event loop recorded goes in
one write, sent as the turn ends, so a client's requests to two processes one after the
other are logged in that order; a process reading a log sends its own first.

Ids. Each start draws from the seed, the worker index and how often the namespace was
started before, so no two processes, and no two runs, draw the same ids.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from .faults import Rule
from .ratelimit import Limit
from .webhooks import Delivery, Policy, Signer

if TYPE_CHECKING:
    from .store import SharedStore

log = logging.getLogger(__name__)

HEARTBEAT = 0.25  # wall seconds between the clock readings a process keeps
ALIVE = 3.0      # a reading younger than this: some process is running
CLAIM = 0.05     # wall seconds between looks at the queue of due callbacks
LEASE = 60.0     # wall seconds a claimed callback is held before another may take it
DOCUMENTS = ("clock", "faults", "rates", "allowed", "engine")
JOURNAL, ATTEMPTS, READINGS = "journal", "attempts", "clock"


class Wall:
    """The wall clock every process on one store reads: this host's, moved by the
    offset to the store's own (measured at start)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Durable:
    """``engine`` is the Engine (engine.py) that makes this and hands itself in: its
    clock, ids, fault rules, rate limits, journal, webhooks and progress are what this
    keeps and brings back."""

    def __init__(self, engine: Any, store: SharedStore, wall: Wall, worker: int = 0,
                 share_journal: bool = True):
        self.engine, self.store, self.wall, self.worker = engine, store, wall, worker
        self.share_journal = share_journal
        self._journal: list[bytes] = []
        self._attempts: list[bytes] = []
        self._loops: list[asyncio.Task] = []
        self._flusher: asyncio.Task | None = None
        self._flushing = asyncio.Lock()
        self._kept: dict[str, Any] = {}  # each document as last saved or loaded here
        self.resumed = 0  # tasks armed again at the last start

    # -- starting and stopping ------------------------------------------------------------
    async def start(self) -> None:
        engine, store = self.engine, self.store
        sent = time.time()
        try:
            server = await store.server_time()
        except Exception as exc:
            raise ValueError(f"cannot reach the state store for sandbox "
                             f"{engine.sandbox!r}: {exc}") from None
        self.wall.offset = server - (sent + time.time()) / 2
        boots = await store.count("boots")
        if boots > 1 or self.worker:
            engine.ids.branch(f"worker {self.worker}, start {boots}")
        # This start among every process's on the namespace, named in the tasks whose
        # events it is hearing: if it dies first, a later start hears them (see _gone).
        self.hearer = engine.progress.hearer = f"w{self.worker}.{boots}"
        await self._alive()
        if await store.get_doc("clock") is None:
            await self.save()  # a new namespace: this process's settings are its first
        else:
            await self.load()
            await self._resume_clock()
        engine.faults.count = self._count_use
        engine.rates.shared = self._take_token
        engine.webhooks.outbox = self
        if self.share_journal:
            engine.journal.shared = self.note_row
        self.resumed = await engine.progress.resume(self._gone)
        self._loops = [asyncio.create_task(loop()) for loop in
                       (self._keep_time, self._claim_callbacks)]

    async def stop(self) -> None:
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop
        self._loops = []
        with contextlib.suppress(Exception):
            await self.flush()
            await self._reading()

    async def _resume_clock(self) -> None:
        """Simulated time stood still while no process ran (see the module docstring)."""
        readings = await self.store.items(READINGS)
        if not readings:
            return
        last = orjson.loads(readings[-1][1])
        if self.wall() - last["wall"] < ALIVE:
            return  # another process keeps the clock running
        latest = max([last["sim"], *[_latest(task) for task in
                                     await self.store.list_tasks()]])
        self.engine.clock.jump_to(latest)
        await self.save("clock")

    # -- documents --------------------------------------------------------------------------
    def _dump(self, name: str) -> Any:
        engine = self.engine
        if name == "clock":
            return engine.clock.dump()
        if name == "faults":
            return engine.faults.dump()
        if name == "rates":
            return engine.rates.dump()
        if name == "allowed":
            return engine.allowed_callbacks.list()
        return {"epoch": engine.epoch}

    def _apply(self, name: str, value: Any) -> None:
        engine = self.engine
        if name == "clock":
            engine.clock.load(value)
            engine.scheduler.rearm()
        elif name == "faults":
            engine.faults.load(value)
        elif name == "rates":
            engine.rates.load(value)
        elif name == "allowed":
            engine.allowed_callbacks.load(value)
        else:
            engine.epoch = value["epoch"]

    async def save(self, *names: str) -> None:
        """Keep the documents named (all of them when none is) for every process: those
        that changed since this process last saved or loaded them, so a call that
        changed none moves no generation, and no process reloads for nothing."""
        for name in names or DOCUMENTS:
            value = self._dump(name)
            if self._kept.get(name) != value:
                await self.store.put_doc(name, value)
                self._kept[name] = value

    async def wiped(self) -> None:
        """The namespace was reset, its documents with it: save every one afresh."""
        self._kept.clear()
        await self.save()

    async def load(self) -> None:
        """The documents as the store has them now, in place of this process's."""
        for name in DOCUMENTS:
            value = await self.store.get_doc(name)
            if value is not None:
                self._apply(name, value)
                self._kept[name] = value
        for rule in self.engine.faults.rules():
            if rule.times is not None:
                rule.hits = min(rule.times, await self.store.count(_uses(rule), 0))

    # -- what every process counts together ------------------------------------------------
    async def _count_use(self, rule: Rule) -> int:
        return await self.store.count(_uses(rule))

    async def _take_token(self, bucket: str, limit: Limit, _now: float) -> tuple[bool, float]:
        return await self.store.take_token(bucket, limit.rate, limit.burst, self.wall())

    # -- logs -------------------------------------------------------------------------------
    def note_row(self, row: tuple) -> None:
        self._journal.append(orjson.dumps([_plain(value) for value in row]))
        self._flush_soon()

    def record(self, attempt: dict[str, Any]) -> None:
        self._attempts.append(orjson.dumps(attempt))
        self._flush_soon()

    def _flush_soon(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._guarded(self.flush))

    async def flush(self) -> None:
        async with self._flushing:
            while self._journal or self._attempts:
                journal, self._journal = self._journal, []
                attempts, self._attempts = self._attempts, []
                if journal:
                    await self.store.push(JOURNAL, journal, self.engine.journal.capacity)
                if attempts:
                    await self.store.push(ATTEMPTS, attempts, self.engine.webhooks.capacity)

    async def gather_logs(self) -> None:
        """The shared logs into this process's journal and webhook record, for reading."""
        await self.flush()
        if self.share_journal:
            self.engine.journal.replace(
                [(seq, *[_restored(value) for value in orjson.loads(row)[1:]])
                 for seq, row in await self.store.items(JOURNAL)])
        self.engine.webhooks.replace(
            [(seq, orjson.loads(row)) for seq, row in await self.store.items(ATTEMPTS)])

    async def clear_journal(self) -> None:
        async with self._flushing:
            self._journal = []
            await self.store.push(JOURNAL, [], 0)

    # -- callbacks (webhooks.Outbox) ---------------------------------------------------------
    async def hold(self, delivery: Delivery, due: float) -> None:
        await self.store.put_work(str(delivery.id), due, _packed(delivery), held=self.wall())

    async def queue(self, delivery: Delivery, due: float) -> None:
        await self.store.put_work(str(delivery.id), due, _packed(delivery))

    async def done(self, delivery: Delivery) -> None:
        await self.store.drop_work(str(delivery.id))

    async def claim_due(self) -> int:
        """Attempt every callback due by now that nobody holds; how many were claimed."""
        claimed = await self.store.claim_work(self.engine.now(), self.wall(), LEASE)
        for _ref, due, record in claimed:
            self.engine.webhooks.resume(_unpacked(record), due)
        return len(claimed)

    # -- the loops ---------------------------------------------------------------------------
    async def _keep_time(self) -> None:
        while True:
            await self._guarded(self._reading)
            await self._guarded(self._alive)
            await asyncio.sleep(HEARTBEAT)

    async def _alive(self) -> None:
        await self.store.push(f"alive {self.hearer}", [orjson.dumps(self.wall())], 1)

    async def _gone(self, hearer: str) -> bool:
        """Whether the start named ``hearer`` has stopped: no sign of life for ALIVE."""
        signs = await self.store.items(f"alive {hearer}") if hearer else []
        return not signs or self.wall() - orjson.loads(signs[-1][1]) > ALIVE

    async def _reading(self) -> None:
        await self.store.push(READINGS, [orjson.dumps({"sim": self.engine.now(),
                                                       "wall": self.wall()})], 1)

    async def _claim_callbacks(self) -> None:
        while True:
            await asyncio.sleep(CLAIM)
            await self._guarded(self.claim_due)

    @staticmethod
    async def _guarded(work) -> None:
        """A loop's step: a store that is away for a moment must not end the loop."""
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("shared-store upkeep failed; trying again")


def _uses(rule: Rule) -> str:
    return f"uses {rule.id}"


def _latest(task) -> float:
    return max([task.created_at, *[at for at, _ in task.history]])


def _plain(value: Any) -> Any:
    """A journal row's value as JSON: bytes as text (latin-1 keeps every byte)."""
    if type(value) is bytes:
        return {"b": value.decode("latin-1")}
    if type(value) is tuple:
        return list(value)
    return value


def _restored(value: Any) -> Any:
    if type(value) is dict and "b" in value:
        return value["b"].encode("latin-1")
    return value


def _packed(delivery: Delivery) -> bytes:
    signer = delivery.signer
    return orjson.dumps({
        "id": delivery.id, "url": delivery.url,
        "body": base64.b64encode(delivery.body).decode(), "headers": delivery.headers,
        "policy": [delivery.policy.timeout, delivery.policy.retries,
                   list(delivery.policy.backoff)],
        "provider": delivery.provider, "task_id": delivery.task_id,
        "api_key": delivery.api_key, "stage": delivery.stage,
        "signer": None if signer is None else [signer.secret, signer.timestamp_header,
                                               signer.signature_header],
        "tried": delivery.tried, "held_by": delivery.held_by})


def _unpacked(record: bytes) -> Delivery:
    data = orjson.loads(record)
    timeout, retries, backoff = data["policy"]
    return Delivery(data["id"], data["url"], base64.b64decode(data["body"]), data["headers"],
                    Policy(timeout, retries, tuple(backoff)), data["provider"],
                    data["task_id"], data["api_key"], data["stage"],
                    None if data["signer"] is None else Signer(*data["signer"]),
                    data["tried"], data["held_by"])
