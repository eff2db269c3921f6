"""The provider's own published clients, unmodified, against the acedata dialect.

- suno-cli 2026.10.26.0, the ``suno`` command, run as a subprocess with ``--json``;
- mcp-suno 2026.10.21.0, an MCP server over stdio, driven by mcp_suno_driver.py with the
  ``mcp`` client library, as an MCP host would.

Each is installed at its pinned release into a venv of its own (real_clients.py), the
first time only. They talk to a real simulator on a loopback port whose clock runs
SPEED times faster than real time, so a request that waits for its songs returns in
about a second. What they print is checked for real values: ids, states, and media links
that download from the simulator with the right type and length. When a client fails,
the message shows each request it sent and what the simulator answered.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Callable

import pytest

from acedata_client import fetch, mp3_seconds, wav_samples
from conftest import Sim, start_sim
from real_clients import McpSuno, SunoCli, client_venv
from simulator.config import RateLimit

SUNO_CLI = ("suno-cli", "2026.10.26.0", "suno")
MCP_SUNO = ("mcp-suno", "2026.10.21.0", "mcp-suno")
SPEED = 100.0  # simulated seconds per wall second
CLI_DEFAULT_MODEL = "chirp-v6"  # what `suno` sends when no --model is given
MCP_DEFAULT_MODEL = "chirp-v5-5"
# Source songs for the flows that build on one; the flows themselves send the client's
# default model.
SOURCE_MODEL = "chirp-v5-5"

LYRIC = ("[Verse]\nLanterns swaying on the harbour wall\nSalt on the ropes and the evening call\n"
         "[Chorus]\nBring the boats home, bring them home tonight\nUnder the lighthouse light")
TRAINING_URLS = [f"https://files.example.com/my-band/take-{n:02d}.mp3" for n in range(1, 7)]
PERSONA_USER = "musicsim-tester"
MODEL_STATES = ["queued", "uploading", "training", "ready"]


# -- fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def suno_cli_venv():
    return client_venv(*SUNO_CLI)


@pytest.fixture(scope="session")
def mcp_suno_venv():
    return client_venv(*MCP_SUNO)


@pytest.fixture(scope="module")
def ace():
    # The clients poll; the token bucket has its own tests.
    sim = start_sim(clock="scaled", speed=SPEED, rate_limits={"acedata": RateLimit(0.0, 1.0)})
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def cli(ace: Sim, suno_cli_venv, tmp_path_factory) -> SunoCli:
    return SunoCli(suno_cli_venv, ace, ace.account(credits=1_000_000),
                   tmp_path_factory.mktemp("suno-cli"))


@pytest.fixture(scope="module")
def mcp(ace: Sim, mcp_suno_venv, tmp_path_factory):
    client = McpSuno(mcp_suno_venv, ace, ace.account(credits=1_000_000),
                     tmp_path_factory.mktemp("mcp-suno"))
    yield client
    client.close()


@pytest.fixture(scope="module")
def source(cli: SunoCli) -> dict[str, Any]:
    """A finished song of the CLI's key, for the flows that work on an earlier song."""
    out = cli.json("generate", "A sea shanty about lanterns on the harbour",
                   "-m", SOURCE_MODEL, "--json")
    return succeeded(out["data"], 2)[0]


@pytest.fixture(scope="module")
def mcp_source(mcp: McpSuno, ace: Sim) -> tuple[str, list[dict[str, Any]]]:
    """A finished generation of the MCP key: its task id and songs."""
    task_id = submitted(mcp.json("suno_generate_music", prompt="A calm song about rivers"))
    record = mcp_poll(mcp, ace, task_id)
    return task_id, succeeded(record["response"]["data"], 2)


# -- checks ------------------------------------------------------------------------------
def is_uuid(value: Any) -> bool:
    try:
        return str(uuid.UUID(str(value))) == str(value).lower()
    except ValueError:
        return False


def succeeded(songs: list[dict[str, Any]], count: int | None = None) -> list[dict[str, Any]]:
    """The songs, checked to be ``count`` distinct finished songs with their media."""
    assert isinstance(songs, list) and songs, songs
    if count is not None:
        assert len(songs) == count, [s.get("id") for s in songs]
    assert len({s["id"] for s in songs}) == len(songs), songs
    for song in songs:
        assert is_uuid(song["id"]), song
        assert song["state"] == "succeeded", song
        assert song["duration"] > 0 and song["audio_url"] and song["image_url"], song
    return songs


def playable(song: dict[str, Any], tolerance: float = 0.1) -> None:
    """The song's audio is an MP3 of its stated length and its cover a JPEG."""
    assert abs(mp3_seconds(song["audio_url"]) - song["duration"]) < tolerance, song
    assert fetch(song["image_url"], "image/jpeg")[:3] == b"\xff\xd8\xff"


def submitted(answer: dict[str, Any]) -> str:
    """The task id of an accepted asynchronous request."""
    assert answer["success"] is True, answer
    assert is_uuid(answer["task_id"]) and is_uuid(answer["trace_id"]), answer
    assert "data" not in answer or not answer["data"], answer
    return answer["task_id"]


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0,
             every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:g} s")
        time.sleep(every)


def settled(sim: Sim, task_id: str, timeout: float = 30.0) -> None:
    """Wait (without the client) until the simulator has ended the task: the fast clock
    does the work, so that the client's own poll finds it done."""
    def ended():
        response = sim.admin("GET", f"/tasks/{task_id}")
        return response.status_code == 200 and response.json().get("status") in (
            "succeeded", "failed", "expired")
    wait_for(ended, f"task {task_id} to end in the simulator", timeout)


def cli_done(cli: SunoCli, task_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """``suno task`` until the task's response reads success."""
    def done():
        record = cli.json("task", task_id, "--json")
        response = record.get("response") or {}
        assert response.get("success") is not False, record
        return record if response.get("success") is True else None
    return wait_for(done, f"`suno task {task_id}` to show a finished task", timeout, 0.5)


def is_mp4(data: bytes) -> bool:
    return data[4:8] == b"ftyp"


# -- suno-cli ----------------------------------------------------------------------------
def test_cli_generate_waits_for_songs_with_default_model(cli: SunoCli):
    prompt = "A happy birthday song with acoustic guitar"
    out = cli.json("generate", prompt, "--json")
    assert out["success"] is True and is_uuid(out["task_id"]) and is_uuid(out["trace_id"])
    songs = succeeded(out["data"], 2)
    for song in songs:
        assert song["prompt"] == prompt and song["title"] and song["lyric"], song
        assert isinstance(song["model"], str) and song["model"].startswith("chirp"), song
        playable(song)
    record = cli.json("task", out["task_id"], "--json")
    assert record["id"] == out["task_id"] and record["trace_id"] == out["trace_id"], record
    assert record["request"]["model"] == CLI_DEFAULT_MODEL, record["request"]
    assert [s["id"] for s in record["response"]["data"]] == [s["id"] for s in songs]


def test_cli_generate_async_then_task_and_wait(cli: SunoCli):
    out = cli.json("generate", "Chill lo-fi beat for studying", "--instrumental", "--async",
                   "--json")
    task_id = submitted(out)
    record = cli.json("task", task_id, "--json")
    assert record["id"] == task_id and record["trace_id"] == out["trace_id"], record
    assert record["request"]["async"] is True and record["request"]["instrumental"] is True
    assert record["request"]["action"] == "generate", record["request"]
    # `suno wait` polls until the record has a response (it reads no state field).
    waited = cli.json("wait", task_id, "--interval", "0.5", "--timeout", "60", "--json")
    assert waited["id"] == task_id and waited.get("response"), waited
    record = cli_done(cli, task_id)
    assert record["finished_at"] >= record["created_at"] and record["elapsed"] > 0, record
    playable(succeeded(record["response"]["data"], 2)[1])


def test_cli_tasks_batch(cli: SunoCli):
    first = submitted(cli.json("generate", "A march for a brass band", "--async", "--json"))
    second = submitted(cli.json("generate", "A lullaby with music box", "--async", "--json"))
    batch = cli.json("tasks", first, second, "--json")
    assert batch["count"] == 2 and [i["id"] for i in batch["items"]] == [first, second], batch

    def both_done():
        items = cli.json("tasks", first, second, "--json")["items"]
        return items if all((i.get("response") or {}).get("success") for i in items) else None
    for item in wait_for(both_done, "both tasks to finish", 30, 0.5):
        assert item["request"]["prompt"] in ("A march for a brass band",
                                            "A lullaby with music box"), item
        succeeded(item["response"]["data"], 2)


def test_cli_custom_with_negative_style(cli: SunoCli):
    out = cli.json("custom", "-l", LYRIC, "-t", "Harbour Lights", "-s", "folk, accordion, warm",
                   "--negative-style", "heavy metal, screaming", "--gender", "f", "--json")
    songs = succeeded(out["data"], 2)
    for song in songs:
        assert song["title"] == "Harbour Lights" and song["lyric"] == LYRIC, song
        assert song["style"] == "folk, accordion, warm", song
    playable(songs[0])
    request = cli.json("task", out["task_id"], "--json")["request"]
    assert request["negative_tags"] == "heavy metal, screaming" and request["custom"] is True


def test_cli_extend_then_concat(cli: SunoCli, source: dict[str, Any]):
    out = cli.json("extend", source["id"], "--continue-at", "30", "-l", "[Bridge]\nOne more verse",
                   "--json")
    extensions = succeeded(out["data"], 2)
    for song in extensions:
        assert song["duration"] > 30, song
    playable(extensions[0])
    joined = cli.json("concat", extensions[0]["id"], "--json")
    song = succeeded(joined["data"], 1)[0]
    assert [h["id"] for h in song["concat_history"]] == [source["id"], extensions[0]["id"]]
    assert song["concat_history"][0]["continue_at"] == 30, song["concat_history"]
    # the whole chain: at least the extension and more than the part kept of the source
    assert song["duration"] >= extensions[0]["duration"] - 0.5 and song["duration"] > 30, song
    playable(song)


def test_cli_cover(cli: SunoCli, source: dict[str, Any]):
    out = cli.json("cover", source["id"], "-s", "jazz, smooth piano", "--audio-weight", "0.6",
                   "--json")
    songs = succeeded(out["data"], 2)
    for song in songs:
        assert song["style"] == "jazz, smooth piano" and song["lyric"] == source["lyric"], song
        assert song["id"] != source["id"]
    playable(songs[0])


def test_cli_stems(cli: SunoCli, source: dict[str, Any]):
    tracks = succeeded(cli.json("stems", source["id"], "--json")["data"], 2)
    assert [t["title"] for t in tracks] == [f"{source['title']} - Vocals",
                                           f"{source['title']} - Instrumental"], tracks
    for track in tracks:
        assert abs(track["duration"] - source["duration"]) < 0.1, track
    playable(tracks[0])


def test_cli_all_stems(cli: SunoCli, source: dict[str, Any]):
    tracks = succeeded(cli.json("all-stems", source["id"], "--json")["data"])
    assert len(tracks) >= 3, [t["title"] for t in tracks]
    names = [re.fullmatch(re.escape(source["title"]) + r" \((.+)\)", t["title"]) for t in tracks]
    assert all(names), [t["title"] for t in tracks]
    assert "Vocals" in {n.group(1) for n in names}, [t["title"] for t in tracks]
    for track in tracks:
        assert abs(track["duration"] - source["duration"]) < 0.1, track
    playable(tracks[-1])


@pytest.mark.parametrize("mode", ["full_song", "candidates"])
def test_cli_replace_section(cli: SunoCli, source: dict[str, Any], mode: str):
    start, end = 10.0, 25.0
    out = cli.json("replace-section", source["id"], "--start", str(start), "--end", str(end),
                   "--result-mode", mode, "-l", "[Chorus]\nA brand new line", "-s", "pop",
                   "--json")
    songs = succeeded(out["data"], 2)
    for song in songs:
        if mode == "full_song":
            # the whole song again, with only the window new
            assert abs(song["duration"] - source["duration"]) < 0.5, (song, source["duration"])
        else:
            # the replacement clips alone, not merged into the song
            assert song["duration"] <= (end - start) + 10, (song, source["duration"])
    playable(songs[0])
    request = cli.json("task", out["task_id"], "--json")["request"]
    assert request["replace_section_result_mode"] == mode, request


def test_cli_lyrics(cli: SunoCli):
    out = cli.json("lyrics", "A love song about the ocean at sunset", "--json")
    assert out["success"] is True and is_uuid(out["task_id"]), out
    assert len(out["data"]) == 2, out
    for variation in out["data"]:
        assert variation["title"] and "[Verse" in variation["text"], variation
        assert variation["status"] == "complete", variation


def test_cli_mashup_lyrics(cli: SunoCli):
    out = cli.json("mashup-lyrics", "--lyrics-a", "[Verse]\nRed sky over the dunes",
                   "--lyrics-b", "[Chorus]\nBlue waves under the moon", "--json")
    assert out["success"] is True, out
    text = out["data"]["text"]
    assert "Red sky over the dunes" in text and "Blue waves under the moon" in text, text


def test_cli_optimize_style(cli: SunoCli):
    out = cli.json("optimize-style", "rock music with guitar", "--json")
    assert out["success"] is True and is_uuid(out["task_id"]), out
    tags = out["data"]["upsampled_tags"]
    assert isinstance(tags, str) and len(tags) > len("rock music with guitar"), out


def test_cli_mp4(cli: SunoCli, source: dict[str, Any]):
    out = cli.json("mp4", source["id"], "--json")
    assert out["success"] is True, out
    assert is_mp4(fetch(out["data"]["video_url"], "video/mp4"))


def test_cli_mp3(cli: SunoCli, source: dict[str, Any]):
    out = cli.json("mp3", source["id"], "--json")
    url = out["data"][0]["file_url"]
    assert abs(mp3_seconds(url) - source["duration"]) < 0.1, (url, source["duration"])


def test_cli_wav(cli: SunoCli, source: dict[str, Any]):
    out = cli.json("wav", source["id"], "--json")
    samples, rate = wav_samples(out["data"][0]["file_url"])
    assert abs(len(samples) / rate - source["duration"]) < 0.1, (len(samples) / rate, source)


def test_cli_midi(cli: SunoCli, source: dict[str, Any]):
    out = cli.json("midi", source["id"], "--json")
    midi = out["data"][0]
    assert midi["state"] == "complete" and midi["instruments"], out
    for instrument in midi["instruments"]:
        assert instrument["name"] and instrument["notes"], instrument
        for note in instrument["notes"]:
            assert 0 <= note["start"] < note["end"] <= source["duration"] + 0.5, note
            assert 0 <= note["pitch"] <= 127, note


def test_cli_timing(cli: SunoCli, source: dict[str, Any]):
    out = cli.json("timing", source["id"], "--json")
    words = out["data"]["aligned_words"]
    assert words and "".join(w["word"] for w in words).split() == source["lyric"].split()
    starts = [w["start_s"] for w in words]
    assert starts == sorted(starts) and words[-1]["end_s"] <= source["duration"] + 0.5


def test_cli_vocals(cli: SunoCli, source: dict[str, Any]):
    out = cli.json("vocals", source["id"], "--vocal-start", "5", "--vocal-end", "20", "--json")
    vox = out["data"]
    assert vox["source_clip_id"] == source["id"] and is_uuid(vox["id"]), vox
    assert (vox["vocal_start_s"], vox["vocal_end_s"]) == (5, 20), vox
    assert abs(mp3_seconds(vox["vocal_audio_url"]) - 15) < 0.5, vox


def test_cli_persona_lifecycle(cli: SunoCli, source: dict[str, Any]):
    made = cli.json("persona", source["id"], "--name", "Harbour Voice", "--description",
                    "a warm shanty singer", "--json")
    persona_id = made["data"]["persona_id"]
    assert made["success"] is True and persona_id, made

    listed = cli.json("personas", "--user-id", PERSONA_USER, "--json")
    mine = [p for p in listed["items"] if p["persona_id"] == persona_id]
    assert len(mine) == 1, listed
    assert mine[0]["name"] == "Harbour Voice" and mine[0]["description"] == "a warm shanty singer"
    assert mine[0]["source_audio_id"] == source["id"], mine

    out = cli.json("generate-persona", source["id"], "--persona-id", persona_id,
                   "-p", "A sunny afternoon on the pier", "--json")
    songs = succeeded(out["data"], 2)
    for song in songs:
        assert song["style"] == source["style"], (song["style"], source["style"])
    playable(songs[0])

    assert cli.json("persona-delete", persona_id, "--user-id", PERSONA_USER,
                    "--json") == {"success": True}
    listed = cli.json("personas", "--user-id", PERSONA_USER, "--json")
    assert persona_id not in [p["persona_id"] for p in listed["items"]], listed


def test_cli_upload_then_upload_extend_and_cover(cli: SunoCli, source: dict[str, Any]):
    uploaded = cli.json("upload", source["audio_url"], "--json")["data"]
    assert is_uuid(uploaded["audio_id"]) and uploaded["audio_id"] != source["id"], uploaded
    assert abs(uploaded["duration"] - source["duration"]) < 0.1, uploaded
    assert abs(mp3_seconds(uploaded["audio_url"]) - source["duration"]) < 0.1, uploaded

    extended = succeeded(cli.json("upload-extend", uploaded["audio_id"], "-l",
                                  "[Verse]\nNew words for an old tune", "--continue-at", "20",
                                  "--json")["data"], 2)
    for song in extended:
        assert song["lyric"] == "[Verse]\nNew words for an old tune" and song["duration"] > 20
    playable(extended[0])

    covered = succeeded(cli.json("upload-cover", uploaded["audio_id"], "-s", "lofi, chill",
                                 "--json")["data"], 2)
    assert all(song["style"] == "lofi, chill" for song in covered), covered
    playable(covered[0])


def test_cli_availability(cli: SunoCli, source: dict[str, Any]):
    out = cli.json("availability", source["id"], "--json")
    assert out["success"] is True, out
    assert out["data"]["audio_id"] == source["id"] and out["data"]["available"] is True, out


def model_of(answer: dict[str, Any]) -> dict[str, Any]:
    """A custom model as an answer shows it (in ``data``, or the answer itself)."""
    data = answer.get("data", answer)
    assert isinstance(data, dict) and "status" in data, answer
    return data


def models_in(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The custom models a listing shows."""
    for found in (answer.get("items"), answer.get("data"),
                  (answer.get("data") or {}).get("items") if isinstance(answer.get("data"),
                                                                        dict) else None):
        if isinstance(found, list):
            return found
    raise AssertionError(f"no list of models in {answer}")


def train(sim: Sim, retrieve: Callable[[], dict[str, Any]], steps: int = 60,
          step_seconds: float = 120.0) -> list[str]:
    """Retrieve the model, moving the clock on between reads, until it is ready; the
    statuses seen on the way (the create answer's ``queued`` first), which must follow
    queued → uploading → training → ready."""
    seen = ["queued"]
    for _ in range(steps):
        status = model_of(retrieve())["status"]
        if seen[-1] != status:
            seen.append(status)
        assert status in MODEL_STATES, seen
        assert [MODEL_STATES.index(s) for s in seen] == sorted(
            MODEL_STATES.index(s) for s in seen), seen
        if status == "ready":
            return seen
        sim.advance(step_seconds)
    raise AssertionError(f"the custom model was not ready after {steps * step_seconds:g} "
                         f"simulated seconds: {seen}")


def test_cli_custom_model_lifecycle(cli: SunoCli, ace: Sim):
    urls = [arg for url in TRAINING_URLS for arg in ("--audio-url", url)]
    created = cli.json("custom-model-create", "-n", "My Band", *urls, "--json")
    assert created["success"] is True and created["task_id"], created
    model = model_of(created)
    assert model["status"] == "queued" and model["id"], created
    model_id = model["id"]

    train(ace, lambda: cli.json("custom-model", model_id))
    record = model_of(cli.json("custom-model", model_id))
    assert record["id"] == model_id and record["name"] == "My Band", record

    listed = models_in(cli.json("custom-models"))
    assert [m["status"] for m in listed if m["id"] == model_id] == ["ready"], listed
    ready = models_in(cli.json("custom-models", "--status", "ready"))
    assert model_id in [m["id"] for m in ready] and all(m["status"] == "ready" for m in ready)

    out = cli.json("custom-model-generate", model_id, "-t", "Neon Rain", "-l", LYRIC,
                   "-s", "indie rock", "--json")
    task_id = submitted(out)
    songs = succeeded(cli_done(cli, task_id)["response"]["data"], 2)
    assert all(s["title"] == "Neon Rain" and s["lyric"] == LYRIC for s in songs), songs
    playable(songs[0])

    deleted = cli.json("custom-model-delete", model_id, "--json")
    assert deleted.get("success", True) is True, deleted
    assert model_of(cli.json("custom-model", model_id))["status"] == "archived"
    refused, _ = cli.run("custom-model-generate", model_id, "-t", "Again", "-l", LYRIC,
                         "-s", "indie rock", "--json")
    assert refused.returncode != 0, "an archived model must not generate"


def test_cli_generate_with_duration(cli: SunoCli):
    """``--duration`` is honoured in custom mode on chirp-v5-5 and later (here the CLI's
    default model); the provider documents a 400 for any other combination, and the
    simple mode of ``suno generate`` is one."""
    out = cli.json("custom", "-l", LYRIC, "-t", "Bakery Jingle", "-s", "bright pop, ukulele",
                   "--duration", "60", "--json")
    songs = succeeded(out["data"], 2)
    for song in songs:
        assert abs(song["duration"] - 60) <= 6, song  # near the target, not exactly on it
    playable(songs[0])
    request = cli.json("task", out["task_id"], "--json")["request"]
    assert request["duration"] == 60 and request["model"] == CLI_DEFAULT_MODEL, request

    refused, seen = cli.run("generate", "A short jingle for a bakery", "--duration", "60",
                            "--json")
    assert refused.returncode == 1 and "duration" in refused.stderr, seen
    assert "-> 400 " in seen and '"code":"bad_request"' in seen, seen


def test_cli_clip_usable_once_its_state_reads_succeeded(cli: SunoCli, ace: Sim):
    """While the second song is still being made, the first one, once its state reads
    succeeded, already works as the source of another action."""
    assert ace.admin("PUT", "/clock", json={"mode": "manual"}).status_code == 200
    try:
        task_id = submitted(cli.json("generate", "A waltz for a rainy day", "--async",
                                     "--json"))
        early = None
        for _ in range(200):
            record = cli.json("task", task_id, "--json")
            songs = (record.get("response") or {}).get("data") or []
            ready = [s for s in songs if s["state"] == "succeeded"]
            if ready and "finished_at" not in record:
                early = ready[0]
                break
            assert "finished_at" not in record, (
                "the task finished without a moment where only one song had succeeded", record)
            ace.advance(2)
        assert early is not None, "no song ever read succeeded"
        extension = submitted(cli.json("extend", early["id"], "--continue-at", "10", "--async",
                                       "--json"))
    finally:
        ace.admin("PUT", "/clock", json={"mode": "scaled", "speed": SPEED})
    succeeded(cli_done(cli, extension)["response"]["data"], 2)


# -- mcp-suno ----------------------------------------------------------------------------
MCP_TOOLS = {"suno_generate_music", "suno_generate_custom_music", "suno_get_task",
             "suno_get_tasks_batch", "suno_extend_music", "suno_cover_music",
             "suno_stems_music", "suno_generate_lyrics", "suno_get_mp4", "suno_get_wav",
             "suno_get_timing", "suno_create_persona", "suno_list_personas",
             "suno_generate_with_persona", "suno_upload_audio", "suno_create_custom_model",
             "suno_get_custom_model", "suno_list_custom_models"}


def mcp_poll(mcp: McpSuno, sim: Sim, task_id: str, wait: bool = True,
             polls: int = 4) -> dict[str, Any]:
    """``suno_get_task`` until it reads complete. The tool sleeps 5 s whenever the task is
    not done, so the fast clock is let finish the task first (``wait``)."""
    if wait:
        settled(sim, task_id)
    for _ in range(polls):
        record = mcp.json("suno_get_task", task_id=task_id)
        polling = record["mcp_task_polling"]
        assert record["id"] == task_id and polling["task_id"] == task_id, record
        assert not polling["is_failed"], record
        if polling["is_complete"]:
            assert record["response"]["success"] is True and not polling["should_poll"]
            return record
        assert polling["should_poll"] is True and polling["state"], record
    raise AssertionError(f"suno_get_task did not read complete in {polls} polls")


def test_mcp_lists_the_tools(mcp: McpSuno):
    assert MCP_TOOLS <= set(mcp.tools), sorted(MCP_TOOLS - set(mcp.tools))


def test_mcp_generate_music_then_get_task(mcp: McpSuno, ace: Sim):
    out = mcp.json("suno_generate_music", prompt="Epic orchestral battle music")
    task_id = submitted(out)
    assert out["mcp_async_submission"]["task_id"] == task_id, out
    # Polled at once the task is still being made: the tool says to poll again.
    first = mcp.json("suno_get_task", task_id=task_id)
    assert first["id"] == task_id and first["request"]["async"] is True, first
    # mcp-suno sends "callback_url": null with async: true
    assert first["request"].get("callback_url") is None, first["request"]
    assert first["request"]["model"] == MCP_DEFAULT_MODEL, first["request"]
    record = mcp_poll(mcp, ace, task_id, wait=False) if not first["mcp_task_polling"][
        "is_complete"] else first
    songs = succeeded(record["response"]["data"], 2)
    for song in songs:
        assert song["prompt"] == "Epic orchestral battle music", song
    playable(songs[0])


def test_mcp_generate_custom_music_with_duration(mcp: McpSuno, ace: Sim):
    task_id = submitted(mcp.json("suno_generate_custom_music", lyric=LYRIC, title="Harbour Song",
                                 style="sea shanty, accordion", duration=45,
                                 negative_tags="autotune"))
    songs = succeeded(mcp_poll(mcp, ace, task_id)["response"]["data"], 2)
    for song in songs:
        assert song["title"] == "Harbour Song" and song["lyric"] == LYRIC, song
        assert abs(song["duration"] - 45) <= 4.5, song
    playable(songs[0])


def test_mcp_get_tasks_batch(mcp: McpSuno, ace: Sim, mcp_source):
    done_id, songs = mcp_source
    pending_id = submitted(mcp.json("suno_generate_music", prompt="A slow blues in E"))
    answer = mcp.call("suno_get_tasks_batch", task_ids=[done_id, pending_id])["text"]
    assert answer.startswith("Total Tasks: 2"), answer
    blocks = {b.split(" ===", 1)[0]: b for b in answer.split("=== Task: ")[1:]}
    assert set(blocks) == {done_id, pending_id}, answer
    assert "State: complete" in blocks[done_id] and "Success: True" in blocks[done_id], answer
    for song in songs:
        assert f"{song['title']}: {song['audio_url']}" in blocks[done_id], answer
    settled(ace, pending_id)
    answer = mcp.call("suno_get_tasks_batch", task_ids=[pending_id])["text"]
    assert "State: complete" in answer and answer.count("/audio.mp3") == 2, answer


def test_mcp_extend_music(mcp: McpSuno, ace: Sim, mcp_source):
    _, (song, _) = mcp_source
    task_id = submitted(mcp.json("suno_extend_music", audio_id=song["id"],
                                 lyric="[Outro]\nAnd the river runs on", continue_at=30))
    songs = succeeded(mcp_poll(mcp, ace, task_id)["response"]["data"], 2)
    for extension in songs:
        assert extension["lyric"] == "[Outro]\nAnd the river runs on", extension
        assert extension["duration"] > 30, extension
    playable(songs[0])


def test_mcp_cover_music(mcp: McpSuno, ace: Sim, mcp_source):
    _, (song, _) = mcp_source
    task_id = submitted(mcp.json("suno_cover_music", audio_id=song["id"],
                                 prompt="an acoustic unplugged version",
                                 style="acoustic folk, gentle guitar"))
    songs = succeeded(mcp_poll(mcp, ace, task_id)["response"]["data"], 2)
    assert all(s["style"] == "acoustic folk, gentle guitar" for s in songs), songs
    playable(songs[0])


def test_mcp_stems_music(mcp: McpSuno, ace: Sim, mcp_source):
    _, (song, _) = mcp_source
    task_id = submitted(mcp.json("suno_stems_music", audio_id=song["id"]))
    tracks = succeeded(mcp_poll(mcp, ace, task_id)["response"]["data"], 2)
    assert [t["title"] for t in tracks] == [f"{song['title']} - Vocals",
                                           f"{song['title']} - Instrumental"], tracks
    playable(tracks[0])


def test_mcp_generate_lyrics(mcp: McpSuno):
    out = mcp.json("suno_generate_lyrics", prompt="An upbeat pop song about summer vacation")
    assert out["success"] is True and len(out["data"]) == 2, out
    for variation in out["data"]:
        assert variation["title"] and "[Verse" in variation["text"], variation


def test_mcp_get_mp4(mcp: McpSuno, mcp_source):
    _, (song, _) = mcp_source
    out = mcp.json("suno_get_mp4", audio_id=song["id"])
    assert out["success"] is True, out
    assert is_mp4(fetch(out["data"]["video_url"], "video/mp4"))


def test_mcp_get_wav(mcp: McpSuno, ace: Sim, mcp_source):
    _, (song, _) = mcp_source
    task_id = submitted(mcp.json("suno_get_wav", audio_id=song["id"]))  # sent with async
    record = mcp_poll(mcp, ace, task_id)
    samples, rate = wav_samples(record["response"]["data"][0]["file_url"])
    assert abs(len(samples) / rate - song["duration"]) < 0.1, (len(samples) / rate, song)


def test_mcp_get_timing(mcp: McpSuno, mcp_source):
    _, (song, _) = mcp_source
    out = mcp.json("suno_get_timing", audio_id=song["id"])
    words = out["data"]["aligned_words"]
    assert "".join(w["word"] for w in words).split() == song["lyric"].split(), words[:5]


def test_mcp_persona_then_generate_with_it(mcp: McpSuno, ace: Sim, mcp_source):
    _, (song, _) = mcp_source
    made = mcp.json("suno_create_persona", audio_id=song["id"], name="River Voice",
                    description="soft and breathy")
    persona_id = made["data"]["persona_id"]
    listed = mcp.json("suno_list_personas", user_id=PERSONA_USER)
    mine = [p for p in listed["items"] if p["persona_id"] == persona_id]
    assert len(mine) == 1 and mine[0]["name"] == "River Voice", listed
    task_id = submitted(mcp.json("suno_generate_with_persona", audio_id=song["id"],
                                 persona_id=persona_id, prompt="A new song about the delta"))
    songs = succeeded(mcp_poll(mcp, ace, task_id)["response"]["data"], 2)
    assert all(s["style"] == song["style"] for s in songs), (songs, song["style"])
    playable(songs[0])


def test_mcp_upload_audio(mcp: McpSuno, mcp_source):
    _, (song, _) = mcp_source
    out = mcp.json("suno_upload_audio", audio_url=song["audio_url"])
    uploaded = out["data"]
    assert out["success"] is True and is_uuid(uploaded["audio_id"]), out
    assert abs(mp3_seconds(uploaded["audio_url"]) - song["duration"]) < 0.1, uploaded


def test_mcp_custom_models(mcp: McpSuno, ace: Sim):
    created = mcp.json("suno_create_custom_model", name="River Band", audio_urls=TRAINING_URLS)
    assert created["success"] is True and created["task_id"], created
    model = model_of(created)
    assert model["status"] == "queued" and model["id"], created
    model_id = model["id"]
    train(ace, lambda: mcp.json("suno_get_custom_model", id=model_id))
    listed = models_in(mcp.json("suno_list_custom_models", status="ready"))
    assert model_id in [m["id"] for m in listed], listed
    everything = models_in(mcp.json("suno_list_custom_models", limit=50))
    assert [m["status"] for m in everything if m["id"] == model_id] == ["ready"], everything
