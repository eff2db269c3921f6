"""Core pieces the sunor and orux dialects rest on, through the Python API and the
control plane: task time limits, result retention, callback signatures, speech, LRC
lyrics and ULIDs."""

from __future__ import annotations

import asyncio
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


class Driven:
    """An engine with one task, driven from a loop of the test's own on the store that
    hands out copies: each read of the task is a fresh snapshot."""

    def __init__(self, text: str = "", *, retention=None, ttl=None):
        self.loop = asyncio.new_event_loop()
        self.engine = Engine(seed=3, clock_mode="manual", state="memory+copies")
        self.run(self.engine.start())
        self.run(self.engine.submit("orux", self.engine.demo_key, "song", task_id="t1",
                                    params={}, cost=10, clips=[self.engine.compose("a song")],
                                    steering=read_steering(text), retention=retention, ttl=ttl))

    def run(self, work):
        return self.loop.run_until_complete(work)

    def advance(self, seconds: float) -> None:
        self.run(self.engine.advance(seconds))

    @property
    def task(self):
        return self.run(self.engine.task("t1"))

    @property
    def account(self):
        return self.run(self.engine.account(self.engine.demo_key))

    def now(self) -> float:
        return self.engine.now()


def test_a_task_past_its_ttl_fails_timed_out_and_its_credits_return():
    driven = Driven("[sim:stuck]", ttl=600)
    driven.advance(599)
    assert driven.task.status != FAILED and driven.account.held == 10
    driven.advance(2)
    assert driven.task.status == FAILED and driven.task.error["code"] == TIMED_OUT
    account = driven.account
    assert account.held == 0 and account.spent == 0 and account.available == 10_000


def test_a_ttl_does_not_touch_a_task_that_finished_in_time():
    driven = Driven(ttl=600)
    driven.advance(600)
    assert driven.task.status == SUCCEEDED and driven.task.error is None


def test_results_expire_after_the_retention_and_the_state_says_so():
    driven = Driven(retention=3600)
    driven.advance(200)
    task = driven.task
    assert task.state(driven.now()) == SUCCEEDED
    assert task.expires_at == pytest.approx(task.finished_at + 3600)
    driven.advance(task.expires_at - driven.now())
    task = driven.task
    assert task.state(driven.now()) == EXPIRED and task.status == SUCCEEDED
    assert [t.id for t in driven.run(driven.engine.tasks(status=EXPIRED))] == ["t1"]
    assert driven.run(driven.engine.tasks(status=SUCCEEDED)) == []


def test_sim_expire_shortens_the_retention():
    driven = Driven("[sim:expire]", retention=86400)
    driven.advance(200)
    assert driven.task.expires_at == pytest.approx(driven.task.finished_at + EXPIRE_SOON)


def test_sim_expire_leaves_results_kept_forever():
    driven = Driven("[sim:expire]")
    driven.advance(10 ** 7)
    assert driven.task.expires_at is None and driven.task.state(driven.now()) == SUCCEEDED


def test_tasks_without_retention_never_expire():
    driven = Driven()
    driven.advance(10 ** 7)
    assert driven.task.expires_at is None and driven.task.state(driven.now()) == SUCCEEDED


def test_expired_media_answers_410(sim):
    engine = sim.engine
    task = sim.call(lambda: engine.submit(
        "orux", engine.demo_key, "export", task_id="t-media", params={}, cost=0,
        clips=[engine.compose("x")], retention=60))
    clip_id = task.clips[0].id
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
