"""How long each kind of job takes and which events it passes through.

A plan is a list of ``(offset_seconds, event)`` from submission, in simulated seconds of
the real service; the engine walks it one event at a time on the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ids import Ids
from .magic import Steering
from .models import FAILED, RUNNING, SUCCEEDED, Task

START, FINISH = "start", "finish"
# The failure reason of a task that outran its dialect's ttl.
TIMED_OUT = "timed_out"
FAILURE_MESSAGES = {
    "generation_failed": "Music generation failed upstream; no credits were charged",
    "content_moderation": "The request was rejected by content moderation",
    "forced_failure": "The task was failed through the control plane",
    TIMED_OUT: "The task did not finish in the time the service allows; no credits were "
               "charged",
}
STAGE_PREFIX = "stage:"
FAIL_PREFIX = "fail:"


def failure(reason: str) -> str:
    return FAIL_PREFIX + reason


def is_failure(event: str) -> bool:
    return event.startswith(FAIL_PREFIX)


def failure_reason(event: str) -> str:
    return event[len(FAIL_PREFIX):]


def is_end(event: str) -> bool:
    return event == FINISH or is_failure(event)

SLOW_FACTOR = 4.0


@dataclass(frozen=True)
class JobProfile:
    """Typical offsets of a kind of job on the real service, in seconds."""

    queued: float
    stages: tuple[tuple[str, float], ...]
    finish: float
    jitter: float = 0.15  # each offset varies by up to ±15 %, seeded


PROFILES: dict[str, JobProfile] = {
    # A Suno-class song: lyrics first, a streamable first clip, then every clip complete.
    "song": JobProfile(queued=3.0, stages=(("text", 15.0), ("first", 40.0)), finish=95.0),
    # Lyrics or other text-only jobs.
    "text": JobProfile(queued=1.0, stages=(), finish=8.0),
    # Work on a finished song: a file conversion, an analysis, an upload, a persona.
    "export": JobProfile(queued=0.5, stages=(), finish=5.0),
    # A short piece of music (a jingle, a sound effect), made in one pass.
    "short": JobProfile(queued=1.0, stages=(), finish=20.0),
    # A generated video: queued behind other renders, then made in one pass.
    "video": JobProfile(queued=5.0, stages=(), finish=60.0),
    # A finished song's music video, made when a client asks for it: exactly 30 s, so a
    # client's wait-and-retry on the link can be tested to the second.
    "video-export": JobProfile(queued=0.0, stages=(), finish=30.0, jitter=0.0),
    # A custom model learning from reference tracks: the tracks are fetched, then it trains.
    "training": JobProfile(queued=5.0, stages=(("uploading", 20.0), ("training", 60.0)),
                           finish=300.0),
}


def plan(kind: str, ids: Ids, steering: Steering) -> list[tuple[float, str]]:
    """The events a new task of ``kind`` will pass through, with seeded timings."""
    profile = PROFILES[kind]
    scale = SLOW_FACTOR if steering.slow else 1.0
    low, high = -profile.jitter, profile.jitter

    def jittered(offset: float) -> float:
        return round(offset * scale * (1 + ids.uniform(low, high)), 3)

    start = jittered(profile.queued)
    events: list[tuple[float, str]] = [(start, START)]
    fail = failure(steering.fail) if steering.fail else None
    if fail and steering.fail_early:
        return events + [(start + 0.5, fail)]
    last = start
    for name, offset in profile.stages:
        last = max(last + 0.1, jittered(offset))
        events.append((last, STAGE_PREFIX + name))
        if fail and name == "first":
            events[-1] = (last, fail)
            return events
    if steering.stuck:
        return events
    finish = max(last + 0.1, jittered(profile.finish))
    events.append((finish, fail or FINISH))
    return events


def apply(task: Task, event: str, at: float) -> None:
    """What one event of its plan does to a task (credits are moved by the caller)."""
    if event == START:
        task.status, task.started_at = RUNNING, at
        last = next((o for o, e in reversed(task.plan) if is_end(e)), None)
        task.eta = None if last is None else task.created_at + last
    elif event.startswith(STAGE_PREFIX):
        task.stage = event[len(STAGE_PREFIX):]
    elif event == FINISH:
        task.status, task.stage, task.finished_at = SUCCEEDED, "complete", at
        if task.retention is not None:
            task.expires_at = at + task.retention
    elif is_failure(event):
        code = failure_reason(event)
        task.status, task.finished_at = FAILED, at
        task.error = {"code": code, "message": FAILURE_MESSAGES.get(
            code, f"Generation failed: {code.replace('_', ' ')}")}
    task.history.append((at, event))
