"""The state-store protocol.

Operations are narrow on purpose: each one is a single atomic step that a SQLite
transaction or a Redis script can carry out, so moving credits stays race-free no matter
how many processes share the store.
"""

from __future__ import annotations

from typing import Iterable, Protocol

from ..models import Account, Clip, LedgerEntry, Persona, Task


class InsufficientBalance(Exception):
    """A movement would have taken a balance below zero; nothing was changed."""

    def __init__(self, api_key: str, needed: float, available: float):
        super().__init__(f"{api_key}: needs {needed}, has {available}")
        self.api_key, self.needed, self.available = api_key, needed, available


class Store(Protocol):
    def get_account(self, api_key: str) -> Account | None: ...

    def create_account(self, account: Account) -> Account:
        """Insert a new account; raises KeyError if the key exists."""

    def list_accounts(self) -> list[Account]: ...

    def move_credits(self, api_key: str, kind: str, amount: float, time: float,
                     task_id: str | None, *,
                     available: float = 0.0, held: float = 0.0, spent: float = 0.0,
                     granted: float = 0.0) -> Account:
        """Apply the four deltas and record one ledger entry, all or nothing.

        Raises InsufficientBalance (changing nothing) if any balance would go below zero.
        """

    def ledger(self, api_key: str) -> list[LedgerEntry]: ...

    def put_task(self, task: Task) -> None: ...

    def get_task(self, task_id: str) -> Task | None: ...

    def find_clip(self, clip_id: str) -> tuple[Task, Clip] | None:
        """The task that made a clip, and the clip."""

    def list_tasks(self, provider: str | None = None, status: str | None = None,
                   api_key: str | None = None) -> Iterable[Task]: ...

    def put_persona(self, persona: Persona) -> None: ...

    def get_persona(self, persona_id: str) -> Persona | None: ...

    def list_personas(self, api_key: str) -> list[Persona]: ...

    def delete_persona(self, persona_id: str) -> bool: ...

    def reset(self) -> None: ...
