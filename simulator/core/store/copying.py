"""A store that behaves as a store in another process would: every record it hands out
or takes in is a deep copy, and every call yields to the event loop first.

The test suite runs on it, to prove that nothing relies on holding the live record: a
stream that watched a task object, or a write to a task after the engine saved it,
would hang or be lost here. ``--state memory+copies``; slower than ``memory``.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from ..models import Account, Clip, LedgerEntry, Persona, Task
from .memory import MemoryStore


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)


class CopyingStore(MemoryStore):
    async def reset(self) -> None:
        await asyncio.sleep(0)
        await super().reset()

    async def get_account(self, api_key: str) -> Account | None:
        await asyncio.sleep(0)
        return _copy(await super().get_account(api_key))

    async def create_account(self, account: Account) -> Account:
        await asyncio.sleep(0)
        return _copy(await super().create_account(_copy(account)))

    async def open_account(self, account: Account, time: float) -> Account:
        await asyncio.sleep(0)
        return _copy(await super().open_account(_copy(account), time))

    async def list_accounts(self) -> list[Account]:
        await asyncio.sleep(0)
        return _copy(await super().list_accounts())

    async def move_credits(self, api_key, kind, amount, time, task_id, **deltas) -> Account:
        await asyncio.sleep(0)
        return _copy(await super().move_credits(api_key, kind, amount, time, task_id,
                                                **deltas))

    async def ledger(self, api_key: str) -> list[LedgerEntry]:
        await asyncio.sleep(0)
        return _copy(await super().ledger(api_key))

    async def begin_task(self, task: Task, time: float) -> Account:
        await asyncio.sleep(0)
        kept = _copy(task)
        account = await super().begin_task(kept, time)
        task.version, task.seq = kept.version, kept.seq
        return _copy(account)

    async def put_task(self, task: Task) -> None:
        await asyncio.sleep(0)
        kept = _copy(task)
        await super().put_task(kept)  # a stale version is refused there, writing nothing
        task.version, task.seq = kept.version, kept.seq

    async def get_task(self, task_id: str) -> Task | None:
        await asyncio.sleep(0)
        return _copy(await super().get_task(task_id))

    async def forget_task(self, task_id: str) -> bool:
        await asyncio.sleep(0)
        return await super().forget_task(task_id)

    async def find_clip(self, clip_id: str) -> tuple[Task, Clip] | None:
        await asyncio.sleep(0)
        found = await super().find_clip(clip_id)
        if found is None:
            return None
        task = _copy(found[0])
        return task, task.clips[found[0].clips.index(found[1])]

    async def list_tasks(self, provider=None, status=None, api_key=None) -> list[Task]:
        await asyncio.sleep(0)
        return _copy(await super().list_tasks(provider, status, api_key))

    async def put_persona(self, persona: Persona) -> None:
        await asyncio.sleep(0)
        await super().put_persona(_copy(persona))

    async def get_persona(self, persona_id: str) -> Persona | None:
        await asyncio.sleep(0)
        return _copy(await super().get_persona(persona_id))

    async def list_personas(self, api_key: str) -> list[Persona]:
        await asyncio.sleep(0)
        return _copy(await super().list_personas(api_key))

    async def delete_persona(self, persona_id: str) -> bool:
        await asyncio.sleep(0)
        return await super().delete_persona(persona_id)
