"""The openaihk driver: how a client submits, polls and reads a generation.

What the driver calls a task is a batch as its clips: the task id is the batch's clip
ids joined with commas, which is exactly the path parameter ``GET /sunoapi/feed/{ids}``
takes, so polling a task is one feed call. The status of such a task is well defined
from its clips:

* ``error`` as soon as any clip of it is ``error`` (the batch failed), otherwise
* the status of its least advanced clip (``submitted`` → ``queued`` → ``streaming`` →
  ``complete``), so the task is ``complete`` only once every clip is.

Each clip's status only moves forward, so the batch's does too: the least of words that
only grow only grows, and ``error`` is final. A task made of one clip (an upload, a
concat) is that clip's status. The batch answer's own top-level ``status`` is not read:
the seed prints it as ``complete`` while its clips are still ``submitted``.
"""

from __future__ import annotations

import re
from typing import Any

from ...dialect import MISSING_KEY, Driver, Invalid, Media

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

# The seed's example lyrics in full, as its example bodies carry them.
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
    # {"error": {"message", "type", "param", "code"}} (specs/openaihk.yaml Error)
    error_words = {
        MISSING_KEY: {"type": "authentication_error", "code": "missing_api_key"},
        400: {"type": "invalid_request_error", "code": "invalid_request"},
        401: {"type": "authentication_error", "code": "invalid_api_key"},
        403: {"type": "insufficient_quota", "code": "insufficient_user_quota"},
        404: {"type": "invalid_request_error", "code": "clip_not_found"},
        429: {"type": "rate_limit_error", "code": "rate_limit_exceeded"},
    }

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
