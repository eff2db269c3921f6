"""Credits: what each call holds and spends, read from the simulator's accounts. Each
case pays with a wallet, a key holding an exact balance, so against a gateway (whose
balances are its own business) they skip; except the refusal of a balance short of the
price, which a gateway passes on: through one, its upstream account is lowered instead."""

from __future__ import annotations

import asyncio

from ...case import CREDITS, SIMULATOR, UPSTREAM_ADMIN, Catalog, expect
from ...upstream import charged, paying_with
from .calls import act, finish, made, refused, submit, uploaded, until
from .driver import (CONCAT, GENERATE, LYRICS, LYRICS_MASHUP, PERSONA, SMALL, TAGS, Openaihk,
                     clips_of)

NEEDS = [CREDITS, UPSTREAM_ADMIN]


async def wallet(ctx, credits: float) -> str:
    """A new key holding exactly ``credits`` (the dialect shows no balance)."""
    return await ctx.new_key(credits)


async def balance(ctx, key: str) -> dict[str, float]:
    """A key's account: its credits, and what is held and spent."""
    return await ctx.admin.account(key)


def add_cases(catalog: Catalog, driver: Openaihk) -> None:
    @catalog.case("insufficient-quota", "A balance short of the price is a 403 "
                  "insufficient_quota, charging nothing",
                  seed="seed 003: billing", area="credits", needs=NEEDS, cost=1,
                  exclusive=True)
    async def insufficient(ctx) -> None:
        for start, path, body, what in (
                (950, GENERATE, {"gpt_description_prompt": ctx.marker("too poor")},
                 "a generation past the balance"),
                (50, TAGS, {"original_tags": "student"}, "tags past the balance")):
            async with paying_with(ctx, start) as (key, upstream):
                before = await balance(ctx, upstream)
                answer = await ctx.call("POST", path, key=key, json=body)
                refused(answer, 403, "insufficient_user_quota", what)
                expect(answer.data["error"]["type"] == "insufficient_quota",
                       f"error type {answer.data['error']['type']!r}")
                after = await balance(ctx, upstream)
                expect(not charged(before, after),
                       f"a refused request charged something: {before} -> {after}")

    @catalog.case("failed-refund", "A generation that ends in error gives the held credits back",
                  seed="seed 003: billing", area="credits", needs=NEEDS + [SIMULATOR], cost=1)
    async def refund(ctx) -> None:
        key = await wallet(ctx, 2000)
        ctx.spend()
        _, task_id = await submit(ctx, {"gpt_description_prompt":
                                        ctx.marker("[sim:fail] a failing song")}, key=key)
        final = await ctx.settle(task_id, key=key)
        expect(driver.status_of(final.data) == "error", f"ended {driver.status_of(final.data)}")
        for clip in clips_of(final.data):
            meta = clip["metadata"]
            expect(isinstance(meta.get("error_message"), str) and meta["error_message"],
                   f"an error clip says nothing of why: {meta}")
        after = await balance(ctx, key)
        expect((after["credits"], after["held"], after["spent"]) == (2000, 0, 0),
               f"a failed generation was not refunded: {after}")

    @catalog.case("chain-prices", "concat costs 100 (a song after an upload), twelve stems "
                  "cost five songs",
                  seed="seed 003: 5.D, 6.C (concat billing); 14. (5x base price)",
                  area="credits", needs=NEEDS, cost=9 + SMALL)
    async def chain_prices(ctx) -> None:
        key = await wallet(ctx, 20_000)
        (_, clips), upload = await asyncio.gather(
            made(ctx, {"prompt": LYRICS, "tags": "pop", "title": "Work",
                       "negative_tags": ctx.marker()}, key=key),
            uploaded(ctx, key=key))
        song = clips[0]["id"]

        async def held_by(body, songs: float, path: str = GENERATE) -> tuple[float, str]:
            before = (await balance(ctx, key))["credits"]
            _, task_id = await submit(ctx, body, key=key, path=path, songs=songs)
            return before - (await balance(ctx, key))["credits"], task_id

        extend = {"prompt": "lyrics", "mv": "chirp-v4", "task": "extend", "tags": "pop",
                  "continue_clip_id": song, "continue_at": 20}
        up_extend = {**extend, "task": "upload_extend", "continue_clip_id": upload["id"]}
        twelve = {"task": "gen_stem", "mv": "chirp-auk", "prompt": "", "continue_clip_id": song,
                  "stem_task": "twelve", "stem_type_group_name": "Twelve"}
        tasks = []
        for name, body, songs, price in (("extend", extend, 1, 1000),
                                         ("upload_extend", up_extend, 1, 1000),
                                         ("twelve stems", twelve, 5, 5000)):
            charged, task_id = await held_by(body, songs)
            expect(charged == price, f"{name} held {charged:g} credits, expected {price}")
            tasks.append(task_id)
        done = await asyncio.gather(*(finish(ctx, t, key=key) for t in tasks))
        for name, clips, price in (("concat", done[0], 100),
                                   ("concat after an upload", done[1], 1000)):
            charged, task_id = await held_by({"clip_id": clips[0]["id"], "is_infill": False},
                                             price / 1000, path=CONCAT)
            expect(charged == price, f"{name} held {charged:g} credits, expected {price}")
            await finish(ctx, task_id, key=key)
        after = await balance(ctx, key)
        expect(after["held"] == 0 and after["spent"] == 1000 + 1000 + 1000 + 5000 + 100 + 1000,
               f"after everything finished: {after}")

    @catalog.case("prices", "A generation holds one song's price at submit and spends it on "
                  "completion; wav and midi bill 100 once however often asked; mp4, persona, "
                  "vox, tags and lyrics mashup 100 each; timing is free",
                  seed="seed 003: billing (one song; 100 credits for 9., 11.-13., 18., 19., "
                       "21., 23.)", area="credits", needs=NEEDS, cost=1 + 8 * SMALL)
    async def prices(ctx) -> None:
        await asyncio.gather(_generation(ctx), _act_prices(ctx))

# --- the parts the cases above run side by side ----------------------------------------


async def _generation(ctx) -> None:
    key = await wallet(ctx, 1650)
    _, task_id = await submit(ctx, {"gpt_description_prompt": ctx.marker("billed")},
                              key=key)
    held = await balance(ctx, key)
    expect((held["credits"], held["held"]) == (650, 1000),
           f"after submit: credits {held['credits']}, held {held['held']} "
           "(expected 650 and 1000)")
    await finish(ctx, task_id, key=key)
    done = await balance(ctx, key)
    expect((done["credits"], done["held"], done["spent"]) == (650, 0, 1000),
           f"after completion: {done}")
    ctx.spend(2 * SMALL)
    answer = await ctx.call("POST", TAGS, key=key, json={"original_tags": "student"})
    expect(answer.status == 200, f"tags: {answer}")
    answer = await ctx.call("POST", LYRICS_MASHUP, key=key,
                            json={"lyrics_a": "one two", "lyrics_b": "three four"})
    expect(answer.status == 200, f"lyrics mashup: {answer}")
    after = await balance(ctx, key)
    expect(after["credits"] == 450, f"tags and lyrics mashup cost "
                                    f"{650 - after['credits']:g}, expected 200")


async def _act_prices(ctx) -> None:
    key = await wallet(ctx, 10_000)
    _, clips = await made(ctx, {"prompt": LYRICS, "tags": "pop", "title": "Work",
                                "negative_tags": ctx.marker()}, key=key)
    song = clips[0]["id"]
    ctx.spend(6 * SMALL)

    async def cost(action) -> float:
        before = (await balance(ctx, key))["credits"]
        await action()
        return before - (await balance(ctx, key))["credits"]

    async def wav():
        await until(ctx, f"/sunoapi/act/wav/{song}", lambda d: d.get("wav_file_url"),
                    key=key)
        await act(ctx, f"/sunoapi/act/wav/{song}", key=key)

    async def midi():
        await until(ctx, f"/suno/act/midi/{song}", lambda d: d.get("state") == "complete",
                    key=key)

    async def mp4_twice():
        for _ in range(2):
            await act(ctx, f"/sunoapi/act/mp4/{song}", key=key)

    async def timing():
        await act(ctx, f"/sunoapi/act/timing/{song}", key=key)

    async def post(path, body):
        answer = await ctx.call("POST", path, key=key, json=body)
        expect(answer.status == 200, f"POST {path}: {answer}")

    persona = {"root_clip_id": song, "name": "p", "description": "d", "clips": [song],
               "is_public": False}
    checks = [("wav", wav, 100), ("midi", midi, 100), ("mp4 twice", mp4_twice, 200),
              ("timing", timing, 0),
              ("persona", lambda: post(PERSONA, persona), 100),
              ("vox", lambda: post(f"/suno/act/vox/{song}",
                                   {"vocal_start_s": 5, "vocal_end_s": 20}), 100)]
    for name, action, price in checks:
        charged = await cost(action)
        expect(charged == price, f"{name} cost {charged:g} credits, expected {price}")
