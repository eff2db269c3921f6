"""``musicsim serve --workers N``: N processes serving one port, on one shared store.

Each worker is a ``musicsim serve`` process of its own, started with the same command
line and told its index (``MUSICSIM_WORKER``). Each binds the port with SO_REUSEPORT, so
the kernel spreads connections across them and nothing stands between a client and a
worker. The supervisor holds the port from the start (``--port 0`` is chosen once, for
all of them), prints the banner once every worker is ready, starts a worker again with
the same index when it dies, and stops them all on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Callable

WORKER_ENV = "MUSICSIM_WORKER"
READY = "musicsim worker ready"
START_TIMEOUT = 60.0  # seconds a worker may take to serve
STOP_TIMEOUT = 10.0   # seconds a worker may take to stop before it is killed
RESTART_PAUSE = 1.0   # seconds before a worker that died is started again


def is_worker() -> bool:
    """Whether this process is one a supervisor started."""
    return WORKER_ENV in os.environ


def supervise(host: str, port: int, count: int, banner: Callable[[int], None]) -> int:
    """Run this command's ``count`` workers until told to stop; the exit status."""
    reserved = _reserve(host, port)
    port = reserved.getsockname()[1]
    workers: dict[int, subprocess.Popen] = {}
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        for index in range(count):
            workers[index] = _start(index, port)
        for index, process in workers.items():
            if not _ready(process):
                print(f"musicsim: worker {index} did not start", file=sys.stderr)
                return 2
        reserved.close()  # every worker holds the port now
        banner(port)
        while not stopping.wait(0.2):
            for index, process in list(workers.items()):
                if process.poll() is None:
                    continue
                print(f"musicsim: worker {index} (pid {process.pid}) exited with "
                      f"{process.returncode}; starting it again", file=sys.stderr, flush=True)
                time.sleep(RESTART_PAUSE)
                workers[index] = _start(index, port)
                _ready(workers[index])
        return 0
    finally:
        reserved.close()
        for process in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in workers.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _reserve(host: str, port: int) -> socket.socket:
    """A socket bound to the port, not listening: it keeps the port (chosen here when 0)
    for the workers, which bind it beside this one."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM)[0]
    reserved = socket.socket(family, kind, proto)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    reserved.bind(address)
    return reserved


def _start(index: int, port: int) -> subprocess.Popen:
    env = {**os.environ, WORKER_ENV: str(index), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "simulator.cli", *sys.argv[1:],
                             "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            text=True)


def _ready(process: subprocess.Popen) -> bool:
    """Wait for the worker's word that it serves; from then on its output is passed on."""
    found = threading.Event()

    def relay() -> None:
        for line in process.stdout:
            if not found.is_set() and line.startswith(READY):
                found.set()
                continue
            sys.stdout.write(line)
            sys.stdout.flush()

    threading.Thread(target=relay, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while not found.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            return False
    return True
