"""The 24 scenarios of seed 003, walked as the seed walks them (A → B → C), with the
seed's request bodies and the ids the simulator returned in place of the seed's."""

from __future__ import annotations

import io
import json
import re

import av
import numpy as np
import pytest
import requests

from acedata_client import fetch, wav_samples
from conformance.dialects.openaihk import WORK  # the seed's example lyrics
from openaihk_client import (assert_real_clip, feed, finished, generate, get, key, ok, post,
                             songs, upload)

CUSTOM = {"prompt": WORK, "mv": "chirp-v3-5", "title": "Work", "tags": " edm"}
UPLOAD_URL = "http://cdnimg.exbapp.com/ai/2024-06-18/d416d9c3c34eb22c7d8c094831d8dbd0.mp3"


@pytest.fixture
def hk(sim):
    return sim, key(sim)


def a_song(sim, api_key, **extra):
    """Step A of most scenarios: 'use scenarios 1, 2, or 3 to generate music'."""
    return songs(sim, api_key, {**CUSTOM, **extra})[0]


RATE = 22050  # the simulator's WAV sample rate


def decoded(url: str) -> np.ndarray:
    samples, rate = wav_samples(url)
    assert rate == RATE
    return samples


def wav_of(sim, api_key, clip_id: str) -> np.ndarray:
    """The clip's audio through the wav act endpoint, as a client gets it."""
    first = ok(get(sim, f"/sunoapi/act/wav/{clip_id}", api_key))
    if first["wav_file_url"] is None:
        sim.advance(10)
    return decoded(ok(get(sim, f"/sunoapi/act/wav/{clip_id}", api_key))["wav_file_url"])


def test_01_inspiration_mode(hk):
    sim, k = hk
    batch = generate(sim, k, {"gpt_description_prompt": "nostalgia"})
    assert len(batch["clips"]) == 2 and batch["major_model_version"] == "v3.5"
    clips = finished(sim, k, [c["id"] for c in batch["clips"]])
    for clip in clips:
        assert clip["metadata"]["gpt_description_prompt"] == "nostalgia"
        assert clip["title"] and clip["metadata"]["prompt"] and clip["metadata"]["tags"]
        assert_real_clip(clip)
    assert clips[0]["metadata"]["prompt"] == clips[1]["metadata"]["prompt"]  # same words


def test_02_custom_lyrics_and_title(hk):
    sim, k = hk
    batch = generate(sim, k, CUSTOM)
    assert [c["title"] for c in batch["clips"]] == ["Work", "Work"]
    for clip in finished(sim, k, [c["id"] for c in batch["clips"]]):
        assert clip["metadata"]["prompt"] == WORK and clip["metadata"]["tags"] == " edm"
        assert clip["model_name"] == "chirp-v3-5" and clip["metadata"]["has_vocal"] is True
        assert_real_clip(clip)


def test_03_instrumental_custom(hk):
    sim, k = hk
    body = {"prompt": "", "tags": "heavy metal", "mv": "chirp-v3-5", "title": "Beijing",
            "continue_clip_id": None, "continue_at": None, "infill_start_s": None,
            "infill_end_s": None}
    for clip in songs(sim, k, body):
        assert clip["title"] == "Beijing" and clip["metadata"]["prompt"] == ""
        assert clip["metadata"]["has_vocal"] is False
        assert_real_clip(clip)


def test_04_instrumental_inspiration(hk):
    sim, k = hk
    body = {"gpt_description_prompt": "A national dance pop anthem about dancing all night long",
            "mv": "chirp-v3-5", "prompt": "", "make_instrumental": True}
    for clip in songs(sim, k, body):
        assert clip["metadata"]["has_vocal"] is False and clip["metadata"]["prompt"] == ""
        assert_real_clip(clip)


def test_05_extend_uploaded_audio_then_concat(hk):
    sim, k = hk
    uploaded = upload(sim, k, UPLOAD_URL)                                   # A
    assert uploaded["metadata"]["type"] == "upload" and uploaded["metadata"]["duration"] > 10
    extended = songs(sim, k, {"prompt": "lyrics", "tags": "", "negative_tags": "",   # B
                              "mv": "chirp-v4", "title": "Title",
                              "continue_clip_id": uploaded["id"], "continue_at": 10,
                              "task": "upload_extend"})
    assert extended[0]["metadata"]["history"][0]["id"] == uploaded["id"]
    deprecated = songs(sim, k, {"prompt": WORK, "tags": "heavy metal",          # C
                                "mv": "chirp-v3-5-upload", "title": "Work",
                                "continue_clip_id": uploaded["id"], "continue_at": 30.792})
    assert deprecated[0]["model_name"] == "chirp-v3-5-upload"
    before = sim.admin("GET", f"/accounts/{k}").json()["credits"]
    joined = ok(post(sim, "/sunoapi/generate/concat",                           # D
                     {"clip_id": extended[0]["id"], "is_infill": False}, k))
    assert joined["metadata"]["type"] == "concat"
    whole = finished(sim, k, [joined["id"]])[0]
    assert sim.admin("GET", f"/accounts/{k}").json()["credits"] == before - 1000  # one song
    assert whole["metadata"]["duration"] == pytest.approx(extended[0]["metadata"]["duration"],
                                                          abs=0.05)
    source, tail, total = (wav_of(sim, k, c) for c in (uploaded["id"], extended[0]["id"],
                                                       whole["id"]))
    cut = int(9.9 * RATE)  # up to the seam, where the parts cross-fade
    assert np.allclose(total[:cut], source[:cut], atol=2e-3)  # the upload up to continue_at
    assert len(total) == pytest.approx(len(tail), abs=50)  # upload part + extension = tail
    assert_real_clip(whole)


def test_06_extend_then_concat_full_song(hk):
    sim, k = hk
    source = a_song(sim, k)                                                    # A
    extended = songs(sim, k, {"prompt": WORK, "tags": "heavy metal",          # B
                              "mv": "chirp-v3-5", "title": "Work",
                              "continue_clip_id": source["id"], "continue_at": 30,
                              "task": "extend"})
    assert len(extended) == 2
    before = sim.admin("GET", f"/accounts/{k}").json()["credits"]
    joined = ok(post(sim, "/sunoapi/generate/concat",                           # C
                     {"clip_id": extended[0]["id"], "is_infill": False}, k))
    whole = finished(sim, k, [joined["id"]])[0]
    assert sim.admin("GET", f"/accounts/{k}").json()["credits"] == before - 100
    history = whole["metadata"]["concat_history"]
    assert [h["id"] for h in history] == [source["id"], extended[0]["id"]]
    assert history[0]["continue_at"] == 30
    ext, full, src = (wav_of(sim, k, c) for c in (extended[0]["id"], whole["id"], source["id"]))
    assert np.array_equal(full, ext)  # the extension already holds its source's start
    cut = int(29.9 * RATE)  # up to the seam, where the parts cross-fade
    assert np.allclose(full[:cut], src[:cut], atol=2e-3)
    assert_real_clip(whole)


def test_07_cover(hk):
    sim, k = hk
    source = a_song(sim, k)                                                    # A
    covers = songs(sim, k, {"prompt": WORK, "generation_type": "TEXT",        # B
                            "tags": "rock, punk", "negative_tags": "", "mv": "chirp-auk",
                            "title": "Work (Cover)", "continue_clip_id": None,
                            "continue_at": None, "continued_aligned_prompt": None,
                            "infill_start_s": None, "infill_end_s": None, "task": "cover",
                            "cover_clip_id": source["id"]})
    for clip in covers:
        assert clip["title"] == "Work (Cover)" and clip["metadata"]["tags"] == "rock, punk"
        assert clip["metadata"]["prompt"] == WORK and clip["metadata"]["task"] == "cover"
        assert clip["model_name"] == "chirp-auk" and clip["major_model_version"] == "v4.5"
        assert_real_clip(clip)
    uploaded = upload(sim, k, UPLOAD_URL)  # "you can also use the upload API"
    assert songs(sim, k, {"prompt": WORK, "tags": "rock", "mv": "chirp-auk", "task": "cover",
                          "cover_clip_id": uploaded["id"]})


def test_08_replace_section_then_concat(hk):
    sim, k = hk
    source = a_song(sim, k)                                                    # A
    start, end = 33.48, 79.96
    replaced = songs(sim, k, {                                                 # B
        "task": "infill", "generation_type": "TEXT", "title": "Work-replace",
        "tags": "Sorrow/Sad,Female Vocals,Mandarin", "mv": "chirp-auk", "prompt": WORK,
        "metadata": {"infill_lyrics": "Files piling up with no end in sight"},
        "continue_clip_id": source["id"], "continued_aligned_prompt": WORK,
        "infill_context_start_s": 3.48, "infill_context_end_s": 109.96,
        "infill_start_s": start, "infill_end_s": end, "infill_dur_s": 46.48})
    section = replaced[0]
    assert section["metadata"]["infill"] is True
    assert section["metadata"]["duration"] == pytest.approx(109.96 - 3.48, abs=0.05)
    joined = ok(post(sim, "/sunoapi/generate/concat",                           # C
                     {"clip_id": section["id"], "is_infill": True}, k))
    whole = finished(sim, k, [joined["id"]])[0]
    assert whole["metadata"]["duration"] == pytest.approx(source["metadata"]["duration"], abs=0.05)
    src, new = wav_of(sim, k, source["id"]), wav_of(sim, k, whole["id"])
    rate = RATE
    a, b = int(start * rate), int(end * rate)
    assert np.allclose(new[:a - rate // 10], src[:a - rate // 10], atol=2e-3)
    assert np.allclose(new[b + rate // 10:], src[b + rate // 10:], atol=2e-3)
    assert not np.allclose(new[a:b], src[a:b], atol=2e-3)  # only the window changed
    assert_real_clip(whole)


def test_08v2_fixed_infill_from_the_timeline(hk):
    sim, k = hk
    source = a_song(sim, k)
    timing = ok(get(sim, f"/suno/act/timing/{source['id']}", k))                 # A
    lines = timing["aligned_lyrics"]
    assert len(lines) >= 10 and all(line["words"] for line in lines)
    context_start = lines[2]["words"][0]["start_s"]
    target = lines[4]["words"][-2:]
    context_end = lines[6]["words"][-1]["end_s"]
    start, end = round(target[0]["start_s"], 2), round(target[-1]["end_s"], 2)
    replaced = songs(sim, k, {                                                 # B
        "task": "fixed_infill", "generation_type": "TEXT", "title": "Replace 01:15-01:15",
        "tags": "Love Song,Rock,Acoustic Guitar,Piano,Strings,R&B", "negative_tags": "",
        "mv": "chirp-carp", "prompt": WORK,
        "metadata": {"create_mode": "custom", "infill_lyrics": "yesterday", "is_remix": True,
                     "lyrics_updated": True},
        "continue_clip_id": source["id"], "continued_aligned_prompt": WORK,
        "continue_at": None, "infill_context_start_s": context_start,
        "infill_context_end_s": context_end, "infill_start_s": start, "infill_end_s": end,
        "infill_dur_s": round(end - start, 2)})
    assert replaced[0]["metadata"]["task"] == "fixed_infill"
    joined = ok(post(sim, "/sunoapi/generate/concat",                           # C
                     {"clip_id": replaced[0]["id"], "is_infill": True}, k))
    assert_real_clip(finished(sim, k, [joined["id"]])[0])


def test_09_persona_then_artist_consistency(hk):
    sim, k = hk
    root = a_song(sim, k)                                                      # A
    persona = ok(post(sim, "/suno/persona/create/", {                          # B
        "root_clip_id": root["id"], "name": "Persona Title",
        "description": "Persona Description", "clips": [root["id"]], "is_public": True}, k))
    assert persona["root_clip_id"] == root["id"] and persona["clip"]["id"] == root["id"]
    assert persona["persona_clips"][0]["clip"]["id"] == root["id"]
    assert persona["name"] == "Persona Title" and persona["user_handle"]
    batch = generate(sim, k, {                                                 # C
        "prompt": WORK, "generation_type": "TEXT", "tags": "electronic, pop",
        "negative_tags": "", "mv": "chirp-v4", "title": "Darling",
        "task": "artist_consistency", "persona_id": persona["id"], "artist_clip_id": root["id"]})
    meta = batch["metadata"]
    assert meta["persona_id"] == persona["id"] and meta["artist_clip_id"] == root["id"]
    assert meta["task"] == "artist_consistency" and batch["clips"][0]["title"] == "Darling"
    for clip in finished(sim, k, [c["id"] for c in batch["clips"]]):
        assert_real_clip(clip)


def test_10_stems_deprecated_and_new(hk):
    """The stems are answered "queued", as the seed's 10B answer prints them, stay so
    while they are made (a separation is not streamed), then read complete (10C)."""
    sim, k = hk
    source = a_song(sim, k)                                                    # A
    old = ok(get(sim, f"/sunoapi/act/stems/{source['id']}", k))                # B (old)
    assert [old["clip_1"]["status"], old["clip_2"]["status"]] == ["queued", "queued"]
    old_ids = [old["clip_1"]["id"], old["clip_2"]["id"]]
    batch = ok(post(sim, "/sunoapi/generate", {                                # B (new)
        "task": "gen_stem", "generation_type": "TEXT", "title": "Safety String",
        "mv": "chirp-auk", "prompt": "", "make_instrumental": True,
        "continue_clip_id": source["id"], "continued_aligned_prompt": None, "continue_at": None,
        "stem_type_id": 91, "stem_type_group_name": "Two", "stem_task": "two"}, k))
    assert [c["status"] for c in batch["clips"]] == ["queued", "queued"]
    for clip in batch["clips"]:
        assert (clip["audio_url"], clip["video_url"]) == ("", "")
        assert clip["metadata"]["duration"] == source["metadata"]["duration"]
    assert [c["metadata"]["type"] for c in batch["clips"]] == ["stem", "stem"]
    assert batch["clips"][0]["metadata"]["stem_from_id"] == source["id"]
    ids = [c["id"] for c in batch["clips"]]
    seen = []
    for _ in range(12):  # two minutes, past where a song streams and its first clip is done
        seen.append(tuple(c["status"] for c in feed(sim, k, ids)))
        sim.advance(10)
    assert seen[0] == ("queued", "queued") and ("complete", "complete") in seen, seen
    assert set(seen) == {("queued", "queued"), ("complete", "complete")}, seen
    stems = finished(sim, k, ids)                                              # C
    assert stems[0]["title"].endswith("- Vocals")
    assert stems[1]["title"].endswith("- Instrumental")
    finished(sim, k, old_ids)
    mix = wav_of(sim, k, source["id"])
    vocals, backing = wav_of(sim, k, ids[0]), wav_of(sim, k, ids[1])
    assert np.abs(vocals).max() > 0.01 and np.abs(backing).max() > 0.01
    assert np.allclose(vocals + backing, mix, atol=3e-3)  # the two stems are the song
    for clip in stems:
        assert_real_clip(clip)


def test_11_timing(hk):
    sim, k = hk
    source = a_song(sim, k)
    timing = ok(get(sim, f"/sunoapi/act/timing/{source['id']}", k))
    words = timing["aligned_words"]
    sung = "".join(w["word"] for w in words)
    assert [w for w in sung.split() if not w.startswith("[")] == \
        [w for w in WORK.split() if not w.startswith("[")]  # the lyrics, in order
    starts = [w["start_s"] for w in words]
    assert starts == sorted(starts) and all(w["end_s"] > w["start_s"] for w in words)
    assert words[-1]["end_s"] <= source["metadata"]["duration"]
    wave = np.array(timing["waveform_data"])
    assert len(wave) > 50 and wave.max() > 0.1 and wave.min() >= 0
    assert timing["is_streamed"] is False and 0 <= timing["hoot_cer"] <= 1


def test_12_wav(hk):
    sim, k = hk
    source = a_song(sim, k)
    assert ok(get(sim, f"/sunoapi/act/wav/{source['id']}", k)) == {"wav_file_url": None}
    sim.advance(10)
    url = ok(get(sim, f"/sunoapi/act/wav/{source['id']}", k))["wav_file_url"]
    samples, rate = wav_samples(url)
    assert len(samples) / rate == pytest.approx(source["metadata"]["duration"], abs=0.05)
    assert np.abs(samples).max() > 0.05


def test_13_mp4(hk):
    """The seed: "wait ~30 seconds before the URL becomes accessible". The link answers
    404 with an empty body for 30 simulated seconds after the call, then the video;
    asking again answers the same link at once. A video never asked for serves."""
    sim, k = hk
    source, other = songs(sim, k, CUSTOM)
    url = ok(get(sim, f"/sunoapi/act/mp4/{source['id']}", k))["mp4"]
    assert url == source["video_url"]
    for _ in range(2):
        waiting = requests.get(url, timeout=30)
        assert (waiting.status_code, waiting.content) == (404, b"")
        sim.advance(14.9)
    sim.advance(0.1)  # 29.9 s after the call
    assert requests.get(url, timeout=30).status_code == 404
    sim.advance(0.2)
    assert ok(get(sim, f"/sunoapi/act/mp4/{source['id']}", k))["mp4"] == url
    with av.open(io.BytesIO(fetch(url, "video/mp4"))) as video:
        assert {s.type for s in video.streams} == {"video", "audio"}
        assert video.duration / 1e6 == pytest.approx(source["metadata"]["duration"], abs=0.1)
    assert fetch(other["video_url"], "video/mp4")[4:8] == b"ftyp"
    running = generate(sim, k, CUSTOM)["clips"][0]
    refused = get(sim, f"/sunoapi/act/mp4/{running['id']}", k)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "clip_not_ready"


def test_14_all_stems_twelve(hk):
    sim, k = hk
    source = a_song(sim, k, tags="pop, drums")                                 # A
    batch = generate(sim, k, {                                                 # B
        "task": "gen_stem", "generation_type": "TEXT", "title": "Safety String",
        "mv": "chirp-auk", "prompt": "", "make_instrumental": True,
        "continue_clip_id": source["id"], "continued_aligned_prompt": None, "continue_at": None,
        "stem_type_id": 91, "stem_type_group_name": "Twelve", "stem_task": "twelve"})
    assert len(batch["clips"]) == 24
    assert batch["metadata"]["stem_type_group_name"] == "Twelve"
    first = batch["clips"][0]
    assert first["model_name"] == "chirp-stem" and first["title"] == "Safety String (Vocals)"
    assert first["metadata"]["history"][0]["stem_task"] == "twelve"
    clips = finished(sim, k, [c["id"] for c in batch["clips"]])                # C
    names = [c["metadata"]["stem_type_group_name"] for c in clips[:12]]
    assert len(set(names)) == 12 and names == [c["metadata"]["stem_type_group_name"]
                                               for c in clips[12:]]
    mix = wav_of(sim, k, source["id"])
    total = sum(wav_of(sim, k, c["id"]) for c in clips[:12])
    assert np.allclose(total, mix, atol=5e-3)  # twelve stems sum to the song


def test_15_advanced_parameters(hk):
    sim, k = hk
    standard = songs(sim, k, {                                                 # A
        "prompt": WORK, "generation_type": "TEXT", "tags": "house, tight drums",
        "negative_tags": "modern", "mv": "chirp-auk", "title": "Savor the Flavor",
        "metadata": {"create_mode": "custom",
                     "control_sliders": {"style_weight": 0.4, "weirdness_constraint": 0.7},
                     "can_control_sliders": ["weirdness_constraint", "style_weight"],
                     "vocal_gender": "f"}})
    meta = standard[0]["metadata"]
    assert meta["control_sliders"] == {"style_weight": 0.4, "weirdness_constraint": 0.7}
    assert meta["vocal_gender"] == "f" and meta["negative_tags"] == "modern"
    cover = songs(sim, k, {                                                    # B
        "prompt": WORK, "generation_type": "TEXT", "tags": "", "negative_tags": "",
        "mv": "chirp-auk", "title": "Happy New Year (Remix)", "task": "cover",
        "cover_clip_id": standard[0]["id"],
        "metadata": {"create_mode": "custom",
                     "control_sliders": {"style_weight": 0.68, "audio_weight": 0.48,
                                         "weirdness_constraint": 0.37},
                     "can_control_sliders": ["weirdness_constraint", "style_weight",
                                             "audio_weight"], "is_remix": True}})
    assert cover[0]["metadata"]["control_sliders"]["audio_weight"] == 0.48
    assert_real_clip(cover[0])


def _painting(sim, k, task: str, tags: str, prompt: str):
    uploaded = upload(sim, k, UPLOAD_URL)                                       # A
    duration = feed(sim, k, [uploaded["id"]], prefix="/suno")[0]["metadata"]["duration"]  # B
    end = min(57.9, duration)
    made = songs(sim, k, {"mv": "chirp-bluejay", "tags": tags, "title": f"Hi {task}",  # C
                          f"{task}_clip_id": uploaded["id"], f"{task}_start_s": 0,
                          f"{task}_end_s": end, "task": task, "prompt": prompt,
                          "override_fields": ["prompt", "tags"]})
    source = wav_of(sim, k, uploaded["id"])
    result = wav_of(sim, k, made[0]["id"])
    assert len(result) == len(source) and not np.allclose(result, source, atol=2e-3)
    assert_real_clip(made[0])
    return made


def test_16_add_instrumental(hk):
    sim, k = hk
    _painting(sim, k, "underpainting", "Pop rap, uplifting, piano, synth, driving bass", "")


def test_17_add_vocals(hk):
    sim, k = hk
    made = _painting(sim, k, "overpainting", "A smooth, soulful R&B track",
                     "Write the lyrics yourself")
    assert made[0]["metadata"]["has_vocal"] is True


def test_18_midi(hk):
    sim, k = hk
    source = a_song(sim, k)
    assert ok(get(sim, f"/suno/act/midi/{source['id']}", k)) == {"state": "running"}
    sim.advance(10)
    midi = ok(get(sim, f"/suno/act/midi/{source['id']}", k))
    assert midi["state"] == "complete" and len(midi["instruments"]) >= 2
    for instrument in midi["instruments"]:
        assert instrument["name"] and instrument["notes"]
        for note in instrument["notes"]:
            assert 0 <= note["pitch"] <= 127 and 0 <= note["start"] < note["end"]
            assert note["end"] <= source["metadata"]["duration"] + 1e-6


def test_19_expand_style_tags(hk):
    sim, k = hk
    answer = ok(post(sim, "/suno/act/tags", {"original_tags": "student"}, k))
    assert len(answer["upsampled_tags"].split()) > 8 and answer["request_id"]


def test_20_remaster(hk):
    sim, k = hk
    source = a_song(sim, k)
    batch = ok(post(sim, "/sunoapi/generate/upsample",
                    {"clip_id": source["id"], "model_name": "chirp-carp",
                     "variation_category": "high"}, k))
    assert batch["clips"][0]["model_name"] == "chirp-carp"
    clips = finished(sim, k, [c["id"] for c in batch["clips"]])
    assert clips[0]["metadata"]["duration"] == source["metadata"]["duration"]
    assert not np.allclose(wav_of(sim, k, clips[0]["id"]), wav_of(sim, k, source["id"]),
                           atol=1e-3)
    bass = ok(post(sim, "/sunoapi/generate/upsample",
                   {"clip_id": source["id"], "model_name": "chirp-bass"}, k))
    assert bass["clips"][0]["major_model_version"] == "v4.5+"


# Scenario 21C's request body, character for character; its ids are replaced by real ones.
SEED_21C = r'''{
"root_clip_id": "7b5a87af-d567-4444-97c2-387ba5c816d5",
"name": "food",
"description": "123",
"is_public": true,
"persona_type": "vox",
"vox_audio_id": "e044ac0d-7eb1-4014-b134-3ff7656886be",
"vocal_start_s": 66.3,
"vocal_end_s": 95.3,
"user_input_styles": "Style: Verse—Chinese Folk narrative + Chorus—explosive rock + Hook—catchy, repetitive loop. A breezy guitar riff kicks in with building drum intensity, blended with \"keyboard typing sounds + faint vocal samples,\" followed by electronic effects layering after 15 seconds. The intro cuts abruptly into the verse with a sharp, punchy \"Lao Xu!\" to instantly grab attention."
}'''
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_21_vox_persona(hk):
    """The seed's 21C body, which names no clips, makes a vox persona of the root clip
    (the answer carries the id, name, description, root_clip_id and clip the seed
    prints), which then sings a new song (D)."""
    sim, k = hk
    source = a_song(sim, k)                                                    # A
    vox = ok(post(sim, f"/suno/act/vox/{source['id']}",                         # B
                  {"vocal_start_s": 45, "vocal_end_s": 74}, k))
    assert vox["source_clip_id"] == source["id"] and vox["status"] == "complete"
    with av.open(io.BytesIO(fetch(vox["vocal_audio_url"], "audio/mp4"))) as audio:
        assert audio.streams[0].codec_context.name == "aac"
        assert audio.duration / 1e6 == pytest.approx(29, abs=0.1)
    assert vox["wave_response"]["waveform_aggregates"][0]["data"]
    printed = json.loads(SEED_21C.replace("7b5a87af-d567-4444-97c2-387ba5c816d5", source["id"])
                         .replace("e044ac0d-7eb1-4014-b134-3ff7656886be", vox["id"]))
    assert "clips" not in printed
    persona = ok(post(sim, "/suno/persona/create/", printed, k))               # C
    assert (persona["name"], persona["description"]) == ("food", "123")
    assert persona["root_clip_id"] == source["id"] and persona["clip"]["id"] == source["id"]
    assert UUID.fullmatch(persona["id"]) and persona["id"] not in (source["id"], vox["id"])
    assert [p["clip"]["id"] for p in persona["persona_clips"]] == [source["id"]]
    assert persona["persona_type"] == "vox" and persona["vox_audio_id"] == vox["id"]
    assert (persona["vocal_start_s"], persona["vocal_end_s"]) == (66.3, 95.3)
    assert persona["user_input_styles"] == printed["user_input_styles"]
    made = songs(sim, k, {                                                     # D
        "prompt": "[Verse]\nThe noise finally steps aside", "generation_type": "TEXT",
        "tags": "Ethereal Lullaby, Acoustic Piano", "negative_tags": "", "mv": "chirp-crow",
        "title": "Goodnight", "task": "vox", "persona_id": persona["id"],
        "artist_clip_id": source["id"]})
    assert made[0]["model_name"] == "chirp-crow" and made[0]["major_model_version"] == "v5"
    assert_real_clip(made[0])


def test_22_mashup(hk):
    sim, k = hk
    one, two = a_song(sim, k), a_song(sim, k, tags="jazz")                      # A
    made = songs(sim, k, {"task": "mashup_condition", "generation_type": "TEXT",  # B
                          "title": "Banban83 vs bluespawn (Mashup)", "tags": "",
                          "negative_tags": "", "mv": "chirp-crow",
                          "prompt": "You keep turning back inside the station",
                          "mashup_clip_ids": [one["id"], two["id"]]})
    assert made[0]["title"] == "Banban83 vs bluespawn (Mashup)"
    assert made[0]["metadata"]["mashup_clip_ids"] == [one["id"], two["id"]]
    assert_real_clip(made[0])


def test_23_lyrics_mashup(hk):
    sim, k = hk
    a = "Sambuy come back bluespawn greenspawn are making you a spawn"
    b = "You keep turning back inside the station\nI can't bring myself to leave outside"
    answer = ok(post(sim, "/sunoapi/generate/lyrics-mashup", {"lyrics_a": a, "lyrics_b": b}, k))
    response = answer["response"]
    assert response["status"] == "complete" and response["title"] == "Lyrics Mashup"
    assert "Sambuy" in response["text"] and "station" in response["text"]
    assert answer["lyrics_request_id"] != answer["mashup_id"]


def test_24_samples(hk):
    sim, k = hk
    source = a_song(sim, k)                                                    # A
    made = songs(sim, k, {"task": "chop_sample_condition", "generation_type": "TEXT",  # B
                          "title": "Breaking My Own News", "tags": "", "negative_tags": "",
                          "mv": "chirp-crow", "prompt": "[Verse 1]\nPhone lit up",
                          "chop_sample_clip_id": source["id"],
                          "chop_sample_start_s": 59.88, "chop_sample_end_s": 102.16})
    assert made[0]["metadata"]["chop_sample_clip_id"] == source["id"]
    assert_real_clip(made[0])
