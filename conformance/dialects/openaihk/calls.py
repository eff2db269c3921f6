"""The calls the cases share: submitting a generation and waiting for its clips, an
upload, the ``act`` reads, refusals in the gateway's error shape, and a clip's media."""

from __future__ import annotations

import asyncio
from typing import Any

from ... import common
from ...case import CaseFailed, expect
from ...context import CASE_KEY
from .driver import DRIVER, GENERATE, UPLOAD, UPLOAD_URL, UUID, clips_of

DURATION_TOLERANCE = 1.0  # seconds a clip may differ from the length it should keep
POLL_AT_LEAST = 0.2  # seconds between feed reads of one batch: each read is schema-checked


def _error(answer) -> dict[str, Any]:
    error = answer.data.get("error") if isinstance(answer.data, dict) else None
    return error if isinstance(error, dict) else {}


def error_code(answer) -> str | None:
    return _error(answer).get("code")


def error_param(answer) -> str | None:
    return _error(answer).get("param")


def refused(answer, status: int, code: str | None, what: str) -> None:
    """Refused with ``status`` and, unless None, the error ``code``."""
    common.refused(answer, status, what)
    if code is not None:
        expect(error_code(answer) == code, f"{what}: error code {error_code(answer)!r}, "
                                           f"expected {code!r}: {answer}")


async def submit(ctx, body: dict[str, Any], *, key: Any = CASE_KEY, path: str = GENERATE,
                 songs: float = 1.0) -> tuple[dict[str, Any], str]:
    """A generate-type request: its answer and the task (clip ids) to poll."""
    ctx.spend(songs)
    answer = await ctx.call("POST", path, json=body, key=key)
    expect(answer.status == 200, f"POST {path}: {answer}")
    task_id = DRIVER.task_id_of(answer.data)
    expect(task_id, f"POST {path} answered no clip ids: {answer}")
    for clip in clips_of(answer.data):
        expect(UUID.match(clip["id"]), f"clip id {clip['id']!r} is not a UUID")
    ctx.observe(task_id, DRIVER.status_of(answer.data))
    return answer.data, task_id


async def finish(ctx, task_id: str, *, key: Any = CASE_KEY) -> list[dict[str, Any]]:
    """The task's clips once every one is complete, in the order asked."""
    final = await ctx.settle(task_id, key=key, poll_every=max(ctx.run.poll_every, POLL_AT_LEAST))
    word = DRIVER.status_of(final.data)
    expect(word == "complete", f"clips {task_id} ended {word!r}: {final}")
    clips = clips_of(final.data)
    expect([c["id"] for c in clips] == task_id.split(","),
           f"the feed for {task_id} answered clips {[c['id'] for c in clips]}")
    return clips


async def made(ctx, body: dict[str, Any], *, key: Any = CASE_KEY, path: str = GENERATE,
               songs: float = 1.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A generate-type request waited for: its answer and its finished clips."""
    answer, task_id = await submit(ctx, body, key=key, path=path, songs=songs)
    return answer, await finish(ctx, task_id, key=key)


async def uploaded(ctx, url: str = UPLOAD_URL, *, key: Any = CASE_KEY) -> dict[str, Any]:
    """An uploaded track, once its clip is complete."""
    answer = await ctx.call("POST", UPLOAD, json={"url": url}, key=key)
    expect(answer.status == 200, f"uploading {url}: {answer}")
    data = answer.data
    expect(data.get("code") == "success" and data.get("data") == data.get("clip_id"),
           f"the upload answer: {data}")
    expect(UUID.match(data["clip_id"]), f"upload clip id {data['clip_id']!r} is not a UUID")
    clip = (await finish(ctx, data["clip_id"], key=key))[0]
    expect(clip["metadata"].get("type") == "upload", f"an upload's type: {clip['metadata']}")
    expect((clip["metadata"].get("duration") or 0) > 0, f"an upload's duration: {clip}")
    return clip


def duration(clip: dict[str, Any]) -> float:
    """The length a clip claims; it must claim one."""
    value = (clip.get("metadata") or {}).get("duration")
    expect(isinstance(value, (int, float)) and value > 0,
           f"clip {clip.get('id')} has no duration: {clip.get('metadata')}")
    return float(value)


def near(a: float, b: float, tolerance: float = DURATION_TOLERANCE) -> bool:
    return abs(a - b) <= tolerance


async def resolves(ctx, clip: dict[str, Any], *, video: bool = False) -> None:
    """The clip's audio and cover serve what they claim (and its video, if asked); the
    shared resolve case checks every link of a song, large cover and video included."""
    kinds = {"audio", "image"} | ({"video"} if video else set())
    media = [m for m in DRIVER.media_of(clip)
             if m.kind in kinds and m.url != clip.get("image_large_url")]
    expect(any(m.kind == "audio" for m in media), f"clip {clip['id']} has no audio link")
    await asyncio.gather(*(common.check_media(ctx, m) for m in media))


async def act(ctx, path: str, *, key: Any = CASE_KEY) -> Any:
    """A GET that must answer 200: its data."""
    answer = await ctx.call("GET", path, key=key)
    expect(answer.status == 200, f"GET {path}: {answer}")
    return answer.data


async def until(ctx, path: str, ready, *, key: Any = CASE_KEY, tries: int = 200) -> Any:
    """Ask again until the answer is ready (wav, midi)."""
    for _ in range(tries):
        data = await act(ctx, path, key=key)
        if ready(data):
            return data
        await asyncio.sleep(ctx.run.poll_every)
    raise CaseFailed(f"GET {path} never became ready")
