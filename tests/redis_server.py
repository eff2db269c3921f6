"""A real redis-server for the Redis store's tests: on a free loopback port, in a
directory of its own, keeping nothing on disk, stopped when the session ends.

The tests run against the real server on purpose (a fake would agree with whatever the
store assumes), so a machine without one fails them, pointing at `make test`, which
installs it; it never skips them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

MISSING = ("redis-server is not installed, so the Redis store cannot be tested: run "
           "`make test`, which installs it (apt-get install redis-server)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process; ``url`` names its database 0."""

    def __init__(self, binary: str):
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="musicsim-redis-"))
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        for _ in range(3):  # the free port may be taken between the look and the bind
            self.port = free_port()
            log = open(self.dir / "redis.log", "ab")
            self.proc = subprocess.Popen(
                [self.binary, "--save", "", "--appendonly", "no", "--port", str(self.port),
                 "--bind", "127.0.0.1", "--daemonize", "no", "--dir", str(self.dir)],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if _pong(self.port):
                    return self
                time.sleep(0.02)
            self.stop(remove=False)
        log = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
        shutil.rmtree(self.dir, ignore_errors=True)
        raise RuntimeError(f"redis-server did not answer PING; its log:\n{log}")

    def stop(self, remove: bool = True) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url():
    """``redis://127.0.0.1:PORT/0`` of a server of the session's own; clearing it
    between tests is theirs to do."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(MISSING, pytrace=False)
    server = RedisServer(binary).start()
    try:
        yield server.url
    finally:
        server.stop()
