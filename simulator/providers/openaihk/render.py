"""Clips as Suno's own API shows them, which is what openaihk passes through.

A clip's ``status`` follows its task: ``submitted`` (queued), ``queued`` (started),
``streaming`` (words written, audio playing as it is made), ``complete``, or ``error``;
a stem (two-way separation) is ``queued`` from the first answer until it is complete.
Links appear as the clip gets them: the stream while streaming, the MP3, the video and
the covers once complete.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from ...core.models import FAILED, QUEUED, SUCCEEDED, Clip, Task
from ...media.files import AUDIO_MP3, COVER, COVER_LARGE, STREAM_MP3, VIDEO_MP4, media_path
from ..base import iso_time

# mv → major_model_version, as the clips the seed prints carry them.
MAJOR_VERSION = {
    "chirp-v3-5": "v3.5", "chirp-v4": "v4", "chirp-auk": "v4.5", "chirp-bluejay": "v4.5+",
    "chirp-crow": "v5", "chirp-auk-turbo": "v4.5-all", "chirp-carp": "v5",
    "chirp-bass": "v4.5+", "chirp-v3-5-upload": "v3.5", "chirp-v4-upload": "v4",
}
AVATAR = "https://cdn1.suno.ai/defaultPink.webp"
ERRORS = {  # the core's failure reason → metadata.error_type, error_message
    "content_moderation": ("moderation_failure",
                           "Unable to generate: your lyrics or style contain flagged words."),
}
GENERIC_ERROR = ("generation_failure", "Oops! Something went wrong generating this song.")
_NAMES = ("Sensory", "Twinkling", "Fluid", "Velvet", "Amber", "Neon", "Quiet", "Lunar")
_THINGS = ("Recorders", "Venue", "Xylophone", "Harbor", "Echo", "Meadow", "Signal", "Choir")


# How far along each word is: a batch is as far along as its least advanced clip.
RANKS = {"submitted": 0, "queued": 1, "streaming": 2, "complete": 3, "error": 3}


def word(task: Task, now: float) -> str:
    """The batch's status: its least advanced clip's (a job without clips: the core's
    state in the clip words)."""
    if task.clips and len(task.meta.get("clips", ())) == len(task.clips):
        return min((status_of(task, i) for i in range(len(task.clips))), key=RANKS.__getitem__)
    return {QUEUED: "submitted", SUCCEEDED: "complete", FAILED: "error"}.get(task.status,
                                                                          "queued")


def status_of(task: Task, index: int) -> str:
    if task.status == FAILED:
        return "error"
    if task.status == SUCCEEDED:
        return "complete"
    if task.meta["clips"][index].get("type") == "stem":
        # A separation is not streamed: its clips are answered queued and stay so until
        # both are complete (seed 003, 10B and C).
        return "queued"
    if task.status == QUEUED:
        return "submitted"
    if index < task.ready_clips:
        return "complete"
    return "streaming" if task.stage in ("text", "first") else "queued"


def user_of(api_key: str) -> dict[str, Any]:
    """The upstream user a key's songs show: stable per key, different across keys."""
    digest = hashlib.blake2b(api_key.encode(), digest_size=16).digest()
    n = int.from_bytes(digest[:4], "big")
    name = f"{_NAMES[n % 8]}{_THINGS[(n >> 3) % 8]}{n % 9000 + 1000}"
    return {"user_id": str(uuid.UUID(bytes=digest, version=4)), "display_name": name,
            "handle": name.lower(), "is_handle_updated": False, "avatar_image_url": AVATAR}


def render_clip(task: Task, clip: Clip, origin: str) -> dict[str, Any]:
    """One clip as ``/sunoapi/feed`` answers it."""
    index = task.clips.index(clip)
    status = status_of(task, index)
    shown = task.meta["clips"][index]
    words_known = status in ("streaming", "complete") or shown.get("words_given", False)
    metadata: dict[str, Any] = {
        "tags": clip.tags if words_known else (clip.given_tags or ""),
        "negative_tags": task.params.get("negative_tags") or "",
        "prompt": clip.lyrics if words_known else "",
        "type": shown.get("type", "gen"), "stream": True, "refund_credits": False,
        "infill": False, "has_vocal": not clip.instrumental, "error_type": None,
        "error_message": None, **task.meta.get("metadata", {}), **shown.get("metadata", {}),
    }
    if task.params.get("gpt_description_prompt") is not None:
        metadata["gpt_description_prompt"] = task.params["gpt_description_prompt"]

    def link(name: str) -> str:
        return origin + media_path(clip.id, name)

    answer: dict[str, Any] = {
        "id": clip.id, "entity_type": "song_schema", "video_url": "", "audio_url": "",
        "major_model_version": shown.get("major", ""), "model_name": shown.get("model", ""),
        "metadata": metadata, "is_liked": False, **user_of(task.api_key),
        "is_trashed": False, "flag_count": 0, "created_at": iso_time(task.created_at),
        "status": status, "title": clip.title if words_known else (clip.given_title or ""),
        "play_count": 0, "upvote_count": 0, "is_public": False, "allow_comments": True,
    }
    if status in ("streaming", "complete"):
        answer.update(image_url=link(COVER), image_large_url=link(COVER_LARGE))
    if status == "streaming":
        answer["audio_url"] = link(STREAM_MP3)
    elif status == "complete":
        answer.update(audio_url=link(AUDIO_MP3), video_url=link(VIDEO_MP4))
        metadata["duration"] = clip.duration
    elif status == "error":
        error_type, message = ERRORS.get((task.error or {}).get("code", ""), GENERIC_ERROR)
        metadata.update(error_type=error_type, error_message=message)
    if shown.get("duration_known"):
        metadata["duration"] = clip.duration
    return answer


def batch(task: Task, origin: str) -> dict[str, Any]:
    """What ``/sunoapi/generate`` answers: the batch and its clips, all just submitted."""
    clips = [render_clip(task, clip, origin) for clip in task.clips]
    return {"id": task.id, "clips": clips,
            "metadata": {**(clips[0]["metadata"] if clips else {}),
                         **task.meta.get("metadata", {})},
            "major_model_version": clips[0]["major_model_version"] if clips else "",
            "status": "complete", "created_at": iso_time(task.created_at), "batch_size": 1}
