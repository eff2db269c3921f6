"""The requests the dialect's cases share: submitting a task (paid for from the run's
budget at its model's price), polling it to its end, reading orux's error shape, and
the keys and accounts of the simulator for cases that need an exact balance."""

from __future__ import annotations

from typing import Any

from ...case import expect
from ...context import CASE_KEY
from .driver import DRIVER, PRICES, TASK_ID, TASKS

SPEECH = "elevenlabs-v3"  # the one model answered finished at submit
POLL_S = 0.3  # how often the dialect's cases poll: gently, as a 429 names no Retry-After
LYRICS = ("[Verse]\nSoft rain on neon glass\nThe city hums a lullaby\n\n"
          "[Chorus]\nHold me in the midnight glow\nNever let the morning go")
SUNG = ["Soft rain on neon glass", "The city hums a lullaby", "Hold me in the midnight glow",
        "Never let the morning go"]  # the lines of LYRICS a song sings


def price_of(body: dict[str, Any]) -> float:
    model = body["model"]
    if model.startswith("suno-"):
        return PRICES[model[5:] if model != "suno-v5" else body.get("action", "generate")]
    return PRICES[model]


async def start(ctx, body: dict[str, Any], *, key: Any = CASE_KEY) -> str:
    """Submit a task; the answer must be 200 with a ``task_`` ULID and QUEUED, except
    for ElevenLabs v3 speech ("Synchronous TTS"), which answers the task finished."""
    ctx.spend(price_of(body) / DRIVER.price)
    answer = await ctx.call("POST", TASKS, json=body, key=key)
    expect(answer.status == 200, f"submitting {body.get('model')} "
                                 f"{body.get('action') or ''}: {answer}")
    task_id = DRIVER.task_id_of(answer.data)
    expect(isinstance(task_id, str) and TASK_ID.match(task_id),
           f"task id {task_id!r} is not task_ and a ULID: {answer}")
    status = answer.data.get("status")
    if body.get("model") == SPEECH:
        expect(status in DRIVER.terminal, f"synchronous speech answered {status!r}: {answer}")
    else:
        expect(status == "QUEUED", f"a new task is not QUEUED: {answer}")
    ctx.observe(task_id, status)
    return task_id


async def finish(ctx, task_id: str, status: str = "SUCCESS", *, key: Any = CASE_KEY
                 ) -> dict[str, Any]:
    """Poll a task to its end; it must end ``status``, its answer named as submitted."""
    answer = await ctx.settle(task_id, poll_every=POLL_S, key=key)
    data = answer.data
    expect(data.get("status") == status, f"task {task_id} ended {data.get('status')!r}, "
                                         f"not {status}: {answer}")
    expect(data.get("task_id") == task_id, f"polling {task_id} answered {data.get('task_id')}")
    return data


async def finish_all(ctx, ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every task settled (one after the other: they run at once upstream anyway)."""
    return {name: await finish(ctx, task_id) for name, task_id in ids.items()}


def song_body(ctx, text: str, **extra: Any) -> dict[str, Any]:
    """A suno-v5 song of 30 s with the chain's lyrics."""
    return {"model": "suno-v5", "prompt": ctx.marker(text), "lyrics": LYRICS, "duration": 30,
            **extra}


async def song(ctx, text: str, **extra: Any) -> dict[str, Any]:
    """A suno-v5 song made end to end."""
    return await finish(ctx, await start(ctx, song_body(ctx, text, **extra)))


def chained(ctx, parent: str, action: str, **extra: Any) -> dict[str, Any]:
    """A Suno sub-action on a parent task."""
    return {"model": "suno-v5", "action": action, "parent_task_id": parent,
            "prompt": ctx.marker(action), **extra}


def error_of(answer, status: int, kind: str, code: str, param: Any = ...) -> dict[str, Any]:
    """orux's normalized error: exactly type, code, message, channel, param."""
    expect(answer.status == status, f"expected {status} {code}, got {answer}")
    body = answer.data
    expect(isinstance(body, dict) and set(body) == {"error"}, f"not orux's error: {answer}")
    error = body["error"]
    expect(isinstance(error, dict) and set(error) == {"type", "code", "message", "channel",
                                                      "param"},
           f"the error has fields {sorted(error) if isinstance(error, dict) else error}")
    expect((error["type"], error["code"]) == (kind, code),
           f"error {error['type']}/{error['code']}, expected {kind}/{code}: {answer}")
    expect(isinstance(error["message"], str) and error["message"], f"no message: {answer}")
    if param is not ...:
        expect(error["param"] == param, f"error param {error['param']!r}, expected "
                                        f"{param!r}: {answer}")
    return error


async def fetched(ctx, url: str, kind: str) -> bytes:
    """The body a link serves, which must be 200 and of the given media type."""
    answer = await ctx.fetch(url)
    expect(answer.status == 200, f"{url}: {answer.status}")
    expect((answer.header("content-type") or "").startswith(kind),
           f"{url} serves {answer.header('content-type')!r}, not {kind}")
    return answer.body


async def account(ctx, key: str) -> dict[str, Any]:
    """The simulator's account of a key: credits, held, spent, webhook_secret."""
    return await ctx.admin.account(key)
