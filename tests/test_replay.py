"""``musicsim serve --replay CASSETTE``: what a cassette recorded is answered byte for byte,
the n-th repeat of a request with its n-th answer; everything else is simulated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import requests

from conftest import DEMO_KEY, Sim, bearer, conforms, spec_validator, start_sim
from simulator.config import load

MUSICSIM = [sys.executable, "-m", "simulator.cli"]
HEALTH = spec_validator("admin", "Health")
JOURNAL = spec_validator("admin", "JournalList")

TASK = "task-unified-1767225600-rec0rd01"
MEDIA_TASK = "task-unified-1767225600-med1a001"
UNKNOWN_TASK = "task-unified-1767225600-zzzzzzzz"
SUBMIT = {"model": "suno-v4.5", "prompt": "A song about ducks"}
# As the real service sent them: its own spacing and member order, which a replay keeps.
SUBMITTED = ('{"id": "%s",  "object":"audio.generation.task", "created":1767225600,\n'
             ' "model":"suno-v4.5","status":"pending","progress":0, "type":"audio"}' % TASK)
POLLS = [
    '{"id":"%s","status":"pending" ,"progress":0}' % TASK,
    '{"id":"%s","status":"processing","progress":  42, "note":"caf\u00e9 \u2603"}' % TASK,
    '{"id":"%s","status":"completed","progress":100,"results":["https://cdn.example/a.mp3"]}'
    % TASK,
]


def exchange(seq: int, method: str, path: str, status: int, text: str | None = None,
             request_text: str | None = None, media: dict | None = None) -> dict:
    """One line of a cassette, as ``musicsim record`` writes it (secrets masked)."""
    response = {"status": status, "streamed": False,
                "headers": {"Content-Type": "application/json", "X-Request-Id": f"req-{seq}",
                            "Content-Length": "9999", "Server": "upstream/1.0"}}
    if media is not None:
        response["media"] = media
    else:
        response["text"] = text
    request = {"method": method, "path": path, "query": "",
               "headers": {"Authorization": "***", "Content-Type": "application/json"}}
    if request_text is not None:
        request["text"] = request_text
    return {"seq": seq, "provider": "evolink", "at": 1767225600.0 + seq, "took": 0.2,
            "request": request, "response": response}


def write_cassette(path: Path, rows: list[dict], provider: str = "evolink") -> Path:
    header = {"cassette": 1, "provider": provider, "upstream": "https://api.example",
              "started": 1767225600.0}
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in [header, *rows]))
    return path


@pytest.fixture(scope="module")
def cassette(tmp_path_factory: pytest.TempPathFactory) -> Path:
    poll = f"/v1/tasks/{TASK}"
    media = {"type": "audio/mpeg", "size": 1234, "sha256": "0" * 64}
    return write_cassette(tmp_path_factory.mktemp("replay") / "evolink.jsonl", [
        exchange(1, "POST", "/v1/audios/generations", 200, SUBMITTED,
                 request_text=orjson.dumps(SUBMIT).decode()),
        *(exchange(2 + n, "GET", poll, 200, text) for n, text in enumerate(POLLS)),
        exchange(5, "GET", f"/v1/tasks/{MEDIA_TASK}", 200, media=media),
    ])


@pytest.fixture(scope="module")
def replaying(cassette: Path):
    sim = start_sim(replay=str(cassette))
    yield sim
    sim.stop()


@pytest.fixture
def sim(replaying: Sim) -> Sim:
    """The replaying simulator, reset: journal empty, each recorded key at its first answer."""
    assert replaying.admin("POST", "/reset").status_code == 200
    return replaying


def poll(sim: Sim, task: str = TASK, key: str = DEMO_KEY) -> requests.Response:
    return requests.get(f"{sim.base()}/v1/tasks/{task}", headers=bearer(key), timeout=10)


def journal(sim: Sim, **query: str) -> list[dict]:
    response = sim.admin("GET", "/journal", params=query)
    assert response.status_code == 200, response.text
    conforms(JOURNAL, response.json())
    return response.json()["entries"]


def test_recorded_answers_come_back_byte_for_byte_in_order(sim: Sim):
    answers = [poll(sim) for _ in range(4)]
    assert [a.content for a in answers] == [t.encode() for t in [*POLLS, POLLS[-1]]]
    assert all(a.status_code == 200 for a in answers)
    # The recorded headers, less those that describe the recorded connection.
    assert answers[0].headers["X-Request-Id"] == "req-2"
    assert answers[1].headers["X-Request-Id"] == "req-3"
    assert answers[0].headers["Content-Type"] == "application/json"
    assert answers[0].headers["Content-Length"] == str(len(POLLS[0].encode()))
    assert "upstream" not in answers[0].headers.get("Server", "")


def test_a_request_matches_its_recording_whatever_its_key_and_spacing(sim: Sim):
    # No account has this key: only the replay can answer it with a 200.
    sent = requests.post(f"{sim.base()}/v1/audios/generations", timeout=10,
                         headers={**bearer("sk-someone-elses-real-key"),
                                  "Content-Type": "application/json"},
                         data='{ "prompt" : "A song about ducks", "model": "suno-v4.5" }')
    assert sent.status_code == 200 and sent.content == SUBMITTED.encode()
    assert poll(sim, key="sk-another-key").content == POLLS[0].encode()


def test_what_the_cassette_does_not_hold_is_simulated(sim: Sim):
    unknown = poll(sim, UNKNOWN_TASK)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Task not found or expired"
    # Recorded with only a media digest: no bytes to give, so the simulator answers.
    assert poll(sim, MEDIA_TASK).status_code == 404
    other = requests.post(f"{sim.base()}/v1/audios/generations", headers=bearer(), timeout=10,
                          json={**SUBMIT, "prompt": "A song about geese"})
    assert other.status_code == 200 and other.json()["id"] != TASK
    assert other.json()["status"] == "pending"


def test_the_journal_says_which_answers_were_replayed(sim: Sim):
    poll(sim)
    poll(sim, UNKNOWN_TASK)
    poll(sim)
    assert [e["replayed"] for e in journal(sim, provider="evolink")] == [True, False, True]
    replayed = journal(sim, replayed="true")
    assert [e["path"] for e in replayed] == [f"/v1/tasks/{TASK}"] * 2
    assert replayed[1]["response"]["body"] == POLLS[1]
    assert [e["path"] for e in journal(sim, replayed="false")] == [f"/v1/tasks/{UNKNOWN_TASK}"]
    assert sim.admin("GET", "/journal", params={"replayed": "maybe"}).status_code == 400


def test_a_fault_rule_wins_over_the_recording(sim: Sim):
    rule = {"match": {"provider": "evolink", "method": "GET", "path": f"/v1/tasks/{TASK}"},
            "action": {"status": 503}, "times": 1}
    assert sim.admin("POST", "/faults", json=rule).status_code == 201
    assert poll(sim).status_code == 503
    # The faulted request never reached the "upstream": the recording starts at its first.
    assert poll(sim).content == POLLS[0].encode()
    assert [(e["replayed"], bool(e["faults"])) for e in journal(sim)] == [(False, True),
                                                                         (True, False)]


def test_health_names_the_cassette(sim: Sim, cassette: Path):
    health = sim.admin("GET", "/health").json()
    conforms(HEALTH, health)
    assert health["replay"] == {"path": str(cassette), "exchanges": 5}


def test_the_cassette_may_come_from_the_environment_or_a_config_file(tmp_path: Path):
    assert load(env={"MUSICSIM_REPLAY": "a.jsonl"}).replay == "a.jsonl"
    config = tmp_path / "musicsim.toml"
    config.write_text('replay = "b.jsonl"\n')
    assert load(config, env={}).replay == "b.jsonl"


# --- the command ---------------------------------------------------------------------


def serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MUSICSIM, "serve", "--port", "0", *args], capture_output=True,
                          text=True, timeout=60)


def test_help_mentions_replay():
    shown = subprocess.run([*MUSICSIM, "serve", "--help"], capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and "--replay" in shown.stdout


def test_a_cassette_that_cannot_be_replayed_is_a_one_line_error(tmp_path: Path,
                                                                cassette: Path):
    missing = serve("--replay", str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [missing.stderr.strip()]
    assert "missing.jsonl" in missing.stderr and "cannot be read" in missing.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text(cassette.read_text().splitlines()[0] + "\nthis is not JSON\n")
    bad = serve("--replay", str(broken))
    assert bad.returncode == 2 and "line 2" in bad.stderr and "Traceback" not in bad.stderr
    elsewhere = serve("--replay", str(cassette), "--provider", "sunor")
    assert elsewhere.returncode == 2 and "Traceback" not in elsewhere.stderr
    assert "evolink" in elsewhere.stderr and "not served" in elsewhere.stderr
