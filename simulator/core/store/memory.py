"""The default store: plain dictionaries in this process.

Atomicity comes from the event loop: no operation awaits anything, so no other request
can interleave between a balance check and the movement it guards. It hands out the
records themselves, the fastest way; nothing may rely on that (see CopyingStore).
"""

from __future__ import annotations

from collections import defaultdict

from ..models import Account, Clip, LedgerEntry, Persona, Task
from .base import InsufficientBalance, StaleWrite


class MemoryStore:
    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self._accounts: dict[str, Account] = {}
        self._ledger: dict[str, list[LedgerEntry]] = defaultdict(list)
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
        self._ledger[api_key].append(LedgerEntry(
            self._ledger_seq, api_key, time, kind, amount, task_id,
            account.available, account.held, account.spent))
        return account

    async def ledger(self, api_key: str) -> list[LedgerEntry]:
        return list(self._ledger.get(api_key, ()))

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
