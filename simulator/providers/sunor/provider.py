"""sunor: Suno and Udio behind one task endpoint (seed 001 and the provider's docs).

``POST /api/v1/task`` takes ``{model, task_type, input}`` and answers 202 with the task,
its credits frozen; ``GET /api/v1/task/{task_id}`` polls it through pending → running →
success | failure | timeout. Errors are ``{"code": status, "message"}``.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ...core.models import Task
from ...core.ratelimit import Limit, Verdict
from ..base import BadRequest, Call, Handler, Provider
from . import render
from .planner import Planner

# "Tasks take 30 seconds to 5 minutes": one still running after ten times out.
TTL = 600.0
JOBS = {"music": "song", "lyrics": "text", "upload": "export", "concat": "export"}
STEERING_FIELDS = ("gpt_description_prompt", "prompt", "tags", "negative_tags", "title",
                   "lyrics", "url")


class Sunor(Provider):
    id = "sunor"
    json_content_type_only = True  # the seed: "Must be application/json."

    def status_word(self, task: Task, now: float) -> str:
        return render.word(task, now)

    def handlers(self) -> dict[str, Handler]:
        return {"createTask": self.create, "getTask": self.detail, "getBalance": self.balance}

    def error_body(self, status: int, message: str, **fields: Any) -> dict[str, Any]:
        return {"code": status, "message": message}

    def api_key(self, request: web.Request) -> str | None:
        return request.headers.get("x-api-key", "").strip() or None

    # -- handlers ----------------------------------------------------------------------
    async def create(self, call: Call) -> web.Response:
        body, account = call.body, call.account
        model, kind, given = body["model"], body["task_type"], body["input"]
        if not self.engine.may_use_model(account, model):
            raise BadRequest(403, f"This API key may not use model {model}")
        steering = self.steered(*(given.get(name) for name in STEERING_FIELDS))
        clips = await Planner(self, account, given).songs(model, kind)
        meta = {"model": model, "type": kind, "seed": self.engine.ids.seed32()}
        task = await self.submit(
            account, JOBS[kind], task_id=self.engine.ids.uuid(), params=body,
            cost=self.price(f"{model}-{kind}"), clips=clips, steering=steering, ttl=TTL,
            meta=meta)
        return self.json(render.accepted(task), status=202)

    async def detail(self, call: Call) -> web.Response:
        task = await self.own_task(call.account, call.path["task_id"])
        return self.task_json(render.detail, task, call.origin)

    async def balance(self, call: Call) -> web.Response:
        account = call.account
        return self.json({"code": 200, "data": {
            "available": render.number(account.available),
            "frozen": render.number(account.held),
            "total": render.number(account.available + account.held)}})

    # -- the dialect's words -------------------------------------------------------------
    def refuse_missing_key(self) -> BadRequest:
        return BadRequest(401, "Missing x-api-key header")

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
