"""Real `musicsim serve` processes for the tests of state kept outside one process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


class Served:
    """One `musicsim serve` (a supervisor with its workers, under ``--workers``), its
    output kept in ``lines``; ``url`` is its origin once it serves."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60):
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        environment.pop("MUSICSIM_CHECK_ANSWERS", None)
        environment.pop("MUSICSIM_WORKER", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
            cwd=ROOT, start_new_session=True)
        self.lines: list[str] = []
        found = threading.Event()
        self.url: str | None = None

        def read() -> None:
            for line in self.process.stdout:
                self.lines.append(line)
                if self.url is None and "control plane:" in line:
                    self.url = line.split("control plane:")[1].split("/_sim")[0].strip()
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError("musicsim serve did not start:\n" + "".join(self.lines))

    def output(self) -> str:
        return "".join(self.lines)

    def health(self) -> dict:
        return requests.get(f"{self.url}/_sim/health", timeout=10).json()

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def kill(self) -> None:
        """kill -9, of the process and (under --workers) every worker it started."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
