"""Requests that wait for a task, or stream it: each holds a queue that hears every
event of the task, and reads the task again when one arrives (the store may hand out
copies, so a task object never changes under its reader)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Iterator

from .clock import Clock
from .scheduler import Scheduler

# What a watcher receives when its deadline passes before the task ends.
DEADLINE = "deadline"


class Watchers:
    def __init__(self, scheduler: Scheduler, clock: Clock):
        self.scheduler, self.clock = scheduler, clock
        self._queues: dict[str, list[asyncio.Queue]] = {}
        scheduler.on("deadline", self._deadline_due)

    @contextlib.contextmanager
    def watching(self, task_id: str, timeout: float | None = None) -> Iterator[asyncio.Queue]:
        """A queue of the task's events as they happen: each one says "read the task
        again" (DEADLINE: stop waiting). With ``timeout`` (simulated seconds from now),
        DEADLINE is queued if the task has not ended by then, so a waiting request never
        outlives a stuck task."""
        queue: asyncio.Queue = asyncio.Queue()
        self._queues.setdefault(task_id, []).append(queue)
        if timeout is not None:
            self.scheduler.at(self.clock.now() + timeout, "deadline", (task_id, id(queue)))
        try:
            yield queue
        finally:
            queues = self._queues.get(task_id, [])
            if queue in queues:
                queues.remove(queue)
            if not queues:
                self._queues.pop(task_id, None)

    def watched(self, task_id: str) -> bool:
        return task_id in self._queues

    def tell(self, task_id: str, event: str) -> None:
        for queue in self._queues.get(task_id, ()):
            queue.put_nowait(event)

    def release_all(self) -> None:
        """Let every waiter go (the state they wait on was wiped)."""
        for queues in self._queues.values():
            for queue in queues:
                queue.put_nowait(DEADLINE)

    async def _deadline_due(self, ref: tuple[str, int], due: float) -> None:
        task_id, queue_id = ref
        for queue in self._queues.get(task_id, ()):
            if id(queue) == queue_id:
                queue.put_nowait(DEADLINE)
