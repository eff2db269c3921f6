"""The provider's own published clients, installed exactly as released into virtual
environments of their own, and run against a simulator: the helpers behind
test_acedata_real_clients.py.

Each client lives in ``.venv/clients/<name>-<version>/`` so that its pins never touch the
project's environment. A finished install leaves a marker file; a later run reuses it
and installs nothing. Without the package registry the install fails the tests (it never
skips them): they are the proof that the simulator works with the real clients.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Sim

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / ".venv" / "clients"
MARKER = ".musicsim-installed"
PROVIDER = "acedata"
# Bodies in a transcript are cut to this many characters.
BODY_CHARS = 1200


# -- installing a client -----------------------------------------------------------------
def client_venv(package: str, version: str, script: str) -> Path:
    """The venv holding ``package==version`` with its console ``script``: reused when a
    previous run completed it, made (quietly) otherwise. Several test processes may ask at
    once; a lock file lets one install while the others wait."""
    requirement = f"{package}=={version}"
    home = CLIENTS / f"{package}-{version}"
    CLIENTS.mkdir(parents=True, exist_ok=True)
    with _locked(CLIENTS / f"{package}-{version}.lock"):
        if _complete(home, requirement, script):
            return home
        shutil.rmtree(home, ignore_errors=True)
        _step([sys.executable, "-m", "venv", str(home)], f"creating a venv for {requirement}")
        python = str(home / "bin" / "python")
        _step([python, "-m", "pip", "install", "--quiet", "--no-input",
               "--disable-pip-version-check", "--timeout", "30", "--retries", "2",
               requirement],
              f"installing {requirement} from the package registry (these tests need it: "
              f"CI has PyPI access, and they are the proof that the simulator works with "
              f"the provider's published clients)")
        if not (home / "bin" / script).exists():
            pytest.fail(f"{requirement} installed, but its console script {script!r} is "
                        f"missing from {home / 'bin'}", pytrace=False)
        frozen = subprocess.run([python, "-m", "pip", "freeze", "--all"], capture_output=True,
                                text=True, timeout=120).stdout
        (home / MARKER).write_text(f"{requirement}\n{frozen}", encoding="utf-8")
        return home


def _complete(home: Path, requirement: str, script: str) -> bool:
    marker = home / MARKER
    if not marker.is_file() or not (home / "bin" / script).exists():
        return False
    lines = marker.read_text(encoding="utf-8").splitlines()
    return bool(lines) and lines[0] == requirement and (home / "bin" / "python").exists()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _step(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{what}: timed out after {exc.timeout:g} s", pytrace=False)
    if done.returncode != 0:
        # pip's warnings about local mirrors are noise; its errors are at the end.
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        pytest.fail(f"{what} failed (exit {done.returncode}):\n{tail}", pytrace=False)


# -- what the simulator saw ----------------------------------------------------------------
def sim_now(sim: Sim) -> float:
    response = sim.admin("GET", "/clock")
    assert response.status_code == 200, response.text
    return response.json()["now"]


def exchanges(sim: Sim, key: str, since: float) -> list[dict[str, Any]]:
    """The requests made with ``key`` to the dialect since simulated time ``since``."""
    response = sim.admin("GET", "/journal", params={"provider": PROVIDER, "api_key": key,
                                                   "since": since})
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def describe(entries: list[dict[str, Any]]) -> str:
    """Each exchange as the request the client sent and the answer it got."""
    lines = []
    for entry in entries:
        query = f"?{entry['query']}" if entry.get("query") else ""
        lines.append(f"  {entry['method']} {entry['path']}{query} "
                     f"{_cut(entry['request'].get('body') or '')}\n"
                     f"    -> {entry['status']} {_cut(entry['response'].get('body') or '')}")
    return "\n".join(lines) or "  (the simulator saw no request)"


def _cut(text: str) -> str:
    return text if len(text) <= BODY_CHARS else text[:BODY_CHARS] + f"… ({len(text)} chars)"


class ClientFailed(AssertionError):
    """A client run that did not do what it should, with what the simulator saw."""


# -- suno-cli ----------------------------------------------------------------------------
class SunoCli:
    """Runs the ``suno`` console script of a venv against a simulator, with one API key."""

    def __init__(self, venv: Path, sim: Sim, key: str, workdir: Path):
        self.script, self.sim, self.key, self.workdir = venv / "bin" / "suno", sim, key, workdir
        self.env = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(workdir),
            "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8",
            # Rich wraps what it prints to the terminal's width; never wrap.
            "COLUMNS": "100000", "NO_COLOR": "1", "TERM": "dumb",
            "ACEDATACLOUD_API_BASE_URL": sim.base(PROVIDER),
            "ACEDATACLOUD_API_TOKEN": key,
            "SUNO_REQUEST_TIMEOUT": "120",
        }

    def run(self, *args: str, timeout: float = 180.0) -> tuple[subprocess.CompletedProcess, str]:
        since = sim_now(self.sim)
        command = [str(self.script), *args]
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=self.env,
                                  cwd=self.workdir, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            seen = describe(exchanges(self.sim, self.key, since))
            raise ClientFailed(f"`suno {' '.join(args)}` did not finish in {exc.timeout:g} s\n"
                               f"simulator exchanges:\n{seen}") from None
        seen = describe(exchanges(self.sim, self.key, since))
        # Shown by pytest only when the test fails.
        print(f"$ suno {' '.join(args)}  -> exit {done.returncode}\n{seen}\n"
              f"stderr: {done.stderr.strip()[-2000:]}\n")
        return done, seen

    def json(self, *args: str, timeout: float = 180.0) -> Any:
        """The JSON the command prints; a failed command or other output is an error that
        shows what the simulator was sent and answered."""
        done, seen = self.run(*args, timeout=timeout)
        if done.returncode != 0:
            raise ClientFailed(f"`suno {' '.join(args)}` exited {done.returncode}: "
                               f"{done.stderr.strip()[-2000:]}\nsimulator exchanges:\n{seen}")
        try:
            return json.loads(done.stdout)
        except ValueError:
            raise ClientFailed(f"`suno {' '.join(args)}` printed no JSON:\n"
                               f"{done.stdout[-2000:]}\nsimulator exchanges:\n{seen}") from None


# -- mcp-suno ----------------------------------------------------------------------------
DRIVER = Path(__file__).resolve().parent / "mcp_suno_driver.py"


class McpSuno:
    """``mcp-suno`` over stdio, driven by mcp_suno_driver.py in the client's venv: one
    server for a module, each tool call one JSON line out and one back."""

    def __init__(self, venv: Path, sim: Sim, key: str, workdir: Path):
        self.sim, self.key, self.workdir = sim, key, workdir
        self.log = workdir / "mcp-suno.log"
        env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(workdir),
               "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8",
               "ACEDATACLOUD_API_BASE_URL": sim.base(PROVIDER),
               "ACEDATACLOUD_API_TOKEN": key, "SUNO_REQUEST_TIMEOUT": "120",
               "LOG_LEVEL": "WARNING"}
        self._errors = open(workdir / "driver.err", "w")
        self.process = subprocess.Popen(
            [str(venv / "bin" / "python"), str(DRIVER), str(venv / "bin" / "mcp-suno"),
             str(self.log)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, text=True,
            env=env, cwd=workdir, bufsize=1)
        self._count = 0
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True, name="mcp-suno-driver").start()
        try:
            hello = self._read(60.0)
            if hello.get("event") != "tools":
                raise ClientFailed(f"the driver did not list the tools: {hello}\n"
                                   f"{self._stderr()}")
        except BaseException:
            self.close()
            raise
        self.tools: dict[str, dict[str, Any]] = {t["name"]: t for t in hello["tools"]}
        self.server = hello.get("server", {})

    def call(self, tool: str, timeout: float = 180.0, **arguments: Any) -> dict[str, Any]:
        """The tool's answer: ``{"is_error", "text", "json"}``, ``json`` being the text
        decoded when it is JSON. An error answer fails with what the simulator saw."""
        answer, seen = self.raw(tool, timeout=timeout, **arguments)
        if answer["is_error"]:
            raise ClientFailed(f"mcp-suno {tool}({_args(arguments)}) answered an error: "
                               f"{answer['text'][:2000]}\nsimulator exchanges:\n{seen}")
        return answer

    def json(self, tool: str, timeout: float = 180.0, **arguments: Any) -> Any:
        answer = self.call(tool, timeout=timeout, **arguments)
        if answer["json"] is None:
            raise ClientFailed(f"mcp-suno {tool}({_args(arguments)}) answered no JSON: "
                               f"{answer['text'][:2000]}")
        return answer["json"]

    def raw(self, tool: str, timeout: float = 180.0,
            **arguments: Any) -> tuple[dict[str, Any], str]:
        since = sim_now(self.sim)
        self._count += 1
        request = {"id": self._count, "tool": tool, "arguments": arguments}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        try:
            answer = self._read(timeout)
        except ClientFailed as exc:
            seen = describe(exchanges(self.sim, self.key, since))
            raise ClientFailed(f"mcp-suno {tool}({_args(arguments)}): {exc}\n"
                               f"simulator exchanges:\n{seen}") from None
        assert answer.get("id") == self._count, answer
        seen = describe(exchanges(self.sim, self.key, since))
        print(f"> {tool}({_args(arguments)})  -> "
              f"{'ERROR ' if answer['is_error'] else ''}{answer['text'][:BODY_CHARS]}\n{seen}\n")
        text = answer["text"]
        try:
            answer["json"] = json.loads(text)
        except ValueError:
            answer["json"] = None
        return answer, seen

    def _pump(self) -> None:
        for line in self.process.stdout:
            if line.strip():
                self._lines.put(line)
        self._lines.put(None)

    def _read(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise ClientFailed(f"no answer from the driver in {timeout:g} s") from None
        if line is None:
            self._lines.put(None)
            raise ClientFailed(f"the driver exited ({self.process.wait(10)}):\n"
                               f"{self._stderr()}")
        return json.loads(line)

    def _stderr(self) -> str:
        self._errors.flush()
        text = (self.workdir / "driver.err").read_text(errors="replace")[-3000:]
        log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        return f"driver stderr:\n{text}\nmcp-suno stderr:\n{log}"

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.flush()
                self.process.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)
        self._errors.close()


def _args(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)[:80]}" for k, v in arguments.items())
