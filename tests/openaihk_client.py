"""A small openaihk client for the tests: the calls the seed's scenarios make, on a
manual clock, and independent checks of the media the clips link to."""

from __future__ import annotations

from typing import Any

import requests

from acedata_client import fetch, mp3_seconds, wav_samples
from conftest import Sim, bearer

HK = "openaihk"
SONG_SECONDS = 200.0  # simulated time after which any song (and job) is done
RICH = 10_000_000  # credits for a key that walks many scenarios


def key(sim: Sim, credits: float = RICH) -> str:
    return sim.account(credits)


def post(sim: Sim, path: str, body: Any, api_key: str | None, **kwargs: Any) -> requests.Response:
    headers = bearer(api_key) if api_key else {}
    return requests.post(f"{sim.base(HK)}{path}", json=body, headers=headers, timeout=60,
                         **kwargs)


def get(sim: Sim, path: str, api_key: str | None) -> requests.Response:
    headers = bearer(api_key) if api_key else {}
    return requests.get(f"{sim.base(HK)}{path}", headers=headers, timeout=60)


def ok(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def generate(sim: Sim, api_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """The batch a generate request answers, checked to be just submitted."""
    batch = ok(post(sim, "/sunoapi/generate", body, api_key))
    assert batch["status"] == "complete" and batch["batch_size"] == 1 and batch["id"]
    assert batch["clips"] and all(c["status"] == "submitted" for c in batch["clips"])
    return batch


def feed(sim: Sim, api_key: str, ids: list[str], prefix: str = "/sunoapi") -> list[dict]:
    clips = ok(get(sim, f"{prefix}/feed/{','.join(ids)}", api_key))
    assert [c["id"] for c in clips] == ids
    return clips


def finished(sim: Sim, api_key: str, ids: list[str]) -> list[dict[str, Any]]:
    """The clips once their work is done, each checked complete."""
    sim.advance(SONG_SECONDS)
    clips = feed(sim, api_key, ids)
    for clip in clips:
        assert clip["status"] == "complete", clip
    return clips


def songs(sim: Sim, api_key: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    batch = generate(sim, api_key, body)
    return finished(sim, api_key, [c["id"] for c in batch["clips"]])


def upload(sim: Sim, api_key: str, url: str) -> dict[str, Any]:
    answer = ok(post(sim, "/suno/uploads/audio-url", {"url": url}, api_key))
    assert answer["code"] == "success" and answer["message"] == ""
    assert answer["data"] == answer["clip_id"]
    return finished(sim, api_key, [answer["clip_id"]])[0]


def assert_real_clip(clip: dict[str, Any]) -> None:
    """Every link of a complete clip serves a real file; the MP3 lasts its duration."""
    assert abs(mp3_seconds(clip["audio_url"]) - clip["metadata"]["duration"]) < 0.1, clip
    assert fetch(clip["image_url"], "image/jpeg")[:3] == b"\xff\xd8\xff"
    assert fetch(clip["image_large_url"], "image/jpeg")[:3] == b"\xff\xd8\xff"
    assert fetch(clip["video_url"], "video/mp4")[4:8] == b"ftyp"


__all__ = ["HK", "assert_real_clip", "feed", "fetch", "finished", "generate", "get", "key",
           "ok", "post", "songs", "upload", "wav_samples"]
