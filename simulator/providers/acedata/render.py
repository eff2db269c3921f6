"""acedata's answers: a task's songs (or a companion's result), a task record as
``/suno/tasks`` shows it, stream lines, custom models, and the error shape."""

from __future__ import annotations

from typing import Any

from ...core import songwriter
from ...core.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Clip, Task
from ...media.files import AUDIO_MP3, AUDIO_WAV, COVER, COVER_LARGE, VIDEO_MP4
from ..base import iso_time, media_url

DEFAULT_MODEL = "chirp-v4"
ERROR_CODES = {
    400: "bad_request", 401: "invalid_token", 403: "used_up", 404: "no_api",
    405: "bad_request", 413: "bad_request", 429: "too_many_requests", 500: "api_error",
    502: "api_error", 503: "busy", 504: "timeout",
}
# How a failed task is answered, by the core's failure reason.
FAILURES = {
    "content_moderation": (403, "forbidden", "Song Description flagged for moderation"),
}
GENERIC_FAILURE = (500, "api_error", "job failed with unknown error")
TIMEOUT = (504, "timeout", "timeout while waiting for audio generation")
# Request names → the names songs carry upstream (what the provider's answers show).
UPSTREAM_MODEL = {
    "chirp-v3-0": "chirp-v3", "chirp-v3-5": "chirp-v3.5", "chirp-v4": "chirp-v4",
    "chirp-v4-5": "chirp-auk", "chirp-v4-5-plus": "chirp-bluejay", "chirp-v5": "chirp-v5",
    "chirp-v5-5": "chirp-v5-5", "chirp-v6": "chirp-v6", "chirp-v6-wild": "chirp-v6-wild",
    "chirp-v6-mini": "chirp-v6-mini",
}
ALL_STEMS_MODEL = "chirp-ahi-stem-12-t1"


def error(status: int, message: str, trace_id: str, code: str | None = None,
          task_id: str | None = None) -> dict[str, Any]:
    """``{"error": {code, message}, "trace_id"}``; the error of a task adds
    ``success: false`` and its ``task_id``."""
    body: dict[str, Any] = {
        "error": {"code": code or ERROR_CODES.get(status, "api_error"), "message": message},
        "trace_id": trace_id,
    }
    return {"success": False, **body, "task_id": task_id} if task_id else body


def failure(task: Task) -> tuple[int, str, str]:
    """A failed task's status, code and message."""
    return FAILURES.get((task.error or {}).get("code", ""), GENERIC_FAILURE)


def outcome(task: Task, origin: str) -> dict[str, Any]:
    """The body a finished task answers with: its result, or its error."""
    if task.status == FAILED:
        status, code, message = failure(task)
        return error(status, message, task.meta["trace_id"], code, task.id)
    return {"success": True, "task_id": task.id, "trace_id": task.meta["trace_id"],
            "data": result(task, origin)}


def snapshot(task: Task, origin: str) -> dict[str, Any]:
    """A running task as a stream line shows it: the songs so far, no trace id yet."""
    return {"success": True, "task_id": task.id, "data": result(task, origin)}


def accepted(task: Task) -> dict[str, Any]:
    return {"success": True, "task_id": task.id, "trace_id": task.meta["trace_id"]}


def record(task: Task, origin: str) -> dict[str, Any]:
    """The task as ``/suno/tasks`` shows it."""
    answer: dict[str, Any] = {
        "_id": task.meta["record_id"], "id": task.id, "type": task.meta["type"],
        "trace_id": task.meta["trace_id"], "created_at": round(task.created_at, 3),
        "request": task.params,
    }
    if task.started_at is not None:
        answer["started_at"] = round(task.started_at, 3)
    if task.terminal:
        answer["finished_at"] = round(task.finished_at or task.created_at, 3)
        answer["elapsed"] = round((task.finished_at or task.created_at) - task.created_at, 3)
        answer["response"] = outcome(task, origin)
    elif task.meta["type"] == "audios" and task.stage is not None:
        answer["response"] = {"task_id": task.id, "data": result(task, origin)}
    return answer


def result(task: Task, origin: str) -> Any:
    """The ``data`` of a task's answer, by the endpoint that started it."""
    return RESULTS[task.meta["type"]](task, origin)


def word(task: Task, now: float) -> str:
    """A task's state as its answers word it: a model's training status, or its least
    advanced song's (any other job: the core's)."""
    if task.meta.get("type") == "custom-models":
        return model_status(task)
    if task.meta.get("type") == "audios" and task.clips:
        states = [song_state(task, i) for i in range(len(task.clips))]
        return min(states, key=("error", "pending", "running", "succeeded").index)
    return task.state(now)


def song_state(task: Task, index: int) -> str:
    """One song's own state: a song succeeds when its media is final, which may be
    before its sibling's."""
    if task.status == FAILED:
        return "error"
    if task.status == QUEUED or task.stage is None:
        return "pending"
    return "succeeded" if task.clip_ready(task.clips[index]) else "running"


def _songs(task: Task, origin: str) -> list[dict[str, Any]]:
    return [_song(task, index, clip, origin) for index, clip in enumerate(task.clips)]


def _song(task: Task, index: int, clip: Clip, origin: str) -> dict[str, Any]:
    params = task.params
    action = params.get("action", "generate")
    if action == "all_stems":
        model_name = ALL_STEMS_MODEL
    elif action == "stems":
        model_name = ""
    else:
        model_name = task.meta.get("upstream_model") or \
            UPSTREAM_MODEL[params.get("model", DEFAULT_MODEL)]
    state = song_state(task, index)
    item: dict[str, Any] = {
        "id": clip.id, "title": "", "lyric": "", "audio_url": "", "video_url": "",
        "created_at": iso_time(task.created_at), "model": model_name, "state": state,
        "style": "",
    }
    if state in ("running", "succeeded"):
        item.update(title=clip.title, lyric=clip.lyrics, style=clip.tags,
                    image_url=media_url(origin, clip.id, COVER),
                    image_large_url=media_url(origin, clip.id, COVER_LARGE))
    if state == "succeeded":
        item.update(duration=clip.duration, audio_url=media_url(origin, clip.id, AUDIO_MP3))
    if params.get("prompt") and not params.get("custom"):
        item["prompt"] = params["prompt"]
    history = (clip.lineage or {}).get("history")
    if history:
        item["concat_history"] = history
    return item


def model_status(task: Task) -> str:
    """A custom model's status: the state of the task that trains it, or archived."""
    if task.meta.get("archived"):
        return "archived"
    if task.status == RUNNING:
        return "training" if task.stage == "training" else "uploading"
    return {QUEUED: "queued", SUCCEEDED: "ready", FAILED: "failed"}[task.status]


def custom_model(task: Task, origin: str = "") -> dict[str, Any]:
    status = model_status(task)
    model: dict[str, Any] = {
        "id": task.meta["model_id"], "name": task.meta["name"], "status": status,
        "audio_count": len(task.params["audio_urls"]), "task_id": task.id,
        "created_at": iso_time(task.created_at),
        "updated_at": iso_time(task.history[-1][0] if task.history else task.created_at),
    }
    if status == "archived":
        model["capacity_released"] = False
    if task.status == FAILED:
        _, code, message = failure(task)
        model["error"] = {"code": code, "message": message}
    return model


def model_answer(task: Task) -> dict[str, Any]:
    return {**accepted(task), "data": custom_model(task)}


def _lyrics(task: Task, origin: str) -> list[dict[str, Any]]:
    prompt, seed = task.params["prompt"], task.meta["seed"]
    return [{"text": songwriter.lyrics_from(prompt, seed + i),
             "title": songwriter.title_from(prompt, seed + i),
             "status": "complete", "tags": [songwriter.tags_from(prompt, seed + i)]}
            for i in range(2)]


def _mashup_lyrics(task: Task, origin: str) -> dict[str, Any]:
    text = songwriter.mash_lyrics(task.params["lyrics_a"], task.params["lyrics_b"])
    return {"text": text, "title": "Lyrics Mashup", "tags": [], "status": "complete"}


def _style(task: Task, origin: str) -> dict[str, Any]:
    return {"upsampled_tags": songwriter.upsample_style(task.params["prompt"],
                                                        task.meta["seed"])}


def _persona(task: Task, origin: str) -> dict[str, Any]:
    return {"persona_id": task.meta["persona_id"]}


def _voices(task: Task, origin: str) -> dict[str, Any]:
    return {"persona_id": task.meta["persona_id"], "name": task.meta["name"],
            "is_public": False}


def _upload(task: Task, origin: str) -> dict[str, Any]:
    clip = task.clips[0]
    return {"audio_id": clip.id, "title": clip.title,
            "audio_url": media_url(origin, clip.id, AUDIO_MP3),
            "image_url": media_url(origin, clip.id, COVER),
            "image_large_url": media_url(origin, clip.id, COVER_LARGE),
            "lyric": clip.lyrics, "style": clip.tags, "duration": clip.duration}


def _mp4(task: Task, origin: str) -> dict[str, Any]:
    return {"video_url": media_url(origin, task.meta["audio_id"], VIDEO_MP4)}


def _mp3(task: Task, origin: str) -> list[dict[str, Any]]:
    return [{"file_url": media_url(origin, task.meta["audio_id"], AUDIO_MP3)}]


def _wav(task: Task, origin: str) -> list[dict[str, Any]]:
    return [{"file_url": media_url(origin, task.meta["audio_id"], AUDIO_WAV)}]


def _midi(task: Task, origin: str) -> list[dict[str, Any]]:
    return [{"state": "complete", "instruments": task.meta["instruments"]}]


def _timing(task: Task, origin: str) -> dict[str, Any]:
    return {**task.meta["timing"], "is_streamed": False}


def _vox(task: Task, origin: str) -> dict[str, Any]:
    clip = task.clips[0]
    return {"id": clip.id, "source_clip_id": task.meta["audio_id"], "status": "complete",
            "vocal_audio_url": media_url(origin, clip.id, AUDIO_MP3),
            "vocal_start_s": task.params["vocal_start"],
            "vocal_end_s": task.params["vocal_end"],
            "wave_response": {"waveform_aggregates": task.meta["aggregates"]}}


RESULTS = {
    "audios": _songs, "lyrics": _lyrics, "mashup-lyrics": _mashup_lyrics, "style": _style,
    "persona": _persona, "voices": _voices, "upload": _upload, "mp4": _mp4, "mp3": _mp3,
    "wav": _wav, "midi": _midi, "timing": _timing, "vox": _vox,
    "custom-models": custom_model,
}
