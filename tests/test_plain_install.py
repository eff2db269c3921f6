"""Every command on a plain install: `pip install musicsim` from this checkout into an
empty virtual environment, without the test extras, and then each command run as a user
runs it. Only the pytest plugin needs pytest."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import assert_answers_conform

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "tests" / "clients" / "evolink_client.py"


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    """A venv holding musicsim and only what it declares it needs."""
    home = tmp_path_factory.mktemp("plain") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=300)
    done = subprocess.run([str(home / "bin" / "python"), "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", str(ROOT)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return home


def musicsim(home: Path, *args: str, timeout: float = 120, cwd: Path | None = None,
             ) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MUSICSIM_", "PYTHON"))}
    env["PATH"] = f"{home / 'bin'}:{env.get('PATH', '')}"
    return subprocess.run([str(home / "bin" / "musicsim"), *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)


def clean(result: subprocess.CompletedProcess) -> None:
    """No traceback, whatever the exit status."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    assert "ModuleNotFoundError" not in result.stderr + result.stdout, result.stderr[-3000:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_install_is_plain(plain: Path):
    for extra in ("pytest", "hypothesis", "schemathesis", "requests", "mutagen", "faker"):
        probe = subprocess.run([str(plain / "bin" / "python"), "-c", f"import {extra}"],
                               capture_output=True, text=True)
        assert probe.returncode != 0, f"{extra} is installed in the plain venv"


def test_help_of_every_command(plain: Path):
    for args in (["--help"], ["serve", "--help"], ["specs", "--help"],
                 ["conformance", "--help"], ["conformance", "gateway", "--help"],
                 ["conformance", "client", "--help"], ["conformance", "list", "--help"]):
        result = musicsim(plain, *args)
        clean(result)
        assert result.returncode == 0 and "usage:" in result.stdout, (args, result.stderr)


def test_specs_and_the_catalog(plain: Path, tmp_path: Path):
    listing = musicsim(plain, "specs", "list")
    clean(listing)
    assert listing.returncode == 0 and listing.stdout.split()[0] == "acedata"
    exported = musicsim(plain, "specs", "export", str(tmp_path / "specs"))
    clean(exported)
    assert sorted(p.name for p in (tmp_path / "specs").iterdir()) == [
        "acedata.yaml", "admin.yaml", "evolink.yaml", "openaihk.yaml", "orux.yaml", "sunor.yaml"]
    for dialect in ("evolink", "acedata", "openaihk", "sunor", "orux"):
        cases = musicsim(plain, "conformance", "list", "--provider", dialect)
        clean(cases)
        assert cases.returncode == 0 and f"{dialect}." in cases.stdout


def test_serve_and_the_gateway_runner(plain: Path, tmp_path: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICSIM_")}
    server = subprocess.Popen([str(plain / "bin" / "musicsim"), "serve", "--port", str(port),
                               "--provider", "evolink", "--check-answers"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    try:
        banner = server.stdout.readline()
        assert f"127.0.0.1:{port}" in banner, banner + server.stderr.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/health", timeout=10) as r:
            assert json.loads(r.read())["providers"] == ["evolink"]
        for name in ("ui", "ui/app.js", "ui/app.css", "ui/favicon.svg"):  # shipped in the wheel
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/{name}", timeout=10) as r:
                assert r.status == 200 and len(r.read()) > 300
        report = tmp_path / "report.json"
        run = musicsim(plain, "conformance", "gateway", "--provider", "evolink",
                       "--base-url", f"http://127.0.0.1:{port}/evolink",
                       "--api-key", "sk-musicsim-demo", "--cases", "evolink.auth.*",
                       "--json", str(report), timeout=300)
        clean(run)
        assert run.returncode == 0, run.stdout[-3000:]
        written = json.loads(report.read_text())
        outcomes = {c["id"]: c["outcome"] for c in written["cases"]}
        assert outcomes and set(outcomes.values()) == {"passed"}, outcomes
        # The runner controlled this simulator, and the report says what it did to it.
        assert any(n.startswith("clock: the simulator ran at 50x") for n in written["notes"])
        assert any(n.startswith("callbacks: the simulator at") for n in written["notes"])
        assert "ran at 50x real time" in run.stdout
    finally:
        server.send_signal(signal.SIGINT)
        _, log = server.communicate(timeout=30)
    assert server.returncode == 0
    assert_answers_conform(log)


def test_the_client_runner(plain: Path, tmp_path: Path):
    report = tmp_path / "client.json"
    run = musicsim(plain, "conformance", "client", "--provider", "evolink",
                   "--json", str(report), "--", str(plain / "bin" / "python"), str(CLIENT),
                   "good", timeout=300)
    clean(run)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    graded = json.loads(report.read_text())
    outcomes = {c["id"]: c["outcome"] for c in graded["cases"]}
    assert graded["passed"] is True and outcomes["client.finished"] == "passed", outcomes
    assert "failed" not in outcomes.values() and "error" not in outcomes.values(), outcomes


def test_a_missing_dependency_is_named_not_a_traceback(plain: Path, tmp_path: Path):
    broken = subprocess.run(
        [str(plain / "bin" / "python"), "-c",
         "import sys; sys.modules['aiohttp'] = None; from simulator.cli import main; "
         "sys.exit(main(['conformance', 'gateway', '--provider', 'evolink', '--base-url', "
         "'http://127.0.0.1:9/evolink', '--api-key', 'k']))"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path)  # the installed copy
    assert broken.returncode == 2, broken.stderr
    assert re.search(r"needs the Python package 'aiohttp'", broken.stderr), broken.stderr
    assert str(plain) in subprocess.run(
        [str(plain / "bin" / "python"), "-c", "import simulator; print(simulator.__file__)"],
        capture_output=True, text=True, cwd=tmp_path).stdout
    assert "Traceback" not in broken.stderr
