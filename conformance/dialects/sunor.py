"""sunor (seed 001): Suno and Udio behind one task endpoint.

``POST /api/v1/task`` takes ``{model, task_type, input}`` with the key in ``x-api-key`` and
answers 202 ``{"code": 202, "data": {task_id, type, status: "pending", credits_charged,
created_at}}``, the credits frozen; ``GET /api/v1/task/{task_id}`` polls it through
pending → running → success | failure | timeout; ``GET /api/v1/account/balance`` shows
``{available, frozen, total}``. Errors are ``{"code": status, "message"}``.
"""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

from ..case import (CREDITS, SECOND_KEY, SIMULATOR, UPSTREAM_ADMIN, Catalog, CaseFailed,
                    Skipped, expect)
from ..common import check_media
from ..dialect import Driver, Invalid, Media

TASK = "/api/v1/task"
BALANCE = "/api/v1/account/balance"
# Credits per task as the provider publishes them (fixtures/prices.toml, [sunor]).
PRICES = {("suno", "music"): 10, ("suno", "lyrics"): 5, ("suno", "upload"): 1,
          ("suno", "concat"): 5, ("udio", "music"): 5}
SONG_PRICE = PRICES[("suno", "music")]
TTL = 600.0  # simulated seconds after which a task still running times out
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RATE_WINDOW = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
SEED_CLIP_ID = "abc123-clip-id"  # the seed's stand-in for a real clip id
OUTSIDE_URL = "https://example.com/my-audio.mp3"  # the seed's upload example
MIXED = "Mixing them produces a 400 validation error"


def _music(model: str, **given: Any) -> dict[str, Any]:
    return {"model": model, "task_type": "music", "input": given}


class Sunor(Driver):
    provider = "sunor"
    seed = "seed 001"
    ranks = {"pending": 0, "running": 1, "success": 2, "failure": 2, "timeout": 2}
    succeeded = "success"
    failed = frozenset({"failure", "timeout"})
    price = float(SONG_PRICE)  # a Suno music request (two songs)
    unknown_id = "00000000-0000-4000-8000-000000000000"
    unknown_status = 404
    # The spec's RateLimited answer documents Retry-After. The simulator's limiter also
    # sends the X-RateLimit-* window (checked by rate-limits.window and .countdown), but a
    # 429 injected in front of the handler (upstream.rate-limited) carries Retry-After only.
    rate_headers = ("Retry-After",)
    insufficient_status = 402
    expires = False  # the seed names no retention

    def auth(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def song_request(self, prompt: str, callback_url: str | None = None):
        # The seed's inspiration mode; sunor takes no callback URL.
        return "POST", TASK, _music("suno", gpt_description_prompt=prompt,
                                    make_instrumental=False)

    def poll_request(self, task_id: str):
        return "GET", f"{TASK}/{task_id}", None

    def task_id_of(self, data: Any) -> str:
        inner = data.get("data") if isinstance(data, dict) else None
        return inner.get("task_id") if isinstance(inner, dict) else None

    def status_of(self, data: Any) -> str:
        inner = data.get("data") if isinstance(data, dict) else None
        return inner.get("status") if isinstance(inner, dict) else None

    def media_of(self, data: Any) -> list[Media]:
        media = []
        for item in _result(data):
            if "audio_url" not in item:  # lyrics: text only
                continue
            media += [Media(item["audio_url"], "audio", (item.get("metadata") or {}).get(
                "duration")), Media(item["image_url"], "image")]
        return media

    def callback_stage(self, payload: Any) -> str:
        return None  # sunor sends no callbacks

    def invalid_requests(self) -> list[Invalid]:
        missing = "Missing required fields (model, task_type, or input) is a 400"
        return [
            Invalid("no-model", {"task_type": "music", "input": {"prompt": "x"}}, 400, missing),
            Invalid("no-task-type", {"model": "suno", "input": {"prompt": "x"}}, 400, missing),
            Invalid("no-input", {"model": "suno", "task_type": "music"}, 400, missing),
            Invalid("empty-body", {}, 400, missing),
            Invalid("not-json", b"{nope", 400, "A body that is not JSON is a 400"),
            Invalid("unknown-task-type", {"model": "suno", "task_type": "video",
                                          "input": {"prompt": "x"}}, 400,
                    "An invalid task type is a 400"),
            Invalid("unknown-model", _music("riffusion", prompt="x"), 400,
                    'model is one of "suno" or "udio"'),
            Invalid("input-not-object", {"model": "suno", "task_type": "music",
                                         "input": "a song"}, 400, "input is an object"),
            *(Invalid(f"udio-{kind}", {"model": "udio", "task_type": kind,
                                       "input": {"prompt": "x", "url": OUTSIDE_URL,
                                                 "clip_id": "c"}}, 400,
                      f'Udio supports "music" only: task_type {kind} is a 400')
              for kind in ("lyrics", "upload", "concat")),
            # Mixing the two input shapes, both ways.
            *(Invalid(f"suno-with-udio-{name.replace('_', '-')}",
                      _music("suno", prompt="x", **{name: value}), 400,
                      f"{MIXED}: Udio's {name} in a Suno input")
              for name, value in (("seed", 7), ("lyrics", "la la"), ("lyrics_type", "user"))),
            *(Invalid(f"udio-with-suno-{name.replace('_', '-')}",
                      _music("udio", prompt="x", **{name: value}), 400,
                      f"{MIXED}: Suno's {name} in a Udio input")
              for name, value in (("gpt_description_prompt", "x"), ("make_instrumental", True),
                                  ("negative_tags", "metal"), ("title", "T"),
                                  ("continue_clip_id", "c"), ("continue_at", 3))),
            Invalid("suno-music-no-mode", _music("suno"), 400,
                    "Suno music needs an inspiration, custom or continuation input"),
            Invalid("continue-unknown-clip",
                    _music("suno", continue_clip_id=SEED_CLIP_ID, continue_at=30,
                           prompt="[Chorus]\nKeep the music playing on"), 400,
                    "Continuation takes a clip of a previous music task of the key"),
            Invalid("lyrics-no-prompt", {"model": "suno", "task_type": "lyrics", "input": {}},
                    400, "lyrics takes a prompt"),
            Invalid("upload-no-url", {"model": "suno", "task_type": "upload", "input": {}},
                    400, "upload takes a url"),
            Invalid("upload-url-not-http", {"model": "suno", "task_type": "upload",
                                            "input": {"url": "ftp://example.com/a.mp3"}},
                    400, "upload's url is a publicly accessible (http) URL"),
            Invalid("concat-no-clip", {"model": "suno", "task_type": "concat", "input": {}},
                    400, "concat takes a clip_id"),
            Invalid("concat-unknown-clip", {"model": "suno", "task_type": "concat",
                                            "input": {"clip_id": SEED_CLIP_ID}}, 400,
                    "concat takes a clip of a previous music task of the key"),
            Invalid("udio-no-prompt", _music("udio", tags="lofi"), 400,
                    "Udio music takes a prompt"),
            Invalid("udio-user-lyrics-without-lyrics", _music("udio", prompt="lofi",
                                                              lyrics_type="user"), 400,
                    "Udio lyrics_type user needs lyrics"),
            Invalid("udio-lyrics-type-unknown", _music("udio", prompt="lofi",
                                                       lyrics_type="spoken"), 400,
                    "Udio lyrics_type is generate, user or instrumental"),
            Invalid("udio-seed-negative", _music("udio", prompt="lofi", seed=-1), 400,
                    "Udio seed is an integer from 0 to 4294967295"),
            Invalid("udio-seed-too-big", _music("udio", prompt="lofi", seed=2 ** 32), 400,
                    "Udio seed is an integer from 0 to 4294967295"),
        ]

    async def balance(self, ctx, key: Any = None) -> float | None:
        """The key's ``total`` (available + frozen): what finished work has cost, unmoved
        by credits frozen or released while tasks run (a held task's refund must not look
        like a price)."""
        data = await balance_of(ctx, key)
        return data["total"]


DRIVER = Sunor()


# --- helpers ----------------------------------------------------------------------------


def _data(answer) -> dict[str, Any]:
    data = answer.data.get("data") if isinstance(answer.data, dict) else None
    expect(isinstance(data, dict), f"no data object in {answer}")
    return data


def _result(data: Any) -> list[dict[str, Any]]:
    inner = data.get("data") if isinstance(data, dict) else None
    output = inner.get("output") if isinstance(inner, dict) else None
    items = output.get("result") if isinstance(output, dict) else None
    return [i for i in items or () if isinstance(i, dict)]


def _keyed(key: Any) -> dict[str, Any]:
    return {} if key is None else {"key": key}


async def balance_of(ctx, key: Any = None) -> dict[str, float]:
    answer = await ctx.call("GET", BALANCE, **_keyed(key))
    expect(answer.status == 200, f"balance: {answer}")
    expect(answer.data.get("code") == 200, f"balance code: {answer}")
    data = _data(answer)
    expect(abs(data["available"] + data["frozen"] - data["total"]) < 1e-9,
           f"balance: available + frozen != total: {data}")
    return data


async def submit(ctx, body: dict[str, Any], key: Any = None) -> dict[str, Any]:
    """A task submitted: its 202 answer checked whole (code, type, pending, the price
    frozen, a UUID id, an ISO time); answers ``data``."""
    price = PRICES[(body["model"], body["task_type"])]
    ctx.spend(price / SONG_PRICE)
    answer = await ctx.call("POST", TASK, json=body, **_keyed(key))
    expect(answer.status == 202, f"submitting {body['model']} {body['task_type']}: {answer}")
    expect(answer.data.get("code") == 202, f"the 202 answer's code: {answer}")
    data = _data(answer)
    expect(data.get("type") == body["task_type"], f"type {data.get('type')!r}: {answer}")
    expect(data.get("status") == "pending", f"status {data.get('status')!r}: {answer}")
    expect(data.get("credits_charged") == price,
           f"{body['model']} {body['task_type']} froze {data.get('credits_charged')} credits, "
           f"the price is {price}")
    expect(isinstance(data.get("task_id"), str) and UUID.match(data["task_id"]),
           f"task_id {data.get('task_id')!r} is not a UUID like the seed's")
    expect(isinstance(data.get("created_at"), str) and ISO.match(data["created_at"]),
           f"created_at {data.get('created_at')!r} is not ISO 8601")
    ctx.observe(data["task_id"], data["status"])
    return data


async def finish(ctx, task_id: str, body: dict[str, Any], key: Any = None,
                 status: str = "success") -> dict[str, Any]:
    """The task settled in ``status``; a success checked whole. Answers ``data``."""
    answer = await ctx.settle(task_id, **_keyed(key))
    data = _data(answer)
    expect(data["status"] == status, f"task {task_id} ended {data['status']!r}: {answer}")
    expect(data.get("task_id") == task_id, f"polled {task_id}, got {data.get('task_id')}")
    expect((data.get("model"), data.get("type")) == (body["model"], body["task_type"]),
           f"task {task_id} is {data.get('model')} {data.get('type')}: {answer}")
    expect(data.get("input") == body["input"], f"input not echoed: {data.get('input')}")
    expect(data.get("credits_cost") == PRICES[(body["model"], body["task_type"])],
           f"credits_cost {data.get('credits_cost')}")
    expect(data.get("completed_at") is not None, f"no completed_at: {answer}")
    output = data.get("output") or {}
    if status == "success":
        expect(output.get("status") == "completed" and output.get("progress") == "100%",
               f"a successful task's output: {output}")
        expect(data.get("error") is None and output.get("fail_reason") is None,
               f"a successful task has an error: {data}")
        expect(output.get("result"), f"a successful task without a result: {answer}")
    return data


async def make(ctx, body: dict[str, Any], key: Any = None) -> dict[str, Any]:
    created = await submit(ctx, body, key)
    return await finish(ctx, created["task_id"], body, key)


def clips_of(data: dict[str, Any], count: int) -> list[dict[str, Any]]:
    clips = data["output"]["result"]
    expect(len(clips) == count, f"expected {count} clip(s), got {len(clips)}: {clips}")
    expect(len({c.get("id") for c in clips}) == count, f"clips share an id: {clips}")
    for clip in clips:
        expect(isinstance(clip.get("audio_url"), str) and isinstance(clip.get("image_url"), str),
               f"a clip without its links: {clip}")
    return clips


async def real(ctx, clips: list[dict[str, Any]]) -> None:
    """Every clip's audio plays its stated duration and its cover is an image."""
    await asyncio.gather(*(check_media(ctx, m) for m in DRIVER.media_of(
        {"data": {"output": {"result": clips}}})))


async def samples(ctx, url: str):
    """The audio behind a link, decoded to mono floats, and its rate."""
    import av
    import numpy as np
    answer = await ctx.fetch(url)
    expect(answer.status == 200, f"audio {url}: {answer.status}")

    def decode():
        chunks, rate = [], 0
        with av.open(io.BytesIO(answer.body)) as container:
            for frame in container.decode(audio=0):
                rate = frame.sample_rate
                array = frame.to_ndarray().astype(np.float64)
                if frame.format.name.startswith("s16"):
                    array /= 32768.0
                chunks.append(array.reshape(-1) if array.shape[0] == 1 else array.mean(axis=0))
        return chunks, rate

    try:  # off the event loop: the other cases' polls keep their pace
        chunks, rate = await asyncio.to_thread(decode)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise CaseFailed(f"{url} does not decode: {exc}")
    expect(chunks and rate, f"{url} has no audio")
    return np.concatenate(chunks), rate


async def likeness(ctx, made_url: str, source_url: str,
                   spans: list[tuple[float, float]]) -> list[float]:
    """How alike two songs are over each span of seconds: the correlation of their
    decoded samples (1.0: the same sound)."""
    import numpy as np
    (a, rate), (b, rate_b) = await asyncio.gather(samples(ctx, made_url),
                                                  samples(ctx, source_url))
    expect(rate == rate_b, f"{made_url} is at {rate} Hz, its source at {rate_b} Hz")
    found = []
    for start, end in spans:
        window = slice(int(start * rate), int(end * rate))
        expect(len(a) >= window.stop and len(b) >= window.stop,
               f"shorter than {end:g} s: {made_url}, {source_url}")
        found.append(float(np.corrcoef(a[window], b[window])[0, 1]))
    return found


async def same_start(ctx, made_url: str, source_url: str, seconds: float) -> None:
    """The song starts as its source did, for ``seconds``."""
    [alike] = await likeness(ctx, made_url, source_url, [(0.0, seconds)])
    expect(alike > 0.95, f"{made_url} does not start as its source {source_url} "
                         f"(correlation {alike:.3f} over {seconds:g} s)")


async def own_key(ctx, credits: float = 10_000) -> Any:
    """A fresh key with ``credits`` when the target is the simulator itself, so a case's
    balance and its rate-limit bucket (sunor allows a key 120 requests a minute) are its
    own; otherwise None, the run's key."""
    if ctx.run.direct and ctx.run.admin is not None:
        return (await ctx.admin.call("POST", "/accounts", {"credits": credits}))["api_key"]
    return None


# --- the dialect's own cases --------------------------------------------------------------


def add_cases(catalog: Catalog, driver: Sunor) -> None:
    seed = driver.seed

    # --- scenarios: every kind of task the seed documents, end to end ---------------------

    @catalog.case("inspiration", "Inspiration mode: two real songs, with words or instrumental",
                  seed=f"{seed}: music — Inspiration Mode", area="scenarios", needs=[CREDITS],
                  cost=2)
    async def inspiration(ctx) -> None:
        key = await own_key(ctx)
        sung = _music("suno", gpt_description_prompt=ctx.marker(
            "A cheerful acoustic guitar song about summer"), make_instrumental=False)
        bare = _music("suno", gpt_description_prompt=ctx.marker("a calm ambient drone"),
                      make_instrumental=True)
        with_words, without = await asyncio.gather(make(ctx, sung, key), make(ctx, bare, key))
        for clip in clips_of(with_words, 2):
            expect(clip["metadata"]["prompt"].strip(),
                   f"an inspiration song without written lyrics: {clip}")
            expect(clip.get("title"), f"an inspiration song without a title: {clip}")
        for clip in clips_of(without, 2):
            expect(clip["metadata"]["prompt"] == "",
                   f"make_instrumental: true, yet the clip has words: {clip['metadata']}")
        await real(ctx, [clips_of(with_words, 2)[0], clips_of(without, 2)[1]])

    @catalog.case("custom", "Custom mode: the caller's lyrics, tags and title are the song's",
                  seed=f"{seed}: music — Custom Mode", area="scenarios", needs=[CREDITS], cost=1)
    async def custom(ctx) -> None:
        key = await own_key(ctx)
        words = ("[Verse]\nWalking down the sunlit road\nFeeling light without a load\n\n"
                 "[Chorus]\nOh summer days, carry me away")
        body = _music("suno", prompt=words, tags="pop, acoustic, upbeat",
                      negative_tags="heavy metal, screaming", title=f"Summer Days {ctx.token}")
        clips = clips_of(await make(ctx, body, key), 2)
        for clip in clips:
            meta = clip["metadata"]
            expect(clip["title"] == body["input"]["title"], f"title {clip['title']!r}")
            expect(meta["prompt"] == words, f"the clip sings {meta['prompt']!r}, not the lyrics")
            expect(meta["tags"] == "pop, acoustic, upbeat", f"tags {meta['tags']!r}")
        await real(ctx, clips[:1])

    @catalog.case("udio", "Udio music: two real tracks from a prompt, or the caller's lyrics",
                  seed=f"{seed}: music — Udio", area="scenarios", needs=[CREDITS], cost=1)
    async def udio(ctx) -> None:
        key = await own_key(ctx)
        words = f"[Verse]\nRain on the window\nCoffee gone cold {ctx.token}"
        plain = _music("udio", prompt=ctx.marker("lofi hip hop, chill, rainy night, jazz piano"))
        user = _music("udio", prompt="lofi, rain", lyrics_type="user", lyrics=words)
        written, given = await asyncio.gather(make(ctx, plain, key), make(ctx, user, key))
        for clip in clips_of(written, 2):
            expect(clip["metadata"]["prompt"].strip(),
                   f"Udio's GPT layer wrote no lyrics: {clip['metadata']}")
        for clip in clips_of(given, 2):
            expect(clip["metadata"]["prompt"] == words,
                   f"lyrics_type user sings {clip['metadata']['prompt']!r}")
        await real(ctx, clips_of(written, 2)[:1])

    @catalog.case("udio-seed", "A Udio seed makes the tracks repeatable; instrumental has no words",
                  seed=f"{seed}: music — Udio", area="scenarios", needs=[CREDITS], cost=1.5)
    async def udio_seed(ctx) -> None:
        key = await own_key(ctx)
        body = _music("udio", prompt=ctx.marker("ambient piano"), lyrics_type="instrumental",
                      seed=424242)
        first, second, other = await asyncio.gather(
            make(ctx, body, key), make(ctx, body, key),
            make(ctx, {**body, "input": {**body["input"], "seed": 424243}}, key))
        takes = [clips_of(data, 2) for data in (first, second, other)]
        for clip in sum(takes, []):
            expect(clip["metadata"]["prompt"] == "",
                   f"lyrics_type instrumental, yet words: {clip['metadata']}")
        expect([c["metadata"]["duration"] for c in takes[0]]
               == [c["metadata"]["duration"] for c in takes[1]],
               f"the same seed gave tracks of other lengths: {takes[0]} vs {takes[1]}")
        await real(ctx, takes[0])
        one, two, again, elsewhere = [a.body for a in await asyncio.gather(*(
            ctx.fetch(c["audio_url"]) for c in (takes[0][0], takes[0][1], takes[1][0],
                                                takes[2][0])))]
        expect(one == again, "the same seed gave a different first track")
        expect(one != two, "a seed's two tracks are the same")
        expect(elsewhere not in (one, two), "seeds 424242 and 424243 share a track")

    @catalog.case("lyrics", "Lyrics: one text with a title, no media",
                  seed=f"{seed}: lyrics — Generate lyrics", area="scenarios", needs=[CREDITS],
                  cost=0.5)
    async def lyrics(ctx) -> None:
        key = await own_key(ctx)
        body = {"model": "suno", "task_type": "lyrics",
                "input": {"prompt": ctx.marker("A love song about the ocean at sunset")}}
        data = await make(ctx, body, key)
        result = data["output"]["result"]
        expect(len(result) == 1, f"expected one lyrics result, got {result}")
        words = result[0]
        expect(set(words) >= {"text", "title"}, f"lyrics result {words}")
        expect(len(words["text"].strip().splitlines()) >= 4 and words["title"].strip(),
               f"lyrics too thin to be a song: {words}")
        expect(not driver.media_of({"data": data}), f"lyrics came with media: {result}")

    @catalog.case("upload", "Upload: an outside audio URL becomes one real clip",
                  seed=f"{seed}: upload — Upload audio", area="scenarios", needs=[CREDITS],
                  cost=0.1)
    async def upload(ctx) -> None:
        key = await own_key(ctx)
        body = {"model": "suno", "task_type": "upload",
                "input": {"url": f"https://example.com/{ctx.token}/my-audio.mp3"}}
        clips = clips_of(await make(ctx, body, key), 1)
        expect(clips[0]["metadata"]["duration"] > 0, f"an upload of no length: {clips[0]}")
        await real(ctx, clips)

    # --- chains: act on a song, the result derives from it -----------------------------

    @catalog.case("continuation", "Continuation: the source up to continue_at, then new music",
                  seed=f"{seed}: music — Continuation Mode", area="chains", needs=[CREDITS],
                  cost=2)
    async def continuation(ctx) -> None:
        key = await own_key(ctx)
        source = clips_of(await make(ctx, _music(
            "suno", gpt_description_prompt=ctx.marker("an upbeat song to continue")), key), 2)[0]
        words = "[Chorus]\nKeep the music playing on"
        body = _music("suno", continue_clip_id=source["id"], continue_at=30, prompt=words)
        clips = clips_of(await make(ctx, body, key), 2)
        for clip in clips:
            meta = clip["metadata"]
            expect(meta.get("continue_clip_id") == source["id"] and meta.get("continue_at") == 30,
                   f"a continuation that does not name its source and point: {meta}")
            expect(meta["prompt"] == words, f"the continuation sings {meta['prompt']!r}")
            expect(meta["duration"] > 30, f"a continuation at 30 s lasts {meta['duration']} s")
        await real(ctx, clips[:1])
        before, after = await likeness(ctx, clips[0]["audio_url"], source["audio_url"],
                                       [(0.0, 29.0), (31.0, 36.0)])
        expect(before > 0.95, f"the continuation's first 29 s are not its source's "
                              f"(correlation {before:.3f})")
        expect(after < 0.9, f"after continue_at the continuation still plays its source "
                            f"(correlation {after:.3f})")

    @catalog.case("concat", "Concat of a continuation: one whole song, its parts joined",
                  seed=f"{seed}: concat — Concatenate clips", area="chains", needs=[CREDITS],
                  cost=1.7)
    async def concat(ctx) -> None:
        key = await own_key(ctx)
        body = {"model": "suno", "task_type": "upload",
                "input": {"url": f"https://example.com/{ctx.token}/to-join.mp3"}}
        source = clips_of(await make(ctx, body, key), 1)[0]
        # No continue_at: the continuation starts at the end of the clip.
        continued = clips_of(await make(ctx, _music("suno", continue_clip_id=source["id"],
                                                     prompt="[Outro]\nAnd on it goes"), key), 2)[0]
        at = continued["metadata"].get("continue_at")
        expect(at is not None and abs(at - source["metadata"]["duration"]) < 0.05,
               f"continue_at {at}, the source lasts {source['metadata']['duration']} s")
        concat = {"model": "suno", "task_type": "concat", "input": {"clip_id": continued["id"]}}
        [joined] = clips_of(await make(ctx, concat, key), 1)
        length, whole = joined["metadata"]["duration"], continued["metadata"]["duration"]
        expect(length > source["metadata"]["duration"] + 10,
               f"the joined song ({length} s) is not longer than its first part "
               f"({source['metadata']['duration']} s)")
        expect(abs(length - whole) < 1.0,
               f"the joined song lasts {length} s, the chain it joins {whole} s")
        await real(ctx, [joined])
        await same_start(ctx, joined["audio_url"], source["audio_url"],
                         source["metadata"]["duration"] - 1)

    @catalog.case("upload-own-song", "Uploading a song's audio link makes a clip of that song",
                  seed=f"{seed}: upload — Upload audio", area="chains", needs=[CREDITS], cost=1.1)
    async def upload_own_song(ctx) -> None:
        key = await own_key(ctx)
        source = clips_of(await make(ctx, _music(
            "suno", gpt_description_prompt=ctx.marker("a song to upload again")), key), 2)[0]
        body = {"model": "suno", "task_type": "upload", "input": {"url": source["audio_url"]}}
        [clip] = clips_of(await make(ctx, body, key), 1)
        expect(clip["id"] != source["id"], "the upload reuses the source's id")
        expect(abs(clip["metadata"]["duration"] - source["metadata"]["duration"]) < 1.0,
               f"the upload lasts {clip['metadata']['duration']} s, the file "
               f"{source['metadata']['duration']} s")
        await real(ctx, [clip])
        await same_start(ctx, clip["audio_url"], source["audio_url"],
                         source["metadata"]["duration"] - 1)

    @catalog.case("foreign-clip", "Another key's clip cannot be continued or concatenated",
                  seed=f"{seed}: music — Continuation Mode", area="ids",
                  needs=[CREDITS, SECOND_KEY], cost=0.6)
    async def foreign_clip(ctx) -> None:
        key = await own_key(ctx)
        body = {"model": "suno", "task_type": "upload",
                "input": {"url": f"https://example.com/{ctx.token}/mine.mp3"}}
        [clip] = clips_of(await make(ctx, body, key), 1)
        other = ctx.run.second_key
        for attempt in (_music("suno", continue_clip_id=clip["id"], continue_at=5),
                        {"model": "suno", "task_type": "concat", "input": {"clip_id": clip["id"]}}):
            answer = await ctx.call("POST", TASK, json=attempt, key=other)
            expect(answer.status == 400,
                   f"another key's {attempt['task_type']} of clip {clip['id']}: {answer}")
            expect(answer.data.get("code") == 400, f"error code: {answer}")
        # The owner may: its concat of the same clip is made.
        concat = {"model": "suno", "task_type": "concat", "input": {"clip_id": clip["id"]}}
        clips_of(await make(ctx, concat, key), 1)

    # --- states and shapes -------------------------------------------------------------

    @catalog.case("lifecycle", "pending (no output) → running (processing) → success (completed)",
                  seed=f"{seed}: Response", area="states", needs=[CREDITS], cost=1)
    async def lifecycle(ctx) -> None:
        key = await own_key(ctx)
        body = _music("suno", gpt_description_prompt=ctx.marker("a song to watch"))
        created = await submit(ctx, body, key)
        task_id = created["task_id"]
        seen, progress = [], []
        every = min(ctx.run.poll_every, 0.1)
        for _ in range(int(ctx.run.timeout / every) + 1):
            data = _data(await ctx.poll(task_id, **_keyed(key)))
            word = data["status"]
            seen.append(word)
            output = data["output"]
            if word == "pending":
                expect(output is None and data["completed_at"] is None,
                       f"a pending task has output or an end: {data}")
            elif word == "running":
                expect(output is not None and output["status"] == "processing"
                       and output["result"] == [] and output["task_type"] == "music",
                       f"a running task's output: {output}")
                expect(data["completed_at"] is None, f"a running task has ended: {data}")
                progress.append(int(output["progress"][:-1]))
            else:
                break
            await asyncio.sleep(every)
        expect(word == "success", f"task {task_id} ended {word!r}")
        expect("running" in seen, f"task {task_id} was never seen running: {seen}")
        expect(progress == sorted(progress) and all(0 <= p < 100 for p in progress),
               f"progress while running: {progress}")
        await finish(ctx, task_id, body, key)
        expect(data["completed_at"] >= data["created_at"] == created["created_at"],
               f"times: created {data['created_at']}, completed {data['completed_at']}")

    @catalog.case("failure-shape", "A failed task: failure, its error as a string, no result",
                  seed=f"{seed}: Response", area="states", needs=[CREDITS, SIMULATOR], cost=0.5)
    async def failure_shape(ctx) -> None:
        key = await own_key(ctx)
        body = {"model": "suno", "task_type": "lyrics",
                "input": {"prompt": ctx.marker("[sim:fail] words that fail")}}
        created = await submit(ctx, body, key)
        data = await finish(ctx, created["task_id"], body, key, status="failure")
        output = data["output"]
        expect(isinstance(data["error"], str) and data["error"], f"error {data['error']!r}")
        expect(output["status"] == "failed" and output["result"] == [],
               f"a failed task's output: {output}")
        expect(output["fail_reason"] == data["error"],
               f"fail_reason {output['fail_reason']!r} vs error {data['error']!r}")

    @catalog.case("timeout", "A task still running after ten minutes times out, refunded",
                  seed=f"{seed}: Response", area="states",
                  needs=[CREDITS, SIMULATOR, UPSTREAM_ADMIN], cost=0.5, exclusive=True)
    async def timeout(ctx) -> None:
        key = await own_key(ctx, 100)
        body = _music("udio", prompt=ctx.marker("lofi [sim:stuck]"))
        before = await balance_of(ctx, key)
        created = await submit(ctx, body, key)
        polled = _data(await ctx.poll(created["task_id"], **_keyed(key)))
        expect(polled["status"] in ("pending", "running"), f"a stuck task is {polled}")
        await ctx.admin.call("POST", "/clock/advance", {"seconds": TTL + 1})
        data = await finish(ctx, created["task_id"], body, key, status="timeout")
        expect(isinstance(data["error"], str) and data["error"], f"error {data['error']!r}")
        expect(data["output"]["status"] == "failed" and data["output"]["result"] == [],
               f"a timed-out task's output: {data['output']}")
        after = await balance_of(ctx, key)
        expect(after["total"] == before["total"] and after["available"] >= before["available"],
               f"a timed-out task was not refunded: {before} -> {after}")

    @catalog.case("not-found-shape", "An unknown task is a 404 in the error shape",
                  seed=f"{seed}: Errors", area="shapes")
    async def not_found_shape(ctx) -> None:
        answer = await driver.poll(ctx, driver.unknown_id, key=await own_key(ctx, 0))
        expect(answer.status == 404, f"unknown task: {answer}")
        expect(isinstance(answer.data, dict) and answer.data.get("code") == 404
               and isinstance(answer.data.get("message"), str) and answer.data["message"],
               f"not {{code: 404, message}}: {answer}")

    # --- auth ----------------------------------------------------------------------------

    @catalog.case("x-api-key-only", "The key goes in x-api-key: a Bearer token is refused",
                  seed=f"{seed}: Code examples", area="auth")
    async def x_api_key_only(ctx) -> None:
        method, path, body = driver.song_request(ctx.marker())
        for what, m, p, b in (("submit", method, path, body), ("balance", "GET", BALANCE, None)):
            answer = await ctx.call(m, p, key=None, headers={
                "Authorization": f"Bearer {ctx.api_key}"}, **({} if b is None else {"json": b}))
            expect(answer.status == 401, f"{what} with the key as a Bearer token: {answer}")
            expect(answer.data.get("code") == 401, f"error code: {answer}")
        for key in (None, "sk-musicsim-conformance-wrong-key"):
            answer = await ctx.call("GET", BALANCE, key=key)
            expect(answer.status == 401, f"balance with key {key!r}: {answer}")

    # --- credits -------------------------------------------------------------------------

    @catalog.case("frozen-then-spent", "Credits are frozen at submit and spent on success",
                  seed=f"{seed}: Response", area="credits", needs=[CREDITS], cost=0.5,
                  exclusive=True)
    async def frozen_then_spent(ctx) -> None:
        key = await own_key(ctx, 100)
        price = PRICES[("suno", "lyrics")]
        body = {"model": "suno", "task_type": "lyrics", "input": {"prompt": ctx.marker("coins")}}
        before = await balance_of(ctx, key)
        created = await submit(ctx, body, key)
        held = await balance_of(ctx, key)
        expect(before["available"] - held["available"] == price
               and held["frozen"] - before["frozen"] == price
               and held["total"] == before["total"],
               f"submitting froze the wrong credits: {before} -> {held}, price {price}")
        await finish(ctx, created["task_id"], body, key)
        after = await balance_of(ctx, key)
        expect(after["frozen"] == before["frozen"] and before["total"] - after["total"] == price,
               f"a finished task spent the wrong credits: {before} -> {after}, price {price}")

    @catalog.case("refund", "A failed task's frozen credits come back",
                  seed=f"{seed}: Response", area="credits", needs=[CREDITS, SIMULATOR],
                  cost=0.5, exclusive=True)
    async def refund(ctx) -> None:
        key = await own_key(ctx, 100)
        body = {"model": "suno", "task_type": "lyrics",
                "input": {"prompt": ctx.marker("[sim:fail] words that fail")}}
        before = await balance_of(ctx, key)
        created = await submit(ctx, body, key)
        await finish(ctx, created["task_id"], body, key, status="failure")
        after = await balance_of(ctx, key)
        expect(after == before, f"a failed task kept credits: {before} -> {after}")

    @catalog.case("insufficient", "Too few credits is a 402, nothing frozen; a cheaper task fits",
                  seed=f"{seed}: Errors", area="credits", needs=[CREDITS, UPSTREAM_ADMIN],
                  cost=0.5)
    async def insufficient(ctx) -> None:
        if not ctx.run.direct:
            raise Skipped("needs keys made on the target itself (the target is a gateway)")
        empty = await own_key(ctx, 0)
        answer = await ctx.call("POST", TASK, key=empty, json={
            "model": "suno", "task_type": "upload", "input": {"url": OUTSIDE_URL}})
        expect(answer.status == 402, f"a key without credits uploading: {answer}")
        expect(answer.data.get("code") == 402, f"error code: {answer}")
        nine = await own_key(ctx, 9)
        answer = await ctx.call("POST", TASK, key=nine, json=_music(
            "suno", gpt_description_prompt=ctx.marker("too dear")))
        expect(answer.status == 402, f"9 credits for a 10-credit song: {answer}")
        expect(await balance_of(ctx, nine) == {"available": 9, "frozen": 0, "total": 9},
               "a refused task froze credits")
        await submit(ctx, _music("udio", prompt=ctx.marker("cheap lofi")), nine)
        expect(await balance_of(ctx, nine) == {"available": 4, "frozen": 5, "total": 9},
               "a 5-credit Udio task on 9 credits")

    # --- rate limits ---------------------------------------------------------------------

    @catalog.case("window", "Every answer carries the X-RateLimit-* window",
                  seed=f"{seed}: Errors (429)", area="rate-limits")
    async def window(ctx) -> None:
        import time
        answer = await ctx.call("GET", BALANCE, **_keyed(await own_key(ctx, 0)))
        expect(answer.status == 200, f"balance: {answer}")
        values = {}
        for name in RATE_WINDOW:
            value = answer.header(name)
            expect(value is not None and value.isdigit(),
                   f"{name} is {value!r} on {answer.method} {answer.url}")
            values[name] = int(value)
        expect(values["X-RateLimit-Remaining"] <= values["X-RateLimit-Limit"], f"{values}")
        expect(values["X-RateLimit-Reset"] >= int(time.time()) - 1,
               f"X-RateLimit-Reset {values['X-RateLimit-Reset']} is in the past")

    @catalog.case("countdown", "A key's window counts down to a 429 that says when to retry",
                  seed=f"{seed}: Errors (429)", area="rate-limits", needs=[UPSTREAM_ADMIN])
    async def countdown(ctx) -> None:
        if not ctx.run.direct:
            raise Skipped("needs a key of its own on the target (the target is a gateway)")
        key = await own_key(ctx, 0)
        await ctx.admin.call("PUT", f"/rate-limits/{driver.provider}",
                             {"rate": 0.5, "burst": 3, "api_key": key})
        answers = [await ctx.call("GET", BALANCE, key=key, patient=False) for _ in range(3)]
        # Even an impatient ctx.call sleeps out a 429's Retry-After: the two refused at once.
        answers += await asyncio.gather(*(ctx.call("GET", BALANCE, key=key, patient=False)
                                          for _ in range(2)))
        statuses = [a.status for a in answers]
        expect(statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429],
               f"a window of 3 answered {statuses}")
        left = [int(a.header("X-RateLimit-Remaining") or -1) for a in answers]
        expect(left[:3] == [2, 1, 0] and left[3:] == [0, 0], f"X-RateLimit-Remaining: {left}")
        for answer in answers:
            expect(answer.header("X-RateLimit-Limit") == "3",
                   f"X-RateLimit-Limit {answer.header('X-RateLimit-Limit')!r}")
        for answer in answers[3:]:
            wait = answer.header("Retry-After")
            expect(wait is not None and wait.isdigit() and int(wait) >= 1,
                   f"a 429's Retry-After is {wait!r}")
            expect(answer.data.get("code") == 429 and answer.data.get("message"),
                   f"a 429 not in the error shape: {answer}")
