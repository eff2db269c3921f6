"""The orux driver: how a client submits, polls and reads a task of any model, which
requests the seed says are refused, and how a receiver verifies a signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import tomllib
from typing import Any

from simulator.resources import resource_dir

from ...case import CaseFailed
from ...dialect import NO_CREDITS, Driver, Invalid, Media

TASKS = "/api/v1/tasks"
SEED = "seed 000"
PRICES: dict[str, float] = tomllib.loads(
    (resource_dir("fixtures") / "prices.toml").read_text(encoding="utf-8"))["orux"]
TASK_ID = re.compile(r"^task_[0-9A-HJKMNP-TV-Z]{26}$")
UNKNOWN = "task_01HZZZZZZZZZZZZZZZZZZZZZZZ"
TIMESTAMP, SIGNATURE, EVENT = "X-Orux-Timestamp", "X-Orux-Signature", "X-Orux-Event"
TOLERANCE_S = 300.0  # a receiver refuses a timestamp more than five minutes off its clock
VOICE = "EXAVITQu4vr4xnSDxMaL"
ACTOR, DANCE = "https://files.example/actor.mp4", "https://files.example/dance.mp4"


def header(headers: dict[str, str], name: str) -> str | None:
    """A header of a delivery, whatever the case of its name."""
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
    # {"error": {"type", "code", "message", "channel", "param"}} (specs/orux.yaml): a 429
    # is rate_limit_exceeded, or quota_exceeded when the credits cannot cover the task.
    error_words = {
        400: {"type": "invalid_request_error", "code": "invalid_request"},
        401: {"type": "auth_error", "code": "invalid_api_key"},
        403: {"type": "auth_error", "code": "model_not_allowed"},
        404: {"type": "invalid_request_error", "code": "task_not_found"},
        429: {"type": "rate_limit_error", "code": "rate_limit_exceeded"},
        NO_CREDITS: {"type": "rate_limit_error", "code": "quota_exceeded"},
    }

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
        """The secret of the key the case runs with. Against the simulator itself each
        case has a key of its own, with a secret of its own: the control plane's record
        of it. Otherwise the secret the run was given, or the control plane's record of
        the run's key when the target passes keys through."""
        if ctx.run.webhook_secret and not ctx.run.direct:
            return ctx.run.webhook_secret
        if ctx.run.admin is None:
            return None
        try:
            account = await ctx.run.admin.account(ctx.api_key)
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
        stamp, signature = header(headers, TIMESTAMP), header(headers, SIGNATURE)
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
