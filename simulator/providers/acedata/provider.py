"""acedata: Suno through the acedata gateway (seed 002 and the provider's public docs).

``POST /suno/audios`` takes an ``action`` and answers in one of three ways: it waits for
the songs (the default), streams task snapshots as NDJSON, or returns the task id at once
(``async`` or ``callback_url``) for ``POST /suno/tasks`` to retrieve. The companion
endpoints are tasks too, answered the same three ways where the provider allows it.
Errors are ``{"error": {code, message}, "trace_id"}``; a failed task adds
``success: false`` and ``task_id``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson
from aiohttp import web

from ...core.clips import ClipSpec
from ...core.engine import DEADLINE
from ...core.lifecycle import FINISH, is_end
from ...core.magic import Steering
from ...core.models import SUCCEEDED, Account, Task
from ...core.ratelimit import Limit
from ...core.webhooks import Policy
from ..base import BadRequest, Call, Handler, Provider
from . import render
from .planner import COMPANIONS, NO_SONG, TAKES, Songs

NDJSON = "application/x-ndjson"
# A request that waits for its songs gives up after this many simulated seconds.
SYNC_TIMEOUT = 600.0
CALLBACK_POLICY = Policy(timeout=10.0, retries=3)
MAX_SECONDS = {"chirp-v3-0": 120.0, "chirp-v3-5": 120.0, "chirp-v4": 150.0, "chirp-v4-5": 240.0}
LONGEST = 480.0
# A custom model is trained on the provider's latest published model; its songs show it.
CUSTOM_MODEL_BASE = "chirp-v5-5"
MODEL_SLOTS = 3  # custom models a key may hold; archiving does not free a slot
NO_MODEL = "The custom model does not exist."
COMPANION_OPERATIONS = {
    "createLyrics": "lyrics", "mashupLyrics": "mashup-lyrics", "upsampleStyle": "style",
    "createPersona": "persona", "createVoice": "voices", "uploadAudio": "upload",
    "createMp4": "mp4", "createMp3": "mp3", "createWav": "wav", "createMidi": "midi",
    "createTiming": "timing", "createVox": "vox",
}


class Acedata(Provider):
    id = "acedata"

    def status_word(self, task: Task, now: float) -> str:
        return render.word(task, now)

    def handlers(self) -> dict[str, Handler]:
        return {"createAudios": self.audios, "retrieveTasks": self.tasks,
                "listPersonas": self.list_personas, "deletePersona": self.delete_persona,
                "checkAvailability": self.availability, "customModels": self.custom_models,
                **{operation: partial(self.companion, name)
                   for operation, name in COMPANION_OPERATIONS.items()}}

    def error_body(self, status: int, message: str, **fields: Any) -> dict[str, Any]:
        if status == 404 and not fields.get("type"):
            message = "API does not exist, please make sure url is correct."
        return render.error(status, message, fields.get("trace_id") or self.engine.ids.uuid(),
                            fields.get("type"), fields.get("task_id"))

    # -- handlers ----------------------------------------------------------------------
    async def audios(self, call: Call) -> web.StreamResponse:
        body, account = call.body, call.account
        action = body.get("action", "generate")
        if "duration" in body and action != "generate":  # the spec's duration rule, part two
            raise BadRequest(400, "duration is only supported by action generate")
        model = body.get("model", render.DEFAULT_MODEL)
        if not self.engine.may_use_model(account, model):
            raise BadRequest(403, "The specified model is not enabled for this token.",
                             type="forbidden")
        steering = self.steered(body.get("prompt"), body.get("lyric"), body.get("style"),
                                body.get("title"))
        specs = await Songs(self, account, body).for_action(action)
        task = await self._submit(account, "audios", "song", action, body, specs,
                                  steering=steering, max_duration=MAX_SECONDS.get(model, LONGEST))
        return await self._answer(call, task, deferred=_deferred(body), streams=True)

    async def companion(self, name: str, call: Call) -> web.StreamResponse:
        endpoint, body = COMPANIONS[name], call.body
        steering = self.steered(body.get("prompt"))
        prepared = await endpoint.prepare(self, call.account, body)
        price = "upload-enhanced" if body.get("mode") == "enhanced" else name
        task = await self._submit(call.account, name, endpoint.job, price, body, prepared.clips,
                                  steering=steering, meta=prepared.meta)
        deferred = (endpoint.can_defer and _deferred(body)) or body.get("mode") == "enhanced"
        return await self._answer(call, task, deferred=deferred, streams=endpoint.streams)

    async def tasks(self, call: Call) -> web.Response:
        body, account = call.body, call.account
        if body["action"] == "retrieve":
            return self.json(render.record(await self.own_task(account, body["id"]),
                                           call.origin))
        found = [await self.engine.own_task(account.api_key, task_id, self.id)
                 for task_id in dict.fromkeys(body["ids"])]
        items = [render.record(task, call.origin) for task in found if task is not None]
        return self.json({"items": items, "count": len(items)})

    async def list_personas(self, call: Call) -> web.Response:
        limit, offset = call.query["limit"], call.query["offset"]
        personas = sorted(await self.engine.personas(call.account.api_key),
                          key=lambda p: -p.created_at)
        items = [{"persona_id": p.id, "user_id": call.query["user_id"], "name": p.name,
                  "description": p.description,
                  "source_type": "voice" if p.kind == "voice" else "persona",
                  "source_audio_id": p.source_clip_id, "created_at": int(p.created_at)}
                 for p in personas[offset:offset + limit]]
        return self.json({"items": items, "count": len(personas)})

    async def delete_persona(self, call: Call) -> web.Response:
        if not await self.engine.delete_persona(call.account.api_key, call.query["persona_id"]):
            raise BadRequest(404, "The persona does not exist.", type="not_found")
        return self.json({"success": True})

    async def availability(self, call: Call) -> web.Response:
        found = await self.engine.clip_of(call.account.api_key, call.body["audio_id"], self.id)
        if found is None:
            raise BadRequest(400, NO_SONG)
        task, clip = found
        state = render.song_state(task, task.clips.index(clip))
        return self.json({"success": True, "trace_id": self.engine.ids.uuid(),
                          "data": {"audio_id": clip.id, "available": state == "succeeded",
                                   "state": state}})

    # -- custom models: a model is the task that trains it ------------------------------
    async def custom_models(self, call: Call) -> web.Response:
        if len(call.request.headers.get("Idempotency-Key", "")) > 200:
            raise BadRequest(400, "Idempotency-Key must be at most 200 characters")
        action = {"create": self._create_model, "retrieve": self._retrieve_model,
                  "retrieve_batch": self._list_models, "generate": self._generate_with_model,
                  "delete": self._archive_model}[call.body["action"]]
        return self.json(await action(call, call.account, call.body))

    async def _create_model(self, call: Call, account: Account,
                            body: dict[str, Any]) -> dict[str, Any]:
        retry_of = call.request.headers.get("Idempotency-Key")
        models = await self._models(account)
        earlier = next((m for m in models if retry_of and
                        m.meta.get("idempotency_key") == retry_of), None)
        if earlier is not None:
            return render.model_answer(earlier)
        if sum(render.model_status(m) != "failed" for m in models) >= MODEL_SLOTS:
            raise BadRequest(400, f"This application already holds {MODEL_SLOTS} custom "
                                  f"models, the most it may; archiving does not free a slot.")
        steering = self.steered(body["name"])
        task = await self._submit(account, "custom-models", "training", "custom-model-create",
                                  body, [], steering=steering,
                                  meta={"model_id": self.engine.ids.uuid(),
                                        "name": body["name"], "idempotency_key": retry_of})
        return render.model_answer(task)

    async def _retrieve_model(self, call: Call, account: Account,
                              body: dict[str, Any]) -> dict[str, Any]:
        return render.model_answer(await self._model(account, body["id"]))

    async def _list_models(self, call: Call, account: Account,
                           body: dict[str, Any]) -> dict[str, Any]:
        models = sorted(reversed(await self._models(account)), key=lambda m: -m.created_at)
        if "status" in body:
            models = [m for m in models if render.model_status(m) == body["status"]]
        offset, limit = int(body.get("offset", 0)), int(body.get("limit", 20))  # 8.0 is 8
        return {"items": [render.custom_model(m) for m in models[offset:offset + limit]],
                "count": len(models)}

    async def _generate_with_model(self, call: Call, account: Account,
                                   body: dict[str, Any]) -> dict[str, Any]:
        status = render.model_status(await self._model(account, body["id"]))
        if status != "ready":
            raise BadRequest(400, f"The custom model is {status}; only a ready model can "
                                  f"generate, and none is used in its place.")
        steering = self.steered(body["lyric"], body["style"], body["title"])
        song = self.engine.compose(body["title"], title=body["title"], tags=body["style"],
                                   lyrics=body["lyric"],
                                   lineage={"action": "custom_model", "model": body["id"]})
        task = await self._submit(account, "audios", "song", "custom-model-generate", body,
                                  [song] * TAKES, steering=steering,
                                  meta={"upstream_model": CUSTOM_MODEL_BASE})
        return render.accepted(task)

    async def _archive_model(self, call: Call, account: Account,
                             body: dict[str, Any]) -> dict[str, Any]:
        model = await self._model(account, body["id"])
        if not model.meta.get("archived"):
            model = await self.engine.annotate(model.id, archived=True)
        return render.model_answer(model)

    async def _models(self, account: Account) -> list[Task]:
        return [t for t in await self.engine.tasks(self.id, api_key=account.api_key)
                if t.meta.get("type") == "custom-models"]

    async def _model(self, account: Account, model_id: str) -> Task:
        found = next((m for m in await self._models(account)
                      if m.meta["model_id"] == model_id), None)
        if found is None:
            raise BadRequest(404, NO_MODEL, type="not_found")
        return found

    # -- the dialect's words -------------------------------------------------------------
    def refuse_missing_key(self) -> BadRequest:
        return BadRequest(400, "No token specified for the request.", type="no_token")

    def refuse_unknown_key(self) -> BadRequest:
        return BadRequest(401, "The specified token is invalid or wrong.")

    def refuse_rate(self, wait: int, limit: Limit) -> BadRequest:
        return BadRequest(429, "You have exceeded the rate limit.",
                          headers={"Retry-After": str(wait)})

    def refuse_credits(self, needed: float, available: float) -> BadRequest:
        return BadRequest(403, "Your balance is not sufficient for current request, "
                               "please buy more in Ace Data Cloud.")

    def refuse_unknown_task(self, task_id: str) -> BadRequest:
        return BadRequest(404, "The task does not exist.", type="not_found")

    outages = {500: "Internal server error.", 502: "fetch failed",
               503: "api was throttled from upstream and is currently busy, please try again later.",
               504: "timeout while waiting for the upstream api"}

    # -- answering: at once, as a stream, or once the task ends ---------------------------
    async def _submit(self, account: Account, kind_name: str, job: str, price: str,
                      body: dict[str, Any], specs: list[ClipSpec], *, steering: Steering,
                      meta: dict[str, Any] | None = None, max_duration: float = LONGEST) -> Task:
        callback = body.get("callback_url")
        self.require_callback_url(callback)
        task_meta = {"type": kind_name, "trace_id": self.engine.ids.uuid(),
                     "record_id": self.engine.ids.token(24, "0123456789abcdef"), **(meta or {})}
        return await self.submit(account, job, task_id=self.engine.ids.uuid(), params=body,
                                 cost=self.price(price), clips=specs, callback_url=callback,
                                 steering=steering, max_duration=max_duration, meta=task_meta)

    async def _answer(self, call: Call, task: Task, *, deferred: bool,
                      streams: bool) -> web.StreamResponse:
        if deferred:
            return self.json(render.accepted(task))
        if streams and NDJSON in call.request.headers.get("Accept", ""):
            return await self._stream(call, task)
        with self.engine.watching(task, SYNC_TIMEOUT) as events:
            while not task.terminal:
                if await events.get() == DEADLINE:
                    raise self._timed_out(task)
                task = await self.engine.task(task.id)
        status = 200 if task.status == SUCCEEDED else render.failure(task)[0]
        return self.json(render.outcome(task, call.origin), status)

    async def _stream(self, call: Call, task: Task) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": NDJSON})
        await response.prepare(call.request)

        async def line(data: dict[str, Any]) -> None:
            await response.write(orjson.dumps(data) + b"\n")

        with self.engine.watching(task, SYNC_TIMEOUT) as events:
            await line(render.snapshot(task, call.origin))
            while not task.terminal:
                if await events.get() == DEADLINE:
                    timeout = self._timed_out(task)
                    await line(self.error_body(timeout.status, timeout.message,
                                               **timeout.fields))
                    break
                task = await self.engine.task(task.id)
                if not task.terminal:
                    await line(render.snapshot(task, call.origin))
            else:
                await line(render.outcome(task, call.origin))
        await response.write_eof()
        return response

    @staticmethod
    def _timed_out(task: Task) -> BadRequest:
        status, code, message = render.TIMEOUT
        return BadRequest(status, message, type=code, task_id=task.id,
                          trace_id=task.meta["trace_id"])

    # -- callbacks and side effects ----------------------------------------------------
    async def on_task_event(self, task: Task, event: str) -> None:
        if task.meta.get("type") == "voices" and event == FINISH:
            persona = await self.engine.create_persona(
                task.api_key, task.meta["name"], task.clips[0],
                description=task.meta["pending_persona"], kind="voice")
            task = await self.engine.annotate(task.id, persona_id=persona.id)
        if not task.callback_url or not is_end(event):
            return
        body = orjson.dumps(render.outcome(task, self.base_url))
        self.engine.deliver(task, body, CALLBACK_POLICY, "complete")


def _deferred(body: dict[str, Any]) -> bool:
    """Whether the caller asked for the task id now rather than the result later."""
    return body.get("async") is True or bool(body.get("callback_url"))
