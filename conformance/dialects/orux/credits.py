"""What tasks cost: a chain's credits counted on its original song, credits held at
submit then spent or returned, and the quota error of a key that cannot pay."""

from __future__ import annotations

from ...case import CREDITS, UPSTREAM_ADMIN, Catalog, expect
from ...upstream import charged, paying_with
from .calls import account, chained, error_of, finish, finish_all, song, start
from .driver import PRICES, SEED, TASKS, VOICE, Orux
from .results import check_chain_refs


def add(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("chain-attribution", "A chain's cost is attributed to the original song",
                  seed=f"{SEED}: Suno v5 multi-step workflow (cost attribution)",
                  area="credits", needs=[CREDITS], cost=4)
    async def chain_attribution(ctx) -> None:
        root = await song(ctx, "a song whose chain is counted")
        root_id = root["task_id"]
        expect(root["credits"] == PRICES["generate"] and root["chain_credits"] == PRICES[
            "generate"], f"a lone song: credits {root['credits']}, chain "
                         f"{root['chain_credits']}")
        ids = {"extend": await start(ctx, chained(ctx, root_id, "extend", duration=30)),
               "wav": await start(ctx, chained(ctx, root_id, "wav"))}
        failed = None
        if ctx.run.admin is not None:  # a simulator behind the target: a link that fails
            failed = await finish(ctx, await start(ctx, chained(
                ctx, root_id, "cover", prompt=ctx.marker("[sim:fail] a cover"))), "FAILED")
            expect(failed["root_task_id"] == root_id and failed["result"] is None,
                   f"a failed chained task: {failed}")
        tasks = await finish_all(ctx, ids)
        grandchild = await finish(ctx, await start(ctx, chained(
            ctx, tasks["extend"]["task_id"], "wav")))
        check_chain_refs(grandchild, "wav", tasks["extend"]["task_id"], root_id)
        total = PRICES["generate"] + PRICES["extend"] + PRICES["wav"] * 2
        for task_id in (root_id, tasks["extend"]["task_id"], grandchild["task_id"]):
            now = (await ctx.poll(task_id)).data
            expect(now["chain_credits"] == total,
                   f"task {task_id}: chain_credits {now['chain_credits']}, the chain cost "
                   f"{total:g}" + (" (a failed cover costs nothing)" if failed else ""))

    @catalog.case("held-spent-refunded", "Credits are held at submit, spent on success, "
                  "returned on failure", seed=f"{SEED}: credits", area="credits",
                  needs=[CREDITS, UPSTREAM_ADMIN], cost=2)
    async def held_spent_refunded(ctx) -> None:
        key = await ctx.new_key(100)
        ok = await start(ctx, {"model": "suno-v5", "prompt": ctx.marker("paid"),
                               "duration": 30}, key=key)
        # ElevenLabs music, not speech: speech is synchronous, so it is never seen held.
        bad = await start(ctx, {"model": "elevenlabs-music",
                                "prompt": ctx.marker("[sim:fail] refunded")}, key=key)
        now = await account(ctx, key)
        held = PRICES["generate"] + PRICES["elevenlabs-music"]
        expect(now["held"] + now["spent"] == held and now["credits"] == 100 - held,
               f"after submitting {held:g} credits of work: {now}")
        await finish(ctx, ok, key=key)
        await finish(ctx, bad, "FAILED", key=key)
        after = await account(ctx, key)
        expect((after["credits"], after["held"], after["spent"]) ==
               (100 - PRICES["generate"], 0, PRICES["generate"]),
               f"the song spent, the failure returned: {after}")

    # Through a gateway the upstream account that pays is lowered for the case (hence
    # exclusive); against the simulator the case has a key of its own.
    @catalog.case("quota-exceeded", "A key that cannot cover a task gets 429 quota_exceeded",
                  seed=f"{SEED}: credits", area="credits", needs=[CREDITS, UPSTREAM_ADMIN],
                  cost=1.2, exclusive=True)
    async def quota_exceeded(ctx) -> None:
        async with paying_with(ctx, PRICES["generate"] - 1) as (key, upstream):
            before = await account(ctx, upstream)
            answer = await ctx.call("POST", TASKS, key=key, patient=False, json={
                "model": "suno-v5", "prompt": ctx.marker("too dear"), "duration": 30})
            error = error_of(answer, 429, "rate_limit_error", "quota_exceeded")
            expect(error["channel"] is None, f"quota error names a channel: {error}")
            after = await account(ctx, upstream)
            expect(not charged(before, after), f"a refused task charged the key: {before} -> "
                                               f"{after}")
            task_id = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                                        "text": ctx.marker("a cheaper task fits")}, key=key)
            await finish(ctx, task_id, key=key)
