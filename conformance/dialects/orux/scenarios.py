"""Each model end to end as the seed documents it: Suno v5 songs (its duration bounds,
the seed's example, instrumentals), ElevenLabs v3 speech and music, Runway Act-Two."""

from __future__ import annotations

import asyncio

from ... import audio
from ...case import CREDITS, Catalog, expect
from ...common import check_media
from .calls import fetched, finish, finish_all, song, start
from .driver import ACTOR, DANCE, PRICES, SEED, TASKS, VOICE, Orux
from .results import check_all_media, check_media_sample, check_result_urls, clips_of

TTS_DEFAULTS = {"model_id": "eleven_v3", "stability": 0.5, "style": 0.3,
                "use_speaker_boost": True}


def add(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("duration-bounds", "The documented duration bounds themselves are accepted",
                  seed=f"{SEED}: duration (30–240 suno-v5, 10–120 elevenlabs-music)",
                  area="scenarios", needs=[CREDITS], cost=2)
    async def duration_bounds(ctx) -> None:
        ids = {("suno-v5", 240): await start(ctx, {"model": "suno-v5", "duration": 240,
                                                   "prompt": ctx.marker("a long song")}),
               ("elevenlabs-music", 10): await start(ctx, {"model": "elevenlabs-music",
                                                           "duration": 10,
                                                           "prompt": ctx.marker("a blip")}),
               ("elevenlabs-music", 120): await start(ctx, {"model": "elevenlabs-music",
                                                            "duration": 120,
                                                            "prompt": ctx.marker("a loop")})}
        for (model, seconds), task_id in ids.items():
            task = await finish(ctx, task_id)
            if model == "suno-v5":
                claimed = [c["duration"] for c in clips_of(task, 2)]
            else:
                claimed = [task["result"]["duration"]]
            expect(all(abs(c - seconds) < 0.01 for c in claimed),
                   f"{model} asked {seconds} s made {claimed}")
            item = next(m for m in driver.media_of(task) if m.kind == "audio")
            await check_media(ctx, item)

    @catalog.case("seed-song", "The seed's song example makes two 60 s songs with its lyrics",
                  seed=f"{SEED}: examples, submit a song", area="scenarios", needs=[CREDITS],
                  cost=1)
    async def seed_song(ctx) -> None:
        words = "Soft rain on neon glass, the city hums..."
        task_id = await start(ctx, {"model": "suno-v5", "prompt": ctx.marker(
            "Lo-fi hip hop beat with rainy night ambience"), "lyrics": words, "duration": 60})
        early = (await ctx.poll(task_id)).data
        if early["status"] in ("QUEUED", "RUNNING"):
            expect(early["result"] is None and early["result_urls"] == []
                   and "finish_time" not in early,
                   f"an unfinished task shows results or a finish time: {early}")
        task = await finish(ctx, task_id)
        expect((task["alias"], task["model"], task["action"], task["channel"]) ==
               ("suno-v5", "suno-v5", "generate", "suno") and task["upstream_model"],
               f"the song's model fields: {task}")
        expect(task["parent_task_id"] is None and task["root_task_id"] is None,
               f"an original song names a parent or root: {task}")
        expect(task.get("finish_time") and task["finish_time"] >= task["submit_time"]
               and isinstance(task.get("duration_sec"), int),
               f"a finished task's times: {task}")
        clips = clips_of(task, 2)
        expect(len({c["id"] for c in clips}) == 2, "the two songs share an id")
        for clip in clips:
            expect(clip["duration"] == 60, f"a song of {clip['duration']} s, asked 60: {clip}")
            expect(clip["lyrics"] == words, f"the song sings {clip['lyrics']!r}, not the lyrics")
        expect(task["result"]["lyrics"] == words and task["result"].get("image_url"),
               f"the result's lyrics and cover art: {task['result']}")
        expect(task["expires_at"] is not None, "a succeeded task has no expires_at")
        check_result_urls(task)
        await check_media_sample(ctx, task)

    @catalog.case("instrumental", "instrumental: true makes songs without words",
                  seed=f"{SEED}: suno-v5 instrumental", area="scenarios", needs=[CREDITS],
                  cost=1)
    async def instrumental(ctx) -> None:
        task = await song(ctx, "an instrumental", instrumental=True)
        for clip in clips_of(task, 2):
            expect(clip["lyrics"] == "" and clip["duration"] == 30,
                   f"an instrumental song: {clip}")

    @catalog.case("elevenlabs-v3", "ElevenLabs v3 speech is synchronous: the submit answers "
                  "the finished task; defaults applied, settings echoed",
                  seed=f"{SEED}: ElevenLabs v3 (text-to-speech): Synchronous TTS",
                  area="scenarios", needs=[CREDITS], cost=0.4)
    async def elevenlabs_v3(ctx) -> None:
        ctx.spend(PRICES["elevenlabs-v3"] / driver.price)
        answer = await ctx.call("POST", TASKS, json={
            "model": "elevenlabs-v3", "voice_id": VOICE,
            "text": ctx.marker("Welcome to Orux AI. One key, every model.")})
        spoken = answer.data if isinstance(answer.data, dict) else {}
        expect(answer.status == 200 and spoken.get("status") == "SUCCESS"
               and (spoken.get("result") or {}).get("audio_urls"),
               f"synchronous speech: the submit answered {answer}")
        plain = spoken["task_id"]
        ctx.observe(plain, "SUCCESS")
        given = {"model_id": "eleven_multilingual_v2", "stability": 0.9, "style": 0.0,
                 "use_speaker_boost": False}
        tuned = await start(ctx, {"model": "elevenlabs-v3", "voice_id": "voice-two",
                                  "text": ctx.marker("Hello again."), **given})
        tasks = await finish_all(ctx, {"plain": plain, "tuned": tuned})
        expect(spoken == tasks["plain"], "the submit's answer is not the task as GET shows it")
        for name, settings, voice in (("plain", TTS_DEFAULTS, VOICE),
                                      ("tuned", given, "voice-two")):
            task = tasks[name]
            expect((task["model"], task["alias"], task["channel"], task["action"],
                    task["chain_credits"]) == ("elevenlabs-v3", "elevenlabs-v3", "elevenlabs",
                                               None, None),
                   f"{name} speech task fields: {task}")
            expect(task["upstream_model"] == settings["model_id"],
                   f"upstream_model {task['upstream_model']!r}, model_id "
                   f"{settings['model_id']!r}")
            expect(task["credits"] == PRICES["elevenlabs-v3"], f"speech credits {task['credits']}")
            result = task["result"]
            expect(result.get("settings") == settings,
                   f"{name} speech settings {result.get('settings')}, expected {settings}")
            expect(result.get("voice_id") == voice, f"voice_id {result.get('voice_id')!r}")
            expect(isinstance(result.get("duration"), (int, float)) and result["duration"] > 0.5,
                   f"speech duration {result.get('duration')!r}")
            expect(len(result.get("audio_urls") or []) == 1, f"speech audio: {result}")
            check_result_urls(task)
            await check_all_media(ctx, task)

    @catalog.case("elevenlabs-music", "ElevenLabs music: 30 s by default, or the duration asked",
                  seed=f"{SEED}: ElevenLabs Music", area="scenarios", needs=[CREDITS], cost=1)
    async def elevenlabs_music(ctx) -> None:
        ids = {30: await start(ctx, {"model": "elevenlabs-music",
                                     "prompt": ctx.marker("a game jingle")}),
               12: await start(ctx, {"model": "elevenlabs-music",
                                     "prompt": ctx.marker("a short sting"), "duration": 12})}
        tasks = await finish_all(ctx, ids)
        for seconds, task in tasks.items():
            expect((task["model"], task["channel"], task["action"]) ==
                   ("elevenlabs-music", "elevenlabs", None), f"music task fields: {task}")
            expect(task["credits"] == PRICES["elevenlabs-music"],
                   f"music credits {task['credits']}")
            result = task["result"]
            expect(result.get("duration") == seconds,
                   f"music of {result.get('duration')} s, expected {seconds}")
            check_result_urls(task)
            await check_all_media(ctx, task)

    @catalog.case("runway-act-two", "Runway Act-Two makes a video from the two references",
                  seed=f"{SEED}: Runway Act-Two", area="scenarios", needs=[CREDITS], cost=2.5)
    async def runway_act_two(ctx) -> None:
        task_id = await start(ctx, {"model": "runway-act-two", "character_video_url": ACTOR,
                                    "driver_video_url": DANCE + f"?case={ctx.token}"})
        task = await finish(ctx, task_id)
        expect((task["model"], task["channel"], task["action"]) ==
               ("runway-act-two", "runway", None), f"act-two task fields: {task}")
        expect(task["credits"] == PRICES["runway-act-two"], f"act-two credits {task['credits']}")
        url = (task["result"] or {}).get("video_url")
        expect(url and task["result_urls"] == [url], f"act-two result: {task}")
        data = await fetched(ctx, url, "video/mp4")
        expect(data[4:8] == b"ftyp", f"{url} is not an MP4")
        seconds = await asyncio.to_thread(audio.seconds, data)
        expect(seconds is not None and seconds > 1, f"{url} plays {seconds} s")
