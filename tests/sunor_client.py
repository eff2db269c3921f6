"""A small sunor client for the tests: the two task calls and the balance, each answer
checked against specs/sunor.yaml, and independent checks of the media a clip links to."""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

import av
import numpy as np
import requests

from acedata_client import fetch, mp3_seconds, wav_samples
from conftest import Sim, conforms, spec_validator

SUNOR = "sunor"
SONG_SECONDS = 120.0  # simulated time after which any music task is done (95 s ± 15 %)
JOB_SECONDS = 12.0  # lyrics (8 s ± 15 %), upload and concat (5 s ± 15 %)
TTL = 600.0  # a task still running this long after submission times out
PRICES = {("suno", "music"): 10, ("suno", "lyrics"): 5, ("suno", "upload"): 1,
          ("suno", "concat"): 5, ("udio", "music"): 5}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

TASK_ANSWER, CREATED, ERROR = (spec_validator(SUNOR, name)
                              for name in ("TaskAnswer", "Created", "Error"))


def iso(text: str) -> datetime:
    """A timestamp as the provider writes them (jsonschema does not check date-time)."""
    assert ISO.match(text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- calls --------------------------------------------------------------------------------


def headers(api_key: str | None) -> dict[str, str]:
    return {"x-api-key": api_key} if api_key else {}


def post(sim: Sim, body: Any, api_key: str | None, raw: str | None = None,
         extra: dict[str, str] | None = None) -> requests.Response:
    """POST /api/v1/task with ``body`` as JSON, or ``raw`` text sent as it is."""
    sent = {**headers(api_key), **(extra or {})}
    url = f"{sim.base(SUNOR)}/api/v1/task"
    if raw is not None:
        sent.setdefault("Content-Type", "application/json")
        return requests.post(url, data=raw.encode(), headers=sent, timeout=60)
    return requests.post(url, json=body, headers=sent, timeout=60)


def get(sim: Sim, task_id: str, api_key: str | None) -> requests.Response:
    return requests.get(f"{sim.base(SUNOR)}/api/v1/task/{task_id}", headers=headers(api_key),
                        timeout=60)


def get_balance(sim: Sim, api_key: str | None) -> requests.Response:
    return requests.get(f"{sim.base(SUNOR)}/api/v1/account/balance", headers=headers(api_key),
                        timeout=60)


def created(response: requests.Response, kind: str, price: float) -> dict[str, Any]:
    """The 202 answer of a submit, checked whole: its shape, status, type and price."""
    assert response.status_code == 202, response.text
    answer = response.json()
    conforms(CREATED, answer)
    data = answer["data"]
    assert answer["code"] == 202 and set(answer) == {"code", "data"}
    assert set(data) == {"task_id", "type", "status", "credits_charged", "created_at"}, data
    assert data["type"] == kind and data["status"] == "pending", data
    assert data["credits_charged"] == price, data
    assert data["task_id"]
    iso(data["created_at"])
    return data


def submit(sim: Sim, api_key: str, body: dict[str, Any]) -> str:
    """A new task's id, its 202 answer checked against the spec and the price list."""
    data = created(post(sim, body, api_key), body["task_type"],
                   PRICES[(body["model"], body["task_type"])])
    return data["task_id"]


def task(sim: Sim, api_key: str, task_id: str) -> dict[str, Any]:
    """The task now (``data`` of the answer), the whole answer checked against the spec."""
    response = get(sim, task_id, api_key)
    assert response.status_code == 200, response.text
    answer = response.json()
    conforms(TASK_ANSWER, answer)
    assert answer["code"] == 200 and answer["data"]["task_id"] == task_id
    return answer["data"]


def finished(sim: Sim, api_key: str, task_id: str, seconds: float = SONG_SECONDS,
             status: str = "success") -> dict[str, Any]:
    sim.advance(seconds)
    data = task(sim, api_key, task_id)
    assert data["status"] == status, data
    return data


def results(sim: Sim, api_key: str, body: dict[str, Any],
            seconds: float = SONG_SECONDS) -> list[dict[str, Any]]:
    """The result list of a new task once it has succeeded."""
    data = finished(sim, api_key, submit(sim, api_key, body), seconds)
    assert data["output"]["status"] == "completed" and data["output"]["progress"] == "100%"
    assert data["error"] is None and data["output"]["fail_reason"] is None
    assert data["output"]["result"], data
    return data["output"]["result"]


def balance(sim: Sim, api_key: str) -> dict[str, Any]:
    response = get_balance(sim, api_key)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["code"] == 200 and set(answer["data"]) == {"available", "frozen", "total"}
    data = answer["data"]
    assert data["total"] == data["available"] + data["frozen"], data
    return data


def ledger(sim: Sim, api_key: str) -> dict[str, Any]:
    """The key's balances from the control plane: credits, held, spent, granted."""
    response = sim.admin("GET", f"/accounts/{api_key}")
    assert response.status_code == 200, response.text
    return response.json()


def tasks_of(sim: Sim, api_key: str) -> int:
    response = sim.admin("GET", "/tasks", params={"provider": SUNOR, "api_key": api_key})
    assert response.status_code == 200, response.text
    return response.json()["count"]


def error_of(response: requests.Response, status: int, message: str | None = None) -> str:
    """The provider's error body, exactly ``{"code": status, "message": str}``."""
    assert response.status_code == status, response.text
    body = response.json()
    conforms(ERROR, body)
    assert set(body) == {"code", "message"} and body["code"] == status, body
    assert isinstance(body["message"], str) and body["message"], body
    if message is not None:
        assert body["message"] == message, body
    return body["message"]


# --- media --------------------------------------------------------------------------------


def decode_mp3(data: bytes) -> tuple[np.ndarray, int]:
    """The MP3's samples, decoded by FFmpeg (PyAV), mono, as floats in [-1, 1], and
    their rate."""
    chunks, rate = [], 0
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(audio=0):
            rate = frame.sample_rate
            array = frame.to_ndarray()
            if array.dtype.kind == "i":
                array = array.astype(np.float64) / 32768.0
            chunks.append(array.reshape(-1) if array.shape[0] == 1 else array.mean(axis=0))
    return np.concatenate(chunks).astype(np.float64), rate


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def media(sim: Sim, clip_id: str, name: str) -> str:
    return f"{sim.url}/media/{clip_id}/{name}"


def wav_of(sim: Sim, clip_id: str) -> tuple[np.ndarray, int]:
    return wav_samples(media(sim, clip_id, "audio.wav"))


def assert_real_clip(clip: dict[str, Any]) -> bytes:
    """The clip's MP3 lasts its stated duration and is not silence; its cover is a JPEG.
    Answers the MP3's bytes."""
    assert set(clip) >= {"id", "audio_url", "image_url", "title", "metadata"}, clip
    duration = clip["metadata"]["duration"]
    assert duration > 0
    assert clip["audio_url"].endswith(f"/media/{clip['id']}/audio.mp3"), clip
    assert abs(mp3_seconds(clip["audio_url"]) - duration) < 0.1, clip
    data = fetch(clip["audio_url"], "audio/mpeg")
    samples, rate = decode_mp3(data)
    # The decoder's own count of samples agrees with the stated length, and it is sound.
    assert abs(len(samples) / rate - duration) < 0.1, (len(samples) / rate, clip)
    assert rms(samples) > 0.01, clip
    assert np.abs(samples).max() > 0.05, clip
    assert fetch(clip["image_url"], "image/jpeg")[:3] == b"\xff\xd8\xff"
    return data
