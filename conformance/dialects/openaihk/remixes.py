"""Chains that make new songs from parts of one: a persona (plain, or vox from a vocal
window) singing a new song, stems (two, twelve, and the deprecated call), instrumental
or vocals added to an upload (underpainting, overpainting), a mashup of two songs and a
song seeded by a sample. All start from the shared library (see library.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from ...case import CREDITS, Catalog, expect
from ...common import check_media
from ...dialect import Media
from .calls import act, duration, finish, made, near, resolves
from .driver import DRIVER, LYRICS, PERSONA, SMALL, UUID, Openaihk
from .library import library


def add_cases(catalog: Catalog, driver: Openaihk) -> None:
    @catalog.case("personas", "A persona (plain, or vox from a vocal window) sings a new song",
                  seed="seed 003: 9. Persona: Singer Style; 21. Persona-v2-vox",
                  area="chains", needs=[CREDITS], cost=2 + 3 * SMALL)
    async def personas(ctx) -> None:
        await asyncio.gather(_persona(ctx), _vox(ctx))

    @catalog.case("stems", "Stems: gen_stem two (vocals, instrumental), twelve (24 clips), "
                  "and the deprecated call",
                  seed="seed 003: 10. stems; 14. all-stems: Full Track Separation",
                  area="chains", needs=[CREDITS], cost=6 + SMALL)
    async def stems(ctx) -> None:
        await asyncio.gather(_stems_two(ctx), _stems_old(ctx), _stems_twelve(ctx))

    @catalog.case("add-instrumental-vocals", "underpainting adds music, overpainting adds "
                  "vocals, to an uploaded track",
                  seed="seed 003: 16. Add Instrumental; 17. Add Vocals", area="chains",
                  needs=[CREDITS], cost=2)
    async def paintings(ctx) -> None:
        await asyncio.gather(_underpainting(ctx), _overpainting(ctx))

    @catalog.case("mashup-samples", "Two songs are mashed up; a sample of a song seeds a new one",
                  seed="seed 003: 22. Mashup; 24. Samples", area="chains", needs=[CREDITS],
                  cost=2)
    async def mashup_samples(ctx) -> None:
        await asyncio.gather(_mashup(ctx), _samples(ctx))


# --- the parts the cases above run side by side ----------------------------------------


async def _persona(ctx) -> None:
    lib = await library(ctx)
    root, key = lib.song, lib.key
    ctx.spend(SMALL)
    answer = await ctx.call("POST", PERSONA, key=key, json={
        "root_clip_id": root["id"], "name": "Persona Title",
        "description": "Persona Description", "clips": [root["id"]], "is_public": True})
    expect(answer.status == 200, f"creating a persona: {answer}")
    persona = answer.data
    expect(persona["root_clip_id"] == root["id"] and persona["clip"]["id"] == root["id"],
           f"the persona's root is not the song: {persona['root_clip_id']}")
    expect([p["clip"]["id"] for p in persona["persona_clips"]] == [root["id"]],
           "persona_clips does not list the song")
    expect(persona["name"] == "Persona Title" and UUID.match(persona["id"]),
           f"persona name {persona['name']!r}, id {persona['id']!r}")
    body = {"prompt": LYRICS, "generation_type": "TEXT", "tags": "electronic, pop",
            "negative_tags": ctx.marker(), "mv": "chirp-v4", "title": "Darling",
            "task": "artist_consistency", "persona_id": persona["id"],
            "artist_clip_id": root["id"]}
    _, clips = await made(ctx, body, key=key)
    for clip in clips:
        meta = clip["metadata"]
        expect(meta.get("persona_id") == persona["id"]
               and meta.get("artist_clip_id") == root["id"]
               and meta.get("task") == "artist_consistency",
               f"the song does not name its persona: {meta}")
        expect(clip["title"] == "Darling", f"title {clip['title']!r}")


async def _vox(ctx) -> None:
    lib = await library(ctx)
    source, key = lib.song, lib.key
    length = duration(source)
    expect(length > 30, f"the song lasts {length} s, too short for a vocal window")
    start = round(max(0.0, min(45.0, length - 30)), 2)
    end = start + 29
    ctx.spend(2 * SMALL)
    answer = await ctx.call("POST", f"/suno/act/vox/{source['id']}", key=key,
                            json={"vocal_start_s": start, "vocal_end_s": end})
    expect(answer.status == 200, f"vox: {answer}")
    got = answer.data
    expect(got["source_clip_id"] == source["id"] and got["status"] == "complete",
           f"vox answer: {got}")
    expect(got["vocal_start_s"] == start and got["vocal_end_s"] == end,
           f"vox window {got['vocal_start_s']}..{got['vocal_end_s']}, asked {start}..{end}")
    expect(got["wave_response"]["waveform_aggregates"][0]["data"], "vox has no waveform")
    await check_media(ctx, Media(got["vocal_audio_url"], "audio", end - start))
    answer = await ctx.call("POST", PERSONA, key=key, json={
        "root_clip_id": source["id"], "name": "food", "description": "123",
        "is_public": True, "persona_type": "vox", "vox_audio_id": got["id"],
        "vocal_start_s": start, "vocal_end_s": end,
        "user_input_styles": "Style: Verse, Chinese Folk narrative"})
    expect(answer.status == 200, f"vox persona (the seed's 21C body, with no clips): {answer}")
    persona = answer.data
    expect(persona.get("persona_type") == "vox" and persona["root_clip_id"] == source["id"]
           and persona["clip"]["id"] == source["id"],
           f"vox persona: {persona.get('persona_type')!r} root {persona['root_clip_id']}")
    body = {"prompt": "[Verse]\nThe noise finally steps aside", "generation_type": "TEXT",
            "tags": "Ethereal Lullaby, Acoustic Piano", "negative_tags": ctx.marker(),
            "mv": "chirp-crow", "title": "Goodnight", "task": "vox",
            "persona_id": persona["id"], "artist_clip_id": source["id"]}
    _, clips = await made(ctx, body, key=key)
    for clip in clips:
        expect(clip["model_name"] == "chirp-crow" and clip["major_model_version"] == "v5",
               f"vox song model {clip['model_name']!r} {clip['major_model_version']!r}")
        expect(clip["metadata"].get("persona_id") == persona["id"],
               f"the song does not name its persona: {clip['metadata']}")
    await resolves(ctx, clips[0])


async def _stems_two(ctx) -> None:
    lib = await library(ctx)
    source, key = lib.song, lib.key
    body = _stem_request(ctx, source, "two")
    _, stems = await made(ctx, body, key=key)
    expect(len(stems) == 2, f"two stems expected, got {len(stems)}")
    for clip in stems:
        meta = clip["metadata"]
        expect(meta.get("type") == "stem" and meta.get("stem_from_id") == source["id"],
               f"a stem does not name its song: {meta}")
        expect(near(duration(clip), duration(source)),
               f"stem lasts {duration(clip)} s, the song {duration(source)} s")
    titles = [c["title"] for c in stems]
    expect(titles[0].endswith("Vocals") and titles[1].endswith("Instrumental"),
           f"stem titles {titles}")
    await resolves(ctx, stems[0])


async def _stems_old(ctx) -> None:
    lib = await library(ctx)
    source, key = lib.song, lib.key
    ctx.spend(SMALL)
    old = await act(ctx, f"/sunoapi/act/stems/{source['id']}", key=key)
    pair = [old["clip_1"], old["clip_2"]]
    for clip in pair:
        expect(clip["metadata"].get("stem_from_id") == source["id"],
               f"a stem does not name its song: {clip['metadata']}")
    task_id = ",".join(c["id"] for c in pair)
    ctx.observe(task_id, DRIVER.status_of(pair))
    stems = await finish(ctx, task_id, key=key)
    for clip in stems:
        expect(clip["audio_url"] and near(duration(clip), duration(source)),
               f"a deprecated stem: audio {clip['audio_url']!r}, lasts {duration(clip)} s, "
               f"the song {duration(source)} s")


async def _stems_twelve(ctx) -> None:
    lib = await library(ctx)
    source, key = lib.song, lib.key
    body = _stem_request(ctx, source, "twelve")
    answer, clips = await made(ctx, body, songs=5, key=key)
    expect(len(clips) == 24, f"twelve stems answer 24 clips, got {len(clips)}")
    first = answer["clips"][0]
    expect(first["model_name"] == "chirp-stem", f"stem model {first['model_name']!r}")
    history = first["metadata"].get("history") or [{}]
    expect(history[0].get("stem_task") == "twelve" and history[0].get("id") == source["id"],
           f"stem history {history}")
    names = [c["metadata"].get("stem_type_group_name") for c in clips]
    expect(len(set(names[:12])) == 12 and names[:12] == names[12:],
           f"the 24 clips are not two takes of 12 different stems: {names}")
    for clip in clips:
        expect(clip["metadata"].get("stem_from_id") == source["id"],
               f"a stem does not name its song: {clip['metadata']}")
    await resolves(ctx, clips[0])


def _stem_request(ctx, source: dict[str, Any], task: str) -> dict[str, Any]:
    """The seed's gen_stem body (scenario 17) for ``two`` or ``twelve`` stems."""
    return {"task": "gen_stem", "generation_type": "TEXT", "title": "Safety String",
            "negative_tags": ctx.marker(), "mv": "chirp-auk", "prompt": "",
            "make_instrumental": True, "continue_clip_id": source["id"],
            "continued_aligned_prompt": None, "continue_at": None, "stem_type_id": 91,
            "stem_type_group_name": task.capitalize(), "stem_task": task}


async def _underpainting(ctx) -> None:
    await _painting(ctx, "underpainting", "Pop rap, uplifting, piano, synth, driving bass",
                    "")


async def _overpainting(ctx) -> None:
    clips = await _painting(ctx, "overpainting", "A smooth, soulful R&B track",
                            "Write the lyrics yourself")
    expect(clips[0]["metadata"].get("has_vocal") is True,
           f"add vocals made no vocal: {clips[0]['metadata']}")


async def _painting(ctx, task: str, tags: str, prompt: str) -> list[dict[str, Any]]:
    """Music or vocals added to the library's upload: the new song names it and keeps
    its length."""
    lib = await library(ctx)
    source, key = lib.upload, lib.key
    feed = await act(ctx, f"/suno/feed/{source['id']}", key=key)
    length = duration(feed[0])
    end = round(min(57.9, length), 2)
    body = {"mv": "chirp-bluejay", "tags": tags, "title": f"Hi {task}",
            "negative_tags": ctx.marker(), f"{task}_clip_id": source["id"],
            f"{task}_start_s": 0, f"{task}_end_s": end, "task": task, "prompt": prompt,
            "override_fields": ["prompt", "tags"]}
    _, clips = await made(ctx, body, key=key)
    for clip in clips:
        expect(clip["metadata"].get(f"{task}_clip_id") == source["id"],
               f"the {task} song does not name its upload: {clip['metadata']}")
        expect(clip["major_model_version"] == "v4.5+", f"{task} version "
                                                      f"{clip['major_model_version']!r}")
        expect(near(duration(clip), length),
               f"the {task} song lasts {duration(clip)} s, the upload {length} s")
    await resolves(ctx, clips[0])
    return clips


async def _mashup(ctx) -> None:
    lib = await library(ctx)
    (one, two), key = lib.songs, lib.key
    body = {"task": "mashup_condition", "generation_type": "TEXT",
            "title": "Banban83 vs bluespawn (Mashup)", "tags": "",
            "negative_tags": ctx.marker(), "mv": "chirp-crow",
            "prompt": "You keep turning back inside the station",
            "mashup_clip_ids": [one["id"], two["id"]]}
    _, clips = await made(ctx, body, key=key)
    for clip in clips:
        expect(clip["title"] == "Banban83 vs bluespawn (Mashup)", f"title {clip['title']!r}")
        expect(clip["metadata"].get("mashup_clip_ids") == [one["id"], two["id"]],
               f"the mashup does not name its songs: {clip['metadata']}")
    await resolves(ctx, clips[0])


async def _samples(ctx) -> None:
    lib = await library(ctx)
    source, key = lib.song, lib.key
    length = duration(source)
    start, end = (59.88, 102.16) if length >= 102.16 else (round(length * 0.3, 2),
                                                           round(length * 0.6, 2))
    body = {"task": "chop_sample_condition", "generation_type": "TEXT",
            "title": "Breaking My Own News", "tags": "", "negative_tags": ctx.marker(),
            "mv": "chirp-crow", "prompt": "[Verse 1]\nPhone lit up\nHeadline in my hand",
            "chop_sample_clip_id": source["id"], "chop_sample_start_s": start,
            "chop_sample_end_s": end}
    _, clips = await made(ctx, body, key=key)
    for clip in clips:
        meta = clip["metadata"]
        expect(meta.get("chop_sample_clip_id") == source["id"]
               and meta.get("chop_sample_start_s") == start
               and meta.get("chop_sample_end_s") == end,
               f"the song does not name its sample: {meta}")
    await resolves(ctx, clips[0])
