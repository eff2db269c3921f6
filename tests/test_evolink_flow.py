"""The evolink dialect end to end: the seed's examples reach completed with real songs."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
import requests
from mutagen.mp3 import MP3
from PIL import Image

from conftest import bearer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "evolink"
EXAMPLES = sorted((FIXTURES / "requests").glob("*.json"))


def submit(sim, body, key=None):
    return requests.post(f"{sim.base()}/v1/audios/generations", json=body,
                         headers=bearer(key) if key else bearer(), timeout=10)


def poll(sim, task_id, key=None):
    response = requests.get(f"{sim.base()}/v1/tasks/{task_id}",
                            headers=bearer(key) if key else bearer(), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_seed_example_reaches_completed_with_playable_songs(sim, example):
    body = json.loads(example.read_text())
    created = submit(sim, body)
    assert created.status_code == 200, created.text
    task = created.json()
    assert task["status"] == "pending" and task["progress"] == 0
    assert task["object"] == "audio.generation.task" and task["type"] == "audio"
    assert task["model"] == body["model"]
    assert task["id"].startswith(f"task-unified-{task['created']}-")

    sim.advance(600)
    done = poll(sim, task["id"])
    assert done["status"] == "completed" and done["progress"] == 100
    assert len(done["result_data"]) == 2 and len(done["results"]) == 2
    assert done["results"] == [item["audio_url"] for item in done["result_data"]]
    for item in done["result_data"]:
        if body.get("custom_mode"):
            assert item["title"] == body["title"] and item["tags"] == body["style"]
        audio = requests.get(item["audio_url"], timeout=30)
        assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/mpeg"
        length = MP3(io.BytesIO(audio.content)).info.length
        assert abs(length - item["duration"]) < 0.06, (length, item["duration"])
        cover = requests.get(item["image_url"], timeout=10)
        assert cover.headers["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(cover.content)).format == "JPEG"
        stream = requests.get(item["stream_audio_url"], timeout=30)
        assert stream.status_code == 200 and stream.content == audio.content
    ids = [item["result_id"] for item in done["result_data"]]
    assert ids[0] != ids[1] and all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 for i in ids)


def test_simple_mode_writes_title_tags_and_lyrics(sim):
    task = submit(sim, {"model": "suno-v5", "prompt": "a calm piano song about rain"}).json()
    sim.advance(600)
    core = sim.admin("GET", f"/tasks/{task['id']}").json()
    clip = core["clips"][0]
    assert "piano" in clip["tags"] and "calm" in clip["tags"]
    assert "[Chorus]" in clip["lyrics"] and clip["instrumental"] is False
    assert clip["title"]


def test_instrumental_custom_mode_has_no_lyrics(sim):
    body = json.loads((FIXTURES / "requests" / "instrumental_mode.json").read_text())
    task = submit(sim, body).json()
    sim.advance(600)
    clip = sim.admin("GET", f"/tasks/{task['id']}").json()["clips"][0]
    assert clip["instrumental"] is True and clip["lyrics"] == ""


def test_another_keys_task_is_not_found(sim):
    task = submit(sim, {"model": "suno-v4.5", "prompt": "x"}).json()
    other = sim.account(credits=100)
    response = requests.get(f"{sim.base()}/v1/tasks/{task['id']}", headers=bearer(other), timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_media_is_not_served_before_it_is_ready(sim):
    task = submit(sim, {"model": "suno-v4.5", "prompt": "song"}).json()
    clip_id = sim.admin("GET", f"/tasks/{task['id']}").json()["clips"][0]["id"]
    response = requests.get(f"{sim.url}/media/{clip_id}/audio.mp3", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "media not ready yet"


def test_single_provider_is_also_served_at_the_root():
    from conftest import start_sim
    sim = start_sim(providers=["evolink"])
    try:
        response = requests.post(f"{sim.url}/v1/audios/generations", headers=bearer(),
                                 json={"model": "suno-v4.5", "prompt": "root"}, timeout=10)
        assert response.status_code == 200
        task_id = response.json()["id"]
        assert requests.get(f"{sim.url}/evolink/v1/tasks/{task_id}", headers=bearer(),
                            timeout=10).status_code == 200
    finally:
        sim.stop()
