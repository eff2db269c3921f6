"""How sunor moves credits: frozen at submit, spent on success, given back on failure,
and a 402 that freezes nothing when a key cannot pay."""

from __future__ import annotations

from ...case import CREDITS, SIMULATOR, UPSTREAM_ADMIN, Catalog, expect
from ...upstream import paying_with
from .api import OUTSIDE_URL, PRICES, TASK, music, suno
from .calls import balance_of, finish, submit
from .driver import Sunor


def add_credit_cases(catalog: Catalog, driver: Sunor) -> None:
    seed = driver.seed

    # Exclusive: through a gateway the run's one key pays for every case, and these
    # read its balance to the credit.
    @catalog.case("frozen-then-spent", "Credits are frozen at submit and spent on success",
                  seed=f"{seed}: Response", area="credits", needs=[CREDITS], cost=0.5,
                  exclusive=True)
    async def frozen_then_spent(ctx) -> None:
        price = PRICES[("suno", "lyrics")]
        body = suno("lyrics", prompt=ctx.marker("coins"))
        before = await balance_of(ctx)
        created = await submit(ctx, body)
        held = await balance_of(ctx)
        expect(before["available"] - held["available"] == price
               and held["frozen"] - before["frozen"] == price
               and held["total"] == before["total"],
               f"submitting froze the wrong credits: {before} -> {held}, price {price}")
        await finish(ctx, created["task_id"], body)
        after = await balance_of(ctx)
        expect(after["frozen"] == before["frozen"] and before["total"] - after["total"] == price,
               f"a finished task spent the wrong credits: {before} -> {after}, price {price}")

    @catalog.case("refund", "A failed task's frozen credits come back",
                  seed=f"{seed}: Response", area="credits", needs=[CREDITS, SIMULATOR],
                  cost=0.5, exclusive=True)
    async def refund(ctx) -> None:
        body = suno("lyrics", prompt=ctx.marker("[sim:fail] words that fail"))
        before = await balance_of(ctx)
        created = await submit(ctx, body)
        await finish(ctx, created["task_id"], body, status="failure")
        after = await balance_of(ctx)
        expect(after == before, f"a failed task kept credits: {before} -> {after}")

    # Through a gateway the upstream account that pays is lowered for the case (hence
    # exclusive); against the simulator the case has keys of its own.
    @catalog.case("insufficient", "Too few credits is a 402, nothing frozen; a cheaper task fits",
                  seed=f"{seed}: Errors", area="credits", needs=[CREDITS, UPSTREAM_ADMIN],
                  cost=1.5, exclusive=True)
    async def insufficient(ctx) -> None:
        async with paying_with(ctx, 0) as (empty, _):
            answer = await ctx.call("POST", TASK, key=empty,
                                    json=suno("upload", url=OUTSIDE_URL))
            expect(answer.status == 402, f"a key without credits uploading: {answer}")
            expect(answer.data.get("code") == 402, f"error code: {answer}")
        async with paying_with(ctx, 9) as (nine, _):
            before = await balance_of(ctx, nine)
            answer = await ctx.call("POST", TASK, key=nine, json=music(
                "suno", gpt_description_prompt=ctx.marker("too dear")))
            expect(answer.status == 402, f"9 credits for a 10-credit song: {answer}")
            expect(answer.data.get("code") == 402, f"error code: {answer}")
            # Tasks of earlier cases may end meanwhile (through a gateway), which only
            # unfreezes credits: a charge is less available, or more frozen.
            now = await balance_of(ctx, nine)
            expect(now["available"] >= before["available"] and now["frozen"] <= before["frozen"],
                   f"a refused task froze credits: {before} -> {now}")
            created = await submit(ctx, music("udio", prompt=ctx.marker("cheap lofi")), nine)
            after = await balance_of(ctx, nine)
            expect((after["available"], after["frozen"], after["total"]) ==
                   (before["available"] - 5, before["frozen"] + 5, before["total"]),
                   f"a 5-credit Udio task on 9 credits: {before} -> {after}")
            await ctx.settle(created["task_id"], key=nine)  # nothing left frozen after
