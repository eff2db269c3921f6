"""openaihk over HTTP: keys, how a clip's status moves, failures, what each call costs,
the dialect's validation, clips a key may not see or use, the cross-account rules of
pooled upstream accounts, rate limiting, and a property test of statuses and credits.

Every test drives a real simulator on a manual clock, so time only passes when a test
advances it; numbers asserted are the ones fixtures/prices.toml and seed 003 give.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
import requests
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import Sim, bearer, start_sim
from openaihk_client import (HK, SONG_SECONDS, feed, fetch, generate, get, key, ok, post,
                             songs, upload, wav_samples)
from simulator.config import RateLimit

INSPIRATION = {"gpt_description_prompt": "nostalgia"}  # the seed's scenario 1
LYRICS = "[Verse]\nBusy days one after another\nFiles piling up with no end in sight"
CUSTOM = {"prompt": LYRICS, "mv": "chirp-v3-5", "title": "Work", "tags": " edm"}
OUTSIDE_MP3 = "https://files.example/my-song.mp3"  # stands for 60 s of music
UPLOAD_SECONDS = 60.0
ORDER = {"submitted": 0, "queued": 1, "streaming": 2, "complete": 3}
ERROR_KEYS = {"message", "type", "param", "code"}


# --- helpers ------------------------------------------------------------------------------


def account(sim: Sim, api_key: str) -> dict[str, Any]:
    """The key's balances from the control plane: credits, held, spent, granted."""
    response = sim.admin("GET", f"/accounts/{api_key}")
    assert response.status_code == 200, response.text
    return response.json()


def credits(sim: Sim, api_key: str) -> float:
    return account(sim, api_key)["credits"]


def error_of(response: requests.Response, status: int, code: str,
             kind: str = "invalid_request_error") -> dict[str, Any]:
    """The OpenAI-style error body, checked to have exactly its four fields."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == ERROR_KEYS, error
    assert error["code"] == code and error["type"] == kind, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["param"], str), error
    return error


def statuses(sim: Sim, api_key: str, ids: list[str]) -> list[str]:
    return [clip["status"] for clip in feed(sim, api_key, ids)]


def ids_of(batch: dict[str, Any]) -> list[str]:
    return [clip["id"] for clip in batch["clips"]]


def song(sim: Sim, api_key: str, body: dict[str, Any] = CUSTOM) -> dict[str, Any]:
    """One finished clip of a new generation."""
    return songs(sim, api_key, body)[0]


def expire(sim: Sim, clip_id: str) -> dict[str, Any]:
    """Let the upstream account that made the clip expire (control plane)."""
    response = sim.admin("POST", f"/clips/{clip_id}/expire-upstream")
    assert response.status_code == 200, response.text
    assert response.json()["upstream_expired"] is True
    return response.json()


def settled_cost(sim: Sim, api_key: str, action: Callable[[], object]) -> float:
    """Credits the action costs once everything it started is done (nothing left held)."""
    before = account(sim, api_key)
    action()
    sim.advance(SONG_SECONDS)
    after = account(sim, api_key)
    assert after["held"] == 0, after
    assert after["spent"] - before["spent"] == before["credits"] - after["credits"]
    return before["credits"] - after["credits"]


def ledger_holds(balances: dict[str, Any]) -> bool:
    total = balances["credits"] + balances["held"] + balances["spent"]
    return total == pytest.approx(balances["granted"])


def extend_body(clip_id: str, task: str = "extend", mv: str = "chirp-v4",
                at: float = 30.0) -> dict[str, Any]:
    return {"prompt": LYRICS, "tags": "heavy metal", "mv": mv, "title": "Work",
            "continue_clip_id": clip_id, "continue_at": at, "task": task}


def cover_body(clip_id: str) -> dict[str, Any]:
    return {"prompt": LYRICS, "tags": "rock, punk", "mv": "chirp-auk", "title": "Work (Cover)",
            "task": "cover", "cover_clip_id": clip_id}


def infill_body(clip_id: str, start: float = 10.0, end: float = 20.0,
                duration: float | None = None) -> dict[str, Any]:
    return {"prompt": LYRICS, "mv": "chirp-auk", "task": "infill", "continue_clip_id": clip_id,
            "infill_start_s": start, "infill_end_s": end,
            "infill_dur_s": end - start if duration is None else duration}


def gen_stem_body(clip_id: str, stem_task: str = "twelve", group: str = "Twelve",
                  mv: str = "chirp-auk") -> dict[str, Any]:
    return {"task": "gen_stem", "mv": mv, "continue_clip_id": clip_id,
            "stem_task": stem_task, "stem_type_group_name": group}


def persona_body(clip_id: str) -> dict[str, Any]:
    return {"root_clip_id": clip_id, "name": "Persona Title",
            "description": "Persona Description", "clips": [clip_id], "is_public": True}


# --- keys ---------------------------------------------------------------------------------


def test_missing_key_is_an_authentication_error_with_all_four_fields(sim):
    """Gateway clients read error.code to tell a missing key from a wrong one."""
    response = post(sim, "/sunoapi/generate", INSPIRATION, None)
    error = error_of(response, 401, "missing_api_key", "authentication_error")
    assert error["param"] == ""
    error_of(get(sim, "/sunoapi/feed/some-clip", None), 401, "missing_api_key",
             "authentication_error")


def test_unknown_key_is_invalid_api_key(sim):
    """A key the gateway never issued is refused before anything else is looked at."""
    for response in (post(sim, "/sunoapi/generate", INSPIRATION, "hk-not-a-real-key"),
                     get(sim, "/sunoapi/feed/some-clip", "hk-not-a-real-key"),
                     post(sim, "/suno/act/tags", {"original_tags": "x"}, "hk-nope")):
        error_of(response, 401, "invalid_api_key", "authentication_error")


# --- a clip's status ----------------------------------------------------------------------


def test_inspiration_clip_passes_submitted_queued_streaming_complete(sim):
    """What a poller sees at each phase of the seed's inspiration request: words, cover
    and a playable stream while streaming; the MP3, video and duration once complete."""
    k = key(sim)
    ids = ids_of(generate(sim, k, INSPIRATION))
    assert len(ids) == 2

    first = feed(sim, k, ids)[0]
    assert first["status"] == "submitted"
    assert first["audio_url"] == "" and first["video_url"] == "" and "image_url" not in first
    assert first["title"] == "" and first["metadata"]["prompt"] == ""

    sim.advance(5)
    assert statuses(sim, k, ids) == ["queued", "queued"]

    sim.advance(15)  # 20 s after submission: the words are written
    streaming = feed(sim, k, ids)
    for clip in streaming:
        assert clip["status"] == "streaming", clip
        assert clip["audio_url"].endswith(f"/media/{clip['id']}/stream.mp3")
        assert clip["image_url"].endswith("/cover.jpeg") and clip["video_url"] == ""
        assert clip["title"] and clip["metadata"]["prompt"].strip()
        assert clip["metadata"]["gpt_description_prompt"] == "nostalgia"
        assert "duration" not in clip["metadata"]

    sim.advance(SONG_SECONDS - 20)
    for clip in feed(sim, k, ids):
        assert clip["status"] == "complete", clip
        assert clip["audio_url"].endswith(f"/media/{clip['id']}/audio.mp3")
        assert clip["video_url"].endswith(f"/media/{clip['id']}/video.mp4")
        assert clip["metadata"]["duration"] > 0
        assert clip["title"] == next(c["title"] for c in streaming if c["id"] == clip["id"])


def test_a_streaming_clip_serves_its_stream_and_cover(sim):
    """A streaming clip's audio plays as it is made (clips.py says so), so the stream.mp3
    and cover links the feed shows for it must serve MP3 and JPEG bytes, not a 404."""
    k = key(sim)
    ids = ids_of(generate(sim, k, INSPIRATION))
    sim.advance(20)
    for clip in feed(sim, k, ids):
        assert clip["status"] == "streaming", clip
        # The stream plays what is made so far and stays open for the rest.
        with requests.get(clip["audio_url"], stream=True, timeout=30) as stream:
            assert stream.status_code == 200
            assert stream.headers["Content-Type"] == "audio/mpeg"
            head = next(stream.iter_content(4096))
        assert head[:3] == b"ID3" or head[0] == 0xFF and head[1] & 0xE0 == 0xE0
        assert fetch(clip["image_url"], "image/jpeg")[:3] == b"\xff\xd8\xff"


def test_statuses_never_move_backwards_while_polled_in_small_steps(sim):
    """A poller stepping through the whole lifecycle sees each status in order, never a
    return to an earlier one, and ends with every clip complete."""
    k = key(sim)
    ids = ids_of(generate(sim, k, INSPIRATION))
    seen = [statuses(sim, k, ids)]
    for _ in range(60):
        sim.advance(2.0)
        seen.append(statuses(sim, k, ids))
    for index in range(len(ids)):
        ranks = [ORDER[snapshot[index]] for snapshot in seen]
        assert ranks == sorted(ranks), [snapshot[index] for snapshot in seen]
        assert {s[index] for s in seen} == set(ORDER)  # every phase was visible
    assert seen[-1] == ["complete", "complete"]


# --- failures -----------------------------------------------------------------------------


def test_failed_generation_ends_in_error_and_returns_the_held_credits(sim):
    """[sim:fail] makes the song fail mid-way: the clips say why, and the key gets back
    what was held for them."""
    k = key(sim, credits=5000)
    ids = ids_of(generate(sim, k, {**CUSTOM, "prompt": LYRICS + " [sim:fail]"}))
    held = account(sim, k)
    assert (held["credits"], held["held"]) == (4000, 1000)
    sim.advance(SONG_SECONDS)
    for clip in feed(sim, k, ids):
        assert clip["status"] == "error", clip
        assert clip["metadata"]["error_type"] == "generation_failure"
        assert isinstance(clip["metadata"]["error_message"], str)
        assert clip["metadata"]["error_message"]
    after = account(sim, k)
    assert (after["credits"], after["held"], after["spent"]) == (5000, 0, 0)


def test_upstream_503_is_answered_at_once_and_charges_nothing(sim):
    """An outage of Suno's account pool is the gateway's 503, before anything is held."""
    k = key(sim, credits=5000)
    response = post(sim, "/sunoapi/generate", {**CUSTOM, "prompt": "x [sim:503]"}, k)
    error_of(response, 503, "upstream_busy", "upstream_error")
    after = account(sim, k)
    assert (after["credits"], after["held"], after["spent"]) == (5000, 0, 0)
    tasks = sim.admin("GET", "/tasks", params={"provider": HK, "api_key": k}).json()
    assert tasks["count"] == 0


# --- credits ------------------------------------------------------------------------------


def test_a_generation_holds_1000_and_spends_them_when_complete(sim):
    """One generation (two clips) is one song's price, held at submit, spent at the end."""
    k = key(sim, credits=5000)
    ids = ids_of(generate(sim, k, INSPIRATION))
    assert (account(sim, k)["credits"], account(sim, k)["held"]) == (4000, 1000)
    sim.advance(SONG_SECONDS)
    assert statuses(sim, k, ids) == ["complete", "complete"]
    after = account(sim, k)
    assert (after["credits"], after["held"], after["spent"]) == (4000, 0, 1000)


def test_twelve_stems_cost_five_songs_and_answer_24_clips(sim):
    """gen_stem twelve is billed 5000, and answers two takes of the twelve stems."""
    k = key(sim)
    source = song(sim, k)
    made: list[str] = []
    cost = settled_cost(sim, k, lambda: made.extend(
        ids_of(generate(sim, k, gen_stem_body(source["id"])))))
    assert cost == 5000
    assert len(made) == 24
    assert set(statuses(sim, k, made)) == {"complete"}


def test_wav_is_billed_once_however_often_it_is_polled(sim):
    """The first call starts (and bills) the conversion; polling until it is ready and
    after is free. The URL serves a WAV of the song's length."""
    k = key(sim)
    source = song(sim, k)
    before = credits(sim, k)
    path = f"/sunoapi/act/wav/{source['id']}"
    assert ok(get(sim, path, k)) == {"wav_file_url": None}
    assert ok(get(sim, path, k)) == {"wav_file_url": None}
    sim.advance(10)
    url = ok(get(sim, path, k))["wav_file_url"]
    assert url and url.endswith(f"/media/{source['id']}/audio.wav")
    assert ok(get(sim, path, k)) == {"wav_file_url": url}
    samples, rate = wav_samples(url)
    assert abs(len(samples) / rate - source["metadata"]["duration"]) < 0.05
    after = account(sim, k)
    assert before - after["credits"] == 100 and after["held"] == 0


@pytest.mark.parametrize("name, path, body", [
    ("tags", "/suno/act/tags", {"original_tags": "student"}),
    ("lyrics mashup", "/sunoapi/generate/lyrics-mashup",
     {"lyrics_a": "[Verse]\nHello world", "lyrics_b": "[Chorus]\nGoodbye moon"}),
])
def test_small_operations_cost_100(sim, name, path, body):
    """Tag expansion and lyrics mashup are answered at once and billed 100 each."""
    k = key(sim)
    assert settled_cost(sim, k, lambda: ok(post(sim, path, body, k))) == 100


def test_mp4_costs_100(sim):
    """The video link of a finished song is billed 100 credits per call: the first call
    (which starts the video) and a later one (which answers the same link) alike."""
    k = key(sim)
    source = song(sim, k)
    answers: list[dict[str, Any]] = []
    for _ in range(2):
        cost = settled_cost(sim, k, lambda: answers.append(
            ok(get(sim, f"/sunoapi/act/mp4/{source['id']}", k))))
        assert cost == 100
    assert answers[0] == answers[1]
    assert answers[0]["mp4"].endswith(f"/media/{source['id']}/video.mp4")


def test_an_mp4_refused_for_want_of_credits_starts_no_video(sim):
    """403 with nothing charged, and the song's video link keeps serving: no video is
    being made for it."""
    k = key(sim)
    source = song(sim, k)
    sim.admin("POST", f"/accounts/{k}/credits", json={"delta": 99 - credits(sim, k)})
    error_of(get(sim, f"/sunoapi/act/mp4/{source['id']}", k), 403,
             "insufficient_user_quota", "insufficient_quota")
    assert credits(sim, k) == 99
    assert fetch(source["video_url"], "video/mp4")[4:8] == b"ftyp"


def test_a_persona_without_clips_is_made_from_its_root_clip(sim):
    """`clips` is optional (the seed's scenario 21C sends none): the persona then lists
    its root clip alone, and is billed as any persona."""
    k = key(sim)
    root, other = songs(sim, k, CUSTOM)
    body = {name: value for name, value in persona_body(root["id"]).items() if name != "clips"}
    answer: dict[str, Any] = {}
    cost = settled_cost(sim, k, lambda: answer.update(
        ok(post(sim, "/suno/persona/create/", body, k))))
    assert cost == 100
    assert answer["root_clip_id"] == root["id"] and answer["clip"]["id"] == root["id"]
    assert [p["clip"]["id"] for p in answer["persona_clips"]] == [root["id"]]
    given = ok(post(sim, "/suno/persona/create/", {**body, "clips": [other["id"]]}, k))
    assert [p["clip"]["id"] for p in given["persona_clips"]] == [other["id"]]
    error = error_of(post(sim, "/suno/persona/create/", {**body, "clips": []}, k), 400,
                     "invalid_request")
    assert error["param"] == "clips"


def test_persona_costs_100(sim):
    """Creating a persona from one's own song is billed 100 credits."""
    k = key(sim)
    source = song(sim, k)
    answer: dict[str, Any] = {}
    cost = settled_cost(sim, k, lambda: answer.update(
        ok(post(sim, "/suno/persona/create/", persona_body(source["id"]), k))))
    assert cost == 100
    assert answer["root_clip_id"] == source["id"] and answer["id"]


def test_concat_of_an_extension_costs_100(sim):
    """Joining an extension of a generated song is billed 100 credits (seed scenario 6)."""
    k = key(sim)
    source = song(sim, k)
    extension = songs(sim, k, extend_body(source["id"], mv="chirp-v3-5"))[0]
    joined: dict[str, Any] = {}
    cost = settled_cost(sim, k, lambda: joined.update(ok(post(
        sim, "/sunoapi/generate/concat", {"clip_id": extension["id"], "is_infill": False}, k))))
    assert cost == 100
    done = feed(sim, k, [joined["id"]])[0]
    assert done["status"] == "complete"
    # Here an extension already holds its source up to continue_at, so the whole song
    # lasts as long as the extension.
    assert done["metadata"]["duration"] == pytest.approx(extension["metadata"]["duration"],
                                                         abs=0.05)
    assert done["metadata"]["concat_history"][0]["id"] == source["id"]
    assert done["metadata"]["concat_history"][0]["continue_at"] == 30


def test_concat_of_an_upload_extension_costs_a_song(sim):
    """Joining an extension of an uploaded song is billed as one song (seed scenario 5)."""
    k = key(sim)
    uploaded = upload(sim, k, OUTSIDE_MP3)
    extension = songs(sim, k, extend_body(uploaded["id"], task="upload_extend"))[0]
    cost = settled_cost(sim, k, lambda: ok(post(
        sim, "/sunoapi/generate/concat", {"clip_id": extension["id"], "is_infill": False}, k)))
    assert cost == 1000


def test_too_few_credits_is_insufficient_quota_and_charges_nothing(sim):
    """A balance that cannot cover the price is refused whole: nothing is held or spent."""
    poor = sim.account(credits=50)
    error_of(post(sim, "/sunoapi/generate", INSPIRATION, poor), 403,
             "insufficient_user_quota", "insufficient_quota")
    error_of(post(sim, "/suno/act/tags", {"original_tags": "student"}, poor), 403,
             "insufficient_user_quota", "insufficient_quota")
    after = account(sim, poor)
    assert (after["credits"], after["held"], after["spent"]) == (50, 0, 0)


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize("body, words", [
    ({"task": "fixed_infill", "mv": "chirp-auk", "continue_clip_id": "x",
      "infill_start_s": 1, "infill_end_s": 2}, ["chirp-carp"]),
    ({"task": "vox", "mv": "chirp-v4", "persona_id": "p", "artist_clip_id": "x"},
     ["chirp-crow"]),
    (gen_stem_body("x", mv="chirp-crow"), ["chirp-auk"]),
    ({**CUSTOM, "metadata": {"control_sliders": {"audio_weight": 0.5}}}, ["audio_weight"]),
    ({**CUSTOM, "metadata": {"control_sliders": {"style_weight": 1.5}}}, ["style_weight"]),
    ({**CUSTOM, "metadata": {"control_sliders": {"weirdness_constraint": -0.1}}},
     ["weirdness_constraint"]),
    ({**CUSTOM, "metadata": {"vocal_gender": "x"}}, ["vocal_gender"]),
    (gen_stem_body("x", group="Two"), ["Twelve"]),
], ids=["fixed_infill-auk", "vox-v4", "gen_stem-crow", "audio_weight-on-generate",
        "slider-above-1", "slider-below-0", "vocal_gender-x", "twelve-with-Two"])
def test_bad_generate_bodies_are_refused_in_the_provider_shape(sim, body, words):
    """Rules checked before any clip is looked at; the message says what would be right."""
    k = key(sim, credits=5000)
    error = error_of(post(sim, "/sunoapi/generate", body, k), 400, "invalid_request")
    for word in words:
        assert word in error["message"], error
    assert credits(sim, k) == 5000


def test_remaster_variation_category_is_only_for_chirp_carp(sim):
    """variation_category exists on v5 (chirp-carp) only, whatever the clip."""
    k = key(sim, credits=5000)
    body = {"clip_id": "x", "model_name": "chirp-bass", "variation_category": "high"}
    error = error_of(post(sim, "/sunoapi/generate/upsample", body, k), 400, "invalid_request")
    assert "chirp-carp" in error["message"] and error["param"] == "variation_category"
    assert credits(sim, k) == 5000


def test_malformed_json_is_a_bad_request(sim):
    """A body that is not JSON is refused in the provider's shape, not with a 500."""
    k = key(sim, credits=5000)
    response = requests.post(f"{sim.base(HK)}/sunoapi/generate", data=b"{nope", timeout=10,
                             headers={**bearer(k), "Content-Type": "application/json"})
    error_of(response, 400, "invalid_request")
    assert credits(sim, k) == 5000


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          None])
def test_a_json_body_is_read_whatever_its_content_type(sim, content_type):
    """Only sunor's seed demands application/json; openaihk reads the body as JSON
    however it is labelled (or unlabelled), as it always has."""
    k = key(sim)
    headers = {**bearer(k), **({"Content-Type": content_type} if content_type else {})}
    response = requests.post(f"{sim.base(HK)}/sunoapi/generate", timeout=10,
                             data=b'{"prompt": "[Verse]\\nHello", "title": "Labels"}',
                             headers=headers)
    assert response.request.headers.get("Content-Type") == content_type
    batch = ok(response)
    assert [c["title"] for c in batch["clips"]] == ["Labels", "Labels"]
    assert [c["status"] for c in batch["clips"]] == ["submitted", "submitted"]


@pytest.fixture
def library(sim: Sim) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A key with one finished generated clip and one finished 60 s upload."""
    k = key(sim)
    batch = generate(sim, k, CUSTOM)
    uploaded = ok(post(sim, "/suno/uploads/audio-url", {"url": OUTSIDE_MP3}, k))["clip_id"]
    sim.advance(SONG_SECONDS)
    made, up = feed(sim, k, [batch["clips"][0]["id"], uploaded])
    assert made["status"] == up["status"] == "complete"
    assert up["metadata"]["duration"] == UPLOAD_SECONDS
    return k, made, up


CLIP_RULES = {
    "infill_dur_s-not-end-minus-start": (
        "/sunoapi/generate", lambda m, u: infill_body(m["id"], 10, 20, duration=5),
        "infill_dur_s"),
    "infill-beyond-the-song": (
        "/sunoapi/generate",
        lambda m, u: infill_body(m["id"], 10, m["metadata"]["duration"] + 5), "infill_end_s"),
    "vox-window-of-30s": (
        "/suno/act/vox/{made}", lambda m, u: {"vocal_start_s": 10, "vocal_end_s": 40},
        "vocal_end_s"),
    "underpainting-beyond-the-upload": (
        "/sunoapi/generate",
        lambda m, u: {"task": "underpainting", "mv": "chirp-bluejay", "tags": "piano",
                      "underpainting_clip_id": u["id"], "underpainting_start_s": 0,
                      "underpainting_end_s": UPLOAD_SECONDS + 1}, "underpainting_end_s"),
    "concat-is_infill-on-a-plain-clip": (
        "/sunoapi/generate/concat", lambda m, u: {"clip_id": m["id"], "is_infill": True},
        "is_infill"),
    "extend-an-upload": (
        "/sunoapi/generate", lambda m, u: extend_body(u["id"]), "continue_clip_id"),
    "upload_extend-a-generated-clip": (
        "/sunoapi/generate", lambda m, u: extend_body(m["id"], task="upload_extend"),
        "continue_clip_id"),
}


@pytest.mark.parametrize("rule", list(CLIP_RULES))
def test_bad_requests_on_real_clips_are_refused_and_charge_nothing(sim, library, rule):
    """Rules that depend on the clip named (its duration, its kind, how it was made)."""
    k, made, up = library
    path, build, param = CLIP_RULES[rule]
    before = account(sim, k)
    response = post(sim, path.format(made=made["id"]), build(made, up), k)
    error = error_of(response, 400, "invalid_request")
    assert error["param"] == param, error
    after = account(sim, k)
    assert (after["credits"], after["held"]) == (before["credits"], before["held"])


def test_vox_window_just_under_30s_is_accepted(sim, library):
    """The vox limit is strict: 29.9 s is fine where 30 s is refused."""
    k, made, _ = library
    error_of(post(sim, f"/suno/act/vox/{made['id']}", {"vocal_start_s": 0, "vocal_end_s": 30},
                  k), 400, "invalid_request")
    answer = ok(post(sim, f"/suno/act/vox/{made['id']}",
                     {"vocal_start_s": 0, "vocal_end_s": 29.9}, k))
    assert answer["status"] == "complete" and answer["source_clip_id"] == made["id"]


# --- unknown and foreign clips ------------------------------------------------------------


def test_feed_of_an_unknown_clip_is_clip_not_found(sim):
    """When the feed knows none of the ids it asks for, that is a 404, not an empty list."""
    k = key(sim)
    error_of(get(sim, "/sunoapi/feed/no-such-clip", k), 404, "clip_not_found")


def test_feed_lists_the_known_clips_and_leaves_out_the_unknown(sim):
    """A mixed list is not an error: the answer holds only the clips the key has."""
    k = key(sim)
    known = ids_of(generate(sim, k, INSPIRATION))[0]
    clips = ok(get(sim, f"/sunoapi/feed/{known},no-such-clip", k))
    assert [c["id"] for c in clips] == [known]


def test_another_key_can_neither_see_nor_use_a_clip(sim):
    """Songs are private to the key that paid for them: to any other key they do not
    exist, and nothing is charged for trying."""
    owner, stranger = key(sim), key(sim, credits=5000)
    source = song(sim, owner)
    error_of(get(sim, f"/sunoapi/feed/{source['id']}", stranger), 404, "clip_not_found")
    error_of(post(sim, "/sunoapi/generate", cover_body(source["id"]), stranger), 404,
             "clip_not_found")
    assert credits(sim, stranger) == 5000


def test_a_clip_still_being_made_cannot_be_extended(sim):
    """Only a complete clip can be built on: a streaming one is clip_not_ready."""
    k = key(sim)
    clip_id = ids_of(generate(sim, k, CUSTOM))[0]
    sim.advance(20)
    assert statuses(sim, k, [clip_id]) == ["streaming"]
    error_of(post(sim, "/sunoapi/generate", extend_body(clip_id), k), 400, "clip_not_ready")


# --- cross-account rules ------------------------------------------------------------------


REFUSED_ACROSS_ACCOUNTS = {
    "wav": lambda sim, k, c: get(sim, f"/sunoapi/act/wav/{c}", k),
    "mp4": lambda sim, k, c: get(sim, f"/sunoapi/act/mp4/{c}", k),
    "midi": lambda sim, k, c: get(sim, f"/suno/act/midi/{c}", k),
    "persona": lambda sim, k, c: post(sim, "/suno/persona/create/", persona_body(c), k),
    "remaster": lambda sim, k, c: post(sim, "/sunoapi/generate/upsample",
                                       {"clip_id": c, "model_name": "chirp-carp"}, k),
    "vox": lambda sim, k, c: post(sim, f"/suno/act/vox/{c}",
                                  {"vocal_start_s": 5, "vocal_end_s": 20}, k),
}
ALLOWED_ACROSS_ACCOUNTS = {
    "cover": lambda sim, k, c: post(sim, "/sunoapi/generate", cover_body(c), k),
    "extend": lambda sim, k, c: post(sim, "/sunoapi/generate", extend_body(c), k),
    "infill": lambda sim, k, c: post(sim, "/sunoapi/generate", infill_body(c), k),
    "timing": lambda sim, k, c: get(sim, f"/sunoapi/act/timing/{c}", k),
    "gen_stem": lambda sim, k, c: post(sim, "/sunoapi/generate",
                                       gen_stem_body(c, "two", "Two"), k),
}


@pytest.mark.parametrize("operation", list(REFUSED_ACROSS_ACCOUNTS))
def test_expired_upstream_refuses_operations_that_cannot_cross_accounts(sim, operation):
    """Once the upstream account that made a song expires, the seed's "cross-account not
    supported" operations fail on it, and charge nothing."""
    k = key(sim)
    source = song(sim, k)
    expire(sim, source["id"])
    before = account(sim, k)
    response = REFUSED_ACROSS_ACCOUNTS[operation](sim, k, source["id"])
    error = error_of(response, 400, "cross_account_not_supported")
    assert source["id"] in error["message"]
    after = account(sim, k)
    assert (after["credits"], after["held"]) == (before["credits"], before["held"])


@pytest.mark.parametrize("operation", list(ALLOWED_ACROSS_ACCOUNTS))
def test_expired_upstream_still_allows_cross_account_operations(sim, operation):
    """Cover, extend, infill, timing and gen_stem are "cross-account supported"."""
    k = key(sim)
    source = song(sim, k)
    expire(sim, source["id"])
    answer = ok(ALLOWED_ACROSS_ACCOUNTS[operation](sim, k, source["id"]))
    if operation == "timing":
        assert answer["aligned_words"] and answer["is_streamed"] is False
    else:
        first = "queued" if operation == "gen_stem" else "submitted"  # stems: seed's 10B
        assert [c["status"] for c in answer["clips"]] == [first, first]


def test_an_uploaded_clip_with_an_expired_upstream_fails_even_for_cover(sim):
    """Uploads never cross accounts, so once theirs expires even cover refuses them."""
    k = key(sim)
    uploaded = upload(sim, k, OUTSIDE_MP3)
    ok(post(sim, "/sunoapi/generate", cover_body(uploaded["id"]), k))  # fine before
    expire(sim, uploaded["id"])
    error_of(post(sim, "/sunoapi/generate", cover_body(uploaded["id"]), k), 400,
             "cross_account_not_supported")


def test_magic_upstream_expired_makes_the_clips_expired(sim):
    """[sim:upstream-expired] in a prompt makes songs whose upstream account is gone:
    the control plane shows it, wav refuses them, cover still takes them."""
    k = key(sim)
    made = songs(sim, k, {**CUSTOM, "prompt": LYRICS + " [sim:upstream-expired]"})
    for clip in made:
        shown = sim.admin("GET", f"/clips/{clip['id']}").json()
        assert shown["upstream_expired"] is True and shown["provider"] == HK
        error_of(get(sim, f"/sunoapi/act/wav/{clip['id']}", k), 400,
                 "cross_account_not_supported")
    ok(post(sim, "/sunoapi/generate", cover_body(made[0]["id"]), k))


def test_control_plane_shows_a_clip_before_and_after_expiry(sim):
    """GET /_sim/clips/{id} reports upstream_expired, false until the account expires."""
    k = key(sim)
    source = song(sim, k)
    assert sim.admin("GET", f"/clips/{source['id']}").json()["upstream_expired"] is False
    expire(sim, source["id"])
    assert sim.admin("GET", f"/clips/{source['id']}").json()["upstream_expired"] is True


# --- rate limit ---------------------------------------------------------------------------


def test_rate_limit_is_429_with_retry_after():
    """A key polling faster than its rate is told to wait, in the gateway's words."""
    limited_sim = start_sim(rate_limits={"openaihk": RateLimit(1.0, 2.0)})
    try:
        k = limited_sim.account(credits=100)
        answers = [get(limited_sim, "/sunoapi/feed/no-such-clip", k) for _ in range(5)]
        assert [a.status_code for a in answers[:2]] == [404, 404]
        limited = [a for a in answers if a.status_code == 429]
        assert limited, [a.status_code for a in answers]
        error_of(limited[0], 429, "rate_limit_exceeded", "rate_limit_error")
        assert int(limited[0].headers["Retry-After"]) >= 1
    finally:
        limited_sim.stop()


# --- property: statuses and credits -------------------------------------------------------


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.floats(0.1, 45.0, allow_nan=False), min_size=1, max_size=10),
       fails=st.booleans())
def test_statuses_only_move_forward_and_the_ledger_balances(sim, steps, fails):
    """Whatever clock steps a poller sees, each clip's status only moves forward (a
    failing one may end in error from any point), and after every step
    credits + held + spent == granted."""
    k = key(sim, credits=3000)
    prompt = LYRICS + (" [sim:fail]" if fails else "")
    ids = ids_of(generate(sim, k, {**CUSTOM, "prompt": prompt}))
    last = [ORDER["submitted"]] * len(ids)
    for step in [*steps, SONG_SECONDS]:
        sim.advance(step)
        now = statuses(sim, k, ids)
        for index, status in enumerate(now):
            if status == "error":
                assert fails, now
                last[index] = len(ORDER)  # terminal: nothing may follow but error
                continue
            assert last[index] < len(ORDER), now  # never back from error
            assert ORDER[status] >= last[index], (now, last)
            last[index] = ORDER[status]
        assert ledger_holds(account(sim, k))
    final = account(sim, k)
    assert final["held"] == 0
    assert final["spent"] == (0 if fails else 1000)
    assert set(statuses(sim, k, ids)) == {"error" if fails else "complete"}
