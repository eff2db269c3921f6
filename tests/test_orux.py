"""orux over HTTP (seed 000): the seed's own curl examples, every Suno v5 action chained
onto one song and what each makes, the ElevenLabs and Runway models, how a task's status
moves (failure, expiry), the provider's error shape, and signed webhooks with their
retries.

Every test drives a real simulator on a manual clock, so simulated time only passes when
a test advances it. Media is checked by decoding it here (mutagen, PyAV, wave), and every
poll answer is validated against specs/orux.yaml. Prices are read from
fixtures/prices.toml.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import tomllib
from typing import Any

import numpy as np
import pytest
import requests

from conftest import Sim, bearer, conforms, start_sim
from orux_client import (RICH, ROOT, SETTLE, TASK_SCHEMA, SignedReceiver, account,
                         assert_sounding_mp3, error_of, fetch, get, get_raw, jpeg, mp4,
                         mp4_seconds, post, settle, speak, submit, verify_signature, walk,
                         wav_of_mp3_link, wav_samples)
from simulator.config import RateLimit

PRICES = tomllib.loads((ROOT / "fixtures" / "prices.toml").read_text())["orux"]
OFF = RateLimit(0.0, 1.0)
LYRICS = ("[Verse]\nSoft rain on neon glass\nThe city hums a lullaby\n\n"
          "[Chorus]\nHold me in the midnight glow\nNever let the morning go")
SUNG = ["Soft rain on neon glass", "The city hums a lullaby", "Hold me in the midnight glow",
        "Never let the morning go"]
SONG = {"model": "suno-v5", "prompt": "dreamy synth pop", "lyrics": LYRICS, "duration": 60}
TTS = {"model": "elevenlabs-v3", "text": "Welcome to Orux AI. One key, every model.",
       "voice_id": "EXAVITQu4vr4xnSDxMaL"}
# A quick task that is polled (speech is answered finished), for tests of status and webhooks.
MUSIC = {"model": "elevenlabs-music", "prompt": "a game jingle", "duration": 10}
ACT_TWO = {"model": "runway-act-two", "character_video_url": "https://files.example/actor.mp4",
           "driver_video_url": "https://files.example/dance.mp4"}
BACKOFF = (10.0, 60.0, 300.0, 1800.0)  # the spec's retry schedule, simulated seconds


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    """This module's simulator, on a port chosen at bind time: a webhook's media links must
    still read the same as a poll's."""
    sim = start_sim(allow_local_callbacks=True, rate_limits={"orux": OFF})
    yield sim
    sim.stop()


@pytest.fixture
def sim(server: Sim) -> Sim:
    assert server.admin("POST", "/reset").status_code == 200
    assert server.admin("PUT", "/clock", json={"mode": "manual"}).status_code == 200
    return server


@pytest.fixture
def key(sim: Sim) -> str:
    return sim.account(RICH)


@pytest.fixture(scope="module")
def strict():
    """A simulator as deployed by default: local webhooks refused, and a tight rate
    limit of one request a second with a burst of two."""
    sim = start_sim(rate_limits={"orux": RateLimit(1.0, 2.0)})
    yield sim
    sim.stop()


def secret_of(sim: Sim, api_key: str) -> str:
    secret = account(sim, api_key)["webhook_secret"]
    assert isinstance(secret, str) and len(secret) >= 16
    return secret


@pytest.fixture
def hook(sim: Sim, key: str):
    receiver = SignedReceiver(secret_of(sim, key))
    yield receiver
    receiver.close()


def lrc_lines(text: str) -> list[tuple[float, str]]:
    lines = text.splitlines()
    assert lines, text
    parsed = []
    for line in lines:
        match = re.fullmatch(r"\[(\d\d):(\d\d)\.(\d\d)\](.+)", line)
        assert match, line
        minutes, seconds, centis, words = match.groups()
        parsed.append((int(minutes) * 60 + int(seconds) + int(centis) / 100, words))
    return parsed


def sung_lines(lyrics: str) -> list[str]:
    """The lines of lyrics that are sung: not section tags, not blank."""
    return [line.strip() for line in lyrics.splitlines()
            if line.strip() and not re.fullmatch(r"\[[^\]]*\]", line.strip())]


# --- 1. the seed's examples, as printed -----------------------------------------------------

SEED_SONG = '''{
"model": "suno-v5",
"prompt": "Lo-fi hip hop beat with rainy night ambience",
"lyrics": "Soft rain on neon glass, the city hums...",
"duration": 60
}'''
SEED_EXTEND = '''{
"model":"suno-v5",
"action":"extend",
"parent_task_id":"suno_01HZY...",
"duration": 30,
"prompt":"keep the dreamy synth lead, add subtle drums"
}'''
SEED_TTS = '''{
"model":"elevenlabs-v3",
"text":"Welcome to Orux AI. One key, every model.",
"voice_id":"EXAVITQu4vr4xnSDxMaL",
"stability": 0.5,
"style": 0.3,
"use_speaker_boost": true
}'''
CURL_FORM = "application/x-www-form-urlencoded"  # what curl -d sends without -H


def curl(sim: Sim, api_key: str, data: str, content_type: str,
         status: str = "QUEUED") -> dict[str, Any]:
    """The submit's answer to a body sent as the seed's curl examples send it."""
    response = requests.post(sim.base("orux") + "/api/v1/tasks", data=data.encode(),
                             headers={**bearer(api_key), "Content-Type": content_type},
                             timeout=30)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == status and answer["task_id"].startswith("task_"), answer
    return answer


def test_seed_examples_as_printed_succeed_with_real_media(sim, key):
    """Submit a song (JSON), extend it by 30 s and read text aloud (both JSON sent with
    curl's default form type): each ends SUCCESS with audio of the right length; the
    speech ("Synchronous TTS") at once, in the submit's own answer."""
    song_id = curl(sim, key, SEED_SONG, "application/json")["task_id"]
    song = settle(sim, song_id, key)
    clips = song["result"]["clips"]
    assert len(clips) == 2 and song["result"]["audio_urls"] == [c["audio_url"] for c in clips]
    for clip in clips:
        assert clip["duration"] == 60
        assert clip["lyrics"] == "Soft rain on neon glass, the city hums..."
        assert_sounding_mp3(clip["audio_url"], 60.0)
        jpeg(clip["image_url"])

    extend_id = curl(sim, key, SEED_EXTEND.replace("suno_01HZY...", song_id),
                     CURL_FORM)["task_id"]
    extended = settle(sim, extend_id, key)
    assert (extended["action"], extended["parent_task_id"]) == ("extend", song_id)
    for clip in extended["result"]["clips"]:
        assert clip["duration"] == pytest.approx(60 + 30, abs=0.01)
        assert_sounding_mp3(clip["audio_url"], 90.0)

    speech = curl(sim, key, SEED_TTS, CURL_FORM, status="SUCCESS")
    assert get(sim, speech["task_id"], key) == speech
    result = speech["result"]
    assert result["voice_id"] == "EXAVITQu4vr4xnSDxMaL" and result["duration"] > 1.0
    assert_sounding_mp3(result["audio_urls"][0], result["duration"])
    assert speech["result_urls"] == result["audio_urls"]


# --- 2. Suno v5: every action, chained onto one song ----------------------------------------

WAVE_ONE = {  # name → body; parent_task_id (the original song) is added
    "extend": {"action": "extend", "duration": 30},
    "suno-extend": {"model": "suno-extend", "duration": 30},
    "cover": {"action": "cover", "prompt": "acoustic folk"},
    "lyrics": {"action": "lyrics"},
    "instrumental": {"action": "instrumental"},
    "stem": {"action": "stem"},
    "mv": {"action": "mv"},
    "wav": {"action": "wav"},
    "cover-img": {"action": "cover-img"},
    "replace": {"action": "replace", "replace_start": 20, "replace_end": 40},
    "persona": {"action": "persona", "prompt": "jazz ballad"},
}


@pytest.fixture(scope="module")
def chain():
    """One song, then every action on it (add-vocals onto its instrumental, mashup of it
    with its cover), and an upload-extend of its audio: all SUCCESS."""
    sim = start_sim(rate_limits={"orux": OFF})
    api_key = sim.account(RICH)
    root = submit(sim, SONG, api_key)
    settle(sim, root, api_key)
    ids = {"generate": root}
    for name, extra in WAVE_ONE.items():
        ids[name] = submit(sim, {"model": "suno-v5", "prompt": "dreamy synth pop",
                                 "parent_task_id": root, **extra}, api_key)
    source = get(sim, root, api_key)["result"]["clips"][0]
    ids["upload-extend"] = submit(sim, {"model": "suno-v5", "action": "upload-extend",
                                        "prompt": "more of it", "audio_url": source["audio_url"],
                                        "duration": 30}, api_key)
    sim.advance(SETTLE)
    ids["add-vocals"] = submit(sim, {"model": "suno-v5", "action": "add-vocals",
                                     "prompt": "soulful vocals", "lyrics": LYRICS,
                                     "parent_task_id": ids["instrumental"]}, api_key)
    ids["mashup"] = submit(sim, {"model": "suno-v5", "action": "mashup", "prompt": "blend",
                                 "parent_task_id": root, "mashup_task_id": ids["cover"]},
                           api_key)
    sim.advance(SETTLE)
    tasks = {name: get(sim, task_id, api_key) for name, task_id in ids.items()}
    yield sim, api_key, tasks
    sim.stop()


def test_every_suno_action_succeeds_under_the_original_song(chain):
    sim, api_key, tasks = chain
    assert set(tasks) == {"generate", "upload-extend", "add-vocals", "mashup", *WAVE_ONE}
    root = tasks["generate"]["task_id"]
    for name, task in tasks.items():
        assert task["status"] == "SUCCESS", (name, task)
        assert task["model"] == "suno-v5" and task["channel"] == "suno", task
        assert task["action"] == ("extend" if name == "suno-extend" else name), task
        assert task["result"] is not None and task["finish_time"], task
        assert task["result_urls"] == _links(task["result"]), task
    assert tasks["generate"]["root_task_id"] is None
    assert tasks["generate"]["parent_task_id"] is None
    for name, task in tasks.items():
        if name in ("generate", "upload-extend"):
            continue
        assert task["root_task_id"] == root, (name, task)
    assert tasks["add-vocals"]["parent_task_id"] == tasks["instrumental"]["task_id"]
    assert tasks["mashup"]["parent_task_id"] == root
    assert tasks["suno-extend"]["alias"] == "suno-extend"


def _links(result: dict[str, Any]) -> list[str]:
    links = list(result.get("audio_urls", ()))
    return links + [result[k] for k in ("video_url", "image_url") if result.get(k)]


def test_chain_credits_are_the_sum_of_the_chain_prices(chain):
    sim, api_key, tasks = chain
    root = tasks["generate"]
    chained = [n for n in tasks if n != "upload-extend"]
    price = {n: PRICES["extend" if n == "suno-extend" else n] for n in tasks}
    for name in tasks:
        assert tasks[name]["credits"] == price[name], name
    expected = sum(price[n] for n in chained)
    assert get(sim, root["task_id"], api_key)["chain_credits"] == expected
    assert get(sim, tasks["stem"]["task_id"], api_key)["chain_credits"] == expected
    # upload-extend starts from the caller's audio, so it is a chain of its own.
    assert tasks["upload-extend"]["root_task_id"] is None
    assert tasks["upload-extend"]["chain_credits"] == PRICES["upload-extend"]
    balances = account(sim, api_key)
    assert balances["held"] == 0
    assert balances["spent"] == expected + PRICES["upload-extend"]
    assert balances["credits"] == RICH - balances["spent"]


@pytest.mark.parametrize("name, seconds", [
    ("generate", 60.0), ("extend", 90.0), ("suno-extend", 90.0), ("cover", None),
    ("replace", 60.0), ("persona", 60.0), ("mashup", None), ("instrumental", 60.0),
    ("add-vocals", 60.0), ("upload-extend", 90.0)])
def test_song_actions_make_sounding_songs_of_their_length(chain, name, seconds):
    """Each song the action made is an MP3 of its stated duration (the song's 60 s, or
    60 + 30 for an extension) that is not silence, with a JPEG cover."""
    _, _, tasks = chain
    result = tasks[name]["result"]
    clips = result["clips"]
    assert len(clips) == (1 if name in ("instrumental", "add-vocals") else 2)
    assert result["audio_urls"] == [c["audio_url"] for c in clips]
    for clip in clips:
        if seconds is not None:
            assert clip["duration"] == pytest.approx(seconds, abs=0.01), clip
        assert_sounding_mp3(clip["audio_url"], clip["duration"])
    jpeg(clips[0]["image_url"])
    jpeg(result["image_url"])


def test_cover_sings_the_same_lyrics_and_instrumental_has_none(chain):
    _, _, tasks = chain
    assert sung_lines(tasks["cover"]["result"]["lyrics"]) == SUNG
    assert tasks["cover"]["result"]["clips"][0]["tags"] == "acoustic folk"
    assert tasks["instrumental"]["result"]["lyrics"] == ""
    assert sung_lines(tasks["add-vocals"]["result"]["lyrics"]) == SUNG


def test_lyrics_are_lrc_lines_of_the_song_in_time_order(chain):
    _, _, tasks = chain
    result = tasks["lyrics"]["result"]
    assert result["format"] == "lrc"
    lines = lrc_lines(result["lyrics"])
    assert [words for _, words in lines] == SUNG
    times = [at for at, _ in lines]
    assert times == sorted(times) and len(set(times)) == len(times), times
    assert 0 < times[0] and times[-1] < tasks["generate"]["result"]["clips"][0]["duration"]
    assert tasks["lyrics"]["result_urls"] == []


def test_lyrics_of_an_extension_are_timed_in_the_extension(sim, key):
    """Words added by an extend are sung after the point the song was extended from."""
    parent = submit(sim, {**SONG, "duration": 40}, key)
    settle(sim, parent, key)
    added = "[Verse]\nBrand new morning rising\nCarry me across the water"
    extension = submit(sim, {"model": "suno-v5", "action": "extend", "prompt": "x",
                             "parent_task_id": parent, "duration": 30, "lyrics": added}, key)
    song = settle(sim, extension, key)["result"]["clips"][0]
    assert song["duration"] == pytest.approx(70, abs=0.01)
    words = settle(sim, submit(sim, {"model": "suno-v5", "action": "lyrics", "prompt": "x",
                                     "parent_task_id": extension}, key), key)
    lines = lrc_lines(words["result"]["lyrics"])
    new = [(at, text) for at, text in lines if text in sung_lines(added)]
    assert [text for _, text in new] == sung_lines(added), lines
    assert all(40 <= at < 70 for at, _ in new), lines


def test_stems_sum_to_the_song(chain):
    """One stem per instrument, vocals among them; their WAVs add up to the song's WAV
    (the wav action's file) to within a small error."""
    _, _, tasks = chain
    stems = tasks["stem"]["result"]["stems"]
    names = [s["name"] for s in stems]
    assert len(stems) >= 3 and len(set(names)) == len(names) and "vocals" in names, names
    assert all(isinstance(n, str) and n for n in names)
    mix, rate = wav_samples(tasks["wav"]["result"]["audio_urls"][0])
    total = np.zeros_like(mix)
    for stem in stems:
        samples, stem_rate = wav_samples(wav_of_mp3_link(stem["audio_url"]))
        assert stem_rate == rate and len(samples) == len(mix), stem
        total += samples
    assert np.abs(mix).max() > 0.05
    assert np.abs(total - mix).max() < 5e-3
    # and the instrumental action's song is the song without its voices: the sum of the
    # stems that are not vocals
    backing = wav_samples(wav_of_mp3_link(tasks["instrumental"]["result"]["audio_urls"][0]))[0]
    band = sum(wav_samples(wav_of_mp3_link(s["audio_url"]))[0] for s in stems
               if s["name"] not in ("vocals", "backing_vocals"))
    assert np.abs(backing - band).max() < 5e-3
    assert np.abs(backing - mix).max() > 0.05, "the vocals are gone"


def test_wav_is_the_song_as_riff_wav(chain):
    _, _, tasks = chain
    result = tasks["wav"]["result"]
    assert result["format"] == "wav" and len(result["audio_urls"]) == 1
    link = result["audio_urls"][0]
    assert fetch(link, "audio/wav")[:4] == b"RIFF"
    samples, rate = wav_samples(link)
    song = tasks["generate"]["result"]["clips"][0]
    assert len(samples) / rate == pytest.approx(song["duration"], abs=0.05)
    assert np.abs(samples).max() > 0.05


def test_mv_is_an_mp4_and_cover_img_a_new_jpeg(chain):
    _, _, tasks = chain
    video = mp4(tasks["mv"]["result"]["video_url"])
    song = tasks["generate"]["result"]["clips"][0]
    assert mp4_seconds(video) == pytest.approx(song["duration"], abs=0.2)
    assert tasks["mv"]["result_urls"] == [tasks["mv"]["result"]["video_url"]]
    image = jpeg(tasks["cover-img"]["result"]["image_url"])
    assert image != jpeg(tasks["generate"]["result"]["image_url"]), "a new cover"
    assert tasks["cover-img"]["result_urls"] == [tasks["cover-img"]["result"]["image_url"]]


def test_add_vocals_needs_an_instrumental_parent(chain):
    sim, api_key, tasks = chain
    before = account(sim, api_key)
    refused = post(sim, {"model": "suno-v5", "action": "add-vocals", "prompt": "vocals",
                         "parent_task_id": tasks["generate"]["task_id"]}, api_key)
    error = error_of(refused, 400, "invalid_request_error", "invalid_request")
    assert error["param"] == "parent_task_id" and "instrumental" in error["message"]
    assert account(sim, api_key) == before


def test_mashup_needs_a_second_song(chain):
    sim, api_key, tasks = chain
    before = account(sim, api_key)
    body = {"model": "suno-v5", "action": "mashup", "prompt": "blend",
            "parent_task_id": tasks["generate"]["task_id"]}
    error = error_of(post(sim, body, api_key), 400, "invalid_request_error", "invalid_request")
    assert error["param"] == "mashup_task_id"
    refused = post(sim, {**body, "mashup_task_id": tasks["lyrics"]["task_id"]}, api_key)
    assert error_of(refused, 400, "invalid_request_error",
                    "invalid_request")["param"] == "mashup_task_id"
    assert account(sim, api_key) == before
    assert tasks["mashup"]["result"]["clips"][0]["title"].count(" x ") == 1


def test_suno_extend_model_id_and_a_contradicting_action(chain):
    sim, api_key, tasks = chain
    by_alias, by_action = tasks["suno-extend"], tasks["extend"]
    assert by_alias["model"] == by_action["model"] == "suno-v5"
    assert by_alias["action"] == by_action["action"] == "extend"
    assert by_alias["parent_task_id"] == by_action["parent_task_id"]
    assert [c["duration"] for c in by_alias["result"]["clips"]] == \
        [c["duration"] for c in by_action["result"]["clips"]]
    before = account(sim, api_key)
    for action in ("cover", "generate"):
        refused = post(sim, {"model": "suno-extend", "action": action, "prompt": "x",
                             "duration": 30, "parent_task_id": tasks["generate"]["task_id"]},
                       api_key)
        error = error_of(refused, 400, "invalid_request_error", "invalid_request")
        assert error["param"] == "action", error
    ok = post(sim, {"model": "suno-extend", "action": "extend", "prompt": "x", "duration": 30,
                    "parent_task_id": tasks["generate"]["task_id"]}, api_key)
    assert ok.status_code == 200, ok.text
    assert account(sim, api_key)["held"] == before["held"] + PRICES["extend"]


def test_a_key_allowed_suno_v5_may_use_its_dedicated_ids(sim):
    limited = sim.account(RICH, models=["suno-v5"])
    parent = submit(sim, {**SONG, "duration": 30}, limited)
    settle(sim, parent, limited)
    refused = post(sim, TTS, limited)
    error = error_of(refused, 403, "auth_error", "model_not_allowed")
    assert error["param"] == "model"
    body = {"prompt": "x", "parent_task_id": parent, "duration": 30}
    assert post(sim, {"model": "suno-v5", "action": "extend", **body}, limited).status_code == 200
    alias = post(sim, {"model": "suno-extend", **body}, limited)
    assert alias.status_code == 200, alias.text


def test_upload_extend_takes_audio_not_a_parent(chain):
    sim, api_key, tasks = chain
    refused = post(sim, {"model": "suno-v5", "action": "upload-extend", "prompt": "x",
                         "audio_url": "https://files.example/mine.mp3",
                         "parent_task_id": tasks["generate"]["task_id"]}, api_key)
    assert error_of(refused, 400, "invalid_request_error",
                    "invalid_request")["param"] == "parent_task_id"
    missing = post(sim, {"model": "suno-v5", "action": "upload-extend", "prompt": "x"}, api_key)
    assert error_of(missing, 400, "invalid_request_error",
                    "invalid_request")["param"] == "audio_url"


def test_chaining_onto_an_unfinished_or_unknown_parent(sim, key):
    running = submit(sim, SONG, key)
    body = {"model": "suno-v5", "action": "extend", "prompt": "x", "parent_task_id": running}
    error = error_of(post(sim, body, key), 409, "invalid_request_error", "parent_not_ready")
    assert error["param"] == "parent_task_id"
    unknown = {**body, "parent_task_id": "task_01HZZZZZZZZZZZZZZZZZZZZZZZ"}
    error_of(post(sim, unknown, key), 404, "invalid_request_error", "task_not_found")
    other = sim.account(RICH)
    settle(sim, running, key)
    error_of(post(sim, body, other), 404, "invalid_request_error", "task_not_found")
    assert post(sim, body, key).status_code == 200


# --- 3. ElevenLabs and Runway; Suno's own limits ------------------------------------------


def test_tts_defaults_are_applied_and_echoed(sim, key):
    task = speak(sim, TTS, key)
    assert (task["model"], task["alias"], task["channel"]) == (
        "elevenlabs-v3", "elevenlabs-v3", "elevenlabs")
    assert task["upstream_model"] == "eleven_v3" and task["action"] is None
    assert task["chain_credits"] is None and task["credits"] == PRICES["elevenlabs-v3"]
    result = task["result"]
    assert result["settings"] == {"model_id": "eleven_v3", "stability": 0.5, "style": 0.3,
                                  "use_speaker_boost": True}
    assert result["voice_id"] == TTS["voice_id"]
    assert_sounding_mp3(result["audio_urls"][0], result["duration"])


def test_tts_settings_given_are_echoed(sim, key):
    body = {**TTS, "model_id": "eleven_multilingual_v2", "stability": 0.9, "style": 0.0,
            "use_speaker_boost": False}
    task = speak(sim, body, key)
    assert task["result"]["settings"] == {"model_id": "eleven_multilingual_v2",
                                          "stability": 0.9, "style": 0.0,
                                          "use_speaker_boost": False}
    assert task["upstream_model"] == "eleven_multilingual_v2"


def test_tts_is_synchronous_the_submit_answers_the_finished_task(sim, key, hook):
    """The seed: "Synchronous TTS via ElevenLabs v3". The submit's answer is the task
    finished (SUCCESS, the audio, everything GET then shows), its credits spent and its
    webhook sent once, with no simulated time passing; GET reads the same afterwards."""
    before = sim.admin("GET", "/clock").json()["now"]
    answer = speak(sim, {**TTS, "webhook_url": hook.url}, key)
    assert sim.admin("GET", "/clock").json()["now"] == before
    assert answer["finish_time"] == answer["submit_time"] and answer["duration_sec"] == 0
    assert answer["result_urls"] == answer["result"]["audio_urls"]
    assert_sounding_mp3(answer["result"]["audio_urls"][0], answer["result"]["duration"])
    balances = account(sim, key)
    assert (balances["credits"], balances["held"], balances["spent"]) == (
        RICH - PRICES["elevenlabs-v3"], 0, PRICES["elevenlabs-v3"])
    ledger = sim.admin("GET", f"/ledger?api_key={key}").json()["entries"]
    assert [(e["kind"], e["task_id"]) for e in ledger] == [
        ("grant", None), ("hold", answer["task_id"]), ("settle", answer["task_id"])]
    (delivery,) = hook.wait_for(1)
    assert delivery.valid and delivery.headers["X-Orux-Event"] == "SUCCESS"
    assert json.loads(delivery.raw) == answer
    assert get(sim, answer["task_id"], key) == answer
    sim.advance(3600)
    hook.quiet(1)
    assert get(sim, answer["task_id"], key) == answer


def test_tts_steered_to_fail_is_answered_failed_with_its_credits_back(sim, key, hook):
    """A failure steered into speech ([sim:fail]) is the synchronous answer too: FAILED
    with the reason, nothing spent, the FAILED webhook sent once."""
    answer = speak(sim, {**TTS, "text": "[sim:fail] Welcome", "webhook_url": hook.url}, key,
                   status="FAILED")
    assert answer["error_code"] == "generation_failed" and answer["error_message"]
    assert answer["result"] is None and answer["result_urls"] == []
    balances = account(sim, key)
    assert (balances["credits"], balances["held"], balances["spent"]) == (RICH, 0, 0)
    (delivery,) = hook.wait_for(1)
    assert delivery.headers["X-Orux-Event"] == "FAILED" and json.loads(delivery.raw) == answer
    hook.quiet(1)


def test_tts_steered_never_to_finish_is_answered_queued_and_polled(sim, key):
    """[sim:stuck] has no finished answer to give: the submit answers QUEUED (the Task
    shape, no result), and the task then runs, unfinished, as any stuck job does."""
    response = post(sim, {**TTS, "text": "[sim:stuck] Welcome"}, key)
    assert response.status_code == 200, response.text
    answer = response.json()
    conforms(TASK_SCHEMA, answer)
    assert answer["status"] == "QUEUED" and answer["result"] is None, answer
    assert account(sim, key)["held"] == PRICES["elevenlabs-v3"]
    sim.advance(600)
    assert get(sim, answer["task_id"], key)["status"] == "RUNNING"


@pytest.mark.parametrize("body, param", [
    ({**TTS, "stability": 1.01}, "stability"), ({**TTS, "stability": -0.1}, "stability"),
    ({**TTS, "style": 1.5}, "style"), ({**TTS, "style": -0.01}, "style"),
    ({**TTS, "stability": "high"}, "stability"),
    ({"model": "elevenlabs-v3", "voice_id": "v"}, "text"),
    ({"model": "elevenlabs-v3", "text": "hello"}, "voice_id"),
    ({"model": "elevenlabs-music", "prompt": "jingle", "duration": 9}, "duration"),
    ({"model": "elevenlabs-music", "prompt": "jingle", "duration": 121}, "duration"),
    ({"model": "elevenlabs-music", "prompt": "jingle", "duration": 30.5}, "duration"),
    ({"model": "elevenlabs-music", "prompt": "jingle", "duration": "30"}, "duration"),
    ({"model": "runway-act-two", "character_video_url": "https://files.example/a.mp4"},
     "driver_video_url"),
    ({"model": "runway-act-two", "driver_video_url": "https://files.example/b.mp4"},
     "character_video_url"),
    ({"model": "suno-v5", "prompt": "x", "duration": 29}, "duration"),
    ({"model": "suno-v5", "prompt": "x", "duration": 241}, "duration"),
    ({"model": "suno-v5", "lyrics": "la la", "duration": 60}, "prompt"),
])
def test_bad_bodies_are_400_naming_the_field(sim, key, body, param):
    error = error_of(post(sim, body, key), 400, "invalid_request_error", "invalid_request")
    assert error["param"] == param and error["channel"] is None, error
    balances = account(sim, key)
    assert balances["credits"] == RICH and balances["held"] == 0


@pytest.mark.parametrize("body", [
    {"model": "suno-v5", "prompt": "x", "duration": 30},
    {"model": "suno-v5", "prompt": "x", "duration": 240},
    {"model": "elevenlabs-music", "prompt": "x", "duration": 10},
    {"model": "elevenlabs-music", "prompt": "x", "duration": 120},
    {**TTS, "stability": 0, "style": 1},
])
def test_bounds_are_accepted(sim, key, body):
    submit(sim, body, key)


def test_elevenlabs_music_defaults_to_a_30_second_instrumental(sim, key):
    task = settle(sim, submit(sim, {"model": "elevenlabs-music", "prompt": "arcade jingle"}, key),
                  key, seconds=60)
    assert (task["channel"], task["upstream_model"]) == ("elevenlabs", "music_v1")
    assert task["credits"] == PRICES["elevenlabs-music"]
    assert task["result"]["duration"] == 30
    assert_sounding_mp3(task["result"]["audio_urls"][0], 30.0)
    jpeg(task["result"]["image_url"])
    short = settle(sim, submit(sim, {"model": "elevenlabs-music", "prompt": "sting",
                                     "duration": 12}, key), key, seconds=60)
    assert_sounding_mp3(short["result"]["audio_urls"][0], 12.0)


def test_runway_act_two_makes_an_mp4(sim, key):
    task = settle(sim, submit(sim, ACT_TWO, key), key)
    assert (task["channel"], task["upstream_model"], task["model"]) == (
        "runway", "act_two", "runway-act-two")
    assert task["credits"] == PRICES["runway-act-two"]
    video = mp4(task["result"]["video_url"])
    assert mp4_seconds(video) > 1
    assert task["result_urls"] == [task["result"]["video_url"]]


def test_a_magic_value_in_a_url_steers_an_act_two_task(sim, key):
    body = {**ACT_TWO, "driver_video_url": "https://example.com/dance[sim:fail].mp4"}
    task = settle(sim, submit(sim, body, key), key, status="FAILED")
    assert task["status"] == "FAILED" and task["error_code"] == "generation_failed"
    assert task["result"] is None and task["result_urls"] == []


# --- 4. statuses ---------------------------------------------------------------------------


def _forward(seen: list[str], path: list[str]) -> None:
    """Statuses only move forward along ``path`` (each seen, none skipped back)."""
    order = [path.index(s) for s in seen]
    assert order == sorted(order), seen
    assert [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s] == path, seen


@pytest.mark.parametrize("body", [SONG, MUSIC, ACT_TWO], ids=["suno", "music", "act-two"])
def test_status_moves_forward_queued_running_success(sim, key, body):
    task_id = submit(sim, body, key)
    task, seen = walk(sim, task_id, key, step=1.0)
    _forward(seen, ["QUEUED", "RUNNING", "SUCCESS"])
    assert task["finish_time"] > task["submit_time"] and task["duration_sec"] >= 0
    assert task["expires_at"] is not None and task["result"] is not None
    sim.advance(600)  # and it stays so
    assert get(sim, task_id, key)["status"] == "SUCCESS"


def test_a_running_task_has_no_finish_time_or_result(sim, key):
    task_id = submit(sim, SONG, key)
    queued = get(sim, task_id, key)
    assert queued["status"] == "QUEUED" and "finish_time" not in queued
    assert queued["result"] is None and queued["result_urls"] == []
    assert account(sim, key)["held"] == PRICES["generate"]
    sim.advance(20)
    running = get(sim, task_id, key)
    assert running["status"] == "RUNNING" and "finish_time" not in running
    assert "duration_sec" not in running and running["result"] is None


def test_sim_fail_is_failed_with_an_error_and_credits_returned(sim, key):
    task_id = submit(sim, {**SONG, "prompt": "[sim:fail] dreamy synth pop"}, key)
    assert account(sim, key)["held"] == PRICES["generate"]
    task, seen = walk(sim, task_id, key)
    _forward(seen, ["QUEUED", "RUNNING", "FAILED"])
    assert task["error_code"] == "generation_failed" and task["error_message"]
    assert task["result"] is None and task["result_urls"] == []
    balances = account(sim, key)
    assert (balances["credits"], balances["held"], balances["spent"]) == (RICH, 0, 0)
    sim.advance(600)
    assert get(sim, task_id, key)["status"] == "FAILED"


def test_sim_expire_expires_a_minute_after_success(sim, key):
    task = speak(sim, {**TTS, "text": "[sim:expire] Welcome to Orux AI."}, key)
    task_id = task["task_id"]
    link = task["result"]["audio_urls"][0]
    assert_sounding_mp3(link, task["result"]["duration"])
    sim.advance(58)
    assert get(sim, task_id, key)["status"] == "SUCCESS"
    assert requests.get(link, timeout=30).status_code == 200
    sim.advance(3)
    expired = get(sim, task_id, key)
    assert expired["status"] == "EXPIRED" and expired["result"] is None
    assert expired["result_urls"] == [] and expired["error_code"] == "expired"
    assert expired["finish_time"] == task["finish_time"]
    gone = requests.get(link, timeout=30)
    assert gone.status_code == 410, gone.text
    balances = account(sim, key)  # the work was done: its price stays spent
    assert balances["spent"] == PRICES["elevenlabs-v3"] and balances["held"] == 0


def test_a_stuck_task_expires_after_24_hours_and_credits_return(sim, key, hook):
    task_id = submit(sim, {**SONG, "prompt": "[sim:stuck] dreamy synth pop",
                           "webhook_url": hook.url}, key)
    sim.advance(24 * 3600 - 2)
    assert get(sim, task_id, key)["status"] == "RUNNING"
    assert account(sim, key)["held"] == PRICES["generate"]
    sim.advance(3)
    task = get(sim, task_id, key)
    assert task["status"] == "EXPIRED" and task["error_code"] == "expired"
    assert "TTL" in task["error_message"] and task["result"] is None
    balances = account(sim, key)
    assert (balances["credits"], balances["held"], balances["spent"]) == (RICH, 0, 0)
    (delivery,) = hook.wait_for(1)
    assert delivery.valid and delivery.headers["X-Orux-Event"] == "EXPIRED"
    hook.quiet(1)


# --- 5. errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk-app-not-a-key"},
                                     {"Authorization": "Basic c2stbXVzaWNzaW0tZGVtbw=="}],
                         ids=["missing", "unknown", "not-bearer"])
def test_a_missing_or_invalid_key_is_401(sim, key, headers):
    task_id = submit(sim, TTS, key)
    for response in (requests.post(sim.base("orux") + "/api/v1/tasks", json=TTS,
                                   headers=headers, timeout=30),
                     requests.get(f"{sim.base('orux')}/api/v1/tasks/{task_id}",
                                  headers=headers, timeout=30)):
        error = error_of(response, 401, "auth_error", "invalid_api_key")
        assert error["channel"] is None and error["param"] is None


def test_an_unknown_task_and_another_keys_task_are_404(sim, key):
    task_id = submit(sim, TTS, key)
    for asked, who in (("task_01HZZZZZZZZZZZZZZZZZZZZZZZ", key), ("nonsense", key),
                       (task_id, sim.account(100))):
        error = error_of(get_raw(sim, asked, who), 404, "invalid_request_error",
                         "task_not_found")
        assert error["param"] == "task_id"
    assert get(sim, task_id, key)["status"] == "SUCCESS"


def test_insufficient_credits_is_429_quota_exceeded_with_nothing_charged(sim):
    poor = sim.account(PRICES["generate"] - 1)
    before = account(sim, poor)
    error = error_of(post(sim, SONG, poor), 429, "rate_limit_error", "quota_exceeded")
    assert error["channel"] is None
    assert account(sim, poor) == before
    ledger = sim.admin("GET", f"/ledger?api_key={poor}").json()["entries"]
    assert [e["kind"] for e in ledger] == ["grant"]
    # a cheaper task fits
    assert post(sim, TTS, poor).status_code == 200


def test_rate_limit_is_429_without_retry_after(strict):
    api_key = strict.account(RICH)
    answers = [get_raw(strict, "task_01HZZZZZZZZZZZZZZZZZZZZZZZ", api_key) for _ in range(4)]
    assert [a.status_code for a in answers[:2]] == [404, 404], [a.text for a in answers]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    error_of(limited[0], 429, "rate_limit_error", "rate_limit_exceeded")
    for answer in limited:
        assert "Retry-After" not in answer.headers
        assert not [h for h in answer.headers if h.lower().startswith("x-ratelimit")]
    time.sleep(1.1)  # the bucket refills in wall time
    assert get_raw(strict, "task_01HZZZZZZZZZZZZZZZZZZZZZZZ", api_key).status_code == 404


@pytest.mark.parametrize("body, channel", [
    ({**SONG, "prompt": "[sim:502] dreamy synth pop"}, "suno"),
    ({**TTS, "text": "[sim:502] Welcome"}, "elevenlabs"),
    ({"model": "elevenlabs-music", "prompt": "[sim:502]"}, "elevenlabs"),
])
def test_sim_502_is_api_error_naming_the_upstream(sim, key, body, channel):
    error = error_of(post(sim, body, key), 502, "api_error", "upstream_error")
    assert error["channel"] == channel
    balances = account(sim, key)
    assert balances["credits"] == RICH and balances["held"] == 0


# --- 6. webhooks ---------------------------------------------------------------------------


def test_webhooks_on_success_and_failure_are_signed_copies_of_the_task(sim, key, hook):
    ok_id = submit(sim, {**SONG, "webhook_url": hook.url}, key)
    bad_id = submit(sim, {**TTS, "text": "[sim:fail] Welcome", "callback_url": hook.url}, key)
    ended: dict[str, dict[str, Any]] = {}  # the GET answer at the moment each task ended
    for _ in range(int(SETTLE)):
        sim.advance(1)
        for task_id in {ok_id, bad_id} - set(ended):
            task = get(sim, task_id, key)
            if task["status"] in ("SUCCESS", "FAILED"):
                ended[task_id] = task
                hook.wait_for(len(ended))
        if len(ended) == 2:
            break
    hook.quiet(2)
    sim.advance(3600)
    hook.quiet(2)  # one POST each, never repeated after a 200
    posted = {json.loads(d.raw)["task_id"]: d for d in hook.calls}
    assert set(posted) == {ok_id, bad_id}
    for task_id, status in ((ok_id, "SUCCESS"), (bad_id, "FAILED")):
        delivery = posted[task_id]
        assert delivery.valid and delivery.answered == 200
        assert delivery.headers["X-Orux-Event"] == status
        assert delivery.headers["Content-Type"].startswith("application/json")
        assert json.loads(delivery.raw) == ended[task_id], "the webhook is the task as GET shows it"
    assert ended[bad_id]["error_code"] == "generation_failed"
    assert_sounding_mp3(json.loads(posted[ok_id].raw)["result"]["audio_urls"][0], 60.0)


def test_the_receiver_refuses_a_tampered_body_and_a_stale_timestamp(sim, key, hook):
    submit(sim, {**TTS, "webhook_url": hook.url}, key)
    sim.advance(30)
    (delivery,) = hook.wait_for(1)
    secret = secret_of(sim, key)
    stamp, signature = delivery.headers["X-Orux-Timestamp"], delivery.headers["X-Orux-Signature"]
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", signature)
    assert abs(int(stamp) - time.time()) < 60, "signed with the wall clock"
    assert verify_signature(secret, delivery.raw, stamp, signature)
    # one byte changed
    index = delivery.raw.index(b'"SUCCESS"') + 2
    tampered = delivery.raw[:index] + bytes([delivery.raw[index] ^ 0x01]) + delivery.raw[index + 1:]
    assert len(tampered) == len(delivery.raw) and tampered != delivery.raw
    assert not verify_signature(secret, tampered, stamp, signature)
    # a stale timestamp, even correctly signed, and a fresh one replayed six minutes on
    old = str(int(time.time()) - 301)
    resigned = "sha256=" + hmac.new(secret.encode(), old.encode() + b"." + delivery.raw,
                                    hashlib.sha256).hexdigest()
    assert not verify_signature(secret, delivery.raw, old, resigned)
    assert not verify_signature(secret, delivery.raw, stamp, signature, now=int(stamp) + 360)
    assert not verify_signature("whsec_wrong", delivery.raw, stamp, signature)
    # the same refusals over HTTP, from the receiver itself
    replays = [(delivery.raw, stamp, signature, 200), (tampered, stamp, signature, 401),
               (delivery.raw, old, resigned, 401)]
    for raw, when, sig, expected in replays:
        answer = requests.post(hook.url, data=raw, timeout=10, headers={
            "Content-Type": "application/json", "X-Orux-Timestamp": when,
            "X-Orux-Signature": sig})
        assert answer.status_code == expected, (when, sig)


def _next_second(after: int) -> None:
    """Wait until the wall clock's whole second is past ``after``."""
    while int(time.time()) <= after:
        time.sleep(0.05)


def test_a_failing_receiver_gets_four_retries_on_schedule(sim, key):
    receiver = SignedReceiver(secret_of(sim, key), fail_first=1_000)
    try:
        submit(sim, {**MUSIC, "webhook_url": receiver.url}, key)
        # One jump past the finish: the first attempt then happens at a known clock
        # time, from which the retries are counted.
        sim.advance(30)
        (first,) = receiver.wait_for(1)
        assert first.valid and first.answered == 500
        task_id = json.loads(first.raw)["task_id"]
        time.sleep(0.2)  # let the simulator note the answer and schedule the retry
        # Retry n is due its backoff after retry n-1 was due, on the simulated clock.
        due = sim.admin("GET", "/clock").json()["now"]
        for number, wait in enumerate(BACKOFF, start=2):
            due += wait
            _next_second(int(receiver.calls[-1].headers["X-Orux-Timestamp"]))
            sim.advance(due - 0.5 - sim.admin("GET", "/clock").json()["now"])
            receiver.quiet(number - 1, wait=0.3)
            sim.advance(1.0)
            calls = receiver.wait_for(number)
            assert len(calls) == number, (number, wait)
            time.sleep(0.2)
        sim.advance(2 * 3600)
        receiver.quiet(5)  # the first attempt and exactly four retries
        calls = receiver.calls
        assert all(c.valid and c.answered == 500 for c in calls)
        assert {c.raw for c in calls} == {first.raw}
        stamps = [int(c.headers["X-Orux-Timestamp"]) for c in calls]
        assert stamps == sorted(stamps) and len(set(stamps)) == 5, stamps
        assert len({c.headers["X-Orux-Signature"] for c in calls}) == 5, "signed afresh"
        assert get(sim, task_id, key)["status"] == "SUCCESS"
    finally:
        receiver.close()


def test_a_receiver_down_for_two_attempts_gets_three(sim, key):
    receiver = SignedReceiver(secret_of(sim, key), fail_first=2)
    try:
        submit(sim, {**MUSIC, "webhook_url": receiver.url}, key)
        sim.advance(30)
        receiver.wait_for(1)
        for wait in BACKOFF:
            time.sleep(0.2)
            sim.advance(wait + 1)
            time.sleep(0.2)
        sim.advance(2 * 3600)
        receiver.quiet(3)
        assert [c.answered for c in receiver.calls] == [500, 500, 200]
        assert all(c.valid for c in receiver.calls)
    finally:
        receiver.close()


@pytest.mark.parametrize("name", ["webhook_url", "callback_url"])
def test_a_plain_http_webhook_is_refused_without_local_callbacks(strict, name):
    api_key = strict.account(RICH)
    refused = post(strict, {**MUSIC, name: "http://hooks.example.com/orux"}, api_key)
    error = error_of(refused, 400, "invalid_request_error", "invalid_request")
    assert error["param"] == name and name in error["message"]
    assert account(strict, api_key)["held"] == 0
    time.sleep(1.1)  # the strict sim's rate limit
    accepted = post(strict, {**MUSIC, name: "https://hooks.example.com/orux"}, api_key)
    assert accepted.status_code == 200, accepted.text
