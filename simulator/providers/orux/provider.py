"""orux: one key, every model (seed 000).

``POST /api/v1/tasks`` starts a task of any model (Suno v5 with its chained actions,
ElevenLabs speech and music, Runway Act-Two) and ``GET /api/v1/tasks/{task_id}`` polls
it through QUEUED → RUNNING → SUCCESS | FAILED, and EXPIRED once a success's results
pass their retention. ElevenLabs v3 speech is synchronous: its submit answers the
finished task. A task with ``webhook_url`` is POSTed, signed, on its terminal
status.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ...core.engine import TIMED_OUT, InsufficientCredits
from ...core.lifecycle import FINISH, failure_reason, is_end, is_failure
from ...core.models import EXPIRED, FAILED, QUEUED, RUNNING, SUCCEEDED, Account, Task
from ...core.ratelimit import Limit
from ...core.webhooks import Policy, Signer
from ...media.files import AUDIO_MP3, AUDIO_WAV, COVER, COVER_LARGE, VIDEO_MP4
from ..base import BadRequest, Provider, iso_time
from .work import ALIASES, IMAGE, LYRICS, MUSIC, SONGS, SPEECH, STEMS, SUNO, VIDEO, WAV, Work

TASKS, TASK = "/api/v1/tasks", "/api/v1/tasks/{task_id}"
STATUS = {QUEUED: "QUEUED", RUNNING: "RUNNING", SUCCEEDED: "SUCCESS", FAILED: "FAILED",
          EXPIRED: "EXPIRED"}
# "Job exceeded its TTL (24h default)": an unfinished job expires after a day, and so do
# a finished job's results.
TTL = RETENTION = 24 * 3600.0
WEBHOOK_POLICY = Policy(timeout=10.0, retries=4, backoff=(10.0, 60.0, 300.0, 1800.0))
TIMESTAMP_HEADER, SIGNATURE_HEADER = "X-Orux-Timestamp", "X-Orux-Signature"
EVENT_HEADER = "X-Orux-Event"
# The model a request names → the upstream model and the channel that serves it.
UPSTREAM = {"suno-v5": ("chirp-crow", "suno"), "elevenlabs-v3": ("eleven_v3", "elevenlabs"),
            "elevenlabs-music": ("music_v1", "elevenlabs"),
            "runway-act-two": ("act_two", "runway")}

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


class Orux(Provider):
    id = "orux"
    callbacks_https_only = True  # the seed: HTTPS callbacks only

    def __init__(self, engine, settings):
        super().__init__(engine, settings)
        engine.subscribe(self.id, self._on_event)

    def routes(self) -> list[web.RouteDef]:
        return [web.post(TASKS, self.create), web.get(TASK, self.detail)]

    def error_body(self, status: int, message: str, **fields: Any) -> dict[str, Any]:
        kind, code = ERRORS.get(status, ("api_error", "internal_error"))
        if fields.get("type") in KINDS:
            kind, code = KINDS[fields["type"]], fields["type"]
        return {"error": {"type": kind, "code": code, "message": message,
                          "channel": fields.get("channel"), "param": fields.get("param")}}

    # -- handlers ----------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        body = await self.valid_body(request, TASKS)
        # A suno-<action> id is suno-v5 doing that action: a key allowed suno-v5 may use it.
        if not self.engine.may_use_model(account, SUNO if body["model"] in ALIASES
                                         else body["model"]):
            raise BadRequest(403, f"this key may not use model {body['model']}",
                             param="model")
        steering = self.engine.steering(*(body.get(name) for name in (
            "prompt", "lyrics", "text", "audio_url", "character_video_url",
            "driver_video_url")))
        if steering.http_status:
            refusal = self.outage(steering.http_status)
            if steering.http_status == 502:
                refusal.fields["channel"] = UPSTREAM.get(body["model"], UPSTREAM["suno-v5"])[1]
            raise refusal
        hook = "webhook_url" if "webhook_url" in body else "callback_url"
        self.require_callback_url(body.get(hook), hook)
        plan = await Work(self, account, body).plan()
        meta = {"model": body["model"], "output": plan.output, **plan.meta}
        try:
            task = self.engine.submit(
                self.id, account.api_key, plan.job, task_id="task_" + self.engine.ids.ulid(self.engine.now()),
                params=body, cost=self.settings.price(self.id, plan.price), clips=plan.clips,
                callback_url=body.get(hook), steering=steering,
                max_duration=plan.max_duration, meta=meta, retention=RETENTION, ttl=TTL)
        except InsufficientCredits as exc:
            raise BadRequest(429, f"Credits balance exhausted: this task needs {exc.needed:g} "
                                  f"credits and {exc.available:g} are available",
                             type="quota_exceeded") from None
        if plan.output == SPEECH:  # "Synchronous TTS": the answer is the finished task
            return self.json(self.render(self._spoken(task), self.origin(request)))
        return self.json({"task_id": task.id, "status": STATUS[task.status]})

    async def detail(self, request: web.Request) -> web.Response:
        account = self.authenticate(request)
        task = self.own_task(account, request.match_info["task_id"])
        if task is None:
            raise BadRequest(404, "Task not found", param="task_id", type="task_not_found")
        return self.json(self.render(task, self.origin(request)))

    def _spoken(self, task: Task) -> Task:
        """Speech is answered finished, yet still ends through the core, so its credits
        settle (or return) and its webhook fires as any task's do. Its outcome is the one
        its plan was steered to: a failure ([sim:fail], a fault rule) fails it at once,
        and one steered never to finish ([sim:stuck]) is answered as it stands."""
        ends = [event for _, event in task.plan if is_end(event)]
        if not ends:
            return task
        if is_failure(ends[-1]):
            return self.engine.force_outcome(task.id, "fail", failure_reason(ends[-1]))
        return self.engine.force_outcome(task.id, "succeed")

    # -- translation -------------------------------------------------------------------
    def refuse_missing_key(self) -> BadRequest:
        return BadRequest(401, "Authorization header missing: send Authorization: Bearer "
                               "sk-app-…")

    def refuse_unknown_key(self) -> BadRequest:
        return BadRequest(401, "Invalid API key")

    def refuse_rate(self, wait: int, limit: Limit) -> BadRequest:
        # The provider sets no Retry-After (nor any x-ratelimit-*) header.
        if limit.off:  # an injected refusal, with no limit in force to quote
            return BadRequest(429, "You exceeded your current rate limit.")
        return BadRequest(429, f"You exceeded your current rate limit of "
                               f"{limit.rate:g} requests per second.")

    outages = {500: "Internal server error", 502: "The upstream provider returned an error",
               503: "Service temporarily unavailable, please retry later",
               504: "The upstream provider did not answer in time"}

    def outage_fields(self, status: int, retry_after: int | None) -> dict[str, Any]:
        # A 502 names the upstream channel that failed; Suno's unless the model says.
        return {"channel": UPSTREAM["suno-v5"][1]} if status == 502 else {}

    def own_task(self, account: Account, task_id: str) -> Task | None:
        task = self.engine.task(task_id)
        if task is None or task.provider != self.id or task.api_key != account.api_key:
            return None
        return task

    def status_word(self, task: Task, now: float) -> str:
        return STATUS[task.state(now)]

    def render(self, task: Task, origin: str) -> dict[str, Any]:
        """The task as orux shows it, on the poll endpoint and in webhooks alike: the
        provider's flat fields, then the chain and the detailed result."""
        now = self.engine.now()
        state = task.state(now)
        meta = task.meta
        timed_out = state == FAILED and (task.error or {}).get("code") == TIMED_OUT
        upstream, channel = UPSTREAM[meta["model"]]
        answer: dict[str, Any] = {
            "task_id": task.id,
            "status": STATUS[EXPIRED if timed_out else state],
            "alias": task.params["model"],
            "upstream_model": (task.params.get("model_id", upstream)
                               if meta["model"] == "elevenlabs-v3" else upstream),
            "channel": channel,
            "submit_time": iso_time(task.created_at),
        }
        if task.finished_at is not None:
            answer["finish_time"] = iso_time(task.finished_at)
            answer["duration_sec"] = round(task.finished_at - (task.started_at
                                                               or task.created_at))
        result = self.result(task, origin) if state == SUCCEEDED else None
        answer["result_urls"] = _urls(result) if result else []
        if state == FAILED and task.error:
            answer["error_code"] = "expired" if timed_out else task.error["code"]
            answer["error_message"] = (f"Job exceeded its TTL ({TTL / 3600:g}h)" if timed_out
                                       else task.error["message"])
        elif state == EXPIRED:
            answer["error_code"] = "expired"
            answer["error_message"] = (f"Results are kept for {RETENTION / 3600:g}h after a "
                                       f"job succeeds; this job's have expired")
        answer.update({
            "model": meta["model"],
            "action": meta.get("action"),
            "parent_task_id": meta.get("parent_task_id"),
            "root_task_id": meta.get("root_task_id"),
            "credits": task.cost,
            "chain_credits": self._chain_credits(task) if meta["model"] == "suno-v5" else None,
            "expires_at": _when(task.expires_at),
            "result": result,
        })
        return answer

    def _chain_credits(self, task: Task) -> float:
        """What the whole chain this task belongs to has cost so far (failed tasks cost
        nothing): the dashboard's attribution to the original song."""
        root = task.meta.get("root_task_id") or task.id
        return sum(t.cost for t in self.engine.tasks(self.id, api_key=task.api_key)
                   if t.status != FAILED and (t.id == root or t.meta.get("root_task_id") == root))

    def result(self, task: Task, origin: str) -> dict[str, Any]:
        """What a succeeded task made, in the fields every model shares: ``audio_urls``
        for sound, ``video_url``, ``image_url``, ``lyrics``."""
        output, meta = task.meta["output"], task.meta

        def url(clip_id: str, name: str) -> str:
            return self.media_url(origin, clip_id, name)

        if output in (SONGS, STEMS):
            clips = [{"id": c.id, "title": c.title, "tags": c.tags, "duration": c.duration,
                      "audio_url": url(c.id, AUDIO_MP3), "image_url": url(c.id, COVER),
                      "lyrics": c.lyrics} for c in task.clips]
            answer: dict[str, Any] = {"audio_urls": [c["audio_url"] for c in clips],
                                      "clips": clips}
            if output == SONGS:
                first = task.clips[0]
                answer.update(lyrics=first.lyrics, image_url=url(first.id, COVER_LARGE))
            else:
                answer["stems"] = [{"name": (c.lineage or {}).get("part"),
                                    "audio_url": url(c.id, AUDIO_MP3)} for c in task.clips]
            return answer
        if output == LYRICS:
            return {"lyrics": meta["lrc"], "format": "lrc"}
        if output == WAV:
            return {"audio_urls": [url(meta["source_clip_id"], AUDIO_WAV)], "format": "wav"}
        if output == VIDEO:
            clip_id = task.clips[0].id if task.clips else meta["source_clip_id"]
            return {"video_url": url(clip_id, VIDEO_MP4)}
        if output == IMAGE:
            return {"image_url": url(task.clips[0].id, COVER_LARGE)}
        clip = task.clips[0]
        answer = {"audio_urls": [url(clip.id, AUDIO_MP3)], "duration": clip.duration}
        if output == SPEECH:
            answer.update(voice_id=meta["voice_id"], settings=meta["settings"])
        elif output == MUSIC:
            answer["image_url"] = url(clip.id, COVER_LARGE)
        return answer

    # -- webhooks ----------------------------------------------------------------------
    def _on_event(self, task: Task, event: str) -> None:
        if not task.callback_url or not (event == FINISH or is_failure(event)):
            return
        account = self.engine.account(task.api_key)
        if account is None:
            return
        payload = self.render(task, self.base_url)
        self.engine.deliver(task, orjson.dumps(payload), WEBHOOK_POLICY, payload["status"],
                            headers={EVENT_HEADER: payload["status"]},
                            signer=Signer(account.webhook_secret, TIMESTAMP_HEADER,
                                          SIGNATURE_HEADER))


# Error codes a handler may name, with the type each belongs to.
KINDS = {"task_not_found": "invalid_request_error", "quota_exceeded": "rate_limit_error",
         "parent_not_ready": "invalid_request_error"}


def _urls(result: dict[str, Any]) -> list[str]:
    """Every asset a result links, as ``result_urls`` lists them."""
    urls = list(result.get("audio_urls", ()))
    urls += [result[name] for name in ("video_url", "image_url") if result.get(name)]
    return urls


def _when(seconds: float | None) -> str | None:
    return None if seconds is None else iso_time(seconds)
