"""The musicsim command as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from conftest import assert_answers_conform

MUSICSIM = [sys.executable, "-m", "simulator.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MUSICSIM, *args], capture_output=True, text=True, timeout=60)


def test_help_answers():
    top = run("--help")
    assert top.returncode == 0 and "serve" in top.stdout and "specs" in top.stdout
    serve = run("serve", "--help")
    for flag in ("--host", "--port", "--provider", "--clock", "--speed", "--seed", "--state",
                 "--admin-token", "--config", "--allow-local-callbacks", "--check-answers"):
        assert flag in serve.stdout
    assert "[sim:fail:moderation]" in serve.stdout and "[sim:503]" in serve.stdout


def test_specs_list_and_export(tmp_path: Path):
    listing = run("specs", "list")
    assert listing.returncode == 0
    assert [line.split()[0] for line in listing.stdout.splitlines()] == ["acedata", "admin", "evolink", "openaihk", "orux", "sunor"]
    exported = run("specs", "export", str(tmp_path / "out"))
    assert exported.returncode == 0
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["acedata.yaml", "admin.yaml", "evolink.yaml", "openaihk.yaml", "orux.yaml", "sunor.yaml"]
    assert yaml.safe_load((tmp_path / "out" / "evolink.yaml").read_text())["openapi"].startswith("3.1")


def test_bad_flags_are_clear_errors(tmp_path: Path):
    bad = run("serve", "--provider", "nope")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    config = tmp_path / "bad.toml"
    config.write_text("colour = 'blue'\n")
    unknown = run("serve", "--config", str(config), "--port", "0")
    assert unknown.returncode == 2 and "unknown setting" in unknown.stderr and "Traceback" not in unknown.stderr


def test_serve_prints_base_urls_and_the_demo_key_and_serves():
    env = {k: v for k, v in os.environ.items() if k != "MUSICSIM_CHECK_ANSWERS"}
    proc = subprocess.Popen([*MUSICSIM, "serve", "--port", "0", "--clock", "manual", "--seed", "7",
                             "--check-answers"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**env, "PYTHONUNBUFFERED": "1"})
    try:
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("demo API key" in l for l in lines):
            lines.append(proc.stdout.readline())
        banner = "".join(lines)
        assert "evolink" in banner and "sk-musicsim-demo" in banner
        assert "answers checked against specs/" in banner
        base = next(l.split()[1] for l in lines if l.strip().startswith("evolink"))
        root = base.rsplit("/", 1)[0]
        health = requests.get(f"{root}/_sim/health", timeout=10).json()
        assert health["clock"]["mode"] == "manual"
        created = requests.post(f"{base}/v1/audios/generations", timeout=10,
                                headers={"Authorization": "Bearer sk-musicsim-demo"},
                                json={"model": "suno-v5", "prompt": "cli"})
        assert created.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, log = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert_answers_conform(log)


def test_serve_with_a_scenario_starts_with_its_faults(tmp_path: Path):
    unknown = run("serve", "--scenario", "nope", "--port", "0")
    assert unknown.returncode == 2 and "unknown scenario 'nope'" in unknown.stderr
    assert "outage" in unknown.stderr and "Traceback" not in unknown.stderr
    listed = run("serve", "--help")
    for name in ("flaky", "overloaded", "degraded-upstream", "outage"):
        assert name in listed.stdout
    config = tmp_path / "mine.toml"
    config.write_text('[scenarios.slow-polls]\ndescription = "polls take a while"\n'
                      'rules = [{ match = { method = "GET" }, action = { latency_ms = 200 } }]\n')
    proc = subprocess.Popen([*MUSICSIM, "serve", "--port", "0", "--clock", "manual",
                             "--config", str(config), "--scenario", "outage"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("fault scenario" in l for l in lines):
            lines.append(proc.stdout.readline())
        assert any("fault scenario: outage" in l for l in lines), lines
        base = next(l.split()[1] for l in lines if l.strip().startswith("evolink"))
        root = base.rsplit("/", 1)[0]
        down = requests.post(f"{base}/v1/audios/generations", timeout=10,
                             headers={"Authorization": "Bearer sk-musicsim-demo"},
                             json={"model": "suno-v5", "prompt": "cli"})
        assert down.status_code == 503 and down.headers["Retry-After"] == "30"
        assert down.json()["error"]["type"] == "service_unavailable_error"
        names = [s["name"] for s in requests.get(f"{root}/_sim/scenarios", timeout=10).json()["scenarios"]]
        assert "slow-polls" in names and "outage" in names
    finally:
        proc.send_signal(signal.SIGINT)
        _, log = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert_answers_conform(log)  # checked because the suite sets MUSICSIM_CHECK_ANSWERS
