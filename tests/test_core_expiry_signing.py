"""Core pieces the sunor and orux dialects rest on, through the Python API and the
control plane: task time limits, result retention, callback signatures, speech, LRC
lyrics and ULIDs."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import time

import av
import numpy as np
import pytest
import requests

from simulator.core.engine import EXPIRE_SOON, TIMED_OUT, Engine
from simulator.core.ids import Ids
from simulator.core.magic import read_steering
from simulator.core.models import EXPIRED, FAILED, SUCCEEDED
from simulator.core.recipes import Song, Speech, speech_plan
from simulator.core.webhooks import Signer, signature, verify
from simulator.media import facts, formats, render


def engine_with_task(text: str = "", *, retention=None, ttl=None):
    engine = Engine(seed=3, clock_mode="manual")
    task = engine.submit("orux", engine.demo_key, "song", task_id="t1", params={}, cost=10,
                         clips=[engine.compose("a song")], steering=read_steering(text),
                         retention=retention, ttl=ttl)
    return engine, task


def test_a_task_past_its_ttl_fails_timed_out_and_its_credits_return():
    engine, task = engine_with_task("[sim:stuck]", ttl=600)
    engine.advance(599)
    assert task.status != FAILED and engine.account(engine.demo_key).held == 10
    engine.advance(2)
    assert task.status == FAILED and task.error["code"] == TIMED_OUT
    account = engine.account(engine.demo_key)
    assert account.held == 0 and account.spent == 0 and account.available == 10_000


def test_a_ttl_does_not_touch_a_task_that_finished_in_time():
    engine, task = engine_with_task(ttl=600)
    engine.advance(600)
    assert task.status == SUCCEEDED and task.error is None


def test_results_expire_after_the_retention_and_the_state_says_so():
    engine, task = engine_with_task(retention=3600)
    engine.advance(200)
    assert task.state(engine.now()) == SUCCEEDED
    assert task.expires_at == pytest.approx(task.finished_at + 3600)
    engine.advance(task.expires_at - engine.now())
    assert task.state(engine.now()) == EXPIRED and task.status == SUCCEEDED
    assert [t.id for t in engine.tasks(status=EXPIRED)] == ["t1"]
    assert list(engine.tasks(status=SUCCEEDED)) == []


def test_sim_expire_shortens_the_retention():
    engine, task = engine_with_task("[sim:expire]", retention=86400)
    engine.advance(200)
    assert task.expires_at == pytest.approx(task.finished_at + EXPIRE_SOON)


def test_sim_expire_leaves_results_kept_forever():
    engine, task = engine_with_task("[sim:expire]")
    engine.advance(10 ** 7)
    assert task.expires_at is None and task.state(engine.now()) == SUCCEEDED


def test_tasks_without_retention_never_expire():
    engine, task = engine_with_task()
    engine.advance(10 ** 7)
    assert task.expires_at is None and task.state(engine.now()) == SUCCEEDED


def test_expired_media_answers_410(sim):
    engine = sim.engine
    clip_id = sim.call(lambda: engine.submit(
        "orux", engine.demo_key, "export", task_id="t-media", params={}, cost=0,
        clips=[engine.compose("x")], retention=60).clips[0].id)
    sim.advance(30)
    url = f"{sim.url}/media/{clip_id}/audio.mp3"
    assert requests.get(url, timeout=30).status_code == 200
    sim.advance(60)
    gone = requests.get(url, timeout=30)
    assert gone.status_code == 410 and "expired" in gone.json()["error"]["message"]


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"task_id":"t"}'
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("whsec_k", 1700000000, body) == expected


def test_verify_accepts_fresh_genuine_deliveries_only():
    body, now = b'{"a":1}', 1_700_000_000
    good = "sha256=" + signature("s", now, body)
    assert verify("s", body, str(now), good, now=now + 10)
    assert not verify("s", body + b" ", str(now), good, now=now)       # tampered body
    assert not verify("t", body, str(now), good, now=now)              # wrong secret
    assert not verify("s", body, str(now), good, now=now + 301)        # replayed late
    assert not verify("s", body, None, good, now=now)
    assert not verify("s", body, "soon", good, now=now)


def test_signer_stamps_each_call_with_the_wall_clock():
    signer = Signer("s", "X-T", "X-S")
    before = int(time.time())
    headers = signer.headers(b"{}")
    stamp = int(headers["X-T"])
    assert before <= stamp <= time.time() + 1
    assert headers["X-S"] == "sha256=" + signature("s", stamp, b"{}")


def test_ulids_sort_by_time_and_use_crockford_base32():
    ids = Ids(5)
    early, late = ids.ulid(1_767_225_600.0), ids.ulid(1_767_225_601.0)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", early) and early < late
    assert Ids(5).ulid(1_767_225_600.0) == early            # seeded: repeatable
    assert early[:10] == Ids(9).ulid(1_767_225_600.0)[:10]  # the time part is the time's


def test_speech_lasts_as_its_plan_says_and_is_voiced():
    speech = Speech("Welcome to Orux AI. One key, every model.", 42)
    plan = speech_plan(speech.text)
    assert len(plan) >= 10 and all(a[0] < b[0] for a, b in zip(plan, plan[1:]))
    x = render.render(speech)
    assert len(x) == render.samples(speech.duration)
    assert float(np.sqrt(np.mean(x ** 2))) > 0.05
    # Silence between the sentences: the pause after "AI." is quieter than a syllable.
    pause_start = next(s + n for (s, n, _), (t, _, _) in zip(plan, plan[1:]) if t - s - n > 0.2)
    gap = x[render.samples(pause_start) + 200:render.samples(pause_start + 0.2)]
    assert float(np.abs(gap).max()) < 0.01
    assert render.render(Speech(speech.text, 42)).tobytes() == x.tobytes()
    assert render.render(Speech(speech.text, 43)).tobytes() != x.tobytes()


def test_speech_mp3_decodes_to_its_duration():
    speech = Speech("One key, every model.", 1)
    with av.open(io.BytesIO(formats.mp3(speech))) as container:
        frames = [f.to_ndarray() for f in container.decode(audio=0)]
        rate = container.streams.audio[0].rate
    seconds = sum(f.shape[-1] for f in frames) / rate
    assert abs(seconds - speech.duration) < 0.1


def test_lrc_lines_are_the_lyrics_lines_in_time_order_inside_the_song():
    lyrics = "[Verse]\nWalking down the sunlit road\nFeeling light\n\n[Chorus]\nOh summer days"
    song = Song(3, 40.0, "pop", False)
    lines = facts.lrc([(song, lyrics, 0.0, song.duration)]).splitlines()
    stamps = [re.match(r"\[(\d\d):(\d\d)\.(\d\d)\](.*)", line) for line in lines]
    assert [m.group(4) for m in stamps] == ["Walking down the sunlit road", "Feeling light",
                                           "Oh summer days"]
    times = [int(m.group(1)) * 60 + int(m.group(2)) + int(m.group(3)) / 100 for m in stamps]
    assert times == sorted(times) and 0 <= times[0] and times[-1] < 40.0
