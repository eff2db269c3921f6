"""An orux task as GET and the webhooks show it: the provider's flat fields, then the
chain and the detailed result of whatever model made it."""

from __future__ import annotations

from typing import Any

from ...core.engine import TIMED_OUT
from ...core.models import EXPIRED, FAILED, QUEUED, RUNNING, SUCCEEDED, Task
from ...media.files import AUDIO_MP3, AUDIO_WAV, COVER, COVER_LARGE, VIDEO_MP4
from ..base import iso_time, media_url
from .planner import IMAGE, LYRICS, MUSIC, SONGS, SPEECH, STEMS, VIDEO, WAV

STATUS = {QUEUED: "QUEUED", RUNNING: "RUNNING", SUCCEEDED: "SUCCESS", FAILED: "FAILED",
          EXPIRED: "EXPIRED"}
# "Job exceeded its TTL (24h default)": an unfinished job expires after a day, and so do
# a finished job's results.
TTL = RETENTION = 24 * 3600.0
# The model a request names → the upstream model and the channel that serves it.
UPSTREAM = {"suno-v5": ("chirp-crow", "suno"), "elevenlabs-v3": ("eleven_v3", "elevenlabs"),
            "elevenlabs-music": ("music_v1", "elevenlabs"),
            "runway-act-two": ("act_two", "runway")}


def _timed_out(task: Task, state: str) -> bool:
    return state == FAILED and (task.error or {}).get("code") == TIMED_OUT


def word(task: Task, now: float) -> str:
    state = task.state(now)
    return STATUS[EXPIRED if _timed_out(task, state) else state]


def task(task: Task, origin: str, now: float, chain_credits: float | None) -> dict[str, Any]:
    """``chain_credits``: what the whole chain of a Suno task has cost (None otherwise)."""
    meta = task.meta
    state = task.state(now)
    timed_out = _timed_out(task, state)
    upstream, channel = UPSTREAM[meta["model"]]
    answer: dict[str, Any] = {
        "task_id": task.id,
        "status": word(task, now),
        "alias": task.params["model"],
        "upstream_model": (task.params.get("model_id", upstream)
                           if meta["model"] == "elevenlabs-v3" else upstream),
        "channel": channel,
        "submit_time": iso_time(task.created_at),
    }
    if task.finished_at is not None:
        answer["finish_time"] = iso_time(task.finished_at)
        answer["duration_sec"] = round(task.finished_at - (task.started_at or task.created_at))
    made = result(task, origin) if state == SUCCEEDED else None
    answer["result_urls"] = _urls(made) if made else []
    if state == FAILED and task.error:
        answer["error_code"] = "expired" if timed_out else task.error["code"]
        answer["error_message"] = (f"Job exceeded its TTL ({TTL / 3600:g}h)" if timed_out
                                   else task.error["message"])
    elif state == EXPIRED:
        answer["error_code"] = "expired"
        answer["error_message"] = (f"Results are kept for {RETENTION / 3600:g}h after a job "
                                   f"succeeds; this job's have expired")
    answer.update({
        "model": meta["model"],
        "action": meta.get("action"),
        "parent_task_id": meta.get("parent_task_id"),
        "root_task_id": meta.get("root_task_id"),
        "credits": task.cost,
        "chain_credits": chain_credits,
        "expires_at": None if task.expires_at is None else iso_time(task.expires_at),
        "result": made,
    })
    return answer


def result(task: Task, origin: str) -> dict[str, Any]:
    """What a succeeded task made, in the fields every model shares: ``audio_urls`` for
    sound, ``video_url``, ``image_url``, ``lyrics``."""
    output, meta = task.meta["output"], task.meta

    def url(clip_id: str, name: str) -> str:
        return media_url(origin, clip_id, name)

    if output in (SONGS, STEMS):
        clips = [{"id": c.id, "title": c.title, "tags": c.tags, "duration": c.duration,
                  "audio_url": url(c.id, AUDIO_MP3), "image_url": url(c.id, COVER),
                  "lyrics": c.lyrics} for c in task.clips]
        answer: dict[str, Any] = {"audio_urls": [c["audio_url"] for c in clips],
                                  "clips": clips}
        if output == SONGS:
            first = task.clips[0]
            answer.update(lyrics=first.lyrics, image_url=url(first.id, COVER_LARGE))
        else:
            answer["stems"] = [{"name": (c.lineage or {}).get("part"),
                                "audio_url": url(c.id, AUDIO_MP3)} for c in task.clips]
        return answer
    if output == LYRICS:
        return {"lyrics": meta["lrc"], "format": "lrc"}
    if output == WAV:
        return {"audio_urls": [url(meta["source_clip_id"], AUDIO_WAV)], "format": "wav"}
    if output == VIDEO:
        clip_id = task.clips[0].id if task.clips else meta["source_clip_id"]
        return {"video_url": url(clip_id, VIDEO_MP4)}
    if output == IMAGE:
        return {"image_url": url(task.clips[0].id, COVER_LARGE)}
    clip = task.clips[0]
    answer = {"audio_urls": [url(clip.id, AUDIO_MP3)], "duration": clip.duration}
    if output == SPEECH:
        answer.update(voice_id=meta["voice_id"], settings=meta["settings"])
    elif output == MUSIC:
        answer["image_url"] = url(clip.id, COVER_LARGE)
    return answer


def _urls(result: dict[str, Any]) -> list[str]:
    """Every asset a result links, as ``result_urls`` lists them."""
    urls = list(result.get("audio_urls", ()))
    urls += [result[name] for name in ("video_url", "image_url") if result.get(name)]
    return urls
