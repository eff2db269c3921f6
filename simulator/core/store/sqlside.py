"""What a SQLite store keeps beside the records (see SharedStore in base.py): documents,
counters, capped logs, token buckets and the queue of due work of its namespace, and the
keys and sandboxes of every namespace. Each change is one write of the file's batch
(sqlfile.py), like the records'; a generation bump holds when its batch commits.
"""

from __future__ import annotations

import orjson

from .sqlfile import SqlFile


class SideTables:
    """Mixed into SqliteStore, whose ``_file``, ``_lock``, ``namespace`` and
    ``seen_generation`` it uses."""

    _file: SqlFile
    _lock: object
    namespace: str
    seen_generation: int

    # -- documents, counters and logs ----------------------------------------------------
    async def get_doc(self, name: str) -> object | None:
        with self._lock:
            row = self._file.db.execute("SELECT value FROM docs WHERE ns = ? AND name = ?",
                                        (self.namespace, name)).fetchone()
        return None if row is None else orjson.loads(row[0])

    async def put_doc(self, name: str, value: object) -> int:
        data = orjson.dumps(value)
        async with self._file.write() as db:
            db.execute("INSERT OR REPLACE INTO docs VALUES (?, ?, ?)",
                       (self.namespace, name, data))
            return self._file.bump(db)

    async def generation(self) -> int:
        with self._lock:
            self._file.look()
            self.seen_generation = self._file.generation
        return self.seen_generation

    async def count(self, name: str, delta: int = 1) -> int:
        async with self._file.write() as db:
            return db.execute(
                "INSERT INTO counters VALUES (?, ?, ?) ON CONFLICT (ns, name) "
                "DO UPDATE SET value = value + excluded.value RETURNING value",
                (self.namespace, name, delta)).fetchone()[0]

    async def take_token(self, bucket: str, rate: float, burst: float,
                         now: float) -> tuple[bool, float]:
        async with self._file.write() as db:
            row = db.execute("SELECT tokens, at FROM buckets WHERE ns = ? AND name = ?",
                             (self.namespace, bucket)).fetchone()
            tokens = burst if row is None else \
                min(burst, row[0] + max(0.0, now - row[1]) * rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            db.execute("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?, ?)",
                       (self.namespace, bucket, tokens, now))
        return allowed, tokens

    async def push(self, name: str, items: list[bytes], cap: int) -> None:
        ns = self.namespace
        async with self._file.write() as db:
            db.executemany("INSERT INTO logs (ns, name, item) VALUES (?, ?, ?)",
                           [(ns, name, item) for item in items])
            db.execute("DELETE FROM logs WHERE ns = ? AND name = ? AND id <= "
                       "(SELECT id FROM logs WHERE ns = ? AND name = ? ORDER BY id DESC "
                       "LIMIT 1 OFFSET ?)", (ns, name, ns, name, max(cap, 0)))

    async def items(self, name: str) -> list[tuple[int, bytes]]:
        with self._lock:
            return self._file.db.execute(
                "SELECT id, item FROM logs WHERE ns = ? AND name = ? ORDER BY id",
                (self.namespace, name)).fetchall()

    # -- due work ------------------------------------------------------------------------
    async def put_work(self, ref: str, due: float, record: bytes,
                       held: float | None = None) -> None:
        async with self._file.write() as db:
            db.execute("INSERT INTO work VALUES (?, ?, ?, ?, ?) ON CONFLICT (ns, ref) "
                       "DO UPDATE SET due = excluded.due, record = excluded.record, "
                       "claimed = excluded.claimed", (self.namespace, ref, due, record, held))

    async def claim_work(self, until: float, wall_now: float, lease: float,
                         limit: int = 100) -> list[tuple[str, float, bytes]]:
        ns = self.namespace
        async with self._file.write() as db:
            rows = db.execute(
                "UPDATE work SET claimed = ? WHERE rowid IN (SELECT rowid FROM work "
                "WHERE ns = ? AND due <= ? AND (claimed IS NULL OR claimed < ?) "
                "ORDER BY due, rowid LIMIT ?) RETURNING ref, due, record, rowid",
                (wall_now, ns, until, wall_now - lease, limit)).fetchall()
        rows.sort(key=lambda row: (row[1], row[3]))
        return [(ref, float(due), record) for ref, due, record, _ in rows]

    async def drop_work(self, ref: str) -> None:
        async with self._file.write() as db:
            db.execute("DELETE FROM work WHERE ns = ? AND ref = ?", (self.namespace, ref))

    async def work_count(self) -> int:
        with self._lock:
            return self._file.db.execute("SELECT count(*) FROM work WHERE ns = ?",
                                         (self.namespace,)).fetchone()[0]

    # -- keys and sandboxes, for every namespace -----------------------------------------
    async def claim_key(self, api_key: str, namespace: str) -> bool:
        async with self._file.write() as db:
            if db.execute("INSERT OR IGNORE INTO keys VALUES (?, ?)",
                          (api_key, namespace)).rowcount:
                self._file.bump(db)
                return True
            return False

    async def release_key(self, api_key: str) -> None:
        async with self._file.write() as db:
            if db.execute("DELETE FROM keys WHERE api_key = ?", (api_key,)).rowcount:
                self._file.bump(db)

    async def key_owner(self, api_key: str) -> str | None:
        with self._lock:
            row = self._file.db.execute("SELECT ns FROM keys WHERE api_key = ?",
                                        (api_key,)).fetchone()
        return None if row is None else row[0]

    async def release_keys(self, namespace: str) -> None:
        async with self._file.write() as db:
            if db.execute("DELETE FROM keys WHERE ns = ?", (namespace,)).rowcount:
                self._file.bump(db)

    async def add_sandbox(self, name: str, info: dict) -> bool:
        data = orjson.dumps(info)
        async with self._file.write() as db:
            added = db.execute("INSERT OR IGNORE INTO sandboxes VALUES (?, ?)",
                               (name, data)).rowcount > 0
            if added:
                self._file.bump(db)
        return added

    async def sandboxes(self) -> dict[str, dict]:
        with self._lock:
            rows = self._file.db.execute(
                "SELECT name, info FROM sandboxes ORDER BY rowid").fetchall()
        return {name: orjson.loads(info) for name, info in rows}

    async def drop_sandbox(self, name: str) -> bool:
        async with self._file.write() as db:
            dropped = db.execute("DELETE FROM sandboxes WHERE name = ?",
                                 (name,)).rowcount > 0
            if dropped:
                self._file.bump(db)
        return dropped
