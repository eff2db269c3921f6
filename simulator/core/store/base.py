"""The state-store protocol.

Operations are narrow and asynchronous on purpose: each one is a single atomic step that
a SQLite transaction or a Redis script can carry out, so moving credits stays race-free
however many processes share the store, and a store across a network fits behind it.

A store may hand out copies: what a reader holds is a snapshot, never the record itself.
Only the engine changes a task, by writing back the copy it read; the write is refused
(:class:`StaleWrite`) when the task changed since, and the engine reads it again.
"""

from __future__ import annotations

from typing import Protocol

from ..models import Account, Clip, LedgerEntry, Persona, Task


class InsufficientBalance(Exception):
    """A movement would have taken a balance below zero; nothing was changed."""

    def __init__(self, api_key: str, needed: float, available: float):
        super().__init__(f"{api_key}: needs {needed}, has {available}")
        self.api_key, self.needed, self.available = api_key, needed, available


class StaleWrite(Exception):
    """A task was written back after someone else changed it; nothing was written."""


class Store(Protocol):
    async def get_account(self, api_key: str) -> Account | None: ...

    async def create_account(self, account: Account) -> Account:
        """Insert a new account; raises KeyError if the key exists."""

    async def open_account(self, account: Account, time: float) -> Account:
        """Insert a new account with the balances it carries, and the one ``opening``
        ledger entry that stands for them (as if its earlier movements had folded: see
        ledger.py); raises KeyError if the key exists. For a state being loaded."""

    async def list_accounts(self) -> list[Account]: ...

    async def move_credits(self, api_key: str, kind: str, amount: float, time: float,
                           task_id: str | None, *,
                           available: float = 0.0, held: float = 0.0, spent: float = 0.0,
                           granted: float = 0.0) -> Account:
        """Apply the four deltas and record one ledger entry, all or nothing.

        Raises InsufficientBalance (changing nothing) if any balance would go below zero.
        """

    async def ledger(self, api_key: str) -> list[LedgerEntry]:
        """Oldest first; entry ids increase across all keys (until a reset). The movements
        of tasks let go are folded into one ``opening`` entry, first, with id 0 (see
        ledger.py for what it holds)."""

    async def put_task(self, task: Task) -> None:
        """Write a task read at ``task.version`` (a new one at 0) and bump its version;
        raises StaleWrite, writing nothing, when the stored task is at another version. A
        new task is given the next ``seq``."""

    async def get_task(self, task_id: str) -> Task | None: ...

    async def forget_task(self, task_id: str) -> bool:
        """Let a finished task go, in one step: the task, its clips' index entries, and
        its ledger movements, folded into its key's opening entry with every other
        movement of that key up to its newest that no open or kept task makes (see
        ledger.py). False, changing nothing, if there is no such task."""

    async def find_clip(self, clip_id: str) -> tuple[Task, Clip] | None:
        """The task that made a clip, and the clip."""

    async def list_tasks(self, provider: str | None = None, status: str | None = None,
                         api_key: str | None = None) -> list[Task]:
        """Oldest first: in creation order, by the ``seq`` the store gave each task."""

    async def put_persona(self, persona: Persona) -> None: ...

    async def get_persona(self, persona_id: str) -> Persona | None: ...

    async def list_personas(self, api_key: str) -> list[Persona]: ...

    async def delete_persona(self, persona_id: str) -> bool: ...

    async def reset(self) -> None: ...
