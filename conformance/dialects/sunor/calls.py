"""The calls sunor's own cases share: the balance, a task submitted and finished with
its answers checked whole, the clips of a result, and whether a derived song sounds like
its source."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from ... import audio
from ...case import expect
from ...common import check_media
from ...context import CASE_KEY
from .api import BALANCE, PRICES, SONG_PRICE, TASK, media_of

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
SAME = 0.95  # the likeness of a stretch of song and the source it copies
DIFFERENT = 0.9  # the most likeness new music may have with its source


def data_of(answer) -> dict[str, Any]:
    """The answer's ``data`` object, which every success of the dialect carries."""
    data = answer.data.get("data") if isinstance(answer.data, dict) else None
    expect(isinstance(data, dict), f"no data object in {answer}")
    return data


async def balance_of(ctx, key: Any = CASE_KEY) -> dict[str, float]:
    """The key's ``{available, frozen, total}``, its sum checked."""
    answer = await ctx.call("GET", BALANCE, key=key)
    expect(answer.status == 200, f"balance: {answer}")
    expect(answer.data.get("code") == 200, f"balance code: {answer}")
    data = data_of(answer)
    expect(abs(data["available"] + data["frozen"] - data["total"]) < 1e-9,
           f"balance: available + frozen != total: {data}")
    return data


async def submit(ctx, body: dict[str, Any], key: Any = CASE_KEY) -> dict[str, Any]:
    """A task submitted: its 202 answer checked whole (code, type, pending, the price
    frozen, a UUID id, an ISO time); answers ``data``."""
    price = PRICES[(body["model"], body["task_type"])]
    ctx.spend(price / SONG_PRICE)
    answer = await ctx.call("POST", TASK, json=body, key=key)
    expect(answer.status == 202, f"submitting {body['model']} {body['task_type']}: {answer}")
    expect(answer.data.get("code") == 202, f"the 202 answer's code: {answer}")
    data = data_of(answer)
    expect(data.get("type") == body["task_type"], f"type {data.get('type')!r}: {answer}")
    expect(data.get("status") == "pending", f"status {data.get('status')!r}: {answer}")
    expect(data.get("credits_charged") == price,
           f"{body['model']} {body['task_type']} froze {data.get('credits_charged')} credits, "
           f"the price is {price}")
    expect(isinstance(data.get("task_id"), str) and UUID.match(data["task_id"]),
           f"task_id {data.get('task_id')!r} is not a UUID like the seed's")
    expect(isinstance(data.get("created_at"), str) and ISO.match(data["created_at"]),
           f"created_at {data.get('created_at')!r} is not ISO 8601")
    ctx.observe(data["task_id"], data["status"])
    return data


async def finish(ctx, task_id: str, body: dict[str, Any],
                 status: str = "success") -> dict[str, Any]:
    """The task settled in ``status``; a success checked whole. Answers ``data``."""
    answer = await ctx.settle(task_id)
    data = data_of(answer)
    expect(data["status"] == status, f"task {task_id} ended {data['status']!r}: {answer}")
    expect(data.get("task_id") == task_id, f"polled {task_id}, got {data.get('task_id')}")
    expect((data.get("model"), data.get("type")) == (body["model"], body["task_type"]),
           f"task {task_id} is {data.get('model')} {data.get('type')}: {answer}")
    expect(data.get("input") == body["input"], f"input not echoed: {data.get('input')}")
    expect(data.get("credits_cost") == PRICES[(body["model"], body["task_type"])],
           f"credits_cost {data.get('credits_cost')}")
    expect(data.get("completed_at") is not None, f"no completed_at: {answer}")
    output = data.get("output") or {}
    if status == "success":
        expect(output.get("status") == "completed" and output.get("progress") == "100%",
               f"a successful task's output: {output}")
        expect(data.get("error") is None and output.get("fail_reason") is None,
               f"a successful task has an error: {data}")
        expect(output.get("result"), f"a successful task without a result: {answer}")
    return data


async def make(ctx, body: dict[str, Any]) -> dict[str, Any]:
    """A task submitted and finished successfully: its polled ``data``."""
    created = await submit(ctx, body)
    return await finish(ctx, created["task_id"], body)


def clips_of(data: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The ``count`` clips of a finished task, each with its own id and both links."""
    clips = data["output"]["result"]
    expect(len(clips) == count, f"expected {count} clip(s), got {len(clips)}: {clips}")
    expect(len({c.get("id") for c in clips}) == count, f"clips share an id: {clips}")
    for clip in clips:
        expect(isinstance(clip.get("audio_url"), str) and isinstance(clip.get("image_url"), str),
               f"a clip without its links: {clip}")
    return clips


async def real(ctx, clips: list[dict[str, Any]]) -> None:
    """Every clip's audio plays its stated duration and its cover is an image."""
    await asyncio.gather(*(check_media(ctx, m) for m in media_of(clips)))


async def likeness(ctx, made_url: str, source_url: str,
                   spans: list[tuple[float, float]]) -> list[float]:
    """How alike two songs sound over each span of seconds (1.0: the same sound)."""
    (a, rate), (b, rate_b) = await asyncio.gather(audio.fetch_samples(ctx, made_url),
                                                  audio.fetch_samples(ctx, source_url))
    expect(rate == rate_b, f"{made_url} is at {rate} Hz, its source at {rate_b} Hz")
    found = []
    for start, end in spans:
        expect(len(a) >= int(end * rate) and len(b) >= int(end * rate),
               f"shorter than {end:g} s: {made_url}, {source_url}")
        found.append(audio.likeness(audio.window(a, rate, start, end),
                                    audio.window(b, rate, start, end)))
    return found


async def same_start(ctx, made_url: str, source_url: str, seconds: float) -> None:
    """The song starts as its source did, for ``seconds``."""
    [alike] = await likeness(ctx, made_url, source_url, [(0.0, seconds)])
    expect(alike > SAME, f"{made_url} does not start as its source {source_url} "
                         f"(likeness {alike:.3f} over {seconds:g} s)")
