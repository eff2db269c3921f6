"""The SQLite file behind :class:`~.sqlite.SqliteStore`: its URL, its one connection per
process, its schema, and the write transaction every change goes through.

Every table but ``globals``, ``keys`` and ``sandboxes`` (kept for every namespace) has a
namespace column ``ns`` first, so one file holds every sandbox and a reset is one DELETE
per table.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

SCHEMA_VERSION = 1
# How long a write waits for another process's transaction before giving up.
BUSY_SECONDS = 10.0
SYNCHRONOUS = ("normal", "full")

SCHEMA = """
CREATE TABLE IF NOT EXISTS globals (name TEXT PRIMARY KEY, value INTEGER NOT NULL)
    WITHOUT ROWID;
INSERT OR IGNORE INTO globals VALUES ('generation', 0);
CREATE TABLE IF NOT EXISTS seqs (ns TEXT, name TEXT, value INTEGER NOT NULL,
    PRIMARY KEY (ns, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accounts (ns TEXT NOT NULL, api_key TEXT NOT NULL,
    data BLOB NOT NULL, UNIQUE (ns, api_key));
CREATE TABLE IF NOT EXISTS ledger (ns TEXT, api_key TEXT, id INTEGER, time REAL,
    kind TEXT, amount REAL, task_id TEXT, available REAL, held REAL, spent REAL,
    PRIMARY KEY (ns, api_key, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ledger_refs ON ledger (ns, api_key, task_id, id);
CREATE TABLE IF NOT EXISTS loose (ns TEXT, api_key TEXT, ref TEXT, pos INTEGER,
    ended INTEGER, PRIMARY KEY (ns, api_key, ref)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS loose_order ON loose (ns, api_key, pos);
CREATE TABLE IF NOT EXISTS tasks (ns TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER,
    version INTEGER, stamp INTEGER, provider TEXT, status TEXT, api_key TEXT, data BLOB,
    UNIQUE (ns, id));
CREATE INDEX IF NOT EXISTS tasks_seq ON tasks (ns, seq);
CREATE TABLE IF NOT EXISTS clips (ns TEXT, clip_id TEXT, task_id TEXT, idx INTEGER,
    PRIMARY KEY (ns, clip_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS clips_task ON clips (ns, task_id);
CREATE TABLE IF NOT EXISTS personas (ns TEXT NOT NULL, id TEXT NOT NULL, api_key TEXT,
    data BLOB, UNIQUE (ns, id));
CREATE INDEX IF NOT EXISTS personas_key ON personas (ns, api_key);
CREATE TABLE IF NOT EXISTS docs (ns TEXT, name TEXT, value BLOB,
    PRIMARY KEY (ns, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (ns TEXT, name TEXT, value INTEGER,
    PRIMARY KEY (ns, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY, ns TEXT, name TEXT, item BLOB);
CREATE INDEX IF NOT EXISTS logs_order ON logs (ns, name, id);
CREATE TABLE IF NOT EXISTS work (ns TEXT NOT NULL, ref TEXT NOT NULL, due REAL,
    record BLOB, claimed REAL, UNIQUE (ns, ref));
CREATE INDEX IF NOT EXISTS work_due ON work (ns, due);
CREATE TABLE IF NOT EXISTS keys (api_key TEXT PRIMARY KEY, ns TEXT NOT NULL)
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keys_ns ON keys (ns);
CREATE TABLE IF NOT EXISTS sandboxes (name TEXT NOT NULL UNIQUE, info BLOB);
CREATE TABLE IF NOT EXISTS buckets (ns TEXT, name TEXT, tokens REAL, at REAL,
    PRIMARY KEY (ns, name)) WITHOUT ROWID;
"""
# The most turns of the event loop a commit waits for ready work to join it.
COMMIT_TURNS = 8
BUMP = "UPDATE globals SET value = value + 1 WHERE name = 'generation' RETURNING value"
# What reset() wipes: every table with a namespace column.
NAMESPACED = ("seqs", "accounts", "ledger", "loose", "tasks", "clips", "personas", "docs",
              "counters", "logs", "work", "buckets")


def parse_url(url: str) -> tuple[Path, str]:
    """``sqlite:PATH[?synchronous=normal|full]`` (``sqlite:///abs/path`` too): the
    resolved path and the synchronous level."""
    rest = url[len("sqlite:"):] if url.startswith("sqlite:") else url
    rest, _, query = rest.partition("?")
    if rest.startswith("//"):
        rest = rest[2:]
    if not rest:
        raise ValueError(f"state store {url!r} names no file; use sqlite:PATH")
    synchronous = "normal"
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != "synchronous" or value.lower() not in SYNCHRONOUS:
            raise ValueError(f"state store {url!r}: only ?synchronous=normal or "
                             f"?synchronous=full may follow the path")
        synchronous = value.lower()
    return Path(rest).expanduser().resolve(), synchronous


class SqlFile:
    """One connection to a file, shared by every store of this process on it. Changes go
    through ``write()``: each a savepoint in one BEGIN IMMEDIATE transaction (the write
    lock taken before the first read it guards) that commits once the event loop has no
    more ready work that might join it, up to COMMIT_TURNS turns; one commit for many
    requests under load, and none answered before its commit. The lock keeps threads of
    one process apart on the shared connection."""

    def __init__(self, path: Path, synchronous: str):
        self.path, self.users, self.synchronous = path, 0, synchronous
        self.lock = threading.RLock()
        # What this process has read, shared by its stores of each namespace, and good
        # until another connection commits: SQLite's data_version tells, at the cost of
        # one pragma (see look).
        self.caches: dict[str, Cache] = {}
        self.version: int | None = None
        self.epoch = 0
        self.generation = 0
        self._bumped: int | None = None
        self._before: int | None = None
        self._batch: asyncio.Future | None = None  # the open transaction's commit
        if path.is_dir():
            raise ValueError(f"sqlite state {path}: is a directory, not a file")
        if not path.parent.is_dir():
            raise ValueError(f"sqlite state {path}: the directory {path.parent} "
                             f"does not exist")
        try:
            self.db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None,
                                      check_same_thread=False, cached_statements=256)
        except sqlite3.Error as exc:
            raise ValueError(f"sqlite state {path}: cannot open it ({exc})") from None
        try:
            self._prepare()
        except (sqlite3.Error, ValueError) as exc:
            self.db.close()
            raise ValueError(f"sqlite state {path}: {exc}") from None

    def _prepare(self) -> None:
        db = self.db
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
        if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise ValueError("cannot be put in WAL mode")
        db.execute(f"PRAGMA synchronous = {self.synchronous}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ValueError(f"made by a newer musicsim (schema {version})")
        if version < SCHEMA_VERSION:
            try:
                db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} "
                                 f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            except sqlite3.Error:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def cache(self, namespace: str) -> Cache:
        found = self.caches.get(namespace)
        if found is None:
            found = self.caches[namespace] = Cache()
        return found

    def look(self) -> int:
        """The epoch of what this process read: it moves when another connection has
        committed since the last look, and the generation is read again then. Under
        the lock."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        if version != self.version:
            self.version = version
            self.epoch += 1
            self.generation = self.db.execute(
                "SELECT value FROM globals WHERE name = 'generation'").fetchone()[0]
        return self.epoch

    def bump(self, db: sqlite3.Connection) -> int:
        """Move the generation, in the transaction under way (it holds at its commit)."""
        self._bumped = db.execute(BUMP).fetchone()[0]
        return self._bumped

    def write(self) -> Write:
        """One change, all or nothing: ``async with file.write() as db``."""
        return Write(self)

    def _enter(self) -> sqlite3.Connection:
        if self._batch is None:
            self.lock.acquire()  # held by the batch: another thread waits for its commit
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.lock.release()
                raise
            loop = asyncio.get_running_loop()
            self._batch = loop.create_future()
            self._batch.add_done_callback(_retrieved)
            loop.call_soon(self._commit, loop, 0)
        self.lock.acquire()
        self._before = self._bumped
        self.db.execute("SAVEPOINT change")
        return self.db

    def _leave(self, ok: bool) -> asyncio.Future:
        try:
            if not ok:
                self.db.execute("ROLLBACK TO change")
                self._bumped = self._before
            self.db.execute("RELEASE change")
        finally:
            self.lock.release()
        return self._batch

    def _commit(self, loop: asyncio.AbstractEventLoop, waited: int) -> None:
        if waited < COMMIT_TURNS and getattr(loop, "_ready", None):
            # Work is ready to run (asyncio's queue of it: no public way to ask), which
            # may change more: commit once it has.
            loop.call_soon(self._commit, loop, waited + 1)
            return
        batch, self._batch = self._batch, None
        try:
            self.db.execute("COMMIT")
        except BaseException as exc:
            self.db.execute("ROLLBACK")
            for cache in self.caches.values():  # it held what was never committed
                cache.clear()
            self.version = None
            batch.set_exception(exc)
        else:
            if self._bumped is not None:
                self.generation = self._bumped
            batch.set_result(None)
        finally:
            self._bumped = None
            self.lock.release()


class Write:
    """One change inside the process's batch of changes, which commits once every change
    made meanwhile is in (one commit for many: see SqlFile). Leaving it
    waits for that commit, so nothing is answered before it is durable."""

    __slots__ = ("file",)

    def __init__(self, file: SqlFile):
        self.file = file

    async def __aenter__(self) -> sqlite3.Connection:
        return self.file._enter()

    async def __aexit__(self, kind, exc, tb) -> None:
        batch = self.file._leave(kind is None)
        if kind is None:
            await asyncio.shield(batch)
        else:  # refused, changing nothing; still out of the batch only once it is done
            await asyncio.wait([batch])


def _retrieved(batch: asyncio.Future) -> None:
    """A failed commit is raised to every change in it; none left it unread."""
    if not batch.cancelled():
        batch.exception()


class Cache:
    """One namespace's records as this process last read or wrote them, each with the
    epoch it was good at: ``accounts`` key -> (epoch, account), ``tasks`` id -> (epoch,
    stamp, task). An entry of an older epoch is checked against the file first."""

    __slots__ = ("accounts", "tasks")

    def __init__(self) -> None:
        self.accounts: dict[str, tuple[int, Any]] = {}
        self.tasks: dict[str, tuple[int, int, Any]] = {}

    def clear(self) -> None:
        self.accounts.clear()
        self.tasks.clear()


_files: dict[Path, SqlFile] = {}
_opening = threading.Lock()


def attach(url: str) -> SqlFile:
    """The process's connection to the file a URL names, opened on first use; a bad path
    is a ValueError naming it. Asked for ``synchronous=full`` once, the file stays full."""
    path, synchronous = parse_url(url)
    with _opening:
        file = _files.get(path)
        if file is None:
            file = _files[path] = SqlFile(path, synchronous)
        elif synchronous == "full" and file.synchronous != "full":
            with file.lock:
                file.db.execute("PRAGMA synchronous = full")
            file.synchronous = "full"
        file.users += 1
    return file


def detach(file: SqlFile) -> None:
    """One user less; the last one closes the connection."""
    with _opening:
        file.users -= 1
        if file.users <= 0:
            _files.pop(file.path, None)
            with file.lock:
                file.db.close()
