"""Every kind of task seed 001 documents, made end to end: Suno's inspiration and custom
modes, Udio from a prompt, the caller's lyrics or a seed, lyrics, and an upload."""

from __future__ import annotations

import asyncio

from ...case import CREDITS, Catalog, expect
from .api import music, suno
from .calls import clips_of, make, real
from .driver import Sunor


def add_scenario_cases(catalog: Catalog, driver: Sunor) -> None:
    seed = driver.seed

    @catalog.case("inspiration", "Inspiration mode: two real songs, with words or instrumental",
                  seed=f"{seed}: music — Inspiration Mode", area="scenarios", needs=[CREDITS],
                  cost=2)
    async def inspiration(ctx) -> None:
        sung = music("suno", gpt_description_prompt=ctx.marker(
            "A cheerful acoustic guitar song about summer"), make_instrumental=False)
        bare = music("suno", gpt_description_prompt=ctx.marker("a calm ambient drone"),
                     make_instrumental=True)
        with_words, without = await asyncio.gather(make(ctx, sung), make(ctx, bare))
        for clip in clips_of(with_words, 2):
            expect(clip["metadata"]["prompt"].strip(),
                   f"an inspiration song without written lyrics: {clip}")
            expect(clip.get("title"), f"an inspiration song without a title: {clip}")
        for clip in clips_of(without, 2):
            expect(clip["metadata"]["prompt"] == "",
                   f"make_instrumental: true, yet the clip has words: {clip['metadata']}")
        await real(ctx, [clips_of(with_words, 2)[0], clips_of(without, 2)[1]])

    @catalog.case("custom", "Custom mode: the caller's lyrics, tags and title are the song's",
                  seed=f"{seed}: music — Custom Mode", area="scenarios", needs=[CREDITS], cost=1)
    async def custom(ctx) -> None:
        words = ("[Verse]\nWalking down the sunlit road\nFeeling light without a load\n\n"
                 "[Chorus]\nOh summer days, carry me away")
        body = music("suno", prompt=words, tags="pop, acoustic, upbeat",
                     negative_tags="heavy metal, screaming", title=f"Summer Days {ctx.token}")
        clips = clips_of(await make(ctx, body), 2)
        for clip in clips:
            meta = clip["metadata"]
            expect(clip["title"] == body["input"]["title"], f"title {clip['title']!r}")
            expect(meta["prompt"] == words, f"the clip sings {meta['prompt']!r}, not the lyrics")
            expect(meta["tags"] == "pop, acoustic, upbeat", f"tags {meta['tags']!r}")
        await real(ctx, clips[:1])

    @catalog.case("udio", "Udio music: two real tracks from a prompt, or the caller's lyrics",
                  seed=f"{seed}: music — Udio", area="scenarios", needs=[CREDITS], cost=1)
    async def udio(ctx) -> None:
        words = f"[Verse]\nRain on the window\nCoffee gone cold {ctx.token}"
        plain = music("udio", prompt=ctx.marker("lofi hip hop, chill, rainy night, jazz piano"))
        user = music("udio", prompt="lofi, rain", lyrics_type="user", lyrics=words)
        written, given = await asyncio.gather(make(ctx, plain), make(ctx, user))
        for clip in clips_of(written, 2):
            expect(clip["metadata"]["prompt"].strip(),
                   f"Udio's GPT layer wrote no lyrics: {clip['metadata']}")
        for clip in clips_of(given, 2):
            expect(clip["metadata"]["prompt"] == words,
                   f"lyrics_type user sings {clip['metadata']['prompt']!r}")
        await real(ctx, clips_of(written, 2)[:1])

    @catalog.case("udio-seed", "A Udio seed makes the tracks repeatable; instrumental has no words",
                  seed=f"{seed}: music — Udio", area="scenarios", needs=[CREDITS], cost=1.5)
    async def udio_seed(ctx) -> None:
        body = music("udio", prompt=ctx.marker("ambient piano"), lyrics_type="instrumental",
                     seed=424242)
        first, second, other = await asyncio.gather(
            make(ctx, body), make(ctx, body),
            make(ctx, {**body, "input": {**body["input"], "seed": 424243}}))
        takes = [clips_of(data, 2) for data in (first, second, other)]
        for clip in sum(takes, []):
            expect(clip["metadata"]["prompt"] == "",
                   f"lyrics_type instrumental, yet words: {clip['metadata']}")
        expect([c["metadata"]["duration"] for c in takes[0]]
               == [c["metadata"]["duration"] for c in takes[1]],
               f"the same seed gave tracks of other lengths: {takes[0]} vs {takes[1]}")
        await real(ctx, takes[0])
        # Byte for byte: the same seed must give the same file, not merely a like one.
        one, two, again, elsewhere = [a.body for a in await asyncio.gather(*(
            ctx.fetch(c["audio_url"]) for c in (takes[0][0], takes[0][1], takes[1][0],
                                                takes[2][0])))]
        expect(one == again, "the same seed gave a different first track")
        expect(one != two, "a seed's two tracks are the same")
        expect(elsewhere not in (one, two), "seeds 424242 and 424243 share a track")

    @catalog.case("lyrics", "Lyrics: one text with a title, no media",
                  seed=f"{seed}: lyrics — Generate lyrics", area="scenarios", needs=[CREDITS],
                  cost=0.5)
    async def lyrics(ctx) -> None:
        data = await make(ctx, suno("lyrics",
                                    prompt=ctx.marker("A love song about the ocean at sunset")))
        result = data["output"]["result"]
        expect(len(result) == 1, f"expected one lyrics result, got {result}")
        words = result[0]
        expect(set(words) >= {"text", "title"}, f"lyrics result {words}")
        expect(len(words["text"].strip().splitlines()) >= 4 and words["title"].strip(),
               f"lyrics too thin to be a song: {words}")
        expect(not driver.media_of({"data": data}), f"lyrics came with media: {result}")

    @catalog.case("upload", "Upload: an outside audio URL becomes one real clip",
                  seed=f"{seed}: upload — Upload audio", area="scenarios", needs=[CREDITS],
                  cost=0.1)
    async def upload(ctx) -> None:
        body = suno("upload", url=f"https://example.com/{ctx.token}/my-audio.mp3")
        clips = clips_of(await make(ctx, body), 1)
        expect(clips[0]["metadata"]["duration"] > 0, f"an upload of no length: {clips[0]}")
        await real(ctx, clips)
