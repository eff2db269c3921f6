"""Clip ids: what the feed reads for a list of ids (order kept, unknown ones left out,
at most 50), unknown ids elsewhere, and another key's clip."""

from __future__ import annotations

from ...case import CREDITS, SECOND_KEY, Catalog, expect
from .calls import act, refused
from .driver import CONCAT, GENERATE, Openaihk
from .library import library


def add_cases(catalog: Catalog, driver: Openaihk) -> None:
    @catalog.case("feed-ids", "The feed reads up to 50 comma-separated ids, leaving out unknown "
                  "ones; both prefixes agree",
                  seed="seed 003: All results are retrieved via GET feed/clipsId1,clipsId2",
                  area="ids", needs=[CREDITS], cost=1)
    async def feed_ids(ctx) -> None:
        lib = await library(ctx)
        key = lib.key
        one, two = (c["id"] for c in lib.songs)
        both = await act(ctx, f"/sunoapi/feed/{two},{one}", key=key)
        expect([c["id"] for c in both] == [two, one], "the feed does not keep the order asked")
        mixed = await act(ctx, f"/sunoapi/feed/{one},{driver.unknown_id}", key=key)
        expect([c["id"] for c in mixed] == [one], f"a mixed list: {[c['id'] for c in mixed]}")
        newer = await act(ctx, f"/suno/feed/{one}", key=key)
        expect([c["id"] for c in newer] == [one] and newer[0]["status"] == "complete",
               "/suno/feed does not answer as /sunoapi/feed")
        many = ",".join([one, two] + [f"00000000-0000-4000-8000-{n:012d}" for n in range(49)])
        refused(await ctx.call("GET", f"/sunoapi/feed/{many}", key=key), 400, None,
                "51 ids in one feed")
        unknown = await ctx.call("GET", f"/sunoapi/feed/{driver.unknown_id}", key=key)
        refused(unknown, 404, "clip_not_found", "the feed of an unknown id")
        for path in (f"/sunoapi/act/timing/{driver.unknown_id}",
                     f"/sunoapi/act/wav/{driver.unknown_id}"):
            refused(await ctx.call("GET", path, key=key), 404, "clip_not_found", f"GET {path}")
        cover = await ctx.call("POST", GENERATE, key=key, json={
            "prompt": "x", "mv": "chirp-auk", "task": "cover", "cover_clip_id": driver.unknown_id})
        refused(cover, 404, "clip_not_found", "a cover of an unknown clip")

    @catalog.case("foreign-clip", "Another key can neither read nor build on a key's song",
                  seed="seed 003: cross-account (a clip belongs to its key)", area="ids",
                  needs=[CREDITS, SECOND_KEY], cost=1)
    async def foreign(ctx) -> None:
        song = (await library(ctx)).song["id"]
        other = ctx.run.second_key
        checks = [
            ("GET", f"/sunoapi/feed/{song}", None),
            ("GET", f"/sunoapi/act/wav/{song}", None),
            ("GET", f"/sunoapi/act/timing/{song}", None),
            ("POST", GENERATE, {"prompt": "x", "mv": "chirp-auk", "task": "cover",
                                "cover_clip_id": song}),
            ("POST", CONCAT, {"clip_id": song, "is_infill": False}),
        ]
        for method, path, body in checks:
            extra = {} if body is None else {"json": body}
            answer = await ctx.call(method, path, key=other, **extra)
            expect(answer.status in (403, 404), f"another key: {method} {path}: {answer}")
            expect(song not in answer.body.decode("utf-8", "replace") or answer.status >= 400,
                   f"another key was shown {song}")
