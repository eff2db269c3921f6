"""acedata: Suno through the acedata gateway (seed 002 and the provider's public docs).

``POST /suno/audios`` takes an ``action`` and answers in one of three ways: it waits for
the songs (the default), streams task snapshots as NDJSON, or returns the task id at once
(``async`` or ``callback_url``) for ``POST /suno/tasks`` to retrieve. The companion
endpoints are tasks too, answered the same three ways where the provider allows it.
Errors are ``{"error": {code, message}, "trace_id"}``; a failed task adds
``success: false`` and ``task_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ..core import derive, songwriter
from ..core.engine import DEADLINE, ClipSpec, InsufficientCredits
from ..core.lifecycle import FINISH, is_end
from ..core.magic import Steering
from ..core.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Account, Clip, Task
from ..core.ratelimit import Limit
from ..core.webhooks import Policy
from ..media import facts
from ..media.render import parts_of
from .base import BadRequest, Provider, iso_time, off_loop

AUDIOS, TASKS, PERSONA = "/suno/audios", "/suno/tasks", "/suno/persona"
AVAILABILITY, CUSTOM_MODELS = "/suno/availability", "/suno/custom-models"
NDJSON = "application/x-ndjson"
# A request that waits for its songs gives up after this many simulated seconds.
SYNC_TIMEOUT = 600.0
CALLBACK_POLICY = Policy(timeout=10.0, retries=3)
DEFAULT_MODEL = "chirp-v4"
TAKES = 2  # songs per generation, as the provider documents

ERROR_CODES = {
    400: "bad_request", 401: "invalid_token", 403: "used_up", 404: "no_api",
    405: "bad_request", 413: "bad_request", 429: "too_many_requests", 500: "api_error",
    502: "api_error", 503: "busy", 504: "timeout",
}
# How a failed task is answered, by the core's failure reason.
FAILURES = {
    "content_moderation": (403, "forbidden", "Song Description flagged for moderation"),
}
GENERIC_FAILURE = (500, "api_error", "job failed with unknown error")
TIMEOUT = (504, "timeout", "timeout while waiting for audio generation")
NO_SONG = "The song id does not exist or has been taken offline."

# Request names → the names songs carry upstream (what the provider's answers show).
UPSTREAM_MODEL = {
    "chirp-v3-0": "chirp-v3", "chirp-v3-5": "chirp-v3.5", "chirp-v4": "chirp-v4",
    "chirp-v4-5": "chirp-auk", "chirp-v4-5-plus": "chirp-bluejay", "chirp-v5": "chirp-v5",
    "chirp-v5-5": "chirp-v5-5", "chirp-v6": "chirp-v6", "chirp-v6-wild": "chirp-v6-wild",
    "chirp-v6-mini": "chirp-v6-mini",
}
MAX_SECONDS = {"chirp-v3-0": 120.0, "chirp-v3-5": 120.0, "chirp-v4": 150.0, "chirp-v4-5": 240.0}
# A custom model is trained on the provider's latest published model; its songs show it.
CUSTOM_MODEL_BASE = "chirp-v5-5"
MODEL_SLOTS = 3  # custom models a key may hold; archiving does not free a slot
NO_MODEL = "The custom model does not exist."
LONGEST = 480.0
STEM_LABELS = {
    "vocals": "Vocals", "backing_vocals": "Backing Vocals", "drums": "Drums",
    "percussion": "Percussion", "bass": "Bass", "guitar": "Guitar", "keys": "Keyboard",
    "strings": "Strings", "synth": "Synth", "fx": "FX",
}
ALL_STEMS_MODEL = "chirp-ahi-stem-12-t1"
# What an upload of audio from elsewhere stands for: the simulator never fetches it.
STAND_IN_SECONDS = {"upload": 60.0, "voices": 30.0}
VOICE_SECONDS = (10.0, 240.0)
VOX_MAX_WINDOW = 30.0


@dataclass(frozen=True)
class Endpoint:
    """A companion endpoint: its path, the job kind it runs, and how it may answer."""

    name: str
    kind: str = "export"
    can_defer: bool = False  # accepts async / callback_url


ENDPOINTS = {e.name: e for e in (
    Endpoint("lyrics", "text", can_defer=True), Endpoint("mashup-lyrics", "text"),
    Endpoint("style", "text"), Endpoint("persona"), Endpoint("voices"),
    Endpoint("upload", can_defer=True), Endpoint("mp4"), Endpoint("mp3", can_defer=True),
    Endpoint("wav", can_defer=True), Endpoint("midi", can_defer=True), Endpoint("timing"),
    Endpoint("vox", can_defer=True),
)}


class Acedata(Provider):
    id = "acedata"

    def __init__(self, engine, settings):
        super().__init__(engine, settings)
        engine.subscribe(self.id, self._on_event)

    def routes(self) -> list[web.RouteDef]:
        companions = [web.post(f"/suno/{name}", self.companion) for name in ENDPOINTS]
        return [web.post(AUDIOS, self.audios), web.post(TASKS, self.tasks),
                web.get(PERSONA, self.list_personas),
                web.delete(PERSONA, self.delete_persona),
                web.post(AVAILABILITY, self.availability),
                web.post(CUSTOM_MODELS, self.custom_models), *companions]

    def error_body(self, status: int, message: str, **fields: Any) -> dict[str, Any]:
        if status == 404 and not fields.get("type"):
            message = "API does not exist, please make sure url is correct."
        body: dict[str, Any] = {
            "error": {"code": fields.get("type") or ERROR_CODES.get(status, "api_error"),
                      "message": message},
            "trace_id": fields.get("trace_id") or self.engine.ids.uuid(),
        }
        if fields.get("task_id"):
            body = {"success": False, **body, "task_id": fields["task_id"]}
        return body

    # -- handlers ----------------------------------------------------------------------
    async def audios(self, request: web.Request) -> web.StreamResponse:
        account = self.authenticate(request)
        body = await self.valid_body(request, AUDIOS)
        action = body.get("action", "generate")
        if "duration" in body and action != "generate":  # the spec's duration rule, part two
            raise BadRequest(400, "duration is only supported by action generate")
        model = body.get("model", DEFAULT_MODEL)
        if not self.engine.may_use_model(account, model):
            raise BadRequest(403, "The specified model is not enabled for this token.",
                             type="forbidden")
        steering = self.engine.steering(body.get("prompt"), body.get("lyric"),
                                        body.get("style"), body.get("title"))
        self._refuse_outage(steering)
        specs = Songs(self, account, body, model).for_action(action)
        task = self._submit(account, "audios", "song", action, body, specs,
                            steering=steering,
                            max_duration=MAX_SECONDS.get(model, LONGEST))
        return await self._answer(request, task, deferred=_deferred(body), streams=True)

    async def companion(self, request: web.Request) -> web.StreamResponse:
        name = request.path.rsplit("/", 1)[1]
        endpoint = ENDPOINTS[name]
        account = self.authenticate(request)
        body = await self.valid_body(request, f"/suno/{name}")
        steering = self.engine.steering(body.get("prompt"))
        self._refuse_outage(steering)
        prepare = getattr(self, "_prepare_" + name.replace("-", "_"))
        specs, meta = await prepare(account, body)
        price = "upload-enhanced" if body.get("mode") == "enhanced" else name
        task = self._submit(account, name, endpoint.kind, price, body, specs,
                            steering=steering, meta=meta)
        deferred = (endpoint.can_defer and _deferred(body)) or body.get("mode") == "enhanced"
        return await self._answer(request, task, deferred=deferred, streams=name == "lyrics")

    async def tasks(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        body = await self.valid_body(request, TASKS)
        origin = self.origin(request)
        if body["action"] == "retrieve":
            task = self._own_task(account, body["id"])
            if task is None:
                raise BadRequest(404, "The task does not exist.", type="not_found")
            return self.json(self.record(task, origin))
        found = (self._own_task(account, task_id) for task_id in dict.fromkeys(body["ids"]))
        items = [self.record(task, origin) for task in found if task is not None]
        return self.json({"items": items, "count": len(items)})

    async def list_personas(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        query = self.valid_query(PERSONA, "get", request)
        limit, offset = query["limit"], query["offset"]
        personas = sorted(self.engine.personas(account.api_key), key=lambda p: -p.created_at)
        items = [{"persona_id": p.id, "user_id": query["user_id"], "name": p.name,
                  "description": p.description,
                  "source_type": "voice" if p.kind == "voice" else "persona",
                  "source_audio_id": p.source_clip_id, "created_at": int(p.created_at)}
                 for p in personas[offset:offset + limit]]
        return self.json({"items": items, "count": len(personas)})

    async def delete_persona(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        query = self.valid_query(PERSONA, "delete", request)
        if not self.engine.delete_persona(account.api_key, query["persona_id"]):
            raise BadRequest(404, "The persona does not exist.", type="not_found")
        return self.json({"success": True})

    async def availability(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        body = await self.valid_body(request, AVAILABILITY)
        found = self.engine.clip_of(account.api_key, body["audio_id"], self.id)
        if found is None:
            raise BadRequest(400, NO_SONG)
        task, clip = found
        state = self.song_state(task, task.clips.index(clip))
        return self.json({"success": True, "trace_id": self.engine.ids.uuid(),
                          "data": {"audio_id": clip.id, "available": state == "succeeded",
                                   "state": state}})

    # -- custom models: a model is the task that trains it ------------------------------
    async def custom_models(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        body = await self.valid_body(request, CUSTOM_MODELS)
        if len(request.headers.get("Idempotency-Key", "")) > 200:
            raise BadRequest(400, "Idempotency-Key must be at most 200 characters")
        action = {"create": self._create_model, "retrieve": self._retrieve_model,
                  "retrieve_batch": self._list_models, "generate": self._generate_with_model,
                  "delete": self._archive_model}[body["action"]]
        return await action(request, account, body)

    async def _create_model(self, request: web.Request, account: Account,
                            body: dict[str, Any]) -> web.Response:
        retry_of = request.headers.get("Idempotency-Key")
        models = self._models(account)
        earlier = next((m for m in models if retry_of and
                        m.meta.get("idempotency_key") == retry_of), None)
        if earlier is not None:
            return self.json(self._model_answer(earlier))
        if sum(self.model_status(m) != "failed" for m in models) >= MODEL_SLOTS:
            raise BadRequest(400, f"This application already holds {MODEL_SLOTS} custom "
                                  f"models, the most it may; archiving does not free a slot.")
        steering = self.engine.steering(body["name"])
        self._refuse_outage(steering)
        task = self._submit(account, "custom-models", "training", "custom-model-create", body,
                            [], steering=steering,
                            meta={"model_id": self.engine.ids.uuid(), "name": body["name"],
                                  "idempotency_key": retry_of})
        return self.json(self._model_answer(task))

    async def _retrieve_model(self, request: web.Request, account: Account,
                              body: dict[str, Any]) -> web.Response:
        return self.json(self._model_answer(self._model(account, body["id"])))

    async def _list_models(self, request: web.Request, account: Account,
                           body: dict[str, Any]) -> web.Response:
        models = sorted(reversed(self._models(account)), key=lambda m: -m.created_at)
        if "status" in body:
            models = [m for m in models if self.model_status(m) == body["status"]]
        offset, limit = int(body.get("offset", 0)), int(body.get("limit", 20))  # 8.0 is 8
        return self.json({"items": [self.custom_model(m) for m in models[offset:offset + limit]],
                          "count": len(models)})

    async def _generate_with_model(self, request: web.Request, account: Account,
                                   body: dict[str, Any]) -> web.Response:
        model = self._model(account, body["id"])
        status = self.model_status(model)
        if status != "ready":
            raise BadRequest(400, f"The custom model is {status}; only a ready model can "
                                  f"generate, and none is used in its place.")
        steering = self.engine.steering(body["lyric"], body["style"], body["title"])
        self._refuse_outage(steering)
        song = self.engine.compose(body["title"], title=body["title"], tags=body["style"],
                                   lyrics=body["lyric"],
                                   lineage={"action": "custom_model", "model": body["id"]})
        task = self._submit(account, "audios", "song", "custom-model-generate", body,
                            [song] * TAKES, steering=steering,
                            meta={"upstream_model": CUSTOM_MODEL_BASE})
        return self.json({"success": True, "task_id": task.id, "trace_id": task.meta["trace_id"]})

    async def _archive_model(self, request: web.Request, account: Account,
                             body: dict[str, Any]) -> web.Response:
        model = self._model(account, body["id"])
        if not model.meta.get("archived"):
            model = self.engine.annotate(model.id, archived=True)
        return self.json(self._model_answer(model))

    def _models(self, account: Account) -> list[Task]:
        return [t for t in self.engine.tasks(self.id, api_key=account.api_key)
                if t.meta.get("type") == "custom-models"]

    def _model(self, account: Account, model_id: str) -> Task:
        found = next((m for m in self._models(account) if m.meta["model_id"] == model_id),
                     None)
        if found is None:
            raise BadRequest(404, NO_MODEL, type="not_found")
        return found

    def _model_answer(self, task: Task) -> dict[str, Any]:
        return {"success": True, "task_id": task.id, "trace_id": task.meta["trace_id"],
                "data": self.custom_model(task)}

    @staticmethod
    def model_status(task: Task) -> str:
        if task.meta.get("archived"):
            return "archived"
        if task.status == RUNNING:
            return "training" if task.stage == "training" else "uploading"
        return {QUEUED: "queued", SUCCEEDED: "ready", FAILED: "failed"}[task.status]

    def custom_model(self, task: Task) -> dict[str, Any]:
        status = self.model_status(task)
        model: dict[str, Any] = {
            "id": task.meta["model_id"], "name": task.meta["name"], "status": status,
            "audio_count": len(task.params["audio_urls"]), "task_id": task.id,
            "created_at": iso_time(task.created_at),
            "updated_at": iso_time(task.history[-1][0] if task.history else task.created_at),
        }
        if status == "archived":
            model["capacity_released"] = False
        if task.status == FAILED:
            _, code, message = self._failure(task)
            model["error"] = {"code": code, "message": message}
        return model

    # -- shared steps ------------------------------------------------------------------
    def refuse_missing_key(self) -> BadRequest:
        return BadRequest(400, "No token specified for the request.", type="no_token")

    def refuse_unknown_key(self) -> BadRequest:
        return BadRequest(401, "The specified token is invalid or wrong.")

    def refuse_rate(self, wait: int, limit: Limit) -> BadRequest:
        return BadRequest(429, "You have exceeded the rate limit.",
                          headers={"Retry-After": str(wait)})

    outages = {500: "Internal server error.", 502: "fetch failed",
               503: "api was throttled from upstream and is currently busy, please try again later.",
               504: "timeout while waiting for the upstream api"}

    def _refuse_outage(self, steering: Steering) -> None:
        if steering.http_status:
            raise self.outage(steering.http_status)

    def source(self, account: Account, audio_id: str) -> Clip:
        """A finished song or upload of this key; any other id is refused."""
        clip = self.engine.own_clip(account.api_key, audio_id, self.id)
        if clip is None:
            raise BadRequest(400, NO_SONG)
        return clip

    def _submit(self, account: Account, kind_name: str, job: str,
                price: str, body: dict[str, Any], specs: list[ClipSpec], *,
                steering: Steering, meta: dict[str, Any] | None = None,
                max_duration: float = LONGEST) -> Task:
        callback = body.get("callback_url")
        self.require_callback_url(callback)
        task_meta = {"type": kind_name, "trace_id": self.engine.ids.uuid(),
                     "record_id": self.engine.ids.token(24, "0123456789abcdef"), **(meta or {})}
        try:
            return self.engine.submit(
                self.id, account.api_key, job, task_id=self.engine.ids.uuid(), params=body,
                cost=self.settings.price(self.id, price), clips=specs, callback_url=callback,
                steering=steering, max_duration=max_duration, meta=task_meta)
        except InsufficientCredits:
            raise BadRequest(403, "Your balance is not sufficient for current request, "
                                  "please buy more in Ace Data Cloud.") from None

    async def _answer(self, request: web.Request, task: Task, *, deferred: bool,
                      streams: bool) -> web.StreamResponse:
        """At once (async or callback), as a stream of snapshots, or once the task ends."""
        if deferred:
            return self.json({"success": True, "task_id": task.id,
                              "trace_id": task.meta["trace_id"]})
        origin = self.origin(request)
        if streams and NDJSON in request.headers.get("Accept", ""):
            return await self._stream(request, task, origin)
        with self.engine.watching(task, SYNC_TIMEOUT) as events:
            while not task.terminal:
                if await events.get() == DEADLINE:
                    status, code, message = TIMEOUT
                    raise BadRequest(status, message, type=code, task_id=task.id,
                                     trace_id=task.meta["trace_id"])
        return self._final(task, origin)

    async def _stream(self, request: web.Request, task: Task, origin: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": NDJSON})
        await response.prepare(request)

        async def line(data: dict[str, Any]) -> None:
            await response.write(orjson.dumps(data) + b"\n")

        with self.engine.watching(task, SYNC_TIMEOUT) as events:
            await line(self.snapshot(task, origin))
            while not task.terminal:
                event = await events.get()
                if event == DEADLINE:
                    status, code, message = TIMEOUT
                    await line(self.error_body(status, message, type=code, task_id=task.id,
                                               trace_id=task.meta["trace_id"]))
                    break
                if not task.terminal:
                    await line(self.snapshot(task, origin))
            else:
                await line(self.outcome(task, origin))
        await response.write_eof()
        return response

    def _final(self, task: Task, origin: str) -> web.Response:
        body = self.outcome(task, origin)
        status = 200 if task.status == SUCCEEDED else self._failure(task)[0]
        return self.json(body, status)

    def _own_task(self, account: Account, task_id: str) -> Task | None:
        task = self.engine.task(task_id)
        ok = task is not None and task.provider == self.id and task.api_key == account.api_key
        return task if ok else None

    # -- rendering ---------------------------------------------------------------------
    def outcome(self, task: Task, origin: str) -> dict[str, Any]:
        """The body a finished task answers with: its result, or its error."""
        if task.status == FAILED:
            status, code, message = self._failure(task)
            return self.error_body(status, message, type=code, task_id=task.id,
                                   trace_id=task.meta["trace_id"])
        return {"success": True, "task_id": task.id, "trace_id": task.meta["trace_id"],
                "data": self.result(task, origin)}

    def snapshot(self, task: Task, origin: str) -> dict[str, Any]:
        """A running task as a stream line shows it: the songs so far, no trace id yet."""
        return {"success": True, "task_id": task.id, "data": self.result(task, origin)}

    @staticmethod
    def _failure(task: Task) -> tuple[int, str, str]:
        reason = (task.error or {}).get("code", "")
        return FAILURES.get(reason, GENERIC_FAILURE)

    def record(self, task: Task, origin: str) -> dict[str, Any]:
        """The task as ``/suno/tasks`` shows it."""
        answer: dict[str, Any] = {
            "_id": task.meta["record_id"], "id": task.id, "type": task.meta["type"],
            "trace_id": task.meta["trace_id"], "created_at": round(task.created_at, 3),
            "request": task.params,
        }
        if task.started_at is not None:
            answer["started_at"] = round(task.started_at, 3)
        if task.terminal:
            answer["finished_at"] = round(task.finished_at or task.created_at, 3)
            answer["elapsed"] = round((task.finished_at or task.created_at) - task.created_at, 3)
            answer["response"] = self.outcome(task, origin)
        elif task.meta["type"] == "audios" and task.stage is not None:
            answer["response"] = {"task_id": task.id, "data": self.result(task, origin)}
        return answer

    def result(self, task: Task, origin: str) -> Any:
        """The ``data`` of a task's answer, by the endpoint that started it."""
        kind = task.meta["type"]
        if kind == "audios":
            return [self.song(task, index, clip, origin) for index, clip in enumerate(task.clips)]
        return getattr(self, "_result_" + kind.replace("-", "_"))(task, origin)

    @staticmethod
    def song_state(task: Task, index: int) -> str:
        """One song's own state: a song succeeds when its media is final, which may be
        before its sibling's."""
        if task.status == FAILED:
            return "error"
        if task.status == QUEUED or task.stage is None:
            return "pending"
        return "succeeded" if task.clip_ready(task.clips[index]) else "running"

    def song(self, task: Task, index: int, clip: Clip, origin: str) -> dict[str, Any]:
        params = task.params
        model = params.get("model", DEFAULT_MODEL)
        action = params.get("action", "generate")
        if action == "all_stems":
            model_name = ALL_STEMS_MODEL
        elif action == "stems":
            model_name = ""
        else:
            model_name = task.meta.get("upstream_model") or UPSTREAM_MODEL[model]
        state = self.song_state(task, index)
        item: dict[str, Any] = {
            "id": clip.id, "title": "", "lyric": "", "audio_url": "", "video_url": "",
            "created_at": iso_time(task.created_at), "model": model_name, "state": state,
            "style": "",
        }
        if state in ("running", "succeeded"):
            item.update(title=clip.title, lyric=clip.lyrics, style=clip.tags,
                        image_url=self.media_url(origin, clip.id, "cover.jpeg"),
                        image_large_url=self.media_url(origin, clip.id, "cover-large.jpeg"))
        if state == "succeeded":
            item.update(duration=clip.duration,
                        audio_url=self.media_url(origin, clip.id, "audio.mp3"))
        if params.get("prompt") and not params.get("custom"):
            item["prompt"] = params["prompt"]
        history = (clip.lineage or {}).get("history")
        if history:
            item["concat_history"] = history
        return item

    def _result_lyrics(self, task: Task, origin: str) -> list[dict[str, Any]]:
        prompt, seed = task.params["prompt"], task.meta["seed"]
        return [{"text": songwriter.lyrics_from(prompt, seed + i),
                 "title": songwriter.title_from(prompt, seed + i),
                 "status": "complete", "tags": [songwriter.tags_from(prompt, seed + i)]}
                for i in range(2)]

    def _result_mashup_lyrics(self, task: Task, origin: str) -> dict[str, Any]:
        text = songwriter.mash_lyrics(task.params["lyrics_a"], task.params["lyrics_b"])
        return {"text": text, "title": "Lyrics Mashup", "tags": [], "status": "complete"}

    def _result_style(self, task: Task, origin: str) -> dict[str, Any]:
        return {"upsampled_tags": songwriter.upsample_style(task.params["prompt"],
                                                            task.meta["seed"])}

    def _result_custom_models(self, task: Task, origin: str) -> dict[str, Any]:
        return self.custom_model(task)

    def _result_persona(self, task: Task, origin: str) -> dict[str, Any]:
        return {"persona_id": task.meta["persona_id"]}

    def _result_voices(self, task: Task, origin: str) -> dict[str, Any]:
        return {"persona_id": task.meta["persona_id"], "name": task.meta["name"],
                "is_public": False}

    def _result_upload(self, task: Task, origin: str) -> dict[str, Any]:
        clip = task.clips[0]
        return {"audio_id": clip.id, "title": clip.title,
                "audio_url": self.media_url(origin, clip.id, "audio.mp3"),
                "image_url": self.media_url(origin, clip.id, "cover.jpeg"),
                "image_large_url": self.media_url(origin, clip.id, "cover-large.jpeg"),
                "lyric": clip.lyrics, "style": clip.tags, "duration": clip.duration}

    def _result_mp4(self, task: Task, origin: str) -> dict[str, Any]:
        return {"video_url": self.media_url(origin, task.meta["audio_id"], "video.mp4")}

    def _result_mp3(self, task: Task, origin: str) -> list[dict[str, Any]]:
        return [{"file_url": self.media_url(origin, task.meta["audio_id"], "audio.mp3")}]

    def _result_wav(self, task: Task, origin: str) -> list[dict[str, Any]]:
        return [{"file_url": self.media_url(origin, task.meta["audio_id"], "audio.wav")}]

    def _result_midi(self, task: Task, origin: str) -> list[dict[str, Any]]:
        return [{"state": "complete", "instruments": task.meta["instruments"]}]

    def _result_timing(self, task: Task, origin: str) -> dict[str, Any]:
        return {**task.meta["timing"], "is_streamed": False}

    def _result_vox(self, task: Task, origin: str) -> dict[str, Any]:
        clip = task.clips[0]
        return {"id": clip.id, "source_clip_id": task.meta["audio_id"], "status": "complete",
                "vocal_audio_url": self.media_url(origin, clip.id, "audio.mp3"),
                "vocal_start_s": task.params["vocal_start"],
                "vocal_end_s": task.params["vocal_end"],
                "wave_response": {"waveform_aggregates": task.meta["aggregates"]}}

    # -- companion requests: what each one makes ---------------------------------------
    async def _prepare_lyrics(self, account, body):
        return [], {"seed": self.engine.ids.seed32()}

    async def _prepare_mashup_lyrics(self, account, body):
        return [], {}

    async def _prepare_style(self, account, body):
        return [], {"seed": self.engine.ids.seed32()}

    async def _prepare_persona(self, account, body):
        clip = self.source(account, body["audio_id"])
        vox = None
        if "vox_audio_id" in body:
            vox = self.source(account, body["vox_audio_id"])
            if (vox.lineage or {}).get("action") != "vox":
                raise BadRequest(400, "vox_audio_id must be an id returned by /suno/vox")
        persona = self.engine.create_persona(account.api_key, body["name"], clip,
                                             description=body.get("description", ""),
                                             kind="vox" if vox else "persona", vox=vox)
        return [], {"persona_id": persona.id}

    async def _prepare_voices(self, account, body):
        spec, duration = self._uploaded(body["audio_url"], "voices")
        low, high = VOICE_SECONDS
        if not low <= duration <= high:
            raise BadRequest(400, f"audio_url must be {low:g} to {high:g} seconds long "
                                  f"(this one is {duration:g})")
        name = body.get("name") or f"VOICE_{self.engine.ids.token(12).upper()}"
        return [spec], {"name": name, "pending_persona": body.get("description", "")}

    async def _prepare_upload(self, account, body):
        spec, _ = self._uploaded(body["audio_url"], "upload", body.get("name"))
        return [spec], {}

    async def _prepare_mp4(self, account, body):
        return [], {"audio_id": self.source(account, body["audio_id"]).id}

    _prepare_mp3 = _prepare_wav = _prepare_mp4

    async def _prepare_midi(self, account, body):
        clip = self.source(account, body["audio_id"])
        return [], {"audio_id": clip.id,
                    "instruments": await off_loop(facts.midi_instruments, clip.recipe)}

    async def _prepare_timing(self, account, body):
        clip = self.source(account, body["audio_id"])
        return [], {"audio_id": clip.id,
                    "timing": await off_loop(facts.timing, clip.recipe, clip.lyrics)}

    async def _prepare_vox(self, account, body):
        clip = self.source(account, body["audio_id"])
        start, end = body["vocal_start"], body["vocal_end"]
        if start >= end:
            raise BadRequest(400, "vocal_start must be less than vocal_end")
        if end > clip.duration:
            raise BadRequest(400, f"vocal_end must be within the song ({clip.duration:g} s)")
        if end - start >= VOX_MAX_WINDOW:
            raise BadRequest(400, "the vocal range must be shorter than 30 seconds")
        wave = await off_loop(facts.waveform, derive.vocal_window(clip, start, end), 64)
        return [derive.vox(self.engine, clip, start, end)], {
            "audio_id": clip.id, "aggregates": facts.waveform_aggregates(wave)}

    def _uploaded(self, url: str, purpose: str,
                  name: str | None = None) -> tuple[ClipSpec, float]:
        spec = derive.upload(self.engine, url, self.served_clip(url), purpose=purpose,
                             title=name, seconds=STAND_IN_SECONDS[purpose])
        return spec, spec.derive(None).duration

    # -- callbacks and side effects ----------------------------------------------------
    def _on_event(self, task: Task, event: str) -> None:
        if task.meta.get("type") == "voices" and event == FINISH:
            persona = self.engine.create_persona(task.api_key, task.meta["name"], task.clips[0],
                                                 description=task.meta["pending_persona"],
                                                 kind="voice")
            task.meta["persona_id"] = persona.id
        if not task.callback_url or not is_end(event):
            return
        body = orjson.dumps(self.outcome(task, self.base_url))
        self.engine.deliver(task, body, CALLBACK_POLICY, "complete")


class Songs:
    """Turns one ``/suno/audios`` request into the songs its action makes."""

    def __init__(self, provider: Acedata, account: Account, body: dict[str, Any], model: str):
        self.p, self.engine, self.account, self.body = provider, provider.engine, account, body
        self.model = model
        self.instrumental = body.get("instrumental") is True

    def for_action(self, action: str) -> list[ClipSpec]:
        return getattr(self, "_" + action)()

    # -- helpers -------------------------------------------------------------------------
    def _source(self, key: str = "audio_id") -> Clip:
        return self.p.source(self.account, self.body[key])

    def _lyrics(self, fallback: str | None = None) -> str | None:
        """The caller's lyrics in custom mode; None to have them written."""
        if self.instrumental:
            return None
        if self.body.get("custom") is True and self.body.get("lyric"):
            return self.body["lyric"]
        return fallback

    def _pair(self, spec: ClipSpec) -> list[ClipSpec]:
        """Two takes of one request: same words, each its own music (the engine draws
        each clip's audio seed)."""
        return [spec] * TAKES

    def _window(self, source: Clip, name: str, start_default: float | None = None,
                inclusive_end: bool = False) -> tuple[float, float]:
        start = self.body.get(f"{name}_start", start_default)
        end = self.body[f"{name}_end"]
        if start is None:
            raise BadRequest(400, f"{name}_start is required when action is {name}")
        if start >= end:
            raise BadRequest(400, f"{name}_start must be less than {name}_end")
        beyond = end > source.duration if inclusive_end else end >= source.duration
        if beyond:
            raise BadRequest(400, f"{name}_end must be less than the duration of the song "
                                  f"({source.duration:g} s)")
        return start, end

    def _song(self, description: str, *, tags=None, lyrics=None, lineage=None) -> ClipSpec:
        """A new song: the caller's title, style and length where given, and none of the
        styles its negative tags name."""
        body = self.body
        seconds = body.get("duration")
        avoid = ", ".join(body[k] for k in ("style_negative", "negative_tags") if body.get(k))
        return self.engine.compose(
            description, title=body.get("title"), tags=body.get("style") or tags,
            lyrics=lyrics, instrumental=self.instrumental, lineage=lineage, avoid=avoid,
            derive=None if seconds is None else lambda song: derive.fitted(song, seconds))

    # -- new songs -------------------------------------------------------------------------
    def _generate(self, tags: str | None = None, lineage: dict | None = None) -> list[ClipSpec]:
        body = self.body
        if body.get("custom") is True:
            description = body.get("lyric_prompt") or body.get("title") or body.get("style") or ""
            return self._pair(self._song(description, tags=tags, lyrics=self._lyrics(),
                                         lineage=lineage))
        return self._pair(self._song(body.get("prompt", ""), tags=tags, lineage=lineage))

    def _persona(self, vox: bool) -> list[ClipSpec]:
        persona = self.engine.persona(self.account.api_key, self.body["persona_id"])
        if persona is None:
            raise BadRequest(400, "The persona does not exist.")
        if vox and persona.vox_clip_id is None:
            raise BadRequest(400, "artist_consistency_vox needs a persona created with "
                                  "vox_audio_id")
        found = self.engine.find_clip(persona.source_clip_id)
        tags = found[1].tags if found else None
        return self._generate(tags, {"action": "artist_consistency_vox" if vox
                                     else "artist_consistency", "persona_id": persona.id})

    def _artist_consistency(self) -> list[ClipSpec]:
        return self._persona(vox=False)

    def _artist_consistency_vox(self) -> list[ClipSpec]:
        return self._persona(vox=True)

    def _inspo(self) -> list[ClipSpec]:
        heard = [c for c in (self.p.served_clip(u) for u in self.body["audio_urls"]) if c]
        tags = ", ".join(dict.fromkeys(t for c in heard for t in c.tags.split(", "))) or None
        return self._generate(tags, {"action": "inspo", "references": self.body["audio_urls"]})

    # -- songs made from an earlier one ----------------------------------------------------
    def _extend(self) -> list[ClipSpec]:
        source = self._source()
        at = float(self.body.get("continue_at", source.duration))
        if at > source.duration:
            raise BadRequest(400, f"continue_at must not exceed the duration of the song "
                                  f"({source.duration:g} s)")
        return self._pair(derive.extension(
            self.engine, source, at, action=self.body.get("action", "extend"),
            lyrics=self._lyrics(), instrumental=self.instrumental, **self._named()))

    _upload_extend = _extend

    def _concat(self) -> list[ClipSpec]:
        return [derive.concat(self.engine, self._source())]

    def _cover(self) -> list[ClipSpec]:
        return self._pair(derive.cover(self.engine, self._source(),
                                       action=self.body.get("action", "cover"),
                                       instrumental=self.instrumental, **self._named()))

    _upload_cover = _cover

    def _stems(self) -> list[ClipSpec]:
        source = self._source()
        return derive.stems(self.engine, source, lambda label: f"{source.title} - {label}")

    def _all_stems(self) -> list[ClipSpec]:
        source = self._source()
        return derive.instrument_stems(
            self.engine, source, [(part, f"{source.title} ({STEM_LABELS.get(part, part)})")
                                  for part in parts_of(source.recipe)])

    def _replace_section(self) -> list[ClipSpec]:
        source = self._source()
        start, end = self._window(source, "replace_section", inclusive_end=True)
        # candidates: the new section alone, not yet merged back into the song.
        alone = self.body.get("replace_section_result_mode") == "candidates"
        return self._pair(derive.infill(
            self.engine, source, start, end, action="replace_section",
            lyrics=self._lyrics(source.lyrics or None), instrumental=self.instrumental,
            context=(start, end) if alone else None, **self._named()))

    def _painting(self, name: str, adds: str) -> list[ClipSpec]:
        source = self._source()
        start, end = self._window(source, name, start_default=0.0)
        return self._pair(derive.overlay(self.engine, source, start, end, adds, action=name,
                                         lyrics=self._lyrics(), **self._named()))

    def _underpainting(self) -> list[ClipSpec]:
        return self._painting("underpainting", derive.ADD_INSTRUMENTAL)

    def _overpainting(self) -> list[ClipSpec]:
        return self._painting("overpainting", derive.ADD_VOCALS)

    def _samples(self) -> list[ClipSpec]:
        return self._painting("samples", derive.ADD_SAMPLE)

    def _remaster(self) -> list[ClipSpec]:
        return self._pair(derive.remaster(self.engine, self._source(),
                                          self.body.get("variation_category")))

    def _mashup(self) -> list[ClipSpec]:
        sources = [self.p.source(self.account, i) for i in self.body["mashup_audio_ids"]]
        return self._pair(derive.mashup(self.engine, sources, **self._named()))

    def _named(self) -> dict[str, str | None]:
        """The title and style the caller gave, if any, for a song made from another."""
        return {"title": self.body.get("title") or None, "tags": self.body.get("style") or None}


def _deferred(body: dict[str, Any]) -> bool:
    """Whether the caller asked for the task id now rather than the result later."""
    return body.get("async") is True or bool(body.get("callback_url"))
