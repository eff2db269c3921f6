"""Validation that needs a clip: rules on the clip a request names (its length, whether
it is a song or an upload), each refused with 400 and the param at fault, a persona that
does not exist, and a clip still being made. The rules that need no clip are the
driver's invalid_requests, which the shared validation cases run."""

from __future__ import annotations

import asyncio

from ...case import CREDITS, Catalog, expect
from .calls import duration, error_param, refused, submit
from .driver import CONCAT, GENERATE, LYRICS, PERSONA, PLACEHOLDER, Openaihk
from .library import library


def add_cases(catalog: Catalog, driver: Openaihk) -> None:
    @catalog.case("clip-rules", "Rules on the clip named are refused with 400 and the "
                  "param at fault",
                  seed="seed 003: 5., 8., 16., 17., 21., 22., 24. (rules on clip ids)",
                  area="validation", needs=[CREDITS], cost=1)
    async def clip_rules(ctx) -> None:
        lib = await library(ctx)
        song, upload, key = lib.song, lib.upload, lib.key
        sid, uid, length = song["id"], upload["id"], duration(song)
        infill = {"task": "infill", "mv": "chirp-auk", "prompt": LYRICS, "continue_clip_id": sid,
                  "infill_start_s": 10, "infill_end_s": 20, "infill_dur_s": 10}
        extend = {"prompt": "lyrics", "mv": "chirp-v4", "continue_at": 10}
        paint = {"mv": "chirp-bluejay", "tags": "piano", "prompt": ""}
        rules = [
            ("infill_dur_s not end - start", GENERATE, {**infill, "infill_dur_s": 5},
             "infill_dur_s"),
            ("infill past the song's end", GENERATE,
             {**infill, "infill_end_s": length + 5, "infill_dur_s": length - 5},
             "infill_end_s"),
            ("infill context not holding the window", GENERATE,
             {**infill, "infill_context_start_s": 12, "infill_context_end_s": 30},
             "infill_context_start_s"),
            ("continue_at past the song", GENERATE,
             {**extend, "task": "extend", "continue_clip_id": sid, "continue_at": length + 5},
             "continue_at"),
            ("task extend on an upload", GENERATE,
             {**extend, "task": "extend", "continue_clip_id": uid}, "continue_clip_id"),
            ("upload_extend on a generated song", GENERATE,
             {**extend, "task": "upload_extend", "continue_clip_id": sid}, "continue_clip_id"),
            ("concat is_infill true on a plain song", CONCAT,
             {"clip_id": sid, "is_infill": True}, "is_infill"),
            ("underpainting_end_s past the upload", GENERATE,
             {**paint, "task": "underpainting", "underpainting_clip_id": uid,
              "underpainting_start_s": 0, "underpainting_end_s": duration(upload) + 1},
             "underpainting_end_s"),
            ("overpainting_end_s past the upload", GENERATE,
             {**paint, "task": "overpainting", "overpainting_clip_id": uid,
              "overpainting_start_s": 0, "overpainting_end_s": duration(upload) + 1},
             "overpainting_end_s"),
            ("underpainting of a generated song", GENERATE,
             {**paint, "task": "underpainting", "underpainting_clip_id": sid,
              "underpainting_start_s": 0, "underpainting_end_s": 10}, "underpainting_clip_id"),
            ("vox window of 30 s", f"/suno/act/vox/{sid}",
             {"vocal_start_s": 0, "vocal_end_s": 30}, "vocal_end_s"),
            ("vox window ending before it starts", f"/suno/act/vox/{sid}",
             {"vocal_start_s": 20, "vocal_end_s": 10}, "vocal_start_s"),
            ("persona of an upload", PERSONA,
             {"root_clip_id": uid, "name": "p", "description": "d", "clips": [uid],
              "is_public": True}, "root_clip_id"),
            ("vox persona without vox_audio_id", PERSONA,
             {"root_clip_id": sid, "name": "p", "description": "d", "clips": [sid],
              "is_public": True, "persona_type": "vox", "vocal_start_s": 0,
              "vocal_end_s": 10}, "vox_audio_id"),
            ("mashup of one clip twice", GENERATE,
             {"task": "mashup_condition", "mv": "chirp-crow", "prompt": "x",
              "mashup_clip_ids": [sid, sid]}, "mashup_clip_ids"),
            ("sample ending before it starts", GENERATE,
             {"task": "chop_sample_condition", "mv": "chirp-crow", "prompt": "x",
              "chop_sample_clip_id": sid, "chop_sample_start_s": 20, "chop_sample_end_s": 10},
             "chop_sample_start_s"),
        ]
        answers = await asyncio.gather(*(ctx.call("POST", path, key=key, json=body)
                                         for _, path, body, _ in rules))
        for (name, _, _, param), answer in zip(rules, answers):
            refused(answer, 400, None, name)
            expect(error_param(answer) == param,
                   f"{name}: error param {error_param(answer)!r}, expected {param!r}")
        persona = await ctx.call("POST", GENERATE, key=key, json={
            "prompt": LYRICS, "mv": "chirp-v4", "task": "artist_consistency",
            "persona_id": PLACEHOLDER, "artist_clip_id": sid})
        refused(persona, 404, "persona_not_found", "artist_consistency with an unknown persona")

    @catalog.case("not-ready", "A clip still being made cannot be extended or made into MP4",
                  seed="seed 003: 13. MP4 (the song must have status complete)",
                  area="validation", needs=[CREDITS], cost=1)
    async def not_ready(ctx) -> None:
        answer, _ = await submit(ctx, {"gpt_description_prompt":
                                       ctx.marker("not ready yet")})
        clip = answer["clips"][0]["id"]
        mp4, extend = await asyncio.gather(
            ctx.call("GET", f"/sunoapi/act/mp4/{clip}"),
            ctx.call("POST", GENERATE, json={"prompt": "x", "mv": "chirp-v4", "task": "extend",
                                             "continue_clip_id": clip, "continue_at": 5}))
        refused(mp4, 400, "clip_not_ready", "mp4 of a clip not complete")
        refused(extend, 400, "clip_not_ready", "extending a clip not complete")
