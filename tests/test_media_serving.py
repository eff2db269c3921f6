"""How /media serves what the dialects link to, through HTTP: every file decodes to what
the API states, byte ranges, progressive streams, ETags, and expiry on the simulated
clock."""

from __future__ import annotations

import io
import threading
import time
import wave

import av
import mutagen.mp3
import numpy as np
import pytest
import requests
from PIL import Image

from conftest import bearer

SONG = {"model": "suno-v4.5", "custom_mode": True, "instrumental": False, "style": "pop",
        "title": "Range Rover", "prompt": "[Verse]\nOne two three four\n[Chorus]\nFive six"}
HOURS_72 = 72 * 3600.0


def submit(sim, body=SONG) -> str:
    response = requests.post(f"{sim.base()}/v1/audios/generations", json=body, headers=bearer(),
                             timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def task(sim, task_id: str) -> dict:
    return requests.get(f"{sim.base()}/v1/tasks/{task_id}", headers=bearer(), timeout=10).json()


def finished_item(sim) -> dict:
    task_id = submit(sim)
    sim.advance(200)
    done = task(sim, task_id)
    assert done["status"] == "completed"
    return done["result_data"][0]


def media(item: dict, name: str) -> str:
    return item["audio_url"].rsplit("/", 1)[0] + "/" + name


def decoded_seconds(data: bytes) -> tuple[float, np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray().astype(np.float32).reshape(-1) for f in container.decode(stream)]
        rate = stream.rate
    x = np.concatenate(frames)
    return len(x) / rate, x


def test_every_file_of_a_song_decodes_to_what_the_api_states(sim):
    item = finished_item(sim)
    duration = item["duration"]
    mp3 = requests.get(item["audio_url"], timeout=30)
    assert mp3.headers["Content-Type"] == "audio/mpeg"
    assert int(mp3.headers["Content-Length"]) == len(mp3.content)
    assert abs(mutagen.mp3.MP3(io.BytesIO(mp3.content)).info.length - duration) < 0.05
    seconds, x = decoded_seconds(mp3.content)
    assert abs(seconds - duration) < 0.05 and float(np.sqrt(np.mean(x ** 2))) > 0.01

    wav = requests.get(media(item, "audio.wav"), timeout=30)
    assert wav.headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(wav.content)) as w:
        assert abs(w.getnframes() / w.getframerate() - duration) < 0.05

    m4a = requests.get(media(item, "audio.m4a"), timeout=30)
    assert m4a.headers["Content-Type"] == "audio/mp4"
    seconds, x = decoded_seconds(m4a.content)
    assert abs(seconds - duration) < 0.1 and float(np.abs(x).max()) > 0.05

    video = requests.get(media(item, "video.mp4"), timeout=60)
    assert video.headers["Content-Type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    with av.open(io.BytesIO(video.content)) as container:
        assert {s.type for s in container.streams} == {"audio", "video"}
        assert abs(float(container.duration) / av.time_base - duration) < 0.2

    for name, size in (("cover.jpeg", 512), ("cover-large.jpeg", 1024)):
        cover = requests.get(media(item, name), timeout=30)
        assert cover.headers["Content-Type"] == "image/jpeg"
        image = Image.open(io.BytesIO(cover.content))
        assert image.format == "JPEG" and image.size == (size, size)


def test_byte_ranges_are_served_as_206_with_the_exact_bytes(sim):
    item = finished_item(sim)
    url = item["audio_url"]
    whole = requests.get(url, timeout=30)
    size = len(whole.content)
    assert whole.headers["Accept-Ranges"] == "bytes"
    cases = {"bytes=0-99": (0, 100), "bytes=100-": (100, size), "bytes=-500": (size - 500, size),
             f"bytes=10-{size + 50}": (10, size)}
    for header, (start, end) in cases.items():
        part = requests.get(url, headers={"Range": header}, timeout=30)
        assert part.status_code == 206, header
        assert part.content == whole.content[start:end]
        assert part.headers["Content-Range"] == f"bytes {start}-{end - 1}/{size}"
        assert int(part.headers["Content-Length"]) == end - start


def test_unsatisfiable_odd_and_stale_ranges(sim):
    item = finished_item(sim)
    url = media(item, "cover.jpeg")
    whole = requests.get(url, timeout=30)
    size, etag = len(whole.content), whole.headers["ETag"]
    beyond = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=30)
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"
    # Several ranges, or a unit this server does not speak, get the whole file.
    for header in ("bytes=0-1,5-9", "items=0-3"):
        full = requests.get(url, headers={"Range": header}, timeout=30)
        assert full.status_code == 200 and full.content == whole.content
    # If-Range: the range only when the client's copy is still current.
    current = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}, timeout=30)
    assert current.status_code == 206 and current.content == whole.content[:10]
    stale = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"old"'}, timeout=30)
    assert stale.status_code == 200 and stale.content == whole.content
    cached = requests.get(url, headers={"If-None-Match": etag}, timeout=30)
    assert cached.status_code == 304 and cached.content == b""


def test_the_stream_grows_with_simulated_time_and_ends_as_the_song(sim):
    task_id = submit(sim)
    sim.advance(20)  # past the text stage: the stream URL is live
    running = task(sim, task_id)
    assert running["status"] == "processing"
    url = running["result_data"][0]["result_id"]
    url = f"{sim.url}/media/{url}/stream.mp3"
    received: list[bytes] = []
    finished = threading.Event()

    def listen() -> None:
        with requests.get(url, stream=True, timeout=60) as response:
            assert response.status_code == 200 and "Content-Length" not in response.headers
            for chunk in response.iter_content(1024):
                received.append(chunk)
        finished.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    sizes = []
    for _ in range(5):  # to 70 s: the song is due at 95 s ± 15 %
        time.sleep(0.4)
        sizes.append(sum(map(len, received)))
        sim.advance(10)
    time.sleep(0.4)
    assert not finished.is_set()
    sim.advance(200)
    assert finished.wait(20)
    stream = b"".join(received)
    done = task(sim, task_id)
    final = requests.get(done["result_data"][0]["audio_url"], timeout=30).content
    assert stream == final
    # It grew step by step, not all at once.
    assert 0 < sizes[0] < sizes[-1] < len(final), (sizes, len(final))
    assert sorted(sizes) == sizes and len(set(sizes)) >= 4, sizes


def test_media_expires_after_the_dialects_retention(sim):
    task_id = submit(sim)
    sim.advance(200)
    item = task(sim, task_id)["result_data"][0]
    assert requests.get(item["audio_url"], timeout=30).status_code == 200
    sim.advance(HOURS_72 - 300)
    assert requests.get(media(item, "cover.jpeg"), timeout=30).status_code == 200
    assert task(sim, task_id)["status"] == "completed"
    sim.advance(600)
    for name in ("audio.mp3", "stream.mp3", "cover.jpeg", "video.mp4"):
        gone = requests.get(media(item, name), timeout=30)
        assert gone.status_code == 410, name
        assert "expired" in gone.json()["error"]["message"]
    # The dialect has no expired status: the task itself is gone, as the provider says.
    poll = requests.get(f"{sim.base()}/v1/tasks/{task_id}", headers=bearer(), timeout=10)
    assert poll.status_code == 404
    assert poll.json()["error"]["message"] == "Task not found or expired"


@pytest.mark.parametrize("provider,path,body,header", [
    ("sunor", "/api/v1/task", {"model": "suno", "task_type": "music",
                               "input": {"gpt_description_prompt": "rain"}},
     {"x-api-key": "sk-musicsim-demo"}),
])
def test_dialects_without_a_published_retention_keep_their_media(sim, provider, path, body,
                                                                  header):
    answer = requests.post(f"{sim.base(provider)}{path}", json=body, headers=header, timeout=10)
    task_id = answer.json()["data"]["task_id"]
    sim.advance(200)
    clip = sim.admin("GET", f"/tasks/{task_id}").json()["clips"][0]
    sim.advance(30 * 24 * 3600)
    assert requests.get(f"{sim.url}/media/{clip['id']}/audio.mp3", timeout=30).status_code == 200
