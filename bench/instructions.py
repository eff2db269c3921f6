"""Counts the CPU instructions one request costs, the simulator against the bare handlers.

Requests per second on a shared machine move by ±5–10 % between runs, so a change worth
a few per cent cannot be seen in them. Instructions can: both servers run under
valgrind's callgrind, which counts only while the requests of one measurement are
served, one at a time over one keep-alive connection. The same run measures both
servers (the bare handlers and `musicsim serve` with default flags, set up as
bench/run.py sets them up), so the figures compare like with like.

Instructions are not time: memory stalls and the kernel's share are not counted, and
under load the simulator's extra instructions cost it more than their number says. Use
the counts to weigh a change; use bench/run.py for the rates the targets are set in.

    .venv/bin/python bench/instructions.py [--requests 1000]   # needs valgrind
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import BARE_SERVER, KEY, ROOT, _prepare, free_port  # bench/run.py

# Python under callgrind starts tens of times slower than it runs.
START_WAIT = 300.0
SUBMIT = json.dumps({"model": "suno-v4.5", "prompt": "a cheerful summer pop song"})
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


class Counted:
    """A server process under callgrind, counting only between on() and off()."""

    def __init__(self, name: str, argv: list[str], workdir: str):
        self.name = name
        self.port = free_port()
        self.out = Path(workdir) / f"{name}.callgrind"
        self.proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={self.out}", sys.executable, *argv, str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/")
                connection.getresponse().read()
                return
            except OSError:
                time.sleep(1)
        raise RuntimeError(f"{self.name} did not start under valgrind in {START_WAIT:g} s")

    def _control(self, *flags: str) -> None:
        subprocess.run(["callgrind_control", *flags, str(self.proc.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def count(self, requests: int, send) -> int:
        """Instructions per request over ``requests`` calls of ``send()``."""
        self._control("--zero")
        self._control("--instr=on")
        for _ in range(requests):
            send()
        self._control("--instr=off")
        before = set(self.out.parent.glob(self.out.name + "*"))
        self._control("--dump")
        dumped = _newest(self.out, before)
        totals = next(line for line in dumped.read_text().splitlines()
                      if line.startswith("totals:"))
        return int(totals.split()[1]) // requests

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _newest(out: Path, before: set[Path]) -> Path:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = sorted(set(out.parent.glob(out.name + "*")) - before)
        if new:
            time.sleep(0.5)  # let the dump be written out whole
            return new[-1]
        time.sleep(0.2)
    raise RuntimeError(f"callgrind wrote no dump next to {out}")


def sender(port: int, method: str, path: str, body: str | None):
    connection = http.client.HTTPConnection("127.0.0.1", port)

    def send() -> None:
        connection.request(method, path, body=body, headers=HEADERS)
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{method} {path}: {answer.status}")
    return send


def finished_task(port: int) -> str:
    """A task submitted and left to finish on the simulator's own clock."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("POST", "/evolink/v1/audios/generations", body=SUBMIT, headers=HEADERS)
    task_id = json.loads(connection.getresponse().read())["id"]
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        connection.request("GET", f"/evolink/v1/tasks/{task_id}", headers=HEADERS)
        if json.loads(connection.getresponse().read())["status"] == "completed":
            return task_id
        time.sleep(1)
    raise RuntimeError(f"task {task_id} did not finish")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="requests counted per figure")
    args = parser.parse_args()
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        sys.exit("bench/instructions.py needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as workdir:
        bare = Counted("bare", ["-c", BARE_SERVER], workdir)
        sim = Counted("sim", ["-m", "simulator.cli", "serve", "--port"], workdir)
        try:
            bare.wait_ready()
            sim.wait_ready()
            asyncio.run(_prepare(sim.port))
            task_id = finished_task(sim.port)
            print(f"instructions per request (callgrind), {args.requests} requests one at a "
                  f"time, python {sys.version.split()[0]}")
            print(f"{'':8}{'bare':>10}{'sim':>10}{'bare/sim':>10}")
            for name, method, path, body in (
                    ("poll", "GET", f"/evolink/v1/tasks/{task_id}", None),
                    ("submit", "POST", "/evolink/v1/audios/generations", SUBMIT)):
                figures = []
                for server in (bare, sim):
                    send = sender(server.port, method, path, body)
                    for _ in range(50):  # warm: caches filled, first-call costs paid
                        send()
                    figures.append(server.count(args.requests, send))
                print(f"{name:8}{figures[0]:>10}{figures[1]:>10}{figures[0] / figures[1]:>10.3f}")
        finally:
            bare.stop()
            sim.stop()


if __name__ == "__main__":
    main()
