"""What the dashboard reads, through HTTP: the page and its files, the live stream of
changes, lists read newest first, a task's own movements and exchanges, a finished
song's sheet and stems, and each task's status in its dialect's words. (The page itself
is driven in Chromium by tests/test_dashboard_browser.py.)"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests
from conftest import DEMO_KEY, Sim, bearer, start_sim

SONG = {"model": "suno-v4.5", "prompt": "a dashboard song about lanterns"}


def submit(sim: Sim, body: dict | None = None, key: str = DEMO_KEY) -> str:
    response = requests.post(f"{sim.base()}/v1/audios/generations", json=body or SONG,
                             headers=bearer(key), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def finished(sim: Sim, task_id: str) -> dict:
    sim.advance(600)
    task = sim.admin("GET", f"/tasks/{task_id}").json()
    assert task["status"] == "succeeded", task
    return task


class Stream:
    """A reader of /_sim/events in a thread, keeping each event as (name, data)."""

    def __init__(self, url: str, headers: dict | None = None):
        self.events: list[tuple[str, dict]] = []
        self.response = requests.get(url, stream=True, timeout=10, headers=headers or {})
        self.status = self.response.status_code
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        name = None
        try:
            for line in self.response.iter_lines(chunk_size=None, decode_unicode=True):
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line[6:])))
        except (requests.RequestException, AttributeError):
            pass

    def wait_for(self, test, timeout: float = 10.0) -> tuple[str, dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.events):
                if test(*event):
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no such event in {self.events}")

    def close(self) -> None:
        """Hang up: the reading thread's blocked read ends at once (closing the response
        from here would wait for it)."""
        connection = self.response.raw.connection
        if connection is not None and connection.sock is not None:
            connection.sock.shutdown(socket.SHUT_RDWR)
        self.response.close()


# -- the page and its files ------------------------------------------------------------

def test_the_page_and_its_files_are_served_with_a_strict_policy(sim):
    page = requests.get(f"{sim.url}/_sim/ui", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    html = page.text
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css"),
                       ("favicon.svg", "image/svg+xml")):
        assert f"/_sim/ui/{name}" in html
        served = requests.get(f"{sim.url}/_sim/ui/{name}", timeout=10)
        assert served.status_code == 200 and served.headers["Content-Type"].startswith(kind)
        assert len(served.content) > 100
    assert '<link rel="icon" href="/_sim/ui/favicon.svg"' in html
    missing = requests.get(f"{sim.url}/_sim/ui/secrets.txt", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_with_an_admin_token_the_page_loads_but_no_data_does():
    guarded = start_sim(admin_token="s3cret-token")
    try:
        assert requests.get(f"{guarded.url}/_sim/ui", timeout=10).status_code == 200
        assert requests.get(f"{guarded.url}/_sim/ui/app.js", timeout=10).status_code == 200
        for path in ("/events", "/tasks", "/accounts"):
            refused = requests.get(f"{guarded.url}/_sim{path}", timeout=10)
            assert refused.status_code == 401, path
        stream = Stream(f"{guarded.url}/_sim/events",
                        {"Authorization": "Bearer s3cret-token"})
        try:
            assert stream.status == 200
            stream.wait_for(lambda name, data: name == "hello")
        finally:
            stream.close()
    finally:
        guarded.stop()


# -- the live stream --------------------------------------------------------------------

def test_the_stream_says_hello_then_names_what_moved(sim):
    stream = Stream(f"{sim.url}/_sim/events")
    try:
        assert stream.response.headers["Content-Type"].startswith("text/event-stream")
        _, hello = stream.wait_for(lambda name, data: name == "hello")
        assert set(hello["changed"]) == {"tasks", "accounts", "journal", "webhooks", "faults",
                                         "sandboxes"}
        assert hello["sandbox"] == "default" and hello["clock"]["mode"] == "manual"
        submit(sim)
        stream.wait_for(lambda name, data: name == "change" and "tasks" in data["changed"]
                        and "accounts" in data["changed"] and "journal" in data["changed"])
        sim.admin("POST", "/faults", json={"match": {"provider": "evolink"},
                                           "action": {"status": 503}, "times": 1})
        stream.wait_for(lambda name, data: "faults" in data["changed"])
        before = stream.events[-1][1]["clock"]["now"]
        sim.advance(42)
        stream.wait_for(lambda name, data: data["clock"]["now"] >= before + 42)
    finally:
        stream.close()


def test_a_sandboxs_stream_sees_only_it_and_ends_when_it_goes(sim):
    made = sim.admin("POST", "/sandboxes", json={"id": "watched"}).json()
    stream = Stream(f"{sim.url}/_sim/sandboxes/watched/events")
    try:
        stream.wait_for(lambda name, data: name == "hello" and data["sandbox"] == "watched")
        submit(sim)  # the default sandbox's demo key: not this sandbox's news
        time.sleep(1.2)
        assert not any("tasks" in data["changed"] for name, data in stream.events
                       if name == "change")
        submit(sim, key=made["demo_key"])
        stream.wait_for(lambda name, data: "tasks" in data["changed"] and name == "change")
        assert sim.admin("DELETE", "/sandboxes/watched").status_code == 200
        stream.wait_for(lambda name, data: name == "gone" and data["sandbox"] == "watched")
    finally:
        stream.close()
        sim.admin("DELETE", "/sandboxes")


# -- lists newest first, a task's own movements and exchanges ---------------------------

def test_lists_read_newest_first_page_by_page(sim):
    ids = [submit(sim) for _ in range(5)]
    first = sim.admin("GET", "/tasks", params={"order": "newest", "limit": 2}).json()
    assert [t["id"] for t in first["tasks"]] == ids[::-1][:2] and first["count"] == 5
    second = sim.admin("GET", "/tasks", params={"order": "newest", "limit": 2,
                                                "cursor": first["next_cursor"]}).json()
    third = sim.admin("GET", "/tasks", params={"order": "newest", "limit": 2,
                                               "cursor": second["next_cursor"]}).json()
    assert [t["id"] for t in second["tasks"] + third["tasks"]] == ids[::-1][2:]
    assert third["next_cursor"] is None
    oldest = sim.admin("GET", "/tasks", params={"limit": 2}).json()
    crossed = sim.admin("GET", "/tasks", params={"order": "newest",
                                                 "cursor": oldest["next_cursor"]})
    assert crossed.status_code == 400 and crossed.json()["error"]["param"] == "cursor"
    wrong = sim.admin("GET", "/journal", params={"order": "sideways"})
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "order"
    journal = sim.admin("GET", "/journal", params={"order": "newest", "limit": 3}).json()
    numbers = [e["id"] for e in journal["entries"]]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 3
    ledger = sim.admin("GET", "/ledger", params={"api_key": DEMO_KEY, "order": "newest"})
    kinds = [e["kind"] for e in ledger.json()["entries"]]
    assert kinds[:5] == ["hold"] * 5 and kinds[-1] == "grant"


def test_a_tasks_ledger_movements_and_exchanges_are_found_by_its_id(sim):
    task_id, other = submit(sim), submit(sim)
    requests.get(f"{sim.base()}/v1/tasks/{task_id}", headers=bearer(), timeout=10)
    finished(sim, task_id)
    movements = sim.admin("GET", "/ledger", params={"api_key": DEMO_KEY,
                                                    "task_id": task_id}).json()["entries"]
    assert [(e["kind"], e["task_id"]) for e in movements] == [("hold", task_id),
                                                              ("settle", task_id)]
    exchanges = sim.admin("GET", "/journal", params={"mentions": task_id}).json()["entries"]
    assert [(e["method"], e["path"]) for e in exchanges] == [
        ("POST", "/v1/audios/generations"), ("GET", f"/v1/tasks/{task_id}")]
    assert task_id in exchanges[0]["response"]["body"]
    assert other not in str(exchanges)


# -- a finished song, as a player shows it -----------------------------------------------

def test_a_finished_songs_sheet_has_timed_lines_a_waveform_and_playable_stems(sim):
    task_id = submit(sim)
    clip_id = sim.admin("GET", f"/tasks/{task_id}").json()["clips"][0]["id"]
    early = sim.admin("GET", f"/clips/{clip_id}/song")
    assert early.status_code == 409 and early.json()["error"]["param"] == "clip_id"
    task = finished(sim, task_id)
    clip = task["clips"][0]
    song = sim.admin("GET", f"/clips/{clip_id}/song").json()
    assert song["duration"] == clip["duration"] and song["title"] == clip["title"]
    starts = [line["start_s"] for line in song["lines"]]
    assert len(starts) > 4 and starts == sorted(starts)
    assert all(0 <= ln["start_s"] < ln["end_s"] <= song["duration"] for ln in song["lines"])
    sung = " ".join(line["text"] for line in song["lines"]).split()
    assert len(sung) > 10 and all(word in clip["lyrics"] for word in sung)
    assert len(song["waveform"]) == 400 and 0 < max(song["waveform"]) <= 1
    assert "vocals" in song["parts"] and len(song["parts"]) >= 3
    assert song["files"]["audio.mp3"] == f"/media/{clip_id}/audio.mp3"
    sizes = {}
    for stem in song["stems"]:
        served = requests.get(sim.url + stem["url"], timeout=60)
        assert served.status_code == 200 and served.headers["Content-Type"] == "audio/mpeg"
        sizes[stem["part"]] = served.content
    whole = requests.get(sim.url + song["files"]["audio.mp3"], timeout=60).content
    assert len(set(sizes.values())) == len(sizes) and whole not in sizes.values()
    absent = next(p for p in ("guitar", "keys", "synth", "fx", "strings", "percussion")
                  if p not in song["parts"])
    refused = requests.get(f"{sim.url}/media/{clip_id}/stem-{absent}.mp3", timeout=10)
    assert refused.status_code == 404 and absent in refused.json()["error"]["message"]
    missing = sim.admin("GET", "/clips/nobodys-clip/song")
    assert missing.status_code == 404


# -- each task's status in its dialect's words -------------------------------------------

def test_each_task_carries_its_status_in_its_dialects_words(sim):
    evolink = submit(sim)
    sunor = requests.post(f"{sim.base('sunor')}/api/v1/task", timeout=10,
                          headers={"x-api-key": DEMO_KEY},
                          json={"model": "suno", "task_type": "music", "input": {
                              "gpt_description_prompt": "a song about tea"}})
    assert sunor.status_code == 202, sunor.text
    sunor_id = sunor.json()["data"]["task_id"]

    def words() -> tuple[str, str, str, str]:
        e = requests.get(f"{sim.base()}/v1/tasks/{evolink}", headers=bearer(),
                         timeout=10).json()["status"]
        s = requests.get(f"{sim.base('sunor')}/api/v1/task/{sunor_id}", timeout=10,
                         headers={"x-api-key": DEMO_KEY}).json()["data"]["status"]
        listed = {t["id"]: t["dialect_status"] for t in sim.admin("GET", "/tasks").json()["tasks"]}
        return e, listed[evolink], s, listed[sunor_id]

    seen = []
    for step in (0, 20, 600):
        sim.advance(step)
        e, e_listed, s, s_listed = words()
        assert (e, s) == (e_listed, s_listed)
        seen.append((e, s))
    assert seen[0] == ("pending", "pending") and seen[-1] == ("completed", "success")
    one = sim.admin("GET", f"/tasks/{evolink}").json()
    assert one["dialect_status"] == "completed" and one["status"] == "succeeded"


@pytest.mark.parametrize("path", ["/_sim/events", "/_sim/tasks", "/_sim/clips/x/song"])
def test_a_page_of_another_origin_gets_no_data(sim, path):
    refused = requests.get(sim.url + path, headers={"Origin": "https://evil.example"},
                           timeout=10)
    assert refused.status_code == 403 and refused.json()["error"]["param"] == "Origin"
