"""What a gateway must do when its upstream has a bad day. These cases need the control
plane of the simulator behind the gateway (``--upstream-admin``): they inject a fault into
the upstream, scoped by a marker in the case's own prompt, and check what the gateway
answers. Against the simulator itself they check that it passes its own faults on.

A refusal the upstream documents (out of credits, rate limited) reaches the caller as the
dialect documents it: the same status and the same error code and type, since that is all
a client can tell "top up" from "slow down" by. Out of credits is made real, not faked: the
upstream account that pays is lowered to nothing for the length of the case
(:func:`paying_with`), so these cases run alone."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator

from .case import CREDITS, UPSTREAM_ADMIN, Catalog, expect, not_applicable
from .common import refused_as
from .context import CASE_KEY
from .dialect import NO_CREDITS, RATE_LIMITED

if TYPE_CHECKING:
    from .context import Context
    from .dialect import Driver

NEEDS = [CREDITS, UPSTREAM_ADMIN]
STUCK_POLLS = 4
ENDED = ("succeeded", "failed", "expired")  # the control plane's words for a finished task


async def upstream_key(ctx: "Context") -> str:
    """The upstream key the target pays with: against the simulator itself the case's
    own; through a gateway, the key of the task one song submitted through it made
    upstream (found once a run, and every task that song made finished first, so no
    balance moves after)."""
    if ctx.run.direct:
        return ctx.api_key
    driver = ctx.driver

    async def find() -> str:
        ctx.spend()
        marker = ctx.marker("which key pays upstream")
        method, path, body = driver.song_request(marker)
        answer = await ctx.call(method, path, json=body)
        expect(200 <= answer.status < 300, f"submitting a song: {answer}")
        made = await ctx.admin.tasks_with(marker, driver.provider)
        expect(made, f"a song submitted through the target made no task upstream: {answer}")
        await ctx.settle(driver.task_id_of(answer.data))
        deadline = time.monotonic() + ctx.run.timeout
        for task in made:
            while task["status"] not in ENDED and time.monotonic() < deadline:
                await asyncio.sleep(ctx.run.poll_every)
                task = await ctx.admin.call("GET", f"/tasks/{task['id']}")
        return made[0]["api_key"]

    return await ctx.run.once("upstream-key", find)


def charged(before: dict[str, Any], after: dict[str, Any]) -> float:
    """Credits newly held or spent between two reads of an account (the control plane's
    ``credits``/``held``/``spent``). Tasks of earlier cases that end meanwhile only move
    held credits to spent or back to available, so this grows only by new charges."""
    return after["held"] + after["spent"] - before["held"] - before["spent"]


@asynccontextmanager
async def paying_with(ctx: "Context", credits: float) -> AsyncIterator[tuple[Any, str]]:
    """``(key to call the target with, upstream key)``, the upstream key holding exactly
    ``credits`` available for the length of the block. Against the simulator itself a
    new key; through a gateway the run's own key, its upstream account lowered (or
    raised) to ``credits`` and given the difference back after. Every case through a
    gateway pays from that one account: a case using this must be exclusive."""
    if ctx.run.direct:
        key = await ctx.new_key(credits)
        yield key, key
        return
    upstream = await upstream_key(ctx)
    available = float((await ctx.admin.account(upstream))["credits"])
    delta = credits - available
    await ctx.admin.call("POST", f"/accounts/{upstream}/credits", {"delta": delta})
    try:
        yield CASE_KEY, upstream
    finally:
        back = -delta
        if back < 0:  # it was raised: take back at most what is left
            back = -min(-back, float((await ctx.admin.account(upstream))["credits"]))
        await ctx.admin.call("POST", f"/accounts/{upstream}/credits", {"delta": back})


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
            refused_as(driver, answer, driver.refusal(RATE_LIMITED), "an upstream 429")
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

    no_credits = driver.refusal(NO_CREDITS)

    @catalog.case("insufficient-credits",
                  f"Upstream out of credits reaches the caller as the dialect's {no_credits}",
                  seed=f"{seed}: errors", area="upstream", needs=NEEDS, cost=2, exclusive=True)
    async def insufficient(ctx: "Context") -> None:
        async with paying_with(ctx, 0) as (key, _):
            method, path, body = driver.song_request(ctx.marker("no credits upstream"))
            answer = await ctx.call(method, path, json=body, key=key, patient=False)
        if 200 <= answer.status < 300:  # another upstream account paid: a real song
            await passed_on_or_recovered(ctx, answer, set(), "refusal (out of credits)")
            return
        refused_as(driver, answer, no_credits, "an upstream out of credits")

    @catalog.case("expired", "Results past retention reach the dialect's expired answer",
                  seed=f"{seed}: retention", area="upstream", needs=NEEDS, cost=1)
    async def expired(ctx: "Context") -> None:
        if not driver.expires:
            raise not_applicable("the dialect keeps results")
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
        if answer.status >= 500:
            expect(driver.error_of(answer.data) is not None,
                   f"an upstream {status} reached the caller outside the dialect's error "
                   f"shape: {answer}")
