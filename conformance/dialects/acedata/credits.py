"""What actions cost. The dialect shows no balance, so these cases read it from the
control plane, on a key of their own with an exact balance: only when the simulator
itself is the target (through a gateway the upstream key is not the caller's). The
refusal of a key without balance is the exception: a gateway passes it on, so through
one its upstream account is lowered instead."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ...case import CREDITS, SIMULATOR, UPSTREAM_ADMIN, Catalog, expect
from ...upstream import charged, paying_with
from .calls import accepted, follow, made, refused
from .driver import PRICES, Acedata

if TYPE_CHECKING:
    from ...context import Context


async def exact_key(ctx: "Context", credits: float) -> str:
    """A new key holding exactly ``credits`` (the dialect shows no balance)."""
    return await ctx.new_key(credits)


async def balance(ctx: "Context", key: str) -> float:
    """The key's credits, as the control plane counts them."""
    return float((await ctx.admin.account(key))["credits"])


def add_credit_cases(catalog: Catalog, driver: Acedata) -> None:
    """Prices per action, nothing for a failed task, and a key without enough balance."""
    seed = driver.seed

    @catalog.case("prices", "Each action costs its price once it succeeds; a failed task "
                  "costs nothing", seed=f"{seed}: response (allow use general balance)",
                  area="credits", needs=[CREDITS, UPSTREAM_ADMIN, SIMULATOR], cost=5)
    async def prices(ctx: "Context") -> None:
        start = 20.0
        key = await exact_key(ctx, start)
        _, songs = await made(ctx, {"action": "generate", "prompt": ctx.marker("priced")}, key)
        after = await balance(ctx, key)
        expect(abs(start - after - PRICES["generate"]) < 1e-6,
               f"a generation cost {start - after:g}, its price is {PRICES['generate']:g}")
        ctx.spend()
        failing = (await accepted(ctx, {"action": "generate",
                                        "prompt": ctx.marker("[sim:fail] unpaid")}, key))
        await asyncio.gather(
            made(ctx, {"action": "concat", "audio_id": songs[0]["id"]}, key, count=1),
            made(ctx, {"action": "all_stems", "audio_id": songs[0]["id"]}, key, count=None),
            follow(ctx, failing["task_id"], key))
        spent = after - await balance(ctx, key)
        expected = PRICES["concat"] + PRICES["all_stems"]
        expect(abs(spent - expected) < 1e-6,
               f"concat, all_stems and a failed song cost {spent:g}, expected {expected:g} "
               f"(concat {PRICES['concat']:g} + all_stems {PRICES['all_stems']:g} + 0)")

    @catalog.case("used-up", "A key without enough balance is refused with 403 used_up and "
                  "charged nothing", seed=f"{seed}: response (allow use general balance)",
                  area="credits", needs=[CREDITS, UPSTREAM_ADMIN], cost=1, exclusive=True)
    async def used_up(ctx: "Context") -> None:
        start = round(PRICES["generate"] / 2, 2)
        async with paying_with(ctx, start) as (key, upstream):
            marker = ctx.marker("too poor")
            method, path, body = driver.song_request(marker)
            before = await ctx.admin.account(upstream)
            answer = await ctx.call(method, path, json=body, key=key)
            refused(answer, 403, "used_up", "a song on a key with half its price")
            after = await ctx.admin.account(upstream)
            expect(not charged(before, after) and after["credits"] >= start,
                   f"a refused request was charged: {before} -> {after}")
        made_tasks = await ctx.admin.tasks_with(marker, driver.provider)
        expect(not made_tasks, f"a refused request made tasks: {[t['id'] for t in made_tasks]}")
