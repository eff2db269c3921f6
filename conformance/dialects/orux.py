"""orux (seed 000): one key, every model. ``POST /api/v1/tasks`` starts a task of any
model (Suno v5 with its chained actions, ElevenLabs v3 speech, ElevenLabs music, Runway
Act-Two) and ``GET /api/v1/tasks/{task_id}`` polls it through QUEUED → RUNNING →
SUCCESS | FAILED, and EXPIRED once results pass their retention. Webhooks are signed:
``X-Orux-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"{X-Orux-Timestamp}." + body``."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import re
import time
import tomllib
from typing import Any

import orjson

from simulator.resources import resource_dir
from ..case import (CREDITS, RECEIVER, SIMULATOR, UPSTREAM_ADMIN, Catalog,
                    CaseFailed, Skipped, expect)
from ..audio import seconds as media_seconds
from ..common import check_media
from ..dialect import Driver, Invalid, Media

TASKS = "/api/v1/tasks"
SEED = "seed 000"
PRICES: dict[str, float] = tomllib.loads(
    (resource_dir("fixtures") / "prices.toml").read_text(encoding="utf-8"))["orux"]
TASK_ID = re.compile(r"^task_[0-9A-HJKMNP-TV-Z]{26}$")
TIMESTAMP, SIGNATURE, EVENT = "X-Orux-Timestamp", "X-Orux-Signature", "X-Orux-Event"
TOLERANCE_S = 300.0  # a receiver refuses a timestamp more than five minutes off its clock
POLL_S = 0.3  # how often the dialect's own cases poll (gentle on a shared rate limit)
UNKNOWN = "task_01HZZZZZZZZZZZZZZZZZZZZZZZ"
CASE_CREDITS = 100_000  # a fresh key's grant, for a case against the simulator itself

LYRICS = ("[Verse]\nSoft rain on neon glass\nThe city hums a lullaby\n\n"
          "[Chorus]\nHold me in the midnight glow\nNever let the morning go")
SUNG = ["Soft rain on neon glass", "The city hums a lullaby", "Hold me in the midnight glow",
        "Never let the morning go"]
VOICE = "EXAVITQu4vr4xnSDxMaL"
TTS_DEFAULTS = {"model_id": "eleven_v3", "stability": 0.5, "style": 0.3,
                "use_speaker_boost": True}
ACTOR, DANCE = "https://files.example/actor.mp4", "https://files.example/dance.mp4"
LRC_LINE = re.compile(r"\[(\d\d):(\d\d)\.(\d\d)\](.+)")


def _header(headers: dict[str, str], name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers.items() if k.lower() == name), None)


def sign(secret: str, timestamp: str, raw: bytes) -> str:
    """``sha256=`` and the HMAC-SHA256 of ``"{timestamp}." + raw`` keyed with the secret."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + raw,
                                hashlib.sha256).hexdigest()


class Orux(Driver):
    provider = "orux"
    seed = SEED
    ranks = {"QUEUED": 0, "RUNNING": 1, "SUCCESS": 2, "FAILED": 2, "EXPIRED": 3}
    succeeded = "SUCCESS"
    failed = frozenset({"FAILED"})
    expired = frozenset({"EXPIRED"})
    price = PRICES["generate"]
    callback_stages = ("SUCCESS",)  # one signed POST, on the terminal status
    unknown_status = 404
    unknown_id = UNKNOWN
    rate_headers = ()  # orux sends no Retry-After nor x-ratelimit-* on a 429
    insufficient_status = 429  # quota_exceeded: orux answers no 402
    expires = True  # results are kept 24 h; [sim:expire] makes it one simulated minute
    signs = True  # webhooks carry X-Orux-Signature
    callback_schema = "Task"  # a webhook is the task exactly as GET shows it

    def song_request(self, prompt: str, callback_url: str | None = None):
        body: dict[str, Any] = {"model": "suno-v5", "prompt": prompt, "duration": 30}
        if callback_url:
            body["webhook_url"] = callback_url
        return "POST", TASKS, body

    def poll_request(self, task_id: str):
        return "GET", f"{TASKS}/{task_id}", None

    def task_id_of(self, data: Any) -> str:
        return data.get("task_id") if isinstance(data, dict) else None

    def status_of(self, data: Any) -> str:
        return data.get("status") if isinstance(data, dict) else None

    def media_of(self, data: Any) -> list[Media]:
        result = data.get("result") if isinstance(data, dict) else None
        if not result:
            return []
        media: dict[str, Media] = {}

        def add(url: str | None, kind: str, duration: float | None = None) -> None:
            if url and (url not in media or duration is not None):
                media[url] = Media(url, kind, duration)

        for clip in result.get("clips") or ():
            add(clip.get("audio_url"), "audio", clip.get("duration"))
            add(clip.get("image_url"), "image")
        for stem in result.get("stems") or ():
            add(stem.get("audio_url"), "audio")
        for url in result.get("audio_urls") or ():
            add(url, "audio", result.get("duration"))
        add(result.get("image_url"), "image")
        add(result.get("video_url"), "video")
        return list(media.values())

    def callback_stage(self, payload: Any) -> str:
        return payload.get("status") if isinstance(payload, dict) else None

    def invalid_requests(self) -> list[Invalid]:
        song = {"model": "suno-v5", "prompt": "dreamy synth pop"}
        tts = {"model": "elevenlabs-v3", "text": "Welcome to Orux AI.", "voice_id": VOICE}
        music = {"model": "elevenlabs-music", "prompt": "a jingle"}
        act = {"model": "runway-act-two", "character_video_url": ACTOR,
               "driver_video_url": DANCE}
        return [
            Invalid("body-not-json", b"{not json", 400, "a body that is not JSON is refused"),
            Invalid("body-not-object", [song], 400, "a body that is not an object is refused"),
            Invalid("model-missing", {"prompt": "x"}, 400, "model is required"),
            Invalid("model-unknown", {"model": "suno-v9", "prompt": "x"}, 400,
                    "model must be one of the documented model ids"),
            Invalid("prompt-missing", {"model": "suno-v5"}, 400,
                    "prompt is required for suno-v5"),
            Invalid("prompt-empty", {**song, "prompt": ""}, 400,
                    "prompt must not be empty"),
            Invalid("prompt-not-string", {**song, "prompt": 42}, 400, "prompt is a string"),
            Invalid("lyrics-not-string", {**song, "lyrics": ["la"]}, 400,
                    "lyrics is a string"),
            Invalid("instrumental-not-boolean", {**song, "instrumental": "yes"}, 400,
                    "instrumental is a boolean"),
            Invalid("duration-below-30", {**song, "duration": 29}, 400,
                    "suno-v5 duration is at least 30 s"),
            Invalid("duration-above-240", {**song, "duration": 241}, 400,
                    "suno-v5 duration is at most 240 s"),
            Invalid("duration-not-integer", {**song, "duration": 60.5}, 400,
                    "duration is an integer"),
            Invalid("duration-string", {**song, "duration": "60"}, 400,
                    "duration is an integer, not a string"),
            Invalid("action-unknown", {**song, "action": "remix"}, 400,
                    "action must be one of the documented Suno sub-actions"),
            Invalid("action-without-parent", {**song, "action": "extend"}, 400,
                    "a chained action needs parent_task_id"),
            Invalid("parent-unknown", {**song, "action": "extend", "parent_task_id": UNKNOWN},
                    404, "a parent_task_id that does not exist is not found"),
            Invalid("alias-contradicts-action",
                    {**song, "model": "suno-extend", "action": "cover",
                     "parent_task_id": UNKNOWN}, 400,
                    "an action contradicting a dedicated suno-<action> model id is refused"),
            Invalid("upload-extend-without-audio", {**song, "action": "upload-extend"}, 400,
                    "upload-extend needs the audio to extend (audio_url)"),
            Invalid("webhook-not-http", {**song, "webhook_url": "ftp://hooks.example.com/x"},
                    400, "webhook_url must be an http(s) URL"),
            Invalid("tts-text-missing", {k: v for k, v in tts.items() if k != "text"}, 400,
                    "elevenlabs-v3 text is required"),
            Invalid("tts-voice-missing", {k: v for k, v in tts.items() if k != "voice_id"},
                    400, "elevenlabs-v3 voice_id is required"),
            Invalid("tts-stability-above-1", {**tts, "stability": 1.01}, 400,
                    "stability is 0–1"),
            Invalid("tts-stability-below-0", {**tts, "stability": -0.1}, 400,
                    "stability is 0–1"),
            Invalid("tts-style-above-1", {**tts, "style": 1.5}, 400, "style is 0–1"),
            Invalid("tts-style-below-0", {**tts, "style": -0.01}, 400, "style is 0–1"),
            Invalid("tts-stability-not-number", {**tts, "stability": "high"}, 400,
                    "stability is a number"),
            Invalid("tts-speaker-boost-not-boolean", {**tts, "use_speaker_boost": "on"}, 400,
                    "use_speaker_boost is a boolean"),
            Invalid("music-prompt-missing", {"model": "elevenlabs-music", "duration": 30},
                    400, "elevenlabs-music prompt is required"),
            Invalid("music-duration-below-10", {**music, "duration": 9}, 400,
                    "elevenlabs-music duration is at least 10 s"),
            Invalid("music-duration-above-120", {**music, "duration": 121}, 400,
                    "elevenlabs-music duration is at most 120 s"),
            Invalid("music-duration-not-integer", {**music, "duration": 30.5}, 400,
                    "elevenlabs-music duration is an integer"),
            Invalid("act-two-character-missing",
                    {k: v for k, v in act.items() if k != "character_video_url"}, 400,
                    "runway-act-two character_video_url is required"),
            Invalid("act-two-driver-missing",
                    {k: v for k, v in act.items() if k != "driver_video_url"}, 400,
                    "runway-act-two driver_video_url is required"),
            Invalid("act-two-driver-not-url", {**act, "driver_video_url": "dance.mp4"}, 400,
                    "driver_video_url is a URL"),
        ]

    async def webhook_secret(self, ctx) -> str | None:
        if ctx.run.webhook_secret:
            return ctx.run.webhook_secret
        if ctx.run.admin is None:
            return None
        try:
            account = await ctx.run.admin.call("GET", f"/accounts/{ctx.api_key}")
        except CaseFailed:  # the key is not the simulator's own (a gateway's key)
            return None
        secret = account.get("webhook_secret") if isinstance(account, dict) else None
        return secret or None

    def verify(self, secret: str | None, raw: bytes, headers: dict[str, str],
               now: float | None = None) -> str | None:
        """What orux tells receivers to do: recompute ``sha256=`` + HMAC-SHA256 of
        ``"{timestamp}." + raw body`` with the webhook secret, compare in constant time,
        refuse a timestamp more than five minutes from the receiver's clock. Without a
        secret, only the headers' form and the timestamp's freshness are checked."""
        stamp, signature = _header(headers, TIMESTAMP), _header(headers, SIGNATURE)
        if not stamp or not stamp.isdigit():
            return f"{TIMESTAMP} is {stamp!r}, not Unix seconds"
        if not signature or not re.fullmatch(r"sha256=[0-9a-f]{64}", signature):
            return f"{SIGNATURE} is {signature!r}, not sha256=<64 hex digits>"
        now = time.time() if now is None else now
        if abs(now - int(stamp)) > TOLERANCE_S:
            off = now - int(stamp)
            return (f"{TIMESTAMP} {stamp} is {abs(off):.0f} s "
                    f"{'behind' if off > 0 else 'ahead of'} the receiver's clock "
                    f"(at most {TOLERANCE_S:g} s)")
        if secret is not None and not hmac.compare_digest(sign(secret, stamp, raw), signature):
            return f"{SIGNATURE} does not match the body signed with the webhook secret"
        return None


DRIVER = Orux()


# --- helpers -------------------------------------------------------------------------------


def price_of(body: dict[str, Any]) -> float:
    model = body["model"]
    if model.startswith("suno-"):
        return PRICES[model[5:] if model != "suno-v5" else body.get("action", "generate")]
    return PRICES[model]


async def case_key(ctx) -> str:
    """The key a dialect case works with. Against the simulator itself, a fresh key of
    the case's own: its tasks, parents and webhooks are its alone, and its polling does
    not drain the rate limit the run's key shares with every other case (orux's 429
    names no Retry-After, so each costs a patient client a second). Through a gateway,
    the run's key."""
    key = getattr(ctx, "_orux_key", None)
    if key is None:
        key = ctx.api_key
        if ctx.run.direct and ctx.run.admin is not None:
            key = await new_key(ctx, CASE_CREDITS)
        ctx._orux_key = key
    return key


async def call(ctx, method: str, path: str, **kwargs: Any):
    """``ctx.call`` with the case's key unless another is given."""
    if "key" not in kwargs:
        kwargs["key"] = await case_key(ctx)
    return await ctx.call(method, path, **kwargs)


async def poll(ctx, task_id: str):
    return await ctx.poll(task_id, key=await case_key(ctx))


async def secret_of(ctx) -> str | None:
    """The webhook secret of the case's key."""
    key = await case_key(ctx)
    if key == ctx.api_key:
        return await DRIVER.webhook_secret(ctx)
    return (await account(ctx, key))["webhook_secret"]


async def start(ctx, body: dict[str, Any], *, key: Any = None) -> str:
    """Submit a task; the answer must be 200 with a ``task_`` ULID and QUEUED."""
    ctx.spend(price_of(body) / DRIVER.price)
    answer = await call(ctx, "POST", TASKS, json=body, key=key or await case_key(ctx))
    expect(answer.status == 200, f"submitting {body.get('model')} "
                                 f"{body.get('action') or ''}: {answer}")
    task_id = DRIVER.task_id_of(answer.data)
    expect(isinstance(task_id, str) and TASK_ID.match(task_id),
           f"task id {task_id!r} is not task_ and a ULID: {answer}")
    expect(answer.data.get("status") == "QUEUED", f"a new task is not QUEUED: {answer}")
    ctx.observe(task_id, "QUEUED")
    return task_id


async def finish(ctx, task_id: str, status: str = "SUCCESS", *, key: Any = None
                 ) -> dict[str, Any]:
    """Poll a task to its end; it must end ``status``, its answer named as submitted."""
    answer = await ctx.settle(task_id, poll_every=POLL_S, key=key or await case_key(ctx))
    data = answer.data
    expect(data.get("status") == status, f"task {task_id} ended {data.get('status')!r}, "
                                         f"not {status}: {answer}")
    expect(data.get("task_id") == task_id, f"polling {task_id} answered {data.get('task_id')}")
    return data


async def finish_all(ctx, ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every task settled (one after the other: they run at once upstream anyway)."""
    return {name: await finish(ctx, task_id) for name, task_id in ids.items()}


def song_body(ctx, text: str, **extra: Any) -> dict[str, Any]:
    """A suno-v5 song of 30 s with the chain's lyrics."""
    return {"model": "suno-v5", "prompt": ctx.marker(text), "lyrics": LYRICS, "duration": 30,
            **extra}


async def song(ctx, text: str, **extra: Any) -> dict[str, Any]:
    """A suno-v5 song made end to end."""
    return await finish(ctx, await start(ctx, song_body(ctx, text, **extra)))


def chained(ctx, parent: str, action: str, **extra: Any) -> dict[str, Any]:
    return {"model": "suno-v5", "action": action, "parent_task_id": parent,
            "prompt": ctx.marker(action), **extra}


def error_of(answer, status: int, kind: str, code: str, param: Any = ...) -> dict[str, Any]:
    """orux's normalized error: exactly type, code, message, channel, param."""
    expect(answer.status == status, f"expected {status} {code}, got {answer}")
    body = answer.data
    expect(isinstance(body, dict) and set(body) == {"error"}, f"not orux's error: {answer}")
    error = body["error"]
    expect(isinstance(error, dict) and set(error) == {"type", "code", "message", "channel",
                                                      "param"},
           f"the error has fields {sorted(error) if isinstance(error, dict) else error}")
    expect((error["type"], error["code"]) == (kind, code),
           f"error {error['type']}/{error['code']}, expected {kind}/{code}: {answer}")
    expect(isinstance(error["message"], str) and error["message"], f"no message: {answer}")
    if param is not ...:
        expect(error["param"] == param, f"error param {error['param']!r}, expected "
                                        f"{param!r}: {answer}")
    return error


def sung_lines(lyrics: str) -> list[str]:
    return [line.strip() for line in (lyrics or "").splitlines()
            if line.strip() and not re.fullmatch(r"\[[^\]]*\]", line.strip())]


def check_chain_refs(task: dict[str, Any], action: str, parent: str, root: str) -> None:
    expect(task.get("model") == "suno-v5" and task.get("channel") == "suno",
           f"{action}: model {task.get('model')!r} on channel {task.get('channel')!r}")
    expect(task.get("action") == action, f"{action}: the task says action "
                                         f"{task.get('action')!r}")
    expect(task.get("parent_task_id") == parent,
           f"{action}: parent_task_id {task.get('parent_task_id')!r}, expected {parent}")
    expect(task.get("root_task_id") == root,
           f"{action}: root_task_id {task.get('root_task_id')!r}, expected the original {root}")
    expect(task.get("credits") == PRICES[action],
           f"{action}: credits {task.get('credits')!r}, the price is {PRICES[action]:g}")


def check_result_urls(task: dict[str, Any]) -> None:
    """``result_urls`` lists every asset of the result: audio, then video, then image."""
    result = task.get("result") or {}
    links = list(result.get("audio_urls") or ())
    links += [result[name] for name in ("video_url", "image_url") if result.get(name)]
    expect(task.get("result_urls") == links,
           f"result_urls {task.get('result_urls')} do not list the result's links {links}")


def clips_of(task: dict[str, Any], count: int | None = None) -> list[dict[str, Any]]:
    result = task.get("result") or {}
    clips = result.get("clips") or []
    if count is not None:
        expect(len(clips) == count, f"{task.get('action') or task.get('model')}: "
                                    f"{len(clips)} songs, expected {count}")
    expect(result.get("audio_urls") == [c["audio_url"] for c in clips],
           f"audio_urls do not list each song's audio_url: {result.get('audio_urls')}")
    return clips


async def check_all_media(ctx, task: dict[str, Any]) -> None:
    media = DRIVER.media_of(task)
    expect(media, f"task {task.get('task_id')} links no media: {task}")
    for item in media:
        await check_media(ctx, item)


async def check_media_sample(ctx, task: dict[str, Any]) -> None:
    """The task's links, but of its songs only the first (and a vocals stem): each song
    is rendered when first fetched, and fetching every one of a chain costs only time."""
    result = task.get("result") or {}
    names = {s.get("audio_url"): s.get("name") for s in result.get("stems") or ()}
    skip = set()
    for clip in (result.get("clips") or [])[1:]:
        if names.get(clip["audio_url"]) != "vocals":
            skip |= {clip["audio_url"], clip["image_url"]}
    media = [m for m in DRIVER.media_of(task) if m.url not in skip]
    expect(media, f"task {task.get('task_id')} links no media: {task}")
    for item in media:
        await check_media(ctx, item)


async def fetched(ctx, url: str, kind: str) -> bytes:
    answer = await ctx.fetch(url)
    expect(answer.status == 200, f"{url}: {answer.status}")
    expect((answer.header("content-type") or "").startswith(kind),
           f"{url} serves {answer.header('content-type')!r}, not {kind}")
    return answer.body


def video_seconds(data: bytes) -> float | None:
    import av
    try:
        with av.open(io.BytesIO(data)) as container:
            return container.duration / 1e6 if container.duration else None
    except (av.FFmpegError, OSError, ValueError):
        return None


def need_direct(ctx) -> None:
    """Cases that make their own keys on the target: the target must be the simulator."""
    if ctx.run.admin is None:
        raise Skipped("needs the simulator's control plane (--upstream-admin)")
    if not ctx.run.direct:
        raise Skipped("makes its own keys on the target: needs the target to be the simulator")


async def new_key(ctx, credits: float, models: list[str] | None = None) -> str:
    body: dict[str, Any] = {"credits": credits}
    if models is not None:
        body["models"] = models
    return (await ctx.admin.call("POST", "/accounts", body))["api_key"]


async def account(ctx, key: str) -> dict[str, Any]:
    return await ctx.admin.call("GET", f"/accounts/{key}")


# --- the dialect's own cases ---------------------------------------------------------------


def add_cases(catalog: Catalog, driver: Orux) -> None:
    # The longest cases first, so they start while the short ones fill the other slots.
    _chains(catalog, driver)
    _credits(catalog, driver)
    _scenarios(catalog, driver)
    _states(catalog, driver)
    _shapes(catalog, driver)
    _callbacks(catalog, driver)


def _scenarios(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("duration-bounds", "The documented duration bounds themselves are accepted",
                  seed=f"{SEED}: duration (30–240 suno-v5, 10–120 elevenlabs-music)",
                  area="scenarios", needs=[CREDITS], cost=2)
    async def duration_bounds(ctx) -> None:
        ids = {("suno-v5", 240): await start(ctx, {"model": "suno-v5", "duration": 240,
                                                   "prompt": ctx.marker("a long song")}),
               ("elevenlabs-music", 10): await start(ctx, {"model": "elevenlabs-music",
                                                           "duration": 10,
                                                           "prompt": ctx.marker("a blip")}),
               ("elevenlabs-music", 120): await start(ctx, {"model": "elevenlabs-music",
                                                            "duration": 120,
                                                            "prompt": ctx.marker("a loop")})}
        for (model, seconds), task_id in ids.items():
            task = await finish(ctx, task_id)
            if model == "suno-v5":
                claimed = [c["duration"] for c in clips_of(task, 2)]
            else:
                claimed = [task["result"]["duration"]]
            expect(all(abs(c - seconds) < 0.01 for c in claimed),
                   f"{model} asked {seconds} s made {claimed}")
            item = next(m for m in driver.media_of(task) if m.kind == "audio")
            await check_media(ctx, item)

    @catalog.case("seed-song", "The seed's song example makes two 60 s songs with its lyrics",
                  seed=f"{SEED}: examples, submit a song", area="scenarios", needs=[CREDITS],
                  cost=1)
    async def seed_song(ctx) -> None:
        words = "Soft rain on neon glass, the city hums..."
        task_id = await start(ctx, {"model": "suno-v5", "prompt": ctx.marker(
            "Lo-fi hip hop beat with rainy night ambience"), "lyrics": words, "duration": 60})
        early = (await poll(ctx, task_id)).data
        if early["status"] in ("QUEUED", "RUNNING"):
            expect(early["result"] is None and early["result_urls"] == []
                   and "finish_time" not in early,
                   f"an unfinished task shows results or a finish time: {early}")
        task = await finish(ctx, task_id)
        expect((task["alias"], task["model"], task["action"], task["channel"]) ==
               ("suno-v5", "suno-v5", "generate", "suno") and task["upstream_model"],
               f"the song's model fields: {task}")
        expect(task["parent_task_id"] is None and task["root_task_id"] is None,
               f"an original song names a parent or root: {task}")
        expect(task.get("finish_time") and task["finish_time"] >= task["submit_time"]
               and isinstance(task.get("duration_sec"), int),
               f"a finished task's times: {task}")
        clips = clips_of(task, 2)
        expect(len({c["id"] for c in clips}) == 2, "the two songs share an id")
        for clip in clips:
            expect(clip["duration"] == 60, f"a song of {clip['duration']} s, asked 60: {clip}")
            expect(clip["lyrics"] == words, f"the song sings {clip['lyrics']!r}, not the lyrics")
        expect(task["result"]["lyrics"] == words and task["result"].get("image_url"),
               f"the result's lyrics and cover art: {task['result']}")
        expect(task["expires_at"] is not None, "a succeeded task has no expires_at")
        check_result_urls(task)
        await check_media_sample(ctx, task)

    @catalog.case("instrumental", "instrumental: true makes songs without words",
                  seed=f"{SEED}: suno-v5 instrumental", area="scenarios", needs=[CREDITS],
                  cost=1)
    async def instrumental(ctx) -> None:
        task = await song(ctx, "an instrumental", instrumental=True)
        for clip in clips_of(task, 2):
            expect(clip["lyrics"] == "" and clip["duration"] == 30,
                   f"an instrumental song: {clip}")

    @catalog.case("elevenlabs-v3", "ElevenLabs v3 speech: defaults applied, settings echoed",
                  seed=f"{SEED}: ElevenLabs v3 (text-to-speech)", area="scenarios",
                  needs=[CREDITS], cost=0.4)
    async def elevenlabs_v3(ctx) -> None:
        plain = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                                  "text": ctx.marker("Welcome to Orux AI. One key, every model.")})
        given = {"model_id": "eleven_multilingual_v2", "stability": 0.9, "style": 0.0,
                 "use_speaker_boost": False}
        tuned = await start(ctx, {"model": "elevenlabs-v3", "voice_id": "voice-two",
                                  "text": ctx.marker("Hello again."), **given})
        tasks = await finish_all(ctx, {"plain": plain, "tuned": tuned})
        for name, settings, voice in (("plain", TTS_DEFAULTS, VOICE),
                                      ("tuned", given, "voice-two")):
            task = tasks[name]
            expect((task["model"], task["alias"], task["channel"], task["action"],
                    task["chain_credits"]) == ("elevenlabs-v3", "elevenlabs-v3", "elevenlabs",
                                               None, None),
                   f"{name} speech task fields: {task}")
            expect(task["upstream_model"] == settings["model_id"],
                   f"upstream_model {task['upstream_model']!r}, model_id "
                   f"{settings['model_id']!r}")
            expect(task["credits"] == PRICES["elevenlabs-v3"], f"speech credits {task['credits']}")
            result = task["result"]
            expect(result.get("settings") == settings,
                   f"{name} speech settings {result.get('settings')}, expected {settings}")
            expect(result.get("voice_id") == voice, f"voice_id {result.get('voice_id')!r}")
            expect(isinstance(result.get("duration"), (int, float)) and result["duration"] > 0.5,
                   f"speech duration {result.get('duration')!r}")
            expect(len(result.get("audio_urls") or []) == 1, f"speech audio: {result}")
            check_result_urls(task)
            await check_all_media(ctx, task)

    @catalog.case("elevenlabs-music", "ElevenLabs music: 30 s by default, or the duration asked",
                  seed=f"{SEED}: ElevenLabs Music", area="scenarios", needs=[CREDITS], cost=1)
    async def elevenlabs_music(ctx) -> None:
        ids = {30: await start(ctx, {"model": "elevenlabs-music",
                                     "prompt": ctx.marker("a game jingle")}),
               12: await start(ctx, {"model": "elevenlabs-music",
                                     "prompt": ctx.marker("a short sting"), "duration": 12})}
        tasks = await finish_all(ctx, ids)
        for seconds, task in tasks.items():
            expect((task["model"], task["channel"], task["action"]) ==
                   ("elevenlabs-music", "elevenlabs", None), f"music task fields: {task}")
            expect(task["credits"] == PRICES["elevenlabs-music"],
                   f"music credits {task['credits']}")
            result = task["result"]
            expect(result.get("duration") == seconds,
                   f"music of {result.get('duration')} s, expected {seconds}")
            check_result_urls(task)
            await check_all_media(ctx, task)

    @catalog.case("runway-act-two", "Runway Act-Two makes a video from the two references",
                  seed=f"{SEED}: Runway Act-Two", area="scenarios", needs=[CREDITS], cost=2.5)
    async def runway_act_two(ctx) -> None:
        task_id = await start(ctx, {"model": "runway-act-two", "character_video_url": ACTOR,
                                    "driver_video_url": DANCE + f"?case={ctx.token}"})
        task = await finish(ctx, task_id)
        expect((task["model"], task["channel"], task["action"]) ==
               ("runway-act-two", "runway", None), f"act-two task fields: {task}")
        expect(task["credits"] == PRICES["runway-act-two"], f"act-two credits {task['credits']}")
        url = (task["result"] or {}).get("video_url")
        expect(url and task["result_urls"] == [url], f"act-two result: {task}")
        data = await fetched(ctx, url, "video/mp4")
        expect(data[4:8] == b"ftyp", f"{url} is not an MP4")
        seconds = video_seconds(data)
        expect(seconds is not None and seconds > 1, f"{url} plays {seconds} s")


def _chains(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("extend", "extend, its suno-extend model id, and upload-extend of the "
                  "song's own audio each continue it", area="chains", needs=[CREDITS], cost=4,
                  seed=f"{SEED}: Suno v5 multi-step workflow, extend and upload-extend")
    async def extend(ctx) -> None:
        root = await song(ctx, "a song to extend")
        root_id, source = root["task_id"], clips_of(root)[0]
        added = "[Verse]\nBrand new morning rising\nCarry me across the water"
        ids = {"action": await start(ctx, chained(ctx, root_id, "extend", duration=30,
                                                  lyrics=added)),
               "alias": await start(ctx, {**chained(ctx, root_id, "extend", duration=30),
                                          "model": "suno-extend", "action": "extend"}),
               "upload": await start(ctx, {"model": "suno-v5", "action": "upload-extend",
                                           "prompt": ctx.marker("more of it"), "duration": 30,
                                           "audio_url": source["audio_url"]})}
        tasks = await finish_all(ctx, ids)
        upload = tasks.pop("upload")
        for name, task in tasks.items():
            check_chain_refs(task, "extend", root_id, root_id)
            expect(task["alias"] == ("suno-extend" if name == "alias" else "suno-v5"),
                   f"extend by {name}: alias {task['alias']!r}")
            for clip in clips_of(task, 2):
                expect(abs(clip["duration"] - (source["duration"] + 30)) < 0.01,
                       f"a {source['duration']} s song extended by 30 s is "
                       f"{clip['duration']} s")
            check_result_urls(task)
            await check_media_sample(ctx, task)
        words = sung_lines(clips_of(tasks["action"])[0]["lyrics"])
        expect(words[-2:] == sung_lines(added),
               f"the extension does not sing the added lyrics: {words}")
        # upload-extend starts from the caller's audio, not a task: a chain of its own
        expect(upload["action"] == "upload-extend" and upload["parent_task_id"] is None
               and upload["root_task_id"] is None,
               f"an upload starts a chain of its own: {upload}")
        expect(upload["credits"] == PRICES["upload-extend"]
               and upload["chain_credits"] == PRICES["upload-extend"],
               f"upload-extend credits {upload['credits']}, chain {upload['chain_credits']}")
        for clip in clips_of(upload, 2):
            expect(clip["duration"] > 30, f"an upload extended by 30 s is {clip['duration']} s")
            if ctx.run.direct:  # the simulator knows its own link: that song is extended
                expect(abs(clip["duration"] - (source["duration"] + 30)) < 0.01,
                       f"a {source['duration']} s upload extended by 30 s is "
                       f"{clip['duration']} s")
        check_result_urls(upload)
        await check_media_sample(ctx, upload)

    async def derive(ctx, roots: dict[str, dict[str, Any]], bodies: dict[str, Any]
                     ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """Songs made, then actions on them: each action's task checked to hang under its
        parent (the song named in its body) and to link real media."""
        made = await finish_all(ctx, {n: await start(ctx, b) for n, b in roots.items()})
        bodies = bodies({n: t["task_id"] for n, t in made.items()})
        tasks = await finish_all(ctx, {n: await start(ctx, b) for n, b in bodies.items()})
        sources = {c["id"] for t in made.values() for c in clips_of(t)}
        for action, task in tasks.items():
            parent = bodies[action]["parent_task_id"]
            check_chain_refs(task, action, parent, parent)
            clips = clips_of(task, 1 if action in ("instrumental", "add-vocals") else 2)
            expect(not sources & {c["id"] for c in clips}, f"{action} reuses a source song")
            check_result_urls(task)
            await check_media_sample(ctx, task)
        return made, tasks

    @catalog.case("cover-replace-persona", "cover, replace and persona make new songs of one",
                  seed=f"{SEED}: Suno v5 multi-step workflow", area="chains", needs=[CREDITS],
                  cost=4)
    async def cover_replace_persona(ctx) -> None:
        made, tasks = await derive(ctx, {"root": song_body(ctx, "dreamy synth pop")}, lambda ids: {
            "cover": chained(ctx, ids["root"], "cover", prompt="acoustic folk"),
            "replace": chained(ctx, ids["root"], "replace", replace_start=10, replace_end=20),
            "persona": chained(ctx, ids["root"], "persona", prompt="jazz ballad")})
        source = clips_of(made["root"])[0]
        cover = clips_of(tasks["cover"])[0]
        expect(sung_lines(cover["lyrics"]) == SUNG and cover["tags"] == "acoustic folk",
               f"a cover sings the same lyrics in the new style: {cover}")
        for clip in clips_of(tasks["replace"]):
            expect(abs(clip["duration"] - source["duration"]) < 0.01,
                   f"replace keeps the song's length: {clip['duration']} vs "
                   f"{source['duration']}")
        persona = clips_of(tasks["persona"])[0]
        expect("jazz ballad" in persona["tags"] and persona["lyrics"],
               f"a persona song in the asked style, sung: {persona}")

    @catalog.case("vocals-mashup", "instrumental strips a song's vocals, add-vocals sings "
                  "over a backing track, mashup blends two songs",
                  seed=f"{SEED}: Suno v5 multi-step workflow", area="chains", needs=[CREDITS],
                  cost=5)
    async def vocals_mashup(ctx) -> None:
        made, tasks = await derive(ctx, {
            "root": song_body(ctx, "dreamy synth pop"),
            "backing": song_body(ctx, "a backing track", instrumental=True)}, lambda ids: {
            "instrumental": chained(ctx, ids["root"], "instrumental"),
            "add-vocals": chained(ctx, ids["backing"], "add-vocals", prompt="soulful vocals",
                                  lyrics=LYRICS),
            "mashup": chained(ctx, ids["root"], "mashup", prompt="blend",
                              mashup_task_id=ids["backing"])})
        source = clips_of(made["root"])[0]
        backing = clips_of(tasks["instrumental"])[0]
        expect(backing["lyrics"] == "" and abs(backing["duration"] - source["duration"]) < 0.01,
               f"instrumental strips the vocals and keeps the length: {backing}")
        sung = clips_of(tasks["add-vocals"])[0]
        expect(sung_lines(sung["lyrics"]) == SUNG,
               f"add-vocals sings the given lyrics: {sung['lyrics']!r}")
        mashup = clips_of(tasks["mashup"])[0]
        expect(mashup["title"].count(" x ") == 1,
               f"a mashup's title names its two songs: {mashup['title']!r}")

    @catalog.case("exports", "lyrics (LRC), stem, wav, mv and cover-img of a song",
                  seed=f"{SEED}: Suno v5 multi-step workflow", area="chains", needs=[CREDITS],
                  cost=5)
    async def exports(ctx) -> None:
        root = await song(ctx, "a song to export")
        root_id, source = root["task_id"], clips_of(root)[0]
        ids = {action: await start(ctx, chained(ctx, root_id, action))
               for action in ("lyrics", "stem", "wav", "mv", "cover-img")}
        tasks = await finish_all(ctx, ids)
        for action, task in tasks.items():
            check_chain_refs(task, action, root_id, root_id)
            check_result_urls(task)
        # lyrics: the song's words as LRC, timed within the song, in order
        words = tasks["lyrics"]["result"]
        expect(words.get("format") == "lrc" and tasks["lyrics"]["result_urls"] == [],
               f"lyrics result: {words}")
        lines = [LRC_LINE.fullmatch(line) for line in words["lyrics"].splitlines()]
        expect(lines and all(lines), f"not LRC lines: {words['lyrics']!r}")
        times = [int(m[1]) * 60 + int(m[2]) + int(m[3]) / 100 for m in lines]
        expect([m[4] for m in lines] == SUNG, f"the LRC words {[m[4] for m in lines]}")
        expect(times == sorted(times) and 0 <= times[0] and times[-1] < source["duration"],
               f"LRC times {times} in a {source['duration']} s song")
        # stem: one track per instrument, vocals among them, each a real song-long MP3
        stems = tasks["stem"]["result"].get("stems") or []
        names = [s["name"] for s in stems]
        expect(len(stems) >= 2 and len(set(names)) == len(names) and "vocals" in names,
               f"stems {names}")
        expect(tasks["stem"]["result"]["audio_urls"] == [s["audio_url"] for s in stems],
               "audio_urls do not list the stems")
        for clip in clips_of(tasks["stem"]):
            expect(abs(clip["duration"] - source["duration"]) < 0.01,
                   f"a stem of {clip['duration']} s of a {source['duration']} s song")
        await check_media_sample(ctx, tasks["stem"])
        # wav: the song as RIFF WAV, as long as the song
        (wav,) = tasks["wav"]["result"]["audio_urls"]
        expect(tasks["wav"]["result"].get("format") == "wav", "wav result format")
        data = await fetched(ctx, wav, "audio/")
        expect(data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"{wav} is not a WAV file")
        seconds = media_seconds(data)
        expect(seconds is not None and abs(seconds - source["duration"]) < 0.1,
               f"the WAV plays {seconds} s, the song {source['duration']} s")
        # mv: an MP4 as long as the song
        video = tasks["mv"]["result"].get("video_url")
        data = await fetched(ctx, video, "video/mp4")
        seconds = video_seconds(data)
        expect(seconds is not None and abs(seconds - source["duration"]) < 0.5,
               f"the music video plays {seconds} s, the song {source['duration']} s")
        # cover-img: a new JPEG, not the song's own cover
        image = await fetched(ctx, tasks["cover-img"]["result"]["image_url"], "image/")
        before = await fetched(ctx, root["result"]["image_url"], "image/")
        expect(image[:3] == b"\xff\xd8\xff" and image != before,
               "cover-img did not make a new JPEG cover")

    @catalog.case("refusals", "Chained actions refuse a parent they cannot work on",
                  seed=f"{SEED}: Suno v5 multi-step workflow", area="chains", needs=[CREDITS],
                  cost=2)
    async def refusals(ctx) -> None:
        running = await start(ctx, {"model": "suno-v5", "prompt": ctx.marker("a parent"),
                                    "lyrics": LYRICS, "duration": 30})
        answer = await call(ctx, "POST", TASKS, json=chained(ctx, running, "extend"))
        error_of(answer, 409, "invalid_request_error", "parent_not_ready", "parent_task_id")
        speech = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                                   "text": ctx.marker("not a song")})
        await finish(ctx, running)
        await finish(ctx, speech)
        cases = [
            ("onto speech", chained(ctx, speech, "cover"), 400, "invalid_request",
             "parent_task_id"),
            ("add-vocals onto a sung song", chained(ctx, running, "add-vocals"), 400,
             "invalid_request", "parent_task_id"),
            ("mashup without a second song", chained(ctx, running, "mashup"), 400,
             "invalid_request", "mashup_task_id"),
            ("mashup with speech", chained(ctx, running, "mashup", mashup_task_id=speech), 400,
             "invalid_request", "mashup_task_id"),
            ("upload-extend with a parent",
             {**chained(ctx, running, "upload-extend"), "audio_url": DANCE}, 400,
             "invalid_request", "parent_task_id"),
            ("generate with a parent", chained(ctx, running, "generate"), 400,
             "invalid_request", "parent_task_id"),
            ("replace past the song's end",
             chained(ctx, running, "replace", replace_start=10, replace_end=999), 400,
             "invalid_request", "replace_end"),
            ("unknown parent", chained(ctx, UNKNOWN, "cover"), 404, "task_not_found",
             "parent_task_id"),
        ]
        for what, body, status, code, param in cases:
            answer = await call(ctx, "POST", TASKS, json=body)
            try:
                error_of(answer, status, "invalid_request_error", code, param)
            except CaseFailed as exc:
                raise CaseFailed(f"{what}: {exc}") from None
        # another key: the run's second key, or (against the simulator, where the case
        # has a key of its own) the run's key
        mine = await case_key(ctx)
        second = next((k for k in (ctx.run.second_key, ctx.api_key) if k and k != mine), None)
        if second:
            answer = await ctx.call("POST", TASKS, json=chained(ctx, running, "cover"),
                                    key=second)
            try:
                error_of(answer, 404, "invalid_request_error", "task_not_found",
                         "parent_task_id")
            except CaseFailed as exc:
                raise CaseFailed(f"another key's parent: {exc}") from None


def _credits(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("chain-attribution", "A chain's cost is attributed to the original song",
                  seed=f"{SEED}: Suno v5 multi-step workflow (cost attribution)",
                  area="credits", needs=[CREDITS], cost=4)
    async def chain_attribution(ctx) -> None:
        root = await song(ctx, "a song whose chain is counted")
        root_id = root["task_id"]
        expect(root["credits"] == PRICES["generate"] and root["chain_credits"] == PRICES[
            "generate"], f"a lone song: credits {root['credits']}, chain "
                         f"{root['chain_credits']}")
        ids = {"extend": await start(ctx, chained(ctx, root_id, "extend", duration=30)),
               "wav": await start(ctx, chained(ctx, root_id, "wav"))}
        failed = None
        if ctx.run.admin is not None:  # a simulator behind the target: a link that fails
            failed = await finish(ctx, await start(ctx, chained(
                ctx, root_id, "cover", prompt=ctx.marker("[sim:fail] a cover"))), "FAILED")
            expect(failed["root_task_id"] == root_id and failed["result"] is None,
                   f"a failed chained task: {failed}")
        tasks = await finish_all(ctx, ids)
        grandchild = await finish(ctx, await start(ctx, chained(
            ctx, tasks["extend"]["task_id"], "wav")))
        check_chain_refs(grandchild, "wav", tasks["extend"]["task_id"], root_id)
        total = PRICES["generate"] + PRICES["extend"] + PRICES["wav"] * 2
        for task_id in (root_id, tasks["extend"]["task_id"], grandchild["task_id"]):
            now = (await poll(ctx, task_id)).data
            expect(now["chain_credits"] == total,
                   f"task {task_id}: chain_credits {now['chain_credits']}, the chain cost "
                   f"{total:g}" + (" (a failed cover costs nothing)" if failed else ""))

    @catalog.case("held-spent-refunded", "Credits are held at submit, spent on success, "
                  "returned on failure", seed=f"{SEED}: credits", area="credits",
                  needs=[CREDITS, UPSTREAM_ADMIN], cost=2)
    async def held_spent_refunded(ctx) -> None:
        need_direct(ctx)
        key = await new_key(ctx, 100)
        ok = await start(ctx, {"model": "suno-v5", "prompt": ctx.marker("paid"),
                               "duration": 30}, key=key)
        bad = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                                "text": ctx.marker("[sim:fail] refunded")}, key=key)
        now = await account(ctx, key)
        held = PRICES["generate"] + PRICES["elevenlabs-v3"]
        expect(now["held"] + now["spent"] == held and now["credits"] == 100 - held,
               f"after submitting {held:g} credits of work: {now}")
        await finish(ctx, ok, key=key)
        await finish(ctx, bad, "FAILED", key=key)
        after = await account(ctx, key)
        expect((after["credits"], after["held"], after["spent"]) ==
               (100 - PRICES["generate"], 0, PRICES["generate"]),
               f"the song spent, the failure returned: {after}")

    @catalog.case("quota-exceeded", "A key that cannot cover a task gets 429 quota_exceeded",
                  seed=f"{SEED}: credits", area="credits", needs=[CREDITS, UPSTREAM_ADMIN],
                  cost=0.2)
    async def quota_exceeded(ctx) -> None:
        need_direct(ctx)
        key = await new_key(ctx, PRICES["generate"] - 1)
        before = await account(ctx, key)
        answer = await ctx.call("POST", TASKS, key=key, patient=False, json={
            "model": "suno-v5", "prompt": ctx.marker("too dear"), "duration": 30})
        error = error_of(answer, 429, "rate_limit_error", "quota_exceeded")
        expect(error["channel"] is None, f"quota error names a channel: {error}")
        expect(await account(ctx, key) == before, "a refused task charged the key")
        task_id = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                                    "text": ctx.marker("a cheaper task fits")}, key=key)
        await finish(ctx, task_id, key=key)


def _states(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("failed-shape", "A failed task has an error code and message, no result",
                  seed=f"{SEED}: response status", area="states", needs=[CREDITS, SIMULATOR],
                  cost=3)
    async def failed_shape(ctx) -> None:
        ids = {"suno": await start(ctx, {"model": "suno-v5", "duration": 30,
                                         "prompt": ctx.marker("[sim:fail] a song")}),
               "act-two": await start(ctx, {"model": "runway-act-two",
                                            "character_video_url": ACTOR,
                                            "driver_video_url": f"{DANCE}?x={ctx.token}"
                                                                "[sim:fail]"})}
        for name, task_id in ids.items():
            task = await finish(ctx, task_id, "FAILED")
            expect(task.get("error_code") == "generation_failed" and task.get("error_message"),
                   f"{name}: a failure's error_code/error_message: {task}")
            expect(task["result"] is None and task["result_urls"] == [],
                   f"{name}: a failed task shows results: {task}")

    @catalog.case("expired-results", "Past retention a task reads EXPIRED and its links 410",
                  seed=f"{SEED}: response status (EXPIRED)", area="states",
                  needs=[CREDITS, SIMULATOR], cost=0.2)
    async def expired_results(ctx) -> None:
        task_id = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                                    "text": ctx.marker("[sim:expire] Welcome to Orux AI.")})
        task = await finish(ctx, task_id)
        link = task["result"]["audio_urls"][0]
        gone = (await ctx.settle(task_id, key=await case_key(ctx), until=frozenset({"EXPIRED"}),
                                 poll_every=POLL_S)).data
        expect(gone["status"] == "EXPIRED" and gone["result"] is None
               and gone["result_urls"] == [] and gone.get("error_code") == "expired"
               and gone.get("error_message"), f"an expired task: {gone}")
        expect(gone.get("finish_time") == task.get("finish_time"),
               "expiry changed the finish time")
        answer = await ctx.fetch(link)
        expect(answer.status == 410, f"an expired result's link answers {answer.status}")

    @catalog.case("ttl-expired", "A job past its TTL reads EXPIRED and its credits return",
                  seed=f"{SEED}: response status (EXPIRED)", area="states",
                  needs=[CREDITS, SIMULATOR, UPSTREAM_ADMIN], cost=1)
    async def ttl_expired(ctx) -> None:
        task_id = await start(ctx, {"model": "suno-v5", "duration": 30,
                                    "prompt": ctx.marker("[sim:stuck] a job that never ends")})
        await asyncio.sleep(0.2)
        upstream = await ctx.admin.tasks_with(ctx.token, driver.provider)
        expect(len(upstream) == 1, f"{len(upstream)} upstream tasks for one request")
        # What the simulator does when a job's 24 h TTL runs out, now.
        await ctx.admin.call("POST", f"/tasks/{upstream[0]['id']}/outcome",
                             {"outcome": "fail", "reason": "timed_out"})
        task = await finish(ctx, task_id, "EXPIRED")
        expect(task.get("error_code") == "expired" and "TTL" in (task.get("error_message") or ""),
               f"a job past its TTL: {task}")
        expect(task["result"] is None and task["chain_credits"] == 0,
               f"an expired job keeps results or credits: {task}")


def _shapes(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("errors", "Errors are orux's {error: {type, code, message, channel, param}}",
                  seed=f"{SEED}: errors", area="shapes")
    async def errors(ctx) -> None:
        body = {"model": "suno-v5", "prompt": ctx.marker(), "duration": 30}
        error = error_of(await ctx.call("POST", TASKS, json=body, key=None), 401, "auth_error",
                         "invalid_api_key", None)
        expect(error["channel"] is None, f"a 401 names a channel: {error}")
        error_of(await ctx.call("GET", f"{TASKS}/{UNKNOWN}", key="sk-app-not-a-key"), 401,
                 "auth_error", "invalid_api_key", None)
        for asked in (UNKNOWN, "nonsense"):
            error_of(await call(ctx, "GET", f"{TASKS}/{asked}"), 404, "invalid_request_error",
                     "task_not_found", "task_id")
        error_of(await call(ctx, "POST", TASKS, json={**body, "duration": 241}), 400,
                 "invalid_request_error", "invalid_request", "duration")
        error_of(await call(ctx, "POST", TASKS, json={
            "model": "elevenlabs-v3", "text": "hi", "voice_id": VOICE, "stability": 2}),
            400, "invalid_request_error", "invalid_request", "stability")

    @catalog.case("upstream-channel", "A 502 names the upstream channel that failed",
                  seed=f"{SEED}: errors", area="shapes", needs=[SIMULATOR])
    async def upstream_channel(ctx) -> None:
        for body, channel in (
                ({"model": "suno-v5", "prompt": ctx.marker("[sim:502] song")}, "suno"),
                ({"model": "elevenlabs-v3", "voice_id": VOICE,
                  "text": ctx.marker("[sim:502] speech")}, "elevenlabs")):
            answer = await call(ctx, "POST", TASKS, json=body)
            error = error_of(answer, 502, "api_error", "upstream_error")
            expect(error["channel"] == channel,
                   f"a {body['model']} 502 names channel {error['channel']!r}, not {channel}")

    @catalog.case("model-not-allowed", "A key not allowed a model gets 403; suno-<action> "
                  "ids count as suno-v5", seed=f"{SEED}: model ids", area="auth",
                  needs=[UPSTREAM_ADMIN])
    async def model_not_allowed(ctx) -> None:
        need_direct(ctx)
        key = await new_key(ctx, 1000, ["suno-v5"])
        answer = await ctx.call("POST", TASKS, key=key, json={
            "model": "elevenlabs-v3", "text": "hi", "voice_id": VOICE})
        error_of(answer, 403, "auth_error", "model_not_allowed", "model")
        answer = await ctx.call("POST", TASKS, key=key, json={
            "model": "suno-extend", "prompt": "x", "parent_task_id": UNKNOWN})
        error_of(answer, 404, "invalid_request_error", "task_not_found", "parent_task_id")

    @catalog.case("rate-limit-shape", "A 429 past the rate limit is rate_limit_exceeded",
                  seed=f"{SEED}: rate limits", area="rate-limits", needs=[UPSTREAM_ADMIN])
    async def rate_limit_shape(ctx) -> None:
        need_direct(ctx)
        key = await new_key(ctx, 0)
        await ctx.admin.call("PUT", f"/rate-limits/{driver.provider}",
                             {"rate": 0.5, "burst": 1, "api_key": key})
        answers = await asyncio.gather(*(ctx.call("GET", f"{TASKS}/{UNKNOWN}", key=key,
                                                  patient=False) for _ in range(3)))
        statuses = sorted(a.status for a in answers)
        expect(statuses == [404, 429, 429],
               f"3 requests at once past a limit of 1 a time answered {statuses}")
        limited = [a for a in answers if a.status == 429]
        for answer in limited:
            error_of(answer, 429, "rate_limit_error", "rate_limit_exceeded")

    @catalog.case("task-ids", "Task ids are task_ and a ULID, later tasks sorting later",
                  seed=f"{SEED}: response (task_id)", area="ids", needs=[CREDITS], cost=0.4)
    async def task_ids(ctx) -> None:
        body = {"model": "elevenlabs-v3", "voice_id": VOICE, "text": ctx.marker("first")}
        first = await start(ctx, body)
        await asyncio.sleep(0.05)
        second = await start(ctx, {**body, "text": ctx.marker("second")})
        expect(first < second, f"a later task's id {second} sorts before {first}")
        for task_id in (first, second):
            await finish(ctx, task_id)


def _callbacks(catalog: Catalog, driver: Orux) -> None:
    @catalog.case("signed", "Webhooks are signed copies of the task; a tampered or stale "
                  "one does not verify", seed=f"{SEED}: webhook_url (signed event)",
                  area="callbacks", needs=[CREDITS, RECEIVER], cost=0.4)
    async def signed(ctx) -> None:
        receiver = ctx.run.receiver
        address = receiver.address(ctx.token)
        ok = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                               "text": ctx.marker("Welcome"), "webhook_url": address})
        bad = await start(ctx, {"model": "elevenlabs-v3", "voice_id": VOICE,
                                "text": ctx.marker("[sim:fail] Welcome"),
                                "callback_url": address})
        ended = {ok: await finish(ctx, ok), bad: await finish(ctx, bad, "FAILED")}
        got = await receiver.wait(ctx.token, lambda ds: len(ds) >= 2,
                                  timeout=ctx.run.callback_wait)
        posted = {(d.data or {}).get("task_id"): d for d in got}
        expect(set(posted) == {ok, bad} and len(got) == 2,
               f"expected one webhook each for {ok} and {bad}, got "
               f"{[(d.data or {}).get('task_id') for d in got]}")
        secret = await secret_of(ctx)
        for task_id, status in ((ok, "SUCCESS"), (bad, "FAILED")):
            delivery = posted[task_id]
            expect(_header(delivery.headers, EVENT) == status,
                   f"{EVENT} {_header(delivery.headers, EVENT)!r} on a {status} webhook")
            expect((_header(delivery.headers, "Content-Type") or "").startswith(
                "application/json"), "a webhook that is not JSON")
            problem = driver.verify(secret, delivery.body, delivery.headers)
            expect(problem is None, f"a genuine {status} webhook: {problem}")
            expect(delivery.data == ended[task_id],
                   f"the {status} webhook is not the task as GET shows it")
            expect(not driver.check_callback(ctx, delivery.data),
                   f"the webhook breaks the Task schema: "
                   f"{driver.check_callback(ctx, delivery.data)}")
        if secret is None:
            raise Skipped("no webhook secret known (--webhook-secret): the signatures' form "
                          "and freshness were checked, not their HMAC")
        genuine = posted[ok]
        raw, headers = genuine.body, dict(genuine.headers)
        stamp = _header(headers, TIMESTAMP)
        at = raw.index(b'"SUCCESS"') + 2
        tampered = raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]
        expect(driver.verify(secret, tampered, headers) is not None,
               "verify() accepted a webhook whose body was changed by one byte")
        expect(driver.verify("whsec_wrong", raw, headers) is not None,
               "verify() accepted a webhook checked with the wrong secret")
        for offset in (-TOLERANCE_S - 1, TOLERANCE_S + 60):
            when = str(int(time.time() + offset))
            resigned = {TIMESTAMP: when, SIGNATURE: sign(secret, when, raw)}
            expect(driver.verify(secret, raw, resigned) is not None,
                   f"verify() accepted a correctly signed webhook {offset:+.0f} s off")
        expect(driver.verify(secret, raw, headers, now=int(stamp) + 360) is not None,
               "verify() accepted a genuine webhook replayed six minutes later")
        expect(driver.verify(secret, raw, {TIMESTAMP: stamp}) is not None,
               "verify() accepted a webhook without a signature")

    @catalog.case("expired-webhook", "A job expired past its TTL posts a signed EXPIRED event",
                  seed=f"{SEED}: webhook_url (terminal status)", area="callbacks",
                  needs=[CREDITS, RECEIVER, SIMULATOR, UPSTREAM_ADMIN], cost=1)
    async def expired_webhook(ctx) -> None:
        receiver = ctx.run.receiver
        task_id = await start(ctx, {"model": "suno-v5", "duration": 30,
                                    "prompt": ctx.marker("[sim:stuck] a job that never ends"),
                                    "webhook_url": receiver.address(ctx.token)})
        await asyncio.sleep(0.2)
        upstream = await ctx.admin.tasks_with(ctx.token, driver.provider)
        expect(len(upstream) == 1, f"{len(upstream)} upstream tasks for one request")
        await ctx.admin.call("POST", f"/tasks/{upstream[0]['id']}/outcome",
                             {"outcome": "fail", "reason": "timed_out"})
        await finish(ctx, task_id, "EXPIRED")
        got = await receiver.wait(ctx.token, lambda ds: len(ds) >= 1,
                                  timeout=ctx.run.callback_wait)
        expect(len(got) == 1, f"{len(got)} webhooks for one expired job")
        delivery = got[0]
        expect((delivery.data or {}).get("status") == "EXPIRED"
               and _header(delivery.headers, EVENT) == "EXPIRED",
               f"the webhook of an expired job: {delivery.body[:200]!r}")
        problem = driver.verify(await secret_of(ctx), delivery.body,
                                delivery.headers)
        expect(problem is None, f"the EXPIRED webhook: {problem}")
        expect(orjson.loads(delivery.body)["task_id"] == task_id, "the webhook names another task")
