"""Credits: held on submit, settled on success, released on failure.

For every account, ``available + held + spent == granted`` after every movement, and no
balance is ever negative; the store applies each movement atomically, so two concurrent
submits can never both spend the same credits.

A ledger is as bounded as the tasks it is about. When a task is let go (see
retention.py), its movements fold, in the same atomic step, into the key's one entry of
kind ``opening``, together with every other movement of that key up to the task's newest
that belongs to no task still kept (nor to anything still held): grants up to there
fold too, so each hold it absorbs was covered by grants made before it and its available
never goes below zero. The opening entry is always first, with id 0 (so a page cursor
never passes it); ``task_id`` is null, ``amount`` the credits granted among what it
folds, and ``available``/``held``/``spent`` the totals of what it folds (held is 0:
every task it folds had finished). The entries still add up: start from the opening's
available, held, spent and granted (its amount), apply each following entry's movement
in order (``models.MOVEMENTS``: a grant adds to available and granted, a hold moves
available to held, a settle held to spent, a release held back to available), and you
reach the account's balances. Each following entry keeps the balances it recorded when
it was made.
"""

from __future__ import annotations

from .clock import Clock
from .models import Account, LedgerEntry, Task
from .store import InsufficientBalance, Store


class InsufficientCredits(Exception):
    def __init__(self, needed: float, available: float):
        super().__init__(f"needs {needed} credits, {available} available")
        self.needed, self.available = needed, available


class Ledger:
    def __init__(self, store: Store, clock: Clock):
        self.store, self.clock = store, clock

    async def grant(self, api_key: str, delta: float) -> Account:
        """Add (or, when negative, withdraw) available credits."""
        try:
            return await self.store.move_credits(api_key, "grant", delta, self.clock.now(), None,
                                           available=delta, granted=delta)
        except InsufficientBalance as exc:
            raise InsufficientCredits(-delta, exc.available) from None

    async def hold(self, api_key: str, task_id: str, amount: float) -> Account:
        try:
            return await self.store.move_credits(api_key, "hold", amount, self.clock.now(), task_id,
                                           available=-amount, held=amount)
        except InsufficientBalance as exc:
            raise InsufficientCredits(amount, exc.available) from None

    async def begin(self, task: Task) -> Account:
        """Hold a new task's cost and store the task, in one step (see Store.begin_task)."""
        try:
            return await self.store.begin_task(task, self.clock.now())
        except InsufficientBalance as exc:
            raise InsufficientCredits(task.cost, exc.available) from None

    async def settle(self, api_key: str, task_id: str, amount: float) -> Account:
        return await self.store.move_credits(api_key, "settle", amount, self.clock.now(), task_id,
                                       held=-amount, spent=amount)

    async def release(self, api_key: str, task_id: str, amount: float) -> Account:
        return await self.store.move_credits(api_key, "release", amount, self.clock.now(), task_id,
                                       held=-amount, available=amount)

    async def entries(self, api_key: str) -> list[LedgerEntry]:
        return await self.store.ledger(api_key)
