"""Manual-clock tests: a task stepped through each state and stage, and its callbacks."""

from __future__ import annotations


import pytest
import requests

from conftest import bearer

SONG = {"model": "suno-v4.5", "custom_mode": True, "instrumental": False, "style": "pop",
        "title": "Steps", "prompt": "[Verse]\nOne two three\n[Chorus]\nFour five six"}


def submit(sim, body=SONG):
    response = requests.post(f"{sim.base()}/v1/audios/generations", json=body, headers=bearer(),
                             timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def poll(sim, task_id):
    return requests.get(f"{sim.base()}/v1/tasks/{task_id}", headers=bearer(), timeout=10).json()


def core(sim, task_id):
    return sim.admin("GET", f"/tasks/{task_id}").json()


def step_until(sim, task_id, predicate, limit=2000.0, step=1.0):
    waited = 0.0
    while waited < limit:
        task = core(sim, task_id)
        if predicate(task):
            return task
        sim.advance(step)
        waited += step
    raise AssertionError(f"condition not reached within {limit} simulated seconds")


def test_task_walks_every_state_and_stage_with_rising_progress(sim):
    task = submit(sim)
    seen, progress = [], []
    for _ in range(400):
        view = poll(sim, task["id"])
        state = (view["status"], core(sim, task["id"])["stage"])
        if not seen or seen[-1] != state:
            seen.append(state)
        progress.append(view["progress"])
        if view["status"] == "completed":
            break
        sim.advance(0.5)
    assert seen == [("pending", None), ("processing", None), ("processing", "text"),
                    ("processing", "first"), ("completed", "complete")]
    assert progress == sorted(progress) and progress[-1] == 100 and 0 < progress[len(progress) // 2] < 100


def test_time_does_not_move_without_advance(sim):
    task = submit(sim)
    before = sim.admin("GET", "/clock").json()["now"]
    assert poll(sim, task["id"])["status"] == "pending"
    assert sim.admin("GET", "/clock").json()["now"] == before


def test_text_stage_shows_titles_first_stage_shows_the_first_clip(sim):
    task = submit(sim)
    view = step_until(sim, task["id"], lambda t: t["stage"] == "text")
    detail = poll(sim, task["id"])
    assert [i["title"] for i in detail["result_data"]] == ["Steps", "Steps"]
    assert "audio_url" not in detail["result_data"][0] and "results" not in detail
    step_until(sim, task["id"], lambda t: t["stage"] == "first")
    detail = poll(sim, task["id"])
    assert "audio_url" in detail["result_data"][0] and "audio_url" not in detail["result_data"][1]
    assert requests.get(detail["result_data"][0]["audio_url"], timeout=30).status_code == 200
    assert view["status"] == "running"


def test_credits_held_then_settled(sim):
    before = sim.admin("GET", "/accounts/sk-musicsim-demo").json()
    task = submit(sim)
    held = sim.admin("GET", "/accounts/sk-musicsim-demo").json()
    assert held["held"] == 24 and held["credits"] == before["credits"] - 24
    step_until(sim, task["id"], lambda t: t["status"] == "succeeded")
    after = sim.admin("GET", "/accounts/sk-musicsim-demo").json()
    assert after["held"] == 0 and after["spent"] == before["spent"] + 24
    kinds = [e["kind"] for e in sim.admin("GET", "/ledger",
                                          params={"api_key": "sk-musicsim-demo"}).json()["entries"]]
    assert kinds == ["grant", "hold", "settle"]


@pytest.mark.parametrize("marker,code,reaches_first", [
    ("[sim:fail]", "generation_failed", False),
    ("[sim:fail:moderation]", "content_moderation", False),
])
def test_failure_magic_values_fail_and_release_credits(sim, marker, code, reaches_first):
    task = submit(sim, {**SONG, "prompt": "words " + marker})
    done = step_until(sim, task["id"], lambda t: t["status"] == "failed")
    assert done["error"]["code"] == code
    view = poll(sim, task["id"])
    assert view["status"] == "failed" and view["error"]["code"] == code
    assert "results" not in view
    account = sim.admin("GET", "/accounts/sk-musicsim-demo").json()
    assert account["held"] == 0 and account["spent"] == 0
    events = [h["event"] for h in done["history"]]
    assert ("stage:text" in events) is (code == "generation_failed")


def test_moderation_fails_before_any_stage(sim):
    task = submit(sim, {**SONG, "title": "[sim:fail:moderation]"})
    done = step_until(sim, task["id"], lambda t: t["status"] == "failed")
    assert done["stage"] is None


def test_slow_takes_longer(sim):
    plain, slow = submit(sim), submit(sim, {**SONG, "prompt": "x [sim:slow]"})
    finished_plain = step_until(sim, plain["id"], lambda t: t["status"] == "succeeded", step=5)
    finished_slow = step_until(sim, slow["id"], lambda t: t["status"] == "succeeded", step=5)
    plain_span = finished_plain["finished_at"] - finished_plain["created_at"]
    slow_span = finished_slow["finished_at"] - finished_slow["created_at"]
    assert slow_span > 2.5 * plain_span


def test_stuck_never_finishes_until_the_control_plane_settles_it(sim):
    task = submit(sim, {**SONG, "prompt": "x [sim:stuck]"})
    sim.advance(10_000)
    assert core(sim, task["id"])["status"] == "running"
    settled = sim.admin("POST", f"/tasks/{task['id']}/outcome", json={"outcome": "succeed"})
    assert settled.status_code == 200 and settled.json()["status"] == "succeeded"
    assert poll(sim, task["id"])["status"] == "completed"
    again = sim.admin("POST", f"/tasks/{task['id']}/outcome", json={"outcome": "fail"})
    assert again.status_code == 409


def test_forced_failure_with_reason(sim):
    task = submit(sim)
    failed = sim.admin("POST", f"/tasks/{task['id']}/outcome",
                       json={"outcome": "fail", "reason": "upstream_timeout"}).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "upstream_timeout"
    sim.advance(1000)  # stale schedule entries must not revive it
    assert core(sim, task["id"])["status"] == "failed"


def test_callbacks_arrive_in_stages_text_first_complete(sim, receiver):
    task = submit(sim, {**SONG, "callback_url": receiver.url})
    step_until(sim, task["id"], lambda t: t["status"] == "succeeded")
    calls = receiver.wait_for(3)
    assert [c["callback_type"] for c in calls] == ["text", "first", "complete"]
    assert all(c["id"] == task["id"] for c in calls)
    assert calls[-1]["status"] == "completed" and len(calls[-1]["results"]) == 2
    assert calls[0]["status"] == "processing"


def test_failed_task_calls_back_complete_with_failed_status(sim, receiver):
    task = submit(sim, {**SONG, "prompt": "[sim:fail:moderation]", "callback_url": receiver.url})
    step_until(sim, task["id"], lambda t: t["status"] == "failed")
    calls = receiver.wait_for(1)
    assert calls[-1]["callback_type"] == "complete" and calls[-1]["status"] == "failed"


def test_callback_retries_three_times_on_failure(sim, receiver):
    receiver.fail_first = 10
    task = submit(sim, {**SONG, "prompt": "[sim:fail:moderation]", "callback_url": receiver.url})
    step_until(sim, task["id"], lambda t: t["status"] == "failed")
    receiver.wait_for(1)
    for _ in range(3):  # each retry waits on the simulated clock
        count = len(receiver.calls)
        sim.advance(60)
        receiver.wait_for(count + 1)
    sim.advance(600)
    import time
    time.sleep(0.3)
    assert len(receiver.calls) == 4  # the first attempt and three retries, no more


def test_running_clock_moves_tasks_without_help(sim):
    """With a running clock the scheduler alone moves the task, at the clock's speed."""
    import time
    sim.admin("PUT", "/clock", json={"speed": 40})
    started = time.monotonic()
    task = submit(sim)
    seen = set()
    while time.monotonic() - started < 15:
        view = poll(sim, task["id"])
        seen.add(view["status"])
        if view["status"] == "completed":
            break
        time.sleep(0.05)
    wall = time.monotonic() - started
    core_view = core(sim, task["id"])
    simulated = core_view["finished_at"] - core_view["created_at"]
    assert seen == {"pending", "processing", "completed"}
    assert 80 <= simulated <= 110  # a song's real duration on the simulated clock
    assert simulated / 40 * 0.8 <= wall <= simulated / 40 + 1.5


def test_fast_clock_finishes_a_song_in_about_ten_seconds(sim):
    fast = sim.admin("PUT", "/clock", json={"mode": "fast"}).json()
    task = submit(sim)
    sim.admin("PUT", "/clock", json={"mode": "manual"})  # step the rest exactly
    done = step_until(sim, task["id"], lambda t: t["status"] == "succeeded")
    assert fast["speed"] == 10
    assert 8.0 <= (done["finished_at"] - done["created_at"]) / fast["speed"] <= 11.5
