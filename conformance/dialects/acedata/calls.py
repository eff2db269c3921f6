"""What the acedata cases share: submitting an action and following its task to the end,
the source song the chain cases start from, the companion endpoints, the dialect's error
shape, and hearing a song through its WAV file."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import audio
from ...case import CaseFailed, expect
from ...common import AUDIO_TOLERANCE_S, check_media
from ...context import CASE_KEY
from ...dialect import Media
from .driver import AUDIOS, DRIVER, PRICES

if TYPE_CHECKING:
    from ...context import Answer, Context

LYRIC = ("[Verse]\nSnowflakes falling on the ground\nEvery window glowing bright\n"
         "[Chorus]\nUnder the mistletoe tonight\nHold me close and hold me tight")
SOURCE = {"action": "generate", "custom": True, "lyric": LYRIC, "title": "Conformance Source",
          "style": "pop, piano"}
POLL_AT_MOST = 0.25  # seconds between polls of one task, at the least
SAME = 0.99  # two signals this alike (normalised correlation) are the same audio


def spend(ctx: "Context", credits: float) -> None:
    """Reserve ``credits`` of the run's budget (the budget counts in songs)."""
    ctx.spend(credits / DRIVER.price)


def error_code(answer: "Answer") -> str | None:
    data = answer.data
    error = data.get("error") if isinstance(data, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def refused(answer: "Answer", status: int, code: str, what: str) -> None:
    """The answer is the dialect's error: this status and code, and a trace_id."""
    expect(answer.status == status and error_code(answer) == code,
           f"{what}: expected {status} {code}, got {answer}")
    expect(answer.data.get("trace_id"), f"{what}: the error has no trace_id: {answer}")


async def accepted(ctx: "Context", body: dict[str, Any], key: Any = CASE_KEY) -> dict[str, Any]:
    """Submit an action asynchronously; the answer (the task id)."""
    answer = await ctx.call("POST", AUDIOS, json={**body, "async": True}, key=key)
    what = body.get("action", "generate")
    expect(answer.status == 200, f"submitting {what}: {answer}")
    data = answer.data if isinstance(answer.data, dict) else {}
    expect(data.get("success") is True and data.get("task_id"),
           f"submitting {what}: no task id: {answer}")
    expect("data" not in data, f"an asynchronous {what} answered with songs: {answer}")
    ctx.observe(data["task_id"], DRIVER.status_of(data))
    return data


def patience(ctx: "Context") -> float:
    """How often these cases poll one task: no more than four times a second, so that a
    gateway, where every case shares one key, keeps the run's concurrent tasks under the
    dialect's rate limit (20 requests a second in the simulator)."""
    return max(ctx.run.poll_every, POLL_AT_MOST)


async def follow(ctx: "Context", task_id: str, key: Any = CASE_KEY,
                 seen: list[dict[str, Any]] | None = None) -> "Answer":
    """Poll a task until it ends, keeping every record in ``seen``; the last answer."""
    deadline = time.monotonic() + ctx.run.timeout
    while True:
        answer = await ctx.poll(task_id, key=key)
        if seen is not None:
            seen.append(answer.data)
        word = DRIVER.status_of(answer.data)
        if word in DRIVER.terminal:
            return answer
        expect(time.monotonic() < deadline,
               f"task {task_id} still {word!r} after {ctx.run.timeout:g} s")
        await asyncio.sleep(patience(ctx))


async def made(ctx: "Context", body: dict[str, Any], key: Any = CASE_KEY,
               count: int | None = 2,
               seen: list[dict[str, Any]] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """An action run to its end: submitted, polled to success; its task id and songs."""
    action = body.get("action", "generate")
    spend(ctx, PRICES[action])
    task_id = (await accepted(ctx, body, key))["task_id"]
    final = await follow(ctx, task_id, key, seen)
    word = DRIVER.status_of(final.data)
    expect(word == DRIVER.succeeded, f"{action} task {task_id} ended {word!r}: {final}")
    songs = DRIVER.songs_of(final.data)
    if count is not None:
        expect(len(songs) == count, f"{action} made {len(songs)} songs, expected {count}")
    for song in songs:
        expect(song.get("state") == "succeeded" and song.get("audio_url") and song.get("id"),
               f"{action} task {task_id} succeeded with an unfinished song: {song}")
    return task_id, songs


async def source(ctx: "Context", **extra: Any) -> dict[str, Any]:
    """A source song for the case (custom lyrics, title and style): its task, its songs,
    every record polled and the request sent. It asks for no callback (``extra`` may):
    only the callback cases depend on callbacks reaching the run."""
    body = {**SOURCE, **extra}
    seen: list[dict[str, Any]] = []
    task_id, songs = await made(ctx, body, seen=seen)
    return {"task_id": task_id, "song": songs[0], "songs": songs, "records": seen,
            "request": {**body, "async": True}}


async def real(ctx: "Context", song: dict[str, Any]) -> None:
    """The song's audio link serves audio of its claimed duration."""
    await check_media(ctx, Media(song["audio_url"], "audio", song.get("duration")))


async def companion(ctx: "Context", name: str, body: dict[str, Any]) -> Any:
    """A companion endpoint answered at once; its ``data``."""
    spend(ctx, PRICES[name])
    answer = await ctx.call("POST", f"/suno/{name}", json=body)
    expect(answer.status == 200, f"/suno/{name}: {answer}")
    data = answer.data if isinstance(answer.data, dict) else {}
    expect(data.get("success") is True and data.get("task_id") and "data" in data,
           f"/suno/{name} answered without its result: {answer}")
    return data["data"]


async def hear(ctx: "Context", audio_id: str) -> tuple[np.ndarray, int]:
    """A song's samples and rate, through its WAV file (``/suno/wav``): lossless, so a
    song and what was derived from it compare sample for sample."""
    files = await companion(ctx, "wav", {"audio_id": audio_id})
    expect(isinstance(files, list) and files and files[0].get("file_url"),
           f"/suno/wav of {audio_id} names no file: {files}")
    return await audio.fetch_samples(ctx, files[0]["file_url"])


def near(a: float | None, b: float | None) -> bool:
    """Two durations agree within the tolerance of a measured length."""
    return a is not None and b is not None and abs(a - b) <= AUDIO_TOLERANCE_S


async def each(checks: dict[str, Any]) -> None:
    """Run named checks at once; fail naming every one that failed."""
    results = await asyncio.gather(*checks.values(), return_exceptions=True)
    failures = []
    for name, result in zip(checks, results):
        if isinstance(result, CaseFailed):
            failures.append(f"{name}: {result}")
        elif isinstance(result, BaseException):
            raise result
    expect(not failures, "; ".join(failures))
