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
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console

import broken_gateways as bg
from conformance import gateway
from conformance.case import Catalog, Result
from conformance.common import add_shared_cases
from conformance.dialects import DIALECTS, catalog
from conformance.gateway import GatewayCheck
from conformance.runner import MISSING
from conformance.upstream import add_upstream_cases
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


def options(up: Upstream, base: str, cases=(), provider: str = "evolink",
            **run) -> GatewayCheck:
    return GatewayCheck(provider, base, DEMO_KEY, cases=list(cases), upstream_admin=up.admin,
                        second_api_key=up.second_key, **{**RUN, **run})


def check_through(up: Upstream, breakage: bg.Breakage | None, cases=(),
                  provider: str = "evolink", **run) -> list[Result]:
    with proxy(up, breakage, provider) as gw:
        return asyncio.run(gateway.check(options(up, gw.base, cases, provider, **run)))


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


@dataclass
class Broken:
    """A breakage in one dialect, the cases selected, and the cases that must catch it:
    exactly these fail (and fail, not error); ``run`` overrides the run's options."""

    provider: str
    breakage: bg.Breakage
    cases: list[str]
    catching: set[str]
    run: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.provider}-{self.breakage.name}"


# Two validation rules each; orux's second is a 404 (a parent that does not exist), which
# a gateway turning 400s into 422s leaves alone: it must not fail.
VALIDATION = {"evolink": ["missing-model", "task-id-format"],
              "acedata": ["prompt-too-long", "tasks-needs-id"],
              "openaihk": ["not-json", "no-scenario"], "sunor": ["no-model", "empty-body"],
              "orux": ["model-missing", "parent-unknown"]}
# Each dialect's own case about a key that cannot pay, beside upstream.insufficient-credits.
OWN_REFUSAL = {"evolink": [], "acedata": ["credits.used-up"],
               "openaihk": ["credits.insufficient-quota"], "sunor": ["credits.insufficient"],
               "orux": ["credits.quota-exceeded"]}
# The field each dialect's task answers lose: the one holding the status word (None), or
# for acedata, whose records carry no status word, the task id of its submit answer.
RENAMED = {"evolink": ("status", "state"), "acedata": ("task_id", "taskId")}
# Shared cases with nothing to check in a dialect, and why (the honest run shows it).
NOT_APPLICABLE = {"evolink": {"credits.charged": "the dialect shows no balance"},
                  "acedata": {"credits.charged": "the dialect shows no balance",
                              "upstream.expired": "the dialect keeps results"},
                  "openaihk": {"credits.charged": "the dialect shows no balance",
                               "callbacks.stages": "the dialect sends no callbacks",
                               "upstream.expired": "the dialect keeps results"},
                  "sunor": {"callbacks.stages": "the dialect sends no callbacks",
                            "upstream.expired": "the dialect keeps results"},
                  "orux": {"credits.charged": "the dialect shows no balance"}}
FAST_CALLBACKS = {"callback_wait": 1.5}  # a dropped stage is waited for this long
FAST_EXPIRY = {"timeout": 5}  # [sim:expire] ends results a simulated minute after success


def broken_in(p: str) -> list[Broken]:
    """Every shared family of cases in dialect ``p``, each broken on purpose."""
    def ids(*names: str) -> set[str]:
        return {f"{p}.{name}" for name in names}

    auth = ["auth.missing-key", "auth.wrong-key"]  # the shared ones (a dialect adds more)
    validation = [f"validation.{name}" for name in VALIDATION[p]]
    refusals = ["upstream.insufficient-credits", *OWN_REFUSAL[p]]
    rate = ["rate-limits.burst", "upstream.rate-limited"]
    rows = [
        # auth, and the dialect's error shape
        Broken(p, bg.AnyKey(), auth, ids("auth.wrong-key")),
        Broken(p, bg.ErrorShape(), [*auth, "ids.unknown-task", "upstream.server-error-500"],
               ids("auth.missing-key", "auth.wrong-key", "ids.unknown-task",
                   "upstream.server-error-500")),
        # validation (a 404 must come through untouched)
        Broken(p, bg.WrongErrorStatus(), [*validation, "ids.unknown-task"],
               ids(validation[0]) if p == "orux" else ids(*validation)),
        # a song end to end (refusals are not renamed: auth must pass)
        Broken(p, bg.RenameField(*RENAMED.get(p, (None,))), ["scenarios.song", *auth],
               ids("scenarios.song")),
        # status vocabulary, forward only
        Broken(p, bg.StatusBackwards(), ["states.vocabulary"], ids("states.vocabulary")),
        # a failed task
        Broken(p, bg.FailedAsSucceeded(), ["states.failed", "upstream.failed-task"],
               ids("states.failed", "upstream.failed-task")),
        # media links
        Broken(p, bg.TruncatedAudio(), ["media.resolve"], ids("media.resolve")),
        # charging twice (sunor shows a balance: its charged case counts the double price)
        Broken(p, bg.ChargeTwice(), ["credits.one-upstream-task", "credits.charged"],
               ids("credits.one-upstream-task", *(["credits.charged"] if p == "sunor" else []))),
        # another key's ids
        Broken(p, bg.OneUpstreamKey(), ["ids.foreign-task", *auth], ids("ids.foreign-task")),
        # rate limits: a 429 is a 429, in the dialect's words
        Broken(p, bg.RateLimitAsServerError(), rate, ids(*rate)),
        # upstream faults: a stuck task made up as done, a 5xx hidden behind a task that
        # does not exist, out of credits passed on with another status or other words
        Broken(p, bg.SkipState(), ["scenarios.song", "upstream.stuck-task"],
               ids("scenarios.song", "upstream.stuck-task")),
        Broken(p, bg.MadeUpTask(), ["upstream.server-error-*", "upstream.no-task-lost"],
               ids("upstream.server-error-500", "upstream.server-error-503",
                   "upstream.no-task-lost")),
        Broken(p, bg.CreditsRestatus(), refusals, ids(*refusals)),
        Broken(p, bg.CreditsRecoded(), refusals, ids(*refusals)),
    ]
    if p != "acedata":  # acedata's status is the shape of a record: it has no words
        rows.append(Broken(p, bg.UnknownWord(), ["states.vocabulary"], ids("states.vocabulary")))
    if "Retry-After" in bg.driver_of(p).rate_headers:
        rows.append(Broken(p, bg.DropRetryAfter(), rate, ids(*rate)))
    if bg.driver_of(p).callback_stages:
        rows.append(Broken(p, bg.DropFinalStage(), ["callbacks.stages"],
                           ids("callbacks.stages"), FAST_CALLBACKS))
    if bg.driver_of(p).expires:
        rows.append(Broken(p, bg.KeepsResults(), ["upstream.expired"], ids("upstream.expired"),
                           FAST_EXPIRY))
    if p == "evolink":  # breakages of evolink's own shapes
        rows += [
            Broken(p, bg.CallbackRenameField(), ["callbacks.stages"], ids("callbacks.stages"),
                   FAST_CALLBACKS),
            Broken(p, bg.AudioIsCover(), ["media.resolve"], ids("media.resolve")),
        ]
    return rows


BROKEN = [row for p in DIALECTS for row in broken_in(p)]


@pytest.mark.parametrize("row", BROKEN, ids=[row.id for row in BROKEN])
def test_each_broken_proxy_is_caught_by_the_case_named_for_it(upstream, row):
    results = check_through(upstream, row.breakage, row.cases, row.provider, **row.run)
    assert {r.case.id for r in results} >= row.catching, "the selection lost a catching case"
    caught = not_ok(results)
    assert caught, f"{row.breakage.name} passed every case:\n{summary(results)}"
    assert set(caught) == row.catching, summary(results)
    assert all(r.outcome == "failed" for r in results if r.case.id in row.catching), \
        summary(results)


def shared_cases(provider: str) -> set[str]:
    """The ids of the cases every dialect shares (conformance/common.py, upstream.py)."""
    cases = Catalog(provider)
    add_shared_cases(cases, bg.driver_of(provider))
    add_upstream_cases(cases, bg.driver_of(provider))
    return {c.id for c in cases.cases}


@pytest.mark.parametrize("provider", DIALECTS)
def test_every_shared_case_is_proven_by_a_breakage_it_catches(provider):
    """Each shared case that applies to the dialect fails for at least one breakage
    above (validation: at least one rule), so none of them is a check that cannot fail."""
    shared = shared_cases(provider)
    caught = set().union(*(row.catching for row in BROKEN if row.provider == provider))
    validation = {c for c in shared if c.startswith(f"{provider}.validation.")}
    assert caught & validation
    exempt = {f"{provider}.{name}" for name in NOT_APPLICABLE[provider]}
    assert shared - validation - exempt - caught == set()


@pytest.mark.parametrize("provider", DIALECTS)
def test_out_of_credits_is_checked_through_a_gateway(upstream, provider):
    """With --upstream-admin the refusals of a key that cannot pay run through a gateway
    (its upstream key lowered for each case) and an honest one passes them; the upstream
    key gets back every credit the runner took (what it holds, counting what is held and
    spent, is unchanged)."""
    def total() -> float:
        account = upstream.sim.admin("GET", f"/accounts/{DEMO_KEY}").json()
        return account["credits"] + account["held"] + account["spent"]

    before = total()
    cases = ["upstream.insufficient-credits", *OWN_REFUSAL[provider]]
    results = check_through(upstream, None, cases, provider)
    assert {r.case.id: r.outcome for r in results} == \
        {f"{provider}.{case}": "passed" for case in cases}, summary(results)
    assert abs(total() - before) < 1e-6


@pytest.mark.parametrize("provider", DIALECTS)
def test_what_does_not_apply_is_skipped_as_such(upstream, provider):
    """A shared case a dialect has nothing for (no balance, no callbacks, results kept)
    is skipped as not applicable: not reported as "not checked"."""
    reasons = NOT_APPLICABLE[provider]
    results = check_through(upstream, None, list(reasons), provider)
    assert {r.case.id.split(".", 1)[1]: (r.outcome, r.message, r.unchecked)
            for r in results} == {name: ("skipped", why, False) for name, why in reasons.items()}


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


@pytest.mark.parametrize("provider", ["evolink", "openaihk"])
def test_a_run_without_the_options_names_what_it_did_not_check(upstream, tmp_path, provider):
    """A gateway charging every song twice, checked with neither --upstream-admin nor
    --second-api-key, where the dialect shows no balance: nothing can fail, so every
    report must name the cases that did not run and the option that runs them, never
    end with "all selected cases passed"."""
    junit, report = tmp_path / "report.xml", tmp_path / "report.json"
    console = quiet()
    with proxy(upstream, bg.ChargeTwice(), provider) as gw:
        check = GatewayCheck(provider, gw.base, DEMO_KEY, cases=[
            "auth.missing-key", "auth.wrong-key", "credits.charged",
            "credits.one-upstream-task", "ids.foreign-task"], **RUN)
        status = gateway.main(check, str(junit), str(report), console)
    assert status == 0
    printed = console.file.getvalue()
    assert "all selected cases passed" not in printed
    last = printed.strip().splitlines()[-1]
    assert last == ("no selected case failed, but 2 not checked: --second-api-key (1), "
                    "--upstream-admin (1) (see \"not checked\" above)"), printed
    block = printed[printed.index("not checked: skipped"):]
    for flag, case in (("--upstream-admin URL", "credits.one-upstream-task"),
                       ("--second-api-key KEY", "ids.foreign-task")):
        row = next(line for line in block.splitlines() if f"{provider}.{case}" in line)
        assert flag in row, block
    assert f"{provider}.credits.charged" not in block  # no balance: nothing was missed

    data = json.loads(report.read_text())
    assert (data["passed"], data["complete"]) == (True, False)
    assert data["verdict"] == last
    assert [(g["flag"], [c["id"] for c in g["cases"]]) for g in data["not_checked"]] == [
        ("--second-api-key", [f"{provider}.ids.foreign-task"]),
        ("--upstream-admin", [f"{provider}.credits.one-upstream-task"])]
    by_id = {c["id"]: c for c in data["cases"]}
    assert (by_id[f"{provider}.credits.one-upstream-task"]["flag"],
            by_id[f"{provider}.credits.one-upstream-task"]["applies"]) == ("--upstream-admin", True)
    assert (by_id[f"{provider}.credits.charged"]["flag"],
            by_id[f"{provider}.credits.charged"]["applies"]) == (None, False)
    assert "flag" not in by_id[f"{provider}.auth.wrong-key"]

    _, cases = read_junit(junit)
    skipped = {name: case.find("skipped") for name, case in cases.items()}
    message = skipped[f"{provider}.credits.one-upstream-task"].get("message")
    assert message.startswith("not checked:") and "run with --upstream-admin URL" in message
    assert "run with --second-api-key KEY" in \
        skipped[f"{provider}.ids.foreign-task"].get("message")
    assert skipped[f"{provider}.credits.charged"].get("message") == \
        "not applicable: the dialect shows no balance"
    assert skipped[f"{provider}.auth.wrong-key"] is None


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
