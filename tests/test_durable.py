"""State that survives the process: `--state sqlite:PATH` through restarts and kill -9.

Every test runs real `musicsim serve` processes on one file, kills them as a crash would
(SIGKILL, to the whole process group), starts them again on the file and looks through
the public surface: the dialects' own calls and the control plane.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest
import requests

from conftest import Receiver, bearer
from served import Served

SUBMIT = "/evolink/v1/audios/generations"
PRICE = 24  # suno-v4.5, per request (fixtures/prices.toml)
SONG_DONE = 200  # simulated seconds: every evolink song has finished by then


def submit(url: str, key: str, prompt: str = "a durable song", **extra) -> requests.Response:
    return requests.post(url + SUBMIT, json={"model": "suno-v4.5", "prompt": prompt, **extra},
                         headers=bearer(key), timeout=30)


def task(url: str, key: str, task_id: str) -> requests.Response:
    return requests.get(f"{url}/evolink/v1/tasks/{task_id}", headers=bearer(key), timeout=30)


def admin(url: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{url}/_sim{path}", timeout=30, **kwargs)


def account(url: str, credits: float) -> str:
    made = admin(url, "POST", "/accounts", json={"credits": credits})
    assert made.status_code == 201, made.text
    return made.json()["api_key"]


def books_balance(url: str, key: str) -> dict:
    books = admin(url, "GET", f"/accounts/{key}").json()
    assert min(books["credits"], books["held"], books["spent"]) >= 0, books
    assert books["credits"] + books["held"] + books["spent"] == pytest.approx(books["granted"])
    return books


@pytest.fixture
def state(tmp_path) -> str:
    return f"sqlite:{tmp_path / 'state.db'}"


def test_everything_a_developer_made_is_there_after_a_crash_and_a_restart(state):
    first = Served("--state", state, "--clock", "manual", "--allow-local-callbacks")
    try:
        key = account(first.url, 1000)
        done = submit(first.url, key, "finished before the crash").json()["id"]
        admin(first.url, "POST", "/clock/advance", json={"seconds": SONG_DONE})
        running = submit(first.url, key, "running at the crash").json()["id"]
        admin(first.url, "POST", "/clock/advance", json={"seconds": 5})
        before = task(first.url, key, done).text
        clock = admin(first.url, "GET", "/clock").json()["now"]
    finally:
        first.kill()
    second = Served("--state", state, "--allow-local-callbacks")
    try:
        assert second.health()["store"] == {"kind": "sqlite", "location": state[7:],
                                              "durable": True, "shared": True}
        # The clock kept its setting and its reading: manual, where it stood.
        assert admin(second.url, "GET", "/clock").json()["now"] == clock
        # The same answer, its links on the new port.
        assert task(second.url, key, done).text == before.replace(first.url, second.url)
        assert task(second.url, key, running).json()["status"] == "processing"
        admin(second.url, "POST", "/clock/advance", json={"seconds": SONG_DONE})
        assert task(second.url, key, running).json()["status"] == "completed"
        books = books_balance(second.url, key)
        assert books["spent"] == 2 * PRICE and books["held"] == 0
        # A new task's id repeats none of the old ones.
        again = submit(second.url, key, "after the restart").json()["id"]
        assert again not in (done, running)
    finally:
        second.stop()


@pytest.mark.parametrize("seed", [None, "7"])
def test_ids_never_repeat_across_restarts(state, seed):
    seen: list[str] = []
    for _ in range(3):
        served = Served("--state", state, *(("--seed", seed) if seed else ()))
        try:
            seen += [submit(served.url, "sk-musicsim-demo").json()["id"] for _ in range(3)]
            seen.append(account(served.url, 0))
        finally:
            served.kill()
    assert len(set(seen)) == len(seen) == 12


def test_time_stands_still_while_no_process_runs(state):
    first = Served("--state", state, "--clock", "fast")
    try:
        time.sleep(1.5)  # a reading is kept four times a second
        then = admin(first.url, "GET", "/clock").json()["now"]
    finally:
        first.kill()
    time.sleep(4)  # forty simulated seconds on a fast clock, were it running
    second = Served("--state", state)
    try:
        now = admin(second.url, "GET", "/clock").json()["now"]
        # From the last reading (at most a quarter second, 2.5 simulated, before the
        # kill), plus the second process's start-up; not 40 seconds on.
        assert then - 2.5 <= now < then + 15
    finally:
        second.stop()


def test_a_kill_during_a_submit_storm_loses_nothing_answered(state):
    served = Served("--state", state)
    key = account(served.url, 1_000_000)
    assert admin(served.url, "PUT", "/rate-limits/evolink",
                 json={"api_key": key, "rate": 0}).status_code == 200
    accepted: list[str] = []
    stop = threading.Event()

    def storm() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                answer = session.post(served.url + SUBMIT, headers=bearer(key), timeout=5,
                                      json={"model": "suno-v4.5", "prompt": "a storm"})
            except requests.RequestException:
                return  # the server is gone
            if answer.status_code == 200:
                accepted.append(answer.json()["id"])

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        storms = [pool.submit(storm) for _ in range(6)]
        while len(accepted) < 150:
            time.sleep(0.01)
        served.kill()
        stop.set()
        for finished in storms:
            finished.result()
    answered = list(accepted)
    assert len(answered) >= 150
    again = Served("--state", state)
    try:
        for task_id in answered:
            assert task(again.url, key, task_id).status_code == 200, task_id
        books = books_balance(again.url, key)
        # Every answered submit held its price; a submit cut off mid-answer may have too.
        assert books["held"] + books["spent"] >= PRICE * len(answered)
        # Running tasks resume and finish: every one settles (fast clock, ~20 s a song).
        deadline = time.monotonic() + 60
        while books_balance(again.url, key)["held"] and time.monotonic() < deadline:
            time.sleep(0.5)
        books = books_balance(again.url, key)
        assert books["held"] == 0 and books["spent"] >= PRICE * len(answered)
        statuses = {task(again.url, key, task_id).json()["status"] for task_id in answered}
        assert statuses == {"completed"}
    finally:
        again.stop()


class Flaky(Receiver):
    """Refuses every delivery until ``healthy``; keeps each one's delivery id and stage."""

    def __init__(self) -> None:
        super().__init__()
        self.healthy = False
        self.seen: list[tuple[str, str]] = []

    def record(self, raw: bytes, headers: dict[str, str]) -> int:
        super().record(raw, headers)
        self.seen.append((headers["X-Musicsim-Delivery"], self.calls[-1]["callback_type"]))
        return 200 if self.healthy else 500


def test_callbacks_pending_at_a_crash_are_delivered_after_it_with_the_same_delivery_ids(
        state):
    hook = Flaky()
    first = Served("--state", state, "--clock", "manual", "--allow-local-callbacks")
    try:
        made = submit(first.url, "sk-musicsim-demo", callback_url=hook.url).json()["id"]
        admin(first.url, "POST", "/clock/advance", json={"seconds": SONG_DONE})
        hook.wait_for(3)
        time.sleep(0.5)  # each retry is queued in the store, due 5 simulated seconds on
    finally:
        first.kill()
    refused = dict(hook.seen)
    assert sorted(refused.values()) == ["complete", "first", "text"]
    hook.healthy = True
    second = Served("--state", state, "--allow-local-callbacks")
    try:
        admin(second.url, "POST", "/clock/advance", json={"seconds": 10})
        hook.wait_for(6)
        assert len(hook.seen) == 6
        assert dict(hook.seen[3:]) == refused  # each retried under its first id
        attempts = admin(second.url, "GET", f"/webhooks?task_id={made}").json()["attempts"]
        assert sorted(a["attempt"] for a in attempts) == [1, 1, 1, 2, 2, 2]
        assert all(a["ok"] for a in attempts if a["attempt"] == 2)
    finally:
        second.stop()
        hook.close()
