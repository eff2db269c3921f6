"""musicsim record and musicsim drift, through the command line, against a second
simulator standing in for a real provider. Differences are planted between the two by
a small proxy that rewrites the stand-in's answers; each must be reported by name, and
an honest stand-in must be reported clean."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
from aiohttp import ClientSession, web

from simulator.background import Background
from simulator.config import RateLimit
from simulator.dialects import DIALECTS

SPEED = 50.0
KEY = "sk-musicsim-demo"
SONG = {"model": "suno-v4", "custom_mode": False, "instrumental": False,
        "prompt": "a calm song about the sea"}
Rewrite = Callable[[str, str, int, Any], tuple[int, Any]]


def honest(method: str, path: str, status: int, data: Any) -> tuple[int, Any]:
    return status, data


def _stand_in(speed: float = SPEED) -> Background:
    off = RateLimit(0.0, 1.0)
    return Background(providers=("evolink",), clock="scaled", speed=speed,
                      rate_limits={d: off for d in DIALECTS}).start()


def _tamper(sim: Background, rewrite: Rewrite) -> tuple[str, Callable[[], None]]:
    """A proxy in front of ``sim``'s evolink that rewrites each JSON answer."""
    upstream = sim.url + "/evolink"

    async def forward(request: web.Request) -> web.Response:
        async with ClientSession() as session:
            async with session.request(request.method, upstream + request.path_qs,
                                       headers={"Authorization": request.headers.get(
                                           "Authorization", "")},
                                       data=await request.read() or None) as answer:
                data = await answer.json(content_type=None)
                status, data = rewrite(request.method, request.path, answer.status, data)
                return web.json_response(data, status=status)

    async def start() -> web.AppRunner:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner

    runner = asyncio.run_coroutine_threadsafe(start(), sim.loop).result(10)
    port = runner.addresses[0][1]
    return f"http://127.0.0.1:{port}", lambda: asyncio.run_coroutine_threadsafe(
        runner.cleanup(), sim.loop).result(10)


def _musicsim(*args: str) -> list[str]:
    return [sys.executable, "-m", "simulator.cli", *args]


def _call(url: str, method: str = "GET", body: Any = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {KEY}", "Content-Type": "application/json",
        **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Recording:
    """``musicsim record`` in front of ``upstream``, until :meth:`stop`."""

    def __init__(self, upstream: str, cassette: Path, provider: str = "evolink"):
        self.cassette = cassette
        self.process = subprocess.Popen(
            _musicsim("record", "--provider", provider, "--upstream", upstream,
                      "--port", "0", "--cassette", str(cassette)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        banner = self.process.stdout.readline()
        found = re.search(r"at (http://127\.0\.0\.1:\d+)", banner)
        assert found, banner + self.process.stderr.read()
        self.url = found.group(1)

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=20)
        assert self.process.returncode == 0, err
        return out + err


def _song_through(url: str, poll_every: float = 0.05) -> list[bytes]:
    """A client's life of one song: submit, poll to the end, and one unknown task."""
    status, raw = _call(url + "/v1/audios/generations", "POST", SONG,
                        {"X-Request-Secret": "hush"})
    assert status in (200, 202), raw
    task = json.loads(raw)["id"]
    answers = [raw]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, raw = _call(f"{url}/v1/tasks/{task}")
        answers.append(raw)
        if json.loads(raw).get("status") in ("completed", "failed"):
            break
        time.sleep(poll_every)
    answers.append(_call(f"{url}/v1/tasks/task-unified-1700000000-zzzzzzzz")[1])
    return answers


def _drift(cassette: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    report = cassette.with_suffix(".drift.json")
    done = subprocess.run(_musicsim("drift", str(cassette), "--speed", str(SPEED), "--json",
                                    str(report), *extra),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(report.read_text()), done.stdout


def _record(tmp_path: Path, rewrite: Rewrite, speed: float = SPEED) -> tuple[Path, str]:
    sim = _stand_in(speed)
    tamper, stop_tamper = _tamper(sim, rewrite)
    cassette = tmp_path / "evolink.jsonl"
    recording = Recording(tamper, cassette)
    try:
        _song_through(recording.url)
    finally:
        log = recording.stop()
        stop_tamper()
        sim.stop()
    return cassette, log


def _kinds(report: dict[str, Any]) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for finding in report["findings"]:
        kinds.setdefault(finding["kind"], set()).add(finding["field"])
    return kinds


def test_an_honest_stand_in_reports_no_difference(tmp_path):
    cassette, log = _record(tmp_path, honest)
    assert "drift:" not in log
    status, report, printed = _drift(cassette, "--timing")
    assert status == 0, printed
    assert report["findings"] == [] and report["differences"] == 0
    states = {row["state"]: row for row in report["timing"]}
    assert set(states) == {"pending", "processing"}
    assert states["processing"]["measured"] == pytest.approx(
        states["processing"]["simulated"], rel=0.5)
    assert "no difference" in printed


def test_the_cassette_masks_secrets_and_keeps_answers_as_sent(tmp_path):
    cassette, _ = _record(tmp_path, honest)
    text = cassette.read_text()
    assert KEY not in text and "hush" not in text
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows[0]["cassette"] == 1 and rows[0]["provider"] == "evolink"
    submit = rows[1]
    assert submit["request"]["headers"]["Authorization"] == "***"
    assert submit["request"]["headers"]["X-Request-Secret"] == "***"
    assert json.loads(submit["request"]["text"]) == SONG
    assert json.loads(submit["response"]["text"])["status"] == "pending"
    assert [r["seq"] for r in rows[1:]] == list(range(1, len(rows)))


def test_media_is_recorded_as_a_digest_and_passed_on_whole(tmp_path):
    sim = _stand_in()
    cassette = tmp_path / "evolink.jsonl"
    recording = Recording(sim.url, cassette)  # the root: media links go through it too
    try:
        answers = _song_through(recording.url)
        done = next(json.loads(a) for a in answers if b'"completed"' in a)
        link = done["result_data"][0]["audio_url"]
        status, through = _call(recording.url + link[len(sim.url):])
        direct = urllib.request.urlopen(link, timeout=30).read()
    finally:
        log = recording.stop()
    sim.stop()
    assert status == 200 and through == direct
    last = json.loads(cassette.read_text().splitlines()[-1])["response"]
    assert "text" not in last
    assert last["media"] == {"type": "audio/mpeg", "size": len(direct),
                             "sha256": hashlib.sha256(direct).hexdigest()}
    assert "drift:" not in log


def test_a_stream_is_passed_on_as_it_comes_and_recorded_whole(tmp_path):
    off = RateLimit(0.0, 1.0)
    sim = Background(providers=("acedata",), clock="scaled", speed=SPEED,
                     rate_limits={d: off for d in DIALECTS}).start()
    cassette = tmp_path / "acedata.jsonl"
    recording = Recording(sim.url + "/acedata", cassette, provider="acedata")
    try:
        started = time.monotonic()
        response = requests.post(recording.url + "/suno/audios", timeout=60, stream=True,
                                 json={"action": "generate", "prompt": "a song for the sea"},
                                 headers={"Authorization": f"Bearer {KEY}",
                                          "Accept": "application/x-ndjson"})
        lines = response.iter_lines()
        first = next(lines)
        first_at = time.monotonic() - started
        rest = list(lines)
        ended_at = time.monotonic() - started
    finally:
        log = recording.stop()
        sim.stop()
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    assert first_at < ended_at / 2  # the first snapshot came while the song was made
    received = [json.loads(line) for line in [first, *rest] if line]
    assert received[0]["data"][0]["state"] == "pending" and received[-1]["success"] is True
    row = json.loads(cassette.read_text().splitlines()[-1])
    assert row["response"]["streamed"] is True
    assert [json.loads(line) for line in row["response"]["text"].splitlines() if line] == received
    assert "drift:" not in log
    status, report, _ = _drift(cassette, "--shapes-only")
    assert status == 0 and report["findings"] == []


def test_a_renamed_field_is_named_missing_and_extra(tmp_path):
    def rename(method, path, status, data):
        if status == 200 and "created" in data:
            data["created_at"] = data.pop("created")
        return status, data

    cassette, log = _record(tmp_path, rename)
    assert "drift: missing-field: POST /v1/audios/generations $.created:" in log
    status, report, _ = _drift(cassette, "--suggest")
    assert status == 1
    kinds = _kinds(report)
    assert kinds["missing-field"] == {"$.created"} and kinds["extra-field"] == {"$.created_at"}
    assert any("add 'created_at'" in s for s in report["suggestions"])


def test_an_extra_field_is_reported_with_a_suggestion(tmp_path):
    def extra(method, path, status, data):
        if status == 200:
            data["queue_position"] = 3
        return status, data

    cassette, _ = _record(tmp_path, extra)
    status, report, printed = _drift(cassette, "--suggest")
    assert status == 1
    assert _kinds(report) == {"extra-field": {"$.queue_position"}}
    group = next(g for g in report["groups"] if g["operation"] == "GET /v1/tasks/{task_id}")
    assert group["count"] >= 2 and group["example"]["value"] == 3
    assert "'queue_position': {type: integer} (optional)" in printed


def _processing_reads(word: str) -> Rewrite:
    """Every answer that says ``processing`` says ``word`` instead."""
    def rewrite(method, path, status, data):
        if data.get("status") == "processing":
            data["status"] = word
        return status, data
    return rewrite


def test_an_unknown_status_word_is_reported(tmp_path):
    cassette, _ = _record(tmp_path, _processing_reads("generating"))
    status, report, _ = _drift(cassette)
    assert status == 1
    kinds = _kinds(report)
    assert "unknown-status-word" in kinds and kinds["unknown-value"] == {"$.status"}
    assert any(f["value"] == "generating" for f in report["findings"]
               if f["kind"] == "unknown-status-word")


def test_a_skipped_state_is_reported(tmp_path):
    cassette, _ = _record(tmp_path, _processing_reads("pending"))
    status, report, _ = _drift(cassette)
    assert status == 1
    skipped = [f for f in report["findings"] if f["kind"] == "skipped-state"]
    assert [f["value"] for f in skipped] == ["processing"]


def test_a_step_back_is_reported(tmp_path):
    polls: list[str] = []

    def back(method, path, status, data):
        if path.startswith("/v1/tasks/") and data.get("status") == "processing":
            polls.append(path)
            if len(polls) == 3:  # one answer in the middle of the work says pending again
                data["status"] = "pending"
        return status, data

    cassette, _ = _record(tmp_path, back)
    status, report, _ = _drift(cassette, "--shapes-only")
    assert status == 1
    backward = [f for f in report["findings"] if f["kind"] == "backward-transition"]
    assert [f["value"] for f in backward] == ["pending"]
    assert "back to 'pending'" in backward[0]["message"]


def test_an_undocumented_status_code_is_reported(tmp_path):
    def accepted(method, path, status, data):
        return (202 if method == "POST" and status == 200 else status), data

    cassette, _ = _record(tmp_path, accepted)
    status, report, _ = _drift(cassette)
    assert status == 1
    undocumented = [f for f in report["findings"] if f["kind"] == "undocumented-status"]
    assert [(f["operation"], f["value"]) for f in undocumented] == [
        ("POST /v1/audios/generations", 202)]


def test_a_slower_lifecycle_is_timing_information_unless_asked(tmp_path):
    cassette, _ = _record(tmp_path, honest, speed=SPEED / 5)
    status, report, printed = _drift(cassette)
    assert status == 0
    slow = [f for f in report["findings"] if f["kind"] == "timing"]
    assert slow and all(f["informational"] for f in slow)
    processing = next(f for f in slow if f["value"] == "processing")
    assert processing["details"]["measured"] > 3 * processing["details"]["simulated"]
    assert "slower" in processing["message"]
    assert _drift(cassette, "--timing")[0] == 1


def _exchange(seq: int, method: str, path: str, status: int, answer: Any,
              body: Any = None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "path": path, "query": "", "headers": {}}
    if body is not None:
        request["text"] = json.dumps(body)
    return {"seq": seq, "provider": "evolink", "at": 1000.0 + seq, "took": 0.01,
            "request": request, "response": {"status": status, "streamed": False,
                                             "headers": {"Content-Type": "application/json"},
                                             "text": json.dumps(answer)}}


def test_wrong_types_and_error_shapes_are_named(tmp_path):
    task = {"created": 1766319090, "id": "task-unified-1766319090-abcdefgh",
            "model": "suno-v4", "object": "audio.generation.task", "progress": "half",
            "status": "processing", "task_info": {"can_cancel": False}, "type": "audio"}
    cassette = tmp_path / "hand.jsonl"
    cassette.write_text("\n".join(json.dumps(row) for row in (
        {"cassette": 1, "provider": "evolink"},
        _exchange(1, "GET", f"/v1/tasks/{task['id']}", 200, task),
        _exchange(2, "GET", f"/v1/tasks/{task['id']}", 401, {"message": "bad key"}))) + "\n")
    status, report, _ = _drift(cassette, "--shapes-only")
    assert status == 1
    kinds = _kinds(report)
    assert kinds["wrong-type"] == {"$.progress"}
    assert kinds["error-shape"] == {"$"}


def test_secrets_in_bodies_and_links_are_masked():
    from simulator.cassette import MASK, mask_text

    sent = json.dumps({"prompt": "a song", "api_key": "sk-live-1",
                       "callback_url": "https://hooks.example/cb?token=t0k&run=7",
                       "input": {"webhook_secret": "whsec_9", "tags": ["a"]}})
    masked = json.loads(mask_text(sent, "application/json"))
    assert masked["api_key"] == MASK and masked["input"]["webhook_secret"] == MASK
    assert masked["callback_url"] == "https://hooks.example/cb?token=%2A%2A%2A&run=7"
    assert masked["prompt"] == "a song" and masked["input"]["tags"] == ["a"]
    untouched = '{"prompt":  "a song"}'
    assert mask_text(untouched, "application/json") == untouched  # byte for byte


def test_drift_refuses_what_is_not_a_cassette(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"cassette": 1, "provider": "evolink"}\nnot json\n')
    done = subprocess.run(_musicsim("drift", str(bad)), capture_output=True, text=True)
    assert done.returncode == 2
    assert "line 2" in done.stderr and "Traceback" not in done.stderr
    missing = subprocess.run(_musicsim("drift", str(tmp_path / "none.jsonl")),
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "cannot be read" in missing.stderr


def test_a_replayed_cassette_gives_the_recorded_answers_byte_for_byte(tmp_path):
    sim = _stand_in()
    cassette = tmp_path / "evolink.jsonl"
    recording = Recording(sim.url + "/evolink", cassette)
    try:
        answered = _song_through(recording.url)
    finally:
        recording.stop()
        sim.stop()
    rows = [json.loads(line) for line in cassette.read_text().splitlines()[1:]]
    assert [r["response"]["text"].encode() for r in rows] == answered
    replay = Background(providers=("evolink",), clock="manual", replay=str(cassette)).start()
    try:
        again = [_call(replay.url + "/evolink" + r["request"]["path"], r["request"]["method"],
                       json.loads(r["request"]["text"]) if "text" in r["request"] else None)[1]
                 for r in rows]
    finally:
        replay.stop()
    assert again == answered


def test_the_conformance_runner_records_and_reports_drift(tmp_path):
    sim = _stand_in()
    cassette = tmp_path / "run.jsonl"
    try:
        done = subprocess.run(
            _musicsim("conformance", "gateway", "--provider", "evolink", "--base-url",
                      sim.url + "/evolink", "--api-key", KEY, "--cases", "*two-variations*",
                      "--cases", "*auth*", "--record", str(cassette)),
            capture_output=True, text=True, timeout=300)
    finally:
        sim.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no difference from the simulator's evolink dialect" in done.stdout
    rows = cassette.read_text().splitlines()
    assert len(rows) > 5 and KEY not in cassette.read_text()
