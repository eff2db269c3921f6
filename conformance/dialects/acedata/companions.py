"""The companion endpoints (``/suno/<name>``) that answer at once: files of a song in
other formats, its midi and word timings, and the lyric and style writers."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ...case import CREDITS, Catalog, expect
from ...common import check_media
from ...dialect import Media
from .calls import companion, follow, source, spend
from .driver import PRICES, Acedata

if TYPE_CHECKING:
    from ...context import Context


def add_companion_cases(catalog: Catalog, driver: Acedata) -> None:
    """Companion endpoints: wav, mp3, mp4, midi, timing, lyrics, style and mashup-lyrics."""
    seed = driver.seed

    @catalog.case("companions", "wav, mp3 and mp4 are real files of the song's length (also "
                  "asked for asynchronously); midi notes and word timings follow the song",
                  seed=f"{seed}: related products", area="media", needs=[CREDITS], cost=2)
    async def companions(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        spend(ctx, PRICES["wav"])
        wav, mp3, mp4, midi, timing, deferred = await asyncio.gather(
            companion(ctx, "wav", {"audio_id": song["id"]}),
            companion(ctx, "mp3", {"audio_id": song["id"]}),
            companion(ctx, "mp4", {"audio_id": song["id"]}),
            companion(ctx, "midi", {"audio_id": song["id"]}),
            companion(ctx, "timing", {"audio_id": song["id"]}),
            ctx.call("POST", "/suno/wav", json={"audio_id": song["id"], "async": True}))
        expect(deferred.status == 200 and "data" not in deferred.data
               and deferred.data.get("task_id"), f"an asynchronous wav: {deferred}")
        task_id = deferred.data["task_id"]
        ctx.observe(task_id, driver.status_of(deferred.data))
        final = await follow(ctx, task_id)
        expect(final.data.get("type") == "wav" and driver.status_of(final.data) == "succeeded",
               f"the asynchronous wav ended {final}")
        later = final.data["response"]["data"][0]["file_url"]
        for media in (Media(wav[0]["file_url"], "audio", song["duration"]),
                      Media(mp3[0]["file_url"], "audio", song["duration"]),
                      Media(mp4["video_url"], "video", song["duration"]),
                      Media(later, "audio", song["duration"])):
            await check_media(ctx, media)
        instruments = midi[0]["instruments"] if midi else []
        expect(instruments and any(i["notes"] for i in instruments),
               f"the song's midi has no notes: {midi}")
        for instrument in instruments:
            for note in instrument["notes"]:
                expect(0 <= note["start"] < note["end"] <= song["duration"] + 0.01,
                       f"a {instrument['name']} note outside the song: {note}")
        words = timing["aligned_words"]
        text = " ".join(w["word"] for w in words).lower()
        for expected in ("snowflakes", "window", "mistletoe", "tight"):
            expect(expected in text, f"the timing does not align {expected!r}: {text[:200]}")
        starts = [w["start_s"] for w in words]
        expect(starts == sorted(starts), "the aligned words are out of order")
        expect(all(0 <= w["start_s"] < w["end_s"] <= song["duration"] + 0.01 for w in words),
               "an aligned word falls outside the song")
        expect(timing["waveform_data"] and max(timing["waveform_data"]) > 0,
               "the waveform is silent")

    @catalog.case("lyrics", "/suno/lyrics writes two variations; style and mashup-lyrics "
                  "answer in kind", seed=f"{seed}: request body (lyric_prompt)",
                  area="scenarios", needs=[CREDITS], cost=1)
    async def lyrics(ctx: "Context") -> None:
        variations, style, mashed = await asyncio.gather(
            companion(ctx, "lyrics", {"prompt": ctx.marker("winter nights")}),
            companion(ctx, "style", {"prompt": "dreamy lo-fi piano"}),
            companion(ctx, "mashup-lyrics", {"lyrics_a": "[Verse]\nHello world",
                                             "lyrics_b": "[Chorus]\nGoodbye moon"}))
        expect(len(variations) == 2, f"{len(variations)} lyric variations, expected 2")
        for variation in variations:
            expect(variation["text"].strip() and variation["title"] and variation["tags"],
                   f"a lyric variation without text, title or tags: {variation}")
        expect(variations[0]["text"] != variations[1]["text"], "the variations are the same")
        expect(style["upsampled_tags"].strip(), f"the style was not expanded: {style}")
        expect("Hello world" in mashed["text"] and "Goodbye moon" in mashed["text"],
               f"the lyrics mashup lost a part: {mashed['text']!r}")
