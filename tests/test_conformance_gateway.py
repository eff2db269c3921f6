"""The conformance runner checks itself: an honest proxy in front of the simulator passes
the catalog, and each deliberately broken proxy (tests/broken_gateways.py) is caught by the
cases named for it. Also the reports ``conformance.gateway.main`` writes, its exit status,
and the ``musicsim conformance gateway`` command."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

import broken_gateways as bg
from conformance import gateway
from conformance.case import Result
from conformance.dialects import DIALECTS, catalog
from conformance.gateway import GatewayCheck
from conformance.runner import MISSING
from conftest import DEMO_KEY, Sim, start_sim
from simulator.config import RateLimit

MUSICSIM = [sys.executable, "-m", "simulator.cli"]
SPEED = 100  # simulated seconds per real second
# A task takes a few real seconds at SPEED; a case that waits longer has found a fault.
RUN = dict(timeout=20, poll_every=0.1, callback_wait=3, concurrency=8)


@dataclass
class Upstream:
    sim: Sim
    second_key: str

    @property
    def admin(self) -> str:
        return f"{self.sim.url}/_sim"


@pytest.fixture(scope="module")
def upstream():
    """One simulator on a fast clock behind every proxy of this module; rate limits off
    (the rate-limit cases set their own), and a second key made with its control plane."""
    off = RateLimit(0.0, 1.0)
    sim = start_sim(clock="scaled", speed=SPEED, allow_local_callbacks=True,
                    rate_limits={p: off for p in DIALECTS})
    # Through a gateway every case spends the one key's credits.
    granted = sim.admin("POST", f"/accounts/{DEMO_KEY}/credits", json={"delta": 1_000_000})
    assert granted.status_code == 200, granted.text
    yield Upstream(sim, sim.account(credits=1_000_000))
    sim.stop()


def proxy(up: Upstream, breakage: bg.Breakage | None = None, provider: str = "evolink"):
    return bg.Proxy(provider, up.sim.url, breakage, client_keys=(DEMO_KEY, up.second_key))


def options(up: Upstream, base: str, cases=(), provider: str = "evolink") -> GatewayCheck:
    return GatewayCheck(provider, base, DEMO_KEY, cases=list(cases), upstream_admin=up.admin,
                        second_api_key=up.second_key, **RUN)


def check_through(up: Upstream, breakage: bg.Breakage | None, cases=(),
                  provider: str = "evolink") -> list[Result]:
    with proxy(up, breakage, provider) as gw:
        return asyncio.run(gateway.check(options(up, gw.base, cases, provider)))


def not_ok(results: list[Result]) -> dict[str, str]:
    return {r.case.id: f"{r.outcome}: {r.message}" for r in results if not r.ok}


def summary(results: list[Result]) -> str:
    return "\n".join(f"{r.outcome:7} {r.case.id}: {r.message[:300]}" for r in results)


# --- the honest proxy ---------------------------------------------------------------------


def test_the_honest_proxy_passes_the_whole_evolink_catalog(upstream):
    results = check_through(upstream, None)
    assert len(results) == len(catalog("evolink").cases)
    assert not not_ok(results), summary(results)
    # Every need of the run was met: a skip is the dialect's own (it shows no balance).
    skipped = {r.case.id: r.message for r in results if r.outcome == "skipped"}
    assert not set(skipped.values()) & set(MISSING.values()), skipped
    assert len(skipped) <= 2, skipped


def test_the_honest_proxy_forwards_everything_unchanged(upstream):
    """Method, path, query, body and key reach the simulator as sent; the answer comes
    back as the simulator gave it."""
    import requests

    second = {"Authorization": f"Bearer {upstream.second_key}"}
    with proxy(upstream) as gw:
        body = {"model": "suno-v4", "custom_mode": False, "instrumental": True,
                "prompt": "forwarded unchanged"}
        made = requests.post(f"{gw.base}/v1/audios/generations", json=body, timeout=10,
                             headers=second)
        assert made.status_code == 200, made.text
        task_id = made.json()["id"]
        assert upstream.sim.admin("GET", f"/tasks/{task_id}").json()["params"] == body
        through = requests.get(f"{gw.base}/v1/tasks/{task_id}?x=1&y=a%20b", timeout=10,
                               headers={**second, "X-Trace": "through the proxy"})
        direct = requests.get(f"{upstream.sim.url}/evolink/v1/tasks/{task_id}", timeout=10,
                              headers=second)
        assert through.status_code == direct.status_code == 200
        assert through.json()["id"] == direct.json()["id"] == task_id
        assert through.headers["Content-Type"] == direct.headers["Content-Type"]
        entries = upstream.sim.admin("GET", "/journal").json()["entries"]
        polled = [e for e in entries if e["path"] == f"/v1/tasks/{task_id}"
                  and e["request"]["headers"].get("X-Trace") == "through the proxy"]
        assert len(polled) == 1 and polled[0]["query"] == "x=1&y=a b", polled
        # The key went through as sent: the task is the second key's, not the demo key's.
        other = requests.get(f"{gw.base}/v1/tasks/{task_id}", timeout=10,
                             headers={"Authorization": f"Bearer {DEMO_KEY}"})
        assert other.status_code == 404
        assert requests.get(f"{gw.base}/v1/tasks/{task_id}", timeout=10).status_code == 401


# --- each broken proxy is caught ----------------------------------------------------------


# (breakage, the cases selected, the cases that must catch it: exactly these fail)
EVOLINK_BROKEN = [
    (bg.RenameField("status", "state"), ["scenarios.song", "auth.*"],
     {"evolink.scenarios.song"}),
    (bg.SkipState(), ["scenarios.song", "upstream.stuck-task"],
     {"evolink.scenarios.song", "evolink.upstream.stuck-task"}),
    (bg.StatusBackwards(), ["states.vocabulary"], {"evolink.states.vocabulary"}),
    (bg.UnknownWord(), ["states.vocabulary"], {"evolink.states.vocabulary"}),
    (bg.FailedAsSucceeded(), ["states.failed", "upstream.failed-task"],
     {"evolink.states.failed", "evolink.upstream.failed-task"}),
    (bg.AnyKey(), ["auth.*"], {"evolink.auth.wrong-key"}),
    (bg.OneUpstreamKey(), ["ids.foreign-task", "auth.*"], {"evolink.ids.foreign-task"}),
    (bg.ChargeTwice(), ["credits.one-upstream-task"], {"evolink.credits.one-upstream-task"}),
    (bg.DropFinalStage(), ["callbacks.stages"], {"evolink.callbacks.stages"}),
    (bg.CallbackRenameField(), ["callbacks.stages"], {"evolink.callbacks.stages"}),
    (bg.AudioIsCover(), ["media.resolve"], {"evolink.media.resolve"}),
    (bg.TruncatedAudio(), ["media.resolve"], {"evolink.media.resolve"}),
    (bg.DropRetryAfter(), ["rate-limits.burst", "upstream.rate-limited"],
     {"evolink.rate-limits.burst", "evolink.upstream.rate-limited"}),
    (bg.MadeUpTask(), ["upstream.server-error-*"],
     {"evolink.upstream.server-error-500", "evolink.upstream.server-error-503"}),
    (bg.ErrorShape(), ["auth.*", "ids.unknown-task"],
     {"evolink.auth.missing-key", "evolink.auth.wrong-key", "evolink.ids.unknown-task"}),
    (bg.WrongErrorStatus(), ["validation.missing-model", "validation.task-id-format",
                             "ids.unknown-task"],
     {"evolink.validation.missing-model", "evolink.validation.task-id-format"}),
]


@pytest.mark.parametrize("breakage, cases, catching", EVOLINK_BROKEN,
                         ids=[p.id if hasattr(p, "id") else p[0].name for p in EVOLINK_BROKEN])
def test_each_broken_evolink_proxy_is_caught(upstream, breakage, cases, catching):
    results = check_through(upstream, breakage, cases)
    assert {r.case.id for r in results} >= catching, "the selection lost a catching case"
    caught = not_ok(results)
    assert caught, f"{breakage.name} passed every case:\n{summary(results)}"
    assert set(caught) == catching, summary(results)
    assert all(r.outcome == "failed" for r in results if r.case.id in catching), \
        summary(results)


# --- reports and exit status --------------------------------------------------------------


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200, force_terminal=False)


def read_junit(path: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    return suite, {case.get("name"): case for case in suite.iter("testcase")}


def test_reports_name_the_failing_case_and_the_exit_status_is_1(upstream, tmp_path):
    junit, report = tmp_path / "report.xml", tmp_path / "report.json"
    console = quiet()
    with proxy(upstream, bg.AnyKey()) as gw:
        status = gateway.main(options(upstream, gw.base, ["auth.*", "ids.unknown-task"]),
                              str(junit), str(report), console)
    assert status == 1
    suite, cases = read_junit(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("3", "1", "0", "0")
    assert set(cases) == {"evolink.auth.missing-key", "evolink.auth.wrong-key",
                          "evolink.ids.unknown-task"}
    failure = cases["evolink.auth.wrong-key"].find("failure")
    assert failure is not None and "expected 401" in failure.get("message")
    assert "seed 004: authentication" in failure.text
    assert cases["evolink.auth.wrong-key"].get("classname").endswith(".auth")
    for name in ("evolink.auth.missing-key", "evolink.ids.unknown-task"):
        assert list(cases[name]) == [], name  # passed: no failure, error or skipped child
    data = json.loads(report.read_text())
    assert data["passed"] is False
    assert data["counts"] == {"passed": 2, "failed": 1, "error": 0, "skipped": 0}
    assert data["areas"]["auth"] == {"passed": 1, "failed": 1, "skipped": 0}
    by_id = {c["id"]: c for c in data["cases"]}
    assert by_id["evolink.auth.wrong-key"]["outcome"] == "failed"
    assert "expected 401" in by_id["evolink.auth.wrong-key"]["message"]
    assert by_id["evolink.auth.missing-key"]["outcome"] == "passed"
    printed = console.file.getvalue()
    assert "evolink.auth.wrong-key" in printed and "1 of 3 cases failed" in printed


def test_an_all_passing_selection_exits_0(upstream, tmp_path):
    junit, report = tmp_path / "report.xml", tmp_path / "report.json"
    with proxy(upstream) as gw:
        status = gateway.main(options(upstream, gw.base, ["auth.*", "ids.foreign-task"]),
                              str(junit), str(report), quiet())
    assert status == 0
    suite, cases = read_junit(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "0", "0")
    assert "evolink.ids.foreign-task" in cases
    assert all(not list(case) for case in cases.values())
    data = json.loads(report.read_text())
    assert data["passed"] is True and data["counts"]["passed"] == 3


def test_a_glob_matching_nothing_exits_2(upstream, tmp_path):
    console = quiet()
    status = gateway.main(options(upstream, f"{upstream.sim.url}/evolink", ["no-such-case.*"]),
                          str(tmp_path / "r.xml"), str(tmp_path / "r.json"), console)
    assert status == 2
    assert "no case matches" in console.file.getvalue()
    assert json.loads((tmp_path / "r.json").read_text())["cases"] == []


# --- the command ----------------------------------------------------------------------------


def musicsim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MUSICSIM, *args], capture_output=True, text=True, timeout=120)


def test_the_cli_checks_a_running_simulator(upstream, tmp_path):
    junit, report = tmp_path / "cli.xml", tmp_path / "cli.json"
    done = musicsim("conformance", "gateway", "--provider", "evolink",
                    "--base-url", upstream.sim.base("evolink"), "--api-key", DEMO_KEY,
                    "--cases", "auth.*", "--cases", "ids.foreign-task",
                    "--cases", "evolink.scenarios.song",
                    "--timeout", "20", "--poll-every", "0.1", "--concurrency", "8",
                    "--junit", str(junit), "--json", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all selected cases passed" in done.stdout
    suite, cases = read_junit(junit)
    assert set(cases) == {"evolink.auth.missing-key", "evolink.auth.wrong-key",
                          "evolink.ids.foreign-task", "evolink.scenarios.song"}
    assert suite.get("failures") == "0" and suite.get("skipped") == "0"
    data = json.loads(report.read_text())
    # The target is a simulator: the run made its own second key for foreign-task.
    assert data["passed"] is True and data["counts"]["passed"] == 4


def test_the_cli_catches_a_broken_gateway(upstream, tmp_path):
    junit, report = tmp_path / "cli.xml", tmp_path / "cli.json"
    with proxy(upstream, bg.OneUpstreamKey()) as gw:
        done = musicsim("conformance", "gateway", "--provider", "evolink",
                        "--base-url", gw.base, "--api-key", DEMO_KEY,
                        "--second-api-key", upstream.second_key,
                        "--upstream-admin", upstream.admin,
                        "--cases", "ids.*", "--cases", "credits.one-upstream-task",
                        "--timeout", "20", "--poll-every", "0.1",
                        "--junit", str(junit), "--json", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    _, cases = read_junit(junit)
    assert cases["evolink.ids.foreign-task"].find("failure") is not None
    assert cases["evolink.ids.unknown-task"].find("failure") is None
    assert cases["evolink.credits.one-upstream-task"].find("failure") is None
    data = json.loads(report.read_text())
    assert [c["id"] for c in data["cases"] if c["outcome"] == "failed"] == \
        ["evolink.ids.foreign-task"]


# --- the other dialects -------------------------------------------------------------------

OTHERS = [p for p in ("sunor", "orux", "acedata", "openaihk")
          if importlib.util.find_spec(f"conformance.dialects.{p}") is not None]
# The field each dialect's task answers lose: the one holding the status word (None), or
# for acedata, whose records carry no status word, the task id of its submit answer.
RENAMED = {"acedata": ("task_id", "taskId")}
SELECTION = ["auth.*", "scenarios.song", "ids.foreign-task"]


@pytest.mark.parametrize("provider", OTHERS)
def test_the_honest_proxy_passes_what_the_simulator_passes(upstream, provider):
    direct = asyncio.run(gateway.check(options(upstream, upstream.sim.base(provider),
                                               SELECTION, provider)))
    through = check_through(upstream, None, SELECTION, provider)
    assert [r.case.id for r in direct] == [r.case.id for r in through]
    assert {r.case.id for r in direct} >= {f"{provider}.auth.wrong-key",
                                           f"{provider}.scenarios.song"}
    # A case that needs the simulator itself as the target skips through a gateway.
    regressed = {r.case.id: r.message for d, r in zip(direct, through)
                 if d.outcome == "passed" and not r.ok}
    assert not regressed, summary(through)
    outcomes = {r.case.id: r.outcome for r in through}
    assert outcomes[f"{provider}.auth.wrong-key"] == "passed", summary(through)


@pytest.mark.parametrize("provider", OTHERS)
def test_a_renamed_field_is_caught(upstream, provider):
    breakage = bg.RenameField(*RENAMED.get(provider, (None,)))
    results = check_through(upstream, breakage, ["scenarios.song"], provider)
    assert set(not_ok(results)) == {f"{provider}.scenarios.song"}, summary(results)


@pytest.mark.parametrize("provider", OTHERS)
def test_a_bad_key_answered_200_is_caught(upstream, provider):
    results = check_through(upstream, bg.AnyKey(), ["auth.*"], provider)
    caught = not_ok(results)
    assert f"{provider}.auth.wrong-key" in caught, summary(results)
    assert f"{provider}.auth.missing-key" not in caught, summary(results)


def test_a_base_url_where_nothing_answers_is_a_clear_error():
    done = musicsim("conformance", "gateway", "--provider", "evolink", "--base-url",
                    "http://127.0.0.1:1/evolink", "--api-key", "k")
    assert done.returncode == 2
    assert "nothing answers at http://127.0.0.1:1/evolink" in " ".join(done.stdout.split())
    assert "Traceback" not in done.stdout + done.stderr


def test_list_prints_the_catalog_with_needs():
    done = musicsim("conformance", "list", "--provider", "orux", "--cases", "upstream.*",
                    "--cases", "orux.auth.wrong-key")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("orux.auth.wrong-key ")
    assert len(lines) == 1 + 8 and all("[needs credits, upstream_admin]" in line
                                       for line in lines[1:])
