"""Letting finished tasks go, so a server that runs for days holds a bounded amount.

Two rules, both only ever about finished (succeeded or failed) tasks; a queued or running
task is never let go:

- Results past their dialect's retention: a succeeded task with ``expires_at`` reads as
  expired from then on (``Task.state``), and a dialect with a word for that (orux's
  EXPIRED) keeps saying it for GRACE more; then the task is let go. One scheduler entry
  per such task, armed as it succeeds. A dialect without the word already answers such a
  task as unknown from its expiry on.
- ``max_tasks`` (``--max-tasks``): at most that many finished tasks are kept, across all
  dialects of one engine; past it, the ones that finished first are let go. A task
  someone is still waiting on is kept until they are done.

A task let go is gone as if it never was: the store drops it and its clips' index
entries, and folds its ledger movements into its key's opening entry (see ledger.py), in
one atomic step (``Store.forget_task``). Every dialect then answers it, and its clips,
exactly as it answers an id nobody made; scheduled work, pending callbacks and readers
that meet it gone treat it as wiped.
"""

from __future__ import annotations

from typing import Callable

from .models import Task
from .progress import Progress

# How long a task whose results expired still reads as expired before it is let go: one
# simulated day, long enough for a client polling now and then to see its results lapse.
GRACE = 86_400.0
# The timers a task keeps on the scheduler after it ends (its letting go, and its ttl),
# dropped in batches once the cap has let it go: at least this many tasks at a time.
TIMERS = frozenset({"forget", "ttl"})
DROP_BATCH = 1024


class Retention:
    def __init__(self, progress: Progress, epoch: Callable[[], int],
                 max_tasks: int | None = None):
        self.store, self.watchers = progress.store, progress.watchers
        self.scheduler = progress.scheduler
        self.max_tasks = max_tasks
        # Which tasks are finished and kept, oldest finished first; only with a cap. A
        # reset wipes the tasks, and (its ids rewound) may hand the same ones out again:
        # the list then starts afresh, told by the engine's epoch.
        self._epoch, self._seen_epoch = epoch, -1
        self._finished: dict[str, None] = {}
        # Tasks the cap let go whose timers are still on the scheduler.
        self._gone: set[str] = set()
        progress.ended.append(self.ended)
        self.scheduler.on("forget", self._forget_due)

    async def ended(self, task: Task) -> None:
        """Hear that ``task`` has just finished."""
        if task.expires_at is not None:
            self.scheduler.at(task.expires_at + GRACE, "forget", task.id)
        if self.max_tasks is None:
            return
        finished = self._kept()
        finished[task.id] = None
        if len(finished) <= self.max_tasks:
            return
        chosen = []
        for task_id in finished:  # oldest first, passing over those waited on
            if len(finished) - len(chosen) <= self.max_tasks:
                break
            if not self.watchers.watched(task_id):
                chosen.append(task_id)
        for task_id in chosen:  # off the list before any await, so no one chooses it twice
            del finished[task_id]
        for task_id in chosen:
            await self.store.forget_task(task_id)
        # Their timers would fire days later to find nothing; without this the heap grows
        # with every task made in that time, whatever the cap.
        self._gone.update(chosen)
        if len(self._gone) >= max(DROP_BATCH, self.max_tasks):
            gone, self._gone = self._gone, set()
            self.scheduler.drop(TIMERS, gone)

    async def _forget_due(self, task_id: str, due: float) -> None:
        task = await self.store.get_task(task_id)
        # None: the cap let it go first, or a reset wiped it.
        if task is None or task.expires_at is None or task.expires_at + GRACE > due:
            return
        self._kept().pop(task_id, None)
        await self.store.forget_task(task_id)

    def _kept(self) -> dict[str, None]:
        epoch = self._epoch()
        if epoch != self._seen_epoch:  # the reset cleared the scheduler as well
            self._finished, self._gone, self._seen_epoch = {}, set(), epoch
        return self._finished
