"""The default store: plain dictionaries in this process.

Atomicity comes from the event loop: no operation awaits anything, so no other request
can interleave between a balance check and the movement it guards. It hands out the
records themselves, the fastest way; nothing may rely on that (see CopyingStore).
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from ..models import MOVEMENTS, OPENING, Account, Clip, LedgerEntry, Persona, Task
from .base import InsufficientBalance, StaleWrite

# The movements that end what a hold began.
CLOSING = frozenset({"settle", "release"})


class MemoryStore:
    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self._accounts: dict[str, Account] = {}
        self._ledger: dict[str, Book] = {}
        self._tasks: dict[str, Task] = {}
        self._clips: dict[str, tuple[str, int]] = {}
        self._personas: dict[str, Persona] = {}
        self._ledger_seq = 0
        self._task_seq = 0

    async def reset(self) -> None:
        self._clear()

    async def get_account(self, api_key: str) -> Account | None:
        return self._accounts.get(api_key)

    async def create_account(self, account: Account) -> Account:
        if account.api_key in self._accounts:
            raise KeyError(account.api_key)
        self._accounts[account.api_key] = account
        return account

    async def open_account(self, account: Account, time: float) -> Account:
        if account.api_key in self._accounts:
            raise KeyError(account.api_key)
        self._accounts[account.api_key] = account
        book = self._ledger[account.api_key] = Book()
        book.opening = LedgerEntry(0, account.api_key, time, OPENING, account.granted, None,
                                   account.available, account.held, account.spent)
        return account

    async def list_accounts(self) -> list[Account]:
        return list(self._accounts.values())

    async def move_credits(self, api_key, kind, amount, time, task_id, *, available=0.0,
                           held=0.0, spent=0.0, granted=0.0):
        account = self._accounts[api_key]
        new = [account.available + available, account.held + held,
               account.spent + spent, account.granted + granted]
        if min(new[0], new[1], new[2]) < -1e-9:
            raise InsufficientBalance(api_key, -available, account.available)
        for i, value in enumerate(new):
            if -1e-9 < value < 0.0:  # float dust from repeated movements, not a debt
                new[i] = 0.0
        account.available, account.held, account.spent, account.granted = new
        self._ledger_seq += 1
        book = self._ledger.get(api_key)
        if book is None:
            book = self._ledger[api_key] = Book()
        book.add(LedgerEntry(self._ledger_seq, api_key, time, kind, amount, task_id,
                             account.available, account.held, account.spent),
                 self._tasks.__contains__)
        return account

    async def begin_task(self, task: Task, time: float) -> Account:
        # The class's own steps, never an override's: one step, with nothing between.
        account = await MemoryStore.move_credits(self, task.api_key, "hold", task.cost, time,
                                                 task.id, available=-task.cost,
                                                 held=task.cost)
        await MemoryStore.put_task(self, task)
        return account

    async def ledger(self, api_key: str) -> list[LedgerEntry]:
        book = self._ledger.get(api_key)
        return [] if book is None else book.listing()

    async def put_task(self, task: Task) -> None:
        stored = self._tasks.get(task.id)
        if stored is None:
            if task.version != 0:
                raise StaleWrite(task.id)
            for index, clip in enumerate(task.clips):
                self._clips[clip.id] = (task.id, index)
            self._task_seq += 1
            task.seq = self._task_seq
        elif stored is not task and stored.version != task.version:
            raise StaleWrite(task.id)
        task.version += 1
        self._tasks[task.id] = task

    async def forget_task(self, task_id: str) -> bool:
        task = self._tasks.pop(task_id, None)
        if task is None:
            return False
        for clip in task.clips:
            if self._clips.get(clip.id, ("",))[0] == task_id:
                del self._clips[clip.id]
        book = self._ledger.get(task.api_key)
        if book is not None:
            book.fold(task_id)
        return True

    async def find_clip(self, clip_id: str) -> tuple[Task, Clip] | None:
        where = self._clips.get(clip_id)
        if where is None:
            return None
        task = self._tasks[where[0]]
        return task, task.clips[where[1]]

    async def get_task(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    async def list_tasks(self, provider=None, status=None, api_key=None) -> list[Task]:
        # A dict keeps insertion order: tasks come out in creation (``seq``) order.
        return [task for task in self._tasks.values()
                if (not provider or task.provider == provider)
                and (not status or task.status == status)
                and (not api_key or task.api_key == api_key)]

    async def put_persona(self, persona: Persona) -> None:
        self._personas[persona.id] = persona

    async def get_persona(self, persona_id: str) -> Persona | None:
        return self._personas.get(persona_id)

    async def list_personas(self, api_key: str) -> list[Persona]:
        return [p for p in self._personas.values() if p.api_key == api_key]

    async def delete_persona(self, persona_id: str) -> bool:
        return self._personas.pop(persona_id, None) is not None


class Book:
    """One key's ledger, kept so that folding a task's movements away costs what that task
    made, never a walk of the whole ledger: entries by id (a dict keeps them in id
    order), the ids each task (or other reference) made, and, in the order they came,
    the entries that name no reference and the references that ended while naming no
    kept task (a bill of work done at once), which fold by position alone."""

    __slots__ = ("entries", "refs", "free", "loose", "opening")

    def __init__(self) -> None:
        self.entries: dict[int, LedgerEntry] = {}
        self.refs: dict[str, list[int]] = {}
        self.free: deque[int] = deque()
        self.loose: dict[str, int] = {}  # reference -> the id of the entry that ended it
        self.opening: LedgerEntry | None = None

    def add(self, entry: LedgerEntry, kept: Callable[[str], bool]) -> None:
        self.entries[entry.id] = entry
        ref = entry.task_id
        if ref is None:
            self.free.append(entry.id)
            return
        self.refs.setdefault(ref, []).append(entry.id)
        if entry.kind in CLOSING and not kept(ref):
            self.loose[ref] = entry.id

    def listing(self) -> list[LedgerEntry]:
        entries = list(self.entries.values())
        return entries if self.opening is None else [self.opening, *entries]

    def fold(self, ref: str) -> None:
        """Fold the movements of ``ref`` (a task let go) into the opening entry, with
        every entry up to its newest that belongs to nothing still open or kept: the
        grants (so the opening's available never goes below zero) and ended references.
        A reference whose end comes later stays whole, so the opening holds nothing."""
        own = self.refs.pop(ref, None)
        if not own:
            return
        self.loose.pop(ref, None)
        cut = own[-1]
        folded = [self.entries.pop(i) for i in own]
        while self.free and self.free[0] <= cut:
            folded.append(self.entries.pop(self.free.popleft()))
        while self.loose:
            other, ended = next(iter(self.loose.items()))
            if ended > cut:
                break
            del self.loose[other]
            folded += [self.entries.pop(i) for i in self.refs.pop(other)]
        self.opening = _opening(self.opening, folded)


def _opening(before: LedgerEntry | None, folded: list[LedgerEntry]) -> LedgerEntry:
    """The opening entry standing for ``before`` (the previous one, if any) and the
    ``folded`` entries: id 0, so it sorts first wherever a page starts."""
    if before is None:
        totals, time = [0.0, 0.0, 0.0, 0.0], folded[0].time
    else:
        totals, time = [before.available, before.held, before.spent, before.amount], before.time
    for entry in folded:
        for i, per_credit in enumerate(MOVEMENTS[entry.kind]):
            totals[i] += per_credit * entry.amount
        time = max(time, entry.time)
    available, held, spent, granted = (0.0 if -1e-9 < value < 0.0 else value
                                       for value in totals)
    return LedgerEntry(0, folded[0].api_key, time, OPENING, granted, None, available, held,
                       spent)
