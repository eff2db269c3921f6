"""Tasks that act on an earlier clip, and what the result must keep of it: a
continuation plays its source up to ``continue_at``, a concat joins a chain into one
song, an upload of a song's own link copies it; and only the clip's owner may act on it."""

from __future__ import annotations

from ...case import CREDITS, SECOND_KEY, Catalog, expect
from .api import TASK, music, suno
from .calls import DIFFERENT, SAME, clips_of, likeness, make, real, same_start
from .driver import Sunor


def add_chain_cases(catalog: Catalog, driver: Sunor) -> None:
    seed = driver.seed

    @catalog.case("continuation", "Continuation: the source up to continue_at, then new music",
                  seed=f"{seed}: music — Continuation Mode", area="chains", needs=[CREDITS],
                  cost=2)
    async def continuation(ctx) -> None:
        source = clips_of(await make(ctx, music(
            "suno", gpt_description_prompt=ctx.marker("an upbeat song to continue"))), 2)[0]
        words = "[Chorus]\nKeep the music playing on"
        body = music("suno", continue_clip_id=source["id"], continue_at=30, prompt=words)
        clips = clips_of(await make(ctx, body), 2)
        for clip in clips:
            meta = clip["metadata"]
            expect(meta.get("continue_clip_id") == source["id"] and meta.get("continue_at") == 30,
                   f"a continuation that does not name its source and point: {meta}")
            expect(meta["prompt"] == words, f"the continuation sings {meta['prompt']!r}")
            expect(meta["duration"] > 30, f"a continuation at 30 s lasts {meta['duration']} s")
        await real(ctx, clips[:1])
        before, after = await likeness(ctx, clips[0]["audio_url"], source["audio_url"],
                                       [(0.0, 29.0), (31.0, 36.0)])
        expect(before > SAME, f"the continuation's first 29 s are not its source's "
                              f"(likeness {before:.3f})")
        expect(after < DIFFERENT, f"after continue_at the continuation still plays its source "
                                  f"(likeness {after:.3f})")

    @catalog.case("concat", "Concat of a continuation: one whole song, its parts joined",
                  seed=f"{seed}: concat — Concatenate clips", area="chains", needs=[CREDITS],
                  cost=1.7)
    async def concat(ctx) -> None:
        body = suno("upload", url=f"https://example.com/{ctx.token}/to-join.mp3")
        source = clips_of(await make(ctx, body), 1)[0]
        # No continue_at: the continuation starts at the end of the clip.
        continued = clips_of(await make(ctx, music("suno", continue_clip_id=source["id"],
                                                   prompt="[Outro]\nAnd on it goes")), 2)[0]
        at = continued["metadata"].get("continue_at")
        expect(at is not None and abs(at - source["metadata"]["duration"]) < 0.05,
               f"continue_at {at}, the source lasts {source['metadata']['duration']} s")
        [joined] = clips_of(await make(ctx, suno("concat", clip_id=continued["id"])), 1)
        length, whole = joined["metadata"]["duration"], continued["metadata"]["duration"]
        expect(length > source["metadata"]["duration"] + 10,
               f"the joined song ({length} s) is not longer than its first part "
               f"({source['metadata']['duration']} s)")
        expect(abs(length - whole) < 1.0,
               f"the joined song lasts {length} s, the chain it joins {whole} s")
        await real(ctx, [joined])
        await same_start(ctx, joined["audio_url"], source["audio_url"],
                         source["metadata"]["duration"] - 1)

    @catalog.case("upload-own-song", "Uploading a song's audio link makes a clip of that song",
                  seed=f"{seed}: upload — Upload audio", area="chains", needs=[CREDITS], cost=1.1)
    async def upload_own_song(ctx) -> None:
        source = clips_of(await make(ctx, music(
            "suno", gpt_description_prompt=ctx.marker("a song to upload again"))), 2)[0]
        [clip] = clips_of(await make(ctx, suno("upload", url=source["audio_url"])), 1)
        expect(clip["id"] != source["id"], "the upload reuses the source's id")
        expect(abs(clip["metadata"]["duration"] - source["metadata"]["duration"]) < 1.0,
               f"the upload lasts {clip['metadata']['duration']} s, the file "
               f"{source['metadata']['duration']} s")
        await real(ctx, [clip])
        await same_start(ctx, clip["audio_url"], source["audio_url"],
                         source["metadata"]["duration"] - 1)

    @catalog.case("foreign-clip", "Another key's clip cannot be continued or concatenated",
                  seed=f"{seed}: music — Continuation Mode", area="ids",
                  needs=[CREDITS, SECOND_KEY], cost=0.6)
    async def foreign_clip(ctx) -> None:
        [clip] = clips_of(await make(
            ctx, suno("upload", url=f"https://example.com/{ctx.token}/mine.mp3")), 1)
        for attempt in (music("suno", continue_clip_id=clip["id"], continue_at=5),
                        suno("concat", clip_id=clip["id"])):
            answer = await ctx.call("POST", TASK, json=attempt, key=ctx.run.second_key)
            expect(answer.status == 400,
                   f"another key's {attempt['task_type']} of clip {clip['id']}: {answer}")
            expect(answer.data.get("code") == 400, f"error code: {answer}")
        # The owner may: its concat of the same clip is made.
        clips_of(await make(ctx, suno("concat", clip_id=clip["id"])), 1)
