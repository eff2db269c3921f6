"""A small acedata client for the tests: the calls a real integration makes, and
independent checks of the media it is handed."""

from __future__ import annotations

import io
import wave
from typing import Any

import mutagen.mp3
import numpy as np
import requests

from conftest import DEMO_KEY, Sim, bearer

ACE = "acedata"


def fast(sim: Sim, speed: float = 2000.0) -> None:
    """Run the simulated clock fast, so requests that wait for their songs return soon."""
    response = sim.admin("PUT", "/clock", json={"mode": "scaled", "speed": speed})
    assert response.status_code == 200, response.text


def post(sim: Sim, path: str, body: Any, key: str | None = DEMO_KEY,
         headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
    sent = {**(bearer(key) if key else {}), **(headers or {})}
    return requests.post(f"{sim.base(ACE)}{path}", json=body, headers=sent, timeout=60, **kwargs)


def call(sim: Sim, path: str, body: Any, key: str = DEMO_KEY) -> dict[str, Any]:
    response = post(sim, path, body, key)
    assert response.status_code == 200, response.text
    return response.json()


def songs(sim: Sim, body: dict[str, Any], key: str = DEMO_KEY) -> list[dict[str, Any]]:
    """Songs of a synchronous ``/suno/audios`` request, checked to have all succeeded."""
    answer = call(sim, "/suno/audios", body, key)
    assert answer["success"] is True and answer["task_id"] and answer["trace_id"]
    assert answer["data"], answer
    for song in answer["data"]:
        assert song["state"] == "succeeded", song
    return answer["data"]


def retrieve(sim: Sim, task_id: str, key: str = DEMO_KEY) -> dict[str, Any]:
    return call(sim, "/suno/tasks", {"action": "retrieve", "id": task_id}, key)


def fetch(url: str, content_type: str) -> bytes:
    response = requests.get(url, timeout=60)
    assert response.status_code == 200, (url, response.text[:200])
    assert response.headers["Content-Type"].startswith(content_type), response.headers
    return response.content


def mp3_seconds(url: str) -> float:
    return mutagen.mp3.MP3(io.BytesIO(fetch(url, "audio/mpeg"))).info.length


def wav_samples(url: str) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(fetch(url, "audio/wav"))) as reader:
        assert reader.getsampwidth() == 2 and reader.getnchannels() == 1
        frames = reader.readframes(reader.getnframes())
        return np.frombuffer(frames, "<i2").astype(np.float64) / 32768.0, reader.getframerate()


def assert_real_song(song: dict[str, Any]) -> None:
    """The song's audio is an MP3 of its stated length and its cover a JPEG."""
    assert abs(mp3_seconds(song["audio_url"]) - song["duration"]) < 0.1, song
    assert fetch(song["image_url"], "image/jpeg")[:3] == b"\xff\xd8\xff"
