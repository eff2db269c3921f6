"""Every /suno/audios action reaches succeeded songs that are real and fetchable, and the
derived actions make what they claim (checked on the decoded audio)."""

from __future__ import annotations

import numpy as np
import pytest

from acedata_client import assert_real_song, call, fast, songs, wav_samples
from conftest import Sim

LYRIC = ("[Verse]\nSnowflakes falling on the ground\nEvery window glowing bright\n"
         "[Chorus]\nUnder the mistletoe tonight\nHold me close and hold me tight")


@pytest.fixture
def ace(sim: Sim) -> Sim:
    fast(sim)
    return sim


def generate(sim: Sim, **extra) -> dict:
    return songs(sim, {"action": "generate", "prompt": "A song for Christmas", **extra})[0]


def upload(sim: Sim, song: dict) -> dict:
    return call(sim, "/suno/upload", {"audio_url": song["audio_url"]})["data"]


def persona(sim: Sim, song: dict, **extra) -> str:
    body = {"name": "Winter Voice", "audio_id": song["id"], **extra}
    return call(sim, "/suno/persona", body)["data"]["persona_id"]


def vox_persona(sim: Sim, song: dict) -> str:
    vox = call(sim, "/suno/vox", {"audio_id": song["id"], "vocal_start": 5, "vocal_end": 20})
    return persona(sim, song, vox_audio_id=vox["data"]["id"])


# Each action's request, built from the seed's field descriptions, given what it needs.
REQUESTS = {
    "generate": lambda s: {"prompt": "A song for Christmas", "model": "chirp-v4"},
    "extend": lambda s: (lambda g: {"audio_id": g["id"], "continue_at": 20.5})(generate(s)),
    "concat": lambda s: {"audio_id": songs(s, {"action": "extend", "audio_id": generate(s)["id"],
                                                "continue_at": 12})[0]["id"]},
    "cover": lambda s: {"audio_id": generate(s)["id"], "style": "jazz, piano",
                        "audio_weight": 0.7},
    "upload_cover": lambda s: {"audio_id": upload(s, generate(s))["audio_id"]},
    "upload_extend": lambda s: {"audio_id": upload(s, generate(s))["audio_id"],
                                "continue_at": 15},
    "artist_consistency": lambda s: {"persona_id": persona(s, generate(s)), "custom": True,
                                     "lyric": LYRIC, "title": "Again"},
    "artist_consistency_vox": lambda s: {"persona_id": vox_persona(s, generate(s)),
                                         "custom": True, "lyric": LYRIC},
    "stems": lambda s: {"audio_id": generate(s)["id"]},
    "all_stems": lambda s: {"audio_id": generate(s)["id"]},
    "replace_section": lambda s: {"audio_id": generate(s)["id"], "replace_section_start": 10,
                                  "replace_section_end": 20},
    "underpainting": lambda s: {"audio_id": upload(s, generate(s))["audio_id"],
                                "underpainting_start": 5, "underpainting_end": 25},
    "overpainting": lambda s: {"audio_id": upload(s, generate(s, instrumental=True))["audio_id"],
                               "overpainting_end": 20},
    "samples": lambda s: {"audio_id": upload(s, generate(s))["audio_id"], "samples_start": 2,
                          "samples_end": 12},
    "remaster": lambda s: {"audio_id": generate(s)["id"], "model": "chirp-v5",
                           "variation_category": "subtle"},
    "mashup": lambda s: {"mashup_audio_ids": [generate(s)["id"],
                                              generate(s, style="rock")["id"]]},
    "inspo": lambda s: {"audio_urls": [generate(s)["audio_url"]], "prompt": "More of this"},
}
COUNTS = {"concat": 1, "stems": 2}


@pytest.mark.parametrize("action", sorted(REQUESTS))
def test_each_action_makes_real_songs(ace, action):
    made = songs(ace, {"action": action, **REQUESTS[action](ace)})
    if action == "all_stems":
        assert len(made) >= 3  # at least vocals, keys and bass in a generated pop song
    else:
        assert len(made) == COUNTS.get(action, 2)
    for song in made:
        assert song["id"] and song["title"] and song["created_at"].endswith("Z")
        assert_real_song(song)


def test_every_action_of_the_spec_is_covered():
    from simulator.openapi import load_spec
    schema = load_spec("acedata").document["components"]["schemas"]["AudiosRequest"]
    assert set(schema["properties"]["action"]["enum"]) == set(REQUESTS)


# --- chained flows ------------------------------------------------------------------------


def wav_of(sim: Sim, song_id: str) -> np.ndarray:
    url = call(sim, "/suno/wav", {"audio_id": song_id})["data"][0]["file_url"]
    samples, rate = wav_samples(url)
    assert rate == 22050
    return samples


def test_generate_extend_concat(ace):
    source = generate(ace)
    at = 18.0
    extension = songs(ace, {"action": "extend", "audio_id": source["id"], "continue_at": at})[0]
    assert extension["duration"] > at
    src, ext = wav_of(ace, source["id"]), wav_of(ace, extension["id"])
    cut = int(at * 22050) - 2205  # the join may blend over its last 100 ms
    assert np.abs(src[:cut] - ext[:cut]).max() < 2e-3, "the extension continues its source"
    whole = songs(ace, {"action": "concat", "audio_id": extension["id"]})
    assert len(whole) == 1
    history = whole[0]["concat_history"]
    assert [h["id"] for h in history] == [source["id"], extension["id"]]
    assert history[0]["continue_at"] == at
    assert abs(whole[0]["duration"] - extension["duration"]) < 0.05
    joined = wav_of(ace, whole[0]["id"])
    assert abs(len(joined) - len(ext)) < 10
    n = min(len(joined), len(ext))
    assert np.abs(joined[:n] - ext[:n]).max() < 2e-3, "concat is the history joined"


def test_generate_cover_keeps_the_lyrics(ace):
    source = songs(ace, {"action": "generate", "custom": True, "lyric": LYRIC,
                         "title": "Mistletoe", "style": "pop"})[0]
    covers = songs(ace, {"action": "cover", "audio_id": source["id"], "style": "metal"})
    for cover in covers:
        assert cover["lyric"] == source["lyric"] == LYRIC
        assert cover["style"] == "metal"
        assert cover["id"] != source["id"]
    assert not np.array_equal(wav_of(ace, covers[0]["id"])[:22050 * 5],
                              wav_of(ace, source["id"])[:22050 * 5])


def test_generate_stems_are_vocals_and_instrumental_of_the_song(ace):
    source = generate(ace)
    vocals, backing = songs(ace, {"action": "stems", "audio_id": source["id"]})
    assert vocals["title"].endswith("- Vocals") and backing["title"].endswith("- Instrumental")
    assert vocals["model"] == backing["model"] == ""
    mix, v, b = (wav_of(ace, i) for i in (source["id"], vocals["id"], backing["id"]))
    assert np.sqrt(np.mean(v ** 2)) > 0.01 and np.sqrt(np.mean(b ** 2)) > 0.01
    n = min(len(mix), len(v), len(b))
    assert np.abs(v[:n] + b[:n] - mix[:n]).max() < 2e-3, "the two stems sum to the song"


def test_all_stems_are_one_track_per_instrument(ace):
    source = generate(ace)
    stems = songs(ace, {"action": "all_stems", "audio_id": source["id"]})
    names = [s["title"].rsplit("(", 1)[1].rstrip(")") for s in stems]
    assert len(set(names)) == len(names) and "Vocals" in names
    assert all(s["model"] == "chirp-ahi-stem-12-t1" for s in stems)
    tracks = [wav_of(ace, s["id"]) for s in stems]
    mix = wav_of(ace, source["id"])
    n = min(map(len, [mix, *tracks]))
    assert np.abs(sum(t[:n] for t in tracks) - mix[:n]).max() < 5e-3


def test_upload_then_upload_extend(ace):
    source = generate(ace)
    uploaded = upload(ace, source)
    assert uploaded["title"].startswith("up-") and uploaded["duration"] == source["duration"]
    extended = songs(ace, {"action": "upload_extend", "audio_id": uploaded["audio_id"],
                           "continue_at": 10})
    for song in extended:
        assert song["duration"] > 10
        assert_real_song(song)
    head = wav_of(ace, extended[0]["id"])[:22050 * 9]
    assert np.abs(head - wav_of(ace, source["id"])[:22050 * 9]).max() < 2e-3


def test_two_generates_then_mashup(ace):
    first, second = generate(ace), generate(ace, style="rock")
    mixed = songs(ace, {"action": "mashup", "mashup_audio_ids": [first["id"], second["id"]]})
    assert len(mixed) == 2
    longest = max(first["duration"], second["duration"])
    for song in mixed:
        assert abs(song["duration"] - longest) < 0.05
        assert first["title"] in song["title"] and second["title"] in song["title"]
    a, b, m = (wav_of(ace, i) for i in (first["id"], second["id"], mixed[0]["id"]))
    n = min(len(a), len(b), len(m))
    assert np.abs((a[:n] + b[:n]) / 2 - m[:n]).max() < 2e-3, "a mashup mixes its sources"


def test_replace_section_changes_only_its_window(ace):
    source = generate(ace)
    new = songs(ace, {"action": "replace_section", "audio_id": source["id"],
                      "replace_section_start": 10, "replace_section_end": 20})[0]
    assert new["concat_history"][0]["infill_dur_s"] == 10
    before, after = wav_of(ace, source["id"]), wav_of(ace, new["id"])
    rate = 22050
    assert np.abs(before[:9 * rate] - after[:9 * rate]).max() < 2e-3
    assert np.abs(before[21 * rate:] - after[21 * rate:]).max() < 2e-3
    assert np.abs(before[11 * rate:19 * rate] - after[11 * rate:19 * rate]).max() > 0.01


def test_instrumental_ignores_lyrics(ace):
    made = songs(ace, {"action": "generate", "custom": True, "instrumental": True,
                       "lyric": LYRIC, "style": "ambient"})
    assert all(song["lyric"] == "" for song in made)
