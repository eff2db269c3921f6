"""The actions that need a song: each case makes a source song and runs them on it.
Where a result can be compared with its source the samples are (through ``/suno/wav``):
an extension keeps the song's head, stems add up to it, a replaced section changes only
its window, a mashup mixes its songs."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import numpy as np

from ...audio import likeness, window
from ...case import CREDITS, Catalog, expect
from ...common import AUDIO_TOLERANCE_S
from .calls import SAME, companion, each, hear, made, near, real, refused, source
from .driver import AUDIOS, UNKNOWN_AUDIO, Acedata

if TYPE_CHECKING:
    from ...context import Context


def add_chain_cases(catalog: Catalog, driver: Acedata) -> None:
    """Actions on a source song, their results heard against it."""
    seed = driver.seed

    @catalog.case("extend-concat", "extend continues the song from continue_at; concat "
                  "stitches the extension into one track", seed=f"{seed}: request body "
                  "(action extend, concat; audio_id, continue_at)", area="chains",
                  needs=[CREDITS], cost=3)
    async def extend_concat(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        at = 20.0
        for bad, why in ((song["duration"] + 5, "past the end of the song"),
                         (-5, "negative")):
            answer = await ctx.call("POST", AUDIOS, json={
                "action": "extend", "audio_id": song["id"], "continue_at": bad, "async": True})
            refused(answer, 400, "bad_request", f"continue_at {why}")
        _, extended = await made(ctx, {"action": "extend", "audio_id": song["id"],
                                       "continue_at": at})
        for new in extended:
            expect(new["id"] != song["id"] and new["duration"] > at,
                   f"an extension of {song['id']} from {at} s: {new}")
            expect(new["title"] == song["title"] and new["style"] == song["style"],
                   f"the extension lost the title or style: {new['title']!r}, {new['style']!r}")
        (_, whole), (source_pcm, rate), (extension_pcm, _) = await asyncio.gather(
            made(ctx, {"action": "concat", "audio_id": extended[0]["id"]}, count=1),
            hear(ctx, song["id"]), hear(ctx, extended[0]["id"]))
        kept = likeness(window(source_pcm, rate, 0, at - 0.2),
                        window(extension_pcm, rate, 0, at - 0.2))
        expect(kept > SAME, f"the extension's first {at:g} s are not the song's "
                            f"(likeness {kept:.3f})")
        history = whole[0].get("concat_history") or []
        expect([h.get("id") for h in history] == [song["id"], extended[0]["id"]],
               f"concat_history {history} is not the song then its extension")
        expect(history[0].get("continue_at") == at,
               f"concat_history says the extension starts at {history[0].get('continue_at')}")
        expect(near(whole[0]["duration"], extended[0]["duration"]),
               f"the whole track lasts {whole[0]['duration']} s, the extension "
               f"{extended[0]['duration']} s")
        await real(ctx, whole[0])

    @catalog.case("remakes", "cover, remaster, replace_section, mashup and inspo each make "
                  "real new songs from the song", seed=f"{seed}: request body (action cover, "
                  "replace_section, remaster, mashup, inspo; audio_weight, variation_category, "
                  "replace_section_start/end, mashup_audio_ids, audio_urls)", area="chains",
                  needs=[CREDITS], cost=7)
    async def remakes(ctx: "Context") -> None:
        made_source = await source(ctx)
        song, other = made_source["songs"]
        heard = asyncio.ensure_future(hear(ctx, song["id"]))

        async def cover() -> None:
            _, covers = await made(ctx, {"action": "cover", "audio_id": song["id"],
                                         "style": "jazz, brushed drums", "audio_weight": 0.7})
            for new in covers:
                expect(new["id"] != song["id"], "the cover is the song itself")
                expect(new["lyric"] == song["lyric"], f"the words differ: {new['lyric']!r}")
                expect(new["style"] == "jazz, brushed drums", f"the style: {new['style']!r}")
            (mix, rate), (samples, _) = await asyncio.gather(heard, hear(ctx, covers[0]["id"]))
            expect(likeness(window(mix, rate, 0, 10), window(samples, rate, 0, 10)) < SAME,
                   "it sounds exactly like the song")

        async def remaster() -> None:
            _, new = await made(ctx, {"action": "remaster", "audio_id": song["id"],
                                      "model": "chirp-v5", "variation_category": "subtle"})
            for remastered in new:
                expect(remastered["id"] != song["id"] and remastered["lyric"] == song["lyric"]
                       and remastered["title"] == song["title"],
                       f"the remaster is not of {song['id']}: {remastered}")
                expect(near(remastered["duration"], song["duration"]),
                       f"it lasts {remastered['duration']} s, the song {song['duration']} s")
            await real(ctx, new[0])

        async def replace_section() -> None:
            start, end = 10.0, 20.0
            backwards = await ctx.call("POST", AUDIOS, json={
                "action": "replace_section", "audio_id": song["id"], "async": True,
                "replace_section_start": end, "replace_section_end": start})
            refused(backwards, 400, "bad_request", "a window that ends before it starts")
            _, new = await made(ctx, {"action": "replace_section", "audio_id": song["id"],
                                      "replace_section_start": start,
                                      "replace_section_end": end})
            history = new[0].get("concat_history") or [{}]
            expect(history[0].get("id") == song["id"] and history[0].get("infill") is True
                   and history[0].get("infill_start_s") == start
                   and history[0].get("infill_end_s") == end,
                   f"the history does not name the song and the window: {history}")
            expect(near(new[0]["duration"], song["duration"]),
                   f"replacing a section changed the length: {new[0]['duration']} s")
            (mix, rate), (samples, _) = await asyncio.gather(heard, hear(ctx, new[0]["id"]))
            expect(likeness(window(mix, rate, 0, start - 1), window(samples, rate, 0, start - 1))
                   > SAME and likeness(window(mix, rate, end + 1), window(samples, rate, end + 1))
                   > SAME, "the song changed outside the replaced window")
            expect(likeness(window(mix, rate, start + 1, end - 1),
                            window(samples, rate, start + 1, end - 1)) < SAME,
                   "the replaced window sounds as before")

        async def mashup() -> None:
            _, mixed = await made(ctx, {"action": "mashup",
                                        "mashup_audio_ids": [song["id"], other["id"]]})
            longest = max(song["duration"], other["duration"])
            for new in mixed:
                expect(new["id"] not in (song["id"], other["id"]), "it answered a source")
                expect(new["duration"] <= longest + AUDIO_TOLERANCE_S,
                       f"it lasts {new['duration']} s, longer than both songs")
            (mix, _), (b, _), (m, _) = await asyncio.gather(heard, hear(ctx, other["id"]),
                                                            hear(ctx, mixed[0]["id"]))
            n = min(len(mix), len(b), len(m))
            basis = np.stack([mix[:n], b[:n]], axis=1)
            weights, *_ = np.linalg.lstsq(basis, m[:n], rcond=None)
            residual = m[:n] - basis @ weights
            fit = 1 - float(np.dot(residual, residual)) / max(float(np.dot(m[:n], m[:n])),
                                                              1e-12)
            expect(fit > 0.9 and min(weights) > 0.1,
                   f"not a mix of its two songs (fit {fit:.2f}, weights "
                   f"{weights[0]:.2f}, {weights[1]:.2f})")

        async def inspo() -> None:
            _, new = await made(ctx, {"action": "inspo", "audio_urls": [song["audio_url"]],
                                      "prompt": ctx.marker("more of this")})
            expect(all(s["id"] != song["id"] for s in new), "it answered its reference")
            if ctx.run.direct:
                expect(all(s["style"] == song["style"] for s in new),
                       f"songs inspired by a {song['style']!r} song: "
                       f"{[s['style'] for s in new]}")
            await real(ctx, new[0])

        await each({"cover": cover(), "remaster": remaster(),
                    "replace_section": replace_section(), "mashup": mashup(),
                    "inspo": inspo()})

    @catalog.case("stems", "stems (vocals and accompaniment) and all_stems (every "
                  "instrument) add up to the song", seed=f"{seed}: request body (action "
                  "stems, all_stems)", area="chains", needs=[CREDITS], cost=6)
    async def stems(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        heard = asyncio.ensure_future(hear(ctx, song["id"]))

        async def separate(action: str, least: int) -> None:
            _, tracks = await made(ctx, {"action": action, "audio_id": song["id"]},
                                   count=2 if action == "stems" else None)
            titles = [t["title"] for t in tracks]
            expect(len(tracks) >= least, f"{len(tracks)} tracks: {titles}")
            expect(len(set(titles)) == len(titles), f"two tracks share a title: {titles}")
            expect(any("vocal" in t.lower() for t in titles), f"no vocal track in {titles}")
            for track in tracks:
                expect(near(track["duration"], song["duration"]),
                       f"a track lasts {track['duration']} s, the song {song['duration']} s")
            (mix, _), *decoded = await asyncio.gather(heard, *(hear(ctx, t["id"]) for t in tracks))
            parts = [samples for samples, _ in decoded]
            n = min(map(len, [mix, *parts]))
            expect(likeness(sum(p[:n] for p in parts), mix[:n]) > SAME,
                   "the tracks do not add up to the song")
            for track, samples in zip(tracks, parts):
                expect(likeness(samples[:n], mix[:n]) < SAME,
                       f"{track['title']} is the whole song")
            await real(ctx, tracks[0])

        # all_stems: vocals, drums, bass, other instruments: at least three here
        await each({"stems": separate("stems", 2), "all_stems": separate("all_stems", 3)})

    @catalog.case("uploads", "An upload of the song can be extended, covered, underpainted, "
                  "overpainted and sampled, within its length", seed=f"{seed}: request body "
                  "(action upload_cover, upload_extend, underpainting, overpainting, samples; "
                  "*_start, *_end)", area="chains", needs=[CREDITS], cost=7)
    async def uploads(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        uploaded = await companion(ctx, "upload", {"audio_url": song["audio_url"]})
        expect(uploaded.get("audio_id") and uploaded.get("audio_url"),
               f"the upload names no audio: {uploaded}")
        audio_id = uploaded["audio_id"]
        if ctx.run.direct:
            expect(near(uploaded.get("duration"), song["duration"]),
                   f"the upload of a {song['duration']} s song lasts {uploaded.get('duration')}")
        length = uploaded.get("duration") or song["duration"]
        for action in ("underpainting", "overpainting", "samples"):
            answer = await ctx.call("POST", AUDIOS, json={
                "action": action, "audio_id": audio_id, "async": True,
                f"{action}_start": 0, f"{action}_end": length + 5})
            refused(answer, 400, "bad_request", f"{action}_end past the end of the song")
        at = 10.0

        async def upload_extend() -> None:
            _, extended = await made(ctx, {"action": "upload_extend", "audio_id": audio_id,
                                           "continue_at": at})
            for new in extended:
                expect(new["duration"] > at, f"from {at} s it lasts {new['duration']} s")
            (a, rate), (b, _) = await asyncio.gather(hear(ctx, audio_id),
                                                     hear(ctx, extended[0]["id"]))
            kept = likeness(window(a, rate, 0, at - 0.2), window(b, rate, 0, at - 0.2))
            expect(kept > SAME, f"the upload's first {at:g} s are not kept "
                                f"(likeness {kept:.3f})")

        async def remade(body: dict[str, Any], style: str | None = None) -> None:
            _, songs = await made(ctx, {**body, "audio_id": audio_id})
            for new in songs:
                expect(new["id"] != audio_id, "it answered its source")
                expect(style is None or new["style"] == style, f"the style: {new['style']!r}")
            await real(ctx, songs[0])

        await each({
            "upload_extend": upload_extend(),
            "upload_cover": remade({"action": "upload_cover", "style": "bossa nova"},
                                   "bossa nova"),
            "underpainting": remade({"action": "underpainting", "underpainting_start": 5,
                                     "underpainting_end": 25}),
            "overpainting": remade({"action": "overpainting", "overpainting_end": 20}),
            "samples": remade({"action": "samples", "samples_start": 2, "samples_end": 12}),
        })

    @catalog.case("persona", "A persona made from a song sings new songs in its style "
                  "(artist_consistency, artist_consistency_vox)", seed=f"{seed}: request body "
                  "(action artist_consistency, artist_consistency_vox, persona_id)",
                  area="chains", needs=[CREDITS], cost=4)
    async def persona(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        unknown = await ctx.call("POST", AUDIOS, json={
            "action": "artist_consistency", "persona_id": UNKNOWN_AUDIO, "prompt": "x",
            "async": True})
        refused(unknown, 400, "bad_request", "an unknown persona_id")
        plain, vox = await asyncio.gather(
            companion(ctx, "persona", {"name": "Conformance Voice", "audio_id": song["id"]}),
            companion(ctx, "vox", {"audio_id": song["id"], "vocal_start": 5,
                                   "vocal_end": 20}))
        expect(vox.get("source_clip_id") == song["id"], f"the vox is not of the song: {vox}")
        voiced = await companion(ctx, "persona", {"name": "Conformance Vox",
                                                  "audio_id": song["id"],
                                                  "vox_audio_id": vox["id"]})
        expect(plain.get("persona_id") and voiced.get("persona_id")
               and plain["persona_id"] != voiced["persona_id"],
               f"personas {plain} and {voiced}")
        words = "[Verse]\nA new song in a known voice\n[Chorus]\nSing it once again"
        (_, same), (_, vox_songs) = await asyncio.gather(
            made(ctx, {"action": "artist_consistency", "persona_id": plain["persona_id"],
                       "custom": True, "lyric": words, "title": "Again"}),
            made(ctx, {"action": "artist_consistency_vox", "persona_id": voiced["persona_id"],
                       "custom": True, "lyric": words, "title": "Again"}))
        for new in same + vox_songs:
            expect(new["lyric"] == words, f"the persona did not sing the lyrics: {new['lyric']!r}")
            expect(new["style"] == song["style"],
                   f"a persona song's style {new['style']!r} is not the persona's "
                   f"{song['style']!r}")
        await asyncio.gather(real(ctx, same[0]), real(ctx, vox_songs[0]))
