"""evolink: the unified task API (seed 004).

``POST /v1/audios/generations`` starts a task of two songs; ``GET /v1/tasks/{task_id}``
polls it. Errors are ``{"error": {code, message, type, param?, fallback_suggestion?}}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..core.engine import InsufficientCredits
from ..core.lifecycle import FINISH, STAGE_PREFIX, is_failure
from ..core.models import EXPIRED, FAILED, QUEUED, RUNNING, SUCCEEDED, Account, Task
from ..core.ratelimit import Limit
from ..core.webhooks import Policy
from .base import BadRequest, Provider

GENERATE = "/v1/audios/generations"
TASK = "/v1/tasks/{task_id}"

STATUS = {QUEUED: "pending", RUNNING: "processing", SUCCEEDED: "completed", FAILED: "failed"}
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota_error",
    403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
    413: "request_too_large_error",
    429: "rate_limit_error", 500: "internal_server_error", 502: "upstream_error",
    503: "service_unavailable_error", 504: "gateway_timeout_error",
}
# The seed's own wording for the errors a magic value or an outage produces.
CALLBACK_STAGES = {STAGE_PREFIX + "text": "text", STAGE_PREFIX + "first": "first", FINISH: "complete"}
CALLBACK_POLICY = Policy(timeout=10.0, retries=3)
VARIATIONS = 2
MAX_SECONDS = {"suno-v4": 240.0}  # v4 songs run up to 4 minutes; later models up to 8
# "Generated audio links are valid for 72 hours, please save them promptly."
RETENTION = 72 * 3600.0


class Evolink(Provider):
    id = "evolink"
    callbacks_https_only = True  # the seed: HTTPS callbacks only

    def __init__(self, engine, settings):
        super().__init__(engine, settings)
        engine.subscribe(self.id, self._on_event)

    def routes(self) -> list[web.RouteDef]:
        return [web.post(GENERATE, self.generate), web.get(TASK, self.task_detail)]

    def error_body(self, status: int, message: str, **fields: Any) -> dict[str, Any]:
        error = {"code": status, "message": message,
                 "type": fields.pop("type", None) or ERROR_TYPES.get(status, "internal_server_error")}
        error.update({k: v for k, v in fields.items() if v is not None})
        return {"error": error}

    # -- handlers ----------------------------------------------------------------------
    async def generate(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        body = await self.valid_body(request, GENERATE)
        return self.json(self._start(request, account, body))

    async def task_detail(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        task_id = request.match_info["task_id"]
        self.require_valid_path(TASK, "get", {"task_id": task_id})
        task = self.engine.task(task_id)
        # The dialect has no word for expired: a task past its retention is gone, with
        # the same answer as one that never was.
        if task is None or task.provider != self.id or task.api_key != account.api_key \
                or task.state(self.engine.now()) == EXPIRED:
            raise BadRequest(404, "Task not found or expired", param="task_id")
        return self.json(self.render(task, self.origin(request)))

    # -- translation -------------------------------------------------------------------
    def refuse_missing_key(self) -> BadRequest:
        return BadRequest(401, "Missing authentication credentials: send Authorization: "
                               "Bearer YOUR_API_KEY")

    def refuse_unknown_key(self) -> BadRequest:
        return BadRequest(401, "Invalid authentication credentials")

    def refuse_rate(self, wait: int, limit: Limit) -> BadRequest:
        return BadRequest(429, "Rate limit exceeded", headers={"Retry-After": str(wait)},
                          fallback_suggestion=f"retry after {wait} seconds")

    outages = {500: "Internal server error", 502: "Bad gateway",
               503: "Service temporarily unavailable", 504: "Gateway timeout"}

    def outage_fields(self, status: int, retry_after: int | None) -> dict[str, Any]:
        if retry_after is not None:
            return {"fallback_suggestion": f"retry after {retry_after} seconds"}
        return {"fallback_suggestion": "retry after 30 seconds" if status == 503
                else "try again later"}

    def _start(self, request: web.Request, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        model = body["model"]
        if not self.engine.may_use_model(account, model):
            raise BadRequest(403, "Access denied for this model", param="model")
        callback = body.get("callback_url")
        self.require_callback_url(callback)
        custom = body.get("custom_mode") is True
        instrumental = body.get("instrumental") is True
        prompt = body.get("prompt") or ""
        steering = self.engine.steering(prompt, body.get("style"), body.get("title"),
                                        body.get("negative_tags"))
        if steering.http_status:
            raise self.outage(steering.http_status)
        if custom:
            spec = self.engine.compose(body["style"], title=body["title"], tags=body["style"],
                                       lyrics=prompt, instrumental=instrumental)
        else:
            spec = self.engine.compose(prompt, instrumental=instrumental)
        created = int(self.engine.now())
        task_id = f"task-unified-{created}-{self.engine.ids.token(8)}"
        try:
            task = self.engine.submit(
                self.id, account.api_key, "song", task_id=task_id, params=body,
                cost=self.settings.price(self.id, model), clips=[spec] * VARIATIONS,
                callback_url=callback, steering=steering,
                max_duration=MAX_SECONDS.get(model, 480.0), retention=RETENTION)
        except InsufficientCredits:
            raise BadRequest(402, "Insufficient quota",
                             fallback_suggestion="https://evolink.ai/dashboard/billing") from None
        return self.render(task, self.origin(request))

    def render(self, task: Task, origin: str) -> dict[str, Any]:
        """The task as evolink shows it, on the poll endpoint and in callbacks alike."""
        answer: dict[str, Any] = {
            "created": int(task.created_at),
            "id": task.id,
            "model": task.params["model"],
            "object": "audio.generation.task",
            "progress": task.progress(self.engine.now()),
            "status": STATUS[task.status],
            "task_info": {"can_cancel": False},  # the dialect offers no cancel endpoint
            "type": "audio",
        }
        if task.stage is not None:
            ready = task.ready_clips
            items = []
            for index, clip in enumerate(task.clips):
                item: dict[str, Any] = {"result_id": clip.id, "title": clip.title, "tags": clip.tags}
                if index < ready:
                    item.update(duration=clip.duration,
                                image_url=self.media_url(origin, clip.id, "cover.jpeg"),
                                audio_url=self.media_url(origin, clip.id, "audio.mp3"),
                                stream_audio_url=self.media_url(origin, clip.id, "stream.mp3"))
                items.append(item)
            answer["result_data"] = items
            if task.status == SUCCEEDED:
                answer["results"] = [item["audio_url"] for item in items]
        if task.status == FAILED and task.error:
            answer["error"] = {**task.error, "type": "generation_error"}
        return answer

    def _on_event(self, task: Task, event: str) -> None:
        if not task.callback_url:
            return
        stage = "complete" if is_failure(event) else CALLBACK_STAGES.get(event)
        if stage is None:
            return
        payload = {**self.render(task, self.base_url), "callback_type": stage}
        self.engine.deliver(task, orjson.dumps(payload), CALLBACK_POLICY, stage)
