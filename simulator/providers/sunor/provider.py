"""sunor: Suno and Udio behind one task endpoint (seed 001 and the provider's docs).

``POST /api/v1/task`` takes ``{model, task_type, input}`` and answers 202 with the task,
its credits frozen; ``GET /api/v1/task/{task_id}`` polls it through pending → running →
success | failure | timeout. Errors are ``{"code": status, "message"}``.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import replace
from typing import Any

from aiohttp import web

from ..core import derive, songwriter
from ..core.engine import TIMED_OUT, ClipSpec, InsufficientCredits
from ..core.ids import Ids
from ..core.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Account, Clip, Task
from ..core.ratelimit import Limit, Verdict
from ..media.files import AUDIO_MP3, COVER
from .base import BadRequest, Provider, iso_time

TASK, TASK_ID, BALANCE = "/api/v1/task", "/api/v1/task/{task_id}", "/api/v1/account/balance"
STATUS = {QUEUED: "pending", RUNNING: "running", SUCCEEDED: "success", FAILED: "failure"}
TIMEOUT = "timeout"
# The upstream's own words, inside ``output``.
OUTPUT_STATUS = {QUEUED: "queued", RUNNING: "processing", SUCCEEDED: "completed",
                 FAILED: "failed"}
# "Tasks take 30 seconds to 5 minutes": one still running after ten times out.
TTL = 600.0
TAKES = 2  # clips per music task, for both models
JOBS = {"music": "song", "lyrics": "text", "upload": "export", "concat": "export"}
MODEL_NAMES = {"suno": "chirp-fenix", "udio": "udio32-v1.5"}


class Sunor(Provider):
    id = "sunor"
    json_content_type_only = True  # the seed: "Must be application/json."

    def routes(self) -> list[web.RouteDef]:
        return [web.post(TASK, self.create), web.get(TASK_ID, self.detail),
                web.get(BALANCE, self.balance)]

    def error_body(self, status: int, message: str, **fields: Any) -> dict[str, Any]:
        return {"code": status, "message": message}

    def api_key(self, request: web.Request) -> str | None:
        return request.headers.get("x-api-key", "").strip() or None

    def refuse_missing_key(self) -> BadRequest:
        return BadRequest(401, "Missing x-api-key header")

    def refuse_unknown_key(self) -> BadRequest:
        return BadRequest(401, "Invalid API key")

    def refuse_rate(self, wait: int, limit: Limit) -> BadRequest:
        return BadRequest(429, f"Rate limit exceeded. Try again in {wait} seconds.",
                          headers={"Retry-After": str(wait)})

    def rate_headers(self, verdict: Verdict) -> dict[str, str]:
        # Documented on every answer: the window's size, what is left, when it is full.
        if verdict.limit.off:
            return {}
        return {"X-RateLimit-Limit": f"{verdict.limit.burst:g}",
                "X-RateLimit-Remaining": str(verdict.remaining),
                "X-RateLimit-Reset": str(int(time.time() + verdict.full_in + 0.999))}

    outages = {500: "Internal server error",
               502: "Upstream provider error: the AI provider is temporarily unavailable",
               503: "Service temporarily unavailable",
               504: "Upstream provider timed out"}

    # -- handlers ----------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        body = await self.valid_body(request, TASK)
        model, kind, given = body["model"], body["task_type"], body["input"]
        if not self.engine.may_use_model(account, model):
            raise BadRequest(403, f"This API key may not use model {model}")
        steering = self.engine.steering(*(given.get(name) for name in (
            "gpt_description_prompt", "prompt", "tags", "negative_tags", "title", "lyrics",
            "url")))
        if steering.http_status:
            raise self.outage(steering.http_status)
        clips = getattr(self, f"_{model}_{kind}")(account, given)
        price = self.settings.price(self.id, f"{model}-{kind}")
        meta = {"model": model, "type": kind, "seed": self.engine.ids.seed32()}
        try:
            task = self.engine.submit(
                self.id, account.api_key, JOBS[kind], task_id=self.engine.ids.uuid(),
                params=body, cost=price, clips=clips, steering=steering, ttl=TTL, meta=meta)
        except InsufficientCredits as exc:
            raise BadRequest(402, f"Insufficient credits: available {exc.available:g}, "
                                  f"required {exc.needed:g}") from None
        return self.json({"code": 202, "data": {
            "task_id": task.id, "type": kind, "status": STATUS[task.status],
            "credits_charged": _number(task.cost), "created_at": iso_time(task.created_at)}},
            status=202)

    async def detail(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        task = self.engine.task(request.match_info["task_id"])
        if task is None or task.provider != self.id or task.api_key != account.api_key:
            raise BadRequest(404, "Task not found")
        return self.json({"code": 200, "data": self.render(task, self.origin(request))})

    async def balance(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        return self.json({"code": 200, "data": {
            "available": _number(account.available), "frozen": _number(account.held),
            "total": _number(account.available + account.held)}})

    # -- what each request makes -------------------------------------------------------
    def _suno_music(self, account: Account, given: dict[str, Any]) -> list[ClipSpec]:
        instrumental = given.get("make_instrumental") is True
        if given.get("continue_clip_id"):
            source = self._own(account, given["continue_clip_id"], "continue_clip_id")
            at = float(given.get("continue_at", source.duration))
            if at > source.duration:
                raise BadRequest(400, f"continue_at must not exceed the clip's duration "
                                      f"({source.duration:g} s)")
            spec = derive.extension(self.engine, source, at,
                                    lyrics=None if instrumental else given.get("prompt") or None,
                                    instrumental=instrumental, title=given.get("title"),
                                    tags=given.get("tags") or None)
        elif given.get("gpt_description_prompt"):
            spec = self.engine.compose(given["gpt_description_prompt"],
                                       instrumental=instrumental)
        elif given.get("prompt") or given.get("tags"):
            lyrics = given.get("prompt") or None
            spec = self.engine.compose(given.get("title") or given.get("tags") or "",
                                       title=given.get("title"), tags=given.get("tags"),
                                       lyrics=None if instrumental else lyrics,
                                       instrumental=instrumental or lyrics is None)
        else:
            raise BadRequest(400, "Invalid input parameters for the selected task type: "
                                  "suno music needs gpt_description_prompt (inspiration), "
                                  "prompt or tags (custom) or continue_clip_id (continuation)")
        return [spec] * TAKES

    def _suno_lyrics(self, account: Account, given: dict[str, Any]) -> list[ClipSpec]:
        return []

    def _suno_upload(self, account: Account, given: dict[str, Any]) -> list[ClipSpec]:
        url = given["url"]
        return [derive.upload(self.engine, url, self.served_clip(url))]

    def _suno_concat(self, account: Account, given: dict[str, Any]) -> list[ClipSpec]:
        return [derive.concat(self.engine, self._own(account, given["clip_id"], "clip_id"))]

    def _udio_music(self, account: Account, given: dict[str, Any]) -> list[ClipSpec]:
        kind = given.get("lyrics_type", "generate")
        if kind == "user" and not given.get("lyrics"):
            raise BadRequest(400, "Invalid input parameters for the selected task type: "
                                  "lyrics_type user needs lyrics")
        style = ", ".join(t for t in (given.get("tags"), given["prompt"]) if t)
        lyrics = given.get("lyrics") if kind == "user" else None
        instrumental = kind == "instrumental"
        spec = self.engine.compose(given["prompt"], tags=style if given.get("tags") else None,
                                   lyrics=lyrics, instrumental=instrumental)
        if given.get("seed") is None:
            return [spec] * TAKES
        return [_seeded(spec, given["seed"], take) for take in range(TAKES)]

    def _own(self, account: Account, clip_id: str, field: str) -> Clip:
        clip = self.engine.own_clip(account.api_key, clip_id, self.id)
        if clip is None:
            raise BadRequest(400, f"Invalid input parameters for the selected task type: "
                                  f"{field} {clip_id} is not a finished clip of this API key")
        return clip

    # -- rendering ---------------------------------------------------------------------
    def render(self, task: Task, origin: str) -> dict[str, Any]:
        timed_out = task.status == FAILED and (task.error or {}).get("code") == TIMED_OUT
        error = task.error["message"] if task.status == FAILED and task.error else None
        return {
            "task_id": task.id,
            "model": task.meta["model"],
            "type": task.meta["type"],
            "status": TIMEOUT if timed_out else STATUS[task.status],
            "credits_cost": _number(task.cost),
            "input": task.params["input"],
            "output": None if task.status == QUEUED else {
                "task_type": task.meta["type"],
                "status": OUTPUT_STATUS[task.status],
                "progress": f"{task.progress(self.engine.now())}%",
                "fail_reason": error,
                "result": self._result(task, origin) if task.status == SUCCEEDED else [],
            },
            "error": error,
            "created_at": iso_time(task.created_at),
            "completed_at": iso_time(task.finished_at) if task.finished_at else None,
        }

    def _result(self, task: Task, origin: str) -> list[dict[str, Any]]:
        if task.meta["type"] == "lyrics":
            return [self._lyrics(task)]
        return [self._clip(task, clip, origin) for clip in task.clips]

    def _lyrics(self, task: Task) -> dict[str, Any]:
        prompt, seed = task.params["input"]["prompt"], task.meta["seed"]
        return {"text": songwriter.lyrics_from(prompt, seed),
                "title": songwriter.title_from(prompt, seed)}

    def _clip(self, task: Task, clip: Clip, origin: str) -> dict[str, Any]:
        metadata: dict[str, Any] = {"duration": clip.duration, "tags": clip.tags,
                                    "prompt": clip.lyrics,
                                    "model_name": MODEL_NAMES[task.meta["model"]],
                                    "type": task.meta["type"]}
        negative = task.params["input"].get("negative_tags")
        if negative:
            metadata["negative_tags"] = negative
        lineage = clip.lineage or {}
        if "continue_at" in lineage:
            metadata.update(continue_clip_id=lineage.get("source"),
                            continue_at=lineage["continue_at"])
        return {"id": clip.id, "audio_url": self.media_url(origin, clip.id, AUDIO_MP3),
                "image_url": self.media_url(origin, clip.id, COVER), "title": clip.title,
                "metadata": metadata}


def _seeded(spec: ClipSpec, seed: int, take: int) -> ClipSpec:
    """Take ``take`` of a Udio request with a seed: its words, length and sound all drawn
    from (seed, take), so the same seed always gives the same tracks."""
    draw = zlib.crc32(f"udio:{seed}:{take}".encode())
    ids = Ids(draw)
    sung = 0 if spec.instrumental else (songwriter.sung_lines(spec.lyrics) if spec.lyrics
                                        else songwriter.WRITTEN_SUNG_LINES)
    seconds = songwriter.duration_for(sung, ids)
    return replace(spec, text_seed=draw,
                   derive=lambda song: replace(song, seed=draw, duration=seconds))


def _number(value: float) -> float | int:
    """Credits as the provider writes them: whole numbers without a decimal point."""
    return int(value) if float(value).is_integer() else value

