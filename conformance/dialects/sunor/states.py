"""A task's life as the seed's Response section draws it: what each status shows, how a
failure and a timeout end, and the shape of a 404."""

from __future__ import annotations

import asyncio

from ...case import CREDITS, SIMULATOR, UPSTREAM_ADMIN, Catalog, expect
from .api import music, suno
from .calls import balance_of, data_of, finish, submit
from .driver import Sunor

TTL = 600.0  # simulated seconds after which a task still running times out


def add_state_cases(catalog: Catalog, driver: Sunor) -> None:
    seed = driver.seed

    @catalog.case("lifecycle", "pending (no output) → running (processing) → success (completed)",
                  seed=f"{seed}: Response", area="states", needs=[CREDITS], cost=1)
    async def lifecycle(ctx) -> None:
        body = music("suno", gpt_description_prompt=ctx.marker("a song to watch"))
        created = await submit(ctx, body)
        task_id = created["task_id"]
        seen, progress = [], []
        every = min(ctx.run.poll_every, 0.1)  # often enough to catch the running stage
        for _ in range(int(ctx.run.timeout / every) + 1):
            data = data_of(await ctx.poll(task_id))
            word = data["status"]
            seen.append(word)
            output = data["output"]
            if word == "pending":
                expect(output is None and data["completed_at"] is None,
                       f"a pending task has output or an end: {data}")
            elif word == "running":
                expect(output is not None and output["status"] == "processing"
                       and output["result"] == [] and output["task_type"] == "music",
                       f"a running task's output: {output}")
                expect(data["completed_at"] is None, f"a running task has ended: {data}")
                progress.append(int(output["progress"][:-1]))
            else:
                break
            await asyncio.sleep(every)
        expect(word == "success", f"task {task_id} ended {word!r}")
        expect("running" in seen, f"task {task_id} was never seen running: {seen}")
        expect(progress == sorted(progress) and all(0 <= p < 100 for p in progress),
               f"progress while running: {progress}")
        await finish(ctx, task_id, body)
        expect(data["completed_at"] >= data["created_at"] == created["created_at"],
               f"times: created {data['created_at']}, completed {data['completed_at']}")

    @catalog.case("failure-shape", "A failed task: failure, its error as a string, no result",
                  seed=f"{seed}: Response", area="states", needs=[CREDITS, SIMULATOR], cost=0.5)
    async def failure_shape(ctx) -> None:
        body = suno("lyrics", prompt=ctx.marker("[sim:fail] words that fail"))
        created = await submit(ctx, body)
        data = await finish(ctx, created["task_id"], body, status="failure")
        output = data["output"]
        expect(isinstance(data["error"], str) and data["error"], f"error {data['error']!r}")
        expect(output["status"] == "failed" and output["result"] == [],
               f"a failed task's output: {output}")
        expect(output["fail_reason"] == data["error"],
               f"fail_reason {output['fail_reason']!r} vs error {data['error']!r}")

    @catalog.case("timeout", "A task still running after ten minutes times out, refunded",
                  seed=f"{seed}: Response", area="states",
                  needs=[CREDITS, SIMULATOR, UPSTREAM_ADMIN], cost=0.5, exclusive=True)
    async def timeout(ctx) -> None:
        body = music("udio", prompt=ctx.marker("lofi [sim:stuck]"))
        before = await balance_of(ctx)
        created = await submit(ctx, body)
        polled = data_of(await ctx.poll(created["task_id"]))
        expect(polled["status"] in ("pending", "running"), f"a stuck task is {polled}")
        await ctx.admin.call("POST", "/clock/advance", {"seconds": TTL + 1})
        data = await finish(ctx, created["task_id"], body, status="timeout")
        expect(isinstance(data["error"], str) and data["error"], f"error {data['error']!r}")
        expect(data["output"]["status"] == "failed" and data["output"]["result"] == [],
               f"a timed-out task's output: {data['output']}")
        after = await balance_of(ctx)
        expect(after["total"] == before["total"] and after["available"] >= before["available"],
               f"a timed-out task was not refunded: {before} -> {after}")

    @catalog.case("not-found-shape", "An unknown task is a 404 in the error shape",
                  seed=f"{seed}: Errors", area="shapes")
    async def not_found_shape(ctx) -> None:
        answer = await driver.poll(ctx, driver.unknown_id)
        expect(answer.status == 404, f"unknown task: {answer}")
        expect(isinstance(answer.data, dict) and answer.data.get("code") == 404
               and isinstance(answer.data.get("message"), str) and answer.data["message"],
               f"not {{code: 404, message}}: {answer}")
