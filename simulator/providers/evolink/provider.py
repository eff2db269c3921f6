"""evolink: the unified task API (seed 004).

``POST /v1/audios/generations`` starts a task of two songs; ``GET /v1/tasks/{task_id}``
polls it. Errors are ``{"error": {code, message, type, param?, fallback_suggestion?}}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ...core.lifecycle import FINISH, STAGE_PREFIX, is_failure
from ...core.models import Task
from ...core.ratelimit import Limit
from ...core.webhooks import Policy
from ..base import BadRequest, Call, Handler, Provider
from . import planner, render

ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota_error",
    403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
    413: "request_too_large_error",
    429: "rate_limit_error", 500: "internal_server_error", 502: "upstream_error",
    503: "service_unavailable_error", 504: "gateway_timeout_error",
}
CALLBACK_STAGES = {STAGE_PREFIX + "text": "text", STAGE_PREFIX + "first": "first", FINISH: "complete"}
CALLBACK_POLICY = Policy(timeout=10.0, retries=3)
MAX_SECONDS = {"suno-v4": 240.0}  # v4 songs run up to 4 minutes; later models up to 8
# "Generated audio links are valid for 72 hours, please save them promptly."
RETENTION = 72 * 3600.0


class Evolink(Provider):
    id = "evolink"
    callbacks_https_only = True  # the seed: HTTPS callbacks only
    expired_tasks_gone = True  # "Task not found or expired": one answer for both

    def status_word(self, task: Task, now: float) -> str:
        return render.word(task, now)

    def handlers(self) -> dict[str, Handler]:
        return {"createSunoMusicGeneration": self.generate, "getTaskDetail": self.task_detail}

    def error_body(self, status: int, message: str, **fields: Any) -> dict[str, Any]:
        error = {"code": status, "message": message,
                 "type": fields.pop("type", None) or ERROR_TYPES.get(status, "internal_server_error")}
        error.update({k: v for k, v in fields.items() if v is not None})
        return {"error": error}

    # -- handlers ----------------------------------------------------------------------
    async def generate(self, call: Call) -> web.Response:
        body, account = call.body, call.account
        model = body["model"]
        if not self.engine.may_use_model(account, model):
            raise BadRequest(403, "Access denied for this model", param="model")
        self.require_callback_url(body.get("callback_url"))
        steering = self.steered(body.get("prompt"), body.get("style"), body.get("title"),
                                body.get("negative_tags"))
        task = await self.submit(
            account, "song", task_id=f"task-unified-{int(self.engine.now())}-"
                                     f"{self.engine.ids.token(8)}",
            params=body, cost=self.price(model), clips=planner.songs(self.engine, body),
            callback_url=body.get("callback_url"), steering=steering,
            max_duration=MAX_SECONDS.get(model, 480.0), retention=RETENTION)
        return self.json(render.task(task, call.origin, self.engine.now()))

    async def task_detail(self, call: Call) -> web.Response:
        task = await self.own_task(call.account, call.path["task_id"])
        return self.task_json(render.task, task, call.origin)

    # -- the dialect's words -------------------------------------------------------------
    def refuse_missing_key(self) -> BadRequest:
        return BadRequest(401, "Missing authentication credentials: send Authorization: "
                               "Bearer YOUR_API_KEY")

    def refuse_unknown_key(self) -> BadRequest:
        return BadRequest(401, "Invalid authentication credentials")

    def refuse_rate(self, wait: int, limit: Limit) -> BadRequest:
        return BadRequest(429, "Rate limit exceeded", headers={"Retry-After": str(wait)},
                          fallback_suggestion=f"retry after {wait} seconds")

    def refuse_credits(self, needed: float, available: float) -> BadRequest:
        return BadRequest(402, "Insufficient quota",
                          fallback_suggestion="https://evolink.ai/dashboard/billing")

    def refuse_unknown_task(self, task_id: str) -> BadRequest:
        return BadRequest(404, "Task not found or expired", param="task_id")

    outages = {500: "Internal server error", 502: "Bad gateway",
               503: "Service temporarily unavailable", 504: "Gateway timeout"}

    def outage_fields(self, status: int, retry_after: int | None,
                      **context: Any) -> dict[str, Any]:
        if retry_after is not None:
            return {"fallback_suggestion": f"retry after {retry_after} seconds"}
        return {"fallback_suggestion": "retry after 30 seconds" if status == 503
                else "try again later"}

    # -- callbacks: the task at each stage ------------------------------------------------
    async def on_task_event(self, task: Task, event: str) -> None:
        if not task.callback_url:
            return
        stage = "complete" if is_failure(event) else CALLBACK_STAGES.get(event)
        if stage is None:
            return
        payload = {**render.task(task, self.base_url, self.engine.now()), "callback_type": stage}
        self.engine.deliver(task, orjson.dumps(payload), CALLBACK_POLICY, stage)
