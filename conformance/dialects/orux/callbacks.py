"""orux's webhooks: one signed POST per task on its terminal status (SUCCESS, FAILED or
EXPIRED), the task exactly as GET shows it, which the driver's verify() accepts while
refusing a tampered, wrongly keyed, stale or unsigned copy."""

from __future__ import annotations

import asyncio
import time

import orjson

from ...case import CREDITS, RECEIVER, SIMULATOR, UPSTREAM_ADMIN, Catalog, Skipped, expect
from .calls import finish, start
from .driver import EVENT, SEED, SIGNATURE, TIMESTAMP, TOLERANCE_S, VOICE, Orux, header, sign


def add(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("signed", "Webhooks are signed copies of the task; a tampered or stale "
                  "one does not verify", seed=f"{SEED}: webhook_url (signed event)",
                  area="callbacks", needs=[CREDITS, RECEIVER], cost=0.4)
    async def signed(ctx) -> None:
        receiver = ctx.run.receiver
        address = receiver.address(ctx.token)
        ok = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                               "text": ctx.marker("Welcome"), "webhook_url": address})
        bad = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                                "text": ctx.marker("[sim:fail] Welcome"),
                                "callback_url": address})
        ended = {ok: await finish(ctx, ok), bad: await finish(ctx, bad, "FAILED")}
        got = await receiver.wait(ctx.token, lambda ds: len(ds) >= 2,
                                  timeout=ctx.run.callback_wait)
        posted = {(d.data or {}).get("task_id"): d for d in got}
        expect(set(posted) == {ok, bad} and len(got) == 2,
               f"expected one webhook each for {ok} and {bad}, got "
               f"{[(d.data or {}).get('task_id') for d in got]}")
        secret = await driver.webhook_secret(ctx)
        for task_id, status in ((ok, "SUCCESS"), (bad, "FAILED")):
            delivery = posted[task_id]
            expect(header(delivery.headers, EVENT) == status,
                   f"{EVENT} {header(delivery.headers, EVENT)!r} on a {status} webhook")
            expect((header(delivery.headers, "Content-Type") or "").startswith(
                "application/json"), "a webhook that is not JSON")
            problem = driver.verify(secret, delivery.body, delivery.headers)
            expect(problem is None, f"a genuine {status} webhook: {problem}")
            expect(delivery.data == ended[task_id],
                   f"the {status} webhook is not the task as GET shows it")
            expect(not driver.check_callback(ctx, delivery.data),
                   f"the webhook breaks the Task schema: "
                   f"{driver.check_callback(ctx, delivery.data)}")
        if secret is None:
            raise Skipped("no webhook secret known (--webhook-secret): the signatures' form "
                          "and freshness were checked, not their HMAC")
        genuine = posted[ok]
        raw, headers = genuine.body, dict(genuine.headers)
        stamp = header(headers, TIMESTAMP)
        at = raw.index(b'"SUCCESS"') + 2
        tampered = raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]
        expect(driver.verify(secret, tampered, headers) is not None,
               "verify() accepted a webhook whose body was changed by one byte")
        expect(driver.verify("whsec_wrong", raw, headers) is not None,
               "verify() accepted a webhook checked with the wrong secret")
        for offset in (-TOLERANCE_S - 1, TOLERANCE_S + 60):
            when = str(int(time.time() + offset))
            resigned = {TIMESTAMP: when, SIGNATURE: sign(secret, when, raw)}
            expect(driver.verify(secret, raw, resigned) is not None,
                   f"verify() accepted a correctly signed webhook {offset:+.0f} s off")
        expect(driver.verify(secret, raw, headers, now=int(stamp) + 360) is not None,
               "verify() accepted a genuine webhook replayed six minutes later")
        expect(driver.verify(secret, raw, {TIMESTAMP: stamp}) is not None,
               "verify() accepted a webhook without a signature")

    @catalog.case("expired-webhook", "A job expired past its TTL posts a signed EXPIRED event",
                  seed=f"{SEED}: webhook_url (terminal status)", area="callbacks",
                  needs=[CREDITS, RECEIVER, SIMULATOR, UPSTREAM_ADMIN], cost=1)
    async def expired_webhook(ctx) -> None:
        receiver = ctx.run.receiver
        task_id = await start(ctx, {"model": "suno-v5", "duration": 30,
                                    "prompt": ctx.marker("[sim:stuck] a job that never ends"),
                                    "webhook_url": receiver.address(ctx.token)})
        await asyncio.sleep(0.2)
        upstream = await ctx.admin.tasks_with(ctx.token, driver.provider)
        expect(len(upstream) == 1, f"{len(upstream)} upstream tasks for one request")
        await ctx.admin.call("POST", f"/tasks/{upstream[0]['id']}/outcome",
                             {"outcome": "fail", "reason": "timed_out"})
        await finish(ctx, task_id, "EXPIRED")
        got = await receiver.wait(ctx.token, lambda ds: len(ds) >= 1,
                                  timeout=ctx.run.callback_wait)
        expect(len(got) == 1, f"{len(got)} webhooks for one expired job")
        delivery = got[0]
        expect((delivery.data or {}).get("status") == "EXPIRED"
               and header(delivery.headers, EVENT) == "EXPIRED",
               f"the webhook of an expired job: {delivery.body[:200]!r}")
        problem = driver.verify(await driver.webhook_secret(ctx), delivery.body,
                                delivery.headers)
        expect(problem is None, f"the EXPIRED webhook: {problem}")
        expect(orjson.loads(delivery.body)["task_id"] == task_id, "the webhook names another task")
