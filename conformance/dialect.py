"""A dialect as a client sees it: how to authenticate, submit a song, poll it, read its
status and results. Each dialect module subclasses :class:`Driver`; the shared cases in
:mod:`conformance.common` run on any driver, so a dialect adds only its own rules."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .case import expect

if TYPE_CHECKING:
    from .context import Answer, Context


@dataclass(frozen=True)
class Media:
    url: str
    kind: str  # audio | image | video
    duration: float | None = None  # what the API claims, for audio and video


@dataclass(frozen=True)
class Invalid:
    """A request body the seed says must be refused, and with which status."""

    name: str
    body: Any
    status: int = 400
    rule: str = ""  # the seed's words for the rule
    path: str | None = None  # another operation than the song request's


# The refusals the shared cases provoke, by kind.
MISSING_KEY, WRONG_KEY, NOT_FOUND = "missing-key", "wrong-key", "not-found"
INVALID, RATE_LIMITED, NO_CREDITS = "invalid", "rate-limited", "no-credits"


@dataclass(frozen=True)
class Refusal:
    """A refusal as the dialect documents it: its status, and the members its error
    carries that say which refusal it is (its code, its type). A gateway passes it on
    exactly so: a client tells "out of credits" from "slow down" by these alone."""

    status: int
    error: tuple[tuple[str, Any], ...] = ()  # (member, value) pairs of the error object

    def __str__(self) -> str:
        said = ", ".join(f"{k} {v!r}" for k, v in self.error)
        return f"{self.status}" + (f" ({said})" if said else "")


class Driver(ABC):
    provider = ""
    seed = ""  # which seed document describes the dialect
    # Status words, each with its place in the lifecycle: a task's status never moves
    # to a lower place, nor across to another word of the same place.
    ranks: dict[str, int] = {}
    succeeded = ""
    failed: frozenset[str] = frozenset()
    expired: frozenset[str] = frozenset()
    price = 0.0  # credits one song request costs
    callback_stages: tuple[str, ...] = ()  # in the order they are sent, for one song
    optional_stages: frozenset[str] = frozenset()  # stages the dialect may skip
    unknown_status = 404  # polling an id the key does not own
    missing_key_status = 401  # a request with no key at all
    unknown_id = "no-such-task-0000"
    rate_headers: tuple[str, ...] = ("Retry-After",)  # on every 429
    callback_schema: str | None = None  # components/schemas entry of a callback payload
    insufficient_status = 402  # the answer to a key without enough credits
    # The members of the error that name each refusal: by kind (above) where the kind
    # has its own words, else by status (the dialect's words for any refusal of it).
    error_words: dict[int | str, dict[str, Any]] = {}
    expires = False  # results are kept for a limited time
    signs = False  # callbacks carry a signature the receiver must check

    @property
    def terminal(self) -> frozenset[str]:
        return frozenset({self.succeeded, *self.failed, *self.expired})

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    # --- requests ----------------------------------------------------------------------

    @abstractmethod
    def song_request(self, prompt: str, callback_url: str | None = None) -> tuple[str, str, Any]:
        """(method, path, body) of the smallest request that makes a song."""

    @abstractmethod
    def poll_request(self, task_id: str) -> tuple[str, str, Any]:
        """(method, path, body or None) of the request that reads a task."""

    @abstractmethod
    def task_id_of(self, data: Any) -> str:
        """The task id a submit answer gives."""

    @abstractmethod
    def status_of(self, data: Any) -> str:
        """The status word of a task answer (or a submit answer)."""

    @abstractmethod
    def media_of(self, data: Any) -> list[Media]:
        """Every media link a finished task's answer names."""

    @abstractmethod
    def callback_stage(self, payload: Any) -> str:
        """Which stage a callback delivery reports."""

    def invalid_requests(self) -> list[Invalid]:
        return []

    # --- refusals ------------------------------------------------------------------------

    def error_of(self, data: Any) -> dict[str, Any] | None:
        """The error object of an error answer, None when the body is not the dialect's
        error shape (most dialects: ``{"error": {...}}``)."""
        error = data.get("error") if isinstance(data, dict) else None
        return error if isinstance(error, dict) else None

    def refusal(self, kind: str, status: int | None = None) -> Refusal:
        """How the dialect refuses: ``kind`` is one of the kinds above; ``status``, for
        :data:`INVALID`, the status a rule names (400 unless it says otherwise)."""
        statuses = {MISSING_KEY: self.missing_key_status, WRONG_KEY: 401,
                    NOT_FOUND: self.unknown_status, INVALID: 400, RATE_LIMITED: 429,
                    NO_CREDITS: self.insufficient_status}
        status = status or statuses[kind]
        words = self.error_words.get(kind, self.error_words.get(status, {}))
        return Refusal(status, tuple(words.items()))

    def refusal_problem(self, answer: "Answer", refusal: Refusal) -> str | None:
        """Why an answer is not ``refusal`` exactly (status, error shape, code and type),
        or None."""
        if answer.status != refusal.status:
            return f"expected {refusal}, got {answer}"
        error = self.error_of(answer.data)
        if error is None:
            return f"a {answer.status} that is not the dialect's error: {answer}"
        wrong = [f"{k} {error.get(k)!r} (expected {v!r})" for k, v in refusal.error
                 if error.get(k) != v]
        if wrong:
            return f"a {answer.status} that is not the documented refusal: {', '.join(wrong)}: " \
                   f"{answer}"
        return None

    async def submit(self, ctx: "Context", prompt: str, *, key: Any = None,
                     callback_url: str | None = None) -> str:
        method, path, body = self.song_request(prompt, callback_url)
        answer = await ctx.call(method, path, json=body, **({} if key is None else {"key": key}))
        expect(200 <= answer.status < 300, f"submitting a song: {answer}")
        task_id = self.task_id_of(answer.data)
        expect(isinstance(task_id, str) and task_id, f"no task id in {answer}")
        ctx.observe(task_id, self.status_of(answer.data))
        return task_id

    async def poll(self, ctx: "Context", task_id: str, *, key: Any = None,
                   patient: bool = True) -> "Answer":
        method, path, body = self.poll_request(task_id)
        kwargs: dict[str, Any] = {"patient": patient, **({} if key is None else {"key": key})}
        if body is not None:
            kwargs["json"] = body
        return await ctx.call(method, path, **kwargs)

    async def balance(self, ctx: "Context", key: Any = None) -> float | None:
        """The key's balance where the dialect shows one; None where it does not."""
        return None

    async def held(self, ctx: "Context", key: Any = None) -> float | None:
        """Credits of the key held for work still running, where the dialect shows them
        apart from its balance; None where it does not."""
        return None

    async def wait_expired(self, ctx: "Context", task_id: str) -> bool:
        """Poll a succeeded task until the dialect says its results are gone."""
        import asyncio
        import time
        deadline = time.monotonic() + ctx.run.timeout
        while time.monotonic() < deadline:
            answer = await self.poll(ctx, task_id)
            if answer.status == self.unknown_status:
                return True
            if answer.status == 200:
                ctx.observe(task_id, self.status_of(answer.data))
                if self.status_of(answer.data) in self.expired:
                    return True
            await asyncio.sleep(ctx.run.poll_every)
        return False

    async def webhook_secret(self, ctx: "Context") -> str | None:
        """The secret callbacks are signed with, for dialects that sign them."""
        return None

    def check_callback(self, ctx: "Context", payload: Any) -> list[str]:
        if self.callback_schema is None:
            return []
        return ctx.run.spec.check_component(self.callback_schema, payload)

    def verify(self, secret: str | None, raw: bytes, headers: dict[str, str]) -> str | None:
        """Why a delivery's signature is wrong, or None (also for unsigned dialects)."""
        return None
