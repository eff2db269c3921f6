"""A sunor task as Get Task shows it: the provider's status words, the input echoed, and
the upstream's own ``output`` wrapper."""

from __future__ import annotations

from typing import Any

from ...core import songwriter
from ...core.engine import TIMED_OUT
from ...core.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Clip, Task
from ...media.files import AUDIO_MP3, COVER
from ..base import iso_time, media_url

STATUS = {QUEUED: "pending", RUNNING: "running", SUCCEEDED: "success", FAILED: "failure"}
TIMEOUT = "timeout"
# The upstream's own words, inside ``output``.
OUTPUT_STATUS = {QUEUED: "queued", RUNNING: "processing", SUCCEEDED: "completed",
                 FAILED: "failed"}
MODEL_NAMES = {"suno": "chirp-fenix", "udio": "udio32-v1.5"}


def word(task: Task, now: float) -> str:
    timed_out = task.status == FAILED and (task.error or {}).get("code") == TIMED_OUT
    return TIMEOUT if timed_out else STATUS[task.status]


def task(task: Task, origin: str, now: float) -> dict[str, Any]:
    error = task.error["message"] if task.status == FAILED and task.error else None
    return {
        "task_id": task.id,
        "model": task.meta["model"],
        "type": task.meta["type"],
        "status": word(task, now),
        "credits_cost": number(task.cost),
        "input": task.params["input"],
        "output": None if task.status == QUEUED else {
            "task_type": task.meta["type"],
            "status": OUTPUT_STATUS[task.status],
            "progress": f"{task.progress(now)}%",
            "fail_reason": error,
            "result": _result(task, origin) if task.status == SUCCEEDED else [],
        },
        "error": error,
        "created_at": iso_time(task.created_at),
        "completed_at": iso_time(task.finished_at) if task.finished_at else None,
    }


def detail(job: Task, origin: str, now: float) -> dict[str, Any]:
    """Get Task's answer: the task in the provider's envelope."""
    return {"code": 200, "data": task(job, origin, now)}


def accepted(task: Task) -> dict[str, Any]:
    """The 202 of a submit: the task, its credits frozen."""
    return {"code": 202, "data": {
        "task_id": task.id, "type": task.meta["type"], "status": STATUS[task.status],
        "credits_charged": number(task.cost), "created_at": iso_time(task.created_at)}}


def number(value: float) -> float | int:
    """Credits as the provider writes them: whole numbers without a decimal point."""
    return int(value) if float(value).is_integer() else value


def _result(task: Task, origin: str) -> list[dict[str, Any]]:
    if task.meta["type"] == "lyrics":
        prompt, seed = task.params["input"]["prompt"], task.meta["seed"]
        return [{"text": songwriter.lyrics_from(prompt, seed),
                 "title": songwriter.title_from(prompt, seed)}]
    return [_clip(task, clip, origin) for clip in task.clips]


def _clip(task: Task, clip: Clip, origin: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"duration": clip.duration, "tags": clip.tags,
                                "prompt": clip.lyrics,
                                "model_name": MODEL_NAMES[task.meta["model"]],
                                "type": task.meta["type"]}
    negative = task.params["input"].get("negative_tags")
    if negative:
        metadata["negative_tags"] = negative
    lineage = clip.lineage or {}
    if "continue_at" in lineage:
        metadata.update(continue_clip_id=lineage.get("source"),
                        continue_at=lineage["continue_at"])
    return {"id": clip.id, "audio_url": media_url(origin, clip.id, AUDIO_MP3),
            "image_url": media_url(origin, clip.id, COVER), "title": clip.title,
            "metadata": metadata}
