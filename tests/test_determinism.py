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
