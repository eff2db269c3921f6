"""The engine: the one place where behaviour is decided, and the only one that changes
state.

Providers translate wire requests into calls on :class:`Engine` and render what it
returns; they never touch the clock, the ledger, the store or the scheduler themselves,
and never change a task, clip or persona they were handed: what they hold is a snapshot
(the store may hand out copies). Every change goes through :meth:`Progress.update`,
which writes back what it read and, when the task changed meanwhile, reads it again.
How a task moves as time passes, and every read that must see it, is :mod:`.progress`,
which the engine owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from typing import Any, Awaitable, Callable, Iterable, Iterator

from . import lifecycle
from .clips import ClipSpec, draw_clip, spec_for
from .clock import Clock
from .faults import Faults, requested_steering
from .ids import Ids
from .journal import Journal
from .durable import Durable, Wall
from .keys import ARRIVED, DEFAULT_SANDBOX, Keys, StoreKeys
from .ledger import InsufficientCredits, Ledger
from .lifecycle import TIMED_OUT
from .magic import NO_STEERING, Steering, read_steering
from .models import QUEUED, Account, Clip, Persona, Task
from .progress import Listener, Progress, TaskNotFound
from .ratelimit import Limit, RateLimiter, Verdict
from .retention import Retention
from .scheduler import Scheduler
from .store import is_shared, open_store
from .watchers import DEADLINE, Watchers
from .webhooks import (Allowed, CallbackRejected, Policy, Signer, Webhooks, check_callback_url,
                       delivery_id)

# With --seed, simulated time starts here, so timestamps (and ids built from them) repeat.
SEEDED_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z

# How long a task's results last when its request carries [sim:expire].
EXPIRE_SOON = 60.0


class ClipNotFound(KeyError):
    pass


class AccountExists(KeyError):
    """An account with the key asked for is already there."""


class TaskFinished(ValueError):
    """The task is already terminal; its outcome cannot change."""


class Engine:
    def __init__(self, *, seed: int | None = None, clock_mode: str = "fast",
                 speed: float | None = None, state: str = "memory",
                 default_credits: float = 10_000.0, demo_key: str = "sk-musicsim-demo",
                 journal_entries: int = 10_000, journal_body: int = 16_384,
                 rate_limits: dict[str, Limit] | None = None,
                 scenarios: dict[str, dict] | None = None, scenario: str | None = None,
                 allow_local_callbacks: bool = False, sandbox: str = DEFAULT_SANDBOX,
                 keys: Keys | None = None, max_tasks: int | None = None, worker: int = 0,
                 share_journal: bool = True):
        # Which sandbox this engine is: the namespace of its state in the store.
        self.sandbox = sandbox
        self.store = open_store(state, sandbox)
        shared = is_shared(self.store)
        # On a shared store, every process reads simulated time off one wall clock.
        wall = Wall() if shared else None
        # The index of every sandbox's keys, where this one claims its own.
        self.keys = keys if keys is not None else \
            StoreKeys(self.store) if shared else Keys()
        self.ids = Ids(seed)
        self.clock = Clock(clock_mode, speed, SEEDED_EPOCH if seed is not None else None,
                           **({"monotonic": wall} if wall else {}))
        # Simulated time, read on every request: the clock's own method, bound once.
        self.now: Callable[[], float] = self.clock.now
        self.scheduler = Scheduler(self.clock)
        self.watchers = Watchers(self.scheduler, self.clock)
        self.ledger = Ledger(self.store, self.clock)
        self.progress = Progress(self.store, self.clock, self.scheduler, self.watchers,
                                 self.ledger, durable=shared)
        # Lets finished tasks go: past their retention, and past max_tasks kept.
        self.retention = Retention(self.progress, lambda: self.epoch, max_tasks)
        self.journal = Journal(journal_entries, journal_body)
        self.rates = RateLimiter(rate_limits)
        self.faults = Faults(seed, scenarios)
        # Deliveries reach internal addresses only with allow_local_callbacks or to a URL
        # the control plane allowed: the webhooks judge both as they deliver.
        self.allowed_callbacks = Allowed()
        self.webhooks = Webhooks(self.scheduler, self.clock, self.faults,
                                 allowed=self.allowed_callbacks,
                                 allow_local=allow_local_callbacks)
        self.scenario = scenario
        if scenario:
            self.faults.use_scenario(scenario)
        self.default_credits = default_credits
        self.demo_key = demo_key
        self.created_at = self.now()
        # Bumped by every reset: after one, a seeded run hands out the same ids again, so
        # anything remembered by task id and version must also name the epoch.
        self.epoch = 0
        # What the engine keeps on a shared store beside its records (see durable.py).
        self.durable = Durable(self, self.store, wall, worker, share_journal) \
            if shared else None
        if shared:
            self.authenticate = self._arrived  # type: ignore[method-assign]

    # -- lifecycle of the engine itself ------------------------------------------------
    async def start(self) -> None:
        """Arm the scheduler and make the default accounts (once)."""
        self.scheduler.start()
        if self.durable is not None:
            await self.durable.start()
        if await self.store.get_account(self.demo_key) is None:
            with contextlib.suppress(AccountExists):  # made meanwhile by another process
                await self._restore_defaults()

    async def stop(self) -> None:
        self.scheduler.stop()
        if self.durable is not None:
            await self.durable.stop()
        await self.webhooks.close()

    async def reset(self, defaults: bool = True) -> None:
        """Wipe all state and, with ``defaults``, restore the default accounts (a state
        being loaded brings its own instead); the clock keeps its mode."""
        self.scheduler.clear()
        await self.keys.release_all(self.sandbox)
        await self.store.reset()
        self.watchers.release_all()
        self.journal.clear()
        self.webhooks.reset()
        self.allowed_callbacks.remove()
        self.rates.reset()
        self.faults.reset()
        if self.scenario:
            self.faults.use_scenario(self.scenario)
        self.ids.reset()
        self.epoch += 1
        if self.durable is not None:
            await self.durable.wiped()
        if defaults:
            await self._restore_defaults()

    async def _restore_defaults(self) -> None:
        await self.create_account(self.demo_key, self.default_credits)

    # -- clock -------------------------------------------------------------------------
    def set_clock(self, mode: str | None = None, speed: float | None = None) -> None:
        self.clock.set(mode, speed)
        self.scheduler.rearm()

    async def advance(self, seconds: float) -> None:
        """Move simulated time on and fire everything that fell due, in order."""
        self.clock.advance(seconds)
        if self.durable is not None:
            await self.durable.save("clock")
        await self.scheduler.run_due()

    # -- accounts and credits ----------------------------------------------------------
    def authenticate(self, api_key: str) -> Awaitable[Account | None]:
        """The key's account (None: no such key). The store's own awaitable, handed on:
        every request asks, and a wrapping coroutine would cost each one a call."""
        return self.store.get_account(api_key)

    async def _arrived(self, api_key: str) -> Account | None:
        """authenticate on a shared store: the account the edge read as the request
        arrived, if it read this key's (see keys.ARRIVED)."""
        arrived = ARRIVED.get()
        if arrived is not None and arrived[0] == api_key:
            return arrived[1]
        return await self.store.get_account(api_key)

    async def gather_logs(self) -> None:
        """Before the journal or the webhook record is read: on a shared store, what every
        process recorded."""
        if self.durable is not None:
            await self.durable.gather_logs()

    async def clear_journal(self) -> None:
        self.journal.clear()
        if self.durable is not None:
            await self.durable.clear_journal()

    async def create_account(self, api_key: str | None = None, credits: float | None = None,
                             models: list[str] | None = None) -> Account:
        while True:
            # A made-up key is drawn again if taken: a key given earlier, or one made
            # before a reset rewound the id generator, may be the next draw.
            # Keys are unique across sandboxes: the index decides first, the store's
            # insert then (a key kept by a store this index has not heard of).
            key = api_key or "sk-sim-" + self.ids.token(24)
            if await self.keys.claim(key, self.sandbox):
                try:
                    account = await self.store.create_account(
                        Account(key, models=models, created_at=self.now(),
                                webhook_secret=self._secret_for(key)))
                    break
                except KeyError:
                    await self.keys.release(key)
            if api_key:
                raise AccountExists(api_key)
        amount = self.default_credits if credits is None else credits
        if amount:
            account = await self.ledger.grant(key, amount)
        return account

    def _secret_for(self, api_key: str) -> str:
        """A key's callback signing secret: fixed for the key under one seed, without
        drawing from the id generator (so adding accounts shifts no other id)."""
        digest = hmac.new(str(self.ids.seed).encode(), api_key.encode(), hashlib.sha256)
        return "whsec_" + digest.hexdigest()[:40]

    async def account(self, api_key: str) -> Account | None:
        return await self.store.get_account(api_key)

    async def accounts(self) -> list[Account]:
        return await self.store.list_accounts()

    async def grant(self, api_key: str, delta: float) -> Account:
        return await self.ledger.grant(api_key, delta)

    async def ledger_entries(self, api_key: str):
        return await self.ledger.entries(api_key)

    async def charge(self, api_key: str, reference: str, amount: float) -> Account:
        """Bill work that is done as it is asked (no task to wait on); raises
        InsufficientCredits, charging nothing."""
        await self.ledger.hold(api_key, reference, amount)
        return await self.ledger.settle(api_key, reference, amount)

    def may_use_model(self, account: Account, model: str) -> bool:
        return account.models is None or model in account.models

    def rate_limited(self, provider: str, api_key: str) -> Verdict | Awaitable[Verdict]:
        """Spend one of the key's requests with that provider, if it has one left (an
        awaitable verdict when the bucket is on a shared store)."""
        return self.rates.take(provider, api_key)

    # -- tasks -------------------------------------------------------------------------
    def steering(self, *texts: object) -> Steering:
        return read_steering(*texts)

    def compose(self, description: str = "", **asked: Any) -> ClipSpec:
        """A song request, its words drawn from this run's ids (see clips.spec_for)."""
        return spec_for(self.ids, description, **asked)

    def subscribe(self, provider: str, listener: Listener) -> None:
        """Await ``listener(task, event)`` after each state change of that provider's
        tasks; it reads the task as it was written, and changes it only through here."""
        self.progress.subscribe(provider, listener)

    async def submit(self, provider: str, api_key: str, kind: str, *, task_id: str,
                     params: dict[str, Any], cost: float, clips: Iterable[ClipSpec] = (),
                     clip_id: Callable[[], str] | None = None, callback_url: str | None = None,
                     steering: Steering = NO_STEERING, max_duration: float = 240.0,
                     meta: dict[str, Any] | None = None, retention: float | None = None,
                     ttl: float | None = None) -> Task:
        """Hold the credits and start a task; raises InsufficientCredits, charging nothing.

        ``retention`` is how long the dialect keeps a succeeded task's results (None:
        forever); ``[sim:expire]`` shortens a limited one to EXPIRE_SOON (results kept
        forever stay so, as the magic value's description says). ``ttl`` is how long the
        dialect lets a task run: one still unfinished then fails with TIMED_OUT.
        """
        now = self.now()
        steering = steering.merged(requested_steering())
        made = [draw_clip(self.ids, spec, clip_id, max_duration) for spec in clips]
        plan = tuple(lifecycle.plan(kind, self.ids, steering))
        for clip in made:
            clip.upstream_expired = steering.upstream_expired
        task = Task(task_id, provider, kind, api_key, params, now, cost=cost, clips=made,
                    callback_url=callback_url, plan=plan, meta=meta or {},
                    retention=EXPIRE_SOON if steering.expire and retention is not None
                    else retention, ttl=ttl)
        task.history.append((now, "submitted"))
        await self.ledger.begin(task)
        self.progress.begin(task)
        return task

    async def task(self, task_id: str) -> Task | None:
        return await self.progress.read(task_id)

    async def own_task(self, api_key: str, task_id: str, provider: str) -> Task | None:
        """A task of that key and provider; None for any other: a key sees only its own."""
        task = await self.store.get_task(task_id)
        if task is None or task.provider != provider or task.api_key != api_key:
            return None
        return await self.progress.current(task)

    async def tasks(self, provider: str | None = None, status: str | None = None,
                    api_key: str | None = None) -> list[Task]:
        # Stored states may lag behind the plan, so the filter reads each task as it is now.
        found = [await self.progress.current(task)
                 for task in await self.store.list_tasks(provider, None, api_key)]
        if status is None:
            return found
        now = self.now()
        return [task for task in found if task.state(now) == status]

    async def find_clip(self, clip_id: str) -> tuple[Task, Clip] | None:
        found = await self.store.find_clip(clip_id)
        if found is None:
            return None
        task = await self.progress.current(found[0])
        return task, next(clip for clip in task.clips if clip.id == clip_id)

    async def clip_of(self, api_key: str, clip_id: str,
                      provider: str | None = None) -> tuple[Task, Clip] | None:
        """A clip the key made (with that provider, if named), in whatever state, and its
        task; None for a clip of another key: songs are private to the key that paid."""
        found = await self.find_clip(clip_id)
        if found is None:
            return None
        task, _ = found
        if task.api_key != api_key or (provider and task.provider != provider):
            return None
        return found

    async def own_clip(self, api_key: str, clip_id: str,
                       provider: str | None = None) -> Clip | None:
        """A finished clip the key made (with that provider, if named); None otherwise.

        Songs are private to the key that paid for them, and only finished ones can be
        built on; a clip is finished when its own media is, even while a sibling of the
        same task is still being made.
        """
        found = await self.clip_of(api_key, clip_id, provider)
        return found[1] if found is not None and found[0].clip_ready(found[1]) else None

    async def finished_clip(self, clip_id: str) -> Clip | None:
        """The clip, if it exists and is finished, whoever made it."""
        found = await self.find_clip(clip_id)
        return found[1] if found is not None and found[0].clip_ready(found[1]) else None

    async def annotate(self, task_id: str, **meta: Any) -> Task:
        """Record a dialect's own bookkeeping on a task (raises TaskNotFound)."""
        return await self.progress.update(task_id, lambda task: task.meta.update(meta) or True)

    async def note(self, task_id: str, name: str, item: Any) -> Task:
        """Add ``item`` to the list ``name`` of a task's bookkeeping (raises TaskNotFound):
        read and written in one change, so two notes at once both stay."""
        def add(task: Task) -> bool:
            task.meta[name] = [*task.meta.get(name, ()), item]
            return True
        return await self.progress.update(task_id, add)

    async def expire_upstream(self, clip_id: str) -> Clip:
        """Let the upstream account that made the clip expire (raises ClipNotFound)."""
        found = await self.store.find_clip(clip_id)
        if found is None:
            raise ClipNotFound(clip_id)
        index = found[0].clips.index(found[1])

        def expire(task: Task) -> bool:
            task.clips[index].upstream_expired = True
            return True

        return (await self.progress.update(found[0].id, expire)).clips[index]

    # -- personas ----------------------------------------------------------------------
    async def create_persona(self, api_key: str, name: str, source: Clip, *,
                             description: str = "", kind: str = "persona",
                             vox: Clip | None = None) -> Persona:
        persona = Persona(self.ids.uuid(), api_key, name, source.id, self.now(), description,
                          kind, vox.id if vox else None)
        await self.store.put_persona(persona)
        return persona

    async def persona(self, api_key: str, persona_id: str) -> Persona | None:
        persona = await self.store.get_persona(persona_id)
        return persona if persona is not None and persona.api_key == api_key else None

    async def personas(self, api_key: str) -> list[Persona]:
        return await self.store.list_personas(api_key)

    async def delete_persona(self, api_key: str, persona_id: str) -> bool:
        return await self.persona(api_key, persona_id) is not None and \
            await self.store.delete_persona(persona_id)

    # -- waiting on a task ---------------------------------------------------------------
    @contextlib.contextmanager
    def watching(self, task: Task, timeout: float | None = None) -> Iterator[asyncio.Queue]:
        """A queue of the task's events as they happen (see Watchers.watching): from
        here on its events are fired on time, one by one."""
        with self.watchers.watching(task.id, timeout) as queue:
            self.progress.heard_from_now(task)
            yield queue

    async def finish_now(self, task_id: str, outcome: str, reason: str | None = None) -> Task:
        """Settle a task whose answer is the finished work itself: now, or as it already
        ended, since on a fast clock its own plan may have ended it first."""
        try:
            return await self.force_outcome(task_id, outcome, reason)
        except TaskFinished:
            task = await self.progress.read(task_id)
            if task is None:
                raise TaskNotFound(task_id) from None
            return task

    async def force_outcome(self, task_id: str, outcome: str, reason: str | None = None) -> Task:
        """Settle a task now, passing any stages it skipped (for the control plane); one
        already ended raises :class:`TaskFinished`."""
        task = await self.progress.read(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        if task.terminal:
            raise TaskFinished(task_id)
        now = self.now()
        if outcome == "fail":
            events = [lifecycle.failure(reason or "forced_failure")]
        else:
            events = [lifecycle.START] if task.status == QUEUED else []
            names = [name for name, _ in lifecycle.PROFILES[task.kind].stages]
            reached = names.index(task.stage) + 1 if task.stage in names else 0
            events += [lifecycle.STAGE_PREFIX + name for name in names[reached:]]
            events.append(lifecycle.FINISH)
        # One write per event, so the dialect hears each stage with the task as it was.
        for event in events:
            task = await self.progress.transition(task_id, event, now, skip_plan=True) or task
        return task

    # -- callbacks ---------------------------------------------------------------------
    def check_callback(self, url: str, *, https_only: bool, allow_internal: bool,
                       name: str = "callback_url") -> None:
        """Refuse (CallbackRejected) a callback URL the rules forbid, unless the control
        plane allowed it by name."""
        if url in self.allowed_callbacks:
            return
        check_callback_url(url, https_only=https_only, allow_internal=allow_internal,
                           name=name)

    def deliver(self, task: Task, body: bytes, policy: Policy, stage: str,
                headers: dict[str, str] | None = None, signer: Signer | None = None) -> None:
        """Send one of the task's callbacks to its callback URL. Its delivery id comes
        from the task as the dialect heard it, so a delivery made again after a crash
        (see durable.py) carries the same one."""
        if task.callback_url:
            self.webhooks.send(task.callback_url, body, policy, provider=task.provider,
                               task_id=task.id, api_key=task.api_key, stage=stage,
                               headers=headers, signer=signer,
                               number=delivery_id(task.id, task.version, stage))


__all__ = ["DEADLINE", "TIMED_OUT", "CallbackRejected", "ClipNotFound", "ClipSpec", "Engine",
           "InsufficientCredits", "TaskFinished", "TaskNotFound"]
