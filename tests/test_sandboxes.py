"""Sandboxes: isolated simulators inside one server, for tests that share it.

Everything is driven through HTTP: the control plane under /_sim/sandboxes/{id}, and
each dialect with a sandbox's keys. The last tests run the README's pytest example on a
real `musicsim serve` shared by two xdist workers, five times over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import start_sim

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "test_with_musicsim.py"
SONG = {"model": "suno-v4", "custom_mode": False, "instrumental": False, "prompt": "a song"}


@pytest.fixture
def server():
    sim = start_sim(seed=11)
    try:
        yield sim
    finally:
        sim.stop()


def made(sim, **body) -> dict:
    answer = sim.admin("POST", "/sandboxes", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def control(sim, sandbox: str, method: str, path: str, **kwargs) -> requests.Response:
    return sim.admin(method, f"/sandboxes/{sandbox}{path}", **kwargs)


def submit(sim, key: str, prompt: str = "a song") -> requests.Response:
    return requests.post(f"{sim.base('evolink')}/v1/audios/generations", timeout=10,
                         json={**SONG, "prompt": prompt},
                         headers={"Authorization": f"Bearer {key}"})


def poll(sim, key: str, task_id: str) -> requests.Response:
    return requests.get(f"{sim.base('evolink')}/v1/tasks/{task_id}", timeout=10,
                        headers={"Authorization": f"Bearer {key}"})


def test_a_sandbox_keeps_its_keys_tasks_journal_and_clock_to_itself(server):
    a, b = made(server, id="a", clock={"mode": "manual"}), made(server, id="b")
    assert a["demo_key"] != b["demo_key"] != "sk-musicsim-demo"
    assert a["control"] == "/_sim/sandboxes/a" and a["clock"]["mode"] == "manual"
    task = submit(server, a["demo_key"]).json()
    assert task["status"] == "pending"

    # Only a's lists know the task; the default sandbox's and b's do not.
    assert control(server, "a", "GET", "/tasks").json()["count"] == 1
    assert control(server, "b", "GET", "/tasks").json()["count"] == 0
    assert server.admin("GET", "/tasks").json()["count"] == 0
    assert [e["path"] for e in control(server, "a", "GET", "/journal").json()["entries"]] \
        == ["/v1/audios/generations"]
    assert server.admin("GET", "/journal").json()["count"] == 0

    # Another sandbox's key, or the default one, cannot see it.
    assert poll(server, b["demo_key"], task["id"]).status_code == 404
    assert poll(server, "sk-musicsim-demo", task["id"]).status_code == 404

    # Advancing a's clock finishes a's task and moves no other clock.
    before = server.admin("GET", "/clock").json()["now"]
    b_before = control(server, "b", "GET", "/clock").json()["now"]
    moved = control(server, "a", "POST", "/clock/advance", json={"seconds": 300}).json()
    assert moved["now"] >= a["clock"]["now"] + 300
    assert server.admin("GET", "/clock").json()["now"] == before
    assert control(server, "b", "GET", "/clock").json()["now"] < b_before + 300
    assert poll(server, a["demo_key"], task["id"]).json()["status"] == "completed"

    # The song's media link is global: anyone holding it gets the file.
    ledger = control(server, "a", "GET", "/ledger",
                     params={"api_key": a["demo_key"]}).json()["entries"]
    assert [e["kind"] for e in ledger] == ["grant", "hold", "settle"]
    clip = control(server, "a", "GET", f"/tasks/{task['id']}").json()["clips"][0]
    audio = requests.get(f"{server.url}/media/{clip['id']}/audio.mp3", timeout=30)
    assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/mpeg"
    assert audio.content[0] == 0xFF and audio.content[1] & 0xE0 == 0xE0  # an MPEG frame

    # The server's metrics count every sandbox's tasks.
    metrics = server.admin("GET", "/metrics").text
    assert 'musicsim_tasks{provider="evolink",state="succeeded"} 1.0' in metrics


def test_fault_rules_act_only_in_their_sandbox(server):
    a, b = made(server, id="fa", clock={"mode": "manual"}), made(server, id="fb")
    rule = control(server, "fa", "POST", "/faults",
                   json={"match": {"provider": "evolink"}, "action": {"status": 503}})
    assert rule.status_code == 201
    assert submit(server, a["demo_key"]).status_code == 503
    assert submit(server, b["demo_key"]).status_code == 200
    assert submit(server, "sk-musicsim-demo").status_code == 200
    assert control(server, "fb", "GET", "/faults").json()["rules"] == []
    journal = control(server, "fa", "GET", "/journal").json()["entries"]
    assert [(e["status"], bool(e["faults"])) for e in journal] == [(503, True)]


def test_resetting_one_sandbox_touches_no_other(server):
    a, b = made(server, id="ra"), made(server, id="rb")
    key = control(server, "ra", "POST", "/accounts", json={"credits": 5}).json()["api_key"]
    submit(server, b["demo_key"])
    submit(server, "sk-musicsim-demo")
    assert control(server, "ra", "POST", "/reset").json() == {"status": "reset"}
    assert control(server, "ra", "GET", f"/accounts/{key}").status_code == 404
    assert control(server, "ra", "GET", f"/accounts/{a['demo_key']}").status_code == 200
    assert control(server, "rb", "GET", "/tasks").json()["count"] == 1
    assert server.admin("GET", "/tasks").json()["count"] == 1
    # Resetting the default sandbox leaves the made ones standing.
    server.admin("POST", "/reset")
    assert control(server, "rb", "GET", "/tasks").json()["count"] == 1
    assert submit(server, b["demo_key"]).status_code == 200


def test_keys_are_unique_across_sandboxes_and_die_with_theirs(server):
    made(server, id="k1")
    taken = control(server, "k1", "POST", "/accounts", json={"api_key": "sk-musicsim-demo"})
    assert taken.status_code == 409 and taken.json()["error"]["param"] == "api_key"
    mine = control(server, "k1", "POST", "/accounts", json={"api_key": "sk-mine"})
    assert mine.status_code == 201
    assert server.admin("POST", "/accounts", json={"api_key": "sk-mine"}).status_code == 409
    assert submit(server, "sk-mine").status_code == 200

    gone = server.admin("DELETE", "/sandboxes/k1")
    assert gone.json() == {"status": "removed", "id": "k1"}
    # The key now answers as a key nobody made, in the dialect's own words.
    refused = submit(server, "sk-mine")
    assert refused.status_code == 401 and refused.json() == submit(server, "sk-nobody").json()
    # ... and may be made again.
    assert server.admin("POST", "/accounts", json={"api_key": "sk-mine"}).status_code == 201


def test_the_collection_answers_and_refuses_in_admin_shape(server):
    assert server.admin("GET", "/sandboxes").json() == {"sandboxes": [], "count": 0}
    first = made(server)
    assert first["id"].startswith("sb_")
    assert server.admin("GET", f"/sandboxes/{first['id']}").json()["demo_key"] \
        == first["demo_key"]
    clash = server.admin("POST", "/sandboxes", json={"id": first["id"]})
    assert clash.status_code == 409 and clash.json()["error"]["param"] == "id"
    default = server.admin("POST", "/sandboxes", json={"id": "default"})
    assert default.status_code == 409
    bad = server.admin("POST", "/sandboxes", json={"id": "no spaces"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "id"
    bad_clock = server.admin("POST", "/sandboxes", json={"clock": {"mode": "sideways"}})
    assert bad_clock.status_code == 400 and "clock" in bad_clock.json()["error"]["param"]
    missing = server.admin("GET", "/sandboxes/nope/tasks")
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "sandbox"
    assert server.admin("GET", "/health").json()["sandboxes"] == 1
    made(server, credits=7)
    listed = server.admin("GET", "/sandboxes").json()
    assert listed["count"] == 2
    poor = listed["sandboxes"][1]
    assert control(server, poor["id"], "GET",
                   f"/accounts/{poor['demo_key']}").json()["credits"] == 7
    assert server.admin("DELETE", "/sandboxes").json() == {"status": "removed", "count": 2}
    assert server.admin("GET", "/health").json()["sandboxes"] == 0


def test_a_cursor_reads_only_its_own_sandbox(server):
    made(server, id="c1", clock={"mode": "manual"})
    made(server, id="c2")
    key = server.admin("GET", "/sandboxes/c1").json()["demo_key"]
    for n in range(3):
        assert submit(server, key, f"song {n}").status_code == 200
    page = control(server, "c1", "GET", "/tasks", params={"limit": 2}).json()
    assert page["next_cursor"]
    foreign = control(server, "c2", "GET", "/tasks", params={"cursor": page["next_cursor"]})
    assert foreign.status_code == 400 and foreign.json()["error"]["param"] == "cursor"
    rest = control(server, "c1", "GET", "/tasks", params={"cursor": page["next_cursor"]})
    assert len(rest.json()["tasks"]) == 1


def test_a_named_sandbox_repeats_its_ids_under_a_seed():
    """Under --seed, a sandbox's ids come from the seed and its name: the same name gives
    the same ids on another server, another name others."""
    ids = []
    for name in ("same", "same", "other"):
        sim = start_sim(seed=5)
        try:
            key = made(sim, id=name)["demo_key"]
            ids.append(submit(sim, key).json()["id"])
        finally:
            sim.stop()
    assert ids[0] == ids[1] != ids[2]


def test_the_spec_documents_every_sandboxed_call():
    from simulator.openapi import load_spec

    paths = load_spec("admin").served["paths"]
    assert "/_sim/sandboxes/{sandbox}/clock/advance" in paths
    operation = paths["/_sim/sandboxes/{sandbox}/tasks"]["get"]
    assert operation["operationId"] == "listTasksInSandbox" or \
        operation["operationId"].endswith("InSandbox")
    assert "404" in operation["responses"]
    ids = [op["operationId"] for item in paths.values() for op in item.values()
           if isinstance(op, dict) and "operationId" in op]
    assert len(ids) == len(set(ids))


# -- the README's example, on one simulator shared by two workers ---------------------

@pytest.fixture(scope="module")
def shared_server():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MUSICSIM_CHECK_ANSWERS", None)
    process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--port", "0",
                                "--allow-local-callbacks"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.strip().startswith("evolink"):
                url = line.split()[1].rsplit("/", 1)[0]
        assert url, "musicsim serve printed no base URL"
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)


@pytest.mark.parametrize("run", range(5))
def test_the_documented_example_passes_on_a_shared_simulator_with_two_workers(
        shared_server, run, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
         "--musicsim-url", shared_server, str(EXAMPLE)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
    # Every test worked in a sandbox of its own, removed when it ended.
    assert requests.get(f"{shared_server}/_sim/sandboxes", timeout=10).json()["count"] == 0


def test_tests_side_by_side_start_from_one_state_file(shared_server, tmp_path):
    """Four tests on two workers load the same file into sandboxes of their own: each
    gets the file's key under a suffix of its own, and sees only its own songs."""
    fixture = ROOT / "fixtures" / "three-songs.json"
    (tmp_path / "test_from_state.py").write_text(f'''
import json, urllib.error, urllib.request
import pytest

FILE = {str(fixture)!r}
KEY = "sk-fixture-three-songs"
SONG = next(t for t in json.load(open(FILE))["tasks"] if t["provider"] == "sunor")

def poll(musicsim, key):
    request = urllib.request.Request(
        f"{{musicsim.base_url('sunor')}}/api/v1/task/{{SONG['id']}}",
        headers={{"x-api-key": key}})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code

@pytest.mark.parametrize("n", range(4))
@pytest.mark.musicsim_state(FILE)
def test_each_has_its_own_copy(musicsim, n):
    mine = musicsim.key(KEY)
    assert mine == f"{{KEY}}-{{musicsim.sandbox_id}}"
    assert poll(musicsim, mine) == 200
    assert poll(musicsim, KEY) == 401  # the file's own key is nobody's here
    assert len(musicsim.tasks(provider="sunor", api_key=mine)) == 3
''', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
         "--musicsim-url", shared_server, "test_from_state.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout
