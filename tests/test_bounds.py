"""Bounded memory: finished tasks are let go, past --max-tasks and past their dialect's
retention, and a task let go answers exactly as one that never was.

Each dialect's own poll path is held to that, byte for byte against the answer for an
id nobody made (the id itself substituted); its clips' media and follow-ups too. The
ledger of tasks let go folds into one opening entry that still adds up, and pages; tasks
still running are never let go; the command refuses a cap that is not a whole number
of at least 1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest
import requests

from conftest import Receiver, Sim, bearer, start_sim
from simulator.config import PROVIDERS, RateLimit
from simulator.core.models import MOVEMENTS
from simulator.core.retention import GRACE

CAP = 3
SONG_DONE = 200  # simulated seconds: every song of every dialect has finished by then
# Per dialect: the submit (path, body), the poll target in its answer, and the poll.
SUBMITS = {
    "evolink": ("/v1/audios/generations", {"model": "suno-v4.5", "prompt": "a bound song"},
                lambda a: a["id"]),
    "acedata": ("/suno/audios", {"action": "generate", "prompt": "a bound song",
                                 "async": True}, lambda a: a["task_id"]),
    "openaihk": ("/sunoapi/generate", {"gpt_description_prompt": "a bound song"},
                 lambda a: a["clips"][0]["id"]),
    "sunor": ("/api/v1/task", {"model": "suno", "task_type": "music",
                               "input": {"gpt_description_prompt": "a bound song"}},
              lambda a: a["data"]["task_id"]),
    "orux": ("/api/v1/tasks", {"model": "suno-v5", "prompt": "a bound song"},
             lambda a: a["task_id"]),
}


@pytest.fixture(scope="module")
def capped():
    off = RateLimit(0.0, 1.0)
    sim = start_sim(max_tasks=CAP, rate_limits={pid: off for pid in PROVIDERS},
                    allow_local_callbacks=True)
    yield sim
    sim.stop()


@pytest.fixture
def cap(capped: Sim) -> Sim:
    assert capped.admin("POST", "/reset").status_code == 200
    assert capped.admin("PUT", "/clock", json={"mode": "manual"}).status_code == 200
    return capped


def headers(dialect: str, key: str) -> dict[str, str]:
    return {"x-api-key": key} if dialect == "sunor" else bearer(key)


def submit(sim: Sim, dialect: str, key: str, prompt: str = "a bound song") -> str:
    """A new song's poll target in that dialect: a task id (openaihk: a clip id)."""
    path, body, target = SUBMITS[dialect]
    body = {**body, **({"prompt": prompt} if "prompt" in body else {})}
    if dialect == "openaihk":
        body["gpt_description_prompt"] = prompt
    if dialect == "sunor":
        body["input"] = {"gpt_description_prompt": prompt}
    response = requests.post(sim.base(dialect) + path, json=body,
                             headers=headers(dialect, key), timeout=30)
    assert response.status_code in (200, 202), response.text
    return target(response.json())


def poll(sim: Sim, dialect: str, key: str, target: str) -> requests.Response:
    """The dialect's own way of reading a task (openaihk: the feed of one clip)."""
    base, sent = sim.base(dialect), headers(dialect, key)
    if dialect == "acedata":
        return requests.post(base + "/suno/tasks", json={"action": "retrieve", "id": target},
                             headers=sent, timeout=30)
    path = {"evolink": "/v1/tasks/", "openaihk": "/sunoapi/feed/", "sunor": "/api/v1/task/",
            "orux": "/api/v1/tasks/"}[dialect]
    return requests.get(base + path + target, headers=sent, timeout=30)


def nobodys(target: str) -> str:
    """An id shaped like ``target`` that nobody made."""
    return target[:-1] + ("1" if target[-1] == "0" else "0")


def answers_as_unknown(fetch, target: str) -> None:
    """``fetch(id)`` answers for ``target`` exactly as for an id nobody made: status and
    body byte for byte, the id itself aside (and acedata's trace id, new on every
    answer)."""
    other = nobodys(target)
    gone, unknown = fetch(target), fetch(other)
    assert unknown.status_code >= 400, unknown.text
    expected = unknown.content.replace(other.encode(), target.encode())
    assert (gone.status_code, per_answer(gone.content)) == \
        (unknown.status_code, per_answer(expected)), (gone.status_code, gone.text, unknown.text)


def per_answer(body: bytes) -> bytes:
    return re.sub(rb'"trace_id":"[^"]*"', b'"trace_id":"?"', body)


def tasks(sim: Sim, **params: Any) -> list[dict]:
    answer = sim.admin("GET", "/tasks", params={"limit": 10_000, **params}).json()
    assert answer["count"] == len(answer["tasks"])
    return answer["tasks"]


def ledger(sim: Sim, key: str, **params: Any) -> dict:
    response = sim.admin("GET", "/ledger", params={"api_key": key, **params})
    assert response.status_code == 200, response.text
    return response.json()


def clip_ids(sim: Sim) -> dict[str, list[str]]:
    return {t["id"]: [c["id"] for c in t["clips"]] for t in tasks(sim)}


# --- the cap ---------------------------------------------------------------------------------


def test_the_cap_keeps_the_newest_finished_and_the_rest_answer_as_unknown(cap):
    key = cap.account(credits=100_000)
    made: list[tuple[str, str, str]] = []  # (dialect, poll target, task id), finish order
    for _ in range(2):
        for dialect in SUBMITS:
            target = submit(cap, dialect, key)
            cap.advance(SONG_DONE)  # one finishes before the next starts: a known order
            newest = tasks(cap)[-1]
            assert newest["status"] == "succeeded", newest
            made.append((dialect, target, newest["id"]))
            assert len(tasks(cap)) <= CAP
    kept = tasks(cap)
    assert [t["id"] for t in kept] == [task_id for _, _, task_id in made[-CAP:]]
    for dialect, target, _ in made[-CAP:]:
        assert poll(cap, dialect, key, target).status_code == 200
    for dialect, target, task_id in made[:-CAP]:
        answers_as_unknown(lambda i, d=dialect: poll(cap, d, key, i), target)
        assert cap.admin("GET", f"/tasks/{task_id}").status_code == 404


def test_clips_of_a_task_let_go_are_unknown_everywhere(cap):
    key = cap.account(credits=100_000)
    first_clip = submit(cap, "openaihk", key)
    first_task = submit(cap, "orux", key)
    cap.advance(SONG_DONE)
    clips = clip_ids(cap)
    songs = [clip for ids in clips.values() for clip in ids]
    assert first_clip in songs and len(songs) >= 3
    media = cap.url + f"/media/{songs[0]}/audio.mp3"
    assert requests.get(media, timeout=30).status_code == 200
    for _ in range(CAP):
        submit(cap, "evolink", key)
        cap.advance(SONG_DONE)
    assert clip_ids(cap).keys().isdisjoint(clips)
    for clip in songs:
        answers_as_unknown(
            lambda i: requests.get(cap.url + f"/media/{i}/audio.mp3", timeout=30), clip)
    hk = cap.base("openaihk")
    answers_as_unknown(lambda i: poll(cap, "openaihk", key, i), first_clip)
    for act in ("wav", "mp4", "stems"):  # follow-ups refuse it as any unknown clip
        answers_as_unknown(lambda i, a=act: requests.get(
            f"{hk}/sunoapi/act/{a}/{i}", headers=bearer(key), timeout=30), first_clip)
    answers_as_unknown(lambda i: requests.post(
        cap.base("orux") + "/api/v1/tasks", headers=bearer(key), timeout=30,
        json={"model": "suno-v5", "action": "extend", "parent_task_id": i, "duration": 30,
              "prompt": "more"}), first_task)


def test_running_and_queued_tasks_are_never_let_go(cap):
    key = cap.account(credits=100_000)
    stuck = [submit(cap, "evolink", key, "a song that never ends [sim:stuck]")
             for _ in range(CAP + 1)]
    cap.advance(SONG_DONE)
    for _ in range(CAP + 2):
        submit(cap, "acedata", key)
        cap.advance(SONG_DONE)
    queued = submit(cap, "evolink", key)
    states = [t["status"] for t in tasks(cap)]
    assert states.count("running") == CAP + 1 and states.count("queued") == 1
    assert states.count("succeeded") == CAP
    for target in stuck:
        answer = poll(cap, "evolink", key, target)
        assert answer.status_code == 200 and answer.json()["status"] == "processing"
    assert poll(cap, "evolink", key, queued).json()["status"] == "pending"


def test_timers_of_tasks_let_go_leave_the_scheduler(cap):
    """orux keeps two timers per finished task (its ttl, its letting go a day after its
    results expire); once the cap has let a task go they are dropped, in batches, so
    the timers stay as many as the tasks kept, not as many as were made."""
    from simulator.core.retention import DROP_BATCH

    made = DROP_BATCH + 100
    key = cap.account(credits=100 * made)
    for n in range(made):
        submit(cap, "orux", key, f"song {n}")
    cap.advance(300)  # every one finished, all but CAP let go
    assert len(tasks(cap, provider="orux")) == CAP
    # Two timers each for the tasks let go since the last batch, and the kept ones';
    # without the drop there would be 2 * made.
    assert len(cap.engine.scheduler) <= 2 * (made - DROP_BATCH) + 2 * CAP


def test_a_failed_task_counts_as_finished(cap):
    key = cap.account(credits=100_000)
    failed = submit(cap, "sunor", key, "a song that fails [sim:fail]")
    cap.advance(SONG_DONE)
    assert poll(cap, "sunor", key, failed).json()["data"]["status"] == "failure"
    for _ in range(CAP):
        submit(cap, "sunor", key)
        cap.advance(SONG_DONE)
    answers_as_unknown(lambda i: poll(cap, "sunor", key, i), failed)
    assert [t["status"] for t in tasks(cap)] == ["succeeded"] * CAP


def test_a_callback_still_due_is_delivered_after_its_task_is_let_go(cap):
    key = cap.account(credits=100_000)
    hook = Receiver(fail_first=1)
    try:
        response = requests.post(cap.base("orux") + "/api/v1/tasks", headers=bearer(key),
                                 json={"model": "suno-v5", "prompt": "a song to tell of",
                                       "webhook_url": hook.url}, timeout=30)
        assert response.status_code == 200, response.text
        told = response.json()["task_id"]
        finish(cap, told)
        assert len(hook.wait_for(1)) == 1  # refused: orux tries again 10 s later
        for _ in range(CAP):
            finish(cap, submit(cap, "orux", key))
        answers_as_unknown(lambda i: poll(cap, "orux", key, i), told)
        cap.advance(15)
        calls = hook.wait_for(2)
        assert len(calls) == 2 and calls[0] == calls[1] and calls[1]["task_id"] == told
        assert calls[1]["status"] == "SUCCESS"
        assert len(tasks(cap)) == CAP
    finally:
        hook.close()


def finish(sim: Sim, task_id: str) -> None:
    """Succeed a task now, through the control plane: the clock does not move."""
    answer = sim.admin("POST", f"/tasks/{task_id}/outcome", json={"outcome": "succeed"})
    assert answer.status_code == 200, answer.text


# --- the ledger ------------------------------------------------------------------------------


def adds_up(entries: list[dict], account: dict) -> None:
    """From the opening entry (first, id 0), each movement in turn reaches the balances;
    nothing is negative."""
    opening, rest = entries[0], entries[1:]
    assert opening["kind"] == "opening" and opening["id"] == 0 and opening["task_id"] is None
    assert all(e["kind"] != "opening" for e in rest)
    assert [e["id"] for e in rest] == sorted(e["id"] for e in rest) and rest[0]["id"] > 0
    totals = [opening["available"], opening["held"], opening["spent"], opening["amount"]]
    assert min(totals) >= 0 and opening["held"] == 0, opening
    for entry in rest:
        assert min(entry["available"], entry["held"], entry["spent"]) >= 0, entry
        for i, per_credit in enumerate(MOVEMENTS[entry["kind"]]):
            totals[i] += per_credit * entry["amount"]
    expected = [account["credits"], account["held"], account["spent"], account["granted"]]
    assert totals == pytest.approx(expected), (totals, expected)


def test_the_ledger_of_tasks_let_go_folds_into_one_opening_entry(cap):
    key = cap.account(credits=1_000)
    assert cap.admin("POST", f"/accounts/{key}/credits", json={"delta": 500}).ok
    running = submit(cap, "evolink", key, "still going [sim:stuck]")
    prices = []
    for dialect in ("evolink", "acedata", "sunor", "orux", "evolink", "acedata"):
        before = cap.admin("GET", f"/accounts/{key}").json()["credits"]
        submit(cap, dialect, key)
        prices.append(before - cap.admin("GET", f"/accounts/{key}").json()["credits"])
        cap.advance(SONG_DONE)
    account = cap.admin("GET", f"/accounts/{key}").json()
    whole = ledger(cap, key, limit=10_000)
    entries = whole["entries"]
    # The opening, the running task's hold, and each kept task's hold and settle: the
    # grants and the three tasks let go are folded.
    assert [e["kind"] for e in entries] == ["opening", "hold"] + ["hold", "settle"] * CAP
    assert whole["count"] == len(entries) == 2 + 2 * CAP
    assert entries[1]["task_id"] == running
    opening = entries[0]
    assert opening["amount"] == pytest.approx(1_500)
    assert opening["spent"] == pytest.approx(sum(prices[:-CAP]))
    assert opening["available"] == pytest.approx(1_500 - sum(prices[:-CAP]))
    adds_up(entries, account)
    assert account["held"] > 0 and account["spent"] == pytest.approx(sum(prices))
    # Pages still walk the whole ledger once, the opening first.
    walked, cursor = [], None
    while True:
        page = ledger(cap, key, limit=2, **({"cursor": cursor} if cursor else {}))
        walked += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == entries


def test_a_cursor_survives_folding(cap):
    key = cap.account(credits=10_000)
    for _ in range(CAP):
        submit(cap, "orux", key)
        cap.advance(SONG_DONE)
    first = ledger(cap, key, limit=3)
    seen = first["entries"]
    assert [e["kind"] for e in seen] == ["grant", "hold", "settle"]
    for _ in range(2):  # lets go the first two tasks: what the first page showed folds
        submit(cap, "orux", key)
        cap.advance(SONG_DONE)
    rest = ledger(cap, key, cursor=first["next_cursor"], limit=1_000)
    now = ledger(cap, key, limit=1_000)["entries"]
    assert now[0]["kind"] == "opening"
    assert rest["entries"] == [e for e in now if e["id"] > seen[-1]["id"]]
    adds_up(now, cap.admin("GET", f"/accounts/{key}").json())


# --- retention -------------------------------------------------------------------------------


def test_expired_results_read_expired_for_a_day_then_answer_as_unknown(sim):
    key = sim.account(credits=10_000)
    task_id = submit(sim, "orux", key, "a short-lived song [sim:expire]")
    other = submit(sim, "orux", key)  # the default retention: a day, then a day's grace
    sim.advance(120)  # a song takes 95 s, give or take 15 %
    done = poll(sim, "orux", key, task_id).json()
    assert done["status"] == "SUCCESS" and done["expires_at"]
    media = done["result"]["clips"][0]["audio_url"]
    sim.advance(60)  # [sim:expire]: results last a simulated minute
    assert poll(sim, "orux", key, task_id).json()["status"] == "EXPIRED"
    assert requests.get(media, timeout=30).status_code == 410
    expires_at = sim.admin("GET", f"/tasks/{task_id}").json()["expires_at"]
    now = sim.admin("GET", "/clock").json()["now"]
    sim.advance(expires_at + GRACE - now - 0.5)
    assert poll(sim, "orux", key, task_id).json()["status"] == "EXPIRED"
    assert task_id in [t["id"] for t in tasks(sim)]
    sim.advance(1)
    answers_as_unknown(lambda i: poll(sim, "orux", key, i), task_id)
    assert requests.get(media, timeout=30).status_code == 404
    assert [t["id"] for t in tasks(sim)] == [other]
    assert poll(sim, "orux", key, other).json()["status"] == "EXPIRED"
    entries = ledger(sim, key)["entries"]
    assert [e["kind"] for e in entries] == ["opening", "hold", "settle"]
    adds_up(entries, sim.admin("GET", f"/accounts/{key}").json())
    sim.advance(GRACE)
    answers_as_unknown(lambda i: poll(sim, "orux", key, i), other)
    assert tasks(sim) == []
    assert [e["kind"] for e in ledger(sim, key)["entries"]] == ["opening"]


def test_a_dialect_without_an_expired_word_answers_unknown_from_expiry_on(sim):
    key = sim.account(credits=10_000)
    task_id = submit(sim, "evolink", key, "a short-lived song [sim:expire]")
    sim.advance(SONG_DONE + 60)
    answers_as_unknown(lambda i: poll(sim, "evolink", key, i), task_id)
    assert [t["status"] for t in tasks(sim)] == ["expired"]
    sim.advance(GRACE)
    answers_as_unknown(lambda i: poll(sim, "evolink", key, i), task_id)
    assert tasks(sim) == []


# --- the command -----------------------------------------------------------------------------


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", "serve", "--port", "0",
                           *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("value", ["0", "x", "-3", "2.5"])
def test_the_command_refuses_a_cap_that_is_not_a_whole_number_of_at_least_1(value):
    refused = serve("--max-tasks", value)
    assert refused.returncode == 2, refused.stderr
    assert f"argument --max-tasks: must be a whole number of at least 1 (the finished " \
           f"tasks kept), not '{value}'" in refused.stderr
    assert "usage:" in refused.stderr and "Traceback" not in refused.stderr


def test_the_environment_and_config_file_are_held_to_the_same_rule(tmp_path):
    from_env = serve(env={"MUSICSIM_MAX_TASKS": "0"})
    assert from_env.returncode == 2 and "Traceback" not in from_env.stderr
    assert "MUSICSIM_MAX_TASKS must be a whole number of at least 1" in from_env.stderr
    config = tmp_path / "capped.toml"
    config.write_text("max_tasks = 'many'\n")
    from_file = serve("--config", str(config))
    assert from_file.returncode == 2 and "Traceback" not in from_file.stderr
    assert "capped.toml: max_tasks must be a whole number of at least 1" in from_file.stderr
    assert "--max-tasks N" in serve("--help").stdout
