"""What an operator sees of a run: the request journal, the record of every callback
delivery attempt (retries and webhook faults included) and the Prometheus metrics.

Everything is driven over HTTP as a client and its operator would: provider requests go
to the dialect endpoints, and the journal, the attempts, the faults and the metrics are
read from the /_sim control plane, with every JSON answer checked against
specs/admin.yaml. Simulated time only passes when a test advances the manual clock, so
retry schedules are checked to the second; wall-clock waits are polling loops with a
deadline.
"""

from __future__ import annotations

import socket
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from conftest import Receiver, Sim, bearer, conforms, spec_validator, start_sim
from orux_client import verify_signature
from prometheus_client.parser import text_string_to_metric_families

from simulator.config import PROVIDERS, RateLimit

ROOT = Path(__file__).resolve().parent.parent
PRICES = tomllib.loads((ROOT / "fixtures" / "prices.toml").read_text())
NO_LIMITS = {provider: RateLimit(0.0, 1.0) for provider in PROVIDERS}
JOURNAL_LIST, JOURNAL_STATS, ATTEMPT_LIST, ADMIN_ERROR = (
    spec_validator("admin", name)
    for name in ("JournalList", "JournalStats", "WebhookAttemptList", "AdminError"))

EVOLINK_SONG = {"model": "suno-v4.5", "prompt": "A cheerful summer pop song"}
ACEDATA_SONG = {"action": "generate", "prompt": "A song for Christmas"}
# A quick orux task that runs before it ends (speech is answered already finished).
ORUX_MUSIC = {"model": "elevenlabs-music", "prompt": "a game jingle", "duration": 10}
DEFAULT_BACKOFF = (5.0, 15.0, 45.0)  # simulator/core/webhooks.py Policy: evolink, acedata
ORUX_BACKOFF = (10.0, 60.0, 300.0, 1800.0)  # the orux spec's retry schedule
MISSING = "task-unified-1766319089-zzzzzzzz"  # a well-formed evolink id nobody has


# --- small helpers ------------------------------------------------------------------------


def wait_until(probe: Callable[[], Any], timeout: float = 10.0, every: float = 0.02) -> Any:
    """Poll ``probe`` until it returns something truthy or ``timeout`` wall seconds pass;
    returns its last value either way, so the caller's assertion shows what was seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


def admin_json(sim: Sim, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
    response = sim.admin(method, path, **kwargs)
    assert response.status_code == status, response.text
    return response.json()


def journal(sim: Sim, **params: Any) -> dict[str, Any]:
    """GET /_sim/journal with ``params``, the answer checked against JournalList."""
    answer = admin_json(sim, "GET", "/journal", params=params)
    conforms(JOURNAL_LIST, answer)
    return answer


def journal_stats(sim: Sim, **params: Any) -> dict[str, Any]:
    answer = admin_json(sim, "GET", "/journal/stats", params=params)
    conforms(JOURNAL_STATS, answer)
    return answer


def webhooks(sim: Sim, **params: Any) -> dict[str, Any]:
    """GET /_sim/webhooks with ``params``, the answer checked against WebhookAttemptList."""
    answer = admin_json(sim, "GET", "/webhooks", params=params)
    conforms(ATTEMPT_LIST, answer)
    return answer


def attempts_of(sim: Sim, task_id: str, stage: str | None = None) -> list[dict[str, Any]]:
    return [a for a in webhooks(sim, task_id=task_id)["attempts"]
            if stage is None or a["stage"] == stage]


def wait_attempts(sim: Sim, task_id: str, count: int, stage: str | None = None,
                  timeout: float = 10.0) -> list[dict[str, Any]]:
    """The task's attempts once at least ``count`` are recorded (or the deadline passed)."""
    seen: list[dict[str, Any]] = []

    def enough() -> bool:
        seen[:] = attempts_of(sim, task_id, stage)
        return len(seen) >= count

    wait_until(enough, timeout)
    return seen


def clock_now(sim: Sim) -> float:
    return admin_json(sim, "GET", "/clock")["now"]


def add_fault(sim: Sim, rule: dict[str, Any]) -> dict[str, Any]:
    return admin_json(sim, "POST", "/faults", status=201, json=rule)


def force(sim: Sim, task_id: str, outcome: str) -> None:
    """Settle a task now through the control plane ("succeed" or "fail")."""
    admin_json(sim, "POST", f"/tasks/{task_id}/outcome", json={"outcome": outcome})


def advance_until_sent(sim: Sim, step: float = 2.0, limit: float = 400.0) -> None:
    """Step the clock until the first callback delivery is made: a delivery counts as
    pending from the moment a task event sends it, inside the advance itself."""
    elapsed = 0.0
    while elapsed < limit:
        sim.advance(step)
        elapsed += step
        answer = webhooks(sim)
        if answer["pending"] or answer["count"]:
            return
    raise AssertionError(f"no callback was sent within {limit} simulated seconds")


def closed_port_url() -> str:
    """A loopback URL nobody listens on: bound, noted and released again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@dataclass
class Call:
    raw: bytes
    headers: dict[str, str]
    answered: int

    @property
    def json(self) -> dict[str, Any]:
        return orjson.loads(self.raw)


class Hook(Receiver):
    """A receiver that keeps each delivery whole (raw body, headers, the status it
    answered): down, answering 500, for its first ``fail_first`` deliveries, then up."""

    def record(self, raw: bytes, headers: dict[str, str]) -> int:
        status = 500 if len(self.calls) < self.fail_first else 200
        self.calls.append(Call(raw, headers, status))
        return status

    def quiet(self, count: int, window: float = 0.3) -> None:
        """No delivery beyond the first ``count`` arrives within ``window`` wall seconds."""
        deadline = time.monotonic() + window
        while time.monotonic() < deadline:
            assert len(self.calls) <= count, [c.raw[:80] for c in self.calls]
            time.sleep(0.02)
        assert len(self.calls) == count


@pytest.fixture
def hooks():
    """Receivers made in a test, closed after it: ``hooks(fail_first=N)``."""
    made: list[Hook] = []

    def make(fail_first: int = 0) -> Hook:
        made.append(Hook(fail_first))
        return made[-1]

    yield make
    for hook in made:
        hook.close()


# --- dialects: how each one is asked for a callback ---------------------------------------


def evolink_submit(sim: Sim, key: str, callback_url: str | None = None,
                   **fields: Any) -> requests.Response:
    body = {**EVOLINK_SONG, **fields, **({"callback_url": callback_url} if callback_url else {})}
    return requests.post(f"{sim.base('evolink')}/v1/audios/generations", json=body,
                         headers=bearer(key), timeout=10)


def evolink_poll(sim: Sim, task_id: str, key: str) -> requests.Response:
    return requests.get(f"{sim.base('evolink')}/v1/tasks/{task_id}", headers=bearer(key),
                        timeout=10)


def _evolink(sim: Sim, url: str, key: str) -> str:
    response = evolink_submit(sim, key, url)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _acedata(sim: Sim, url: str, key: str) -> str:
    response = requests.post(f"{sim.base('acedata')}/suno/audios",
                             json={**ACEDATA_SONG, "callback_url": url}, headers=bearer(key),
                             timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["task_id"]


def _orux(sim: Sim, url: str, key: str) -> str:
    response = requests.post(f"{sim.base('orux')}/api/v1/tasks",
                             json={**ORUX_MUSIC, "webhook_url": url}, headers=bearer(key),
                             timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["task_id"]


@dataclass(frozen=True)
class Dialect:
    name: str
    submit: Callable[[Sim, str, str], str]  # (sim, callback url, key) → task id
    backoff: tuple[float, ...]
    first_stage: str  # the stage of the first callback a task's own run sends
    failed_stage: str  # the stage of the callback a failed task sends

    @property
    def retries(self) -> int:
        return len(self.backoff)


DIALECTS = {
    "evolink": Dialect("evolink", _evolink, DEFAULT_BACKOFF, "text", "complete"),
    "acedata": Dialect("acedata", _acedata, DEFAULT_BACKOFF, "complete", "complete"),
    "orux": Dialect("orux", _orux, ORUX_BACKOFF, "SUCCESS", "FAILED"),
}


@pytest.fixture(params=sorted(DIALECTS))
def dialect(request) -> Dialect:
    return DIALECTS[request.param]


def secret_of(sim: Sim, key: str) -> str:
    return admin_json(sim, "GET", f"/accounts/{key}")["webhook_secret"]


def assert_received_as_recorded(sim: Sim, dialect: Dialect, key: str, hook: Hook,
                                tried: list[dict[str, Any]]) -> None:
    """Each recorded attempt is what the receiver got, byte for byte, in order, answered
    with the recorded status; orux attempts carry the signature the receiver verified."""
    payload = tried[0]["payload"].encode()
    got = [c for c in hook.calls if c.raw == payload]
    assert len(got) == len(tried), (len(got), len(tried))
    assert [c.answered for c in got] == [a["status"] for a in tried]
    for call, attempt in zip(got, tried):
        assert attempt["payload"].encode() == call.raw
        assert call.headers["Content-Type"].startswith("application/json")
        if dialect.name == "orux":
            assert attempt["signature"] == call.headers["X-Orux-Signature"]
            assert attempt["request_headers"]["X-Orux-Signature"] == attempt["signature"]
            assert (attempt["request_headers"]["X-Orux-Timestamp"]
                    == call.headers["X-Orux-Timestamp"])
            assert verify_signature(secret_of(sim, key), call.raw,
                                    call.headers["X-Orux-Timestamp"], attempt["signature"])
        else:
            assert attempt["signature"] is None


# --- 1. the journal -----------------------------------------------------------------------


def test_journal_queries_filter_by_every_field(sim):
    """Six requests across two providers, two keys, three simulated times and four
    statuses: each filter picks exactly its entries, oldest first, and ``count`` says how
    many matched before ``limit``."""
    alice = sim.account(1000, api_key="sk-alice-journal-0001")
    bob = sim.account(1000, api_key="sk-bob-journal-0002")
    t0 = clock_now(sim)
    created = evolink_submit(sim, alice, prompt="a lighthouse ballad")                  # 1
    assert created.status_code == 200, created.text
    task_id = created.json()["id"]
    assert evolink_poll(sim, MISSING, alice).status_code == 404           # 2
    sim.advance(10)
    assert evolink_poll(sim, task_id, alice).status_code == 200                         # 3
    balance = f"{sim.base('sunor')}/api/v1/account/balance"
    assert requests.get(balance, headers={"x-api-key": bob}, timeout=10).status_code == 200  # 4
    sim.advance(10)
    assert evolink_submit(sim, "sk-nobody-at-all-99").status_code == 401                # 5
    rule = add_fault(sim, {"match": {"provider": "sunor", "path": "/api/v1/account/balance"},
                           "action": {"status": 503}, "times": 1})
    assert requests.get(balance, headers={"x-api-key": bob}, timeout=10).status_code == 503  # 6

    everything = journal(sim)
    entries = everything["entries"]
    assert everything["count"] == len(entries) == 6
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids), "oldest first"
    position = {entry_id: n for n, entry_id in enumerate(ids, start=1)}

    def picked(**params: Any) -> list[int]:
        answer = journal(sim, **params)
        assert answer["count"] == len(answer["entries"]), params
        return [position[e["id"]] for e in answer["entries"]]

    assert [(e["provider"], e["method"], e["path"], e["status"]) for e in entries] == [
        ("evolink", "POST", "/v1/audios/generations", 200),
        ("evolink", "GET", f"/v1/tasks/{MISSING}", 404),
        ("evolink", "GET", f"/v1/tasks/{task_id}", 200),
        ("sunor", "GET", "/api/v1/account/balance", 200),
        ("evolink", "POST", "/v1/audios/generations", 401),
        ("sunor", "GET", "/api/v1/account/balance", 503)]
    assert [e["time"] for e in entries] == [t0, t0, t0 + 10, t0 + 10, t0 + 20, t0 + 20]
    assert picked(provider="sunor") == [4, 6]
    assert picked(provider="evolink") == [1, 2, 3, 5]
    assert picked(method="post") == [1, 5], "the method matches whatever its case"
    assert picked(method="GET") == [2, 3, 4, 6]
    assert picked(path=f"/v1/tasks/{task_id}") == [3]
    assert picked(path="/v1/tasks") == [], "an exact path is not a prefix"
    assert picked(path="/v1/tasks/*") == [2, 3]
    assert picked(path="/v1/tasks/task-unified-1766319089-zzzzzzz?") == [2]
    assert picked(path="/api/*/balance") == [4, 6]
    assert picked(api_key=alice) == [1, 2, 3]
    assert picked(api_key=bob) == [4, 6]
    assert picked(api_key="sk-nobody-at-all-99") == [5]
    assert picked(status=200) == [1, 3, 4]
    assert picked(status=404) == [2]
    assert picked(body_contains="lighthouse") == [1]
    assert picked(body_contains="no such text") == []
    assert picked(since=t0 + 10) == [3, 4, 5, 6]
    assert picked(until=t0 + 10) == [1, 2, 3, 4]
    assert picked(since=t0 + 10, until=t0 + 10) == [3, 4]
    assert picked(faulted="true") == [6]
    assert picked(faulted="false") == [1, 2, 3, 4, 5]
    assert picked(provider="evolink", status=200, method="GET") == [3]
    assert entries[5]["faults"] == [rule["id"]] and entries[0]["faults"] == []
    assert [e["api_key"] for e in entries] == ["sk-a…01"] * 3 + ["sk-b…02", "sk-n…99",
                                                                  "sk-b…02"], "masked"

    limited = journal(sim, limit=2)
    assert [position[e["id"]] for e in limited["entries"]] == [1, 2] and limited["count"] == 6
    limited = journal(sim, method="GET", limit=1)
    assert [position[e["id"]] for e in limited["entries"]] == [2] and limited["count"] == 4

    stats = journal_stats(sim, method="GET")
    assert stats["count"] == 4
    assert stats["by_status"] == {"404": 1, "200": 2, "503": 1}
    assert journal_stats(sim, provider="sunor", since=t0 + 20)["by_status"] == {"503": 1}

    for bad in ({"status": "abc"}, {"faulted": "yes"}, {"limit": "0"}, {"since": "soon"}):
        response = sim.admin("GET", "/journal", params=bad)
        assert response.status_code == 400, (bad, response.text)
        conforms(ADMIN_ERROR, response.json())
        assert response.json()["error"]["code"] == "invalid_request"


def test_journal_stats_show_how_often_a_client_polled(sim):
    """"The client polled this task five times, never faster than once per 0.2 s":
    the pacing is read from wall times, and only the polls of that path are counted."""
    key = sim.account(1000)
    created = evolink_submit(sim, key)
    assert created.status_code == 200, created.text
    task_id = created.json()["id"]
    polls, pause = 5, 0.2
    for n in range(polls):
        if n:
            time.sleep(pause)
        assert evolink_poll(sim, task_id, key).status_code == 200
    path = f"/v1/tasks/{task_id}"
    stats = journal_stats(sim, path=path)
    assert stats["count"] == polls
    assert stats["by_status"] == {"200": polls}
    assert stats["min_interval_s"] >= pause
    assert stats["min_interval_s"] <= stats["mean_interval_s"] <= stats["max_interval_s"]
    assert stats["last_wall_time"] - stats["first_wall_time"] >= (polls - 1) * pause
    assert stats["mean_interval_s"] == pytest.approx(
        (stats["last_wall_time"] - stats["first_wall_time"]) / (polls - 1), abs=1e-5)
    entries = journal(sim, path=path)["entries"]
    walls = [e["wall_time"] for e in entries]
    assert stats["first_wall_time"] == walls[0] and stats["last_wall_time"] == walls[-1]
    # the submit is not a poll; a single entry has no interval at all
    single = journal_stats(sim, path="/v1/audios/generations")
    assert single["count"] == 1 and single["min_interval_s"] is None
    assert single["mean_interval_s"] is None and single["max_interval_s"] is None


def test_journal_never_shows_a_secret_in_full(sim):
    """Bearer tokens and x-api-key values are journaled as a hint (first four and last
    two characters) in the headers and in ``api_key``; the whole key appears nowhere."""
    bearer_key = sim.account(1000, api_key="sk-bearer-secret-4711-zz")
    header_key = sim.account(1000, api_key="sk-header-secret-0815-qq")
    assert evolink_submit(sim, bearer_key).status_code == 200
    assert requests.get(f"{sim.base('sunor')}/api/v1/account/balance",
                        headers={"x-api-key": header_key}, timeout=10).status_code == 200
    answer = sim.admin("GET", "/journal")
    assert bearer_key not in answer.text and header_key not in answer.text
    assert "secret" not in answer.text, "not even the middle of a key"
    first, second = journal(sim)["entries"]
    assert first["request"]["headers"]["Authorization"] == "Bearer sk-b…zz"
    assert first["api_key"] == "sk-b…zz"
    assert second["request"]["headers"]["x-api-key"] == "sk-h…qq"
    assert second["api_key"] == "sk-h…qq"
    # the filter still takes the real key, and stats never echo one either
    assert [e["id"] for e in journal(sim, api_key=header_key)["entries"]] == [second["id"]]
    stats = sim.admin("GET", "/journal/stats", params={"api_key": header_key})
    assert stats.status_code == 200 and stats.json()["count"] == 1
    assert header_key not in stats.text


def test_delete_empties_the_journal(sim):
    """DELETE /_sim/journal forgets every entry; stats of nothing are zero and nulls."""
    evolink_submit(sim, sim.account(1000))
    assert journal(sim)["count"] == 1
    assert admin_json(sim, "DELETE", "/journal") == {"status": "cleared"}
    assert journal(sim) == {"entries": [], "count": 0, "next_cursor": None}
    assert journal_stats(sim) == {"count": 0, "by_status": {}, "first_wall_time": None,
                                  "last_wall_time": None, "min_interval_s": None,
                                  "mean_interval_s": None, "max_interval_s": None}
    assert evolink_poll(sim, MISSING, "sk-musicsim-demo").status_code == 404
    assert [e["status"] for e in journal(sim)["entries"]] == [404], "recording goes on"


@pytest.fixture(scope="module")
def bounded():
    """A simulator whose journal keeps 64 bytes of a body and the last 5 entries."""
    server = start_sim(journal_body_bytes=64, journal_entries=5, rate_limits=NO_LIMITS)
    yield server
    server.stop()


def test_a_long_body_is_cut_at_the_journal_bound(bounded):
    """A body longer than ``journal_body_bytes`` keeps its first 64 bytes, and the entry
    says it was cut; a request whose bodies fit is not marked."""
    assert bounded.admin("POST", "/reset").status_code == 200
    raw = orjson.dumps({**EVOLINK_SONG, "prompt": "a" * 300})
    response = requests.post(f"{bounded.base('evolink')}/v1/audios/generations", data=raw,
                             headers={**bearer("sk-musicsim-demo"),
                                      "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    (entry,) = journal(bounded)["entries"]
    assert entry["truncated"] is True
    assert entry["request"]["body"].encode() == raw[:64]
    assert entry["response"]["body"].encode() == response.content[:64]
    # a GET with no body and a short answer fits
    small = requests.get(f"{bounded.base('sunor')}/api/v1/account/balance",
                         headers={"x-api-key": "sk-musicsim-demo"}, timeout=10)
    assert len(small.content) <= 64, small.content
    last = journal(bounded)["entries"][-1]
    assert last["truncated"] is False and last["request"]["body"] == ""
    assert last["response"]["body"].encode() == small.content


def test_only_the_last_entries_are_kept(bounded):
    """With ``journal_entries=5`` eight requests leave the last five, oldest first."""
    assert bounded.admin("POST", "/reset").status_code == 200
    for n in range(8):
        answer = evolink_poll(bounded, f"{MISSING[:-1]}{n}", "sk-musicsim-demo")
        assert answer.status_code == 404
    kept = journal(bounded)
    assert kept["count"] == 5
    assert [e["path"] for e in kept["entries"]] == [f"/v1/tasks/{MISSING[:-1]}{n}"
                                                     for n in range(3, 8)]
    assert journal_stats(bounded)["count"] == 5


# --- 2. webhook retries and their record ---------------------------------------------------


def test_a_receiver_down_for_two_attempts_gets_three_at_the_dialects_backoff(sim, dialect,
                                                                             hooks):
    """Down for two attempts, then up: attempts 1, 2, 3 answered 500, 500, 200, one
    backoff apart in simulated time, each the very body the receiver got; after the
    success nothing more is sent for that delivery."""
    key = sim.account(1_000_000)
    hook = hooks(fail_first=2)
    task_id = dialect.submit(sim, hook.url, key)
    advance_until_sent(sim)
    stage = dialect.first_stage
    wait_attempts(sim, task_id, 1, stage)
    for number, wait in enumerate(dialect.backoff[:2], start=2):
        sim.advance(wait)
        assert len(wait_attempts(sim, task_id, number, stage)) == number
    tried = attempts_of(sim, task_id, stage)
    assert [a["attempt"] for a in tried] == [1, 2, 3]
    assert [a["status"] for a in tried] == [500, 500, 200]
    assert [a["ok"] for a in tried] == [False, False, True]
    assert [a["error"] for a in tried] == [None, None, None]
    assert {a["delivery"] for a in tried} == {tried[0]["delivery"]}
    assert not any(a["duplicate"] for a in tried) and all(a["faults"] == [] for a in tried)
    assert {(a["provider"], a["task_id"], a["url"]) for a in tried} == {
        (dialect.name, task_id, hook.url)}
    gaps = [b["time"] - a["time"] for a, b in pairwise(tried)]
    assert gaps == pytest.approx(list(dialect.backoff[:2]), abs=1e-6)
    assert_received_as_recorded(sim, dialect, key, hook, tried)

    # Long after: every other callback of the task has gone out, none of this one again.
    for wait in (600.0, 3600.0):
        sim.advance(wait)
    assert wait_until(lambda: webhooks(sim)["pending"] == 0)
    assert len(attempts_of(sim, task_id, stage)) == 3


def test_a_receiver_that_never_accepts_gets_one_try_and_every_retry(sim, dialect, hooks):
    """A receiver that answers 500 forever gets exactly 1 + retries attempts, at the
    dialect's backoff; then the delivery is given up and ``pending`` is 0."""
    key = sim.account(1_000_000)
    hook = hooks(fail_first=10**6)
    task_id = dialect.submit(sim, hook.url, key)
    force(sim, task_id, "fail")  # one callback, the failure, sent at once
    wait_attempts(sim, task_id, 1)
    assert webhooks(sim)["pending"] == 1
    for number, wait in enumerate(dialect.backoff, start=2):
        sim.advance(wait)
        assert len(wait_attempts(sim, task_id, number)) == number
    tried = attempts_of(sim, task_id)
    assert [a["attempt"] for a in tried] == list(range(1, dialect.retries + 2))
    assert {a["stage"] for a in tried} == {dialect.failed_stage}
    assert all(a["status"] == 500 and not a["ok"] for a in tried)
    gaps = [b["time"] - a["time"] for a, b in pairwise(tried)]
    assert gaps == pytest.approx(list(dialect.backoff), abs=1e-6)
    assert webhooks(sim)["pending"] == 0
    sim.advance(2 * sum(dialect.backoff))
    hook.quiet(dialect.retries + 1)
    assert len(attempts_of(sim, task_id)) == dialect.retries + 1
    assert_received_as_recorded(sim, dialect, key, hook, tried)


def test_a_closed_port_is_recorded_with_an_error_and_no_status(sim, dialect):
    """Nobody listening: the attempt has no status, says why, and is retried later."""
    key = sim.account(1_000_000)
    url = closed_port_url()
    task_id = dialect.submit(sim, url, key)
    force(sim, task_id, "fail")
    (first,) = wait_attempts(sim, task_id, 1)
    assert first["status"] is None and first["ok"] is False
    assert first["error"] and not first["error"].startswith("fault:")
    assert "connect" in first["error"].lower(), first["error"]
    assert first["url"] == url and first["attempt"] == 1
    assert webhooks(sim)["pending"] == 1, "a refused connection is retried like a 500"
    sim.advance(dialect.backoff[0])
    second = wait_attempts(sim, task_id, 2)[1]
    assert second["attempt"] == 2 and second["status"] is None and second["error"]


def test_one_long_advance_runs_every_retry_it_covers(sim, dialect, hooks):
    """After the first attempt failed, a single advance past every backoff should run
    the remaining retries in order, without further clock moves."""
    key = sim.account(1_000_000)
    hook = hooks(fail_first=2)
    task_id = dialect.submit(sim, hook.url, key)
    force(sim, task_id, "fail")
    assert [a["status"] for a in wait_attempts(sim, task_id, 1)] == [500]
    sim.advance(sum(dialect.backoff) + 60)
    tried = wait_attempts(sim, task_id, 3, timeout=2.5)
    assert [(a["attempt"], a["status"]) for a in tried] == [(1, 500), (2, 500), (3, 200)]
    assert webhooks(sim)["pending"] == 0


# --- 3. webhook faults ----------------------------------------------------------------------


def test_a_fail_fault_spends_one_attempt_without_reaching_the_receiver(sim, hooks):
    """``webhook: fail`` with ``times: 1``: attempt 1 is recorded as failed by the fault
    and nothing reaches the receiver; the retry, one backoff later, delivers."""
    hook = hooks()
    rule = add_fault(sim, {"match": {"target": "webhook", "provider": "acedata"},
                           "action": {"webhook": "fail"}, "times": 1})
    task_id = _acedata(sim, hook.url, sim.account(1000))
    force(sim, task_id, "succeed")
    (first,) = wait_attempts(sim, task_id, 1)
    assert first["error"].startswith("fault:"), first["error"]
    assert first["status"] is None and first["ok"] is False
    assert first["faults"] == [rule["id"]]
    assert hook.calls == [], "a failed attempt is never sent"
    sim.advance(DEFAULT_BACKOFF[0])
    first, second = wait_attempts(sim, task_id, 2)
    assert (second["attempt"], second["status"], second["ok"], second["error"]) == (
        2, 200, True, None)
    assert second["faults"] == [] and second["time"] - first["time"] == pytest.approx(5.0)
    hook.quiet(1)
    assert hook.calls[0].raw == second["payload"].encode()
    assert hook.calls[0].json["task_id"] == task_id
    (listed,) = admin_json(sim, "GET", "/faults")["rules"]
    assert (listed["hits"], listed["remaining"]) == (1, 0)


def test_a_duplicate_fault_delivers_the_same_payload_twice(sim, hooks):
    """``webhook: duplicate``: the receiver gets two identical bodies; the record shows
    one attempt and its copy, flagged ``duplicate``, both answered."""
    hook = hooks()
    rule = add_fault(sim, {"match": {"target": "webhook", "provider": "acedata"},
                           "action": {"webhook": "duplicate"}, "times": 1})
    task_id = _acedata(sim, hook.url, sim.account(1000))
    force(sim, task_id, "succeed")
    tried = wait_attempts(sim, task_id, 2)
    hook.quiet(2)
    assert [(a["attempt"], a["duplicate"], a["status"]) for a in tried] == [
        (1, False, 200), (1, True, 200)]
    assert tried[0]["delivery"] == tried[1]["delivery"]
    assert all(a["faults"] == [rule["id"]] for a in tried)
    assert hook.calls[0].raw == hook.calls[1].raw == tried[0]["payload"].encode()
    assert tried[1]["payload"] == tried[0]["payload"]
    assert webhooks(sim)["pending"] == 0


def test_a_delay_fault_lets_a_later_callback_overtake(sim, hooks):
    """``webhook: delay`` on evolink's ``first`` stage holds that callback back 120
    simulated seconds, so the receiver gets ``complete`` before ``first``."""
    hook = hooks()
    rule = add_fault(sim, {"match": {"target": "webhook", "provider": "evolink",
                                     "event": "first"},
                           "action": {"webhook": "delay", "delay_s": 120}})
    key = sim.account(1000)
    task_id = _evolink(sim, hook.url, key)

    def kinds() -> list[str]:
        return [c.json["callback_type"] for c in hook.calls]

    for _ in range(100):  # 5 s steps until the task has succeeded
        sim.advance(5)
        if admin_json(sim, "GET", f"/tasks/{task_id}")["status"] == "succeeded":
            break
    assert wait_until(lambda: "complete" in kinds()), kinds()
    assert kinds() == ["text", "complete"], "first is held back"
    for _ in range(60):
        sim.advance(5)
        if wait_until(lambda: "first" in kinds(), timeout=0.1):
            break
    hook.quiet(3)
    assert kinds() == ["text", "complete", "first"]
    tried = attempts_of(sim, task_id)
    assert [a["stage"] for a in tried] == ["text", "complete", "first"]
    assert all(a["ok"] for a in tried)
    assert tried[2]["time"] - tried[1]["time"] > 0
    assert tried[2]["faults"] == [rule["id"]] and tried[1]["faults"] == []
    held, done = hook.calls[2].json, hook.calls[1].json
    assert done["status"] == "completed" and held["status"] != "completed", \
        "the late callback still carries the task as it was at its stage"


def webhook_fault_sequence(server: Sim, deliveries: int = 12) -> list[bool]:
    """Which of ``deliveries`` first attempts a 50 % ``fail`` rule hit, in order."""
    assert server.admin("POST", "/reset").status_code == 200
    add_fault(server, {"match": {"target": "webhook", "provider": "acedata"},
                       "action": {"webhook": "fail"}, "probability": 0.5})
    hook = Hook()
    try:
        hit = []
        key = server.account(1000)
        for _ in range(deliveries):
            task_id = _acedata(server, hook.url, key)
            force(server, task_id, "succeed")
            (first,) = wait_attempts(server, task_id, 1)
            hit.append(bool(first["error"]) and first["error"].startswith("fault:"))
        return hit
    finally:
        hook.close()


def test_the_same_seed_repeats_the_webhook_fault_sequence():
    """``probability`` draws from the seeded generator: the same seed gives the same
    faulted deliveries, after a reset and in another simulator; another seed differs."""
    first = start_sim(seed=1234, allow_local_callbacks=True, rate_limits=NO_LIMITS)
    second = start_sim(seed=1234, allow_local_callbacks=True, rate_limits=NO_LIMITS)
    other = start_sim(seed=4321, allow_local_callbacks=True, rate_limits=NO_LIMITS)
    try:
        sequence = webhook_fault_sequence(first)
        assert 0 < sum(sequence) < len(sequence), sequence
        assert webhook_fault_sequence(first) == sequence, "a reset starts the draws again"
        assert webhook_fault_sequence(second) == sequence
        assert webhook_fault_sequence(other) != sequence
    finally:
        for server in (first, second, other):
            server.stop()


# --- 4. metrics -----------------------------------------------------------------------------


def scrape(sim: Sim) -> dict[str, dict[tuple, float]]:
    """The metrics as {sample name: {sorted label items: value}}, parsed by the
    Prometheus client's own parser."""
    response = sim.admin("GET", "/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return samples


def labelled(samples: dict[str, dict[tuple, float]], name: str,
             **labels: str) -> dict[tuple, float]:
    """The samples of ``name`` whose labels include ``labels``."""
    return {key: value for key, value in samples.get(name, {}).items()
            if set(labels.items()) <= set(key)}


def test_metrics_count_requests_tasks_credits_webhooks_and_faults():
    """A fresh simulator, so every counter starts at zero: eleven requests (200, 400,
    401, 404 and an injected 503), a task in every state, credits held and spent, four
    callback attempts (one failed by a fault) and two applied faults."""
    server = start_sim(allow_local_callbacks=True, rate_limits=NO_LIMITS)
    hook = Hook()
    try:
        price = PRICES["evolink"][EVOLINK_SONG["model"]]
        key = server.account(1000)
        start = scrape(server)
        assert start.get("musicsim_requests_total", {}) == {}
        base_available = start["musicsim_credits_available"][()]
        assert base_available == 10_000 + 1000 and start["musicsim_accounts"][()] == 2

        def submit(**fields: Any) -> str:
            response = evolink_submit(server, key, **fields)
            assert response.status_code == 200, response.text
            return response.json()["id"]

        expiring = submit(prompt="A short-lived song [sim:expire]")
        called = submit(callback_url=hook.url)
        failing = submit()
        stuck = submit(prompt="A song that never ends [sim:stuck]")
        held = scrape(server)
        assert held["musicsim_credits_held"][()] == 4 * price
        assert held["musicsim_credits_spent"][()] == 0
        assert held["musicsim_credits_available"][()] == base_available - 4 * price
        assert held["musicsim_tasks"][(("provider", "evolink"), ("state", "queued"))] == 4

        add_fault(server, {"match": {"target": "webhook", "provider": "evolink",
                                     "event": "complete"},
                           "action": {"webhook": "fail"}, "times": 1})
        force(server, expiring, "succeed")
        force(server, called, "succeed")  # text, first, complete: complete is failed once
        force(server, failing, "fail")
        assert len(wait_attempts(server, called, 3)) == 3
        settled = scrape(server)
        assert settled["musicsim_credits_held"][()] == price
        assert settled["musicsim_credits_spent"][()] == 2 * price
        assert settled["musicsim_credits_available"][()] == base_available - 3 * price

        server.advance(120)  # the complete retry goes out, [sim:expire] lapses, stuck runs
        assert [a["ok"] for a in wait_attempts(server, called, 4)].count(True) == 3
        queued = submit()
        assert evolink_poll(server, called, key).status_code == 200
        assert evolink_poll(server, queued, key).status_code == 200
        assert evolink_poll(server, MISSING, key).status_code == 404
        assert evolink_submit(server, "sk-not-a-key-123456").status_code == 401
        assert evolink_submit(server, key, prompt="x" * 501).status_code == 400
        add_fault(server, {"match": {"provider": "evolink", "path": "/v1/tasks/*"},
                           "action": {"status": 503}, "times": 1})
        assert evolink_poll(server, stuck, key).status_code == 503

        samples = scrape(server)
        generate, task = "/v1/audios/generations", "/v1/tasks/{task_id}"
        assert samples["musicsim_requests_total"] == {
            tuple(sorted({"provider": "evolink", "route": route, "method": method,
                          "status": status}.items())): count
            for route, method, status, count in (
                (generate, "POST", "200", 5.0), (generate, "POST", "401", 1.0),
                (generate, "POST", "400", 1.0), (task, "GET", "200", 2.0),
                (task, "GET", "404", 1.0), (task, "GET", "503", 1.0))}
        durations = samples["musicsim_request_duration_seconds_count"]
        assert sum(durations.values()) == 11
        assert durations == {(("provider", "evolink"), ("route", generate)): 7.0,
                             (("provider", "evolink"), ("route", task)): 4.0}
        inf_buckets = labelled(samples, "musicsim_request_duration_seconds_bucket", le="+Inf")
        assert sum(inf_buckets.values()) == 11

        tasks = {dict(k)["state"]: v for k, v in labelled(samples, "musicsim_tasks",
                                                          provider="evolink").items()}
        assert tasks == {"queued": 1, "running": 1, "succeeded": 1, "failed": 1, "expired": 1}
        assert samples["musicsim_credits_held"][()] == 2 * price  # stuck and queued
        assert samples["musicsim_credits_spent"][()] == 2 * price
        assert samples["musicsim_credits_available"][()] == base_available - 4 * price

        outcomes = {dict(k)["outcome"]: v for k, v in labelled(
            samples, "musicsim_webhook_attempts_total", provider="evolink").items()}
        assert outcomes == {"delivered": 3, "faulted": 1}
        assert webhooks(server)["count"] == 4
        applied = {(dict(k)["target"], dict(k)["kind"]): v
                   for k, v in samples["musicsim_faults_applied_total"].items()}
        assert applied == {("webhook", "fail"): 1, ("request", "status_503"): 1}
        assert samples["musicsim_fault_rules"][()] == 2
    finally:
        hook.close()
        server.stop()
