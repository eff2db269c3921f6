"""orux: one key, every model (seed 000).

``POST /api/v1/tasks`` starts a task of any model (Suno v5 with its chained actions,
ElevenLabs speech and music, Runway Act-Two) and ``GET /api/v1/tasks/{task_id}`` polls
it through QUEUED → RUNNING → SUCCESS | FAILED, and EXPIRED once a success's results
pass their retention. ElevenLabs v3 speech is synchronous: its submit answers the
finished task. A task with ``webhook_url`` is POSTed, signed, on its terminal
status.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from aiohttp import web

from ...core.engine import TaskNotFound
from ...core.lifecycle import FINISH, failure_reason, is_end, is_failure
from ...core.models import FAILED, Task
from ...core.ratelimit import Limit
from ...core.webhooks import Policy, Signer
from ..base import BadRequest, Call, Handler, Provider
from . import render
from .planner import ALIASES, SPEECH, SUNO, Planner
from .render import RETENTION, STATUS, TTL, UPSTREAM

WEBHOOK_POLICY = Policy(timeout=10.0, retries=4, backoff=(10.0, 60.0, 300.0, 1800.0))
TIMESTAMP_HEADER, SIGNATURE_HEADER = "X-Orux-Timestamp", "X-Orux-Signature"
EVENT_HEADER = "X-Orux-Event"
# Where a chain's root task lists the tasks chained onto it (its own bookkeeping).
CHAIN = "chain"
STEERING_FIELDS = ("prompt", "lyrics", "text", "audio_url", "character_video_url",
                   "driver_video_url")

# status → (type, code) of the provider's normalized errors.
ERRORS = {400: ("invalid_request_error", "invalid_request"),
          401: ("auth_error", "invalid_api_key"),
          403: ("auth_error", "model_not_allowed"),
          404: ("invalid_request_error", "not_found"),
          405: ("invalid_request_error", "method_not_allowed"),
          409: ("invalid_request_error", "parent_not_ready"),
          413: ("invalid_request_error", "request_too_large"),
          429: ("rate_limit_error", "rate_limit_exceeded"),
          500: ("api_error", "internal_error"), 502: ("api_error", "upstream_error"),
          503: ("api_error", "service_unavailable"), 504: ("api_error", "upstream_timeout")}
# Error codes a handler may name, with the type each belongs to.
KINDS = {"task_not_found": "invalid_request_error", "quota_exceeded": "rate_limit_error",
         "parent_not_ready": "invalid_request_error"}


class Orux(Provider):
    id = "orux"
    callbacks_https_only = True  # the seed: HTTPS callbacks only

    def status_word(self, task: Task, now: float) -> str:
        return render.word(task, now)

    def handlers(self) -> dict[str, Handler]:
        return {"createTask": self.create, "getTask": self.detail}

    def error_body(self, status: int, message: str, **fields: Any) -> dict[str, Any]:
        kind, code = ERRORS.get(status, ("api_error", "internal_error"))
        if fields.get("type") in KINDS:
            kind, code = KINDS[fields["type"]], fields["type"]
        return {"error": {"type": kind, "code": code, "message": message,
                          "channel": fields.get("channel"), "param": fields.get("param")}}

    # -- handlers ----------------------------------------------------------------------
    async def create(self, call: Call) -> web.Response:
        body, account = call.body, call.account
        # A suno-<action> id is suno-v5 doing that action: a key allowed suno-v5 may use it.
        if not self.engine.may_use_model(account, SUNO if body["model"] in ALIASES
                                         else body["model"]):
            raise BadRequest(403, f"this key may not use model {body['model']}",
                             param="model")
        steering = self.steered(*(body.get(name) for name in STEERING_FIELDS),
                                model=body["model"])
        hook = "webhook_url" if "webhook_url" in body else "callback_url"
        self.require_callback_url(body.get(hook), hook)
        plan = await Planner(self, account, body).plan()
        meta = {"model": body["model"], "output": plan.output, **plan.meta}
        task = await self.submit(
            account, plan.job, task_id="task_" + self.engine.ids.ulid(self.engine.now()),
            params=body, cost=self.price(plan.price), clips=plan.clips,
            callback_url=body.get(hook), steering=steering, max_duration=plan.max_duration,
            meta=meta, retention=RETENTION, ttl=TTL)
        root = plan.meta.get("root_task_id")
        if root is not None:  # the chain's root lists its members, for _chain_credits
            with contextlib.suppress(TaskNotFound):  # a root let go has no chain to show
                await self.engine.note(root, CHAIN, task.id)
        if plan.output == SPEECH:  # "Synchronous TTS": the answer is the finished task
            return self.json(await self.render(await self._spoken(task), call.origin))
        return self.json({"task_id": task.id, "status": STATUS[task.status]})

    async def detail(self, call: Call) -> web.Response:
        task = await self.own_task(call.account, call.path["task_id"])
        return self.task_json(render.task, task, call.origin, await self._chain_credits(task))

    async def _spoken(self, task: Task) -> Task:
        """Speech is answered finished, yet still ends through the core, so its credits
        settle (or return) and its webhook fires as any task's do. Its outcome is the one
        its plan was steered to: a failure ([sim:fail], a fault rule) fails it at once,
        and one steered never to finish ([sim:stuck]) is answered as it stands. On a fast
        clock its plan may have ended it already, the same way: then it is answered so."""
        ends = [event for _, event in task.plan if is_end(event)]
        if not ends:
            return task
        if is_failure(ends[-1]):
            return await self.engine.finish_now(task.id, "fail", failure_reason(ends[-1]))
        return await self.engine.finish_now(task.id, "succeed")

    async def render(self, task: Task, origin: str) -> dict[str, Any]:
        return render.task(task, origin, self.engine.now(), await self._chain_credits(task))

    async def _chain_credits(self, task: Task) -> float | None:
        """What the whole chain this task belongs to has cost so far (failed tasks cost
        nothing): the dashboard's attribution to the original song. Only Suno tasks chain
        (None for the others)."""
        if task.meta["model"] != SUNO:
            return None
        root_id = task.meta.get("root_task_id") or task.id
        root = task if root_id == task.id else await self.engine.task(root_id)
        if root is None:  # let go: only this task's own part of the chain is known
            return 0.0 if task.status == FAILED else task.cost
        members = [root] + [await self.engine.task(i) for i in root.meta.get(CHAIN, ())]
        return sum(t.cost for t in members if t is not None and t.status != FAILED)

    # -- the dialect's words -------------------------------------------------------------
    def refuse_missing_key(self) -> BadRequest:
        return BadRequest(401, "Authorization header missing: send Authorization: Bearer "
                               "sk-app-…")

    def refuse_rate(self, wait: int, limit: Limit) -> BadRequest:
        # The provider sets no Retry-After (nor any x-ratelimit-*) header.
        if limit.off:  # an injected refusal, with no limit in force to quote
            return BadRequest(429, "You exceeded your current rate limit.")
        return BadRequest(429, f"You exceeded your current rate limit of "
                               f"{limit.rate:g} requests per second.")

    def refuse_credits(self, needed: float, available: float) -> BadRequest:
        return BadRequest(429, f"Credits balance exhausted: this task needs {needed:g} "
                               f"credits and {available:g} are available",
                          type="quota_exceeded")

    def refuse_unknown_task(self, task_id: str) -> BadRequest:
        return BadRequest(404, "Task not found", param="task_id", type="task_not_found")

    outages = {500: "Internal server error", 502: "The upstream provider returned an error",
               503: "Service temporarily unavailable, please retry later",
               504: "The upstream provider did not answer in time"}

    def outage_fields(self, status: int, retry_after: int | None,
                      **context: Any) -> dict[str, Any]:
        # A 502 names the upstream channel that failed: the request's model's, or Suno's.
        if status != 502:
            return {}
        return {"channel": UPSTREAM.get(context.get("model", SUNO), UPSTREAM[SUNO])[1]}

    # -- webhooks ----------------------------------------------------------------------
    async def on_task_event(self, task: Task, event: str) -> None:
        if not task.callback_url or not (event == FINISH or is_failure(event)):
            return
        account = await self.engine.account(task.api_key)
        if account is None:
            return
        payload = await self.render(task, self.base_url)
        self.engine.deliver(task, orjson.dumps(payload), WEBHOOK_POLICY, payload["status"],
                            headers={EVENT_HEADER: payload["status"]},
                            signer=Signer(account.webhook_secret, TIMESTAMP_HEADER,
                                          SIGNATURE_HEADER))
