"""sunor's rate-limit window: the X-RateLimit-* headers on every answer, counting down
to a 429 in the error shape with a Retry-After."""

from __future__ import annotations

import asyncio
import time

from ...case import UPSTREAM_ADMIN, Catalog, expect
from .api import BALANCE
from .driver import Sunor

RATE_WINDOW = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def add_rate_limit_cases(catalog: Catalog, driver: Sunor) -> None:
    seed = driver.seed

    @catalog.case("window", "Every answer carries the X-RateLimit-* window",
                  seed=f"{seed}: Errors (429)", area="rate-limits")
    async def window(ctx) -> None:
        answer = await ctx.call("GET", BALANCE)
        expect(answer.status == 200, f"balance: {answer}")
        values = {}
        for name in RATE_WINDOW:
            value = answer.header(name)
            expect(value is not None and value.isdigit(),
                   f"{name} is {value!r} on {answer.method} {answer.url}")
            values[name] = int(value)
        expect(values["X-RateLimit-Remaining"] <= values["X-RateLimit-Limit"], f"{values}")
        expect(values["X-RateLimit-Reset"] >= int(time.time()) - 1,
               f"X-RateLimit-Reset {values['X-RateLimit-Reset']} is in the past")

    @catalog.case("countdown", "A key's window counts down to a 429 that says when to retry",
                  seed=f"{seed}: Errors (429)", area="rate-limits", needs=[UPSTREAM_ADMIN])
    async def countdown(ctx) -> None:
        key = await ctx.new_key(0, rate=0.5, burst=3)
        answers = [await ctx.call("GET", BALANCE, key=key, patient=False) for _ in range(3)]
        # The two past the window go together, leaving the bucket no time to refill.
        answers += await asyncio.gather(*(ctx.call("GET", BALANCE, key=key, patient=False)
                                          for _ in range(2)))
        statuses = [a.status for a in answers]
        expect(statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429],
               f"a window of 3 answered {statuses}")
        left = [int(a.header("X-RateLimit-Remaining") or -1) for a in answers]
        expect(left[:3] == [2, 1, 0] and left[3:] == [0, 0], f"X-RateLimit-Remaining: {left}")
        for answer in answers:
            expect(answer.header("X-RateLimit-Limit") == "3",
                   f"X-RateLimit-Limit {answer.header('X-RateLimit-Limit')!r}")
        for answer in answers[3:]:
            wait = answer.header("Retry-After")
            expect(wait is not None and wait.isdigit() and int(wait) >= 1,
                   f"a 429's Retry-After is {wait!r}")
            expect(answer.data.get("code") == 429 and answer.data.get("message"),
                   f"a 429 not in the error shape: {answer}")
