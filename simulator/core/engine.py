"""The engine: the one place where behaviour is decided.

Providers translate wire requests into calls on :class:`Engine` and render what it
returns; they never touch the clock, the ledger, the store or the scheduler themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from . import lifecycle, songwriter
from .clock import Clock
from .ids import Ids
from .journal import Journal
from .ledger import InsufficientCredits, Ledger
from .magic import NO_STEERING, Steering, read_steering
from .models import EXPIRED, FAILED, QUEUED, RUNNING, SUCCEEDED, Account, Clip, Persona, Task
from .recipes import Audio, Song
from .faults import Faults, requested_steering
from .ratelimit import Limit, RateLimiter, Verdict
from .scheduler import Scheduler
from .store import open_store
from .webhooks import Allowed, CallbackRejected, Policy, Signer, Webhooks, check_callback_url

log = logging.getLogger(__name__)

# With --seed, simulated time starts here, so timestamps (and ids built from them) repeat.
SEEDED_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z

Listener = Callable[[Task, str], None]
# What a watcher receives when its deadline passes before the task ends.
DEADLINE = "deadline"
# How long a task's results last when its request carries [sim:expire].
EXPIRE_SOON = 60.0
# The failure reason of a task that outran its dialect's ttl.
TIMED_OUT = "timed_out"


class TaskNotFound(KeyError):
    pass


class ClipNotFound(KeyError):
    pass


class TaskFinished(ValueError):
    """The task is already terminal; its outcome cannot change."""


@dataclass(frozen=True)
class ClipSpec:
    """What the caller asked of one song; the engine adds id, audio seed and duration.

    A field left None is written from ``description`` with ``text_seed``, so the
    variations of one request share their words, as on the real service.
    """

    title: str | None
    tags: str | None
    lyrics: str | None
    instrumental: bool
    description: str
    text_seed: int
    # For derived audio: builds the recipe from the fresh song the engine drew for this
    # clip (its seed, duration and style), e.g. an extension's new tail.
    derive: Callable[[Song], Audio] | None = None
    lineage: dict[str, Any] | None = None


class Engine:
    def __init__(self, *, seed: int | None = None, clock_mode: str = "fast",
                 speed: float | None = None, state: str = "memory",
                 default_credits: float = 10_000.0, demo_key: str = "sk-musicsim-demo",
                 journal_entries: int = 10_000, journal_body: int = 16_384,
                 rate_limits: dict[str, Limit] | None = None,
                 scenarios: dict[str, dict] | None = None, scenario: str | None = None):
        self.ids = Ids(seed)
        self.clock = Clock(clock_mode, speed, SEEDED_EPOCH if seed is not None else None)
        self.scheduler = Scheduler(self.clock)
        self.scheduler.on("task", self._task_due)
        self.scheduler.on("deadline", self._deadline_due)
        self.scheduler.on("ttl", self._ttl_due)
        self.store = open_store(state)
        self.ledger = Ledger(self.store, self.clock)
        self.journal = Journal(journal_entries, journal_body)
        self.rates = RateLimiter(rate_limits)
        self.faults = Faults(seed, scenarios)
        self.webhooks = Webhooks(self.scheduler, self.clock, self.faults)
        self.allowed_callbacks = Allowed()
        self.scenario = scenario
        if scenario:
            self.faults.use_scenario(scenario)
        self.default_credits = default_credits
        self.demo_key = demo_key
        self._listeners: dict[str, list[Listener]] = {}
        self._watchers: dict[str, list[asyncio.Queue]] = {}
        self._restore_defaults()

    # -- lifecycle of the engine itself ------------------------------------------------
    def start(self) -> None:
        self.scheduler.start()

    async def stop(self) -> None:
        self.scheduler.stop()
        await self.webhooks.close()

    def reset(self) -> None:
        """Wipe all state and restore the default accounts; the clock keeps its mode."""
        self.scheduler.clear()
        self.store.reset()
        for queues in self._watchers.values():
            for queue in queues:
                queue.put_nowait(DEADLINE)
        self.journal.clear()
        self.webhooks.reset()
        self.allowed_callbacks.remove()
        self.rates.reset()
        self.faults.reset()
        if self.scenario:
            self.faults.use_scenario(self.scenario)
        self.ids.reset()
        self._restore_defaults()

    def _restore_defaults(self) -> None:
        self.create_account(self.demo_key, self.default_credits)

    def now(self) -> float:
        return self.clock.now()

    # -- clock -------------------------------------------------------------------------
    def set_clock(self, mode: str | None = None, speed: float | None = None) -> None:
        self.clock.set(mode, speed)
        self.scheduler.rearm()

    def advance(self, seconds: float) -> None:
        """Move simulated time on and fire everything that fell due, in order."""
        self.clock.advance(seconds)
        self.scheduler.run_due()

    # -- accounts and credits ----------------------------------------------------------
    def authenticate(self, api_key: str | None) -> Account | None:
        return self.store.get_account(api_key) if api_key else None

    def create_account(self, api_key: str | None = None, credits: float | None = None,
                       models: list[str] | None = None) -> Account:
        key = api_key or "sk-sim-" + self.ids.token(24)
        account = self.store.create_account(Account(key, models=models, created_at=self.now(),
                                                    webhook_secret=self._secret_for(key)))
        amount = self.default_credits if credits is None else credits
        if amount:
            self.ledger.grant(key, amount)
        return account

    def _secret_for(self, api_key: str) -> str:
        """A key's callback signing secret: fixed for the key under one seed, without
        drawing from the id generator (so adding accounts shifts no other id)."""
        digest = hmac.new(str(self.ids.seed).encode(), api_key.encode(), hashlib.sha256)
        return "whsec_" + digest.hexdigest()[:40]

    def account(self, api_key: str) -> Account | None:
        return self.store.get_account(api_key)

    def accounts(self) -> list[Account]:
        return self.store.list_accounts()

    def grant(self, api_key: str, delta: float) -> Account:
        return self.ledger.grant(api_key, delta)

    def ledger_entries(self, api_key: str):
        return self.ledger.entries(api_key)

    def charge(self, api_key: str, reference: str, amount: float) -> Account:
        """Bill work that is done as it is asked (no task to wait on); raises
        InsufficientCredits, charging nothing."""
        self.ledger.hold(api_key, reference, amount)
        return self.ledger.settle(api_key, reference, amount)

    def may_use_model(self, account: Account, model: str) -> bool:
        return account.models is None or model in account.models

    def rate_limited(self, provider: str, api_key: str) -> Verdict:
        """Spend one of the key's requests with that provider, if it has one left."""
        return self.rates.take(provider, api_key)

    # -- tasks -------------------------------------------------------------------------
    def steering(self, *texts: object) -> Steering:
        return read_steering(*texts)

    def compose(self, description: str = "", *, title: str | None = None,
                tags: str | None = None, lyrics: str | None = None,
                instrumental: bool = False, derive: Callable[[Song], Audio] | None = None,
                lineage: dict[str, Any] | None = None, avoid: str | None = None) -> ClipSpec:
        """A song request; whatever the caller left out is written from its description.

        ``avoid`` (negative tags) keeps the styles it names out of the song's tags,
        given or written, and so out of the music made from them.
        """
        text_seed = self.ids.seed32()
        if avoid:
            tags = songwriter.tags_from(description, text_seed, avoid) if tags is None \
                else songwriter.without_avoided(tags, avoid)
        return ClipSpec(title, tags, lyrics, instrumental, description, text_seed, derive,
                        lineage)

    def subscribe(self, provider: str, listener: Listener) -> None:
        """Call ``listener(task, event)`` after each state change of that provider's tasks."""
        self._listeners.setdefault(provider, []).append(listener)

    def submit(self, provider: str, api_key: str, kind: str, *, task_id: str,
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
        self.ledger.hold(api_key, task_id, cost)
        made = [self._clip(spec, clip_id, max_duration) for spec in clips]
        for clip in made:
            clip.upstream_expired = steering.upstream_expired
        task = Task(task_id, provider, kind, api_key, params, now, cost=cost, clips=made,
                    callback_url=callback_url,
                    plan=lifecycle.plan(kind, self.ids, steering), meta=meta or {},
                    retention=EXPIRE_SOON if steering.expire and retention is not None
                    else retention)
        task.history.append((now, "submitted"))
        self.store.put_task(task)
        self._schedule_next(task)
        if ttl is not None:
            self.scheduler.at(now + ttl, "ttl", task_id)
        return task

    def _clip(self, spec: ClipSpec, clip_id: Callable[[], str] | None,
              max_duration: float) -> Clip:
        if spec.instrumental:
            sung = 0
        elif spec.lyrics is None:
            sung = songwriter.WRITTEN_SUNG_LINES
        else:
            sung = songwriter.sung_lines(spec.lyrics)
        clip = Clip(clip_id() if clip_id else self.ids.uuid(), self.ids.seed32(),
                    songwriter.duration_for(sung, self.ids, max_duration), spec.instrumental,
                    spec.description, spec.text_seed, spec.title, spec.tags, spec.lyrics,
                    lineage=spec.lineage)
        if spec.derive is not None:
            clip.derived = spec.derive(Song(clip.seed, clip.duration, clip.tags,
                                            clip.instrumental, songwriter.form_of(clip.lyrics)))
            clip.duration = round(clip.derived.duration, 2)
        return clip

    def task(self, task_id: str) -> Task | None:
        return self.store.get_task(task_id)

    def tasks(self, provider: str | None = None, status: str | None = None,
              api_key: str | None = None) -> Iterable[Task]:
        if status not in (SUCCEEDED, EXPIRED):
            return self.store.list_tasks(provider, status, api_key)
        now = self.now()  # expiry is read from the clock, so filter on the state now
        return (t for t in self.store.list_tasks(provider, SUCCEEDED, api_key)
                if t.state(now) == status)

    def find_clip(self, clip_id: str) -> tuple[Task, Clip] | None:
        return self.store.find_clip(clip_id)

    def clip_of(self, api_key: str, clip_id: str,
                provider: str | None = None) -> tuple[Task, Clip] | None:
        """A clip the key made (with that provider, if named), in whatever state, and its
        task; None for a clip of another key: songs are private to the key that paid."""
        found = self.store.find_clip(clip_id)
        if found is None:
            return None
        task, _ = found
        if task.api_key != api_key or (provider and task.provider != provider):
            return None
        return found

    def own_clip(self, api_key: str, clip_id: str, provider: str | None = None) -> Clip | None:
        """A finished clip the key made (with that provider, if named); None otherwise.

        Songs are private to the key that paid for them, and only finished ones can be
        built on; a clip is finished when its own media is, even while a sibling of the
        same task is still being made.
        """
        found = self.clip_of(api_key, clip_id, provider)
        return found[1] if found is not None and found[0].clip_ready(found[1]) else None

    def finished_clip(self, clip_id: str) -> Clip | None:
        """The clip, if it exists and is finished, whoever made it."""
        found = self.store.find_clip(clip_id)
        return found[1] if found is not None and found[0].clip_ready(found[1]) else None

    def annotate(self, task_id: str, **meta: Any) -> Task:
        """Record a dialect's own bookkeeping on a task through the store, so every
        reader sees it on its next read (raises TaskNotFound)."""
        task = self.store.get_task(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        task.meta.update(meta)
        self.store.put_task(task)
        return task

    def expire_upstream(self, clip_id: str) -> Clip:
        """Let the upstream account that made the clip expire (raises ClipNotFound)."""
        found = self.store.find_clip(clip_id)
        if found is None:
            raise ClipNotFound(clip_id)
        task, clip = found
        clip.upstream_expired = True
        self.store.put_task(task)
        return clip

    # -- personas ----------------------------------------------------------------------
    def create_persona(self, api_key: str, name: str, source: Clip, *, description: str = "",
                       kind: str = "persona", vox: Clip | None = None) -> Persona:
        persona = Persona(self.ids.uuid(), api_key, name, source.id, self.now(), description,
                          kind, vox.id if vox else None)
        self.store.put_persona(persona)
        return persona

    def persona(self, api_key: str, persona_id: str) -> Persona | None:
        persona = self.store.get_persona(persona_id)
        return persona if persona is not None and persona.api_key == api_key else None

    def personas(self, api_key: str) -> list[Persona]:
        return self.store.list_personas(api_key)

    def delete_persona(self, api_key: str, persona_id: str) -> bool:
        return self.persona(api_key, persona_id) is not None and \
            self.store.delete_persona(persona_id)

    # -- waiting on a task ---------------------------------------------------------------
    @contextlib.contextmanager
    def watching(self, task: Task, timeout: float | None = None) -> Iterator[asyncio.Queue]:
        """A queue of the task's events as they happen, for answers that wait or stream.

        With ``timeout`` (simulated seconds from now), DEADLINE is queued if the task has
        not ended by then, so a waiting request never outlives a stuck task.
        """
        queue: asyncio.Queue = asyncio.Queue()
        self._watchers.setdefault(task.id, []).append(queue)
        if timeout is not None:
            self.scheduler.at(self.now() + timeout, "deadline", (task.id, id(queue)))
        try:
            yield queue
        finally:
            queues = self._watchers.get(task.id, [])
            if queue in queues:
                queues.remove(queue)
            if not queues:
                self._watchers.pop(task.id, None)

    def _deadline_due(self, ref: tuple[str, int], due: float) -> None:
        task_id, queue_id = ref
        for queue in self._watchers.get(task_id, ()):
            if id(queue) == queue_id:
                queue.put_nowait(DEADLINE)

    def force_outcome(self, task_id: str, outcome: str, reason: str | None = None) -> Task:
        """Settle a task now, passing any stages it skipped: for the control plane, and
        for a dialect whose answer is the finished work itself."""
        task = self.store.get_task(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        if task.terminal:
            raise TaskFinished(task_id)
        now = self.now()
        task.step = len(task.plan)  # entries still on the heap for it become stale
        if outcome == "fail":
            self._apply(task, lifecycle.failure(reason or "forced_failure"), now)
            return task
        if task.status == QUEUED:
            self._apply(task, lifecycle.START, now)
        names = [name for name, _ in lifecycle.PROFILES[task.kind].stages]
        reached = names.index(task.stage) + 1 if task.stage in names else 0
        for name in names[reached:]:
            self._apply(task, lifecycle.STAGE_PREFIX + name, now)
        self._apply(task, lifecycle.FINISH, now)
        return task

    # -- the scheduler's side ----------------------------------------------------------
    def _ttl_due(self, task_id: str, due: float) -> None:
        task = self.store.get_task(task_id)
        if task is not None and not task.terminal:
            task.step = len(task.plan)
            self._apply(task, lifecycle.failure(TIMED_OUT), due)

    def _schedule_next(self, task: Task) -> None:
        if task.step < len(task.plan):
            offset, _ = task.plan[task.step]
            self.scheduler.at(task.created_at + offset, "task", (task.id, task.step))

    def _task_due(self, ref: tuple[str, int], due: float) -> None:
        task_id, step = ref
        task = self.store.get_task(task_id)
        if task is None or task.terminal or task.step != step:
            return
        _, event = task.plan[step]
        task.step += 1
        self._apply(task, event, due)
        self._schedule_next(task)

    def _apply(self, task: Task, event: str, at: float) -> None:
        if event == lifecycle.START:
            task.status, task.started_at = RUNNING, at
            ends = [o for o, e in task.plan if lifecycle.is_end(e)]
            task.eta = task.created_at + ends[-1] if ends else None
        elif event.startswith(lifecycle.STAGE_PREFIX):
            task.stage = event[len(lifecycle.STAGE_PREFIX):]
        elif event == lifecycle.FINISH:
            task.status, task.stage, task.finished_at = SUCCEEDED, "complete", at
            if task.retention is not None:
                task.expires_at = at + task.retention
            self.ledger.settle(task.api_key, task.id, task.cost)
        elif lifecycle.is_failure(event):
            code = lifecycle.failure_reason(event)
            task.status, task.finished_at = FAILED, at
            task.error = {"code": code, "message": _FAILURE_MESSAGES.get(
                code, f"Generation failed: {code.replace('_', ' ')}")}
            self.ledger.release(task.api_key, task.id, task.cost)
        task.history.append((at, event))
        self.store.put_task(task)
        for listener in self._listeners.get(task.provider, ()):
            try:
                listener(task, event)
            except Exception:  # a dialect's side effect must never undo a transition
                log.exception("listener for %s failed on %s %s", task.provider, task.id, event)
        # Watchers hear of the event after the dialect's own side effects are done.
        for queue in self._watchers.get(task.id, ()):
            queue.put_nowait(event)

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
        """Send one of the task's callbacks to its callback URL."""
        if task.callback_url:
            self.webhooks.send(task.callback_url, body, policy, provider=task.provider,
                               task_id=task.id, api_key=task.api_key, stage=stage,
                               headers=headers, signer=signer)


_FAILURE_MESSAGES = {
    "generation_failed": "Music generation failed upstream; no credits were charged",
    "content_moderation": "The request was rejected by content moderation",
    "forced_failure": "The task was failed through the control plane",
    TIMED_OUT: "The task did not finish in the time the service allows; no credits were "
               "charged",
}

__all__ = ["DEADLINE", "TIMED_OUT", "CallbackRejected", "ClipNotFound", "ClipSpec", "Engine",
           "InsufficientCredits", "TaskFinished", "TaskNotFound"]
