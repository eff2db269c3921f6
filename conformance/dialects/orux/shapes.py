"""What orux's answers look like beyond a task: its normalized error (type, code,
message, channel, param) for bad keys and requests, a failed upstream channel, a model
the key may not use and the rate limit; and task ids, task_ and a ULID."""

from __future__ import annotations

import asyncio

from ...case import CREDITS, SIMULATOR, UPSTREAM_ADMIN, Catalog, expect
from .calls import error_of, finish, start
from .driver import SEED, TASKS, UNKNOWN, VOICE, Orux


def add(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("errors", "Errors are orux's {error: {type, code, message, channel, param}}",
                  seed=f"{SEED}: errors", area="shapes")
    async def errors(ctx) -> None:
        body = {"model": "suno-v5", "prompt": ctx.marker(), "duration": 30}
        error = error_of(await ctx.call("POST", TASKS, json=body, key=None), 401, "auth_error",
                         "invalid_api_key", None)
        expect(error["channel"] is None, f"a 401 names a channel: {error}")
        error_of(await ctx.call("GET", f"{TASKS}/{UNKNOWN}", key="sk-app-not-a-key"), 401,
                 "auth_error", "invalid_api_key", None)
        for asked in (UNKNOWN, "nonsense"):
            error_of(await ctx.call("GET", f"{TASKS}/{asked}"), 404, "invalid_request_error",
                     "task_not_found", "task_id")
        error_of(await ctx.call("POST", TASKS, json={**body, "duration": 241}), 400,
                 "invalid_request_error", "invalid_request", "duration")
        error_of(await ctx.call("POST", TASKS, json={
            "model": "elevenlabs-v3", "text": "hi", "voice_id": VOICE, "stability": 2}),
            400, "invalid_request_error", "invalid_request", "stability")

    @catalog.case("upstream-channel", "A 502 names the upstream channel that failed",
                  seed=f"{SEED}: errors", area="shapes", needs=[SIMULATOR])
    async def upstream_channel(ctx) -> None:
        for body, channel in (
                ({"model": "suno-v5", "prompt": ctx.marker("[sim:502] song")}, "suno"),
                ({"model": "elevenlabs-v3", "voice_id": VOICE,
                  "text": ctx.marker("[sim:502] speech")}, "elevenlabs")):
            answer = await ctx.call("POST", TASKS, json=body)
            error = error_of(answer, 502, "api_error", "upstream_error")
            expect(error["channel"] == channel,
                   f"a {body['model']} 502 names channel {error['channel']!r}, not {channel}")

    @catalog.case("model-not-allowed", "A key not allowed a model gets 403; suno-<action> "
                  "ids count as suno-v5", seed=f"{SEED}: model ids", area="auth",
                  needs=[UPSTREAM_ADMIN])
    async def model_not_allowed(ctx) -> None:
        key = await ctx.new_key(1000, models=["suno-v5"])  # allowed suno-v5 alone
        answer = await ctx.call("POST", TASKS, key=key, json={
            "model": "elevenlabs-v3", "text": "hi", "voice_id": VOICE})
        error_of(answer, 403, "auth_error", "model_not_allowed", "model")
        answer = await ctx.call("POST", TASKS, key=key, json={
            "model": "suno-extend", "prompt": "x", "parent_task_id": UNKNOWN})
        error_of(answer, 404, "invalid_request_error", "task_not_found", "parent_task_id")

    @catalog.case("rate-limit-shape", "A 429 past the rate limit is rate_limit_exceeded",
                  seed=f"{SEED}: rate limits", area="rate-limits", needs=[UPSTREAM_ADMIN])
    async def rate_limit_shape(ctx) -> None:
        key = await ctx.new_key(0, rate=0.5, burst=1)
        answers = await asyncio.gather(*(ctx.call("GET", f"{TASKS}/{UNKNOWN}", key=key,
                                                  patient=False) for _ in range(3)))
        statuses = sorted(a.status for a in answers)
        expect(statuses == [404, 429, 429],
               f"3 requests at once past a limit of 1 a time answered {statuses}")
        limited = [a for a in answers if a.status == 429]
        for answer in limited:
            error_of(answer, 429, "rate_limit_error", "rate_limit_exceeded")

    @catalog.case("task-ids", "Task ids are task_ and a ULID, later tasks sorting later",
                  seed=f"{SEED}: response (task_id)", area="ids", needs=[CREDITS], cost=0.4)
    async def task_ids(ctx) -> None:
        body = {"model": "elevenlabs-v3", "voice_id": VOICE, "text": ctx.marker("first")}
        first = await start(ctx, body)
        await asyncio.sleep(0.05)
        second = await start(ctx, {**body, "text": ctx.marker("second")})
        expect(first < second, f"a later task's id {second} sorts before {first}")
        for task_id in (first, second):
            await finish(ctx, task_id)
