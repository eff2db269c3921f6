"""What a gateway must do when its upstream has a bad day. These cases need the control
plane of the simulator behind the gateway (``--upstream-admin``): they inject a fault into
the upstream, scoped by a marker in the case's own prompt, and check what the gateway
answers. Against the simulator itself they check that it passes its own faults on."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .case import CREDITS, UPSTREAM_ADMIN, Catalog, expect

if TYPE_CHECKING:
    from .context import Context
    from .dialect import Driver

NEEDS = [CREDITS, UPSTREAM_ADMIN]
STUCK_POLLS = 4


def add_upstream_cases(catalog: Catalog, driver: "Driver") -> None:
    seed = driver.seed

    def rule(ctx: "Context", action: dict, **extra) -> dict:
        method, path, _ = driver.song_request("")
        return {"match": {"provider": driver.provider, "method": method, "path": path,
                          "body_contains": ctx.token}, "action": action, **extra}

    async def submit_through(ctx: "Context", action: dict, text: str, **extra):
        """Submit with a fault on the upstream's submit; the target's answer."""
        fault = await ctx.admin.fault(rule(ctx, action, **extra))
        try:
            ctx.spend()
            method, path, body = driver.song_request(ctx.marker(text))
            return await ctx.call(method, path, json=body, patient=action.get("status") != 429)
        finally:
            await ctx.admin.drop_fault(fault)

    async def passed_on_or_recovered(ctx: "Context", answer, statuses: set[int], what: str):
        if 200 <= answer.status < 300:  # the gateway retried: the task must be real
            task_id = driver.task_id_of(answer.data)
            final = await ctx.settle(task_id)
            word = driver.status_of(final.data)
            expect(word == driver.succeeded, f"after an upstream {what} the gateway answered "
                                             f"{answer.status} but the task ended {word!r}")
            return
        expect(answer.status in statuses, f"an upstream {what} reached the caller as {answer}")

    @catalog.case("rate-limited", "An upstream 429 is passed on as the dialect's 429, or retried",
                  seed=f"{seed}: rate limits", area="upstream", needs=NEEDS, cost=1)
    async def rate_limited(ctx: "Context") -> None:
        answer = await submit_through(ctx, {"status": 429, "retry_after": 1}, "upstream 429",
                                      times=1)
        await passed_on_or_recovered(ctx, answer, {429}, "429")
        if answer.status == 429:
            for header in driver.rate_headers:
                expect(answer.header(header) is not None,
                       f"the 429 lacks the dialect's {header} header: {answer.headers}")

    for status in (500, 503):
        _server_error(catalog, driver, status, submit_through, passed_on_or_recovered)

    @catalog.case("failed-task", "A task failing upstream is reported failed, not lost",
                  seed=f"{seed}: task status", area="upstream", needs=NEEDS, cost=1,
                  exclusive=True)
    async def failed_task(ctx: "Context") -> None:
        before = await driver.balance(ctx)
        answer = await submit_through(ctx, {"task": "fail"}, "fails upstream")
        expect(200 <= answer.status < 300, f"submitting: {answer}")
        task_id = driver.task_id_of(answer.data)
        final = await ctx.settle(task_id)
        word = driver.status_of(final.data)
        expect(word in driver.failed, f"an upstream failure ended as {word!r}: {final}")
        if before is not None:
            after = await driver.balance(ctx)
            expect(abs(after - before) < 1e-6,
                   f"a failed task was not refunded: balance {before:g} -> {after:g}")

    @catalog.case("stuck-task", "A task stuck upstream stays in progress, never made up",
                  seed=f"{seed}: task status", area="upstream", needs=NEEDS, cost=1)
    async def stuck_task(ctx: "Context") -> None:
        answer = await submit_through(ctx, {"task": "stuck"}, "stuck upstream")
        expect(200 <= answer.status < 300, f"submitting: {answer}")
        task_id = driver.task_id_of(answer.data)
        for _ in range(STUCK_POLLS):
            polled = await ctx.poll(task_id)
            word = driver.status_of(polled.data)
            expect(word not in driver.terminal or word in driver.failed,
                   f"a task stuck upstream was reported {word!r}")
            await asyncio.sleep(ctx.run.poll_every)

    @catalog.case("insufficient-credits", "Upstream out of credits reaches the caller in shape",
                  seed=f"{seed}: errors", area="upstream", needs=NEEDS, cost=1)
    async def insufficient(ctx: "Context") -> None:
        status = driver.insufficient_status
        answer = await submit_through(ctx, {"status": status}, "no credits upstream", times=1)
        await passed_on_or_recovered(ctx, answer, {status, 402, 403, 429, 502, 503},
                                     f"{status} (out of credits)")

    @catalog.case("expired", "Results past retention reach the dialect's expired answer",
                  seed=f"{seed}: retention", area="upstream", needs=NEEDS, cost=1)
    async def expired(ctx: "Context") -> None:
        if not driver.expires:
            from .case import Skipped
            raise Skipped("the dialect keeps results")
        answer = await ctx.song("[sim:expire] results that expire")
        task_id = driver.task_id_of(answer.data) or answer.data
        final = await driver.wait_expired(ctx, task_id)
        expect(final, f"task {task_id} never reached the dialect's expired answer")

    @catalog.case("no-task-lost", "Every task the target accepted reaches an end",
                  seed=f"{seed}: task query", area="upstream", needs=NEEDS, cost=3)
    async def no_task_lost(ctx: "Context") -> None:
        fault = await ctx.admin.fault(rule(ctx, {"status": 500, "phase": "after"}, times=1))
        try:
            ctx.spend(3)
            accepted = []
            for index in range(3):
                method, path, body = driver.song_request(ctx.marker(f"song {index}"))
                answer = await ctx.call(method, path, json=body)
                if 200 <= answer.status < 300:
                    accepted.append(driver.task_id_of(answer.data))
                else:
                    expect(answer.status >= 500, f"submit {index}: {answer}")
        finally:
            await ctx.admin.drop_fault(fault)
        expect(accepted, "no submit was accepted")
        finals = await asyncio.gather(*(ctx.settle(t) for t in accepted))
        for task_id, final in zip(accepted, finals):
            word = driver.status_of(final.data)
            expect(word == driver.succeeded, f"accepted task {task_id} ended {word!r}")


def _server_error(catalog, driver, status, submit_through, passed_on_or_recovered) -> None:
    @catalog.case(f"server-error-{status}",
                  f"An upstream {status} is passed on in the dialect's shape, or retried",
                  seed=f"{driver.seed}: errors", area="upstream", needs=NEEDS, cost=1)
    async def server_error(ctx: "Context") -> None:
        answer = await submit_through(ctx, {"status": status}, f"upstream {status}", times=1)
        await passed_on_or_recovered(ctx, answer, {500, 502, 503, 504}, str(status))
