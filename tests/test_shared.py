"""One state, many processes: `musicsim serve` processes on one Redis (and `--workers`
on one SQLite file) answer as one simulator.

Real processes on a real redis-server started by the test run (tests/redis_server.py);
every check goes through the public surface, each request to whichever process the test
names, so what one process did is read from the other.
"""

from __future__ import annotations

import collections
import concurrent.futures
import subprocess
import sys
import time

import pytest
import redis
import requests

from conftest import Receiver, bearer
from redis_server import redis_url  # noqa: F401  (the session's server)
from served import ROOT, Served

SUBMIT = "/evolink/v1/audios/generations"
PRICE = 24  # suno-v4.5, per request (fixtures/prices.toml)
SONG_DONE = 200


def submit(url: str, key: str, prompt: str = "a shared song", **extra) -> requests.Response:
    return requests.post(url + SUBMIT, json={"model": "suno-v4.5", "prompt": prompt, **extra},
                         headers=bearer(key), timeout=30)


def admin(url: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{url}/_sim{path}", timeout=30, **kwargs)


@pytest.fixture
def state(redis_url):  # noqa: F811
    """A Redis database of the test's own, empty."""
    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


@pytest.fixture
def pair(state):
    """Two `musicsim serve` processes on one Redis database."""
    first = Served("--state", state, "--allow-local-callbacks")
    second = Served("--state", state, "--allow-local-callbacks")
    yield first, second
    first.stop()
    second.stop()


def test_a_task_made_through_one_process_is_read_through_the_other(pair):
    first, second = pair
    made = submit(first.url, "sk-musicsim-demo").json()["id"]
    read = requests.get(f"{second.url}/evolink/v1/tasks/{made}", headers=bearer(), timeout=30)
    assert read.status_code == 200 and read.json()["id"] == made
    assert first.health()["store"]["kind"] == second.health()["store"]["kind"] == "redis"
    assert first.health()["workers"]["pid"] != second.health()["workers"]["pid"]


def test_credits_for_three_songs_accept_exactly_three_submits_spread_over_two_processes(pair):
    first, second = pair
    key = admin(first.url, "POST", "/accounts", json={"credits": 3 * PRICE}).json()["api_key"]
    admin(first.url, "PUT", "/rate-limits/evolink", json={"api_key": key, "rate": 0})
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda n: submit((first, second)[n % 2].url, key).status_code,
                                range(40)))
    assert answers.count(200) == 3 and answers.count(402) == 37
    books = admin(second.url, "GET", f"/accounts/{key}").json()
    assert (books["credits"], books["held"] + books["spent"]) == (0, 3 * PRICE)


class Completions(Receiver):
    """Counts the `complete` callbacks of each task, and every delivery id."""

    def __init__(self) -> None:
        super().__init__()
        self.complete: collections.Counter[str] = collections.Counter()
        self.deliveries: list[str] = []

    def record(self, raw: bytes, headers: dict[str, str]) -> int:
        super().record(raw, headers)
        body = self.calls[-1]
        self.deliveries.append(headers["X-Musicsim-Delivery"])
        if body["callback_type"] == "complete":
            self.complete[body["id"]] += 1
        return 200


def test_ten_tasks_on_two_processes_each_call_back_complete_exactly_once(pair):
    first, second = pair
    hook = Completions()
    try:
        made = [submit((first, second)[n % 2].url, "sk-musicsim-demo", callback_url=hook.url)
                .json()["id"] for n in range(10)]
        # Both processes poll every task meanwhile: whoever reads a task first after an
        # event fell due applies it, and only one of them wins the write.
        deadline = time.monotonic() + 60
        while len(hook.complete) < 10 and time.monotonic() < deadline:
            for n, task_id in enumerate(made):
                requests.get(f"{(first, second)[n % 2 - 1].url}/evolink/v1/tasks/{task_id}",
                             headers=bearer(), timeout=30)
            time.sleep(0.2)
        time.sleep(1.0)  # a second delivery, if there were one, would have come by now
        assert hook.complete == {task_id: 1 for task_id in made}
        assert len(hook.deliveries) == len(set(hook.deliveries)) == 30  # text, first, complete
        # Either process shows every attempt, whichever made it.
        for served in pair:
            record = admin(served.url, "GET", "/webhooks").json()
            assert record["count"] == 30 and all(a["ok"] for a in record["attempts"])
    finally:
        hook.close()


def test_a_keys_rate_limit_is_one_bucket_whichever_process_answers(pair):
    first, second = pair
    key = admin(first.url, "POST", "/accounts", json={"credits": 1000}).json()["api_key"]
    assert admin(second.url, "PUT", "/rate-limits/evolink",
                 json={"api_key": key, "rate": 0.001, "burst": 4}).status_code == 200
    statuses = [requests.get(f"{(first, second)[n % 2].url}/evolink/v1/tasks/none",
                             headers=bearer(key), timeout=30).status_code for n in range(8)]
    assert statuses == [400] * 4 + [429] * 4  # refused for its malformed id, then for rate


def test_two_processes_with_one_seed_never_draw_the_same_ids(state):
    first = Served("--state", state, "--seed", "7")
    second = Served("--state", state, "--seed", "7")
    try:
        made = [submit((first, second)[n % 2].url, "sk-musicsim-demo").json()["id"]
                for n in range(10)]
        keys = [admin(served.url, "POST", "/accounts", json={}).json()["api_key"]
                for served in (first, second)]
        assert len(set(made)) == 10 and keys[0] != keys[1]
    finally:
        first.stop()
        second.stop()


def test_fault_times_the_clock_sandboxes_and_the_journal_are_shared(state):
    first = Served("--state", state, "--clock", "manual")
    second = Served("--state", state, "--clock", "manual")
    try:
        rule = admin(first.url, "POST", "/faults", json={
            "match": {"provider": "evolink", "path": "/v1/audios/generations"},
            "action": {"status": 503}, "times": 2}).json()
        statuses = [submit((first, second)[n % 2].url, "sk-musicsim-demo").status_code
                    for n in range(6)]
        assert statuses == [503, 503, 200, 200, 200, 200]
        assert admin(second.url, "GET", "/faults").json()["rules"][0]["id"] == rule["id"]

        before = admin(second.url, "GET", "/clock").json()["now"]
        admin(first.url, "POST", "/clock/advance", json={"seconds": 30})
        assert admin(second.url, "GET", "/clock").json()["now"] == before + 30

        made = admin(first.url, "POST", "/sandboxes", json={"id": "team", "credits": 50}
                     ).json()
        answer = submit(second.url, made["demo_key"], "in a sandbox")
        assert answer.status_code == 200
        # Its grant is the sandbox's own, whichever process resets it.
        balance = admin(second.url, "GET", f"/sandboxes/team/accounts/{made['demo_key']}")
        assert balance.json()["granted"] == 50
        assert admin(second.url, "POST", "/sandboxes/team/reset").status_code == 200
        balance = admin(first.url, "GET", f"/sandboxes/team/accounts/{made['demo_key']}")
        assert balance.json()["credits"] == 50
        answer = submit(second.url, made["demo_key"], "in a sandbox again")
        assert answer.status_code == 200
        assert admin(second.url, "GET", "/sandboxes/team/tasks").json()["count"] == 1
        assert admin(first.url, "GET", "/tasks").json()["count"] == 4  # the default's

        journal = admin(first.url, "GET", "/journal?path=/v1/audios/generations").json()
        assert [e["status"] for e in journal["entries"]] == statuses
        assert admin(second.url, "DELETE", "/sandboxes/team").status_code == 200
        assert submit(first.url, made["demo_key"]).status_code == 401
    finally:
        first.stop()
        second.stop()


def test_workers_serve_one_port_and_a_killed_worker_is_started_again(tmp_path):
    served = Served("--state", f"sqlite:{tmp_path / 'state.db'}", "--workers", "2")
    try:
        seen: dict[int, int] = {}
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:
            health = requests.get(f"{served.url}/_sim/health", timeout=10,
                                  headers={"Connection": "close"}).json()
            assert health["workers"]["count"] == 2
            assert health["store"]["kind"] == "sqlite"
            seen[health["workers"]["index"]] = health["workers"]["pid"]
        assert sorted(seen) == [0, 1]
        made = submit(served.url, "sk-musicsim-demo").json()["id"]
        subprocess.run(["kill", "-9", str(seen[1])], check=True)
        deadline = time.monotonic() + 30
        again = None
        while again in (None, seen[1]) and time.monotonic() < deadline:
            try:
                health = requests.get(f"{served.url}/_sim/health", timeout=10,
                                      headers={"Connection": "close"}).json()
            except requests.ConnectionError:
                continue  # a connection the killed worker had taken, reset as it died
            if health["workers"]["index"] == 1:
                again = health["workers"]["pid"]
        assert again not in (None, seen[1])
        for _ in range(6):  # whichever worker answers knows the task
            read = requests.get(f"{served.url}/evolink/v1/tasks/{made}", headers={
                **bearer(), "Connection": "close"}, timeout=10)
            assert read.status_code == 200
    finally:
        served.stop()


def test_workers_on_memory_are_refused_with_a_clear_error():
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "serve", "--workers", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert "--workers 2 needs a state every worker shares: --state sqlite:PATH or " \
           "--state redis://HOST:PORT/DB" in done.stderr


def test_a_redis_nobody_listens_on_is_a_clear_error():
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "serve", "--port", "0",
                           "--state", "redis://127.0.0.1:1/0"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("musicsim: cannot reach the state store")
    assert "Traceback" not in done.stderr
