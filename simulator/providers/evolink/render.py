"""An evolink task as its poll endpoint and its callbacks show it."""

from __future__ import annotations

from typing import Any

from ...core.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Task
from ...media.files import AUDIO_MP3, COVER, STREAM_MP3
from ..base import media_url

STATUS = {QUEUED: "pending", RUNNING: "processing", SUCCEEDED: "completed", FAILED: "failed"}


def word(task: Task, now: float) -> str:
    return STATUS[task.status]


def task(task: Task, origin: str, now: float) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "created": int(task.created_at),
        "id": task.id,
        "model": task.params["model"],
        "object": "audio.generation.task",
        "progress": task.progress(now),
        "status": word(task, now),
        "task_info": {"can_cancel": False},  # the dialect offers no cancel endpoint
        "type": "audio",
    }
    if task.stage is not None:
        items = []
        for clip in task.clips:
            item: dict[str, Any] = {"result_id": clip.id, "title": clip.title, "tags": clip.tags}
            if task.clip_ready(clip):
                item.update(duration=clip.duration,
                            image_url=media_url(origin, clip.id, COVER),
                            audio_url=media_url(origin, clip.id, AUDIO_MP3),
                            stream_audio_url=media_url(origin, clip.id, STREAM_MP3))
            items.append(item)
        answer["result_data"] = items
        if task.status == SUCCEEDED:
            answer["results"] = [item["audio_url"] for item in items]
    if task.status == FAILED and task.error:
        answer["error"] = {**task.error, "type": "generation_error"}
    return answer
