"""The cases every dialect shares, written once against the :class:`Driver` interface:
auth, documented validation rules, a song end to end, status vocabulary, media, credits,
unknown and foreign ids, rate limiting and callbacks."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

from . import audio
from .case import (CREDITS, RECEIVER, SECOND_KEY, SIMULATOR, UPSTREAM_ADMIN, Catalog,
                   CaseFailed, expect, not_applicable)
from .dialect import INVALID, MISSING_KEY, NOT_FOUND, RATE_LIMITED
from .dialect import WRONG_KEY as UNKNOWN_KEY

if TYPE_CHECKING:
    from .context import Answer, Context
    from .dialect import Driver, Refusal

AUDIO_TOLERANCE_S = 1.0  # claimed vs measured length of a song
WRONG_KEY = "sk-musicsim-conformance-wrong-key"
MEDIA_TYPES = {"audio": ("audio/",), "image": ("image/",), "video": ("video/",)}


def refused(answer: "Answer", status: int, what: str) -> None:
    expect(answer.status == status, f"{what}: expected {status}, got {answer}")


def refused_as(driver: "Driver", answer: "Answer", refusal: "Refusal", what: str) -> None:
    """The answer is ``refusal`` exactly: its status, the dialect's error shape, and the
    code and type that say which refusal it is."""
    problem = driver.refusal_problem(answer, refusal)
    expect(problem is None, f"{what}: {problem}")


def add_shared_cases(catalog: Catalog, driver: "Driver") -> None:
    seed = driver.seed

    @catalog.case("missing-key",
                  f"A request without a key is refused with {driver.missing_key_status}",
                  seed=f"{seed}: authentication", area="auth")
    async def missing_key(ctx: "Context") -> None:
        refusal = driver.refusal(MISSING_KEY)
        method, path, body = driver.song_request(ctx.marker())
        refused_as(driver, await ctx.call(method, path, json=body, key=None), refusal,
                   "submit without a key")
        method, path, body = driver.poll_request(driver.unknown_id)
        extra = {} if body is None else {"json": body}
        refused_as(driver, await ctx.call(method, path, key=None, **extra), refusal,
                   "poll without a key")

    @catalog.case("wrong-key", "A request with an unknown key is refused with 401",
                  seed=f"{seed}: authentication", area="auth")
    async def wrong_key(ctx: "Context") -> None:
        refusal = driver.refusal(UNKNOWN_KEY)
        method, path, body = driver.song_request(ctx.marker())
        refused_as(driver, await ctx.call(method, path, json=body, key=WRONG_KEY), refusal,
                   "submit with a wrong key")
        method, path, body = driver.poll_request(driver.unknown_id)
        extra = {} if body is None else {"json": body}
        refused_as(driver, await ctx.call(method, path, key=WRONG_KEY, **extra), refusal,
                   "poll with a wrong key")

    for invalid in driver.invalid_requests():
        _validation_case(catalog, driver, invalid)

    @catalog.case("unknown-task", "Polling an id that does not exist is the dialect's not-found",
                  seed=f"{seed}: task query", area="ids")
    async def unknown_task(ctx: "Context") -> None:
        answer = await driver.poll(ctx, driver.unknown_id)
        refused_as(driver, answer, driver.refusal(NOT_FOUND),
                   f"polling unknown task {driver.unknown_id}")

    @catalog.case("song", "A song is submitted, polled to success, and has results",
                  seed=f"{seed}: generation and task query", area="scenarios", needs=[CREDITS],
                  cost=1)
    async def song(ctx: "Context") -> None:
        answer = await ctx.song("a bright pop song about the sea")
        media = driver.media_of(answer.data)
        expect(any(m.kind == "audio" for m in media), f"no audio link in the result: {answer}")

    @catalog.case("vocabulary", "Every status is a word of the dialect and only moves forward",
                  seed=f"{seed}: task status", area="states", needs=[CREDITS], cost=1)
    async def vocabulary(ctx: "Context") -> None:
        ctx.spend()
        task_id = await driver.submit(ctx, ctx.marker("a calm piano piece"))
        answer = await ctx.settle(task_id, poll_every=min(ctx.run.poll_every, 0.2))
        seen = ctx.states[task_id]
        expect(seen[-1] == driver.succeeded, f"task {task_id} ended {seen[-1]!r}: {answer}")
        expect(len(seen) >= 2, f"task {task_id} was never seen before it finished: {seen}")

    @catalog.case("failed", "A task that fails upstream ends in the dialect's failed status",
                  seed=f"{seed}: task status", area="states", needs=[CREDITS, SIMULATOR], cost=1)
    async def failed(ctx: "Context") -> None:
        ctx.spend()
        task_id = await driver.submit(ctx, ctx.marker("[sim:fail] a song that fails"))
        answer = await ctx.settle(task_id)
        word = driver.status_of(answer.data)
        expect(word in driver.failed, f"task {task_id} ended {word!r}, not failed: {answer}")

    @catalog.case("resolve", "Every media link serves its claimed type, length and duration",
                  seed=f"{seed}: results", area="media", needs=[CREDITS], cost=1)
    async def resolve(ctx: "Context") -> None:
        answer = await ctx.song("a lo-fi beat to check links")
        media = driver.media_of(answer.data)
        expect(media, f"no media links in the result: {answer}")
        for item in media:
            await check_media(ctx, item)

    @catalog.case("charged", "A song costs the documented price, charged once",
                  seed=f"{seed}: pricing", area="credits", needs=[CREDITS], cost=1,
                  exclusive=True)
    async def charged(ctx: "Context") -> None:
        before = await driver.balance(ctx)
        if before is None:
            raise not_applicable("the dialect shows no balance")
        held = await driver.held(ctx)
        await ctx.song("a song to count credits")
        if held is not None:  # a second charge may still be held: wait for it to settle
            deadline = asyncio.get_running_loop().time() + ctx.run.timeout
            while await driver.held(ctx) > held + 1e-6 \
                    and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(ctx.run.poll_every)
        after = await driver.balance(ctx)
        expect(abs((before - after) - driver.price) < 1e-6,
               f"balance went from {before:g} to {after:g}: charged {before - after:g}, "
               f"the price is {driver.price:g}")

    @catalog.case("one-upstream-task", "One request makes one upstream task (no double charge)",
                  seed=f"{seed}: pricing", area="credits", needs=[CREDITS, UPSTREAM_ADMIN],
                  cost=1)
    async def one_upstream_task(ctx: "Context") -> None:
        await ctx.song("one request one task")
        made = await ctx.admin.tasks_with(ctx.token, driver.provider)
        expect(len(made) == 1, f"one request made {len(made)} upstream tasks "
                               f"({', '.join(t['id'] for t in made)})")

    @catalog.case("foreign-task", "A key cannot see another key's task",
                  seed=f"{seed}: task query", area="ids", needs=[CREDITS, SECOND_KEY], cost=1)
    async def foreign_task(ctx: "Context") -> None:
        ctx.spend()
        task_id = await driver.submit(ctx, ctx.marker("a private song"))
        answer = await driver.poll(ctx, task_id, key=ctx.run.second_key)
        expect(answer.status in (driver.unknown_status, 403),
               f"another key polled task {task_id}: {answer}")
        expect(driver.error_of(answer.data) is not None,
               f"another key's poll of task {task_id} is not the dialect's error: {answer}")
        await ctx.settle(task_id)

    @catalog.case("burst", "Past the rate limit, a 429 in the dialect's shape and headers",
                  seed=f"{seed}: rate limits", area="rate-limits", needs=[UPSTREAM_ADMIN],
                  exclusive=True)
    async def burst(ctx: "Context") -> None:
        limits = await ctx.admin.call("GET", "/rate-limits")
        await ctx.admin.call("PUT", f"/rate-limits/{driver.provider}", {"rate": 0.5, "burst": 2})
        try:
            answers = await asyncio.gather(*(driver.poll(ctx, driver.unknown_id, patient=False)
                                              for _ in range(8)))
        finally:
            old = limits["limits"][driver.provider]
            await ctx.admin.call("PUT", f"/rate-limits/{driver.provider}",
                                 {"rate": old.get("rate", 0), "burst": old.get("burst", 1)})
        limited = [a for a in answers if a.status == 429]
        expect(limited, "8 requests at once past a limit of 2 got no 429: "
                        + ", ".join(str(a.status) for a in answers))
        for answer in limited:
            refused_as(driver, answer, driver.refusal(RATE_LIMITED), "past the rate limit")
            for header in driver.rate_headers:
                expect(answer.header(header) is not None,
                       f"a 429 without the dialect's {header} header: {answer.headers}")

    @catalog.case("stages", "Callbacks arrive at the runner's receiver in the dialect's stages",
                  seed=f"{seed}: callbacks", area="callbacks", needs=[CREDITS, RECEIVER], cost=1)
    async def stages(ctx: "Context") -> None:
        if not driver.callback_stages:
            raise not_applicable("the dialect sends no callbacks")
        receiver = ctx.run.receiver
        ctx.spend()
        address = receiver.address(ctx.token)
        task_id = await driver.submit(ctx, ctx.marker("a song with callbacks"),
                                      callback_url=address)
        await ctx.settle(task_id)
        last = driver.callback_stages[-1]
        got = await receiver.wait(
            ctx.token, lambda ds: any(driver.callback_stage(d.data) == last for d in ds),
            timeout=ctx.run.callback_wait)
        names = [driver.callback_stage(d.data) for d in got]
        expect(last in names, f"no {last!r} callback reached {address} (got {names})")
        expected = [s for s in driver.callback_stages
                    if s in names or s not in driver.optional_stages]
        order = [s for s in dict.fromkeys(names)]
        expect(order == expected, f"callback stages {order}, expected {expected}")
        secret = await driver.webhook_secret(ctx)
        for delivery in got:
            problem = driver.verify(secret, delivery.body, delivery.headers)
            expect(problem is None, f"a {driver.callback_stage(delivery.data)!r} callback: "
                                    f"{problem}")
            spec_problems = driver.check_callback(ctx, delivery.data)
            expect(not spec_problems, f"a callback breaks the spec: {spec_problems}")


def _validation_case(catalog: Catalog, driver: "Driver", invalid) -> None:
    @catalog.case(invalid.name, invalid.rule or f"Refused: {invalid.name}",
                  seed=f"{driver.seed}: request parameters", area="validation")
    async def check(ctx: "Context") -> None:
        method, path, _ = driver.song_request(ctx.marker())
        body = invalid.body
        if isinstance(body, bytes):
            answer = await ctx.call(method, invalid.path or path, raw=body,
                                    headers={"Content-Type": "application/json"})
        else:
            answer = await ctx.call(method, invalid.path or path, json=body)
        refused_as(driver, answer, driver.refusal(INVALID, invalid.status),
                   invalid.rule or invalid.name)


async def check_media(ctx: "Context", item) -> None:
    """A link answers 200 with the claimed kind of file, an honest Content-Length and,
    for audio and video, the claimed duration."""
    answer = await ctx.fetch(item.url)
    expect(answer.status == 200, f"{item.kind} link {item.url}: {answer.status}")
    kind = answer.header("content-type") or ""
    expect(kind.startswith(MEDIA_TYPES[item.kind]),
           f"{item.kind} link {item.url} serves {kind!r}")
    length = answer.header("content-length")
    expect(length is not None and int(length) == len(answer.body) and answer.body,
           f"{item.url}: Content-Length {length} for {len(answer.body)} bytes")
    if item.kind in ("audio", "video") and item.duration:
        measured = await asyncio.to_thread(audio.seconds, answer.body)
        expect(measured is not None, f"{item.url} does not decode as {kind}")
        expect(abs(measured - item.duration) <= AUDIO_TOLERANCE_S,
               f"{item.url} plays {measured:.2f} s, the API says {item.duration:g} s")
    elif item.kind == "image":
        from PIL import Image
        try:
            Image.open(io.BytesIO(answer.body)).verify()
        except Exception as exc:  # any decoder complaint means it is not an image
            raise CaseFailed(f"{item.url} is not a readable image: {exc}")
