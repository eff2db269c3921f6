"""sunor's own auth rule: the key travels in ``x-api-key``, never as a Bearer token."""

from __future__ import annotations

from ...case import Catalog, expect
from ...common import WRONG_KEY
from .api import BALANCE
from .driver import Sunor


def add_auth_cases(catalog: Catalog, driver: Sunor) -> None:
    @catalog.case("x-api-key-only", "The key goes in x-api-key: a Bearer token is refused",
                  seed=f"{driver.seed}: Code examples", area="auth")
    async def x_api_key_only(ctx) -> None:
        method, path, body = driver.song_request(ctx.marker())
        for what, m, p, b in (("submit", method, path, body), ("balance", "GET", BALANCE, None)):
            answer = await ctx.call(m, p, key=None, headers={
                "Authorization": f"Bearer {ctx.api_key}"}, **({} if b is None else {"json": b}))
            expect(answer.status == 401, f"{what} with the key as a Bearer token: {answer}")
            expect(answer.data.get("code") == 401, f"error code: {answer}")
        for key in (None, WRONG_KEY):
            answer = await ctx.call("GET", BALANCE, key=key)
            expect(answer.status == 401, f"balance with key {key!r}: {answer}")
