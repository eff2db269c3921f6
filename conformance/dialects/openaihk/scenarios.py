"""Scenarios: one request makes a song (inspiration and custom mode, instrumentals,
sliders, each model version), and the two text services, lyrics mashup and tag
expansion."""

from __future__ import annotations

import asyncio

from ...case import CREDITS, Catalog, expect
from .calls import duration, finish, made, resolves, submit
from .driver import LYRICS, LYRICS_MASHUP, SMALL, TAGS, UUID, Openaihk
from .library import library


def add_cases(catalog: Catalog, driver: Openaihk) -> None:
    @catalog.case("custom-lyrics", "Custom mode sings the given lyrics under the given title",
                  seed="seed 003: 2. Custom Lyrics & Title", area="scenarios", needs=[CREDITS],
                  cost=1)
    async def custom_lyrics(ctx) -> None:
        lib = await library(ctx)
        for clip in lib.songs:
            meta = clip["metadata"]
            expect(clip["title"] == "Work", f"title {clip['title']!r}, asked 'Work'")
            expect(meta["prompt"] == LYRICS, f"clip {clip['id']} does not sing the lyrics given")
            expect(meta["tags"] == " edm", f"tags {meta['tags']!r}, asked ' edm'")
            expect(clip["model_name"] == "chirp-v3-5" and clip["major_model_version"] == "v3.5",
                   f"model {clip['model_name']!r} {clip['major_model_version']!r}")
            expect(meta.get("has_vocal") is True, f"a song with lyrics is vocal: {meta}")
        await resolves(ctx, lib.songs[0], video=True)

    @catalog.case("lyrics-mashup", "Two sets of lyrics are mixed into one, answered at once",
                  seed="seed 003: 23. Lyrics Mashup", area="scenarios", needs=[CREDITS],
                  cost=SMALL)
    async def lyrics_mashup(ctx) -> None:
        ctx.spend(SMALL)
        a = "Sambuy come back bluespawn greenspawn are making you a spawn"
        b = "You keep turning back inside the station\nI can't bring myself to leave outside"
        answer = await ctx.call("POST", LYRICS_MASHUP, json={"lyrics_a": a, "lyrics_b": b})
        expect(answer.status == 200, f"lyrics mashup: {answer}")
        response = answer.data["response"]
        expect(response["status"] == "complete", f"status {response['status']!r}")
        text = response["text"]
        expect("Sambuy" in text and "station" in text,
               f"the mashup does not hold both sets of lyrics: {text!r}")
        expect(answer.data["lyrics_request_id"] != answer.data["mashup_id"],
               "lyrics_request_id and mashup_id are the same id")

    @catalog.case("expand-tags", "A keyword is expanded into a full style description",
                  seed="seed 003: 19. Expand Style Tags", area="scenarios", needs=[CREDITS],
                  cost=SMALL)
    async def expand_tags(ctx) -> None:
        ctx.spend(SMALL)
        answer = await ctx.call("POST", TAGS, json={"original_tags": "student"})
        expect(answer.status == 200, f"expanding tags: {answer}")
        tags = answer.data["upsampled_tags"]
        expect(len(tags.split()) > 8, f"upsampled_tags is not a description: {tags!r}")
        expect(answer.data["request_id"], "no request_id")

    @catalog.case("inspiration", "Inspiration mode writes the title, lyrics and style; with "
                  "make_instrumental, no vocal",
                  seed="seed 003: 1. Inspiration Mode; 4. Instrumental (Inspiration Mode)",
                  area="scenarios", needs=[CREDITS], cost=2)
    async def inspiration_modes(ctx) -> None:
        await asyncio.gather(_inspiration(ctx), _instrumental_inspiration(ctx))

    @catalog.case("custom-options", "Custom instrumentals, control sliders, vocal_gender and "
                  "each documented mv reach the clips",
                  seed="seed 003: 3. Instrumental (Custom); 15. Advanced Parameters; "
                       "Suno supports version (v4.5-all, v5, v4.5+, v4.5)",
                  area="scenarios", needs=[CREDITS], cost=6)
    async def custom_options(ctx) -> None:
        await asyncio.gather(_instrumental_custom(ctx), _advanced(ctx), _versions(ctx))


# --- the parts the cases above run side by side ----------------------------------------


async def _inspiration(ctx) -> None:
    idea = ctx.marker("nostalgia")
    answer, clips = await made(ctx, {"gpt_description_prompt": idea})
    expect(len(answer["clips"]) == 2, f"a generation answers 2 clips: {answer}")
    expect(answer.get("batch_size") == 1 and UUID.match(answer.get("id") or ""),
           f"the batch: id {answer.get('id')!r}, batch_size {answer.get('batch_size')}")
    expect(all(c["status"] == "submitted" for c in answer["clips"]),
           f"new clips are submitted: {[c['status'] for c in answer['clips']]}")
    expect(answer.get("major_model_version") == "v3.5",
           f"without mv a request uses chirp-v3-5: {answer.get('major_model_version')!r}")
    for clip in clips:
        meta = clip["metadata"]
        expect(meta.get("gpt_description_prompt") == idea,
               f"clip {clip['id']} does not echo its gpt_description_prompt: {meta}")
        expect(clip["title"] and meta["prompt"].strip() and meta["tags"].strip(),
               f"clip {clip['id']} lacks written title, lyrics or style: {clip}")
        expect(meta.get("has_vocal") is not False, f"a song with lyrics is vocal: {meta}")
        duration(clip)
    expect(clips[0]["metadata"]["prompt"] == clips[1]["metadata"]["prompt"],
           "the two takes of one idea sing different lyrics")
    await resolves(ctx, clips[0])


async def _instrumental_custom(ctx) -> None:
    body = {"prompt": "", "tags": "heavy metal", "mv": "chirp-v3-5", "title": "Beijing",
            "negative_tags": ctx.marker(), "continue_clip_id": None, "continue_at": None,
            "infill_start_s": None, "infill_end_s": None}
    _, clips = await made(ctx, body)
    for clip in clips:
        meta = clip["metadata"]
        expect(clip["title"] == "Beijing", f"title {clip['title']!r}, asked 'Beijing'")
        expect(meta["prompt"] == "" and meta.get("has_vocal") is False,
               f"an instrumental has no lyrics and no vocal: {meta}")
        expect(meta["tags"] == "heavy metal", f"tags {meta['tags']!r}")


async def _instrumental_inspiration(ctx) -> None:
    idea = ctx.marker("A national dance pop anthem about dancing all night long")
    _, clips = await made(ctx, {"gpt_description_prompt": idea, "mv": "chirp-v3-5",
                                "prompt": "", "make_instrumental": True})
    for clip in clips:
        meta = clip["metadata"]
        expect(meta.get("has_vocal") is False and meta["prompt"] == "",
               f"an instrumental has no lyrics and no vocal: {meta}")
        expect(clip["title"], f"inspiration mode writes a title: {clip}")


async def _advanced(ctx) -> None:
    sliders = {"style_weight": 0.4, "weirdness_constraint": 0.7}
    body = {"prompt": LYRICS, "generation_type": "TEXT", "tags": "house, tight drums",
            "negative_tags": "modern", "mv": "chirp-auk",
            "title": ctx.marker("Savor the Flavor")[:200],
            "metadata": {"create_mode": "custom", "control_sliders": sliders,
                         "can_control_sliders": ["weirdness_constraint", "style_weight"],
                         "vocal_gender": "f"}}
    _, clips = await made(ctx, body)
    for clip in clips:
        meta = clip["metadata"]
        expect(meta.get("control_sliders") == sliders,
               f"control_sliders {meta.get('control_sliders')}, sent {sliders}")
        expect(meta.get("vocal_gender") == "f", f"vocal_gender {meta.get('vocal_gender')!r}")
        expect(meta.get("negative_tags") == "modern",
               f"negative_tags {meta.get('negative_tags')!r}")
        expect(clip["model_name"] == "chirp-auk" and clip["major_model_version"] == "v4.5",
               f"mv chirp-auk is v4.5: {clip['model_name']!r} {clip['major_model_version']!r}")
    await resolves(ctx, clips[0])


async def _versions(ctx) -> None:
    expected = {"chirp-auk-turbo": "v4.5-all", "chirp-crow": "v5",
                "chirp-bluejay": "v4.5+", "chirp-auk": "v4.5"}
    submitted = await asyncio.gather(*(
        submit(ctx, {"prompt": LYRICS, "tags": "pop", "title": ctx.marker(mv)[:200], "mv": mv})
        for mv in expected))
    finals = await asyncio.gather(*(finish(ctx, task) for _, task in submitted))
    for (mv, version), clips in zip(expected.items(), finals):
        for clip in clips:
            expect(clip["model_name"] == mv and clip["major_model_version"] == version,
                   f"mv {mv}: clip shows {clip['model_name']!r} "
                   f"{clip['major_model_version']!r}, expected {version}")
