"""openaihk (seed 003): Suno's own clip shapes, passed through the openai-hk gateway.

Every generation is ``POST /sunoapi/generate`` (the body's ``task`` picks the scenario);
the answer is a batch whose clips are then read with ``GET /sunoapi/feed/{id1,id2}``.

What the driver calls a task is the batch as its clips: the task id is the batch's clip
ids joined with commas, which is exactly the path parameter the feed takes, so polling a
task is one feed call. The status of such a task is well defined from its clips:

* ``error`` as soon as any clip of it is ``error`` (the batch failed), otherwise
* the status of its least advanced clip (``submitted`` → ``queued`` → ``streaming`` →
  ``complete``), so the task is ``complete`` only once every clip is.

Each clip's status only moves forward, so the batch's does too: the least of words that
only grow only grows, and ``error`` is final. A task made of one clip (an upload, a
concat) is that clip's status. The batch answer's own top-level ``status`` is not read:
the seed prints it as ``complete`` while its clips are still ``submitted``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from ..case import (CREDITS, SECOND_KEY, SIMULATOR, UPSTREAM_ADMIN, CaseFailed, Catalog, Skipped,
                    expect)
from ..common import check_media
from ..context import CASE_KEY
from ..dialect import Driver, Invalid, Media

GENERATE = "/sunoapi/generate"
CONCAT = "/sunoapi/generate/concat"
REMASTER = "/sunoapi/generate/upsample"
LYRICS_MASHUP = "/sunoapi/generate/lyrics-mashup"
UPLOAD = "/suno/uploads/audio-url"
PERSONA = "/suno/persona/create/"
TAGS = "/suno/act/tags"
UPLOAD_URL = "http://cdnimg.exbapp.com/ai/2024-06-18/d416d9c3c34eb22c7d8c094831d8dbd0.mp3"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PLACEHOLDER = "abcd-1234-1234-1234-abd"  # the seed's stand-in clip id
SMALL = 0.1  # 100 credits (wav, mp4, midi, tags, vox, persona, concat), in songs of 1000
DURATION_TOLERANCE = 1.0
POLL_AT_LEAST = 0.2  # seconds between feed reads of one batch: each read is schema-checked

WORK = ("[Verse]\nBusy days one after another\nFiles piling up with no end in sight\n"
        "Dreams tucked away in a drawer\nCoffee cup already gone cold\n\n[Verse 2]\n"
        "Clock in at eight every morning\nTired eyes with no spark left\n"
        "Small talk with colleagues feels pointless\nJust waiting for time to speed by\n\n"
        "[Chorus]\nWork work the boss keeps calling\nFinish up finish up then we're safe\n"
        "Overtime overtime just to earn a little\nDreams dreams when will they come true\n\n"
        "[Verse 3]\nLunch break eating a bento box\nWatching sunshine pour through the window\n"
        "Life feels so far from the dream\nAll I see is the desk and chair\n\n[Bridge]\n"
        "The boss's footsteps sound like thunder\nHeartbeat quickening with the rhythm\n"
        "A mountain of files on the desk\nThe sound of complaints slowly fades\n\n[Chorus]\n"
        "Work work the boss keeps calling\nFinish up finish up then we're safe\n"
        "Overtime overtime just to earn a little\nDreams dreams when will they come true")


# Eight sung lines of the seed's lyrics: songs of about a minute, which keeps the media
# every case fetches (and the simulator renders) small.
LYRICS = ("[Verse]\nBusy days one after another\nFiles piling up with no end in sight\n"
          "Dreams tucked away in a drawer\nCoffee cup already gone cold\n\n[Chorus]\n"
          "Work work the boss keeps calling\nFinish up finish up then we're safe\n"
          "Overtime overtime just to earn a little\nDreams dreams when will they come true")


def clips_of(data: Any) -> list[dict[str, Any]]:
    """The clips an answer holds: a feed (a list), a batch (its clips), or one clip."""
    if isinstance(data, list):
        return [c for c in data if isinstance(c, dict)]
    if isinstance(data, dict):
        if isinstance(data.get("clips"), list):
            return [c for c in data["clips"] if isinstance(c, dict)]
        if "id" in data and "status" in data:
            return [data]
    return []


class Openaihk(Driver):
    provider = "openaihk"
    seed = "seed 003"
    ranks = {"submitted": 0, "queued": 1, "streaming": 2, "complete": 3, "error": 3}
    succeeded = "complete"
    failed = frozenset({"error"})
    price = 1000.0  # one generation (two clips); fixtures/prices.toml [openaihk] song
    unknown_status = 404  # clip_not_found
    unknown_id = "00000000-0000-4000-8000-000000000000"
    rate_headers = ("Retry-After",)
    insufficient_status = 403  # insufficient_quota / insufficient_user_quota
    expires = False  # the seed documents no retention: songs stay

    def song_request(self, prompt: str, callback_url: str | None = None):
        """Scenario 2, custom mode: the caller's words as the style (``tags``) over eight
        lines of the seed's lyrics. Any generation costs one song; short lyrics make a
        short song, so the media the shared cases fetch stay small. (Inspiration mode,
        scenario 1, has its own case.)"""
        return "POST", GENERATE, {"prompt": LYRICS, "tags": prompt[:1000], "title": "Work",
                                  "mv": "chirp-v3-5"}

    def poll_request(self, task_id: str):
        return "GET", f"/sunoapi/feed/{task_id}", None

    def task_id_of(self, data: Any) -> str:
        if isinstance(data, dict) and isinstance(data.get("clip_id"), str):
            return data["clip_id"]  # an upload
        ids = [c.get("id") for c in clips_of(data)]
        if not ids or not all(isinstance(i, str) and i for i in ids):
            return None
        return ",".join(ids)

    def status_of(self, data: Any) -> str:
        words = [c.get("status") for c in clips_of(data)]
        if not words:
            return None
        if "error" in words:
            return "error"
        strange = [w for w in words if w not in self.ranks]
        if strange:
            return strange[0]  # not a word of the dialect: observe() names it
        return min(words, key=self.ranks.__getitem__)

    def media_of(self, data: Any) -> list[Media]:
        media = []
        for clip in clips_of(data):
            duration = (clip.get("metadata") or {}).get("duration")
            for field, kind in (("audio_url", "audio"), ("image_url", "image"),
                                ("image_large_url", "image"), ("video_url", "video")):
                url = clip.get(field)
                if url:
                    media.append(Media(url, kind, duration if kind != "image" else None))
        return media

    def callback_stage(self, payload: Any) -> str:
        return None  # the seed documents no callbacks

    def invalid_requests(self) -> list[Invalid]:
        """The seed's rules for a generate body (and its sibling calls) that need no
        clip to be checked: every one is a 400 before anything is charged."""
        cover = {"prompt": WORK, "tags": "rock, punk", "title": "Work (Cover)", "task": "cover",
                 "cover_clip_id": PLACEHOLDER}
        infill = {"task": "infill", "prompt": WORK, "continue_clip_id": PLACEHOLDER,
                  "infill_start_s": 10, "infill_end_s": 20, "infill_dur_s": 10}
        stem = {"task": "gen_stem", "mv": "chirp-auk", "prompt": "", "make_instrumental": True,
                "continue_clip_id": PLACEHOLDER, "stem_type_id": 91,
                "stem_type_group_name": "Two", "stem_task": "two"}
        persona = {"prompt": WORK, "tags": "electronic, pop", "title": "Darling",
                   "persona_id": "0f6e8077-a7ba-4fc8-8f60-de02c66e56ce",
                   "artist_clip_id": PLACEHOLDER}
        painting = {"tags": "piano", "title": "Hi", "prompt": ""}
        custom = {"prompt": WORK, "tags": "house", "title": "Savor the Flavor", "mv": "chirp-auk"}

        def sliders(**values: float) -> dict[str, Any]:
            return {**custom, "metadata": {"create_mode": "custom", "control_sliders": values}}

        rules = [
            Invalid("not-json", b"{nope", 400, "a body that is not JSON is refused with 400"),
            Invalid("no-scenario", {}, 400,
                    "a body with neither gpt_description_prompt, prompt, tags nor a task is "
                    "refused with 400"),
            Invalid("body-not-object", [WORK], 400, "a body that is not an object is refused"),
            Invalid("unknown-mv", {"prompt": WORK, "tags": "edm", "mv": "chirp-v9"}, 400,
                    "mv must be one of the documented model names"),
            Invalid("unknown-task", {**cover, "mv": "chirp-auk", "task": "remix"}, 400,
                    "task must be one of the documented tasks"),
            Invalid("extend-without-continue-at",
                    {"prompt": WORK, "mv": "chirp-v3-5", "task": "extend",
                     "continue_clip_id": PLACEHOLDER}, 400,
                    "extend needs continue_clip_id and continue_at"),
            Invalid("upload-extend-mv-v3-5",
                    {"prompt": "lyrics", "mv": "chirp-v3-5", "task": "upload_extend",
                     "continue_clip_id": PLACEHOLDER, "continue_at": 10}, 400,
                    "upload_extend: mv can be chirp-v4, chirp-auk or chirp-bluejay"),
            Invalid("cover-mv-v3-5", {**cover, "mv": "chirp-v3-5"}, 400,
                    "cover: mv must be chirp-v4, chirp-auk or chirp-bluejay"),
            Invalid("cover-mv-tau", {**cover, "mv": "chirp-v4-tau"}, 400,
                    "cover: mv no longer uses chirp-v3-5-tau or chirp-v4-tau"),
            Invalid("cover-without-clip", {**cover, "mv": "chirp-auk", "cover_clip_id": None},
                    400, "cover needs cover_clip_id"),
            Invalid("infill-mv-crow", {**infill, "mv": "chirp-crow"}, 400,
                    "infill: mv must be chirp-v4, chirp-auk or chirp-bluejay"),
            Invalid("fixed-infill-mv-auk", {**infill, "task": "fixed_infill", "mv": "chirp-auk"},
                    400, "fixed_infill: mv only supports chirp-carp"),
            Invalid("artist-consistency-mv-crow",
                    {**persona, "task": "artist_consistency", "mv": "chirp-crow"}, 400,
                    "artist_consistency: mv must be chirp-v4, chirp-auk or chirp-bluejay"),
            Invalid("vox-mv-v4", {**persona, "task": "vox", "mv": "chirp-v4"}, 400,
                    "vox: mv only supports chirp-crow (v5+)"),
            Invalid("gen-stem-mv-crow", {**stem, "mv": "chirp-crow"}, 400,
                    "gen_stem: mv must be chirp-auk"),
            Invalid("gen-stem-task-four", {**stem, "stem_task": "four"}, 400,
                    "gen_stem: stem_task must be two (or twelve)"),
            Invalid("gen-stem-two-group-twelve", {**stem, "stem_type_group_name": "Twelve"},
                    400, "stem_task two needs stem_type_group_name Two"),
            Invalid("gen-stem-twelve-group-two", {**stem, "stem_task": "twelve"}, 400,
                    "stem_task twelve needs stem_type_group_name Twelve"),
            Invalid("underpainting-mv-auk",
                    {**painting, "mv": "chirp-auk", "task": "underpainting",
                     "underpainting_clip_id": PLACEHOLDER, "underpainting_start_s": 0,
                     "underpainting_end_s": 30}, 400,
                    "underpainting: version must be v4.5+ or higher"),
            Invalid("overpainting-mv-v4",
                    {**painting, "mv": "chirp-v4", "task": "overpainting",
                     "overpainting_clip_id": PLACEHOLDER, "overpainting_start_s": 0,
                     "overpainting_end_s": 30}, 400,
                    "overpainting: version must be v4.5+ or higher"),
            Invalid("mashup-one-clip",
                    {"task": "mashup_condition", "mv": "chirp-crow", "prompt": WORK,
                     "mashup_clip_ids": [PLACEHOLDER]}, 400,
                    "mashup_clip_ids is the array of two clip ids"),
            Invalid("style-weight-above-1", sliders(style_weight=1.5), 400,
                    "control slider values range from 0 to 1"),
            Invalid("weirdness-below-0", sliders(weirdness_constraint=-0.1), 400,
                    "control slider values range from 0 to 1"),
            Invalid("audio-weight-on-generate", sliders(audio_weight=0.5), 400,
                    "audio_weight only appears during cover, add instrumental and add vocals"),
            Invalid("vocal-gender-x", {**custom, "metadata": {"vocal_gender": "x"}}, 400,
                    "vocal_gender is f (female) or m (male)"),
            Invalid("remaster-model-v4", {"clip_id": PLACEHOLDER, "model_name": "chirp-v4"},
                    400, "remaster: model_name is chirp-carp (v5) or chirp-bass (v4.5+)",
                    path=REMASTER),
            Invalid("remaster-variation-on-bass",
                    {"clip_id": PLACEHOLDER, "model_name": "chirp-bass",
                     "variation_category": "high"}, 400,
                    "remaster: variation_category is only supported on v5+", path=REMASTER),
            Invalid("remaster-variation-wild",
                    {"clip_id": PLACEHOLDER, "model_name": "chirp-carp",
                     "variation_category": "wild"}, 400,
                    "remaster: variation_category is high, normal or subtle", path=REMASTER),
            Invalid("concat-without-is-infill", {"clip_id": PLACEHOLDER}, 400,
                    "concat: is_infill must be given (false, or true after infill)",
                    path=CONCAT),
            Invalid("persona-type-not-vox",
                    {"root_clip_id": PLACEHOLDER, "name": "food", "description": "123",
                     "clips": [PLACEHOLDER], "is_public": True, "persona_type": "singer"}, 400,
                    "persona_type must be vox", path=PERSONA),
            Invalid("lyrics-mashup-without-b", {"lyrics_a": "Sambuy come back"}, 400,
                    "lyrics mashup takes lyrics_a and lyrics_b", path=LYRICS_MASHUP),
            Invalid("tags-without-original", {"tags": "student"}, 400,
                    "tag expansion takes original_tags", path=TAGS),
            Invalid("upload-without-url", {"link": UPLOAD_URL}, 400,
                    "the upload API takes the url of the audio", path=UPLOAD),
        ]
        return rules


DRIVER = Openaihk()


# --- helpers ----------------------------------------------------------------------------


def error_code(answer) -> str | None:
    error = answer.data.get("error") if isinstance(answer.data, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def error_param(answer) -> str | None:
    error = answer.data.get("error") if isinstance(answer.data, dict) else None
    return error.get("param") if isinstance(error, dict) else None


def refused(answer, status: int, code: str | None, what: str) -> None:
    expect(answer.status == status, f"{what}: expected {status}, got {answer}")
    if code is not None:
        expect(error_code(answer) == code, f"{what}: error code {error_code(answer)!r}, "
                                           f"expected {code!r}: {answer}")


async def submit(ctx, body: dict[str, Any], *, key: Any = CASE_KEY, path: str = GENERATE,
                 songs: float = 1.0) -> tuple[dict[str, Any], str]:
    """A generate-type request: its answer and the task (clip ids) to poll."""
    ctx.spend(songs)
    answer = await ctx.call("POST", path, json=body, key=key)
    expect(answer.status == 200, f"POST {path}: {answer}")
    task_id = DRIVER.task_id_of(answer.data)
    expect(task_id, f"POST {path} answered no clip ids: {answer}")
    for clip in clips_of(answer.data):
        expect(UUID.match(clip["id"]), f"clip id {clip['id']!r} is not a UUID")
    ctx.observe(task_id, DRIVER.status_of(answer.data))
    return answer.data, task_id


async def finish(ctx, task_id: str, *, key: Any = CASE_KEY) -> list[dict[str, Any]]:
    """The task's clips once every one is complete, in the order asked."""
    final = await ctx.settle(task_id, key=key, poll_every=max(ctx.run.poll_every, POLL_AT_LEAST))
    word = DRIVER.status_of(final.data)
    expect(word == "complete", f"clips {task_id} ended {word!r}: {final}")
    clips = clips_of(final.data)
    expect([c["id"] for c in clips] == task_id.split(","),
           f"the feed for {task_id} answered clips {[c['id'] for c in clips]}")
    return clips


async def made(ctx, body: dict[str, Any], *, key: Any = CASE_KEY, path: str = GENERATE,
               songs: float = 1.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    answer, task_id = await submit(ctx, body, key=key, path=path, songs=songs)
    return answer, await finish(ctx, task_id, key=key)


async def uploaded(ctx, url: str = UPLOAD_URL, *, key: Any = CASE_KEY) -> dict[str, Any]:
    answer = await ctx.call("POST", UPLOAD, json={"url": url}, key=key)
    expect(answer.status == 200, f"uploading {url}: {answer}")
    data = answer.data
    expect(data.get("code") == "success" and data.get("data") == data.get("clip_id"),
           f"the upload answer: {data}")
    expect(UUID.match(data["clip_id"]), f"upload clip id {data['clip_id']!r} is not a UUID")
    clip = (await finish(ctx, data["clip_id"], key=key))[0]
    expect(clip["metadata"].get("type") == "upload", f"an upload's type: {clip['metadata']}")
    expect((clip["metadata"].get("duration") or 0) > 0, f"an upload's duration: {clip}")
    return clip


def duration(clip: dict[str, Any]) -> float:
    value = (clip.get("metadata") or {}).get("duration")
    expect(isinstance(value, (int, float)) and value > 0,
           f"clip {clip.get('id')} has no duration: {clip.get('metadata')}")
    return float(value)


def near(a: float, b: float, tolerance: float = DURATION_TOLERANCE) -> bool:
    return abs(a - b) <= tolerance


async def resolves(ctx, clip: dict[str, Any], *, video: bool = False) -> None:
    """The clip's audio and cover serve what they claim (and its video, if asked); the
    shared resolve case checks every link of a song, large cover and video included."""
    kinds = {"audio", "image"} | ({"video"} if video else set())
    media = [m for m in DRIVER.media_of(clip)
             if m.kind in kinds and m.url != clip.get("image_large_url")]
    expect(any(m.kind == "audio" for m in media), f"clip {clip['id']} has no audio link")
    await asyncio.gather(*(check_media(ctx, m) for m in media))


async def fresh_key(ctx, credits: float) -> str | None:
    """A key of its own (own balance, own rate limit) when the target is the simulator."""
    if not ctx.run.direct or ctx.run.admin is None:
        return None
    return (await ctx.run.admin.call("POST", "/accounts", {"credits": credits}))["api_key"]


async def own_key(ctx) -> Any:
    """A rich key of its own, with a roomy rate limit, when the target is the simulator;
    else the case's key.

    The shared library's key is polled by every chain at once, and the parts of one case
    run side by side, so each gets a key whose rate limit does not make them wait on each
    other (the dialect's limit itself is the shared burst case's business).
    """
    key = await fresh_key(ctx, 100_000_000)
    if key is None:
        return CASE_KEY
    await ctx.run.admin.call("PUT", f"/rate-limits/{DRIVER.provider}",
                             {"api_key": key, "rate": 500, "burst": 1000})
    return key


async def wallet(ctx, credits: float) -> str:
    key = await fresh_key(ctx, credits)
    if key is None:
        raise Skipped("the dialect shows no balance; needs the target's own control plane")
    return key


async def balance(ctx, key: str) -> dict[str, float]:
    return await ctx.run.admin.call("GET", f"/accounts/{key}")


@dataclass
class Library:
    """What most chains start from: a finished custom song (scenario 2) and an upload,
    and the key that owns them."""

    key: Any
    songs: list[dict[str, Any]]
    upload: dict[str, Any]

    @property
    def song(self) -> dict[str, Any]:
        return self.songs[0]


async def library(ctx) -> Library:
    """One per run, made by the first case that needs it, with a key of its own (see
    own_key); the cases that build on it share it, so each chain costs one step less."""
    async def make() -> Library:
        key = await own_key(ctx)
        body = {"prompt": LYRICS, "mv": "chirp-v3-5", "title": "Work", "tags": " edm",
                "negative_tags": ctx.marker("library")}
        (_, songs), upload = await asyncio.gather(made(ctx, body, key=key),
                                                  uploaded(ctx, key=key))
        return Library(key, songs, upload)

    try:
        return await ctx.run.once("openaihk.library", make)
    except CaseFailed as exc:
        raise CaseFailed(f"making the shared song and upload: {exc}") from exc


def stem_request(ctx, source: dict[str, Any], task: str) -> dict[str, Any]:
    """The seed's gen_stem body (scenario 17) for ``two`` or ``twelve`` stems."""
    return {"task": "gen_stem", "generation_type": "TEXT", "title": "Safety String",
            "negative_tags": ctx.marker(), "mv": "chirp-auk", "prompt": "",
            "make_instrumental": True, "continue_clip_id": source["id"],
            "continued_aligned_prompt": None, "continue_at": None, "stem_type_id": 91,
            "stem_type_group_name": task.capitalize(), "stem_task": task}


async def act(ctx, path: str, *, key: Any = CASE_KEY) -> Any:
    answer = await ctx.call("GET", path, key=key)
    expect(answer.status == 200, f"GET {path}: {answer}")
    return answer.data


async def until(ctx, path: str, ready, *, key: Any = CASE_KEY, tries: int = 200) -> Any:
    """Ask again until the answer is ready (wav, midi)."""
    for _ in range(tries):
        data = await act(ctx, path, key=key)
        if ready(data):
            return data
        await asyncio.sleep(ctx.run.poll_every)
    raise CaseFailed(f"GET {path} never became ready")


def sung_words(text: str) -> list[str]:
    return [w for w in text.split() if not w.startswith("[") and not w.endswith("]")]


# --- the dialect's own cases ------------------------------------------------------------


# The runner starts cases in catalog order, so the longest (a song, then a song made from
# it, then a concat) come first, and the one that makes the shared library early.
FIRST = ("credits.chain-prices", "chains.cross-account", "scenarios.custom-lyrics",
         "scenarios.inspiration", "scenarios.custom-options", "credits.prices",
         "chains.extend-concat", "chains.upload-extend-concat", "chains.infill-concat",
         "chains.fixed-infill-timeline")


def add_cases(catalog: Catalog, driver: Openaihk) -> None:
    own = Catalog(catalog.provider)
    _scenario_cases(own, driver)
    _chain_cases(own, driver)
    _media_cases(own, driver)
    _credit_cases(own, driver)
    _other_cases(own, driver)
    rank = {f"{catalog.provider}.{name}": index for index, name in enumerate(FIRST)}
    ordered = sorted(own.cases, key=lambda case: rank.get(case.id, len(rank)))
    for case in ordered:
        catalog.add(case)


def _scenario_cases(catalog: Catalog, driver: Openaihk) -> None:
    async def inspiration(ctx) -> None:
        key = await own_key(ctx)
        idea = ctx.marker("nostalgia")
        answer, clips = await made(ctx, {"gpt_description_prompt": idea}, key=key)
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

    async def instrumental_custom(ctx) -> None:
        key = await own_key(ctx)
        body = {"prompt": "", "tags": "heavy metal", "mv": "chirp-v3-5", "title": "Beijing",
                "negative_tags": ctx.marker(), "continue_clip_id": None, "continue_at": None,
                "infill_start_s": None, "infill_end_s": None}
        _, clips = await made(ctx, body, key=key)
        for clip in clips:
            meta = clip["metadata"]
            expect(clip["title"] == "Beijing", f"title {clip['title']!r}, asked 'Beijing'")
            expect(meta["prompt"] == "" and meta.get("has_vocal") is False,
                   f"an instrumental has no lyrics and no vocal: {meta}")
            expect(meta["tags"] == "heavy metal", f"tags {meta['tags']!r}")

    async def instrumental_inspiration(ctx) -> None:
        key = await own_key(ctx)
        idea = ctx.marker("A national dance pop anthem about dancing all night long")
        _, clips = await made(ctx, {"gpt_description_prompt": idea, "mv": "chirp-v3-5",
                                    "prompt": "", "make_instrumental": True}, key=key)
        for clip in clips:
            meta = clip["metadata"]
            expect(meta.get("has_vocal") is False and meta["prompt"] == "",
                   f"an instrumental has no lyrics and no vocal: {meta}")
            expect(clip["title"], f"inspiration mode writes a title: {clip}")

    async def advanced(ctx) -> None:
        key = await own_key(ctx)
        sliders = {"style_weight": 0.4, "weirdness_constraint": 0.7}
        body = {"prompt": LYRICS, "generation_type": "TEXT", "tags": "house, tight drums",
                "negative_tags": "modern", "mv": "chirp-auk",
                "title": ctx.marker("Savor the Flavor")[:200],
                "metadata": {"create_mode": "custom", "control_sliders": sliders,
                             "can_control_sliders": ["weirdness_constraint", "style_weight"],
                             "vocal_gender": "f"}}
        _, clips = await made(ctx, body, key=key)
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

    async def versions(ctx) -> None:
        key = await own_key(ctx)
        expected = {"chirp-auk-turbo": "v4.5-all", "chirp-crow": "v5",
                    "chirp-bluejay": "v4.5+", "chirp-auk": "v4.5"}
        submitted = await asyncio.gather(*(
            submit(ctx, {"prompt": LYRICS, "tags": "pop", "title": ctx.marker(mv)[:200], "mv": mv},
                   key=key)
            for mv in expected))
        finals = await asyncio.gather(*(finish(ctx, task, key=key) for _, task in submitted))
        for (mv, version), clips in zip(expected.items(), finals):
            for clip in clips:
                expect(clip["model_name"] == mv and clip["major_model_version"] == version,
                       f"mv {mv}: clip shows {clip['model_name']!r} "
                       f"{clip['major_model_version']!r}, expected {version}")

    @catalog.case("lyrics-mashup", "Two sets of lyrics are mixed into one, answered at once",
                  seed="seed 003: 23. Lyrics Mashup", area="scenarios", needs=[CREDITS],
                  cost=SMALL)
    async def lyrics_mashup(ctx) -> None:
        key = await own_key(ctx)
        ctx.spend(SMALL)
        a = "Sambuy come back bluespawn greenspawn are making you a spawn"
        b = "You keep turning back inside the station\nI can't bring myself to leave outside"
        answer = await ctx.call("POST", LYRICS_MASHUP, key=key, json={"lyrics_a": a, "lyrics_b": b})
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
        key = await own_key(ctx)
        ctx.spend(SMALL)
        answer = await ctx.call("POST", TAGS, key=key, json={"original_tags": "student"})
        expect(answer.status == 200, f"expanding tags: {answer}")
        tags = answer.data["upsampled_tags"]
        expect(len(tags.split()) > 8, f"upsampled_tags is not a description: {tags!r}")
        expect(answer.data["request_id"], "no request_id")

    @catalog.case("inspiration", "Inspiration mode writes the title, lyrics and style; with "
                  "make_instrumental, no vocal",
                  seed="seed 003: 1. Inspiration Mode; 4. Instrumental (Inspiration Mode)",
                  area="scenarios", needs=[CREDITS], cost=2)
    async def inspiration_modes(ctx) -> None:
        await asyncio.gather(inspiration(ctx), instrumental_inspiration(ctx))

    @catalog.case("custom-options", "Custom instrumentals, control sliders, vocal_gender and "
                  "each documented mv reach the clips",
                  seed="seed 003: 3. Instrumental (Custom); 15. Advanced Parameters; "
                       "Suno supports version (v4.5-all, v5, v4.5+, v4.5)",
                  area="scenarios", needs=[CREDITS], cost=6)
    async def custom_options(ctx) -> None:
        await asyncio.gather(instrumental_custom(ctx), advanced(ctx), versions(ctx))


def _chain_cases(catalog: Catalog, driver: Openaihk) -> None:
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

    async def persona(ctx) -> None:
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
        batch, clips = await made(ctx, body, key=key)
        for clip in clips:
            meta = clip["metadata"]
            expect(meta.get("persona_id") == persona["id"]
                   and meta.get("artist_clip_id") == root["id"]
                   and meta.get("task") == "artist_consistency",
                   f"the song does not name its persona: {meta}")
            expect(clip["title"] == "Darling", f"title {clip['title']!r}")

    async def stems_two(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        body = stem_request(ctx, source, "two")
        answer, stems = await made(ctx, body, key=key)
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

    async def stems_old(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        ctx.spend(SMALL)
        old = await act(ctx, f"/sunoapi/act/stems/{source['id']}", key=key)
        pair = [old["clip_1"], old["clip_2"]]
        for clip in pair:
            expect(clip["metadata"].get("stem_from_id") == source["id"],
                   f"a stem does not name its song: {clip['metadata']}")
        task_id = ",".join(c["id"] for c in pair)
        ctx.observe(task_id, driver.status_of(pair))
        stems = await finish(ctx, task_id, key=key)
        for clip in stems:
            expect(clip["audio_url"] and near(duration(clip), duration(source)),
                   f"a deprecated stem: audio {clip['audio_url']!r}, lasts {duration(clip)} s, "
                   f"the song {duration(source)} s")

    async def stems_twelve(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        body = stem_request(ctx, source, "twelve")
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

    async def underpainting(ctx) -> None:
        await _painting(ctx, "underpainting", "Pop rap, uplifting, piano, synth, driving bass",
                        "")

    async def overpainting(ctx) -> None:
        clips = await _painting(ctx, "overpainting", "A smooth, soulful R&B track",
                                "Write the lyrics yourself")
        expect(clips[0]["metadata"].get("has_vocal") is True,
               f"add vocals made no vocal: {clips[0]['metadata']}")

    @catalog.case("remaster", "Remaster with chirp-carp (and chirp-bass) keeps the song's length",
                  seed="seed 003: 20. Remaster", area="chains", needs=[CREDITS], cost=2)
    async def remaster(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        carp = {"clip_id": source["id"], "model_name": "chirp-carp", "variation_category": "high"}
        bass = {"clip_id": source["id"], "model_name": "chirp-bass"}
        (carp_batch, carps), (bass_batch, _) = await asyncio.gather(
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

    async def vox(ctx) -> None:
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
            "vocal_start_s": start, "vocal_end_s": end, "clips": [source["id"]],
            "user_input_styles": "Style: Verse, Chinese Folk narrative"})
        expect(answer.status == 200, f"vox persona: {answer}")
        persona = answer.data
        expect(persona.get("persona_type") == "vox" and persona["root_clip_id"] == source["id"],
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

    async def mashup(ctx) -> None:
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

    async def samples(ctx) -> None:
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

    @catalog.case("cross-account", "Once a song's upstream account expires, cover still works "
                  "but wav and mp4 are cross_account_not_supported",
                  seed="seed 003: 7. Cover (cross-account supported); 12. WAV / 13. MP4 "
                       "(cross-account not supported)", area="chains",
                  needs=[CREDITS, SIMULATOR], cost=2)
    async def cross_account(ctx) -> None:
        key = await own_key(ctx)
        body = {"prompt": LYRICS, "tags": "pop", "title": "Work [sim:upstream-expired]",
                "negative_tags": ctx.marker()}
        _, clips = await made(ctx, body, key=key)
        source = clips[0]["id"]
        for path in (f"/sunoapi/act/wav/{source}", f"/sunoapi/act/mp4/{source}"):
            answer = await ctx.call("GET", path, key=key)
            refused(answer, 400, "cross_account_not_supported", f"GET {path} of an expired clip")
        timing = await act(ctx, f"/sunoapi/act/timing/{source}", key=key)
        expect(timing["aligned_words"], "timing (cross-account supported) answered no words")
        cover = {"prompt": LYRICS, "tags": "rock", "mv": "chirp-auk", "task": "cover",
                 "negative_tags": ctx.marker(), "cover_clip_id": source}
        _, covers = await made(ctx, cover, key=key)
        expect(covers[0]["metadata"].get("cover_clip_id") == source,
               f"the cover of an expired clip does not name it: {covers[0]['metadata']}")

    @catalog.case("personas", "A persona (plain, or vox from a vocal window) sings a new song",
                  seed="seed 003: 9. Persona: Singer Style; 21. Persona-v2-vox",
                  area="chains", needs=[CREDITS], cost=2 + 3 * SMALL)
    async def personas(ctx) -> None:
        await asyncio.gather(persona(ctx), vox(ctx))

    @catalog.case("stems", "Stems: gen_stem two (vocals, instrumental), twelve (24 clips), "
                  "and the deprecated call",
                  seed="seed 003: 10. stems; 14. all-stems: Full Track Separation",
                  area="chains", needs=[CREDITS], cost=6 + SMALL)
    async def stems(ctx) -> None:
        await asyncio.gather(stems_two(ctx), stems_old(ctx), stems_twelve(ctx))

    @catalog.case("add-instrumental-vocals", "underpainting adds music, overpainting adds "
                  "vocals, to an uploaded track",
                  seed="seed 003: 16. Add Instrumental; 17. Add Vocals", area="chains",
                  needs=[CREDITS], cost=2)
    async def paintings(ctx) -> None:
        await asyncio.gather(underpainting(ctx), overpainting(ctx))

    @catalog.case("mashup-samples", "Two songs are mashed up; a sample of a song seeds a new one",
                  seed="seed 003: 22. Mashup; 24. Samples", area="chains", needs=[CREDITS],
                  cost=2)
    async def mashup_samples(ctx) -> None:
        await asyncio.gather(mashup(ctx), samples(ctx))


async def _painting(ctx, task: str, tags: str, prompt: str) -> list[dict[str, Any]]:
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


def _media_cases(catalog: Catalog, driver: Openaihk) -> None:
    async def timing(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        data = await act(ctx, f"/sunoapi/act/timing/{source['id']}", key=key)
        words = data["aligned_words"]
        sung = sung_words("".join(w["word"] for w in words))
        expect(sung == sung_words(LYRICS), f"the timeline's words are not the lyrics: {sung[:12]}")
        starts = [w["start_s"] for w in words]
        expect(starts == sorted(starts), "aligned words are not in time order")
        expect(all(w["end_s"] >= w["start_s"] for w in words), "a word ends before it starts")
        expect(words[-1]["end_s"] <= duration(source) + 1e-6,
               f"the last word ends at {words[-1]['end_s']}, after the song")
        wave = data["waveform_data"]
        expect(len(wave) > 10 and max(wave) > 0, f"waveform_data is flat ({len(wave)} points)")
        expect(data["is_streamed"] is False, f"is_streamed {data['is_streamed']!r}")
        v2 = await act(ctx, f"/suno/act/timing/{source['id']}", key=key)
        joined = [w["text"] for line in v2["aligned_lyrics"] for w in line["words"]]
        expect(sung_words(" ".join(joined)) == sung,
               "the v2 timeline's lines do not hold the same words")

    async def wav(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        ctx.spend(SMALL)
        path = f"/sunoapi/act/wav/{source['id']}"
        data = await until(ctx, path, lambda d: d.get("wav_file_url"), key=key)
        url = data["wav_file_url"]
        again = await act(ctx, path, key=key)
        expect(again["wav_file_url"] == url, f"the WAV link changed: {url} then {again}")
        await check_media(ctx, Media(url, "audio", duration(source)))
        answer = await ctx.fetch(url)
        expect(answer.header("content-type") in ("audio/wav", "audio/x-wav", "audio/wave"),
               f"the WAV link serves {answer.header('content-type')!r}")
        expect(answer.body[:4] == b"RIFF" and answer.body[8:12] == b"WAVE",
               "the WAV link does not serve a RIFF/WAVE file")

    async def mp4(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        ctx.spend(SMALL)
        data = await act(ctx, f"/sunoapi/act/mp4/{source['id']}", key=key)
        await check_media(ctx, Media(data["mp4"], "video", duration(source)))

    async def midi(ctx) -> None:
        lib = await library(ctx)
        source, key = lib.song, lib.key
        ctx.spend(SMALL)
        path = f"/suno/act/midi/{source['id']}"
        data = await until(ctx, path, lambda d: d.get("state") == "complete", key=key)
        instruments = data["instruments"]
        expect(instruments and any(i["notes"] for i in instruments),
               f"MIDI with no notes: {instruments}")
        for instrument in instruments:
            expect(instrument["name"], "an instrument without a name")
            for note in instrument["notes"]:
                expect(0 <= note["pitch"] <= 127 and 0 <= note["velocity"] <= 1,
                       f"note out of range: {note}")
                expect(0 <= note["start"] < note["end"] <= duration(source) + 1e-6,
                       f"note outside the song: {note}")

    @catalog.case("stream-while-streaming", "Each status shows its links; a streaming clip "
                  "plays its stream",
                  seed="seed 003: 10. C. Get Results (clips queued, then complete)",
                  area="media", needs=[CREDITS], cost=1)
    async def streaming(ctx) -> None:
        key = await own_key(ctx)
        _, task_id = await submit(ctx, {"prompt": LYRICS, "tags": "pop", "title": "Stream",
                                        "negative_tags": ctx.marker()}, key=key)
        played = False
        while True:
            answer = await ctx.poll(task_id, key=key)
            for clip in clips_of(answer.data):
                status = clip["status"]
                if status in ("submitted", "queued"):
                    expect(clip["audio_url"] == "" and clip["video_url"] == "",
                           f"a {status} clip already has links: {clip}")
                elif status == "streaming":
                    expect(clip["audio_url"] and clip["video_url"] == "",
                           f"a streaming clip's links: audio {clip['audio_url']!r} "
                           f"video {clip['video_url']!r}")
                    if not played:
                        played = await _plays(ctx, clip["audio_url"])
                elif status == "complete":
                    expect(clip["audio_url"] and clip["video_url"] and clip.get("image_url"),
                           f"a complete clip lacks links: {clip}")
                    duration(clip)
            if driver.status_of(answer.data) in driver.terminal:
                break
            await asyncio.sleep(ctx.run.poll_every)
        seen = ctx.states[task_id]
        expect(seen[-1] == "complete", f"the batch ended {seen[-1]!r}")
        expect("streaming" in seen, f"the batch was never seen streaming: {seen}")

    @catalog.case("companions", "Timing, WAV, MP4 and MIDI of a finished song",
                  seed="seed 003: 11. Timing; 12. WAV; 13. MP4; 18. Get MIDI", area="media",
                  needs=[CREDITS], cost=1 + 3 * SMALL)
    async def companions(ctx) -> None:
        await asyncio.gather(timing(ctx), wav(ctx), mp4(ctx), midi(ctx))


async def _plays(ctx, url: str) -> bool:
    """A stream answers 200 with audio bytes at once (it stays open for the rest)."""
    try:
        async with ctx.run.session.get(url) as response:
            expect(response.status == 200, f"stream {url}: {response.status}")
            kind = response.headers.get("Content-Type", "")
            expect(kind.startswith("audio/"), f"stream {url} serves {kind!r}")
            head = await asyncio.wait_for(response.content.read(4096), 10)
    except asyncio.TimeoutError:
        raise CaseFailed(f"stream {url} sent nothing for 10 s")
    expect(head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0),
           f"stream {url} does not start as MP3")
    return True


def _credit_cases(catalog: Catalog, driver: Openaihk) -> None:
    needs = [CREDITS, UPSTREAM_ADMIN]

    async def generation(ctx) -> None:
        key = await wallet(ctx, 1650)
        _, task_id = await submit(ctx, {"gpt_description_prompt": ctx.marker("billed")},
                                  key=key)
        held = await balance(ctx, key)
        expect((held["credits"], held["held"]) == (650, 1000),
               f"after submit: credits {held['credits']}, held {held['held']} "
               "(expected 650 and 1000)")
        await finish(ctx, task_id, key=key)
        done = await balance(ctx, key)
        expect((done["credits"], done["held"], done["spent"]) == (650, 0, 1000),
               f"after completion: {done}")
        ctx.spend(2 * SMALL)
        answer = await ctx.call("POST", TAGS, key=key, json={"original_tags": "student"})
        expect(answer.status == 200, f"tags: {answer}")
        answer = await ctx.call("POST", LYRICS_MASHUP, key=key,
                                json={"lyrics_a": "one two", "lyrics_b": "three four"})
        expect(answer.status == 200, f"lyrics mashup: {answer}")
        after = await balance(ctx, key)
        expect(after["credits"] == 450, f"tags and lyrics mashup cost "
                                        f"{650 - after['credits']:g}, expected 200")

    @catalog.case("insufficient-quota", "A balance short of the price is a 403 "
                  "insufficient_quota, charging nothing",
                  seed="seed 003: billing", area="credits", needs=needs)
    async def insufficient(ctx) -> None:
        key = await wallet(ctx, 950)
        answer = await ctx.call("POST", GENERATE, key=key,
                                json={"gpt_description_prompt": ctx.marker("too poor")})
        refused(answer, 403, "insufficient_user_quota", "a generation past the balance")
        expect(answer.data["error"]["type"] == "insufficient_quota",
               f"error type {answer.data['error']['type']!r}")
        poorer = await wallet(ctx, 50)
        answer = await ctx.call("POST", TAGS, key=poorer, json={"original_tags": "student"})
        refused(answer, 403, "insufficient_user_quota", "tags past the balance")
        for k, start in ((key, 950), (poorer, 50)):
            after = await balance(ctx, k)
            expect((after["credits"], after["held"], after["spent"]) == (start, 0, 0),
                   f"a refused request charged something: {after}")

    @catalog.case("failed-refund", "A generation that ends in error gives the held credits back",
                  seed="seed 003: billing", area="credits", needs=needs + [SIMULATOR], cost=1)
    async def refund(ctx) -> None:
        key = await wallet(ctx, 2000)
        ctx.spend()
        _, task_id = await submit(ctx, {"gpt_description_prompt":
                                        ctx.marker("[sim:fail] a failing song")}, key=key)
        final = await ctx.settle(task_id, key=key)
        expect(driver.status_of(final.data) == "error", f"ended {driver.status_of(final.data)}")
        for clip in clips_of(final.data):
            meta = clip["metadata"]
            expect(isinstance(meta.get("error_message"), str) and meta["error_message"],
                   f"an error clip says nothing of why: {meta}")
        after = await balance(ctx, key)
        expect((after["credits"], after["held"], after["spent"]) == (2000, 0, 0),
               f"a failed generation was not refunded: {after}")

    async def act_prices(ctx) -> None:
        key = await wallet(ctx, 10_000)
        _, clips = await made(ctx, {"prompt": LYRICS, "tags": "pop", "title": "Work",
                                    "negative_tags": ctx.marker()}, key=key)
        song = clips[0]["id"]
        ctx.spend(6 * SMALL)

        async def cost(action) -> float:
            before = (await balance(ctx, key))["credits"]
            await action()
            return before - (await balance(ctx, key))["credits"]

        async def wav():
            await until(ctx, f"/sunoapi/act/wav/{song}", lambda d: d.get("wav_file_url"),
                        key=key)
            await act(ctx, f"/sunoapi/act/wav/{song}", key=key)

        async def midi():
            await until(ctx, f"/suno/act/midi/{song}", lambda d: d.get("state") == "complete",
                        key=key)

        async def mp4_twice():
            for _ in range(2):
                await act(ctx, f"/sunoapi/act/mp4/{song}", key=key)

        async def timing():
            await act(ctx, f"/sunoapi/act/timing/{song}", key=key)

        async def post(path, body):
            answer = await ctx.call("POST", path, key=key, json=body)
            expect(answer.status == 200, f"POST {path}: {answer}")

        persona = {"root_clip_id": song, "name": "p", "description": "d", "clips": [song],
                   "is_public": False}
        checks = [("wav", wav, 100), ("midi", midi, 100), ("mp4 twice", mp4_twice, 200),
                  ("timing", timing, 0),
                  ("persona", lambda: post(PERSONA, persona), 100),
                  ("vox", lambda: post(f"/suno/act/vox/{song}",
                                       {"vocal_start_s": 5, "vocal_end_s": 20}), 100)]
        for name, action, price in checks:
            charged = await cost(action)
            expect(charged == price, f"{name} cost {charged:g} credits, expected {price}")

    @catalog.case("chain-prices", "concat costs 100 (a song after an upload), twelve stems "
                  "cost five songs",
                  seed="seed 003: 5.D, 6.C (concat billing); 14. (5x base price)",
                  area="credits", needs=needs, cost=9 + SMALL)
    async def chain_prices(ctx) -> None:
        key = await wallet(ctx, 20_000)
        (_, clips), upload = await asyncio.gather(
            made(ctx, {"prompt": LYRICS, "tags": "pop", "title": "Work",
                       "negative_tags": ctx.marker()}, key=key),
            uploaded(ctx, key=key))
        song = clips[0]["id"]

        async def held_by(body, songs: float, path: str = GENERATE) -> tuple[float, str]:
            before = (await balance(ctx, key))["credits"]
            answer, task_id = await submit(ctx, body, key=key, path=path, songs=songs)
            return before - (await balance(ctx, key))["credits"], task_id

        extend = {"prompt": "lyrics", "mv": "chirp-v4", "task": "extend", "tags": "pop",
                  "continue_clip_id": song, "continue_at": 20}
        up_extend = {**extend, "task": "upload_extend", "continue_clip_id": upload["id"]}
        twelve = {"task": "gen_stem", "mv": "chirp-auk", "prompt": "", "continue_clip_id": song,
                  "stem_task": "twelve", "stem_type_group_name": "Twelve"}
        tasks = []
        for name, body, songs, price in (("extend", extend, 1, 1000),
                                         ("upload_extend", up_extend, 1, 1000),
                                         ("twelve stems", twelve, 5, 5000)):
            charged, task_id = await held_by(body, songs)
            expect(charged == price, f"{name} held {charged:g} credits, expected {price}")
            tasks.append(task_id)
        done = await asyncio.gather(*(finish(ctx, t, key=key) for t in tasks))
        for name, clips, price in (("concat", done[0], 100),
                                   ("concat after an upload", done[1], 1000)):
            charged, task_id = await held_by({"clip_id": clips[0]["id"], "is_infill": False},
                                             price / 1000, path=CONCAT)
            expect(charged == price, f"{name} held {charged:g} credits, expected {price}")
            await finish(ctx, task_id, key=key)
        after = await balance(ctx, key)
        expect(after["held"] == 0 and after["spent"] == 1000 + 1000 + 1000 + 5000 + 100 + 1000,
               f"after everything finished: {after}")

    @catalog.case("prices", "A generation holds one song's price at submit and spends it on "
                  "completion; wav and midi bill 100 once however often asked; mp4, persona, "
                  "vox, tags and lyrics mashup 100 each; timing is free",
                  seed="seed 003: billing (one song; 100 credits for 9., 11.-13., 18., 19., "
                       "21., 23.)", area="credits", needs=needs, cost=1 + 8 * SMALL)
    async def prices(ctx) -> None:
        await asyncio.gather(generation(ctx), act_prices(ctx))


def _other_cases(catalog: Catalog, driver: Openaihk) -> None:
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
        key = await own_key(ctx)
        answer, task_id = await submit(ctx, {"gpt_description_prompt":
                                             ctx.marker("not ready yet")}, key=key)
        clip = answer["clips"][0]["id"]
        mp4, extend = await asyncio.gather(
            ctx.call("GET", f"/sunoapi/act/mp4/{clip}", key=key),
            ctx.call("POST", GENERATE, json={"prompt": "x", "mv": "chirp-v4", "task": "extend",
                                             "continue_clip_id": clip, "continue_at": 5}, key=key))
        refused(mp4, 400, "clip_not_ready", "mp4 of a clip not complete")
        refused(extend, 400, "clip_not_ready", "extending a clip not complete")

    @catalog.case("feed-ids", "The feed reads up to 50 comma-separated ids, leaving out unknown "
                  "ones; both prefixes agree",
                  seed="seed 003: All results are retrieved via GET feed/clipsId1,clipsId2",
                  area="ids", needs=[CREDITS], cost=1)
    async def feed_ids(ctx) -> None:
        lib = await library(ctx)
        key = lib.key
        one, two = (c["id"] for c in lib.songs)
        both = await act(ctx, f"/sunoapi/feed/{two},{one}", key=key)
        expect([c["id"] for c in both] == [two, one], "the feed does not keep the order asked")
        mixed = await act(ctx, f"/sunoapi/feed/{one},{driver.unknown_id}", key=key)
        expect([c["id"] for c in mixed] == [one], f"a mixed list: {[c['id'] for c in mixed]}")
        newer = await act(ctx, f"/suno/feed/{one}", key=key)
        expect([c["id"] for c in newer] == [one] and newer[0]["status"] == "complete",
               "/suno/feed does not answer as /sunoapi/feed")
        many = ",".join([one, two] + [f"00000000-0000-4000-8000-{n:012d}" for n in range(49)])
        refused(await ctx.call("GET", f"/sunoapi/feed/{many}", key=key), 400, None,
                "51 ids in one feed")
        unknown = await ctx.call("GET", f"/sunoapi/feed/{driver.unknown_id}", key=key)
        refused(unknown, 404, "clip_not_found", "the feed of an unknown id")
        for path in (f"/sunoapi/act/timing/{driver.unknown_id}",
                     f"/sunoapi/act/wav/{driver.unknown_id}"):
            refused(await ctx.call("GET", path, key=key), 404, "clip_not_found", f"GET {path}")
        cover = await ctx.call("POST", GENERATE, key=key, json={
            "prompt": "x", "mv": "chirp-auk", "task": "cover", "cover_clip_id": driver.unknown_id})
        refused(cover, 404, "clip_not_found", "a cover of an unknown clip")

    @catalog.case("foreign-clip", "Another key can neither read nor build on a key's song",
                  seed="seed 003: cross-account (a clip belongs to its key)", area="ids",
                  needs=[CREDITS, SECOND_KEY], cost=1)
    async def foreign(ctx) -> None:
        song = (await library(ctx)).song["id"]
        other = ctx.run.second_key
        checks = [
            ("GET", f"/sunoapi/feed/{song}", None),
            ("GET", f"/sunoapi/act/wav/{song}", None),
            ("GET", f"/sunoapi/act/timing/{song}", None),
            ("POST", GENERATE, {"prompt": "x", "mv": "chirp-auk", "task": "cover",
                                "cover_clip_id": song}),
            ("POST", CONCAT, {"clip_id": song, "is_infill": False}),
        ]
        for method, path, body in checks:
            extra = {} if body is None else {"json": body}
            answer = await ctx.call(method, path, key=other, **extra)
            expect(answer.status in (403, 404), f"another key: {method} {path}: {answer}")
            expect(song not in answer.body.decode("utf-8", "replace") or answer.status >= 400,
                   f"another key was shown {song}")

    @catalog.case("error-shape", "Errors are OpenAI-style, with the gateway's codes",
                  seed="seed 003: Authorization: Bearer hk-your-key", area="shapes")
    async def error_shape(ctx) -> None:
        checks = [
            (await ctx.call("POST", GENERATE, key=None, json={"gpt_description_prompt": "x"}),
             401, "missing_api_key", "authentication_error"),
            (await ctx.call("GET", f"/sunoapi/feed/{driver.unknown_id}", key="hk-not-a-key"),
             401, "invalid_api_key", "authentication_error"),
            (await ctx.call("GET", f"/sunoapi/feed/{driver.unknown_id}"),
             404, "clip_not_found", "invalid_request_error"),
            (await ctx.call("POST", GENERATE, json={"gpt_description_prompt": "x",
                                                    "mv": "chirp-v9"}),
             400, "invalid_request", "invalid_request_error"),
        ]
        for answer, status, code, kind in checks:
            refused(answer, status, code, f"{answer.method} {answer.url}")
            error = answer.data["error"]
            expect(set(error) == {"message", "type", "param", "code"},
                   f"error fields {sorted(error)}")
            expect(error["type"] == kind and error["message"],
                   f"error type {error['type']!r} (expected {kind!r}), "
                   f"message {error['message']!r}")
        expect(checks[-1][0].data["error"]["param"] == "mv",
               f"a bad mv names param {checks[-1][0].data['error']['param']!r}")
