"""`musicsim conformance client` grades a client from what the simulator saw it do: the
sample clients in tests/clients/ behave well or badly on purpose."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.client import grade, run_client
from conftest import assert_answers_conform

CLIENTS = Path(__file__).resolve().parent / "clients"
SPEED = 20.0  # a song in well under a second of wall time; the clients poll each second


def graded(provider: str, behaviour: str, scenario: str | None = None) -> dict[str, tuple]:
    seen = run_client(provider, [sys.executable, str(CLIENTS / f"{provider}_client.py"),
                                 behaviour], scenario=scenario, timeout=120, speed=SPEED)
    return {r.case.id: (r.outcome, r.message) for r in grade(seen)}


def test_a_careful_client_passes_under_rate_limits():
    results = graded("evolink", "good", "rate-limited")
    assert results["client.retry-after"][0] == "passed", results
    assert {outcome for outcome, _ in results.values()} <= {"passed", "skipped"}, results
    assert results["client.polling"][0] == "passed"
    assert results["client.failures-surfaced"][0] == "skipped"  # nothing failed


def test_a_careless_client_is_caught_under_rate_limits():
    results = graded("evolink", "bad", "rate-limited")
    assert results["client.retry-after"][0] == "failed"
    assert "told to wait 2 s" in results["client.retry-after"][1]
    assert results["client.valid-requests"][0] == "failed"
    assert "model is required" in results["client.valid-requests"][1]
    assert results["client.polling"][0] == "failed"
    assert "less than 0.5 s apart" in results["client.polling"][1]
    assert "after it was reported 'completed'" in results["client.polling"][1]
    assert results["client.finished"][0] == "passed"


def test_failed_tasks_must_be_surfaced():
    careful = graded("evolink", "good", "failing-tasks")
    assert careful["client.failures-surfaced"][0] == "passed", careful
    careless = graded("evolink", "bad", "failing-tasks")
    assert careless["client.failures-surfaced"][0] == "failed"
    assert "exited 0 and said nothing" in careless["client.failures-surfaced"][1]


def test_webhook_signatures_must_be_checked():
    careful = graded("orux", "good")
    assert careful["client.signatures-checked"] == (
        "passed", "genuine deliveries accepted, a forged one refused"), careful
    careless = graded("orux", "bad")
    assert careless["client.signatures-checked"][0] == "failed"
    assert "forged signature was accepted" in careless["client.signatures-checked"][1]


def test_a_client_that_never_calls_fails():
    seen = run_client("evolink", [sys.executable, "-c", "print('hello')"], timeout=30,
                      speed=SPEED)
    results = {r.case.id: r for r in grade(seen)}
    assert results["client.made-requests"].outcome == "failed"
    assert "MUSICSIM_BASE_URL" in results["client.made-requests"].message


def test_a_client_past_its_time_limit_is_stopped():
    seen = run_client("evolink", [sys.executable, "-c", "import time; time.sleep(30)"],
                      timeout=1, speed=SPEED)
    results = {r.case.id: r for r in grade(seen)}
    assert results["client.finished"].outcome == "failed"


@pytest.mark.parametrize("behaviour, status", [("good", 0), ("bad", 1)])
def test_the_command_line_grades_and_reports(tmp_path, behaviour, status):
    report = tmp_path / "client.json"
    junit = tmp_path / "client.xml"
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "conformance", "client", "--provider", "evolink",
         "--scenario", "rate-limited", "--json", str(report), "--junit", str(junit), "--",
         sys.executable, str(CLIENTS / "evolink_client.py"), behaviour],
        capture_output=True, text=True, timeout=180)
    assert done.returncode == status, done.stdout + done.stderr
    data = json.loads(report.read_text())
    assert data["passed"] is (status == 0)
    failing = {c["id"] for c in data["cases"] if c["outcome"] == "failed"}
    assert bool(failing) is (status == 1)
    assert ("client.retry-after" in failing) is (status == 1)
    assert "client.retry-after" in junit.read_text()
    assert "score per area" in done.stdout
    assert_answers_conform(done.stderr)  # its simulator inherits MUSICSIM_CHECK_ANSWERS


@pytest.mark.parametrize("args, words", [
    (["--scenario", "no-such-scenario", "--", "true"], "unknown scenario 'no-such-scenario'"),
    (["--", "/no/such/client"], "cannot run /no/such/client"),
    ([], "needs a command after --"),
])
def test_bad_arguments_get_a_clear_message_and_status_2(args, words):
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "conformance", "client",
                           "--provider", "evolink", *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert words in " ".join((done.stdout + done.stderr).split())
    assert "Traceback" not in done.stdout + done.stderr
