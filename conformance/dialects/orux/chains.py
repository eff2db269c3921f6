"""Suno v5's multi-step workflow: actions chained onto a finished song (extend, cover,
replace, persona, instrumental, add-vocals, mashup, and the exports), each a task of its
own under the song, and the parents an action refuses."""

from __future__ import annotations

import asyncio
import re
from typing import Any, Callable

from ... import audio
from ...case import CREDITS, CaseFailed, Catalog, expect
from .calls import (LYRICS, SUNG, chained, error_of, fetched, finish, finish_all, song,
                    song_body, start)
from .driver import DANCE, PRICES, SEED, TASKS, UNKNOWN, VOICE, Orux
from .results import (check_chain_refs, check_media_sample, check_result_urls, clips_of,
                      sung_lines)

LRC_LINE = re.compile(r"\[(\d\d):(\d\d)\.(\d\d)\](.+)")
Tasks = dict[str, dict[str, Any]]


async def derive(ctx, roots: dict[str, dict[str, Any]],
                 bodies: Callable[[dict[str, str]], dict[str, Any]]) -> tuple[Tasks, Tasks]:
    """Songs made, then actions on them: each action's task checked to hang under its
    parent (the song named in its body) and to link real media."""
    made = await finish_all(ctx, {n: await start(ctx, b) for n, b in roots.items()})
    asked = bodies({n: t["task_id"] for n, t in made.items()})
    tasks = await finish_all(ctx, {n: await start(ctx, b) for n, b in asked.items()})
    sources = {c["id"] for t in made.values() for c in clips_of(t)}
    for action, task in tasks.items():
        parent = asked[action]["parent_task_id"]
        check_chain_refs(task, action, parent, parent)
        clips = clips_of(task, 1 if action in ("instrumental", "add-vocals") else 2)
        expect(not sources & {c["id"] for c in clips}, f"{action} reuses a source song")
        check_result_urls(task)
        await check_media_sample(ctx, task)
    return made, tasks


def add(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("extend", "extend, its suno-extend model id, and upload-extend of the "
                  "song's own audio each continue it", area="chains", needs=[CREDITS], cost=4,
                  seed=f"{SEED}: Suno v5 multi-step workflow, extend and upload-extend")
    async def extend(ctx) -> None:
        root = await song(ctx, "a song to extend")
        root_id, source = root["task_id"], clips_of(root)[0]
        added = "[Verse]\nBrand new morning rising\nCarry me across the water"
        ids = {"action": await start(ctx, chained(ctx, root_id, "extend", duration=30,
                                                  lyrics=added)),
               "alias": await start(ctx, {**chained(ctx, root_id, "extend", duration=30),
                                          "model": "suno-extend", "action": "extend"}),
               "upload": await start(ctx, {"model": "suno-v5", "action": "upload-extend",
                                           "prompt": ctx.marker("more of it"), "duration": 30,
                                           "audio_url": source["audio_url"]})}
        tasks = await finish_all(ctx, ids)
        upload = tasks.pop("upload")
        for name, task in tasks.items():
            check_chain_refs(task, "extend", root_id, root_id)
            expect(task["alias"] == ("suno-extend" if name == "alias" else "suno-v5"),
                   f"extend by {name}: alias {task['alias']!r}")
            for clip in clips_of(task, 2):
                expect(abs(clip["duration"] - (source["duration"] + 30)) < 0.01,
                       f"a {source['duration']} s song extended by 30 s is "
                       f"{clip['duration']} s")
            check_result_urls(task)
            await check_media_sample(ctx, task)
        words = sung_lines(clips_of(tasks["action"])[0]["lyrics"])
        expect(words[-2:] == sung_lines(added),
               f"the extension does not sing the added lyrics: {words}")
        # upload-extend starts from the caller's audio, not a task: a chain of its own
        expect(upload["action"] == "upload-extend" and upload["parent_task_id"] is None
               and upload["root_task_id"] is None,
               f"an upload starts a chain of its own: {upload}")
        expect(upload["credits"] == PRICES["upload-extend"]
               and upload["chain_credits"] == PRICES["upload-extend"],
               f"upload-extend credits {upload['credits']}, chain {upload['chain_credits']}")
        for clip in clips_of(upload, 2):
            expect(clip["duration"] > 30, f"an upload extended by 30 s is {clip['duration']} s")
            if ctx.run.direct:  # the simulator knows its own link: that song is extended
                expect(abs(clip["duration"] - (source["duration"] + 30)) < 0.01,
                       f"a {source['duration']} s upload extended by 30 s is "
                       f"{clip['duration']} s")
        check_result_urls(upload)
        await check_media_sample(ctx, upload)

    @catalog.case("cover-replace-persona", "cover, replace and persona make new songs of one",
                  seed=f"{SEED}: Suno v5 multi-step workflow", area="chains", needs=[CREDITS],
                  cost=4)
    async def cover_replace_persona(ctx) -> None:
        made, tasks = await derive(ctx, {"root": song_body(ctx, "dreamy synth pop")}, lambda ids: {
            "cover": chained(ctx, ids["root"], "cover", prompt="acoustic folk"),
            "replace": chained(ctx, ids["root"], "replace", replace_start=10, replace_end=20),
            "persona": chained(ctx, ids["root"], "persona", prompt="jazz ballad")})
        source = clips_of(made["root"])[0]
        cover = clips_of(tasks["cover"])[0]
        expect(sung_lines(cover["lyrics"]) == SUNG and cover["tags"] == "acoustic folk",
               f"a cover sings the same lyrics in the new style: {cover}")
        for clip in clips_of(tasks["replace"]):
            expect(abs(clip["duration"] - source["duration"]) < 0.01,
                   f"replace keeps the song's length: {clip['duration']} vs "
                   f"{source['duration']}")
        persona = clips_of(tasks["persona"])[0]
        expect("jazz ballad" in persona["tags"] and persona["lyrics"],
               f"a persona song in the asked style, sung: {persona}")

    @catalog.case("vocals-mashup", "instrumental strips a song's vocals, add-vocals sings "
                  "over a backing track, mashup blends two songs",
                  seed=f"{SEED}: Suno v5 multi-step workflow", area="chains", needs=[CREDITS],
                  cost=5)
    async def vocals_mashup(ctx) -> None:
        made, tasks = await derive(ctx, {
            "root": song_body(ctx, "dreamy synth pop"),
            "backing": song_body(ctx, "a backing track", instrumental=True)}, lambda ids: {
            "instrumental": chained(ctx, ids["root"], "instrumental"),
            "add-vocals": chained(ctx, ids["backing"], "add-vocals", prompt="soulful vocals",
                                  lyrics=LYRICS),
            "mashup": chained(ctx, ids["root"], "mashup", prompt="blend",
                              mashup_task_id=ids["backing"])})
        source = clips_of(made["root"])[0]
        backing = clips_of(tasks["instrumental"])[0]
        expect(backing["lyrics"] == "" and abs(backing["duration"] - source["duration"]) < 0.01,
               f"instrumental strips the vocals and keeps the length: {backing}")
        sung = clips_of(tasks["add-vocals"])[0]
        expect(sung_lines(sung["lyrics"]) == SUNG,
               f"add-vocals sings the given lyrics: {sung['lyrics']!r}")
        mashup = clips_of(tasks["mashup"])[0]
        expect(mashup["title"].count(" x ") == 1,
               f"a mashup's title names its two songs: {mashup['title']!r}")

    @catalog.case("exports", "lyrics (LRC), stem, wav, mv and cover-img of a song",
                  seed=f"{SEED}: Suno v5 multi-step workflow", area="chains", needs=[CREDITS],
                  cost=5)
    async def exports(ctx) -> None:
        root = await song(ctx, "a song to export")
        root_id, source = root["task_id"], clips_of(root)[0]
        ids = {action: await start(ctx, chained(ctx, root_id, action))
               for action in ("lyrics", "stem", "wav", "mv", "cover-img")}
        tasks = await finish_all(ctx, ids)
        for action, task in tasks.items():
            check_chain_refs(task, action, root_id, root_id)
            check_result_urls(task)
        # lyrics: the song's words as LRC, timed within the song, in order
        words = tasks["lyrics"]["result"]
        expect(words.get("format") == "lrc" and tasks["lyrics"]["result_urls"] == [],
               f"lyrics result: {words}")
        lines = [LRC_LINE.fullmatch(line) for line in words["lyrics"].splitlines()]
        expect(lines and all(lines), f"not LRC lines: {words['lyrics']!r}")
        times = [int(m[1]) * 60 + int(m[2]) + int(m[3]) / 100 for m in lines]
        expect([m[4] for m in lines] == SUNG, f"the LRC words {[m[4] for m in lines]}")
        expect(times == sorted(times) and 0 <= times[0] and times[-1] < source["duration"],
               f"LRC times {times} in a {source['duration']} s song")
        # stem: one track per instrument, vocals among them, each a real song-long MP3
        stems = tasks["stem"]["result"].get("stems") or []
        names = [s["name"] for s in stems]
        expect(len(stems) >= 2 and len(set(names)) == len(names) and "vocals" in names,
               f"stems {names}")
        expect(tasks["stem"]["result"]["audio_urls"] == [s["audio_url"] for s in stems],
               "audio_urls do not list the stems")
        for clip in clips_of(tasks["stem"]):
            expect(abs(clip["duration"] - source["duration"]) < 0.01,
                   f"a stem of {clip['duration']} s of a {source['duration']} s song")
        await check_media_sample(ctx, tasks["stem"])
        # wav: the song as RIFF WAV, as long as the song
        (wav,) = tasks["wav"]["result"]["audio_urls"]
        expect(tasks["wav"]["result"].get("format") == "wav", "wav result format")
        data = await fetched(ctx, wav, "audio/")
        expect(data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"{wav} is not a WAV file")
        seconds = await asyncio.to_thread(audio.seconds, data)
        expect(seconds is not None and abs(seconds - source["duration"]) < 0.1,
               f"the WAV plays {seconds} s, the song {source['duration']} s")
        # mv: an MP4 as long as the song
        video = tasks["mv"]["result"].get("video_url")
        data = await fetched(ctx, video, "video/mp4")
        seconds = await asyncio.to_thread(audio.seconds, data)
        expect(seconds is not None and abs(seconds - source["duration"]) < 0.5,
               f"the music video plays {seconds} s, the song {source['duration']} s")
        # cover-img: a new JPEG, not the song's own cover
        image = await fetched(ctx, tasks["cover-img"]["result"]["image_url"], "image/")
        before = await fetched(ctx, root["result"]["image_url"], "image/")
        expect(image[:3] == b"\xff\xd8\xff" and image != before,
               "cover-img did not make a new JPEG cover")

    @catalog.case("refusals", "Chained actions refuse a parent they cannot work on",
                  seed=f"{SEED}: Suno v5 multi-step workflow", area="chains", needs=[CREDITS],
                  cost=2)
    async def refusals(ctx) -> None:
        running = await start(ctx, {"model": "suno-v5", "prompt": ctx.marker("a parent"),
                                    "lyrics": LYRICS, "duration": 30})
        answer = await ctx.call("POST", TASKS, json=chained(ctx, running, "extend"))
        error_of(answer, 409, "invalid_request_error", "parent_not_ready", "parent_task_id")
        speech = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                                   "text": ctx.marker("not a song")})
        await finish(ctx, running)
        await finish(ctx, speech)
        cases = [
            ("onto speech", chained(ctx, speech, "cover"), 400, "invalid_request",
             "parent_task_id"),
            ("add-vocals onto a sung song", chained(ctx, running, "add-vocals"), 400,
             "invalid_request", "parent_task_id"),
            ("mashup without a second song", chained(ctx, running, "mashup"), 400,
             "invalid_request", "mashup_task_id"),
            ("mashup with speech", chained(ctx, running, "mashup", mashup_task_id=speech), 400,
             "invalid_request", "mashup_task_id"),
            ("upload-extend with a parent",
             {**chained(ctx, running, "upload-extend"), "audio_url": DANCE}, 400,
             "invalid_request", "parent_task_id"),
            ("generate with a parent", chained(ctx, running, "generate"), 400,
             "invalid_request", "parent_task_id"),
            ("replace past the song's end",
             chained(ctx, running, "replace", replace_start=10, replace_end=999), 400,
             "invalid_request", "replace_end"),
            ("unknown parent", chained(ctx, UNKNOWN, "cover"), 404, "task_not_found",
             "parent_task_id"),
        ]
        for what, body, status, code, param in cases:
            answer = await ctx.call("POST", TASKS, json=body)
            try:
                error_of(answer, status, "invalid_request_error", code, param)
            except CaseFailed as exc:
                raise CaseFailed(f"{what}: {exc}") from None
        # another key: the run's second key, or (against the simulator, where the case
        # has a key of its own) the run's key
        second = next((k for k in (ctx.run.second_key, ctx.run.api_key)
                       if k and k != ctx.api_key), None)
        if second:
            answer = await ctx.call("POST", TASKS, json=chained(ctx, running, "cover"),
                                    key=second)
            try:
                error_of(answer, 404, "invalid_request_error", "task_not_found",
                         "parent_task_id")
            except CaseFailed as exc:
                raise CaseFailed(f"another key's parent: {exc}") from None
