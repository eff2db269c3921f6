"""A small orux client for the tests: the calls a real integration makes, a check of
every poll answer against specs/orux.yaml, independent checks of the media a task links
to, and a webhook receiver that verifies signatures the way the provider tells its
customers to (written here with hmac/hashlib, not with the simulator's own helpers)."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import requests

from acedata_client import fetch, mp3_seconds, wav_samples
from conftest import Receiver, Sim, bearer, conforms, spec_validator

ORUX = "orux"
SPEECH = "elevenlabs-v3"  # answered finished at submit ("Synchronous TTS")
TASKS = "/api/v1/tasks"
RICH = 1_000_000  # credits for a key that walks a whole chain
SETTLE = 150.0  # simulated seconds after which any orux job (but a stuck one) is done
TASK_ID = re.compile(r"^task_[0-9A-HJKMNP-TV-Z]{26}$")
TERMINAL = {"SUCCESS", "FAILED", "EXPIRED"}
ROOT = Path(__file__).resolve().parent.parent

TASK_SCHEMA, ERROR_SCHEMA, SUBMITTED_SCHEMA = (spec_validator(ORUX, name) for name in
                                               ("Task", "Error", "Submitted"))


# --- calls ------------------------------------------------------------------------------


def url(sim: Sim, task_id: str | None = None) -> str:
    return sim.base(ORUX) + TASKS + (f"/{task_id}" if task_id else "")


def post(sim: Sim, body: Any, key: str | None, headers: dict[str, str] | None = None,
         ) -> requests.Response:
    sent = {**(bearer(key) if key else {}), **(headers or {})}
    return requests.post(url(sim), json=body, headers=sent, timeout=30)


def submit(sim: Sim, body: dict[str, Any], key: str) -> str:
    """A new task's id, the submit answer checked against the spec: QUEUED, or, for
    ElevenLabs v3 speech (synchronous), the task already ended."""
    if body.get("model") == SPEECH:
        return speak(sim, body, key, status=None)["task_id"]
    response = post(sim, body, key)
    assert response.status_code == 200, response.text
    answer = response.json()
    conforms(SUBMITTED_SCHEMA, answer)
    assert answer["status"] == "QUEUED" and TASK_ID.match(answer["task_id"]), answer
    return answer["task_id"]


def speak(sim: Sim, body: dict[str, Any], key: str, status: str | None = "SUCCESS"
          ) -> dict[str, Any]:
    """ElevenLabs v3 speech: the submit answers the task ended (``status``, or any end
    when None), checked against the spec's Task schema."""
    response = post(sim, body, key)
    assert response.status_code == 200, response.text
    answer = response.json()
    conforms(TASK_SCHEMA, answer)
    assert TASK_ID.match(answer["task_id"]) and answer["status"] in TERMINAL, answer
    assert status is None or answer["status"] == status, answer
    return answer


def get_raw(sim: Sim, task_id: str, key: str | None) -> requests.Response:
    return requests.get(url(sim, task_id), headers=bearer(key) if key else {}, timeout=30)


def get(sim: Sim, task_id: str, key: str) -> dict[str, Any]:
    """The task now; every answer is checked against the spec's Task schema."""
    response = get_raw(sim, task_id, key)
    assert response.status_code == 200, response.text
    task = response.json()
    conforms(TASK_SCHEMA, task)
    assert task["task_id"] == task_id
    return task


def settle(sim: Sim, task_id: str, key: str, seconds: float = SETTLE,
           status: str = "SUCCESS") -> dict[str, Any]:
    sim.advance(seconds)
    task = get(sim, task_id, key)
    assert task["status"] == status, task
    return task


def walk(sim: Sim, task_id: str, key: str, step: float = 1.0,
         limit: float = 400.0) -> tuple[dict[str, Any], list[str]]:
    """Step the clock until the task ends, polling at every step: the final answer and
    every status seen on the way."""
    seen: list[str] = []
    elapsed = 0.0
    while True:
        task = get(sim, task_id, key)
        seen.append(task["status"])
        if task["status"] in TERMINAL or elapsed >= limit:
            return task, seen
        sim.advance(step)
        elapsed += step


def account(sim: Sim, key: str) -> dict[str, Any]:
    response = sim.admin("GET", f"/accounts/{key}")
    assert response.status_code == 200, response.text
    return response.json()


def error_of(response: requests.Response, status: int, kind: str, code: str
             ) -> dict[str, Any]:
    """The provider's normalized error, checked to have exactly its five fields."""
    assert response.status_code == status, response.text
    body = response.json()
    conforms(ERROR_SCHEMA, body)
    assert set(body) == {"error"} and set(body["error"]) == {
        "type", "code", "message", "channel", "param"}, body
    error = body["error"]
    assert (error["type"], error["code"]) == (kind, code), error
    assert error["message"], error
    return error


# --- media --------------------------------------------------------------------------------


def mp3_audio(link: str) -> tuple[np.ndarray, float]:
    """The MP3 decoded (PyAV) to mono samples, and its length in seconds (mutagen)."""
    seconds = mp3_seconds(link)
    with av.open(io.BytesIO(fetch(link, "audio/mpeg"))) as container:
        samples = np.concatenate([f.to_ndarray().reshape(-1).astype(np.float64)
                                  for f in container.decode(audio=0)])
    return samples, seconds


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples ** 2))) if len(samples) else 0.0


def assert_sounding_mp3(link: str, seconds: float) -> np.ndarray:
    """The link serves an MP3 of ``seconds`` (±0.1 s) that is not silence."""
    samples, length = mp3_audio(link)
    assert abs(length - seconds) < 0.1, (link, length, seconds)
    assert rms(samples) > 0.01 and np.abs(samples).max() > 0.05, (link, rms(samples))
    return samples


def wav_of_mp3_link(link: str) -> str:
    """The same clip's WAV rendition (the simulator serves every clip as audio.wav)."""
    assert link.endswith("/audio.mp3"), link
    return link[:-len("audio.mp3")] + "audio.wav"


def jpeg(link: str) -> bytes:
    data = fetch(link, "image/jpeg")
    assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9", link
    return data


def mp4(link: str) -> bytes:
    data = fetch(link, "video/mp4")
    assert data[4:8] == b"ftyp", link
    return data


def mp4_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        return container.duration / 1e6


# --- webhooks -----------------------------------------------------------------------------

TOLERANCE = 300.0  # a receiver refuses a timestamp more than five minutes off its clock


def verify_signature(secret: str, raw: bytes, timestamp: str | None, signature: str | None,
                     now: float | None = None) -> bool:
    """What the provider tells receivers to do: recompute ``sha256=`` + HMAC-SHA256 of
    ``"{timestamp}." + raw body`` with the webhook secret, compare in constant time, and
    refuse a timestamp more than five minutes from the receiver's own clock."""
    if not timestamp or not timestamp.isdigit() or not signature:
        return False
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + raw,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


@dataclass
class Delivery:
    headers: dict[str, str]
    raw: bytes
    valid: bool
    answered: int


class SignedReceiver(Receiver):
    """A local HTTP endpoint that verifies each delivery's signature (401 when it does
    not verify), answers 500 to the first ``fail_first`` genuine ones and 200 after."""

    def __init__(self, secret: str = "", fail_first: int = 0):
        self.secret = secret
        super().__init__(fail_first)

    def record(self, raw: bytes, headers: dict[str, str]) -> int:
        valid = verify_signature(self.secret, raw, headers.get("X-Orux-Timestamp"),
                                 headers.get("X-Orux-Signature"))
        genuine = sum(1 for c in self.calls if c.valid) + (1 if valid else 0)
        status = 401 if not valid else 500 if genuine <= self.fail_first else 200
        self.calls.append(Delivery(headers, raw, valid, status))
        return status

    def quiet(self, count: int, wait: float = 0.4) -> None:
        """No further delivery arrives within ``wait`` wall seconds."""
        time.sleep(wait)
        assert len(self.calls) == count, [c.headers.get("X-Orux-Event") for c in self.calls]


__all__ = ["ORUX", "RICH", "SETTLE", "TASK_SCHEMA", "Delivery", "SignedReceiver",
           "account", "assert_sounding_mp3", "conforms", "error_of", "fetch", "get",
           "get_raw", "jpeg", "mp4", "mp4_seconds", "post", "settle", "speak", "submit",
           "verify_signature", "walk", "wav_of_mp3_link", "wav_samples"]
