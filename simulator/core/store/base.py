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

    async def begin_task(self, task: Task, time: float) -> Account:
        """Hold a new task's cost (a ``hold`` movement) and write the task, in one step:
        a crash leaves both or neither. Raises InsufficientBalance, or StaleWrite,
        changing nothing."""

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


class SharedStore(Store, Protocol):
    """A store that outlives the process (``durable``) and that other processes may use
    at the same time (``shared``): SQLite and Redis. Beside the records it keeps what the
    engine needs to resume after a crash or to agree with other processes: documents
    (clock, fault rules, rate limits, sandboxes), counters, capped logs (journal, webhook
    attempts), a queue of due work claimed atomically (callbacks), and the index of keys.

    A store is opened for one namespace (a sandbox); the index of keys and the list of
    sandboxes are kept by the default namespace's store for every namespace.
    """

    durable: bool
    shared: bool
    namespace: str
    # The generation as of this store's last get_account, which reads it in the same
    # step: every request asks for its caller's account, so each one learns for free
    # whether another process changed something (see fleet.py).
    seen_generation: int

    async def close(self) -> None: ...

    async def server_time(self) -> float:
        """The wall clock every process on the store reads time from (see durable.py)."""


    # reset() wipes everything of the namespace: records, documents, counters, logs and
    # work; the keys and sandboxes, kept for every namespace, stay.

    async def get_doc(self, name: str) -> object | None:
        """A JSON value saved under ``name`` in this namespace; None if there is none."""

    async def put_doc(self, name: str, value: object) -> int:
        """Save a JSON value and bump the generation (shared by every namespace); returns
        the new generation."""

    async def generation(self) -> int:
        """Bumped by every put_doc and key claim or release: a process that sees another
        value than its last reloads its documents."""

    async def count(self, name: str, delta: int = 1) -> int:
        """Add ``delta`` to a named counter of this namespace (from 0), atomically; the
        new value."""

    async def take_token(self, bucket: str, rate: float, burst: float,
                         now: float) -> tuple[bool, float]:
        """Spend one token of a named token bucket of this namespace, if it has one
        (``rate`` per second of ``now``, a wall time, up to ``burst``; full at first):
        whether it had, and the tokens left."""

    async def push(self, name: str, items: list[bytes], cap: int) -> None:
        """Append to a named log of this namespace, keeping only its newest ``cap``."""

    async def items(self, name: str) -> list[tuple[int, bytes]]:
        """A named log, oldest first, each item after its position: increasing, never
        reused, and the same for every process."""

    async def put_work(self, ref: str, due: float, record: bytes,
                       held: float | None = None) -> None:
        """Queue work due at simulated time ``due``, in place of any under that ref:
        unclaimed, or (``held``, a wall time) claimed by the caller from then."""

    async def claim_work(self, until: float, wall_now: float, lease: float,
                         limit: int = 100) -> list[tuple[str, float, bytes]]:
        """Atomically claim up to ``limit`` pieces of work due by ``until`` that nobody
        holds (never claimed, or claimed more than ``lease`` wall seconds before
        ``wall_now``); each is held from ``wall_now`` until dropped or queued again.
        ``(ref, due, record)``, earliest due first. Two processes never both get one."""

    async def drop_work(self, ref: str) -> None:
        """Work done: it is never claimed again."""

    async def work_count(self) -> int: ...

    async def claim_key(self, api_key: str, namespace: str) -> bool:
        """Give the key to ``namespace`` unless some namespace (that one too) has it;
        whether it was given."""

    async def release_key(self, api_key: str) -> None: ...

    async def key_owner(self, api_key: str) -> str | None: ...

    async def release_keys(self, namespace: str) -> None:
        """Every key of that namespace is free again (its sandbox reset or removed)."""

    async def add_sandbox(self, name: str, info: dict) -> bool:
        """Record a sandbox, unless one of that name is there (False, changing nothing)."""

    async def sandboxes(self) -> dict[str, dict]:
        """Every sandbox recorded, by name, in the order they were added."""

    async def drop_sandbox(self, name: str) -> bool: ...
