"""How a task moves: its plan applied as time passes, events from outside it, and the one
write path every change to a task takes.

A task's plan is walked on the scheduler only where its events are heard as they
happen: a task with a callback URL or a waiting request gets each event on time; any
other gets one timer, for its end, and the events before it are applied when the task
is next read or ends, whichever comes first. Every read goes through
:meth:`Progress.current`, so no reader can tell the difference, and a task nobody looks
at costs one write instead of one per stage.

While a task's events are written and heard, a read from anywhere else waits for them:
a dialect may note something on the task as it hears an event, and no reader sees the
event without the note.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Awaitable, Callable, Iterator

from . import lifecycle
from .clock import Clock
from .ledger import Ledger
from .lifecycle import TIMED_OUT
from .models import Task
from .scheduler import Scheduler
from .store import StaleWrite, Store
from .watchers import Watchers

log = logging.getLogger(__name__)

# A dialect's listener hears every event of its tasks, in order. Events that fell due
# unheard are applied in one write; the listener then hears each with the task as it is
# after the last of them.
Listener = Callable[[Task, str], Awaitable[None]]
# Times a change is tried again after the task changed under it before it gives up.
RETRIES = 20
# The longest a read waits for a task's events to be heard: a listener that reads
# another task being moved meanwhile must not stall both.
SETTLE_WAIT = 1.0


class TaskNotFound(KeyError):
    pass


class Progress:
    def __init__(self, store: Store, clock: Clock, scheduler: Scheduler, watchers: Watchers,
                 ledger: Ledger, durable: bool = False):
        self.store = store
        # On a store that outlives the process, events are written with a mark that they
        # are still to be heard by this process (``hearer``), cleared once they are: see
        # resume().
        self.durable = durable
        self.hearer = ""
        self.clock = clock
        self.scheduler = scheduler
        self.watchers = watchers
        self.ledger = ledger
        self.listeners: dict[str, list[Listener]] = {}
        # Who hears that a task has ended, after its dialect and watchers did: what lets
        # finished tasks go (see retention.py), so it never pulls one from under them.
        self.ended: list[Callable[[Task], Awaitable[None]]] = []
        # Tasks whose events are being written and heard: who is moving each, and when
        # it is done.
        self._moving: dict[str, tuple[asyncio.Task | None, asyncio.Future]] = {}
        scheduler.on("task", self._task_due)
        scheduler.on("ttl", self._ttl_due)

    def subscribe(self, provider: str, listener: Listener) -> None:
        self.listeners.setdefault(provider, []).append(listener)

    # -- writing ---------------------------------------------------------------------------
    async def update(self, task_id: str, change: Callable[[Task], bool]) -> Task:
        """Read the task, ``change`` it, write it back; again from a fresh read when it
        changed meanwhile. ``change`` returns False to write nothing."""
        for _ in range(RETRIES):
            task = await self.store.get_task(task_id)
            if task is None:
                raise TaskNotFound(task_id)
            if not change(task):
                return task
            try:
                await self.store.put_task(task)
            except StaleWrite:
                continue
            return task
        raise RuntimeError(f"task {task_id} kept changing under an update")

    async def transition(self, task_id: str, event: str, at: float, *,
                         skip_plan: bool = False) -> Task | None:
        """Apply an event from outside the plan (a forced outcome, a timeout); None when
        the task had already ended. ``skip_plan``: the rest of the plan is dropped."""
        applied = False

        def change(task: Task) -> bool:
            nonlocal applied
            applied = not task.terminal
            if applied:
                if skip_plan:
                    task.step = len(task.plan)
                lifecycle.apply(task, event, at)
                if self.durable:
                    task.unheard, task.hearer = (*task.unheard, event), self.hearer
            return applied

        with self._moving_task(task_id):
            task = await self.update(task_id, change)
            if not applied:
                return None
            task = await self._applied(task, [event])
        return task

    # -- the plan ----------------------------------------------------------------------------
    def begin(self, task: Task) -> None:
        """Arm a task just stored: each event if it is heard, else only its end; and the
        dialect's time limit, if it has one."""
        self._schedule(task, task.step if self._heard(task) else _end_step(task))
        if task.ttl is not None:
            self.scheduler.at(task.created_at + task.ttl, "ttl", task.id)

    async def resume(self, gone: Callable[[str], Awaitable[bool]]) -> int:
        """On a store that outlived a process: hear what was written but not heard by a
        process now ``gone`` (settling its credits unless the ledger shows them settled),
        and arm every task still under way; how many tasks were armed. A task whose
        events fell due while no process ran gets them on its next read or timer."""
        armed = 0
        for task in await self.store.list_tasks():
            if task.unheard and await gone(task.hearer):
                await self._hear_again(task)
            if not task.terminal:
                self.begin(task)
                armed += 1
        return armed

    async def _hear_again(self, task: Task) -> None:
        events = list(task.unheard)
        closed = {entry.kind for entry in await self.ledger.entries(task.api_key)
                  if entry.task_id == task.id}
        with self._moving_task(task.id):
            if "settle" in closed or "release" in closed:
                await self._tell(task, events)
                await self._heard_all(task)
            else:
                await self._applied(task, events)

    def heard_from_now(self, task: Task) -> None:
        """Someone now waits on the task: its events are fired on time from here on."""
        self._schedule(task, task.step)

    async def read(self, task_id: str) -> Task | None:
        """The task as it is now (see current); None if there is none."""
        return await self.current(await self.store.get_task(task_id))

    async def current(self, task: Task | None) -> Task | None:
        """The task with every event of its plan that has fallen due applied (read again
        afterwards: the dialect may have noted something on it as it heard them)."""
        if task is None:
            return None
        moving = self._moving.get(task.id)
        if moving is not None and moving[0] is not asyncio.current_task():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(moving[1]), SETTLE_WAIT)
            task = await self.store.get_task(task.id)
            if task is None:
                return None
        if not self._behind(task):
            return task
        try:
            await self._fire(task.id, None)
        except TaskNotFound:
            return None  # wiped by a reset, or let go, while it was read
        return await self.store.get_task(task.id)

    def _heard(self, task: Task) -> bool:
        """Whether anyone hears the task's events as they happen."""
        return bool(task.callback_url) or self.watchers.watched(task.id)

    def _schedule(self, task: Task, step: int | None) -> None:
        if step is not None and step < len(task.plan) and not task.terminal:
            self.scheduler.at(task.created_at + task.plan[step][0], "task", (task.id, step))

    def _behind(self, task: Task) -> bool:
        """Whether an event of the task's plan has fallen due and is not applied yet."""
        return task.step < len(task.plan) and \
            task.created_at + task.plan[task.step][0] <= self.clock.now()

    async def _task_due(self, ref: tuple[str, int], due: float) -> None:
        task_id, step = ref
        try:
            await self._fire(task_id, step)
        except TaskNotFound:
            return  # wiped by a reset, or let go

    async def _ttl_due(self, task_id: str, due: float) -> None:
        task = await self.read(task_id)
        if task is not None and not task.terminal:
            await self.transition(task_id, lifecycle.failure(TIMED_OUT), due, skip_plan=True)

    async def _fire(self, task_id: str, upto: int | None) -> None:
        """Apply the task's plan events up to step ``upto`` (None: all that are due by
        now), each at its planned time. A heard task gets one write per event, any other
        one write for them all."""
        now = self.clock.now()
        fired: list[str] = []

        def change(task: Task) -> bool:
            fired.clear()
            heard = self._heard(task)
            while task.step < len(task.plan) and not task.terminal \
                    and (upto is None or task.step <= upto):
                offset, event = task.plan[task.step]
                due = task.created_at + offset
                if upto is None and due > now:
                    break
                task.step += 1
                lifecycle.apply(task, event, due)
                fired.append(event)
                if heard:
                    break
            if fired and self.durable:
                task.unheard, task.hearer = (*task.unheard, *fired), self.hearer
            return bool(fired)

        with self._moving_task(task_id):
            while True:
                task = await self.update(task_id, change)
                if not fired:
                    return
                task = await self._applied(task, fired)
                if not self._heard(task):
                    return
                self._schedule(task, task.step)

    @contextlib.contextmanager
    def _moving_task(self, task_id: str) -> Iterator[None]:
        """Mark the task as being moved by the running asyncio task, which reads it
        freely (its listeners included); any other reader waits until it is done."""
        done = asyncio.get_running_loop().create_future()
        mark = self._moving[task_id] = (asyncio.current_task(), done)
        try:
            yield
        finally:
            if self._moving.get(task_id) is mark:
                del self._moving[task_id]
            done.set_result(None)

    async def _heard_all(self, task: Task) -> Task:
        """Clear the mark of events still to be heard, once they are (see resume)."""
        def clear(stored: Task) -> bool:
            had, stored.unheard = stored.unheard, ()
            return bool(had)
        try:
            return await self.update(task.id, clear)
        except TaskNotFound:
            return task  # let go as it ended (see retention.py): nothing is left to mark

    async def _applied(self, task: Task, events: list[str]) -> Task:
        """Settle the credits of the events just written, then tell the dialect and the
        watchers, in order; the task after (its mark of unheard events cleared, on a
        store that outlives the process)."""
        if events[-1] == lifecycle.FINISH:
            await self.ledger.settle(task.api_key, task.id, task.cost)
        elif lifecycle.is_failure(events[-1]):
            await self.ledger.release(task.api_key, task.id, task.cost)
        await self._tell(task, events)
        return await self._heard_all(task) if self.durable else task

    async def _tell(self, task: Task, events: list[str]) -> None:
        listeners = self.listeners.get(task.provider, ())
        for event in events:
            for listener in listeners:
                try:
                    await listener(task, event)
                except Exception:  # a dialect's side effect must never undo a transition
                    log.exception("listener for %s failed on %s %s", task.provider, task.id,
                                  event)
            # Watchers hear of the event after the dialect's own side effects are done.
            self.watchers.tell(task.id, event)
        if lifecycle.is_end(events[-1]):
            for hear in self.ended:
                try:
                    await hear(task)
                except Exception:  # keeping a task too long must not undo its end
                    log.exception("ending %s failed", task.id)


def _end_step(task: Task) -> int | None:
    """The step of the plan that ends the task: its last, if the plan ends it at all."""
    return len(task.plan) - 1 if task.plan and lifecycle.is_end(task.plan[-1][1]) else None
