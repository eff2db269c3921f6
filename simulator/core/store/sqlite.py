"""A state store in one SQLite file (``--state sqlite:PATH``), which outlives the process
and which several processes (``musicsim serve --workers N``) may share.

Durability: the file is in WAL mode. With the default ``synchronous=normal`` a committed
change survives the process being killed (kill -9, a crash), but a power cut or an
operating-system crash may lose the last few transactions; the file stays consistent
either way. ``sqlite:PATH?synchronous=full`` fsyncs the log on every commit, so nothing
committed is ever lost, at the cost of one fsync per change.

Concurrency: every change is a savepoint inside the process's open ``BEGIN IMMEDIATE``
transaction, which holds the file's write lock from before the read a change depends on
(a balance, a version), and no change awaits anything between its read and its write,
so neither another request of this process nor another process can come between the
two. The changes one turn of the event loop makes commit together, and each waits for
that commit before it returns (sqlfile.py); a writer waits up to 10 s for the lock.

Reads: another process may have written since, and SQLite's ``data_version`` says
whether one has. While none has, accounts and tasks are served as this process last read
or wrote them; once one has, each is checked against the file again (a task by the stamp
each write gives its row, so an unchanged task is never decoded again; a version alone
could repeat after a reset).
"""

from __future__ import annotations

import itertools
import os
from time import time as wall_clock

from ..models import OPENING, Account, Clip, LedgerEntry, Persona, Task
from .base import InsufficientBalance, StaleWrite
from .memory import CLOSING, _opening
from .records import (dump_account, dump_persona, dump_task, load_account, load_persona,
                      load_task)
from .sqlfile import NAMESPACED, SqlFile, attach, detach
from .sqlside import SideTables

# Decoded tasks kept per store, the oldest let go past this many.
CACHED_TASKS = 50_000
ENTRY = "id, api_key, time, kind, amount, task_id, available, held, spent"
NEXT = ("INSERT INTO seqs VALUES (?, ?, 1) ON CONFLICT (ns, name) "
        "DO UPDATE SET value = value + 1 RETURNING value")


# A write's mark, told apart from every other process's without a shared counter: this
# process's random prefix, then its own count.
_stamp = itertools.count(int.from_bytes(os.urandom(4), "big") << 30).__next__


class SqliteStore(SideTables):
    durable = True
    shared = True

    def __init__(self, file: SqlFile, namespace: str):
        self._file, self.namespace = file, namespace
        self._lock = file.lock
        self._cache = file.cache(namespace)
        self._tasks = self._cache.tasks
        self._accounts = self._cache.accounts
        self._closed = False
        with self._lock:
            file.look()
            self.seen_generation: int = file.generation

    @classmethod
    def open(cls, url: str, namespace: str = "default") -> SqliteStore:
        return cls(attach(url), namespace)

    @property
    def path(self) -> str:
        return str(self._file.path)


    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            detach(self._file)

    async def server_time(self) -> float:
        """The store's wall clock: the file is on this host, so it is this host's."""
        return wall_clock()

    async def reset(self) -> None:
        async with self._file.write() as db:
            for table in NAMESPACED:
                db.execute(f"DELETE FROM {table} WHERE ns = ?", (self.namespace,))
            self._file.bump(db)  # the namespace's documents are gone
        self._cache.clear()

    # -- accounts and the ledger ---------------------------------------------------------
    async def get_account(self, api_key: str) -> Account | None:
        file = self._file
        with self._lock:
            epoch = file.look()
            self.seen_generation = file.generation
            cached = self._accounts.get(api_key)
            if cached is not None and cached[0] == epoch:
                return cached[1]
            row = file.db.execute("SELECT data FROM accounts WHERE ns = ? AND api_key = ?",
                                  (self.namespace, api_key)).fetchone()
        return None if row is None else self._kept_account(load_account(row[0]), epoch)

    def _kept_account(self, account: Account, epoch: int) -> Account:
        accounts = self._accounts
        if len(accounts) >= CACHED_TASKS and account.api_key not in accounts:
            del accounts[next(iter(accounts))]
        accounts[account.api_key] = (epoch, account)
        return account

    async def create_account(self, account: Account) -> Account:
        async with self._file.write() as db:
            self._insert_account(db, account)
        return account

    async def open_account(self, account: Account, time: float) -> Account:
        async with self._file.write() as db:
            self._insert_account(db, account)
            self._put_opening(db, LedgerEntry(0, account.api_key, time, OPENING,
                                              account.granted, None, account.available,
                                              account.held, account.spent))
        return account

    def _insert_account(self, db, account: Account) -> None:
        inserted = db.execute("INSERT OR IGNORE INTO accounts VALUES (?, ?, ?)",
                              (self.namespace, account.api_key, dump_account(account)))
        if not inserted.rowcount:
            raise KeyError(account.api_key)

    async def list_accounts(self) -> list[Account]:
        with self._lock:
            rows = self._file.db.execute(
                "SELECT data FROM accounts WHERE ns = ? ORDER BY rowid",
                (self.namespace,)).fetchall()
        return [load_account(data) for data, in rows]

    async def move_credits(self, api_key, kind, amount, time, task_id, *, available=0.0,
                           held=0.0, spent=0.0, granted=0.0) -> Account:
        self._accounts.pop(api_key, None)
        async with self._file.write() as db:
            account = self._move(db, api_key, kind, amount, time, task_id,
                                 (available, held, spent, granted))
        return self._kept_account(account, self._file.epoch)

    def _move(self, db, api_key: str, kind: str, amount: float, time: float,
              task_id: str | None, deltas: tuple[float, float, float, float]) -> Account:
        ns = self.namespace
        row = db.execute("SELECT data FROM accounts WHERE ns = ? AND api_key = ?",
                         (ns, api_key)).fetchone()
        if row is None:
            raise KeyError(api_key)
        account = load_account(row[0])
        new = [account.available + deltas[0], account.held + deltas[1],
               account.spent + deltas[2], account.granted + deltas[3]]
        if min(new[0], new[1], new[2]) < -1e-9:
            raise InsufficientBalance(api_key, -deltas[0], account.available)
        for i, value in enumerate(new):
            if -1e-9 < value < 0.0:  # float dust from repeated movements, not a debt
                new[i] = 0.0
        account.available, account.held, account.spent, account.granted = new
        db.execute("UPDATE accounts SET data = ? WHERE ns = ? AND api_key = ?",
                   (dump_account(account), ns, api_key))
        entry_id = db.execute(NEXT, (ns, "ledger")).fetchone()[0]
        db.execute(f"INSERT INTO ledger (ns, {ENTRY}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                   (ns, entry_id, api_key, time, kind, amount, task_id,
                    account.available, account.held, account.spent))
        if task_id is not None and kind in CLOSING and db.execute(
                "SELECT 1 FROM tasks WHERE ns = ? AND id = ?",
                (ns, task_id)).fetchone() is None:
            # A reference ended while no task of that id is kept: it folds by
            # position, where it first ended, up to its last end.
            db.execute("INSERT INTO loose VALUES (?, ?, ?, ?, ?) ON CONFLICT "
                       "(ns, api_key, ref) DO UPDATE SET ended = excluded.ended",
                       (ns, api_key, task_id, entry_id, entry_id))
        return account

    async def begin_task(self, task: Task, time: float) -> Account:
        stamp, was = _stamp(), (task.version, task.seq)
        self._tasks.pop(task.id, None)
        self._accounts.pop(task.api_key, None)
        try:
            async with self._file.write() as db:
                account = self._move(db, task.api_key, "hold", task.cost, time, task.id,
                                     (-task.cost, task.cost, 0.0, 0.0))
                self._put(db, task, stamp)
        except BaseException:
            task.version, task.seq = was
            raise
        self._keep(task.id, stamp, task)
        return self._kept_account(account, self._file.epoch)

    async def ledger(self, api_key: str) -> list[LedgerEntry]:
        with self._lock:
            rows = self._file.db.execute(
                f"SELECT {ENTRY} FROM ledger WHERE ns = ? AND api_key = ? ORDER BY id",
                (self.namespace, api_key)).fetchall()
        return list(map(LedgerEntry._make, rows))

    def _put_opening(self, db, entry: LedgerEntry) -> None:
        db.execute(f"INSERT OR REPLACE INTO ledger (ns, {ENTRY}) VALUES "
                   f"(?,?,?,?,?,?,?,?,?,?)", (self.namespace, *entry))

    def _fold(self, db, api_key: str, ref: str) -> None:
        """MemoryStore's Book.fold, in SQL: the reference's entries, the free ones up to
        its newest, and the loose references ended by then, in the order they ended."""
        ns = self.namespace
        own = self._take(db, api_key, ref)
        if not own:
            return
        db.execute("DELETE FROM loose WHERE ns = ? AND api_key = ? AND ref = ?",
                   (ns, api_key, ref))
        cut = own[-1].id
        where = "ns = ? AND api_key = ? AND task_id IS NULL AND id BETWEEN 1 AND ?"
        folded = own + list(map(LedgerEntry._make, db.execute(
            f"SELECT {ENTRY} FROM ledger WHERE {where} ORDER BY id", (ns, api_key, cut))))
        db.execute(f"DELETE FROM ledger WHERE {where}", (ns, api_key, cut))
        while True:
            row = db.execute("SELECT ref, ended FROM loose WHERE ns = ? AND api_key = ? "
                             "ORDER BY pos LIMIT 1", (ns, api_key)).fetchone()
            if row is None or row[1] > cut:
                break
            db.execute("DELETE FROM loose WHERE ns = ? AND api_key = ? AND ref = ?",
                       (ns, api_key, row[0]))
            folded += self._take(db, api_key, row[0])
        before = db.execute(f"SELECT {ENTRY} FROM ledger WHERE ns = ? AND api_key = ? "
                            f"AND id = 0", (ns, api_key)).fetchone()
        self._put_opening(db, _opening(before and LedgerEntry._make(before), folded))

    def _take(self, db, api_key: str, ref: str) -> list[LedgerEntry]:
        """Remove and return every entry of one reference, oldest first."""
        args = (self.namespace, api_key, ref)
        entries = list(map(LedgerEntry._make, db.execute(
            f"SELECT {ENTRY} FROM ledger WHERE ns = ? AND api_key = ? AND task_id = ? "
            f"ORDER BY id", args)))
        if entries:
            db.execute("DELETE FROM ledger WHERE ns = ? AND api_key = ? AND task_id = ?",
                       args)
        return entries

    # -- tasks ---------------------------------------------------------------------------
    async def put_task(self, task: Task) -> None:
        stamp, was = _stamp(), (task.version, task.seq)
        self._tasks.pop(task.id, None)
        try:
            async with self._file.write() as db:
                self._put(db, task, stamp)
        except BaseException:
            task.version, task.seq = was
            raise
        self._keep(task.id, stamp, task)

    def _put(self, db, task: Task, stamp: int) -> None:
        ns = self.namespace
        row = db.execute("SELECT version FROM tasks WHERE ns = ? AND id = ?",
                         (ns, task.id)).fetchone()
        if (row[0] if row else 0) != task.version:
            raise StaleWrite(task.id)
        task.version += 1
        if row is None:
            task.seq = db.execute(NEXT, (ns, "task")).fetchone()[0]
            db.executemany("INSERT OR REPLACE INTO clips VALUES (?, ?, ?, ?)",
                           [(ns, clip.id, task.id, index)
                            for index, clip in enumerate(task.clips)])
            db.execute("INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (ns, task.id, task.seq, task.version, stamp, task.provider,
                        task.status, task.api_key, dump_task(task)))
        else:
            db.execute("UPDATE tasks SET version = ?, stamp = ?, provider = ?, "
                       "status = ?, api_key = ?, data = ? WHERE ns = ? AND id = ?",
                       (task.version, stamp, task.provider, task.status,
                        task.api_key, dump_task(task), ns, task.id))

    def _keep(self, task_id: str, stamp: int, task: Task) -> Task:
        tasks = self._tasks
        if len(tasks) >= CACHED_TASKS and task_id not in tasks:
            del tasks[next(iter(tasks))]
        tasks[task_id] = (self._file.epoch, stamp, task)
        return task

    def _decoded(self, task_id: str, stamp: int, data: bytes) -> Task:
        cached = self._tasks.get(task_id)
        if cached is not None and cached[1] == stamp:
            return cached[2]
        return self._keep(task_id, stamp, load_task(data))

    async def get_task(self, task_id: str) -> Task | None:
        cached = self._tasks.get(task_id)
        with self._lock:
            if cached is not None and cached[0] == self._file.look():
                return cached[2]  # nobody else has written since it was read
            row = self._file.db.execute(
                "SELECT stamp, CASE WHEN stamp = ? THEN NULL ELSE data END FROM tasks "
                "WHERE ns = ? AND id = ?",
                (cached and cached[1], self.namespace, task_id)).fetchone()
        if row is None:
            return None
        if row[1] is None:
            return self._keep(task_id, row[0], cached[2])
        return self._keep(task_id, row[0], load_task(row[1]))

    async def forget_task(self, task_id: str) -> bool:
        ns = self.namespace
        async with self._file.write() as db:
            row = db.execute("SELECT api_key FROM tasks WHERE ns = ? AND id = ?",
                             (ns, task_id)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM tasks WHERE ns = ? AND id = ?", (ns, task_id))
            db.execute("DELETE FROM clips WHERE ns = ? AND task_id = ?", (ns, task_id))
            self._fold(db, row[0], task_id)
        self._tasks.pop(task_id, None)
        return True

    async def find_clip(self, clip_id: str) -> tuple[Task, Clip] | None:
        with self._lock:
            row = self._file.db.execute(
                "SELECT t.id, t.stamp, t.data, c.idx FROM clips c JOIN tasks t "
                "ON t.ns = c.ns AND t.id = c.task_id WHERE c.ns = ? AND c.clip_id = ?",
                (self.namespace, clip_id)).fetchone()
        if row is None:
            return None
        task = self._decoded(row[0], row[1], row[2])
        return task, task.clips[row[3]]

    async def list_tasks(self, provider=None, status=None, api_key=None) -> list[Task]:
        sql, args = "SELECT id, stamp, data FROM tasks WHERE ns = ?", [self.namespace]
        for column, value in (("provider", provider), ("status", status),
                              ("api_key", api_key)):
            if value:
                sql += f" AND {column} = ?"
                args.append(value)
        with self._lock:
            rows = self._file.db.execute(sql + " ORDER BY seq", args).fetchall()
        return [self._decoded(*row) for row in rows]

    # -- personas ------------------------------------------------------------------------
    async def put_persona(self, persona: Persona) -> None:
        async with self._file.write() as db:
            db.execute("INSERT INTO personas VALUES (?, ?, ?, ?) ON CONFLICT (ns, id) DO "
                       "UPDATE SET api_key = excluded.api_key, data = excluded.data",
                       (self.namespace, persona.id, persona.api_key, dump_persona(persona)))

    async def get_persona(self, persona_id: str) -> Persona | None:
        with self._lock:
            row = self._file.db.execute(
                "SELECT data FROM personas WHERE ns = ? AND id = ?",
                (self.namespace, persona_id)).fetchone()
        return None if row is None else load_persona(row[0])

    async def list_personas(self, api_key: str) -> list[Persona]:
        with self._lock:
            rows = self._file.db.execute(
                "SELECT data FROM personas WHERE ns = ? AND api_key = ? ORDER BY rowid",
                (self.namespace, api_key)).fetchall()
        return [load_persona(data) for data, in rows]

    async def delete_persona(self, persona_id: str) -> bool:
        async with self._file.write() as db:
            return db.execute("DELETE FROM personas WHERE ns = ? AND id = ?",
                              (self.namespace, persona_id)).rowcount > 0
