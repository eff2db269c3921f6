"""One Redis connection that every coroutine of a process shares at once.

A pooled connection, taken and given back around each command, costs a request tens of
microseconds of Python. Here each command is queued with a future, the commands queued
in one turn of the event loop go out in one write, and one reader hands the replies
back in order: a few microseconds a command under load. redis-py opens the connection;
hiredis reads the replies. No command needs to follow another on the connection: the
store's atomic steps are scripts, never MULTI or WATCH.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import hiredis
from hiredis import pack_command
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError, RedisError, ResponseError


class Line:
    """The shared connection to one URL, opened on first use and again after a loss."""

    def __init__(self, pool: ConnectionPool, url: str):
        self.pool, self.url = pool, url
        self._wire: _Wire | None = None
        self._opening: asyncio.Task | None = None

    def call(self, *args: Any) -> asyncio.Future:
        """The reply to one command (an awaitable); a ResponseError comes as raised."""
        wire = self._wire
        if wire is None or wire.broken:
            return asyncio.ensure_future(self._call_when_open(args))
        return wire.send(args)

    async def _call_when_open(self, args: tuple) -> Any:
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open())
        opening = self._opening
        try:
            wire = await asyncio.shield(opening)
        finally:
            if self._opening is opening and opening.done():
                self._opening = None
        return await wire.send(args)

    async def _open(self) -> _Wire:
        connection = self.pool.make_connection()
        try:
            await connection.connect()
        except (RedisError, OSError) as exc:
            raise ConnectionError(f"cannot reach redis at {self.url}: {exc}") from None
        self._wire = _Wire(connection, self.url)
        return self._wire

    async def close(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            await wire.close()


class _Wire:
    """One open connection: commands out in batches, replies in order. redis-py opens
    it (handshake, AUTH, SELECT); then its streams are used directly: a read takes in
    every reply that has arrived, where redis-py's read_response costs an await each."""

    def __init__(self, connection: AbstractConnection, url: str):
        self.connection, self.url = connection, url
        self.stream, self.writer = connection._reader, connection._writer
        self.loop = asyncio.get_running_loop()
        self.waiting: deque[asyncio.Future] = deque()
        self.batch: list[bytes] = []
        self.broken = False
        self.reader = self.loop.create_task(self._read())

    def send(self, args: tuple) -> asyncio.Future:
        future = self.loop.create_future()
        self.waiting.append(future)
        if not self.batch:
            self.loop.call_soon(self._flush)
        self.batch.append(pack_command(args))
        return future

    def _flush(self) -> None:
        data = b"".join(self.batch)
        self.batch.clear()
        if not self.broken:
            try:
                self.writer.write(data)
            except Exception as exc:
                self._break(exc)

    async def _read(self) -> None:
        stream, waiting = self.stream, self.waiting
        replies = hiredis.Reader(replyError=ResponseError)
        try:
            while True:
                data = await stream.read(65536)
                if not data:
                    raise ConnectionError("closed by the server")
                replies.feed(data)
                while (reply := replies.gets()) is not False:
                    future = waiting.popleft()
                    if future.done():  # its caller gave up waiting
                        continue
                    if isinstance(reply, ResponseError):  # that command's, not the line's
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
        except BaseException as exc:
            self._break(exc)

    def _break(self, exc: BaseException, why: str = "lost the connection to") -> None:
        """Every command still waiting fails; the next call opens a new connection."""
        if self.broken:
            return
        self.broken = True
        error = ConnectionError(f"{why} redis at {self.url}: {str(exc) or type(exc).__name__}")
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)
        if asyncio.current_task() is not self.reader:
            self.reader.cancel()
        self.loop.create_task(self.connection.disconnect(nowait=True))

    async def close(self) -> None:
        """Replies already asked for are waited for (a few seconds at most) first."""
        if self.waiting and not self.broken:
            await asyncio.wait(list(self.waiting), timeout=5)
        self._break(ConnectionError("closed"), "the store let go of")
        try:
            await self.reader
        except asyncio.CancelledError:
            pass
        await self.connection.disconnect()


class Script:
    """A script registered once (``register_script`` gives its SHA), run on a line and
    loaded there again whenever the server has lost it."""

    __slots__ = ("line", "sha", "source")

    def __init__(self, line: Line, registered: AsyncScript):
        self.line, self.sha, self.source = line, registered.sha, registered.script

    async def __call__(self, keys: tuple, args: tuple = ()) -> Any:
        try:
            return await self.line.call("EVALSHA", self.sha, len(keys), *keys, *args)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            await self.line.call("SCRIPT", "LOAD", self.source)
            return await self.line.call("EVALSHA", self.sha, len(keys), *keys, *args)
