"""How a task ends other than in success: a failure's error fields, results gone past
retention (EXPIRED, links 410), and a job expired past its TTL with its credits returned."""

from __future__ import annotations

import asyncio

from ...case import CREDITS, SIMULATOR, UPSTREAM_ADMIN, Catalog, expect
from .calls import POLL_S, finish, start
from .driver import ACTOR, DANCE, SEED, VOICE, Orux


def add(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("failed-shape", "A failed task has an error code and message, no result",
                  seed=f"{SEED}: response status", area="states", needs=[CREDITS, SIMULATOR],
                  cost=3)
    async def failed_shape(ctx) -> None:
        ids = {"suno": await start(ctx, {"model": "suno-v5", "duration": 30,
                                         "prompt": ctx.marker("[sim:fail] a song")}),
               "act-two": await start(ctx, {"model": "runway-act-two",
                                            "character_video_url": ACTOR,
                                            "driver_video_url": f"{DANCE}?x={ctx.token}"
                                                                "[sim:fail]"})}
        for name, task_id in ids.items():
            task = await finish(ctx, task_id, "FAILED")
            expect(task.get("error_code") == "generation_failed" and task.get("error_message"),
                   f"{name}: a failure's error_code/error_message: {task}")
            expect(task["result"] is None and task["result_urls"] == [],
                   f"{name}: a failed task shows results: {task}")

    @catalog.case("expired-results", "Past retention a task reads EXPIRED and its links 410",
                  seed=f"{SEED}: response status (EXPIRED)", area="states",
                  needs=[CREDITS, SIMULATOR], cost=0.2)
    async def expired_results(ctx) -> None:
        task_id = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                                    "text": ctx.marker("[sim:expire] Welcome to Orux AI.")})
        task = await finish(ctx, task_id)
        link = task["result"]["audio_urls"][0]
        gone = (await ctx.settle(task_id, until=frozenset({"EXPIRED"}),
                                 poll_every=POLL_S)).data
        expect(gone["status"] == "EXPIRED" and gone["result"] is None
               and gone["result_urls"] == [] and gone.get("error_code") == "expired"
               and gone.get("error_message"), f"an expired task: {gone}")
        expect(gone.get("finish_time") == task.get("finish_time"),
               "expiry changed the finish time")
        answer = await ctx.fetch(link)
        expect(answer.status == 410, f"an expired result's link answers {answer.status}")

    @catalog.case("ttl-expired", "A job past its TTL reads EXPIRED and its credits return",
                  seed=f"{SEED}: response status (EXPIRED)", area="states",
                  needs=[CREDITS, SIMULATOR, UPSTREAM_ADMIN], cost=1)
    async def ttl_expired(ctx) -> None:
        task_id = await start(ctx, {"model": "suno-v5", "duration": 30,
                                    "prompt": ctx.marker("[sim:stuck] a job that never ends")})
        await asyncio.sleep(0.2)
        upstream = await ctx.admin.tasks_with(ctx.token, driver.provider)
        expect(len(upstream) == 1, f"{len(upstream)} upstream tasks for one request")
        # What the simulator does when a job's 24 h TTL runs out, now.
        await ctx.admin.call("POST", f"/tasks/{upstream[0]['id']}/outcome",
                             {"outcome": "fail", "reason": "timed_out"})
        task = await finish(ctx, task_id, "EXPIRED")
        expect(task.get("error_code") == "expired" and "TTL" in (task.get("error_message") or ""),
               f"a job past its TTL: {task}")
        expect(task["result"] is None and task["chain_credits"] == 0,
               f"an expired job keeps results or credits: {task}")
