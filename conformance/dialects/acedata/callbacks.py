"""The callback: one delivery, the task's final answer, for a song and for a failure."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ...case import CREDITS, RECEIVER, SIMULATOR, Catalog, expect
from .calls import accepted, follow, source
from .driver import Acedata

if TYPE_CHECKING:
    from ...context import Context


def add_callback_cases(catalog: Catalog, driver: Acedata) -> None:
    """The one callback of a task: its final result, or its error."""
    seed = driver.seed

    @catalog.case("result", "The callback carries the task's final result, once",
                  seed=f"{seed}: request body (callback_url, async)", area="callbacks",
                  needs=[CREDITS, RECEIVER], cost=1)
    async def result(ctx: "Context") -> None:
        receiver, hook = ctx.run.receiver, ctx.token
        made_source = await source(ctx, callback_url=receiver.address(hook))
        task_id = made_source["task_id"]
        got = await receiver.wait(hook, lambda ds: len(ds) >= 1,
                                  timeout=ctx.run.callback_wait)
        expect(got, f"no callback for task {task_id}")
        await asyncio.sleep(0.2)  # a second delivery would be a duplicate
        got = receiver.deliveries.get(hook, [])
        expect(len(got) == 1, f"{len(got)} callbacks for one task")
        payload = got[0].data
        expect(isinstance(payload, dict) and payload.get("success") is True
               and payload.get("task_id") == task_id, f"the callback: {got[0].body[:300]!r}")
        problems = driver.check_callback(ctx, payload)
        expect(not problems, f"the callback breaks AudiosResponse: {problems}")
        sent = [(s["id"], s["state"], s.get("duration"), s.get("lyric"))
                for s in driver.songs_of(payload)]
        shown = [(s["id"], s["state"], s.get("duration"), s.get("lyric"))
                 for s in made_source["songs"]]
        expect(sent == shown, f"the callback's songs {sent} differ from the task's {shown}")

    @catalog.case("failure", "A failed task's callback carries its error and task id",
                  seed=f"{seed}: request body (callback_url)", area="callbacks",
                  needs=[CREDITS, RECEIVER, SIMULATOR], cost=1)
    async def failure(ctx: "Context") -> None:
        receiver = ctx.run.receiver
        ctx.spend()
        task_id = (await accepted(ctx, {"action": "generate",
                                        "prompt": ctx.marker("[sim:fail] a failing hook"),
                                        "callback_url": receiver.address(ctx.token)}))["task_id"]
        final = await follow(ctx, task_id)
        expect(driver.status_of(final.data) == "failed", f"the task ended {final}")
        got = await receiver.wait(ctx.token, lambda ds: len(ds) >= 1,
                                  timeout=ctx.run.callback_wait)
        expect(got, f"no callback for failed task {task_id}")
        payload = got[0].data
        expect(isinstance(payload, dict) and payload.get("success") is False
               and payload.get("task_id") == task_id and payload.get("trace_id"),
               f"the callback of a failed task: {got[0].body[:300]!r}")
        problems = ctx.run.spec.check_component("Error", payload)
        expect(not problems, f"the failure callback breaks Error: {problems}")
        expect(payload["error"] == final.data["response"]["error"],
               f"the callback's error {payload['error']} is not the task's")
