"""acedata (seed 002): Suno through the acedata gateway.

``POST /suno/audios`` takes an ``action`` and answers in one of three ways: it waits for
the songs (the default), streams snapshots of the task as NDJSON (``accept:
application/x-ndjson``), or, with ``async: true``, returns the task id at once for
``POST /suno/tasks`` (``{"action": "retrieve", "id"}``) to follow. The driver uses the
asynchronous form.

A task record carries no status word of its own: the driver reads one from its shape.
No ``response`` yet is ``pending``; a partial response (no ``success``) is ``running``;
the final one is ``succeeded`` (``success: true``) or ``failed`` (``success: false`` and
the error). The answer of an asynchronous submit (the task id only) is ``pending`` too.

Each chain case makes one source song (custom lyrics, title and style) and runs the
actions that need a song on it at once; where an action's result can be compared with
its source, the samples are (through ``/suno/wav``): an extension keeps the song's head,
stems add up to it, a replaced section changes only its window, a mashup mixes its songs.
Errors are ``{"error": {"code", "message"}, "trace_id"}``; a task's adds ``success:
false`` and ``task_id``.
"""

from __future__ import annotations

import asyncio
import io
import time
import tomllib
import wave
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from simulator.resources import resource_dir
from ..case import (CREDITS, RECEIVER, SECOND_KEY, SIMULATOR, UPSTREAM_ADMIN, Catalog,
                    CaseFailed, Skipped, expect)
from ..common import AUDIO_TOLERANCE_S, check_media
from ..dialect import Driver, Invalid, Media

if TYPE_CHECKING:
    from ..context import Answer, Context

AUDIOS, TASKS = "/suno/audios", "/suno/tasks"
NDJSON = "application/x-ndjson"
PRICES: dict[str, float] = tomllib.loads(
    (resource_dir("fixtures") / "prices.toml").read_text(encoding="utf-8"))["acedata"]
LYRIC = ("[Verse]\nSnowflakes falling on the ground\nEvery window glowing bright\n"
         "[Chorus]\nUnder the mistletoe tonight\nHold me close and hold me tight")
SOURCE = {"action": "generate", "custom": True, "lyric": LYRIC, "title": "Conformance Source",
          "style": "pop, piano"}
URLS = [f"https://files.example.com/reference-{i}.mp3" for i in range(5)]
UNKNOWN_AUDIO = "00000000-0000-4000-8000-00000000a0d1"
POLL_AT_MOST = 0.25  # seconds between polls of one task, at the least
SAME = 0.99  # two signals this alike (normalised correlation) are the same audio


class Acedata(Driver):
    provider = "acedata"
    seed = "seed 002"
    ranks = {"pending": 0, "running": 1, "succeeded": 2, "failed": 2}
    succeeded = "succeeded"
    failed = frozenset({"failed"})
    price = PRICES["generate"]  # one generation request (two songs)
    callback_stages = ("complete",)  # one delivery: the final result
    unknown_id = "00000000-0000-4000-8000-000000000000"
    unknown_status = 404  # not_found
    missing_key_status = 400  # no_token (specs/acedata.yaml, BadRequest); a wrong key is 401
    rate_headers = ("Retry-After",)
    callback_schema = "AudiosResponse"  # the callback is the final answer of the task
    insufficient_status = 403  # used_up
    expires = False  # the seed keeps results

    def song_request(self, prompt: str, callback_url: str | None = None):
        body: dict[str, Any] = {"action": "generate", "prompt": prompt[:200], "async": True}
        if callback_url:
            body["callback_url"] = callback_url
        return "POST", AUDIOS, body

    def poll_request(self, task_id: str):
        return "POST", TASKS, {"action": "retrieve", "id": task_id}

    def task_id_of(self, data: Any) -> str:
        if not isinstance(data, dict):
            return None
        return data.get("task_id") or data.get("id")

    def status_of(self, data: Any) -> str:
        if not isinstance(data, dict):
            return None
        if "_id" in data:  # a task record of /suno/tasks
            response = data.get("response")
            if not isinstance(response, dict):
                return "pending"
            if "success" not in response:
                return "running"
            data = response
        if data.get("success") is False or "error" in data:
            return "failed"
        if "data" in data:  # a finished answer: waited for, streamed or retrieved
            return "succeeded" if data.get("success") is True else "running"
        return "pending"  # the answer of an asynchronous request: the task id only

    def songs_of(self, data: Any) -> list[dict[str, Any]]:
        if isinstance(data, dict) and "_id" in data:
            data = data.get("response") or {}
        songs = data.get("data") if isinstance(data, dict) else None
        return [s for s in songs if isinstance(s, dict)] if isinstance(songs, list) else []

    def media_of(self, data: Any) -> list[Media]:
        media = []
        for song in self.songs_of(data):
            if song.get("audio_url"):
                media.append(Media(song["audio_url"], "audio", song.get("duration")))
            for name in ("image_url", "image_large_url"):
                if song.get(name):
                    media.append(Media(song[name], "image"))
            if song.get("video_url"):
                media.append(Media(song["video_url"], "video"))
        return media

    def callback_stage(self, payload: Any) -> str:
        if not isinstance(payload, dict):
            return None
        return "complete" if payload.get("success") is True else "error"

    def invalid_requests(self) -> list[Invalid]:
        base = {"action": "generate", "prompt": "a song about rules", "async": True}
        return [
            Invalid("prompt-too-long", {**base, "prompt": "x" * 201}, 400,
                    "prompt is no longer than 200 characters"),
            Invalid("unknown-action", {**base, "action": "dance"}, 400,
                    "action is one of the documented operations"),
            Invalid("unknown-model", {**base, "model": "chirp-v9"}, 400,
                    "model names a model of the service (chirp-v4 by default)"),
            Invalid("prompt-required", {"action": "generate", "async": True}, 400,
                    "without custom the audio is generated from the prompt: it is required"),
            Invalid("lyric-required", {"action": "generate", "custom": True, "async": True}, 400,
                    "with custom the audio is generated from the lyrics (or lyric_prompt)"),
            Invalid("extend-needs-audio-id", {"action": "extend", "continue_at": 10,
                                              "async": True}, 400,
                    "audio_id is required when action is extend"),
            Invalid("concat-needs-audio-id", {"action": "concat", "async": True}, 400,
                    "audio_id is required when action is concat"),
            Invalid("mashup-needs-ids", {"action": "mashup", "async": True}, 400,
                    "mashup_audio_ids is required when action is mashup"),
            Invalid("inspo-needs-urls", {**base, "action": "inspo"}, 400,
                    "audio_urls is mandatory when action is inspo"),
            Invalid("inspo-no-urls", {**base, "action": "inspo", "audio_urls": []}, 400,
                    "audio_urls holds 1 to 4 addresses (none given)"),
            Invalid("inspo-five-urls", {**base, "action": "inspo", "audio_urls": URLS}, 400,
                    "audio_urls holds 1 to 4 addresses (five given)"),
            Invalid("variation-category-value", {**base, "model": "chirp-v5",
                                                 "variation_category": "wild"}, 400,
                    "variation_category is one of high, normal, subtle"),
            Invalid("variation-category-before-v5", {**base, "model": "chirp-v4-5",
                                                     "variation_category": "high"}, 400,
                    "variation_category only supports v5 and above"),
            Invalid("variation-category-default-model", {**base, "variation_category": "high"},
                    400, "variation_category only supports v5 and above (chirp-v4 by default)"),
            Invalid("vocal-gender", {**base, "vocal_gender": "x"}, 400,
                    "vocal_gender is 'm' or 'f'"),
            Invalid("weirdness-range", {**base, "weirdness": 1.5}, 400,
                    "weirdness ranges from 0 to 1"),
            Invalid("style-influence-range", {**base, "style_influence": -0.1}, 400,
                    "style_influence ranges from 0 to 1"),
            Invalid("audio-weight-range", {**base, "audio_weight": 1.2}, 400,
                    "audio_weight ranges from 0 to 1"),
            Invalid("custom-boolean", {**base, "custom": "yes"}, 400, "custom is a boolean"),
            Invalid("instrumental-boolean", {**base, "instrumental": "no"}, 400,
                    "instrumental is a boolean"),
            Invalid("async-boolean", {**base, "async": "true"}, 400, "async is a boolean"),
            Invalid("body-not-json", b"{nope", 400, "a body that is not JSON is refused"),
            Invalid("body-not-object", [1, 2], 400, "a body that is not an object is refused"),
            Invalid("tasks-needs-id", {"action": "retrieve"}, 400,
                    "retrieving a task needs its id", path=TASKS),
            Invalid("tasks-unknown-action", {"action": "delete", "id": self.unknown_id}, 400,
                    "a task query is retrieve or retrieve_batch", path=TASKS),
            Invalid("tasks-batch-too-long", {"action": "retrieve_batch",
                                             "ids": [self.unknown_id] * 51}, 400,
                    "retrieve_batch takes at most 50 ids", path=TASKS),
        ]


DRIVER = Acedata()


# --- helpers --------------------------------------------------------------------------


def keyed(key: str | None) -> dict[str, Any]:
    return {} if key is None else {"key": key}


def spend(ctx: "Context", credits: float) -> None:
    ctx.spend(credits / DRIVER.price)


def error_code(answer: "Answer") -> str | None:
    data = answer.data
    error = data.get("error") if isinstance(data, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def refused(answer: "Answer", status: int, code: str, what: str) -> None:
    expect(answer.status == status and error_code(answer) == code,
           f"{what}: expected {status} {code}, got {answer}")
    expect(answer.data.get("trace_id"), f"{what}: the error has no trace_id: {answer}")


async def accepted(ctx: "Context", body: dict[str, Any],
                   key: str | None = None) -> dict[str, Any]:
    """Submit an action asynchronously; the answer (the task id)."""
    answer = await ctx.call("POST", AUDIOS, json={**body, "async": True}, **keyed(key))
    what = body.get("action", "generate")
    expect(answer.status == 200, f"submitting {what}: {answer}")
    data = answer.data if isinstance(answer.data, dict) else {}
    expect(data.get("success") is True and data.get("task_id"),
           f"submitting {what}: no task id: {answer}")
    expect("data" not in data, f"an asynchronous {what} answered with songs: {answer}")
    ctx.observe(data["task_id"], DRIVER.status_of(data))
    return data


def patience(ctx: "Context") -> float:
    """How often these cases poll one task: no more than four times a second, so that a
    gateway, where every case shares one key, keeps the run's concurrent tasks under the
    dialect's rate limit (20 requests a second in the simulator)."""
    return max(ctx.run.poll_every, POLL_AT_MOST)


async def follow(ctx: "Context", task_id: str, key: str | None = None,
                 seen: list[dict[str, Any]] | None = None) -> "Answer":
    """Poll a task until it ends, keeping every record in ``seen``; the last answer."""
    deadline = time.monotonic() + ctx.run.timeout
    while True:
        answer = await ctx.poll(task_id, **keyed(key))
        if seen is not None:
            seen.append(answer.data)
        word = DRIVER.status_of(answer.data)
        if word in DRIVER.terminal:
            return answer
        expect(time.monotonic() < deadline,
               f"task {task_id} still {word!r} after {ctx.run.timeout:g} s")
        await asyncio.sleep(patience(ctx))


async def made(ctx: "Context", body: dict[str, Any], key: str | None = None,
               count: int | None = 2,
               seen: list[dict[str, Any]] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """An action run to its end: submitted, polled to success; its task id and songs."""
    action = body.get("action", "generate")
    spend(ctx, PRICES[action])
    task_id = (await accepted(ctx, body, key))["task_id"]
    final = await follow(ctx, task_id, key, seen)
    word = DRIVER.status_of(final.data)
    expect(word == DRIVER.succeeded, f"{action} task {task_id} ended {word!r}: {final}")
    songs = DRIVER.songs_of(final.data)
    if count is not None:
        expect(len(songs) == count, f"{action} made {len(songs)} songs, expected {count}")
    for song in songs:
        expect(song.get("state") == "succeeded" and song.get("audio_url") and song.get("id"),
               f"{action} task {task_id} succeeded with an unfinished song: {song}")
    return task_id, songs


async def source(ctx: "Context") -> dict[str, Any]:
    """A source song for the case (custom lyrics, title and style): its task, its songs,
    every record polled, the request sent and where its callback goes."""
    body = dict(SOURCE)
    hook = None
    if ctx.run.receiver is not None:  # its callback is checked by callbacks.result
        hook = f"acedata-source-{ctx.token}"
        body["callback_url"] = ctx.run.receiver.address(hook)
    seen: list[dict[str, Any]] = []
    task_id, songs = await made(ctx, body, seen=seen)
    return {"task_id": task_id, "song": songs[0], "songs": songs, "records": seen,
            "request": {**body, "async": True}, "hook": hook}


async def real(ctx: "Context", song: dict[str, Any]) -> None:
    """The song's audio link serves audio of its claimed duration."""
    await check_media(ctx, Media(song["audio_url"], "audio", song.get("duration")))


async def companion(ctx: "Context", name: str, body: dict[str, Any],
                    key: str | None = None) -> Any:
    """A companion endpoint answered at once; its ``data``."""
    spend(ctx, PRICES[name])
    answer = await ctx.call("POST", f"/suno/{name}", json=body, **keyed(key))
    expect(answer.status == 200, f"/suno/{name}: {answer}")
    data = answer.data if isinstance(answer.data, dict) else {}
    expect(data.get("success") is True and data.get("task_id") and "data" in data,
           f"/suno/{name} answered without its result: {answer}")
    return data["data"]


async def pcm(ctx: "Context", audio_id: str) -> tuple[np.ndarray, int]:
    """A song's samples, through its WAV file (``/suno/wav``)."""
    files = await companion(ctx, "wav", {"audio_id": audio_id})
    expect(isinstance(files, list) and files and files[0].get("file_url"),
           f"/suno/wav of {audio_id} names no file: {files}")
    got = await ctx.fetch(files[0]["file_url"])
    expect(got.status == 200, f"the WAV of {audio_id}: {got.status}")
    expect((got.header("content-type") or "").startswith("audio/"),
           f"the WAV of {audio_id} serves {got.header('content-type')!r}")
    try:
        with wave.open(io.BytesIO(got.body)) as reader:
            width, channels = reader.getsampwidth(), reader.getnchannels()
            rate, frames = reader.getframerate(), reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise CaseFailed(f"the WAV of {audio_id} does not decode: {exc}")
    kinds = {1: np.uint8, 2: np.dtype("<i2"), 4: np.dtype("<i4")}
    expect(width in kinds, f"the WAV of {audio_id} has {width}-byte samples")
    samples = np.frombuffer(frames, kinds[width]).astype(np.float64)
    if width == 1:
        samples -= 128
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples / float(2 ** (8 * width - 1)), rate


def likeness(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation of two signals over their common length (1: the same)."""
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    scale = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b)) / scale if scale else 0.0


def part(samples: np.ndarray, rate: int, start: float, end: float | None = None) -> np.ndarray:
    return samples[int(start * rate):None if end is None else int(end * rate)]


def near(a: float | None, b: float | None, tolerance: float = AUDIO_TOLERANCE_S) -> bool:
    return a is not None and b is not None and abs(a - b) <= tolerance


async def each(checks: dict[str, Any]) -> None:
    """Run named checks at once; fail naming every one that failed."""
    results = await asyncio.gather(*checks.values(), return_exceptions=True)
    failures = []
    for name, result in zip(checks, results):
        if isinstance(result, CaseFailed):
            failures.append(f"{name}: {result}")
        elif isinstance(result, BaseException):
            raise result
    expect(not failures, "; ".join(failures))


async def balance(ctx: "Context", key: str) -> float:
    return float((await ctx.admin.call("GET", f"/accounts/{key}"))["credits"])


async def fresh_key(ctx: "Context", credits: float) -> str:
    """A new key of the simulator under test, with ``credits`` (direct runs only)."""
    if not ctx.run.direct:
        raise Skipped("the dialect shows no balance: needs the simulator itself as the target")
    return (await ctx.admin.call("POST", "/accounts", {"credits": credits}))["api_key"]


# --- the dialect's own cases ------------------------------------------------------------


def add_cases(catalog: Catalog, driver: Acedata) -> None:
    # The longest cases come first, so that a run packs them best.
    seed = driver.seed
    _task_cases(catalog, driver, seed)
    _credit_cases(catalog, driver, seed)
    _chain_cases(catalog, driver, seed)
    _scenario_cases(catalog, driver, seed)
    _callback_cases(catalog, driver, seed)
    _companion_cases(catalog, driver, seed)


def _task_cases(catalog: Catalog, driver: Acedata, seed: str) -> None:
    @catalog.case("async-record", "async answers the task id at once; the task record "
                  "echoes the request and fills in as the task runs",
                  seed=f"{seed}: request body (async)", area="scenarios", needs=[CREDITS],
                  cost=1)
    async def async_record(ctx: "Context") -> None:
        made_source = await source(ctx)
        task_id, records = made_source["task_id"], made_source["records"]
        expect(len(records) >= 2, f"task {task_id} was seen {len(records)} time(s)")
        for record in records:
            expect(record.get("id") == task_id and record.get("type") == "audios",
                   f"retrieving {task_id} shows {record.get('id')!r} of type "
                   f"{record.get('type')!r}")
            expect(record.get("request") == made_source["request"],
                   f"the record's request is not what was sent: {record.get('request')}")
            if driver.status_of(record) == "running":
                for song in driver.songs_of(record):
                    expect(song["state"] in ("pending", "running", "succeeded"),
                           f"a running task shows a song {song['state']!r}")
                    expect(song["state"] != "succeeded" or song["audio_url"],
                           f"a succeeded song without audio: {song}")
            elif driver.status_of(record) == "pending":
                expect("finished_at" not in record, f"a pending task has ended: {record}")
        final = records[-1]
        expect("finished_at" in final and "elapsed" in final,
               f"a finished record lacks finished_at or elapsed: {sorted(final)}")
        expect(final["created_at"] <= final.get("started_at", final["created_at"])
               <= final["finished_at"], f"the record's times are out of order: {final}")
        expect(abs(final["finished_at"] - final["created_at"] - final["elapsed"]) < 0.01,
               f"elapsed {final['elapsed']} is not finished_at - created_at")
        response = final["response"]
        expect(response.get("task_id") == task_id and response.get("trace_id"),
               f"the final response names another task or no trace: {response}")
        expect([s["state"] for s in driver.songs_of(final)] == ["succeeded", "succeeded"],
               f"the final response's songs: {driver.songs_of(final)}")

    @catalog.case("batch", "retrieve_batch shows the key's tasks and leaves out unknown ids",
                  seed=f"{seed}: task query", area="ids", needs=[CREDITS], cost=1)
    async def batch(ctx: "Context") -> None:
        ctx.spend()
        mine = (await accepted(ctx, driver.song_request(ctx.marker("batch"))[2]))["task_id"]
        answer = await ctx.call("POST", TASKS, json={"action": "retrieve_batch",
                                                     "ids": [driver.unknown_id, mine]})
        expect(answer.status == 200, f"a batch retrieve: {answer}")
        expect(answer.data.get("count") == 1 and [t.get("id") for t in answer.data["items"]]
               == [mine], f"a batch of one known and one unknown id: {answer}")

    @catalog.case("foreign-batch", "retrieve_batch never shows another key's task",
                  seed=f"{seed}: task query", area="ids", needs=[CREDITS, SECOND_KEY], cost=1)
    async def foreign_batch(ctx: "Context") -> None:
        ctx.spend()
        mine = (await accepted(ctx, driver.song_request(ctx.marker("batch"))[2]))["task_id"]
        answer = await ctx.call("POST", TASKS, key=ctx.run.second_key,
                                json={"action": "retrieve_batch", "ids": [mine]})
        expect(answer.status == 200, f"a batch retrieve: {answer}")
        expect(answer.data.get("count") == 0 and answer.data.get("items") == [],
               f"another key's batch showed task {mine}: {answer}")

    @catalog.case("unknown-audio", "An action on an audio_id that does not exist is refused",
                  seed=f"{seed}: request body (audio_id)", area="ids")
    async def unknown_audio(ctx: "Context") -> None:
        for action, extra in (("extend", {"continue_at": 10}), ("cover", {}), ("stems", {})):
            answer = await ctx.call("POST", AUDIOS, json={"action": action, "async": True,
                                                          "audio_id": UNKNOWN_AUDIO, **extra})
            refused(answer, 400, "bad_request", f"{action} of an unknown audio_id")
            expect("success" not in answer.data, f"a refused request made a task: {answer}")

    @catalog.case("foreign-audio", "Another key cannot act on a key's song",
                  seed=f"{seed}: request body (audio_id)", area="ids",
                  needs=[CREDITS, SECOND_KEY], cost=1)
    async def foreign_audio(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        for action, extra in (("extend", {"continue_at": 10}), ("cover", {})):
            answer = await ctx.call("POST", AUDIOS, key=ctx.run.second_key,
                                    json={"action": action, "async": True,
                                          "audio_id": song["id"], **extra})
            refused(answer, 400, "bad_request", f"another key's {action} of {song['id']}")

    @catalog.case("error-shape", "Errors are {error: {code, message}, trace_id} with the "
                  "dialect's codes", seed=f"{seed}: request headers (authorization)",
                  area="auth")
    async def error_shape(ctx: "Context") -> None:
        method, path, body = driver.song_request(ctx.marker())
        wrong = await ctx.call(method, path, json=body, key="sk-acedata-conformance-wrong")
        refused(wrong, 401, "invalid_token", "a wrong token")
        unknown = await driver.poll(ctx, driver.unknown_id)
        refused(unknown, 404, "not_found", "an unknown task")
        bad = await ctx.call(method, path, json={**body, "prompt": "x" * 201})
        refused(bad, 400, "bad_request", "a prompt over 200 characters")
        for answer in (wrong, unknown, bad):
            expect("success" not in answer.data and answer.data["error"].get("message"),
                   f"a platform error is not a task's and says why: {answer}")
        nothing = await ctx.call("POST", "/suno/nothing", json={})
        refused(nothing, 404, "no_api", "an endpoint that does not exist")


def _credit_cases(catalog: Catalog, driver: Acedata, seed: str) -> None:
    @catalog.case("prices", "Each action costs its price once it succeeds; a failed task "
                  "costs nothing", seed=f"{seed}: response (allow use general balance)",
                  area="credits", needs=[CREDITS, UPSTREAM_ADMIN, SIMULATOR], cost=5)
    async def prices(ctx: "Context") -> None:
        start = 20.0
        key = await fresh_key(ctx, start)
        _, songs = await made(ctx, {"action": "generate", "prompt": ctx.marker("priced")}, key)
        after = await balance(ctx, key)
        expect(abs(start - after - PRICES["generate"]) < 1e-6,
               f"a generation cost {start - after:g}, its price is {PRICES['generate']:g}")
        ctx.spend()
        failing = (await accepted(ctx, {"action": "generate",
                                        "prompt": ctx.marker("[sim:fail] unpaid")}, key))
        await asyncio.gather(
            made(ctx, {"action": "concat", "audio_id": songs[0]["id"]}, key, count=1),
            made(ctx, {"action": "all_stems", "audio_id": songs[0]["id"]}, key, count=None),
            follow(ctx, failing["task_id"], key))
        spent = after - await balance(ctx, key)
        expected = PRICES["concat"] + PRICES["all_stems"]
        expect(abs(spent - expected) < 1e-6,
               f"concat, all_stems and a failed song cost {spent:g}, expected {expected:g} "
               f"(concat {PRICES['concat']:g} + all_stems {PRICES['all_stems']:g} + 0)")

    @catalog.case("used-up", "A key without enough balance is refused with 403 used_up and "
                  "charged nothing", seed=f"{seed}: response (allow use general balance)",
                  area="credits", needs=[UPSTREAM_ADMIN])
    async def used_up(ctx: "Context") -> None:
        start = round(PRICES["generate"] / 2, 2)
        key = await fresh_key(ctx, start)
        method, path, body = driver.song_request(ctx.marker("too poor"))
        answer = await ctx.call(method, path, json=body, key=key)
        refused(answer, 403, "used_up", "a song on a key with half its price")
        expect(await balance(ctx, key) == start, "a refused request was charged")
        made_tasks = await ctx.admin.tasks_with(ctx.token, driver.provider)
        expect(not made_tasks, f"a refused request made tasks: {[t['id'] for t in made_tasks]}")


def _chain_cases(catalog: Catalog, driver: Acedata, seed: str) -> None:
    @catalog.case("extend-concat", "extend continues the song from continue_at; concat "
                  "stitches the extension into one track", seed=f"{seed}: request body "
                  "(action extend, concat; audio_id, continue_at)", area="chains",
                  needs=[CREDITS], cost=3)
    async def extend_concat(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        at = 20.0
        for bad, why in ((song["duration"] + 5, "past the end of the song"),
                         (-5, "negative")):
            answer = await ctx.call("POST", AUDIOS, json={
                "action": "extend", "audio_id": song["id"], "continue_at": bad, "async": True})
            refused(answer, 400, "bad_request", f"continue_at {why}")
        _, extended = await made(ctx, {"action": "extend", "audio_id": song["id"],
                                       "continue_at": at})
        for new in extended:
            expect(new["id"] != song["id"] and new["duration"] > at,
                   f"an extension of {song['id']} from {at} s: {new}")
            expect(new["title"] == song["title"] and new["style"] == song["style"],
                   f"the extension lost the title or style: {new['title']!r}, {new['style']!r}")
        (_, whole), (source_pcm, rate), (extension_pcm, _) = await asyncio.gather(
            made(ctx, {"action": "concat", "audio_id": extended[0]["id"]}, count=1),
            pcm(ctx, song["id"]), pcm(ctx, extended[0]["id"]))
        kept = likeness(part(source_pcm, rate, 0, at - 0.2),
                        part(extension_pcm, rate, 0, at - 0.2))
        expect(kept > SAME, f"the extension's first {at:g} s are not the song's "
                            f"(likeness {kept:.3f})")
        history = whole[0].get("concat_history") or []
        expect([h.get("id") for h in history] == [song["id"], extended[0]["id"]],
               f"concat_history {history} is not the song then its extension")
        expect(history[0].get("continue_at") == at,
               f"concat_history says the extension starts at {history[0].get('continue_at')}")
        expect(near(whole[0]["duration"], extended[0]["duration"]),
               f"the whole track lasts {whole[0]['duration']} s, the extension "
               f"{extended[0]['duration']} s")
        await real(ctx, whole[0])

    @catalog.case("remakes", "cover, remaster, replace_section, mashup and inspo each make "
                  "real new songs from the song", seed=f"{seed}: request body (action cover, "
                  "replace_section, remaster, mashup, inspo; audio_weight, variation_category, "
                  "replace_section_start/end, mashup_audio_ids, audio_urls)", area="chains",
                  needs=[CREDITS], cost=7)
    async def remakes(ctx: "Context") -> None:
        made_source = await source(ctx)
        song, other = made_source["songs"]
        heard = asyncio.ensure_future(pcm(ctx, song["id"]))

        async def cover() -> None:
            _, covers = await made(ctx, {"action": "cover", "audio_id": song["id"],
                                         "style": "jazz, brushed drums", "audio_weight": 0.7})
            for new in covers:
                expect(new["id"] != song["id"], "the cover is the song itself")
                expect(new["lyric"] == song["lyric"], f"the words differ: {new['lyric']!r}")
                expect(new["style"] == "jazz, brushed drums", f"the style: {new['style']!r}")
            (mix, rate), (samples, _) = await asyncio.gather(heard, pcm(ctx, covers[0]["id"]))
            expect(likeness(part(mix, rate, 0, 10), part(samples, rate, 0, 10)) < SAME,
                   "it sounds exactly like the song")

        async def remaster() -> None:
            _, new = await made(ctx, {"action": "remaster", "audio_id": song["id"],
                                      "model": "chirp-v5", "variation_category": "subtle"})
            for remastered in new:
                expect(remastered["id"] != song["id"] and remastered["lyric"] == song["lyric"]
                       and remastered["title"] == song["title"],
                       f"the remaster is not of {song['id']}: {remastered}")
                expect(near(remastered["duration"], song["duration"]),
                       f"it lasts {remastered['duration']} s, the song {song['duration']} s")
            await real(ctx, new[0])

        async def replace_section() -> None:
            start, end = 10.0, 20.0
            backwards = await ctx.call("POST", AUDIOS, json={
                "action": "replace_section", "audio_id": song["id"], "async": True,
                "replace_section_start": end, "replace_section_end": start})
            refused(backwards, 400, "bad_request", "a window that ends before it starts")
            _, new = await made(ctx, {"action": "replace_section", "audio_id": song["id"],
                                      "replace_section_start": start,
                                      "replace_section_end": end})
            history = new[0].get("concat_history") or [{}]
            expect(history[0].get("id") == song["id"] and history[0].get("infill") is True
                   and history[0].get("infill_start_s") == start
                   and history[0].get("infill_end_s") == end,
                   f"the history does not name the song and the window: {history}")
            expect(near(new[0]["duration"], song["duration"]),
                   f"replacing a section changed the length: {new[0]['duration']} s")
            (mix, rate), (samples, _) = await asyncio.gather(heard, pcm(ctx, new[0]["id"]))
            expect(likeness(part(mix, rate, 0, start - 1), part(samples, rate, 0, start - 1))
                   > SAME and likeness(part(mix, rate, end + 1), part(samples, rate, end + 1))
                   > SAME, "the song changed outside the replaced window")
            expect(likeness(part(mix, rate, start + 1, end - 1),
                            part(samples, rate, start + 1, end - 1)) < SAME,
                   "the replaced window sounds as before")

        async def mashup() -> None:
            _, mixed = await made(ctx, {"action": "mashup",
                                        "mashup_audio_ids": [song["id"], other["id"]]})
            longest = max(song["duration"], other["duration"])
            for new in mixed:
                expect(new["id"] not in (song["id"], other["id"]), "it answered a source")
                expect(new["duration"] <= longest + AUDIO_TOLERANCE_S,
                       f"it lasts {new['duration']} s, longer than both songs")
            (mix, _), (b, _), (m, _) = await asyncio.gather(heard, pcm(ctx, other["id"]),
                                                            pcm(ctx, mixed[0]["id"]))
            n = min(len(mix), len(b), len(m))
            basis = np.stack([mix[:n], b[:n]], axis=1)
            weights, *_ = np.linalg.lstsq(basis, m[:n], rcond=None)
            residual = m[:n] - basis @ weights
            fit = 1 - float(np.dot(residual, residual)) / max(float(np.dot(m[:n], m[:n])),
                                                              1e-12)
            expect(fit > 0.9 and min(weights) > 0.1,
                   f"not a mix of its two songs (fit {fit:.2f}, weights "
                   f"{weights[0]:.2f}, {weights[1]:.2f})")

        async def inspo() -> None:
            _, new = await made(ctx, {"action": "inspo", "audio_urls": [song["audio_url"]],
                                      "prompt": ctx.marker("more of this")})
            expect(all(s["id"] != song["id"] for s in new), "it answered its reference")
            if ctx.run.direct:
                expect(all(s["style"] == song["style"] for s in new),
                       f"songs inspired by a {song['style']!r} song: "
                       f"{[s['style'] for s in new]}")
            await real(ctx, new[0])

        await each({"cover": cover(), "remaster": remaster(),
                    "replace_section": replace_section(), "mashup": mashup(),
                    "inspo": inspo()})

    @catalog.case("stems", "stems (vocals and accompaniment) and all_stems (every "
                  "instrument) add up to the song", seed=f"{seed}: request body (action "
                  "stems, all_stems)", area="chains", needs=[CREDITS], cost=6)
    async def stems(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        heard = asyncio.ensure_future(pcm(ctx, song["id"]))

        async def separate(action: str, least: int) -> None:
            _, tracks = await made(ctx, {"action": action, "audio_id": song["id"]},
                                   count=2 if action == "stems" else None)
            titles = [t["title"] for t in tracks]
            expect(len(tracks) >= least, f"{len(tracks)} tracks: {titles}")
            expect(len(set(titles)) == len(titles), f"two tracks share a title: {titles}")
            expect(any("vocal" in t.lower() for t in titles), f"no vocal track in {titles}")
            for track in tracks:
                expect(near(track["duration"], song["duration"]),
                       f"a track lasts {track['duration']} s, the song {song['duration']} s")
            (mix, _), *decoded = await asyncio.gather(heard, *(pcm(ctx, t["id"]) for t in tracks))
            parts = [samples for samples, _ in decoded]
            n = min(map(len, [mix, *parts]))
            expect(likeness(sum(p[:n] for p in parts), mix[:n]) > SAME,
                   "the tracks do not add up to the song")
            for track, samples in zip(tracks, parts):
                expect(likeness(samples[:n], mix[:n]) < SAME,
                       f"{track['title']} is the whole song")
            await real(ctx, tracks[0])

        # all_stems: vocals, drums, bass, other instruments: at least three here
        await each({"stems": separate("stems", 2), "all_stems": separate("all_stems", 3)})

    @catalog.case("uploads", "An upload of the song can be extended, covered, underpainted, "
                  "overpainted and sampled, within its length", seed=f"{seed}: request body "
                  "(action upload_cover, upload_extend, underpainting, overpainting, samples; "
                  "*_start, *_end)", area="chains", needs=[CREDITS], cost=7)
    async def uploads(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        uploaded = await companion(ctx, "upload", {"audio_url": song["audio_url"]})
        expect(uploaded.get("audio_id") and uploaded.get("audio_url"),
               f"the upload names no audio: {uploaded}")
        audio_id = uploaded["audio_id"]
        if ctx.run.direct:
            expect(near(uploaded.get("duration"), song["duration"]),
                   f"the upload of a {song['duration']} s song lasts {uploaded.get('duration')}")
        length = uploaded.get("duration") or song["duration"]
        for action in ("underpainting", "overpainting", "samples"):
            answer = await ctx.call("POST", AUDIOS, json={
                "action": action, "audio_id": audio_id, "async": True,
                f"{action}_start": 0, f"{action}_end": length + 5})
            refused(answer, 400, "bad_request", f"{action}_end past the end of the song")
        at = 10.0

        async def upload_extend() -> None:
            _, extended = await made(ctx, {"action": "upload_extend", "audio_id": audio_id,
                                           "continue_at": at})
            for new in extended:
                expect(new["duration"] > at, f"from {at} s it lasts {new['duration']} s")
            (a, rate), (b, _) = await asyncio.gather(pcm(ctx, audio_id),
                                                     pcm(ctx, extended[0]["id"]))
            kept = likeness(part(a, rate, 0, at - 0.2), part(b, rate, 0, at - 0.2))
            expect(kept > SAME, f"the upload's first {at:g} s are not kept "
                                f"(likeness {kept:.3f})")

        async def remade(body: dict[str, Any], style: str | None = None) -> None:
            _, songs = await made(ctx, {**body, "audio_id": audio_id})
            for new in songs:
                expect(new["id"] != audio_id, "it answered its source")
                expect(style is None or new["style"] == style, f"the style: {new['style']!r}")
            await real(ctx, songs[0])

        await each({
            "upload_extend": upload_extend(),
            "upload_cover": remade({"action": "upload_cover", "style": "bossa nova"},
                                   "bossa nova"),
            "underpainting": remade({"action": "underpainting", "underpainting_start": 5,
                                     "underpainting_end": 25}),
            "overpainting": remade({"action": "overpainting", "overpainting_end": 20}),
            "samples": remade({"action": "samples", "samples_start": 2, "samples_end": 12}),
        })

    @catalog.case("persona", "A persona made from a song sings new songs in its style "
                  "(artist_consistency, artist_consistency_vox)", seed=f"{seed}: request body "
                  "(action artist_consistency, artist_consistency_vox, persona_id)",
                  area="chains", needs=[CREDITS], cost=4)
    async def persona(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        unknown = await ctx.call("POST", AUDIOS, json={
            "action": "artist_consistency", "persona_id": UNKNOWN_AUDIO, "prompt": "x",
            "async": True})
        refused(unknown, 400, "bad_request", "an unknown persona_id")
        plain, vox = await asyncio.gather(
            companion(ctx, "persona", {"name": "Conformance Voice", "audio_id": song["id"]}),
            companion(ctx, "vox", {"audio_id": song["id"], "vocal_start": 5,
                                   "vocal_end": 20}))
        expect(vox.get("source_clip_id") == song["id"], f"the vox is not of the song: {vox}")
        voiced = await companion(ctx, "persona", {"name": "Conformance Vox",
                                                  "audio_id": song["id"],
                                                  "vox_audio_id": vox["id"]})
        expect(plain.get("persona_id") and voiced.get("persona_id")
               and plain["persona_id"] != voiced["persona_id"],
               f"personas {plain} and {voiced}")
        words = "[Verse]\nA new song in a known voice\n[Chorus]\nSing it once again"
        (_, same), (_, vox_songs) = await asyncio.gather(
            made(ctx, {"action": "artist_consistency", "persona_id": plain["persona_id"],
                       "custom": True, "lyric": words, "title": "Again"}),
            made(ctx, {"action": "artist_consistency_vox", "persona_id": voiced["persona_id"],
                       "custom": True, "lyric": words, "title": "Again"}))
        for new in same + vox_songs:
            expect(new["lyric"] == words, f"the persona did not sing the lyrics: {new['lyric']!r}")
            expect(new["style"] == song["style"],
                   f"a persona song's style {new['style']!r} is not the persona's "
                   f"{song['style']!r}")
        await asyncio.gather(real(ctx, same[0]), real(ctx, vox_songs[0]))


def _scenario_cases(catalog: Catalog, driver: Acedata, seed: str) -> None:
    @catalog.case("custom-modes", "custom sings the given lyrics, title and style; "
                  "instrumental drops the lyrics; lyric_prompt writes them",
                  seed=f"{seed}: request body (custom, lyric, instrumental, lyric_prompt, "
                  "title, style)", area="scenarios", needs=[CREDITS], cost=3)
    async def custom_modes(ctx: "Context") -> None:
        (_, plain), (_, written), made_source = await asyncio.gather(
            made(ctx, {"action": "generate", "custom": True, "instrumental": True,
                       "lyric": LYRIC, "style": "ambient, piano"}),
            made(ctx, {"action": "generate", "custom": True,
                       "lyric_prompt": ctx.marker("a song about a lighthouse keeper"),
                       "style": "folk"}),
            source(ctx))
        for song in made_source["songs"]:
            expect(song["lyric"] == LYRIC, f"custom mode did not sing the lyrics: "
                                           f"{song['lyric']!r}")
            expect(song["title"] == SOURCE["title"] and song["style"] == SOURCE["style"],
                   f"custom mode lost the title or style: {song['title']!r}, {song['style']!r}")
            expect("prompt" not in song, f"a custom song carries a prompt: {song.get('prompt')!r}")
        for song in plain:
            expect(song["lyric"] == "", f"instrumental kept the lyrics: {song['lyric']!r}")
            expect(song["style"] == "ambient, piano", f"style {song['style']!r}")
        for song in written:
            expect(song["lyric"].strip() and song["lyric"] != LYRIC,
                   f"lyric_prompt wrote no lyrics: {song['lyric']!r}")
        await asyncio.gather(real(ctx, plain[0]), real(ctx, written[0]))

    @catalog.case("waits", "Without async the request waits and answers the two songs",
                  seed=f"{seed}: request body (async), response", area="scenarios",
                  needs=[CREDITS], cost=1)
    async def waits(ctx: "Context") -> None:
        ctx.spend()
        body = {"action": "generate", "prompt": ctx.marker("a waltz for a rainy day")}
        answer = await ctx.call("POST", AUDIOS, json=body)
        expect(answer.status == 200, f"a request waiting for its songs: {answer}")
        data = answer.data
        expect(data.get("success") is True and data.get("task_id") and data.get("trace_id"),
               f"the answer lacks success, task_id or trace_id: {answer}")
        songs = driver.songs_of(data)
        expect(len(songs) == 2, f"one request made {len(songs)} songs, the seed says 2")
        expect(len({s["id"] for s in songs}) == 2, f"the two songs share an id: {songs}")
        for song in songs:
            expect(song["state"] == "succeeded" and song["audio_url"],
                   f"a waiting request answered before its song was done: {song}")
            expect(song.get("prompt") == body["prompt"],
                   f"the song does not carry its prompt: {song.get('prompt')!r}")
        record = await ctx.poll(data["task_id"])
        expect(driver.status_of(record.data) == driver.succeeded,
               f"the waited-for task retrieves as {driver.status_of(record.data)!r}")
        expect([s["id"] for s in driver.songs_of(record.data)] == [s["id"] for s in songs],
               "the task record shows other songs than the answer")

    @catalog.case("ndjson", "accept: application/x-ndjson streams snapshots of the task, "
                  "the last one its result", seed=f"{seed}: request headers (accept)",
                  area="scenarios", needs=[CREDITS], cost=1)
    async def ndjson(ctx: "Context") -> None:
        ctx.spend()
        body = {"action": "generate", "prompt": ctx.marker("a shanty streamed line by line")}
        # Read with the session: the context would parse the whole body as one JSON.
        headers = {**driver.auth(ctx.api_key), "Accept": NDJSON}
        lines, times = [], []
        started = time.monotonic()
        async with ctx.run.session.post(ctx.run.base_url + AUDIOS, json=body,
                                        headers=headers) as response:
            if response.status != 200:
                raise CaseFailed(f"a streamed request: {response.status} "
                                 f"{(await response.read())[:300]!r}")
            kind = response.headers.get("Content-Type", "")
            expect(kind.startswith(NDJSON), f"a streamed answer of type {kind!r}")
            async for raw in response.content:
                if raw.strip():
                    try:
                        lines.append(orjson.loads(raw))
                    except orjson.JSONDecodeError:
                        raise CaseFailed(f"a stream line is not JSON: {raw[:200]!r}")
                    times.append(time.monotonic() - started)
        expect(len(lines) >= 2, f"the stream sent {len(lines)} line(s), not snapshots")
        task_id = lines[0].get("task_id")
        expect(task_id and all(line.get("task_id") == task_id for line in lines),
               "the stream's lines name different tasks")
        for line in lines:
            ctx.observe(task_id, driver.status_of(line))
        expect(times[-1] - times[0] > 0.1, "every line arrived at once: the answer was not "
                                            "streamed as the task moved")
        final = lines[-1]
        expect(final.get("success") is True and final.get("trace_id"),
               f"the last line is not the result: {final}")
        problems = ctx.run.spec.check_component("AudiosResponse", final)
        expect(not problems, f"the last line breaks AudiosResponse: {problems}")
        order = {"pending": 0, "running": 1, "succeeded": 2}
        states = [[s.get("state") for s in driver.songs_of(line)] for line in lines]
        for earlier, later in zip(states, states[1:]):
            expect(len(earlier) == len(later) and all(order.get(a, 9) <= order.get(b, -1)
                                                      for a, b in zip(earlier, later)),
                   f"song states went back in the stream: {states}")
        expect(states[-1] == ["succeeded", "succeeded"], f"the stream ended with {states[-1]}")
        expect(any(s != "succeeded" for s in states[0]),
               f"the first line already had every song: {states[0]}")

    @catalog.case("waiting-failure", "A failed task answers a waiting request with the "
                  "task's error", seed=f"{seed}: response", area="states",
                  needs=[CREDITS, SIMULATOR], cost=1)
    async def waiting_failure(ctx: "Context") -> None:
        ctx.spend()
        body = {"action": "generate", "prompt": ctx.marker("[sim:fail] a song that fails")}
        answer = await ctx.call("POST", AUDIOS, json=body)
        expect(answer.status >= 500, f"a failed task answered {answer}")
        data = answer.data if isinstance(answer.data, dict) else {}
        expect(data.get("success") is False and data.get("task_id") and error_code(answer),
               f"a failed task's error names no task: {answer}")
        record = await ctx.poll(data["task_id"])
        expect(driver.status_of(record.data) == "failed",
               f"the failed task retrieves as {driver.status_of(record.data)!r}")
        expect(record.data["response"].get("error", {}).get("code") == error_code(answer),
               f"the record's error differs from the answer's: {record.data['response']}")


def _callback_cases(catalog: Catalog, driver: Acedata, seed: str) -> None:
    @catalog.case("result", "The callback carries the task's final result, once",
                  seed=f"{seed}: request body (callback_url, async)", area="callbacks",
                  needs=[CREDITS, RECEIVER], cost=1)
    async def result(ctx: "Context") -> None:
        made_source = await source(ctx)  # submitted with a callback_url to the receiver
        receiver, hook, task_id = ctx.run.receiver, made_source["hook"], made_source["task_id"]
        got = await receiver.wait(hook, lambda ds: len(ds) >= 1,
                                  timeout=ctx.run.callback_wait)
        expect(got, f"no callback for task {task_id}")
        await asyncio.sleep(0.2)  # a second delivery would be a duplicate
        got = receiver.deliveries.get(hook, [])
        expect(len(got) == 1, f"{len(got)} callbacks for one task")
        payload = got[0].data
        expect(isinstance(payload, dict) and payload.get("success") is True
               and payload.get("task_id") == task_id, f"the callback: {got[0].body[:300]!r}")
        problems = driver.check_callback(ctx, payload)
        expect(not problems, f"the callback breaks AudiosResponse: {problems}")
        sent = [(s["id"], s["state"], s.get("duration"), s.get("lyric"))
                for s in driver.songs_of(payload)]
        shown = [(s["id"], s["state"], s.get("duration"), s.get("lyric"))
                 for s in made_source["songs"]]
        expect(sent == shown, f"the callback's songs {sent} differ from the task's {shown}")

    @catalog.case("failure", "A failed task's callback carries its error and task id",
                  seed=f"{seed}: request body (callback_url)", area="callbacks",
                  needs=[CREDITS, RECEIVER, SIMULATOR], cost=1)
    async def failure(ctx: "Context") -> None:
        receiver = ctx.run.receiver
        ctx.spend()
        task_id = (await accepted(ctx, {"action": "generate",
                                        "prompt": ctx.marker("[sim:fail] a failing hook"),
                                        "callback_url": receiver.address(ctx.token)}))["task_id"]
        final = await follow(ctx, task_id)
        expect(driver.status_of(final.data) == "failed", f"the task ended {final}")
        got = await receiver.wait(ctx.token, lambda ds: len(ds) >= 1,
                                  timeout=ctx.run.callback_wait)
        expect(got, f"no callback for failed task {task_id}")
        payload = got[0].data
        expect(isinstance(payload, dict) and payload.get("success") is False
               and payload.get("task_id") == task_id and payload.get("trace_id"),
               f"the callback of a failed task: {got[0].body[:300]!r}")
        problems = ctx.run.spec.check_component("Error", payload)
        expect(not problems, f"the failure callback breaks Error: {problems}")
        expect(payload["error"] == final.data["response"]["error"],
               f"the callback's error {payload['error']} is not the task's")


def _companion_cases(catalog: Catalog, driver: Acedata, seed: str) -> None:
    @catalog.case("companions", "wav, mp3 and mp4 are real files of the song's length (also "
                  "asked for asynchronously); midi notes and word timings follow the song",
                  seed=f"{seed}: related products", area="media", needs=[CREDITS], cost=2)
    async def companions(ctx: "Context") -> None:
        song = (await source(ctx))["song"]
        spend(ctx, PRICES["wav"])
        wav, mp3, mp4, midi, timing, deferred = await asyncio.gather(
            companion(ctx, "wav", {"audio_id": song["id"]}),
            companion(ctx, "mp3", {"audio_id": song["id"]}),
            companion(ctx, "mp4", {"audio_id": song["id"]}),
            companion(ctx, "midi", {"audio_id": song["id"]}),
            companion(ctx, "timing", {"audio_id": song["id"]}),
            ctx.call("POST", "/suno/wav", json={"audio_id": song["id"], "async": True}))
        expect(deferred.status == 200 and "data" not in deferred.data
               and deferred.data.get("task_id"), f"an asynchronous wav: {deferred}")
        task_id = deferred.data["task_id"]
        ctx.observe(task_id, driver.status_of(deferred.data))
        final = await follow(ctx, task_id)
        expect(final.data.get("type") == "wav" and driver.status_of(final.data) == "succeeded",
               f"the asynchronous wav ended {final}")
        later = final.data["response"]["data"][0]["file_url"]
        for media in (Media(wav[0]["file_url"], "audio", song["duration"]),
                      Media(mp3[0]["file_url"], "audio", song["duration"]),
                      Media(mp4["video_url"], "video", song["duration"]),
                      Media(later, "audio", song["duration"])):
            await check_media(ctx, media)
        instruments = midi[0]["instruments"] if midi else []
        expect(instruments and any(i["notes"] for i in instruments),
               f"the song's midi has no notes: {midi}")
        for instrument in instruments:
            for note in instrument["notes"]:
                expect(0 <= note["start"] < note["end"] <= song["duration"] + 0.01,
                       f"a {instrument['name']} note outside the song: {note}")
        words = timing["aligned_words"]
        text = " ".join(w["word"] for w in words).lower()
        for expected in ("snowflakes", "window", "mistletoe", "tight"):
            expect(expected in text, f"the timing does not align {expected!r}: {text[:200]}")
        starts = [w["start_s"] for w in words]
        expect(starts == sorted(starts), "the aligned words are out of order")
        expect(all(0 <= w["start_s"] < w["end_s"] <= song["duration"] + 0.01 for w in words),
               "an aligned word falls outside the song")
        expect(timing["waveform_data"] and max(timing["waveform_data"]) > 0,
               "the waveform is silent")

    @catalog.case("lyrics", "/suno/lyrics writes two variations; style and mashup-lyrics "
                  "answer in kind", seed=f"{seed}: request body (lyric_prompt)",
                  area="scenarios", needs=[CREDITS], cost=1)
    async def lyrics(ctx: "Context") -> None:
        variations, style, mashed = await asyncio.gather(
            companion(ctx, "lyrics", {"prompt": ctx.marker("winter nights")}),
            companion(ctx, "style", {"prompt": "dreamy lo-fi piano"}),
            companion(ctx, "mashup-lyrics", {"lyrics_a": "[Verse]\nHello world",
                                             "lyrics_b": "[Chorus]\nGoodbye moon"}))
        expect(len(variations) == 2, f"{len(variations)} lyric variations, expected 2")
        for variation in variations:
            expect(variation["text"].strip() and variation["title"] and variation["tags"],
                   f"a lyric variation without text, title or tags: {variation}")
        expect(variations[0]["text"] != variations[1]["text"], "the variations are the same")
        expect(style["upsampled_tags"].strip(), f"the style was not expanded: {style}")
        expect("Hello world" in mashed["text"] and "Goodbye moon" in mashed["text"],
               f"the lyrics mashup lost a part: {mashed['text']!r}")
