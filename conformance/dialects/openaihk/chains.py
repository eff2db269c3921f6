"""Chains: a song made from another one. A song or an upload is extended, then
joined back into the full song (concat); a section is replaced (infill, and V2's
fixed_infill by the timeline) and put back; a song is covered or remastered; and an
expired upstream account allows a cover but not wav or mp4. Each starts from the shared
library (see library.py) except cross-account, whose song must be marked expired."""

from __future__ import annotations

import asyncio

from ...case import CREDITS, SIMULATOR, Catalog, expect
from .calls import (DURATION_TOLERANCE, act, duration, finish, made, near, refused,
                    resolves)
from .driver import CONCAT, LYRICS, REMASTER, SMALL, Openaihk
from .library import library


def add_cases(catalog: Catalog, driver: Openaihk) -> None:
    @catalog.case("upload-extend-concat",
                  "An upload is extended (upload_extend and the deprecated mv), then joined",
                  seed="seed 003: 5. Extend Custom Audio", area="chains", needs=[CREDITS],
                  cost=3)
    async def upload_extend(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.upload, lib.key
        new = {"prompt": "lyrics", "tags": "", "negative_tags": ctx.marker(), "mv": "chirp-v4",
               "title": "Title", "continue_clip_id": source["id"], "continue_at": 10,
               "task": "upload_extend"}
        old = {"prompt": LYRICS, "tags": "heavy metal", "mv": "chirp-v3-5-upload", "title": "Work",
               "negative_tags": ctx.marker(), "continue_clip_id": source["id"],
               "continue_at": 30.792}
        (_, extended), (_, deprecated) = await asyncio.gather(made(ctx, new, key=key),
                                                              made(ctx, old, key=key))
        for clips, at in ((extended, 10), (deprecated, 30.792)):
            history = clips[0]["metadata"].get("history") or [{}]
            expect(history[0].get("id") == source["id"] and history[0].get("continue_at") == at,
                   f"the extension's history does not name the upload at {at}: {history}")
        expect(deprecated[0]["model_name"] == "chirp-v3-5-upload",
               f"deprecated extend model {deprecated[0]['model_name']!r}")
        ctx.spend(1)  # a concat of an upload's extension costs a song
        answer = await ctx.call("POST", CONCAT, key=key,
                                json={"clip_id": extended[0]["id"], "is_infill": False})
        expect(answer.status == 200, f"concat: {answer}")
        expect(answer.data["metadata"].get("type") == "concat",
               f"a concat clip's type: {answer.data['metadata']}")
        whole = (await finish(ctx, driver.task_id_of(answer.data), key=key))[0]
        history = whole["metadata"].get("concat_history") or [{}]
        expect(history[0].get("id") == source["id"],
               f"the full song's concat_history does not start at the upload: {history}")
        expect(duration(whole) > 10 and duration(whole) + DURATION_TOLERANCE
               >= duration(extended[0]),
               f"the full song lasts {duration(whole)} s, the extension {duration(extended[0])}")
        await resolves(ctx, whole)

    @catalog.case("extend-concat", "A song is extended at continue_at, then joined in full",
                  seed="seed 003: 6. Extend Music and Get Full Song", area="chains",
                  needs=[CREDITS], cost=1 + SMALL)
    async def extend_concat(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        body = {"prompt": LYRICS, "tags": "heavy metal", "mv": "chirp-v3-5", "title": "Work",
                "negative_tags": ctx.marker(), "continue_clip_id": source["id"],
                "continue_at": 30, "task": "extend"}
        _, extended = await made(ctx, body, key=key)
        expect(len(extended) == 2, f"an extension answers 2 clips, got {len(extended)}")
        history = extended[0]["metadata"].get("history") or [{}]
        expect(history[0].get("id") == source["id"], f"extension history: {history}")
        ctx.spend(SMALL)
        answer = await ctx.call("POST", CONCAT, key=key,
                                json={"clip_id": extended[0]["id"], "is_infill": False})
        expect(answer.status == 200, f"concat: {answer}")
        whole = (await finish(ctx, driver.task_id_of(answer.data), key=key))[0]
        expect(whole["id"] not in (source["id"], extended[0]["id"]), "concat made no new clip")
        history = whole["metadata"].get("concat_history") or []
        expect([h.get("id") for h in history] == [source["id"], extended[0]["id"]],
               f"concat_history {history}, expected the source then the extension")
        expect(history[0].get("continue_at") == 30, f"concat_history {history}")
        expect(duration(whole) > 30 and duration(whole) + DURATION_TOLERANCE
               >= duration(extended[0]),
               f"the full song lasts {duration(whole)} s, the extension {duration(extended[0])}")
        await resolves(ctx, whole)

    @catalog.case("cover", "A song (and an upload) is covered in a new style",
                  seed="seed 003: 7. Cover Music; 15. B. Cover Generation", area="chains",
                  needs=[CREDITS], cost=2)
    async def cover(ctx) -> None:
        lib = await library(ctx)
        key = lib.key
        sliders = {"style_weight": 0.68, "audio_weight": 0.48, "weirdness_constraint": 0.37}
        body = {"prompt": LYRICS, "generation_type": "TEXT", "tags": "rock, punk",
                "negative_tags": ctx.marker(), "mv": "chirp-auk", "title": "Work (Cover)",
                "continue_clip_id": None, "continue_at": None, "continued_aligned_prompt": None,
                "infill_start_s": None, "infill_end_s": None, "task": "cover",
                "cover_clip_id": lib.song["id"],
                "metadata": {"create_mode": "custom", "control_sliders": sliders,
                             "can_control_sliders": list(sliders), "is_remix": True}}
        of_upload = {"prompt": LYRICS, "tags": "rock", "mv": "chirp-bluejay", "task": "cover",
                     "negative_tags": ctx.marker(), "cover_clip_id": lib.upload["id"]}
        (_, covers), (_, upload_covers) = await asyncio.gather(made(ctx, body, key=key),
                                                               made(ctx, of_upload, key=key))
        for clip in covers:
            meta = clip["metadata"]
            expect(clip["id"] != lib.song["id"], "the cover is the source clip")
            expect(meta.get("task") == "cover" and meta.get("cover_clip_id") == lib.song["id"],
                   f"the cover does not name its source: {meta}")
            expect(clip["title"] == "Work (Cover)" and meta["tags"] == "rock, punk",
                   f"cover title {clip['title']!r} tags {meta['tags']!r}")
            expect(clip["model_name"] == "chirp-auk" and clip["major_model_version"] == "v4.5",
                   f"cover model {clip['model_name']!r} {clip['major_model_version']!r}")
            expect((meta.get("control_sliders") or {}).get("audio_weight") == 0.48,
                   f"audio_weight is not kept on a cover: {meta.get('control_sliders')}")
        expect(upload_covers[0]["metadata"].get("cover_clip_id") == lib.upload["id"],
               f"the upload's cover: {upload_covers[0]['metadata']}")
        await resolves(ctx, covers[0])

    @catalog.case("infill-concat", "A section is replaced, then put back into the whole song",
                  seed="seed 003: 8. Replace Section", area="chains", needs=[CREDITS],
                  cost=1 + SMALL)
    async def infill(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        length = duration(source)
        lo, start, end, hi = (round(length * f, 2) for f in (0.05, 0.3, 0.6, 0.9))
        body = {"task": "infill", "generation_type": "TEXT", "title": "Work-replace",
                "tags": "Sorrow/Sad,Female Vocals", "negative_tags": ctx.marker(),
                "mv": "chirp-auk", "prompt": LYRICS,
                "metadata": {"infill_lyrics": "Files piling up with no end in sight"},
                "continue_clip_id": source["id"], "continued_aligned_prompt": LYRICS,
                "infill_context_start_s": lo, "infill_context_end_s": hi,
                "infill_start_s": start, "infill_end_s": end,
                "infill_dur_s": round(end - start, 2)}
        _, replaced = await made(ctx, body, key=key)
        section = replaced[0]
        expect(len(replaced) == 2, f"an infill answers 2 clips, got {len(replaced)}")
        expect(section["metadata"].get("infill") is True, f"infill metadata: {section}")
        expect(duration(section) <= length + DURATION_TOLERANCE,
               f"the section lasts {duration(section)} s, longer than the song ({length} s)")
        wrong = await ctx.call("POST", CONCAT, key=key,
                               json={"clip_id": section["id"], "is_infill": False})
        refused(wrong, 400, None, "concat of an infill with is_infill false")
        ctx.spend(SMALL)
        answer = await ctx.call("POST", CONCAT, key=key,
                                json={"clip_id": section["id"], "is_infill": True})
        expect(answer.status == 200, f"concat is_infill true: {answer}")
        whole = (await finish(ctx, driver.task_id_of(answer.data), key=key))[0]
        expect(near(duration(whole), length),
               f"the song with its section replaced lasts {duration(whole)} s, "
               f"the source {length} s")
        await resolves(ctx, whole)

    @catalog.case("fixed-infill-timeline", "V2: the timeline picks the words, fixed_infill "
                  "replaces them, concat puts them back",
                  seed="seed 003: 8.V2 Replace Section", area="chains", needs=[CREDITS],
                  cost=1 + SMALL)
    async def fixed_infill(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        timing = await act(ctx, f"/suno/act/timing/{source['id']}", key=key)
        lines = [line for line in timing.get("aligned_lyrics") or [] if line.get("words")]
        expect(len(lines) >= 5, f"the timeline has {len(lines)} lines with words")
        context_start = lines[1]["words"][0]["start_s"]
        target = lines[len(lines) // 2]["words"][-2:]
        context_end = lines[-2]["words"][-1]["end_s"]
        start, end = round(target[0]["start_s"], 2), round(target[-1]["end_s"], 2)
        expect(context_start <= start < end <= context_end,
               f"timeline out of order: {context_start} {start} {end} {context_end}")
        body = {"task": "fixed_infill", "generation_type": "TEXT", "title": "Replace",
                "tags": "Love Song,Rock", "negative_tags": ctx.marker(), "mv": "chirp-carp",
                "prompt": LYRICS, "metadata": {"create_mode": "custom",
                                             "infill_lyrics": "yesterday", "is_remix": True,
                                             "lyrics_updated": True},
                "continue_clip_id": source["id"], "continued_aligned_prompt": LYRICS,
                "continue_at": None, "infill_context_start_s": round(context_start, 2),
                "infill_context_end_s": round(context_end, 2), "infill_start_s": start,
                "infill_end_s": end, "infill_dur_s": round(end - start, 2)}
        _, replaced = await made(ctx, body, key=key)
        expect(replaced[0]["metadata"].get("task") == "fixed_infill",
               f"fixed_infill metadata: {replaced[0]['metadata']}")
        expect(replaced[0]["model_name"] == "chirp-carp", f"model {replaced[0]['model_name']!r}")
        ctx.spend(SMALL)
        answer = await ctx.call("POST", CONCAT, key=key,
                                json={"clip_id": replaced[0]["id"], "is_infill": True})
        expect(answer.status == 200, f"concat is_infill true: {answer}")
        whole = (await finish(ctx, driver.task_id_of(answer.data), key=key))[0]
        expect(near(duration(whole), duration(source)),
               f"the song lasts {duration(whole)} s after a word was replaced, "
               f"{duration(source)} s before")
        await resolves(ctx, whole)

    @catalog.case("remaster", "Remaster with chirp-carp (and chirp-bass) keeps the song's length",
                  seed="seed 003: 20. Remaster", area="chains", needs=[CREDITS], cost=2)
    async def remaster(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        carp = {"clip_id": source["id"], "model_name": "chirp-carp", "variation_category": "high"}
        bass = {"clip_id": source["id"], "model_name": "chirp-bass"}
        (_, carps), (bass_batch, _) = await asyncio.gather(
            made(ctx, carp, path=REMASTER, key=key), made(ctx, bass, path=REMASTER, key=key))
        for clip in carps:
            expect(clip["model_name"] == "chirp-carp" and clip["major_model_version"] == "v5",
                   f"chirp-carp remaster shows {clip['model_name']!r} "
                   f"{clip['major_model_version']!r}")
            expect(near(duration(clip), duration(source)),
                   f"the remaster lasts {duration(clip)} s, the song {duration(source)} s")
        expect(bass_batch["clips"][0]["major_model_version"] == "v4.5+",
               f"chirp-bass is v4.5+: {bass_batch['clips'][0]['major_model_version']!r}")
        await resolves(ctx, carps[0])

    @catalog.case("cross-account", "Once a song's upstream account expires, cover still works "
                  "but wav and mp4 are cross_account_not_supported",
                  seed="seed 003: 7. Cover (cross-account supported); 12. WAV / 13. MP4 "
                       "(cross-account not supported)", area="chains",
                  needs=[CREDITS, SIMULATOR], cost=2)
    async def cross_account(ctx) -> None:
        body = {"prompt": LYRICS, "tags": "pop", "title": "Work [sim:upstream-expired]",
                "negative_tags": ctx.marker()}
        _, clips = await made(ctx, body)
        source = clips[0]["id"]
        for path in (f"/sunoapi/act/wav/{source}", f"/sunoapi/act/mp4/{source}"):
            answer = await ctx.call("GET", path)
            refused(answer, 400, "cross_account_not_supported", f"GET {path} of an expired clip")
        timing = await act(ctx, f"/sunoapi/act/timing/{source}")
        expect(timing["aligned_words"], "timing (cross-account supported) answered no words")
        cover = {"prompt": LYRICS, "tags": "rock", "mv": "chirp-auk", "task": "cover",
                 "negative_tags": ctx.marker(), "cover_clip_id": source}
        _, covers = await made(ctx, cover)
        expect(covers[0]["metadata"].get("cover_clip_id") == source,
               f"the cover of an expired clip does not name it: {covers[0]['metadata']}")
