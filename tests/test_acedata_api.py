"""acedata's answer styles (wait, stream, async, callback), task retrieval, errors in the
provider's shape, credits, and the companion endpoints working on the same songs."""

from __future__ import annotations

import io
import re

import av
import orjson
import pytest
import requests

from acedata_client import (ACE, assert_real_song, call, fast, fetch, mp3_seconds, post, retrieve,
                            songs, wav_samples)
from conftest import DEMO_KEY, Sim, bearer, start_sim
from simulator.config import RateLimit

PROMPT = {"action": "generate", "prompt": "A song for Christmas"}


@pytest.fixture
def ace(sim: Sim) -> Sim:
    fast(sim)
    return sim


def credits(sim: Sim, key: str = DEMO_KEY) -> float:
    return sim.admin("GET", f"/accounts/{key}").json()["credits"]


def error_of(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"] and body["trace_id"]
    return body


# --- answer styles ------------------------------------------------------------------------


def test_async_returns_the_task_id_and_tasks_retrieve_follows_it(sim):
    answer = call(sim, "/suno/audios", {**PROMPT, "async": True})
    assert set(answer) == {"success", "task_id", "trace_id"}
    task = retrieve(sim, answer["task_id"])
    assert task["id"] == answer["task_id"] and task["type"] == "audios"
    assert task["request"] == {**PROMPT, "async": True}
    assert re.fullmatch(r"[0-9a-f]{24}", task["_id"]) and isinstance(task["created_at"], float)
    assert "response" not in task and "finished_at" not in task
    sim.advance(30)
    running = retrieve(sim, answer["task_id"])
    assert "success" not in running["response"]
    assert {s["state"] for s in running["response"]["data"]} <= {"running", "succeeded"}
    sim.advance(120)
    done = retrieve(sim, answer["task_id"])
    assert done["response"]["success"] is True and done["elapsed"] > 0
    assert done["finished_at"] == pytest.approx(done["created_at"] + done["elapsed"], abs=0.01)
    assert [s["state"] for s in done["response"]["data"]] == ["succeeded", "succeeded"]
    for song in done["response"]["data"]:
        assert_real_song(song)


def test_retrieve_batch_leaves_out_unknown_and_foreign_tasks(sim):
    other = sim.account(credits=100)
    mine = call(sim, "/suno/audios", {**PROMPT, "async": True})["task_id"]
    theirs = call(sim, "/suno/audios", {**PROMPT, "async": True}, other)["task_id"]
    batch = call(sim, "/suno/tasks", {"action": "retrieve_batch",
                                      "ids": [mine, theirs, "no-such-task"]})
    assert batch["count"] == 1 and [t["id"] for t in batch["items"]] == [mine]
    error_of(post(sim, "/suno/tasks", {"action": "retrieve", "id": theirs}), 404, "not_found")


def test_waiting_request_returns_the_finished_songs(ace):
    made = songs(ace, PROMPT)
    assert len(made) == 2
    assert made[0]["prompt"] == "A song for Christmas" and made[0]["model"] == "chirp-v4"


def test_ndjson_streams_snapshots_ending_in_the_result(ace):
    response = post(ace, "/suno/audios", PROMPT, headers={"Accept": "application/x-ndjson"},
                    stream=True)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in response.iter_lines() if line]
    assert len(lines) >= 3
    assert [s["state"] for s in lines[0]["data"]] == ["pending", "pending"]
    assert all("trace_id" not in line for line in lines[:-1])
    states = [[s["state"] for s in line["data"]] for line in lines]
    order = {"pending": 0, "running": 1, "succeeded": 2}
    for earlier, later in zip(states, states[1:]):
        assert all(order[a] <= order[b] for a, b in zip(earlier, later)), states
    final = lines[-1]
    assert final["success"] is True and final["trace_id"]
    assert states[-1] == ["succeeded", "succeeded"]
    assert all(line["task_id"] == final["task_id"] for line in lines)


def test_ndjson_stream_ends_with_the_error_of_a_failed_task(ace):
    response = post(ace, "/suno/audios", {**PROMPT, "prompt": "sad song [sim:fail]"},
                    headers={"Accept": "application/x-ndjson"}, stream=True)
    lines = [orjson.loads(line) for line in response.iter_lines() if line]
    assert lines[-1]["success"] is False and lines[-1]["error"]["code"] == "api_error"
    assert lines[-1]["task_id"] == lines[0]["task_id"]


def test_callback_receives_the_final_result(ace, receiver):
    answer = call(ace, "/suno/audios", {**PROMPT, "callback_url": receiver.url})
    assert set(answer) >= {"task_id"} and "data" not in answer
    calls = receiver.wait_for(1)
    assert len(calls) == 1
    assert calls[0]["success"] is True and calls[0]["task_id"] == answer["task_id"]
    assert [s["state"] for s in calls[0]["data"]] == ["succeeded", "succeeded"]


# --- errors in the provider's shape -------------------------------------------------------


def test_token_errors(sim):
    error_of(post(sim, "/suno/audios", PROMPT, key=None), 400, "no_token")
    error_of(post(sim, "/suno/audios", PROMPT, key="wrong"), 401, "invalid_token")
    error_of(post(sim, "/suno/tasks", {"action": "retrieve", "id": "x"}, key="wrong"),
             401, "invalid_token")


@pytest.mark.parametrize("body, message", [
    ({"action": "generate", "prompt": "x", "model": "chirp-v9"}, "model is invalid."),
    ({"action": "generate", "prompt": "x" * 201}, "Prompt too long."),
    ({"action": "generate"}, "prompt is required when generate audio"),
    ({"action": "generate", "custom": True}, "lyric is required when generate custom audio"),
    ({"action": "extend", "continue_at": 3}, "audio_id is required for this action"),
    ({"action": "extend", "audio_id": "a"}, "continue_at is required when extend audio"),
    ({"action": "extend", "audio_id": "a", "continue_at": 0},
     "continue_at must be a number greater than 0"),
    ({"action": "concat"}, "audio_id is required for this action"),
    ({"action": "mashup", "mashup_audio_ids": ["a"]}, None),
    ({"action": "inspo", "audio_urls": []}, None),
    ({"action": "inspo", "audio_urls": ["https://a.example/x.mp3"] * 5}, None),
    ({"action": "generate", "prompt": "x", "weirdness": 1.5}, None),
    ({"action": "cover", "audio_id": "a", "audio_weight": -0.1}, None),
    ({"action": "generate", "prompt": "x", "vocal_gender": "x"}, None),
    ({"action": "remaster", "audio_id": "a", "variation_category": "high"},
     "variation_category only supports chirp-v5 and later"),
    ({"action": "remaster", "audio_id": "a", "model": "chirp-v4-5", "variation_category": "high"},
     "variation_category only supports chirp-v5 and later"),
    ({"action": "replace_section", "audio_id": "a"}, None),
    ({"action": "dance", "prompt": "x"}, None),
    ({"action": "generate", "prompt": "x", "custom": "yes"}, "custom must be a boolean"),
    ([1, 2], None),
])
def test_bad_requests_are_refused_in_the_provider_shape(sim, body, message):
    before = credits(sim)
    answer = error_of(post(sim, "/suno/audios", body), 400, "bad_request")
    if message:
        assert answer["error"]["message"] == message
    assert "success" not in answer  # a platform error, not a task's
    assert credits(sim) == before


def test_invalid_json_is_a_bad_request(sim):
    response = requests.post(f"{sim.base(ACE)}/suno/audios", data=b"{nope", timeout=10,
                             headers={**bearer(), "Content-Type": "application/json"})
    error_of(response, 400, "bad_request")


def test_songs_must_exist_belong_to_the_key_and_windows_fit(ace):
    source = songs(ace, PROMPT)[0]
    other = ace.account(credits=100)
    for body in ({"action": "extend", "audio_id": "nope", "continue_at": 5},
                 {"action": "cover", "audio_id": source["id"]}):
        key = other if body["audio_id"] == source["id"] else DEMO_KEY
        answer = error_of(post(ace, "/suno/audios", body, key), 400, "bad_request")
        assert answer["error"]["message"] == "The song id does not exist or has been taken offline."
    too_far = {"action": "extend", "audio_id": source["id"], "continue_at": source["duration"] + 1}
    assert "duration" in error_of(post(ace, "/suno/audios", too_far), 400,
                                  "bad_request")["error"]["message"]
    backwards = {"action": "replace_section", "audio_id": source["id"],
                 "replace_section_start": 20, "replace_section_end": 10}
    assert "less than" in error_of(post(ace, "/suno/audios", backwards), 400,
                                   "bad_request")["error"]["message"]
    past_end = {"action": "underpainting", "audio_id": source["id"],
                "underpainting_end": source["duration"]}
    error_of(post(ace, "/suno/audios", past_end), 400, "bad_request")
    mashup = {"action": "mashup", "mashup_audio_ids": [source["id"], "missing"]}
    error_of(post(ace, "/suno/audios", mashup), 400, "bad_request")


def test_insufficient_balance_is_used_up_and_charges_nothing(sim):
    poor = sim.account(credits=0.5)
    error_of(post(sim, "/suno/audios", PROMPT, poor), 403, "used_up")
    assert credits(sim, poor) == 0.5


def test_credits_held_then_settled_or_returned(sim):
    start = credits(sim)
    ok = call(sim, "/suno/audios", {**PROMPT, "async": True})
    failing = call(sim, "/suno/audios", {**PROMPT, "prompt": "x [sim:fail]", "async": True})
    assert credits(sim) == pytest.approx(start - 2 * 0.56)
    sim.advance(200)
    assert retrieve(sim, failing["task_id"])["response"]["success"] is False
    assert retrieve(sim, ok["task_id"])["response"]["success"] is True
    assert credits(sim) == pytest.approx(start - 0.56)


def test_failures_answer_with_the_task_and_the_right_code(ace):
    failed = error_of(post(ace, "/suno/audios", {**PROMPT, "prompt": "x [sim:fail]"}),
                      500, "api_error")
    assert failed["success"] is False and failed["task_id"]
    moderated = post(ace, "/suno/audios", {**PROMPT, "prompt": "x [sim:fail:moderation]"})
    error_of(moderated, 403, "forbidden")
    error_of(post(ace, "/suno/audios", {**PROMPT, "prompt": "x [sim:503]"}), 503, "busy")


def test_a_stuck_task_times_out_a_waiting_request(ace):
    answer = error_of(post(ace, "/suno/audios", {**PROMPT, "prompt": "x [sim:stuck]"}),
                      504, "timeout")
    assert retrieve(ace, answer["task_id"])["id"] == answer["task_id"]


def test_rate_limit_is_too_many_requests_with_retry_after():
    sim = start_sim(rate_limits={"acedata": RateLimit(1.0, 2.0)})
    try:
        answers = [post(sim, "/suno/tasks", {"action": "retrieve", "id": "x"}) for _ in range(4)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited, [a.status_code for a in answers]
        error_of(limited[0], 429, "too_many_requests")
        assert int(limited[0].headers["Retry-After"]) >= 0
    finally:
        sim.stop()


def test_unknown_path_is_no_api(sim):
    response = requests.post(f"{sim.base(ACE)}/suno/nothing", json={}, headers=bearer(),
                             timeout=10)
    error_of(response, 404, "no_api")


# --- companion endpoints ------------------------------------------------------------------


def test_lyrics_two_variations_and_retrievable(ace):
    answer = call(ace, "/suno/lyrics", {"prompt": "A song about winter"})
    assert len(answer["data"]) == 2
    for variant in answer["data"]:
        assert variant["status"] == "complete" and "[Chorus]" in variant["text"]
        assert variant["title"] and variant["tags"]
    task = retrieve(ace, answer["task_id"])
    assert task["type"] == "lyrics" and task["response"]["data"] == answer["data"]


def test_mashup_lyrics_and_style(ace):
    mashed = call(ace, "/suno/mashup-lyrics", {"lyrics_a": "[Verse]\nHello world",
                                               "lyrics_b": "[Chorus]\nGoodbye moon"})["data"]
    assert mashed["text"] == "[Verse]\nHello world\n\n[Chorus]\nGoodbye moon"
    assert mashed["status"] == "complete" and mashed["title"] == "Lyrics Mashup"
    style = call(ace, "/suno/style", {"prompt": "dreamy lo-fi piano"})["data"]
    assert style["upsampled_tags"].startswith("dreamy lo-fi piano")


def test_persona_create_list_delete_and_use(ace):
    source = songs(ace, {**PROMPT, "style": "jazz"})[0]
    pid = call(ace, "/suno/persona", {"name": "Smoky", "audio_id": source["id"]})["data"]["persona_id"]
    listed = requests.get(f"{ace.base(ACE)}/suno/persona", params={"user_id": "u1"},
                          headers=bearer(), timeout=10).json()
    assert listed["count"] == 1 and listed["items"][0]["persona_id"] == pid
    assert listed["items"][0]["source_audio_id"] == source["id"]
    made = songs(ace, {"action": "artist_consistency", "persona_id": pid, "prompt": "more"})
    assert all(song["style"] == source["style"] for song in made)
    other = ace.account(credits=10)
    error_of(post(ace, "/suno/audios", {"action": "artist_consistency", "persona_id": pid},
                  other), 400, "bad_request")
    deleted = requests.delete(f"{ace.base(ACE)}/suno/persona", params={"persona_id": pid},
                              headers=bearer(), timeout=10)
    assert deleted.json() == {"success": True}
    error_of(post(ace, "/suno/audios", {"action": "artist_consistency", "persona_id": pid}),
             400, "bad_request")


def test_a_query_longer_than_a_default_request_line_is_refused_in_the_dialects_shape(sim):
    """9 KiB of query is past what an HTTP server reads by default (8 KiB); it still
    reaches the dialect, which refuses it in its own words."""
    long_id = "ü" * 3000  # 6000 bytes, 18 KiB once percent-encoded
    answer = requests.get(f"{sim.base(ACE)}/suno/persona", params={"user_id": long_id},
                          headers=bearer(), timeout=10)
    assert "user_id" in error_of(answer, 400, "bad_request")["error"]["message"]


def test_vox_extracts_a_short_window_of_vocals(ace):
    source = songs(ace, PROMPT)[0]
    vox = call(ace, "/suno/vox", {"audio_id": source["id"], "vocal_start": 5, "vocal_end": 20})
    data = vox["data"]
    assert data["source_clip_id"] == source["id"] and data["status"] == "complete"
    assert (data["vocal_start_s"], data["vocal_end_s"]) == (5, 20)
    assert abs(mp3_seconds(data["vocal_audio_url"]) - 15) < 0.1
    too_long = {"audio_id": source["id"], "vocal_start": 0, "vocal_end": 30}
    assert "30 seconds" in error_of(post(ace, "/suno/vox", too_long), 400,
                                    "bad_request")["error"]["message"]


def test_voices_make_a_voice_persona(ace):
    source = songs(ace, PROMPT)[0]
    voice = call(ace, "/suno/voices", {"audio_url": source["audio_url"], "name": "Me"})["data"]
    assert voice["name"] == "Me" and voice["is_public"] is False
    listed = requests.get(f"{ace.base(ACE)}/suno/persona", params={"user_id": "u"},
                          headers=bearer(), timeout=10).json()
    assert listed["items"][0]["source_type"] == "voice"
    assert listed["items"][0]["persona_id"] == voice["persona_id"]


def test_upload_standard_and_enhanced(ace):
    outside = call(ace, "/suno/upload", {"audio_url": "https://files.example/my-song.mp3"})
    data = outside["data"]
    assert data["duration"] == 60.0 and data["title"].startswith("up-")
    assert_real_song(data)
    deferred = call(ace, "/suno/upload", {"audio_url": "https://files.example/b.mp3",
                                          "mode": "enhanced", "name": "Mine"})
    assert set(deferred) == {"success", "task_id", "trace_id"}
    error_of(post(ace, "/suno/upload", {"audio_url": "https://x.example/a.mp3",
                                        "mode": "enhanced"}), 400, "bad_request")
    other = ace.account(credits=10)
    error_of(post(ace, "/suno/audios", {"action": "upload_cover", "audio_id": data["audio_id"]},
                  other), 400, "bad_request")


def test_files_wav_mp3_mp4_of_a_song(ace):
    source = songs(ace, PROMPT)[0]
    wav = call(ace, "/suno/wav", {"audio_id": source["id"]})["data"][0]["file_url"]
    samples, rate = wav_samples(wav)
    assert abs(len(samples) / rate - source["duration"]) < 0.05
    mp3 = call(ace, "/suno/mp3", {"audio_id": source["id"]})["data"][0]["file_url"]
    assert abs(mp3_seconds(mp3) - source["duration"]) < 0.1
    video = call(ace, "/suno/mp4", {"audio_id": source["id"]})["data"]["video_url"]
    with av.open(io.BytesIO(fetch(video, "video/mp4"))) as container:
        kinds = {stream.type for stream in container.streams}
        assert {"audio", "video"} <= kinds
        assert abs(container.duration / 1e6 - source["duration"]) < 0.5
    deferred = call(ace, "/suno/wav", {"audio_id": source["id"], "async": True})
    assert retrieve(ace, deferred["task_id"])["type"] == "wav"


def test_midi_and_timing_agree_with_the_song(ace):
    source = songs(ace, {"action": "generate", "custom": True, "style": "pop",
                         "lyric": "[Verse]\nSnow falls on the quiet town\n"
                                  "[Chorus]\nSing it loud tonight"})[0]
    midi = call(ace, "/suno/midi", {"audio_id": source["id"]})["data"][0]
    assert midi["state"] == "complete" and midi["instruments"]
    for instrument in midi["instruments"]:
        for note in instrument["notes"]:
            assert 0 <= note["start"] < note["end"] <= source["duration"] + 0.01
    timing = call(ace, "/suno/timing", {"audio_id": source["id"]})["data"]
    words = timing["aligned_words"]
    text = " ".join(w["word"] for w in words)
    for expected in ("Snow", "quiet", "town", "Sing", "tonight"):
        assert expected in text
    starts = [w["start_s"] for w in words]
    assert starts == sorted(starts)
    assert all(0 <= w["start_s"] < w["end_s"] <= source["duration"] for w in words)
    assert timing["waveform_data"] and max(timing["waveform_data"]) > 0
