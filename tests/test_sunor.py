"""sunor over HTTP: the seed's example requests as printed, how a task's status moves,
what continuation and concat are made of, every documented error, what each task
costs, Udio's seed, and a property test of statuses and credits.

Every test drives a real simulator on a manual clock, so time only passes when a test
advances it. The numbers asserted are the ones specs/sunor.yaml, fixtures/prices.toml and
seed 001 give.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import requests
from hypothesis import given, settings, strategies as st

from conftest import Sim, start_sim
from simulator.config import RateLimit
from sunor_client import (JOB_SECONDS, PRICES, SONG_SECONDS, TTL, assert_real_clip, balance,
                          created, decode_mp3, error_of, fetch, finished, get, get_balance,
                          iso, ledger, post, results, submit, task, tasks_of, wav_of)

# --- the seed's examples, character for character -----------------------------------------

SEED_INSPIRATION = """{
"model": "suno",
"task_type": "music",
"input": {
"gpt_description_prompt": "A cheerful acoustic guitar song about summer",
"make_instrumental": false
}
}"""
SEED_CUSTOM = r"""{
"model": "suno",
"task_type": "music",
"input": {
"prompt": "[Verse]\nWalking down the sunlit road\nFeeling light without a load\n\n[Chorus]\nOh summer days, carry me away",
"tags": "pop, acoustic, upbeat",
"title": "Summer Days"
}
}"""
SEED_CONTINUATION = r"""{
"model": "suno",
"task_type": "music",
"input": {
"continue_clip_id": "abc123-clip-id",
"continue_at": 30,
"prompt": "[Chorus]\nKeep the music playing on"
}
}"""
SEED_UDIO = """{
"model": "udio",
"task_type": "music",
"input": {
"prompt": "lofi hip hop, chill, rainy night, jazz piano"
}
}"""
SEED_LYRICS = """{
"model": "suno",
"task_type": "lyrics",
"input": {
"prompt": "A love song about the ocean at sunset"
}
}"""
SEED_UPLOAD = """{
"model": "suno",
"task_type": "upload",
"input": {
"url": "https://example.com/my-audio.mp3"
}
}"""
SEED_CONCAT = """{
"model": "suno",
"task_type": "concat",
"input": {
"clip_id": "abc123-clip-id"
}
}"""
SEED_CLIP_ID = "abc123-clip-id"  # the seed's stand-in for a real clip id

INSPIRATION = json.loads(SEED_INSPIRATION)
CUSTOM = json.loads(SEED_CUSTOM)
UDIO = json.loads(SEED_UDIO)
LYRICS = json.loads(SEED_LYRICS)
UPLOAD = json.loads(SEED_UPLOAD)
RANK = {"pending": 0, "running": 1, "success": 2, "failure": 2, "timeout": 2}
RICH = 100_000
FADE = 0.02  # the join's fade-out: every sample before continue_at - FADE is the source's
MISSING = "Missing required fields: model, task_type, input"


# --- helpers ------------------------------------------------------------------------------


def seed_task(sim: Sim, api_key: str, raw: str, clip_id: str | None = None) -> str:
    """Submit one of the seed's examples as printed (its stand-in clip id replaced by a
    real one), with the curl example's headers; checks the 202 answer."""
    if clip_id is not None:
        assert SEED_CLIP_ID in raw
        raw = raw.replace(SEED_CLIP_ID, clip_id)
    body = json.loads(raw)
    response = post(sim, None, api_key, raw=raw, extra={"Content-Type": "application/json"})
    return created(response, body["task_type"], PRICES[(body["model"], body["task_type"])])[
        "task_id"]


def unchanged(sim: Sim, api_key: str, credits: float) -> None:
    """Nothing was held, spent or started for the key."""
    after = ledger(sim, api_key)
    assert (after["credits"], after["held"], after["spent"]) == (credits, 0, 0), after
    assert tasks_of(sim, api_key) == 0


def refused(sim: Sim, body: Any, status: int = 400, message: str | None = None,
            credits: float = 100) -> str:
    """Submit ``body`` with a fresh key: refused in the provider's shape, charging nothing."""
    k = sim.account(credits)
    text = error_of(post(sim, body, k), status, message)
    unchanged(sim, k, credits)
    return text


def song(sim: Sim, api_key: str, body: dict[str, Any] = INSPIRATION) -> dict[str, Any]:
    return results(sim, api_key, body)[0]


def assert_starts_with(sim: Sim, clip_id: str, source_id: str, seconds: float) -> None:
    """The clip's samples are the source's, exactly, for the first ``seconds``."""
    made, rate = wav_of(sim, clip_id)
    source, source_rate = wav_of(sim, source_id)
    assert rate == source_rate
    n = int((seconds - FADE) * rate)
    assert len(made) >= n and len(source) >= n
    assert np.array_equal(made[:n], source[:n])


# --- the seed's example requests ----------------------------------------------------------


def test_seed_inspiration_example_makes_two_real_songs(sim):
    """The seed's inspiration request (sent byte for byte, as its curl does): two Suno
    songs with written lyrics, each a real MP3 of its stated length and a JPEG cover."""
    k = sim.account(RICH)
    data = finished(sim, k, seed_task(sim, k, SEED_INSPIRATION))
    assert (data["model"], data["type"], data["credits_cost"]) == ("suno", "music", 10)
    assert data["input"] == INSPIRATION["input"]
    assert iso(data["completed_at"]) > iso(data["created_at"])
    clips = data["output"]["result"]
    assert len(clips) == 2 and clips[0]["id"] != clips[1]["id"]
    for clip in clips:
        assert_real_clip(clip)
        meta = clip["metadata"]
        assert meta["model_name"] == "chirp-fenix" and meta["type"] == "music"
        assert "[Verse" in meta["prompt"] and meta["tags"] and clip["title"]


def test_seed_custom_example_sings_the_given_lyrics(sim):
    """Custom mode: the prompt is the lyrics, the tags and title are the caller's."""
    k = sim.account(RICH)
    clips = finished(sim, k, seed_task(sim, k, SEED_CUSTOM))["output"]["result"]
    assert len(clips) == 2
    for clip in clips:
        assert_real_clip(clip)
        assert clip["title"] == "Summer Days"
        assert clip["metadata"]["prompt"] == CUSTOM["input"]["prompt"]
        assert clip["metadata"]["tags"] == "pop, acoustic, upbeat"


def test_seed_continuation_example_continues_a_real_clip(sim):
    """The seed's continuation, its clip id replaced by one of the key's own songs: two
    clips that are the source up to 30 s, then new music with the given words."""
    k = sim.account(RICH)
    source = song(sim, k)
    data = finished(sim, k, seed_task(sim, k, SEED_CONTINUATION, source["id"]))
    clips = data["output"]["result"]
    assert len(clips) == 2
    for clip in clips:
        assert_real_clip(clip)
        meta = clip["metadata"]
        assert meta["continue_clip_id"] == source["id"] and meta["continue_at"] == 30
        assert meta["prompt"] == "[Chorus]\nKeep the music playing on"
        assert meta["duration"] > 30
        assert_starts_with(sim, clip["id"], source["id"], 30.0)
        # ... and after 30 s it is new music, not the rest of the source.
        made, rate = wav_of(sim, clip["id"])
        original, _ = wav_of(sim, source["id"])
        after = slice(int(31 * rate), int(36 * rate))
        assert np.abs(made[after] - original[after]).mean() > 0.01


def test_continuation_mp3_starts_like_its_source_mp3(sim):
    """The same holds of the MP3s, decoded independently: the first 25 s match."""
    k = sim.account(RICH)
    source = song(sim, k)
    body = {"model": "suno", "task_type": "music",
            "input": {"continue_clip_id": source["id"], "continue_at": 30}}
    made = results(sim, k, body)[0]
    a, rate = decode_mp3(fetch(made["audio_url"], "audio/mpeg"))
    b, rate_b = decode_mp3(fetch(source["audio_url"], "audio/mpeg"))
    assert rate == rate_b
    n = int(25 * rate)
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.99
    late = slice(int(32 * rate), int(37 * rate))
    assert np.corrcoef(a[late], b[late])[0, 1] < 0.9


def test_seed_continuation_example_as_printed_names_no_clip_of_the_key(sim):
    """Sent with the seed's stand-in id, there is no such clip: 400, nothing charged."""
    k = sim.account(100)
    response = post(sim, None, k, raw=SEED_CONTINUATION)
    message = error_of(response, 400)
    assert "continue_clip_id" in message and SEED_CLIP_ID in message
    unchanged(sim, k, 100)


def test_seed_udio_example_makes_two_real_songs(sim):
    k = sim.account(RICH)
    data = finished(sim, k, seed_task(sim, k, SEED_UDIO))
    assert (data["model"], data["credits_cost"]) == ("udio", 5)
    clips = data["output"]["result"]
    assert len(clips) == 2
    for clip in clips:
        assert_real_clip(clip)
        assert clip["metadata"]["model_name"] == "udio32-v1.5"
        assert clip["metadata"]["prompt"].strip()  # lyrics_type generate: words written


def test_seed_lyrics_example_answers_text_and_title(sim):
    k = sim.account(RICH)
    data = finished(sim, k, seed_task(sim, k, SEED_LYRICS), JOB_SECONDS)
    assert (data["type"], data["credits_cost"]) == ("lyrics", 5)
    [words] = data["output"]["result"]
    assert set(words) == {"text", "title"}
    assert "[Verse" in words["text"] and "[Chorus]" in words["text"]
    assert len(words["text"].splitlines()) > 8 and words["title"].strip()


def test_seed_upload_example_makes_one_clip(sim):
    """An outside URL becomes one 60 s clip a later task can build on."""
    k = sim.account(RICH)
    data = finished(sim, k, seed_task(sim, k, SEED_UPLOAD), JOB_SECONDS)
    assert (data["type"], data["credits_cost"]) == ("upload", 1)
    [clip] = data["output"]["result"]
    assert_real_clip(clip)
    assert clip["metadata"]["duration"] == 60 and clip["metadata"]["type"] == "upload"
    body = {"model": "suno", "task_type": "music",
            "input": {"continue_clip_id": clip["id"], "continue_at": 20}}
    extended = results(sim, k, body)[0]
    assert_starts_with(sim, extended["id"], clip["id"], 20.0)


def test_seed_concat_example_joins_a_continuation_into_one_song(sim):
    """Concat of a continuation made at the end of its source: one clip, longer than the
    source, that starts with the source and is the whole continued song."""
    k = sim.account(RICH)
    source = song(sim, k)
    body = {"model": "suno", "task_type": "music", "input": {"continue_clip_id": source["id"]}}
    continued = results(sim, k, body)[0]
    assert continued["metadata"]["continue_at"] == source["metadata"]["duration"]
    data = finished(sim, k, seed_task(sim, k, SEED_CONCAT, continued["id"]), JOB_SECONDS)
    assert (data["type"], data["credits_cost"]) == ("concat", 5)
    [joined] = data["output"]["result"]
    assert_real_clip(joined)
    assert joined["metadata"]["duration"] > source["metadata"]["duration"] + 10
    assert joined["metadata"]["duration"] == pytest.approx(
        continued["metadata"]["duration"], abs=0.05)
    assert_starts_with(sim, joined["id"], source["id"], source["metadata"]["duration"])
    whole, _ = wav_of(sim, joined["id"])
    made, _ = wav_of(sim, continued["id"])
    assert len(whole) == len(made) and np.abs(whole - made).max() < 1e-3


# --- a task's status ----------------------------------------------------------------------


@pytest.mark.parametrize("body, step, total", [
    (INSPIRATION, 2.0, SONG_SECONDS),
    (UDIO, 2.0, SONG_SECONDS),
    (LYRICS, 0.25, JOB_SECONDS),
    (UPLOAD, 0.1, JOB_SECONDS),
], ids=["suno-music", "udio-music", "lyrics", "upload"])
def test_status_moves_pending_running_success_and_every_answer_conforms(sim, body, step, total):
    """Polled in small steps: pending (output null), running (output processing, an
    "NN%" progress that never falls, no result yet), then success with a result; every
    answer conforms to the spec's TaskAnswer."""
    k = sim.account(RICH)
    task_id = submit(sim, k, body)
    seen, progress = [], []
    elapsed = 0.0
    while True:
        data = task(sim, k, task_id)  # validated against TaskAnswer
        seen.append(data["status"])
        assert data["input"] == body["input"] and data["error"] is None
        if data["status"] == "pending":
            assert data["output"] is None and data["completed_at"] is None
        elif data["status"] == "running":
            output = data["output"]
            assert output["status"] == "processing" and output["task_type"] == body["task_type"]
            assert output["result"] == [] and output["fail_reason"] is None
            assert output["progress"].endswith("%") and output["progress"][:-1].isdigit()
            assert 0 <= int(output["progress"][:-1]) <= 99
            progress.append(int(output["progress"][:-1]))
            assert data["completed_at"] is None
        else:
            assert data["status"] == "success", data
            assert data["output"]["status"] == "completed"
            assert data["output"]["progress"] == "100%" and data["output"]["result"]
            assert iso(data["completed_at"]) >= iso(data["created_at"])
            break
        assert elapsed <= total, seen
        sim.advance(step)
        elapsed += step
    ranks = [RANK[s] for s in seen]
    assert ranks == sorted(ranks), seen
    assert {"pending", "running", "success"} <= set(seen), seen
    assert progress == sorted(progress) and len(progress) >= 2 and progress[-1] > progress[0]


def test_a_finished_task_does_not_change(sim):
    """Success is final: polled long after, the answer is the same."""
    k = sim.account(RICH)
    task_id = submit(sim, k, LYRICS)
    first = finished(sim, k, task_id, JOB_SECONDS)
    sim.advance(TTL * 2)
    assert task(sim, k, task_id) == first


# --- continuation and concat: whose clips ---------------------------------------------------


def test_continuation_and_concat_of_another_keys_clip_are_refused(sim):
    """Clips are the key's own: another key can neither continue nor concat them, and
    is charged nothing for trying."""
    owner, stranger = sim.account(RICH), sim.account(100)
    source = song(sim, owner)
    for body, field in (
            ({"model": "suno", "task_type": "music",
              "input": {"continue_clip_id": source["id"], "continue_at": 30}},
             "continue_clip_id"),
            ({"model": "suno", "task_type": "concat", "input": {"clip_id": source["id"]}},
             "clip_id")):
        message = error_of(post(sim, body, stranger), 400)
        assert field in message and source["id"] in message, message
    unchanged(sim, stranger, 100)
    # The owner may do both.
    submit(sim, owner, {"model": "suno", "task_type": "concat",
                        "input": {"clip_id": source["id"]}})


def test_continue_at_beyond_the_clip_is_refused(sim):
    k = sim.account(RICH)
    source = song(sim, k)
    before = ledger(sim, k)
    body = {"model": "suno", "task_type": "music",
            "input": {"continue_clip_id": source["id"],
                      "continue_at": source["metadata"]["duration"] + 1}}
    assert "continue_at" in error_of(post(sim, body, k), 400)
    assert ledger(sim, k) == before


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {"task_type": "music", "input": {"prompt": "x"}},
    {"model": "suno", "input": {"prompt": "x"}},
    {"model": "suno", "task_type": "music"},
    {},
], ids=["no-model", "no-task_type", "no-input", "empty"])
def test_missing_required_fields(sim, body):
    refused(sim, body, 400, MISSING)


def test_unknown_task_type_and_model(sim):
    refused(sim, {"model": "suno", "task_type": "video", "input": {"prompt": "x"}}, 400,
            "Unknown or unsupported task_type: one of music, lyrics, upload, concat")
    refused(sim, {"model": "riffusion", "task_type": "music", "input": {"prompt": "x"}}, 400,
            'Unknown model: model must be "suno" or "udio"')
    refused(sim, {"model": "suno", "task_type": "music", "input": "a song"}, 400,
            "input must be an object")


@pytest.mark.parametrize("kind", ["lyrics", "upload", "concat"])
def test_udio_supports_music_only(sim, kind):
    refused(sim, {"model": "udio", "task_type": kind,
                  "input": {"prompt": "x", "url": "https://a.example/b.mp3", "clip_id": "c"}},
            400, "Unknown or unsupported task_type: udio supports music only")


@pytest.mark.parametrize("model, extra", [
    ("suno", {"seed": 7}), ("suno", {"lyrics": "la la"}), ("suno", {"lyrics_type": "user"}),
    ("udio", {"gpt_description_prompt": "x"}), ("udio", {"make_instrumental": True}),
    ("udio", {"negative_tags": "metal"}), ("udio", {"title": "T"}),
    ("udio", {"continue_clip_id": "c"}), ("udio", {"continue_at": 3}),
], ids=lambda v: v if isinstance(v, str) else next(iter(v)))
def test_mixing_suno_and_udio_fields_is_a_400(sim, model, extra):
    """The seed: "Mixing them produces a 400 validation error" — both ways."""
    body = {"model": model, "task_type": "music", "input": {"prompt": "x", **extra}}
    message = refused(sim, body)
    assert message.startswith("Invalid input parameters for the selected task type"), message
    assert ("Udio fields" if model == "suno" else "udio takes") in message, message


def test_udio_user_lyrics_need_lyrics(sim):
    body = {"model": "udio", "task_type": "music",
            "input": {"prompt": "lofi", "lyrics_type": "user"}}
    refused(sim, body, 400, "Invalid input parameters for the selected task type: "
                            "lyrics_type user needs lyrics")
    refused(sim, {**body, "input": {**body["input"], "lyrics": ""}}, 400)
    k = sim.account(RICH)
    words = "[Verse]\nRain on the window\nCoffee gone cold"
    clips = results(sim, k, {**body, "input": {**body["input"], "lyrics": words}})
    assert [c["metadata"]["prompt"] for c in clips] == [words, words]


@pytest.mark.parametrize("given_input, message", [
    ({"seed": -1}, "seed must be an integer from 0 to 4294967295"),
    ({"seed": 2 ** 32}, "seed must be an integer from 0 to 4294967295"),
    ({"lyrics_type": "spoken"}, "lyrics_type must be generate, user or instrumental"),
], ids=["seed-negative", "seed-too-big", "lyrics_type-unknown"])
def test_bad_udio_fields_are_400(sim, given_input, message):
    body = {"model": "udio", "task_type": "music", "input": {"prompt": "lofi", **given_input}}
    refused(sim, body, 400, message)


def test_suno_music_without_any_mode_is_a_400(sim):
    message = refused(sim, {"model": "suno", "task_type": "music", "input": {}})
    assert "gpt_description_prompt" in message and "continue_clip_id" in message


def test_missing_and_unknown_keys_are_401(sim):
    k = sim.account(100)
    task_id = submit(sim, k, LYRICS)
    for missing in (post(sim, INSPIRATION, None), get(sim, task_id, None),
                    get_balance(sim, None)):
        error_of(missing, 401, "Missing x-api-key header")
    # A Bearer token is not this provider's header.
    response = requests.post(f"{sim.base('sunor')}/api/v1/task", json=INSPIRATION, timeout=10,
                             headers={"Authorization": f"Bearer {k}"})
    error_of(response, 401, "Missing x-api-key header")
    for unknown in (post(sim, INSPIRATION, "sk-not-a-key"), get(sim, task_id, "sk-not-a-key"),
                    get_balance(sim, "sk-not-a-key")):
        error_of(unknown, 401, "Invalid API key")


def test_too_few_credits_is_402_naming_available_and_required(sim):
    k = sim.account(9)
    error_of(post(sim, INSPIRATION, k), 402, "Insufficient credits: available 9, required 10")
    unchanged(sim, k, 9)
    # The same key can afford a cheaper task.
    submit(sim, k, UDIO)
    assert balance(sim, k) == {"available": 4, "frozen": 5, "total": 9}


def test_frozen_credits_are_not_available_for_the_next_task(sim):
    k = sim.account(15)
    submit(sim, k, INSPIRATION)
    error_of(post(sim, INSPIRATION, k), 402, "Insufficient credits: available 5, required 10")
    assert balance(sim, k) == {"available": 5, "frozen": 10, "total": 15}
    assert tasks_of(sim, k) == 1


def test_unknown_task_and_another_keys_task_are_404(sim):
    owner, stranger = sim.account(100), sim.account(100)
    task_id = submit(sim, owner, LYRICS)
    error_of(get(sim, "f47ac10b-58cc-4372-a567-0e02b2c3d479", owner), 404, "Task not found")
    error_of(get(sim, task_id, stranger), 404, "Task not found")
    sim.advance(JOB_SECONDS)
    error_of(get(sim, task_id, stranger), 404, "Task not found")
    assert task(sim, owner, task_id)["status"] == "success"


def test_rate_limit_is_429_with_retry_after():
    limited = start_sim(rate_limits={"sunor": RateLimit(1.0, 2.0)})
    try:
        k = limited.account(100)
        answers = [get_balance(limited, k) for _ in range(5)]
        assert [a.status_code for a in answers[:2]] == [200, 200]
        throttled = [a for a in answers if a.status_code == 429]
        assert throttled, [a.status_code for a in answers]
        message = error_of(throttled[0], 429)
        wait = int(throttled[0].headers["Retry-After"])
        assert wait >= 1 and f"{wait} second" in message
        # The submit is throttled too, and holds nothing.
        error_of(post(limited, INSPIRATION, k), 429)
        account = limited.admin("GET", f"/accounts/{k}").json()
        assert (account["credits"], account["held"]) == (100, 0)
    finally:
        limited.stop()


@pytest.mark.parametrize("model, field", [
    ("suno", "gpt_description_prompt"), ("suno", "prompt"), ("suno", "tags"),
    ("suno", "title"), ("udio", "prompt"), ("udio", "lyrics"),
])
def test_magic_500_answers_at_once_and_charges_nothing(sim, model, field):
    """[sim:500] in any text field is the provider's 500, before anything is held."""
    given_input = {"prompt": "lofi", "lyrics_type": "user", "lyrics": "la"} \
        if model == "udio" else {"prompt": "la"}
    given_input[field] = "make it [sim:500]"
    refused(sim, {"model": model, "task_type": "music", "input": given_input}, 500,
            "Internal server error")


@pytest.mark.parametrize("marker, status", [("[sim:502]", 502), ("[sim:503]", 503)])
def test_magic_502_and_503(sim, marker, status):
    refused(sim, {"model": "suno", "task_type": "lyrics", "input": {"prompt": marker}}, status)


def test_a_key_limited_to_suno_may_not_use_udio(sim):
    k = sim.account(100, models=["suno"])
    error_of(post(sim, UDIO, k), 403, "This API key may not use model udio")
    unchanged(sim, k, 100)
    submit(sim, k, LYRICS)


@pytest.mark.parametrize("content_type, named", [
    ("text/plain", "text/plain"), ("text/plain; charset=utf-8", "text/plain"),
    ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
    (None, None),
], ids=["text-plain", "text-plain-charset", "form", "none"])
def test_a_body_that_is_not_declared_json_is_refused(sim, content_type, named):
    """The seed: "Must be application/json." The seed's own body labelled otherwise (or
    not at all) is a 400 in the provider's {code, message} shape that says so, naming
    the type sent; nothing is held and no task starts."""
    k = sim.account(100)
    headers = {"x-api-key": k, **({"Content-Type": content_type} if content_type else {})}
    response = requests.post(f"{sim.base('sunor')}/api/v1/task", data=SEED_LYRICS.encode(),
                             headers=headers, timeout=60)
    assert response.request.headers.get("Content-Type") == content_type
    message = error_of(response, 400)
    assert "must be application/json" in message, message
    if named:
        assert named in message, message
    unchanged(sim, k, 100)


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON"])
def test_a_json_body_declared_json_is_accepted(sim, content_type):
    """application/json, with or without parameters (and in any case, as media types
    are), is what the seed asks for; a body so labelled that is not JSON is still a 400
    in the same shape."""
    k = sim.account(100)
    created(post(sim, None, k, raw=SEED_LYRICS, extra={"Content-Type": content_type}),
            "lyrics", 5)
    error_of(post(sim, None, k, raw="{nope", extra={"Content-Type": content_type}), 400,
             "Request body must be valid JSON")
    assert ledger(sim, k)["held"] == 5


# --- credits ------------------------------------------------------------------------------


@pytest.mark.parametrize("body, seconds", [
    (INSPIRATION, SONG_SECONDS), (LYRICS, JOB_SECONDS), (UPLOAD, JOB_SECONDS),
    ("concat", JOB_SECONDS), (UDIO, SONG_SECONDS),
], ids=["suno-music", "suno-lyrics", "suno-upload", "suno-concat", "udio-music"])
def test_price_is_frozen_at_submit_and_spent_on_success(sim, body, seconds):
    k = sim.account(100)
    if body == "concat":  # needs a clip of the key's own: a 1-credit upload
        clip = results(sim, k, UPLOAD, JOB_SECONDS)[0]
        body = {"model": "suno", "task_type": "concat", "input": {"clip_id": clip["id"]}}
    price = PRICES[(body["model"], body["task_type"])]
    before = balance(sim, k)
    task_id = submit(sim, k, body)
    held = balance(sim, k)
    assert held == {"available": before["available"] - price, "frozen": price,
                    "total": before["total"]}
    assert task(sim, k, task_id)["credits_cost"] == price
    finished(sim, k, task_id, seconds)
    after = balance(sim, k)
    assert after == {"available": before["available"] - price, "frozen": 0,
                     "total": before["total"] - price}
    assert ledger(sim, k)["spent"] == 100 - after["available"]


def test_a_failed_task_refunds_its_credits(sim):
    """[sim:fail]: the task runs a while, then fails; error is a string, credits return."""
    k = sim.account(100)
    body = {"model": "suno", "task_type": "music", "input": {"prompt": "la la [sim:fail]"}}
    task_id = submit(sim, k, body)
    assert balance(sim, k)["frozen"] == 10
    sim.advance(10)
    assert task(sim, k, task_id)["status"] == "running"
    data = finished(sim, k, task_id, SONG_SECONDS, status="failure")
    assert isinstance(data["error"], str) and data["error"]
    assert data["output"]["status"] == "failed" and data["output"]["result"] == []
    assert data["output"]["fail_reason"] == data["error"]
    assert data["completed_at"] is not None
    assert balance(sim, k) == {"available": 100, "frozen": 0, "total": 100}
    assert ledger(sim, k)["spent"] == 0


def test_a_stuck_task_times_out_after_600_seconds_and_refunds(sim):
    """[sim:stuck] never finishes; 600 simulated seconds after submission it is
    `timeout`, and its credits come back."""
    k = sim.account(100)
    task_id = submit(sim, k, {"model": "udio", "task_type": "music",
                              "input": {"prompt": "lofi [sim:stuck]"}})
    sim.advance(TTL - 0.5)
    data = task(sim, k, task_id)
    assert data["status"] == "running" and data["output"]["status"] == "processing"
    assert balance(sim, k)["frozen"] == 5
    sim.advance(1.0)
    data = task(sim, k, task_id)
    assert data["status"] == "timeout" and isinstance(data["error"], str) and data["error"]
    assert data["output"]["status"] == "failed" and data["output"]["result"] == []
    lasted = (iso(data["completed_at"]) - iso(data["created_at"])).total_seconds()
    assert lasted == pytest.approx(TTL, abs=0.002)  # timestamps are whole milliseconds
    assert balance(sim, k) == {"available": 100, "frozen": 0, "total": 100}


# --- Udio ---------------------------------------------------------------------------------


def udio_audio(sim: Sim, api_key: str, **given: Any) -> list[bytes]:
    body = {"model": "udio", "task_type": "music", "input": {"prompt": "lofi, rain", **given}}
    return [fetch(c["audio_url"], "audio/mpeg") for c in results(sim, api_key, body)]


def test_the_same_udio_seed_gives_the_same_tracks(sim):
    """The spec: "a seed makes the two tracks repeatable" — two tasks, same seed."""
    k = sim.account(RICH)
    assert udio_audio(sim, k, seed=424242) == udio_audio(sim, k, seed=424242)


def test_neighbouring_udio_seeds_share_no_track(sim):
    k = sim.account(RICH)
    assert not set(udio_audio(sim, k, seed=5)) & set(udio_audio(sim, k, seed=6))


def test_different_udio_seeds_give_different_tracks(sim):
    k = sim.account(RICH)
    first, second = udio_audio(sim, k, seed=1000), udio_audio(sim, k, seed=9000)
    assert first[0] != first[1]
    assert not set(first) & set(second)


def test_udio_instrumental_has_no_words(sim):
    k = sim.account(RICH)
    body = {"model": "udio", "task_type": "music",
            "input": {"prompt": "ambient piano", "lyrics_type": "instrumental"}}
    clips = results(sim, k, body)
    assert len(clips) == 2
    for clip in clips:
        assert clip["metadata"]["prompt"] == ""
    assert_real_clip(clips[0])


# --- property: statuses only move forward; the ledger balances ----------------------------


@pytest.fixture(scope="module")
def prop_sim():
    sim = start_sim(rate_limits={"sunor": RateLimit(0.0, 1.0)})
    yield sim
    sim.stop()


SUBMITS = {
    "suno-inspiration": {"model": "suno", "task_type": "music",
                         "input": {"gpt_description_prompt": "a song about trains"}},
    "suno-custom": {"model": "suno", "task_type": "music",
                    "input": {"prompt": "[Verse]\nla la", "tags": "pop"}},
    "suno-lyrics": {"model": "suno", "task_type": "lyrics", "input": {"prompt": "the sea"}},
    "suno-upload": {"model": "suno", "task_type": "upload",
                    "input": {"url": "https://files.example/a.mp3"}},
    "udio-music": {"model": "udio", "task_type": "music", "input": {"prompt": "lofi"}},
    "suno-concat": None,  # of a clip the key has finished, when it has one
}
FAILS = ("prompt", "gpt_description_prompt")

step = st.one_of(
    st.tuples(st.just("submit"), st.sampled_from(sorted(SUBMITS)), st.booleans()),
    st.tuples(st.just("advance"), st.floats(0.5, 80.0, allow_nan=False), st.just(False)),
)


@settings(max_examples=15, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_statuses_only_move_forward_and_the_ledger_balances(prop_sim, steps):
    """Whatever is submitted and however the clock moves, each task's status only moves
    forward (pending < running < success | failure | timeout, a final one never
    changes); credits + held + spent == granted, held is the price of the unfinished
    tasks and spent that of the succeeded ones."""
    sim = prop_sim
    k = sim.account(10_000)
    tasks: dict[str, dict[str, Any]] = {}  # id → {price, fails, status}
    clips: list[str] = []

    def check() -> None:
        for task_id, known in tasks.items():
            data = task(sim, k, task_id)
            status = data["status"]
            assert RANK[status] >= RANK[known["status"]], (known, status)
            if RANK[known["status"]] == 2:
                assert status == known["status"], (known, status)
            if status == "failure":
                assert known["fails"], data
            if status == "success" and data["type"] != "lyrics" and not known["seen"]:
                clips.extend(c["id"] for c in data["output"]["result"])
                known["seen"] = True
            known["status"] = status
        money = ledger(sim, k)
        assert money["credits"] + money["held"] + money["spent"] == money["granted"] == 10_000
        open_ = sum(t["price"] for t in tasks.values() if RANK[t["status"]] < 2)
        spent = sum(t["price"] for t in tasks.values() if t["status"] == "success")
        assert (money["held"], money["spent"]) == (open_, spent), (money, tasks)
        assert balance(sim, k) == {"available": money["credits"], "frozen": money["held"],
                                   "total": money["credits"] + money["held"]}

    for action, what, fails in steps:
        if action == "advance":
            sim.advance(what)
        else:
            body = SUBMITS[what]
            if body is None:
                if not clips:
                    continue
                body = {"model": "suno", "task_type": "concat", "input": {"clip_id": clips[-1]}}
            body = json.loads(json.dumps(body))
            field = next((f for f in FAILS if f in body["input"]), None)
            fails = fails and field is not None
            if fails:
                body["input"][field] += " [sim:fail]"
            task_id = submit(sim, k, body)
            tasks[task_id] = {"price": PRICES[(body["model"], body["task_type"])],
                              "fails": fails, "status": "pending", "seen": False}
        check()
    sim.advance(TTL + 1)
    check()
    for known in tasks.values():
        assert known["status"] == ("failure" if known["fails"] else "success"), tasks
    assert ledger(sim, k)["held"] == 0
