"""The acedata driver: how a client submits, polls and reads a task, and which requests
the seed says are refused."""

from __future__ import annotations

import tomllib
from typing import Any

from simulator.resources import resource_dir

from ...dialect import MISSING_KEY, Driver, Invalid, Media

AUDIOS, TASKS = "/suno/audios", "/suno/tasks"
NDJSON = "application/x-ndjson"
PRICES: dict[str, float] = tomllib.loads(
    (resource_dir("fixtures") / "prices.toml").read_text(encoding="utf-8"))["acedata"]
URLS = [f"https://files.example.com/reference-{i}.mp3" for i in range(5)]
UNKNOWN_AUDIO = "00000000-0000-4000-8000-00000000a0d1"  # no song, persona or upload has it


class Acedata(Driver):
    provider = "acedata"
    seed = "seed 002"
    ranks = {"pending": 0, "running": 1, "succeeded": 2, "failed": 2}
    succeeded = "succeeded"
    failed = frozenset({"failed"})
    price = PRICES["generate"]  # one generation request (two songs)
    callback_stages = ("complete",)  # one delivery: the final result
    unknown_id = "00000000-0000-4000-8000-000000000000"
    unknown_status = 404  # not_found
    missing_key_status = 400  # no_token (specs/acedata.yaml, BadRequest); a wrong key is 401
    rate_headers = ("Retry-After",)
    callback_schema = "AudiosResponse"  # the callback is the final answer of the task
    insufficient_status = 403  # used_up
    expires = False  # the seed keeps results
    # {"error": {"code", "message"}, "trace_id"} (specs/acedata.yaml ErrorDetail)
    error_words = {MISSING_KEY: {"code": "no_token"}, 400: {"code": "bad_request"},
                   401: {"code": "invalid_token"}, 403: {"code": "used_up"},
                   404: {"code": "not_found"}, 429: {"code": "too_many_requests"}}

    def song_request(self, prompt: str, callback_url: str | None = None):
        body: dict[str, Any] = {"action": "generate", "prompt": prompt[:200], "async": True}
        if callback_url:
            body["callback_url"] = callback_url
        return "POST", AUDIOS, body

    def poll_request(self, task_id: str):
        return "POST", TASKS, {"action": "retrieve", "id": task_id}

    def task_id_of(self, data: Any) -> str:
        if not isinstance(data, dict):
            return None
        return data.get("task_id") or data.get("id")

    def status_of(self, data: Any) -> str:
        if not isinstance(data, dict):
            return None
        if "_id" in data:  # a task record of /suno/tasks
            response = data.get("response")
            if not isinstance(response, dict):
                return "pending"
            if "success" not in response:
                return "running"
            data = response
        if data.get("success") is False or "error" in data:
            return "failed"
        if "data" in data:  # a finished answer: waited for, streamed or retrieved
            return "succeeded" if data.get("success") is True else "running"
        return "pending"  # the answer of an asynchronous request: the task id only

    def songs_of(self, data: Any) -> list[dict[str, Any]]:
        if isinstance(data, dict) and "_id" in data:
            data = data.get("response") or {}
        songs = data.get("data") if isinstance(data, dict) else None
        return [s for s in songs if isinstance(s, dict)] if isinstance(songs, list) else []

    def media_of(self, data: Any) -> list[Media]:
        media = []
        for song in self.songs_of(data):
            if song.get("audio_url"):
                media.append(Media(song["audio_url"], "audio", song.get("duration")))
            for name in ("image_url", "image_large_url"):
                if song.get(name):
                    media.append(Media(song[name], "image"))
            if song.get("video_url"):
                media.append(Media(song["video_url"], "video"))
        return media

    def callback_stage(self, payload: Any) -> str:
        if not isinstance(payload, dict):
            return None
        return "complete" if payload.get("success") is True else "error"

    def invalid_requests(self) -> list[Invalid]:
        base = {"action": "generate", "prompt": "a song about rules", "async": True}
        return [
            Invalid("prompt-too-long", {**base, "prompt": "x" * 201}, 400,
                    "prompt is no longer than 200 characters"),
            Invalid("unknown-action", {**base, "action": "dance"}, 400,
                    "action is one of the documented operations"),
            Invalid("unknown-model", {**base, "model": "chirp-v9"}, 400,
                    "model names a model of the service (chirp-v4 by default)"),
            Invalid("prompt-required", {"action": "generate", "async": True}, 400,
                    "without custom the audio is generated from the prompt: it is required"),
            Invalid("lyric-required", {"action": "generate", "custom": True, "async": True}, 400,
                    "with custom the audio is generated from the lyrics (or lyric_prompt)"),
            Invalid("extend-needs-audio-id", {"action": "extend", "continue_at": 10,
                                              "async": True}, 400,
                    "audio_id is required when action is extend"),
            Invalid("concat-needs-audio-id", {"action": "concat", "async": True}, 400,
                    "audio_id is required when action is concat"),
            Invalid("mashup-needs-ids", {"action": "mashup", "async": True}, 400,
                    "mashup_audio_ids is required when action is mashup"),
            Invalid("inspo-needs-urls", {**base, "action": "inspo"}, 400,
                    "audio_urls is mandatory when action is inspo"),
            Invalid("inspo-no-urls", {**base, "action": "inspo", "audio_urls": []}, 400,
                    "audio_urls holds 1 to 4 addresses (none given)"),
            Invalid("inspo-five-urls", {**base, "action": "inspo", "audio_urls": URLS}, 400,
                    "audio_urls holds 1 to 4 addresses (five given)"),
            Invalid("variation-category-value", {**base, "model": "chirp-v5",
                                                 "variation_category": "wild"}, 400,
                    "variation_category is one of high, normal, subtle"),
            Invalid("variation-category-before-v5", {**base, "model": "chirp-v4-5",
                                                     "variation_category": "high"}, 400,
                    "variation_category only supports v5 and above"),
            Invalid("variation-category-default-model", {**base, "variation_category": "high"},
                    400, "variation_category only supports v5 and above (chirp-v4 by default)"),
            Invalid("vocal-gender", {**base, "vocal_gender": "x"}, 400,
                    "vocal_gender is 'm' or 'f'"),
            Invalid("weirdness-range", {**base, "weirdness": 1.5}, 400,
                    "weirdness ranges from 0 to 1"),
            Invalid("style-influence-range", {**base, "style_influence": -0.1}, 400,
                    "style_influence ranges from 0 to 1"),
            Invalid("audio-weight-range", {**base, "audio_weight": 1.2}, 400,
                    "audio_weight ranges from 0 to 1"),
            Invalid("custom-boolean", {**base, "custom": "yes"}, 400, "custom is a boolean"),
            Invalid("instrumental-boolean", {**base, "instrumental": "no"}, 400,
                    "instrumental is a boolean"),
            Invalid("async-boolean", {**base, "async": "true"}, 400, "async is a boolean"),
            Invalid("body-not-json", b"{nope", 400, "a body that is not JSON is refused"),
            Invalid("body-not-object", [1, 2], 400, "a body that is not an object is refused"),
            Invalid("tasks-needs-id", {"action": "retrieve"}, 400,
                    "retrieving a task needs its id", path=TASKS),
            Invalid("tasks-unknown-action", {"action": "delete", "id": self.unknown_id}, 400,
                    "a task query is retrieve or retrieve_batch", path=TASKS),
            Invalid("tasks-batch-too-long", {"action": "retrieve_batch",
                                             "ids": [self.unknown_id] * 51}, 400,
                    "retrieve_batch takes at most 50 ids", path=TASKS),
        ]


DRIVER = Acedata()
