"""--seed: the same seed and request sequence give the same ids, timings and bytes."""

from __future__ import annotations

import requests

from conftest import bearer, start_sim

REQUESTS = [
    {"model": "suno-v4.5", "prompt": "a cheerful summer pop song"},
    {"model": "suno-v4", "custom_mode": True, "instrumental": True, "style": "lo-fi, piano",
     "title": "Rainy Afternoon"},
]


def session(seed: int) -> tuple[list, list, bytes]:
    sim = start_sim(seed=seed)
    try:
        ids = [requests.post(f"{sim.base()}/v1/audios/generations", json=body, headers=bearer(),
                             timeout=10).json()["id"] for body in REQUESTS]
        sim.advance(1000)
        tasks = [sim.admin("GET", f"/tasks/{task_id}").json() for task_id in ids]
        timeline = [(t["clips"], t["history"]) for t in tasks]
        detail = requests.get(f"{sim.base()}/v1/tasks/{ids[0]}", headers=bearer(), timeout=10).json()
        audio = requests.get(detail["result_data"][0]["audio_url"], timeout=30).content
        return ids, timeline, audio
    finally:
        sim.stop()


def test_same_seed_same_run():
    first, second = session(42), session(42)
    assert first[0] == second[0] and first[1] == second[1] and first[2] == second[2]


def test_other_seed_other_run():
    first, other = session(42), session(43)
    assert first[0] != other[0] and first[2] != other[2]


def sunor_orux_session(seed: int) -> tuple[list, bytes, str]:
    """A sunor song and an orux speech task, their ids, the song's bytes and the key's
    webhook secret."""
    sim = start_sim(seed=seed)
    try:
        song = requests.post(f"{sim.base('sunor')}/api/v1/task", timeout=10,
                             headers={"x-api-key": "sk-musicsim-demo"},
                             json={"model": "suno", "task_type": "music",
                                   "input": {"gpt_description_prompt": "rain on a tin roof"}})
        speech = requests.post(f"{sim.base('orux')}/api/v1/tasks", headers=bearer(), timeout=10,
                               json={"model": "elevenlabs-v3", "text": "Hello there.",
                                     "voice_id": "v1"})
        ids = [song.json()["data"]["task_id"], speech.json()["task_id"]]
        sim.advance(1000)
        detail = requests.get(f"{sim.base('sunor')}/api/v1/task/{ids[0]}", timeout=10,
                              headers={"x-api-key": "sk-musicsim-demo"}).json()
        audio = requests.get(detail["data"]["output"]["result"][0]["audio_url"], timeout=30)
        secret = sim.admin("GET", "/accounts/sk-musicsim-demo").json()["webhook_secret"]
        return ids, audio.content, secret
    finally:
        sim.stop()


def test_sunor_and_orux_runs_repeat_under_a_seed():
    first, again, other = sunor_orux_session(5), sunor_orux_session(5), sunor_orux_session(6)
    assert first == again
    assert first[0][0] != other[0][0] and first[0][1] != other[0][1]
    assert first[1] != other[1] and first[2] != other[2]
