"""One timer heap for every scheduled event of every task.

Entries are plain tuples ``(due, seq, kind, ref)`` on a heap; a single asyncio timer is
armed for the earliest one. There is no coroutine or timer object per task, so a
hundred thousand tasks in flight cost a hundred thousand small tuples. Handlers are
coroutines (they read and write the store); one run at a time fires what is due, in
order, so a clock advance has run everything it covers when it returns.

The timer wakes at most once per WAKE_SLACK of wall time: under a steady stream of
tasks an entry falls due every few hundred microseconds, and one wake per entry would
cost more than the entries themselves. Each waits at most that much longer.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from typing import Any, Awaitable, Callable

from .clock import Clock

log = logging.getLogger(__name__)

Handler = Callable[[Any, float], Awaitable[None]]
WAKE_SLACK = 0.002  # wall seconds


class Scheduler:
    def __init__(self, clock: Clock):
        self.clock = clock
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = itertools.count()
        self._handlers: dict[str, Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for: float | None = None
        self.lateness: list[float] = []  # wall seconds each fired entry was late, when recording
        self.record_lateness = False
        self._firing = False
        self._running: asyncio.Lock | None = None
        self._run: asyncio.Task | None = None

    def __len__(self) -> int:
        """Entries still to fire."""
        return len(self._heap)

    def on(self, kind: str, handler: Handler) -> None:
        """Register the handler for entries of ``kind``: ``handler(ref, due)``."""
        self._handlers[kind] = handler

    def at(self, due: float, kind: str, ref: Any) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), kind, ref))
        if not self._firing and (self._armed_for is None or due < self._armed_for):
            self._arm()

    def clear(self) -> None:
        self._heap.clear()
        self._arm()

    def drop(self, kinds: frozenset[str], refs: set) -> None:
        """Remove the entries of those kinds for those refs (timers of tasks let go,
        which would only fire to find nothing): the heap stays as large as the work still
        to come. A rebuild, so callers gather refs and drop them in batches. In place: a
        run in progress holds the list."""
        self._heap[:] = [entry for entry in self._heap
                         if entry[2] not in kinds or entry[3] not in refs]
        heapq.heapify(self._heap)
        self._arm()

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._arm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._armed_for, self._loop = None, None, None

    async def run_due(self) -> int:
        """Fire every entry due by the clock's now, in due order; returns how many fired."""
        if self._running is None:
            self._running = asyncio.Lock()
        async with self._running:
            fired = 0
            heap = self._heap
            self._firing = True
            now = self.clock.now()
            try:
                while heap:
                    if heap[0][0] > now:  # time passed while handlers ran: look again
                        now = self.clock.now()
                        if heap[0][0] > now:
                            break
                    due, _, kind, ref = heapq.heappop(heap)
                    if self.record_lateness and self.clock.speed:
                        self.lateness.append((self.clock.now() - due) / self.clock.speed)
                    try:
                        await self._handlers[kind](ref, due)
                    except Exception:  # one broken entry must not stall every other task
                        log.exception("scheduled %s for %r failed", kind, ref)
                    fired += 1
            finally:
                self._firing = False
                self._arm()
            return fired

    def _wake(self) -> None:
        """The timer's callback: one run at a time (a run in progress picks up the rest)."""
        self._timer, self._armed_for = None, None
        if self._run is None or self._run.done():
            self._run = self._loop.create_task(self.run_due())

    def rearm(self) -> None:
        """Recompute the wake-up after the clock changed mode, speed or time."""
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed_for = None
        if not self._heap or self._loop is None:
            return
        due = self._heap[0][0]
        # Something already due (added after a run, by work that finished later) runs at
        # once, even on a manual clock, so one advance runs everything it covers.
        now = self.clock.now()
        delay = 0.0 if due <= now else self.clock.wall_delay(due - now)
        if delay is None:
            return
        if delay:
            delay = max(delay, WAKE_SLACK)
        self._armed_for = due
        self._timer = self._loop.call_later(delay, self._wake)
