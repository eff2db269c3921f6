"""The :class:`Sunor` driver: how the shared cases authenticate, submit, poll and read
a sunor task, and the balance they count credits with."""

from __future__ import annotations

from typing import Any

from ...context import CASE_KEY
from ...dialect import Driver, Invalid, Media
from .api import SONG_PRICE, TASK, media_of, music, results_of
from .calls import balance_of
from .validation import REFUSED


class Sunor(Driver):
    provider = "sunor"
    seed = "seed 001"
    ranks = {"pending": 0, "running": 1, "success": 2, "failure": 2, "timeout": 2}
    succeeded = "success"
    failed = frozenset({"failure", "timeout"})
    price = float(SONG_PRICE)  # a Suno music request (two songs)
    unknown_id = "00000000-0000-4000-8000-000000000000"
    unknown_status = 404
    # The spec's RateLimited answer documents Retry-After. The simulator's limiter also
    # sends the X-RateLimit-* window (checked by rate-limits.window and .countdown), but a
    # 429 injected in front of the handler (upstream.rate-limited) carries Retry-After only.
    rate_headers = ("Retry-After",)
    insufficient_status = 402
    expires = False  # the seed names no retention
    # {"code": <the status>, "message"} (specs/sunor.yaml Error)
    error_words = {status: {"code": status} for status in (400, 401, 402, 403, 404, 429)}

    def auth(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def song_request(self, prompt: str, callback_url: str | None = None):
        # The seed's inspiration mode; sunor takes no callback URL.
        return "POST", TASK, music("suno", gpt_description_prompt=prompt,
                                   make_instrumental=False)

    def poll_request(self, task_id: str):
        return "GET", f"{TASK}/{task_id}", None

    def task_id_of(self, data: Any) -> str:
        inner = data.get("data") if isinstance(data, dict) else None
        return inner.get("task_id") if isinstance(inner, dict) else None

    def status_of(self, data: Any) -> str:
        inner = data.get("data") if isinstance(data, dict) else None
        return inner.get("status") if isinstance(inner, dict) else None

    def media_of(self, data: Any) -> list[Media]:
        return media_of(results_of(data))

    def callback_stage(self, payload: Any) -> str:
        return None  # sunor sends no callbacks

    def error_of(self, data: Any) -> dict[str, Any] | None:
        """sunor's error is the whole body: ``{"code", "message"}``."""
        if isinstance(data, dict) and isinstance(data.get("code"), int) \
                and isinstance(data.get("message"), str) and "data" not in data:
            return data
        return None

    def invalid_requests(self) -> list[Invalid]:
        return list(REFUSED)

    async def balance(self, ctx, key: Any = None) -> float | None:
        """The key's ``total`` (available + frozen): what finished work has cost, unmoved
        by credits frozen or released while tasks run (a held task's refund must not look
        like a price)."""
        data = await balance_of(ctx, CASE_KEY if key is None else key)
        return data["total"]

    async def held(self, ctx, key: Any = None) -> float | None:
        """The key's ``frozen`` credits: work charged but not yet finished."""
        data = await balance_of(ctx, CASE_KEY if key is None else key)
        return data["frozen"]


DRIVER = Sunor()
