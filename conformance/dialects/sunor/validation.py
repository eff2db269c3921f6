"""The requests seed 001 says are refused with a 400: missing fields, unknown models and
task types, the Suno and Udio input shapes mixed, and each task type's own rules. The
shared validation cases (conformance.common) send each one."""

from __future__ import annotations

from ...dialect import Invalid
from .api import OUTSIDE_URL, music, suno

SEED_CLIP_ID = "abc123-clip-id"  # the seed's stand-in for a real clip id
MISSING = "Missing required fields (model, task_type, or input) is a 400"
MIXED = "Mixing them produces a 400 validation error"
UDIO_SEED = "Udio seed is an integer from 0 to 4294967295"


REFUSED: list[Invalid] = [
    Invalid("no-model", {"task_type": "music", "input": {"prompt": "x"}}, 400, MISSING),
    Invalid("no-task-type", {"model": "suno", "input": {"prompt": "x"}}, 400, MISSING),
    Invalid("no-input", {"model": "suno", "task_type": "music"}, 400, MISSING),
    Invalid("empty-body", {}, 400, MISSING),
    Invalid("not-json", b"{nope", 400, "A body that is not JSON is a 400"),
    Invalid("unknown-task-type", suno("video", prompt="x"), 400,
            "An invalid task type is a 400"),
    Invalid("unknown-model", music("riffusion", prompt="x"), 400,
            'model is one of "suno" or "udio"'),
    Invalid("input-not-object", {"model": "suno", "task_type": "music", "input": "a song"},
            400, "input is an object"),
    *(Invalid(f"udio-{kind}", {"model": "udio", "task_type": kind,
                               "input": {"prompt": "x", "url": OUTSIDE_URL, "clip_id": "c"}},
              400, f'Udio supports "music" only: task_type {kind} is a 400')
      for kind in ("lyrics", "upload", "concat")),
    # Mixing the two input shapes, both ways.
    *(Invalid(f"suno-with-udio-{name.replace('_', '-')}",
              music("suno", prompt="x", **{name: value}), 400,
              f"{MIXED}: Udio's {name} in a Suno input")
      for name, value in (("seed", 7), ("lyrics", "la la"), ("lyrics_type", "user"))),
    *(Invalid(f"udio-with-suno-{name.replace('_', '-')}",
              music("udio", prompt="x", **{name: value}), 400,
              f"{MIXED}: Suno's {name} in a Udio input")
      for name, value in (("gpt_description_prompt", "x"), ("make_instrumental", True),
                          ("negative_tags", "metal"), ("title", "T"),
                          ("continue_clip_id", "c"), ("continue_at", 3))),
    Invalid("suno-music-no-mode", music("suno"), 400,
            "Suno music needs an inspiration, custom or continuation input"),
    Invalid("continue-unknown-clip",
            music("suno", continue_clip_id=SEED_CLIP_ID, continue_at=30,
                  prompt="[Chorus]\nKeep the music playing on"), 400,
            "Continuation takes a clip of a previous music task of the key"),
    Invalid("lyrics-no-prompt", suno("lyrics"), 400, "lyrics takes a prompt"),
    Invalid("upload-no-url", suno("upload"), 400, "upload takes a url"),
    Invalid("upload-url-not-http", suno("upload", url="ftp://example.com/a.mp3"), 400,
            "upload's url is a publicly accessible (http) URL"),
    Invalid("concat-no-clip", suno("concat"), 400, "concat takes a clip_id"),
    Invalid("concat-unknown-clip", suno("concat", clip_id=SEED_CLIP_ID), 400,
            "concat takes a clip of a previous music task of the key"),
    Invalid("udio-no-prompt", music("udio", tags="lofi"), 400, "Udio music takes a prompt"),
    Invalid("udio-user-lyrics-without-lyrics", music("udio", prompt="lofi", lyrics_type="user"),
            400, "Udio lyrics_type user needs lyrics"),
    Invalid("udio-lyrics-type-unknown", music("udio", prompt="lofi", lyrics_type="spoken"),
            400, "Udio lyrics_type is generate, user or instrumental"),
    Invalid("udio-seed-negative", music("udio", prompt="lofi", seed=-1), 400, UDIO_SEED),
    Invalid("udio-seed-too-big", music("udio", prompt="lofi", seed=2 ** 32), 400, UDIO_SEED),
]
