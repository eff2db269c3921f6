"""Fault injection seen from a real HTTP client: rules (POST /_sim/faults), named
scenarios, seeded draws and rate limits, through every dialect's own submit and poll.

Each dialect test drives the shared simulator (manual clock, rate limits off) with a fresh
key holding RICH credits, so "nothing was charged" is exact: the key still has RICH
credits, none held, none spent, and /_sim/tasks lists no task of that dialect.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import aiohttp
import pytest
import requests
from conftest import DEMO_KEY, Sim, bearer, conforms, spec_validator, start_sim

from simulator.app import SHUTDOWN_GRACE
from simulator.config import RateLimit, load

RICH = 1_000_000
MARKER = "zebra-marker-42"  # text only the requests a body_contains rule targets carry
PROVIDERS = ("evolink", "acedata", "openaihk", "sunor", "orux")
OFF = {p: RateLimit(0.0, 1.0) for p in PROVIDERS}
LYRICS = "[Verse]\nSoft rain on neon glass\n\n[Chorus]\nHold me in the midnight glow"
ADMIN_ERROR = spec_validator("admin", "AdminError")
FAULT_RULE = spec_validator("admin", "FaultRule")
FAULT_RULE_LIST = spec_validator("admin", "FaultRuleList")
RATE_LIMITS = spec_validator("admin", "RateLimits")


# --- the five dialects: one submit and one poll each, in their own words ----------------


class Dialect:
    """How one dialect submits a task, polls it and words its task status.

    ``state`` answers the dialect's own status word from a poll answer; ``failed`` is the
    word of a failed task and ``running`` the words of one not yet finished."""

    id: str
    submit_path: str
    accepted: int = 200          # status of an accepted submit
    poll_glob: str               # the poll's path inside the provider, as a match.path glob
    poll_method: str = "GET"
    error_schema: str = "Error"
    failed: str
    running: frozenset[str]
    long_wait: float = 3000.0    # simulated seconds a stuck task is watched (below any ttl)

    def __init__(self) -> None:
        self.errors = spec_validator(self.id, self.error_schema)

    def __repr__(self) -> str:
        return self.id

    def headers(self, key: str | None) -> dict[str, str]:
        return bearer(key) if key else {}

    def body(self, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def url(self, sim: Sim, path: str) -> str:
        return sim.base(self.id) + path

    def submit(self, sim: Sim, key: str, text: str = "a song about rain",
               timeout: float = 30) -> requests.Response:
        return requests.post(self.url(sim, self.submit_path), json=self.body(text),
                             headers=self.headers(key), timeout=timeout)

    def handle(self, answer: dict[str, Any]) -> str:
        """What the accepted submit's answer gives the client to poll with."""
        raise NotImplementedError

    def poll(self, sim: Sim, key: str, handle: str) -> requests.Response:
        raise NotImplementedError

    def state(self, answer: Any) -> str:
        raise NotImplementedError

    def started(self, sim: Sim, key: str, text: str = "a song about rain") -> str:
        response = self.submit(sim, key, text)
        assert response.status_code == self.accepted, response.text
        return self.handle(response.json())

    def status_of(self, sim: Sim, key: str, handle: str) -> str:
        response = self.poll(sim, key, handle)
        assert response.status_code == 200, response.text
        return self.state(response.json())


class Evolink(Dialect):
    id, submit_path, poll_glob = "evolink", "/v1/audios/generations", "/v1/tasks/*"
    error_schema = "ErrorResponse"
    failed, running = "failed", frozenset({"pending", "processing"})

    def body(self, text):
        return {"model": "suno-v4.5", "prompt": text}

    def handle(self, answer):
        return answer["id"]

    def poll(self, sim, key, handle):
        return requests.get(self.url(sim, f"/v1/tasks/{handle}"), headers=self.headers(key),
                            timeout=30)

    def state(self, answer):
        return answer["status"]


class Acedata(Dialect):
    """Submits with ``async: true`` (the id at once); polls with ``retrieve``. A task is
    ``running`` until it has ``finished_at``; then its ``response.success`` tells."""

    id, submit_path, poll_glob, poll_method = "acedata", "/suno/audios", "/suno/tasks", "POST"
    failed, running = "failed", frozenset({"running"})

    def body(self, text):
        return {"action": "generate", "prompt": text, "async": True}

    def handle(self, answer):
        assert answer["success"] is True, answer
        return answer["task_id"]

    def poll(self, sim, key, handle):
        return requests.post(self.url(sim, "/suno/tasks"), json={"action": "retrieve",
                                                                 "id": handle},
                             headers=self.headers(key), timeout=30)

    def state(self, answer):
        if "finished_at" not in answer:
            return "running"
        return "succeeded" if answer["response"].get("success") else "failed"


class Openaihk(Dialect):
    """The handle is the batch's clip ids; the state is the clips' statuses, joined when
    they differ (the first clip is complete while the second still streams)."""

    id, submit_path, poll_glob = "openaihk", "/sunoapi/generate", "/sunoapi/feed/*"
    failed = "error"
    running = frozenset({"submitted", "queued", "streaming", "complete|streaming"})

    def body(self, text):
        return {"prompt": text, "mv": "chirp-v3-5", "title": "Work", "tags": "edm"}

    def handle(self, answer):
        return ",".join(clip["id"] for clip in answer["clips"])

    def poll(self, sim, key, handle):
        return requests.get(self.url(sim, f"/sunoapi/feed/{handle}"), headers=self.headers(key),
                            timeout=30)

    def state(self, answer):
        return "|".join(sorted({clip["status"] for clip in answer}))


class Sunor(Dialect):
    id, submit_path, poll_glob, accepted = "sunor", "/api/v1/task", "/api/v1/task/*", 202
    failed, running = "failure", frozenset({"pending", "running"})
    long_wait = 550.0  # a sunor task still running at 600 s times out

    def headers(self, key):
        return {"x-api-key": key} if key else {}

    def body(self, text):
        return {"model": "suno", "task_type": "music", "input": {"gpt_description_prompt": text}}

    def handle(self, answer):
        return answer["data"]["task_id"]

    def poll(self, sim, key, handle):
        return requests.get(self.url(sim, f"/api/v1/task/{handle}"), headers=self.headers(key),
                            timeout=30)

    def state(self, answer):
        return answer["data"]["status"]


class Orux(Dialect):
    id, submit_path, poll_glob = "orux", "/api/v1/tasks", "/api/v1/tasks/*"
    failed, running = "FAILED", frozenset({"QUEUED", "RUNNING"})

    def body(self, text):
        return {"model": "suno-v5", "prompt": text, "lyrics": LYRICS, "duration": 60}

    def handle(self, answer):
        return answer["task_id"]

    def poll(self, sim, key, handle):
        return requests.get(self.url(sim, f"/api/v1/tasks/{handle}"), headers=self.headers(key),
                            timeout=30)

    def state(self, answer):
        return answer["status"]


DIALECTS = [Evolink(), Acedata(), Openaihk(), Sunor(), Orux()]
BY_ID = {d.id: d for d in DIALECTS}
each_dialect = pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.id)


# --- small helpers -------------------------------------------------------------------------


def add_rule(sim: Sim, rule: dict[str, Any]) -> dict[str, Any]:
    """POST a fault rule; the 201 answer is the rule with its id, checked against the spec."""
    response = sim.admin("POST", "/faults", json=rule)
    assert response.status_code == 201, response.text
    created = response.json()
    conforms(FAULT_RULE, created)
    assert created["hits"] == 0 and created["id"]
    return created


def rules(sim: Sim) -> dict[str, Any]:
    response = sim.admin("GET", "/faults")
    assert response.status_code == 200, response.text
    listing = response.json()
    conforms(FAULT_RULE_LIST, listing)
    return listing


def on_submit(dialect: Dialect, action: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A rule acting on the dialect's submit only."""
    return {"match": {"provider": dialect.id, "method": "POST", "path": dialect.submit_path},
            "action": action, **extra}


def on_poll(dialect: Dialect, action: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"match": {"provider": dialect.id, "method": dialect.poll_method,
                      "path": dialect.poll_glob}, "action": action, **extra}


def account(sim: Sim, key: str) -> dict[str, Any]:
    response = sim.admin("GET", f"/accounts/{key}")
    assert response.status_code == 200, response.text
    return response.json()


def task_count(sim: Sim, dialect: Dialect, key: str) -> int:
    response = sim.admin("GET", "/tasks", params={"provider": dialect.id, "api_key": key})
    assert response.status_code == 200, response.text
    return response.json()["count"]


def assert_untouched(sim: Sim, dialect: Dialect, key: str) -> None:
    """No task of the dialect exists for the key and none of its credits moved."""
    assert task_count(sim, dialect, key) == 0
    balances = account(sim, key)
    assert (balances["credits"], balances["held"], balances["spent"]) == (RICH, 0, 0), balances


def assert_one_task_held(sim: Sim, dialect: Dialect, key: str) -> None:
    """Exactly one task exists for the key and its price is held, not yet spent."""
    assert task_count(sim, dialect, key) == 1
    balances = account(sim, key)
    assert balances["held"] > 0 and balances["credits"] == RICH - balances["held"], balances


def dialect_error(dialect: Dialect, response: requests.Response, status: int) -> dict[str, Any]:
    """The error body, valid against the dialect's own error schema, with that status."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    conforms(dialect.errors, body)
    return body


def without_trace(body: dict[str, Any]) -> dict[str, Any]:
    """acedata stamps each error with a fresh trace id; the rest must be equal."""
    return {k: v for k, v in body.items() if k != "trace_id"}


def journal(sim: Sim, **query: Any) -> list[dict[str, Any]]:
    response = sim.admin("GET", "/journal", params=query)
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def timed(call) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def statuses(responses: list[requests.Response]) -> list[int]:
    return [r.status_code for r in responses]


# --- 1. injected statuses, in each dialect's words ------------------------------------------


@each_dialect
def test_injected_429_is_the_dialects_own_rate_limit_refusal(sim, dialect):
    """A 429 rule without retry_after answers what the dialect's real rate limiter
    answers (same body, same Retry-After, 2 s by default), so a client cannot tell them
    apart; and it is refused before anything is charged."""
    key = sim.account(RICH)
    assert sim.admin("PUT", f"/rate-limits/{dialect.id}",
                     json={"rate": 0.5, "burst": 1}).status_code == 200
    assert dialect.submit(sim, key).status_code == dialect.accepted
    real = dialect.submit(sim, key)  # the bucket is empty: a genuine refusal, wait 2 s
    dialect_error(dialect, real, 429)
    add_rule(sim, {"match": {"api_key": key}, "action": {"status": 429}, "times": 1})
    injected = dialect.submit(sim, key)
    body = dialect_error(dialect, injected, 429)
    assert without_trace(body) == without_trace(real.json())
    assert injected.headers.get("Retry-After") == real.headers.get("Retry-After")
    if dialect.id == "orux":  # the provider documents no Retry-After header
        assert "Retry-After" not in injected.headers
    else:
        assert injected.headers["Retry-After"] == "2"
    assert task_count(sim, dialect, key) == 1  # only the first, unrefused submit


@each_dialect
def test_injected_429_carries_the_rules_retry_after_and_charges_nothing(sim, dialect):
    """retry_after sets Retry-After exactly; the body stays the dialect's 429."""
    key = sim.account(RICH)
    add_rule(sim, on_submit(dialect, {"status": 429, "retry_after": 7}))
    response = dialect.submit(sim, key)
    body = dialect_error(dialect, response, 429)
    assert response.headers["Retry-After"] == "7"
    text = json.dumps(body)
    if dialect.id == "sunor":
        assert body == {"code": 429, "message": "Rate limit exceeded. Try again in 7 seconds."}
    elif dialect.id == "evolink":
        assert body["error"]["fallback_suggestion"] == "retry after 7 seconds"
    assert "rate" in text.lower()
    assert_untouched(sim, dialect, key)


@each_dialect
@pytest.mark.parametrize("status", [500, 502, 503, 504, 402])
def test_injected_error_status_is_in_the_dialects_shape_and_charges_nothing(sim, dialect,
                                                                             status):
    """phase before (the default): the submit never reaches the provider, so no task
    exists and no credit is held, and the error reads as the dialect's own."""
    key = sim.account(RICH)
    rule = add_rule(sim, on_submit(dialect, {"status": status}))
    response = dialect.submit(sim, key)
    body = dialect_error(dialect, response, status)
    assert "Retry-After" not in response.headers  # the rule gave no retry_after
    if dialect.id in ("evolink", "sunor"):  # these carry the status in the body too
        assert (body["error"]["code"] if dialect.id == "evolink" else body["code"]) == status
    assert_untouched(sim, dialect, key)
    entry = journal(sim, faulted="true", provider=dialect.id)[-1]
    assert entry["status"] == status and entry["faults"] == [rule["id"]]
    assert rules(sim)["rules"][0]["hits"] == 1


@pytest.mark.parametrize("dialect,status", [
    pytest.param(d, s, id=f"{d.id}-{s}") for d in DIALECTS for s in (500, 502, 503, 504)])
def test_injected_outage_reads_like_the_dialects_own_outage(sim, dialect, status):
    """An injected 5xx says what the dialect says when its upstream fails (the [sim:5xx]
    magic value in the prompt): same status, same body, same headers that matter."""
    key = sim.account(RICH)
    own = dialect.submit(sim, key, f"a song [sim:{status}]")
    dialect_error(dialect, own, status)
    add_rule(sim, on_submit(dialect, {"status": status}))
    injected = dialect.submit(sim, key)
    assert without_trace(dialect_error(dialect, injected, status)) == without_trace(own.json())
    assert injected.headers.get("Retry-After") == own.headers.get("Retry-After")
    assert_untouched(sim, dialect, key)


@each_dialect
def test_injected_status_with_retry_after_sets_the_header(sim, dialect):
    """retry_after is not only for 429: an outage may say when to come back."""
    key = sim.account(RICH)
    add_rule(sim, on_submit(dialect, {"status": 503, "retry_after": 11}))
    response = dialect.submit(sim, key)
    dialect_error(dialect, response, 503)
    assert response.headers["Retry-After"] == "11"


@each_dialect
def test_injected_401_is_the_dialects_unknown_key_refusal(sim, dialect):
    """A 401 rule answers exactly what an unknown key gets, though the key is valid."""
    unknown = dialect.submit(sim, "sk-nobody-has-this-key")
    dialect_error(dialect, unknown, 401)
    key = sim.account(RICH)
    add_rule(sim, on_submit(dialect, {"status": 401}))
    injected = dialect.submit(sim, key)
    assert without_trace(dialect_error(dialect, injected, 401)) == without_trace(unknown.json())
    assert_untouched(sim, dialect, key)


@each_dialect
def test_phase_after_status_keeps_the_task_the_client_never_heard_of(sim, dialect):
    """phase after: the submit is handled (task created, credits held) and only then is
    its answer replaced by the error, as when a gateway fails on the way back."""
    key = sim.account(RICH)
    add_rule(sim, on_submit(dialect, {"status": 502, "phase": "after"}))
    dialect_error(dialect, dialect.submit(sim, key), 502)
    assert_one_task_held(sim, dialect, key)


@each_dialect
def test_injected_status_on_the_poll_leaves_the_task_alone(sim, dialect):
    """A rule on the poll path (a glob) fails polls only; the task goes on, and once the
    rule is deleted the poll answers normally."""
    key = sim.account(RICH)
    handle = dialect.started(sim, key)
    rule = add_rule(sim, on_poll(dialect, {"status": 504}))
    dialect_error(dialect, dialect.poll(sim, key, handle), 504)
    assert sim.admin("DELETE", f"/faults/{rule['id']}").json()["rules"] == []
    assert dialect.status_of(sim, key, handle) in dialect.running


# --- 1. broken connections and bodies -----------------------------------------------------


@each_dialect
@pytest.mark.parametrize("phase", ["before", "after"])
def test_dropped_connection(sim, dialect, phase):
    """drop closes the connection with no answer. Before: nothing happened server-side.
    After: the task exists though the client saw only a broken connection. The journal
    shows a null status and the damage."""
    key = sim.account(RICH)
    rule = add_rule(sim, on_submit(dialect, {"drop": True, "phase": phase}))
    with pytest.raises(requests.ConnectionError):
        dialect.submit(sim, key)
    if phase == "before":
        assert_untouched(sim, dialect, key)
    else:
        assert_one_task_held(sim, dialect, key)
    entry = journal(sim, faulted="true", provider=dialect.id)[-1]
    assert entry["status"] is None and entry["faults"] == [rule["id"]]
    assert entry["damage"] == f"dropped {phase} the request was handled"


async def _aiohttp_submit(dialect: Dialect, sim: Sim, key: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.post(
            dialect.url(sim, dialect.submit_path), json=dialect.body("x"),
            headers=dialect.headers(key)) as response:
        assert response.status == dialect.accepted
        return await response.read()


@each_dialect
def test_truncated_body_breaks_the_read(sim, dialect):
    """truncate: status and headers arrive, Content-Length announces the whole body, half
    of it comes, then the connection closes. requests and aiohttp both see a broken
    payload, and both submits made their task."""
    key = sim.account(RICH)
    add_rule(sim, on_submit(dialect, {"truncate": True}, times=2))
    with pytest.raises((requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ConnectionError)):
        dialect.submit(sim, key)
    with pytest.raises(aiohttp.ClientPayloadError):
        asyncio.run(_aiohttp_submit(dialect, sim, key))
    assert task_count(sim, dialect, key) == 2
    entries = journal(sim, faulted="true", provider=dialect.id)
    assert [e["damage"] for e in entries] == ["truncated", "truncated"]
    assert all(e["status"] == dialect.accepted for e in entries)
    json.loads(entries[0]["response"]["body"])  # the journal keeps the whole answer


@each_dialect
def test_malformed_body_is_a_whole_answer_that_does_not_parse(sim, dialect):
    """malformed: a complete HTTP answer (status as accepted, Content-Length equal to the
    bytes sent) whose body is not JSON; the task was still made."""
    key = sim.account(RICH)
    add_rule(sim, on_submit(dialect, {"malformed": True}))
    response = dialect.submit(sim, key)
    assert response.status_code == dialect.accepted
    assert int(response.headers["Content-Length"]) == len(response.content) > 0
    with pytest.raises(ValueError):
        json.loads(response.content)
    assert_one_task_held(sim, dialect, key)
    entry, = journal(sim, faulted="true", provider=dialect.id)
    assert entry["damage"] == "malformed"
    kept = entry["response"]["body"].encode()
    assert len(kept) > len(response.content) and kept.startswith(response.content)
    json.loads(kept)  # the journal keeps the whole answer


@each_dialect
def test_trickled_poll_is_complete_but_slow(sim, dialect):
    """trickle_ms: the poll's answer is the very answer an undisturbed poll gets, only
    spread over the rule's time."""
    key = sim.account(RICH)
    handle = dialect.started(sim, key)
    add_rule(sim, on_poll(dialect, {"trickle_ms": 1000}, times=1))
    slow, seconds = timed(lambda: dialect.poll(sim, key, handle))
    assert seconds >= 0.8, seconds
    assert slow.status_code == 200
    assert int(slow.headers["Content-Length"]) == len(slow.content)
    fast, quick = timed(lambda: dialect.poll(sim, key, handle))
    assert quick < 0.8, quick
    assert slow.json() == fast.json()


@each_dialect
@pytest.mark.parametrize("latency", [300, {"min": 250, "max": 350}], ids=["fixed", "range"])
def test_latency_delays_the_answer(sim, dialect, latency):
    """latency_ms (a number or a min/max range) waits before the request is handled; the
    answer itself is normal."""
    key = sim.account(RICH)
    add_rule(sim, on_submit(dialect, {"latency_ms": latency}))
    response, seconds = timed(lambda: dialect.submit(sim, key))
    assert response.status_code == dialect.accepted, response.text
    floor = 0.3 if latency == 300 else 0.25
    assert seconds >= floor, seconds
    assert journal(sim, faulted="true", provider=dialect.id)[-1]["duration_ms"] >= floor * 1000
    assert_one_task_held(sim, dialect, key)


# --- 1. what the created task does ----------------------------------------------------------


@each_dialect
def test_task_fail_action_fails_the_task_later_and_refunds(sim, dialect):
    """task fail: the submit is accepted as usual, the task reaches the dialect's failed
    status, and what was held for it comes back."""
    key = sim.account(RICH)
    add_rule(sim, on_submit(dialect, {"task": "fail"}))
    handle = dialect.started(sim, key)
    assert account(sim, key)["held"] > 0
    sim.advance(200)
    assert dialect.status_of(sim, key, handle) == dialect.failed
    balances = account(sim, key)
    assert (balances["credits"], balances["held"], balances["spent"]) == (RICH, 0, 0)


def test_task_fail_with_a_reason_reports_that_reason(sim):
    """fail:REASON: orux shows the reason code as the task's error_code."""
    orux, key = BY_ID["orux"], sim.account(RICH)
    add_rule(sim, on_submit(orux, {"task": "fail:voice_unavailable"}))
    handle = orux.started(sim, key)
    sim.advance(200)
    task = orux.poll(sim, key, handle).json()
    assert (task["status"], task["error_code"]) == ("FAILED", "voice_unavailable")


@each_dialect
def test_task_stuck_action_never_finishes(sim, dialect):
    """task stuck: the task starts and is still running long after any song is done
    (watched below the dialect's own timeout), its credits still held."""
    key = sim.account(RICH)
    rule = on_submit(dialect, {"task": "stuck"})
    rule["match"]["api_key"] = key
    add_rule(sim, rule)
    handle = dialect.started(sim, key)
    sim.advance(dialect.long_wait)
    assert dialect.status_of(sim, key, handle) in dialect.running
    assert account(sim, key)["held"] > 0
    # A request the rule does not match (another key) finishes normally meanwhile.
    other = sim.account(RICH)
    normal = dialect.started(sim, other)
    sim.advance(200)
    assert dialect.status_of(sim, other, normal) not in dialect.running | {dialect.failed}


# --- 1. times and match -------------------------------------------------------------------


@each_dialect
def test_times_two_acts_exactly_twice(sim, dialect):
    """times: 2 refuses the next two matching requests, then the rule is spent: it stays
    listed with hits 2 and remaining 0, and requests pass again."""
    key = sim.account(RICH)
    rule = add_rule(sim, on_submit(dialect, {"status": 503}, times=2))
    assert rule["remaining"] == 2
    answers = [dialect.submit(sim, key) for _ in range(4)]
    assert statuses(answers) == [503, 503, dialect.accepted, dialect.accepted]
    listed = rules(sim)["rules"]
    assert [(r["id"], r["hits"], r["remaining"]) for r in listed] == [(rule["id"], 2, 0)]
    assert task_count(sim, dialect, key) == 2


@each_dialect
def test_match_provider_touches_no_other_provider(sim, dialect):
    """A rule for one provider leaves the other four answering normally."""
    key = sim.account(RICH)
    add_rule(sim, {"match": {"provider": dialect.id}, "action": {"status": 503}})
    for other in DIALECTS:
        response = other.submit(sim, key)
        if other is dialect:
            dialect_error(dialect, response, 503)
        else:
            assert response.status_code == other.accepted, (other, response.text)


@each_dialect
def test_match_api_key_touches_no_other_key(sim, dialect):
    """A rule for one key refuses that key only, whatever the dialect carries it in."""
    target, bystander = sim.account(RICH), sim.account(RICH)
    add_rule(sim, {"match": {"api_key": target}, "action": {"status": 500}})
    dialect_error(dialect, dialect.submit(sim, target), 500)
    assert dialect.submit(sim, bystander).status_code == dialect.accepted
    assert_untouched(sim, dialect, target)


@each_dialect
def test_match_body_contains_selects_by_request_text(sim, dialect):
    key = sim.account(RICH)
    add_rule(sim, {"match": {"body_contains": MARKER}, "action": {"status": 502}})
    assert dialect.submit(sim, key, "a plain song").status_code == dialect.accepted
    dialect_error(dialect, dialect.submit(sim, key, f"a song {MARKER}"), 502)
    assert task_count(sim, dialect, key) == 1


@each_dialect
def test_match_path_and_method(sim, dialect):
    """method matches case-insensitively and path globs inside the provider: a rule on
    the poll leaves the submit alone, and a rule for a method nobody uses never acts."""
    key = sim.account(RICH)
    unused = add_rule(sim, {"match": {"provider": dialect.id, "method": "delete"},
                            "action": {"status": 500}})
    on_get = add_rule(sim, {"match": {"provider": dialect.id, "method": "get",
                                      "path": dialect.poll_glob}, "action": {"status": 503}})
    handle = dialect.started(sim, key)
    poll = dialect.poll(sim, key, handle)
    if dialect.poll_method == "GET":
        dialect_error(dialect, poll, 503)
    else:  # acedata polls with POST: a GET rule must not catch it
        assert poll.status_code == 200, poll.text
    hits = {r["id"]: r["hits"] for r in rules(sim)["rules"]}
    assert hits == {unused["id"]: 0, on_get["id"]: int(dialect.poll_method == "GET")}


# --- 1. edge cases: waits of zero, streamed answers, per-key limits ----------------------


@pytest.mark.parametrize("dialect", [BY_ID["sunor"], BY_ID["evolink"]], ids=lambda d: d.id)
def test_retry_after_zero_is_said_the_same_in_header_and_body(sim, dialect):
    """retry_after: 0 is allowed by specs/admin.yaml (minimum 0); header and body must
    tell the client the same wait."""
    key = sim.account(RICH)
    add_rule(sim, on_submit(dialect, {"status": 429, "retry_after": 0}))
    response = dialect.submit(sim, key)
    body = dialect_error(dialect, response, 429)
    assert response.headers["Retry-After"] == "0"
    if dialect.id == "sunor":
        assert body["message"] == "Rate limit exceeded. Try again in 0 seconds."
    else:
        assert body["error"]["fallback_suggestion"] == "retry after 0 seconds"


def test_evolink_503_advice_agrees_with_the_rules_retry_after(sim):
    """The seed's 503 says "retry after 30 seconds"; when the rule sets another wait, the
    header and the body's advice must not contradict each other."""
    evolink = BY_ID["evolink"]
    add_rule(sim, on_submit(evolink, {"status": 503, "retry_after": 11}))
    response = evolink.submit(sim, sim.account(RICH))
    error = dialect_error(evolink, response, 503)["error"]
    assert response.headers["Retry-After"] == "11"
    assert error["fallback_suggestion"] == "retry after 11 seconds"


async def _ndjson(sim: Sim, body: dict[str, Any]) -> tuple[bool, list[bytes], float]:
    """An acedata streamed generate: whether the read broke, the lines got, seconds."""
    started = time.monotonic()
    broken, raw = False, b""
    try:
        async with aiohttp.ClientSession() as session, session.post(
                sim.base("acedata") + "/suno/audios", json=body,
                headers={**bearer(DEMO_KEY), "Accept": "application/x-ndjson"}) as response:
            raw = await response.read()
    except aiohttp.ClientError:
        broken = True
    return broken, raw.splitlines(), time.monotonic() - started


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("action", [{"truncate": True}, {"malformed": True},
                                    {"drop": True, "phase": "after"}],
                         ids=["truncate", "malformed", "drop-after"])
def test_damage_to_a_streamed_answer_is_what_the_journal_says(sim, action):
    """Either the stream is damaged as the rule asks, or the journal must not claim it
    was: the client's experience and the journal's record agree."""
    assert sim.admin("PUT", "/clock", json={"mode": "scaled", "speed": 2000}).status_code == 200
    add_rule(sim, {"match": {"provider": "acedata", "path": "/suno/audios"}, "action": action})
    broken, lines, _ = asyncio.run(_ndjson(sim, {"action": "generate", "prompt": "stream"}))
    client_saw_damage = broken or not lines or not all(_parses(line) for line in lines)
    entry = journal(sim, faulted="true", provider="acedata")[-1]
    journal_says_damage = entry["damage"] is not None
    assert client_saw_damage == journal_says_damage, (entry["damage"], entry["status"],
                                                      lines[-1:] if lines else None)


def test_orux_rate_limit_message_quotes_the_keys_own_limit(sim):
    key = sim.account(RICH)
    assert sim.admin("PUT", "/rate-limits/orux",
                     json={"rate": 0.5, "burst": 1, "api_key": key}).status_code == 200
    orux = BY_ID["orux"]
    assert orux.submit(sim, key).status_code == 200
    error = dialect_error(orux, orux.submit(sim, key), 429)["error"]
    assert error["message"] == "You exceeded your current rate limit of 0.5 requests per second."


# --- 2. determinism -----------------------------------------------------------------------

COIN_FLIPS = {"coin-flips": {"description": "seeded refusals", "rules": [
    {"action": {"status": 503}, "probability": 0.3},
    {"action": {"status": 429, "retry_after": 1}, "probability": 0.2},
]}}


def _balance_statuses(sim: Sim, count: int = 40) -> list[int]:
    """The statuses of ``count`` sunor balance reads (200 unless a fault acts)."""
    url, headers = sim.base("sunor") + "/api/v1/account/balance", {"x-api-key": DEMO_KEY}
    return [requests.get(url, headers=headers, timeout=10).status_code for _ in range(count)]


def _run_with_rule(seed: int) -> list[int]:
    sim = start_sim(seed=seed, rate_limits=OFF)
    try:
        add_rule(sim, {"action": {"status": 503}, "probability": 0.3})
        return _balance_statuses(sim)
    finally:
        sim.stop()


def test_same_seed_same_rule_same_faults_and_another_seed_differs():
    """probability draws from the seeded generator: seed 7 twice gives one sequence of
    statuses (with both outcomes in it), seed 11 another."""
    first, again, other = _run_with_rule(7), _run_with_rule(7), _run_with_rule(11)
    assert first == again
    assert set(first) == {200, 503}
    assert other != first and set(other) == {200, 503}


def test_same_seed_same_scenario_same_faults_and_reset_replays_them():
    """A start-up scenario with probabilities repeats under one seed; POST /_sim/reset
    puts its rules back (hits 0, added rules gone) and restarts the draws."""
    runs = []
    for _ in range(2):
        sim = start_sim(seed=3, rate_limits=OFF, scenario="coin-flips",
                        extra_scenarios=COIN_FLIPS)
        try:
            runs.append(_balance_statuses(sim))
            add_rule(sim, {"action": {"status": 500}})
            assert sim.admin("POST", "/reset").status_code == 200
            listing = rules(sim)
            assert listing["scenario"] == "coin-flips"
            assert [(r["scenario"], r["hits"], r["action"]) for r in listing["rules"]] == [
                ("coin-flips", 0, rule["action"]) for rule in COIN_FLIPS["coin-flips"]["rules"]]
            runs.append(_balance_statuses(sim))
        finally:
            sim.stop()
    assert runs[0] == runs[1] == runs[2] == runs[3]
    assert {200, 503, 429} == set(runs[0])
    other = start_sim(seed=4, rate_limits=OFF, scenario="coin-flips",
                      extra_scenarios=COIN_FLIPS)
    try:
        assert _balance_statuses(other) != runs[0]
    finally:
        other.stop()


def test_builtin_scenario_task_draws_repeat_under_a_seed():
    """stuck-tasks (one POST in five makes a stuck task) picks the same tasks under the
    same seed: after the songs are done, the same submits are still running."""
    def pattern() -> list[str]:
        sim = start_sim(seed=5, rate_limits=OFF, scenario="stuck-tasks")
        try:
            sunor = BY_ID["sunor"]
            handles = [sunor.started(sim, DEMO_KEY) for _ in range(15)]
            sim.advance(200)
            return [sunor.status_of(sim, DEMO_KEY, h) for h in handles]
        finally:
            sim.stop()
    first = pattern()
    assert first == pattern()
    assert set(first) == {"running", "success"}, first


# --- 3. scenarios -------------------------------------------------------------------------


def test_outage_scenario_at_start_up_refuses_every_provider_request():
    """--scenario outage: every submit and poll of every dialect is a 503 in the
    dialect's shape with Retry-After 30; the control plane still answers."""
    sim = start_sim(scenario="outage", rate_limits=OFF)
    try:
        for dialect in DIALECTS:
            submit = dialect.submit(sim, DEMO_KEY)
            dialect_error(dialect, submit, 503)
            assert submit.headers["Retry-After"] == "30"
            poll = dialect.poll(sim, DEMO_KEY, "nothing-here")
            assert poll.status_code == 503 and poll.headers["Retry-After"] == "30"
        assert sim.admin("GET", "/health").status_code == 200
        assert sim.admin("GET", "/tasks").json()["count"] == 0
        assert rules(sim)["scenario"] == "outage"
    finally:
        sim.stop()


def test_scenario_limited_to_one_provider(sim):
    """POST /_sim/scenarios/outage {provider: sunor}: sunor is down, the others are not;
    the rules say which scenario and provider they came from."""
    response = sim.admin("POST", "/scenarios/outage", json={"provider": "sunor"})
    assert response.status_code == 201, response.text
    applied = response.json()
    assert applied["scenario"] == "outage"
    assert [(r["scenario"], r["match"]) for r in applied["rules"]] == [
        ("outage", {"provider": "sunor"})]
    for dialect in DIALECTS:
        answer = dialect.submit(sim, DEMO_KEY)
        if dialect.id == "sunor":
            assert dialect_error(dialect, answer, 503) == {
                "code": 503, "message": "Service temporarily unavailable"}
            assert answer.headers["Retry-After"] == "30"
        else:
            assert answer.status_code == dialect.accepted, (dialect, answer.text)


def test_scenario_replaces_rules_unless_told_to_add(sim):
    """By default a scenario replaces the rules in force; replace: false adds to them."""
    mine = add_rule(sim, {"match": {"provider": "orux"}, "action": {"status": 500}})
    assert sim.admin("POST", "/scenarios/stuck-tasks",
                     json={"replace": False}).status_code == 201
    assert [r["scenario"] for r in rules(sim)["rules"]] == [None, "stuck-tasks"]
    assert rules(sim)["rules"][0]["id"] == mine["id"]
    assert sim.admin("POST", "/scenarios/stuck-tasks").status_code == 201
    assert [r["scenario"] for r in rules(sim)["rules"]] == ["stuck-tasks"]


def test_scenario_list_and_unknown_scenarios(sim):
    """GET lists the built-in scenarios; an unknown name is the control plane's 404, and
    an unknown start-up scenario is refused when settings load."""
    listed = sim.admin("GET", "/scenarios").json()["scenarios"]
    assert {"flaky", "overloaded", "degraded-upstream", "stuck-tasks", "broken-network",
            "unreliable-webhooks", "outage"} <= {s["name"] for s in listed}
    assert all(s["description"] and s["rules"] for s in listed)
    missing = sim.admin("POST", "/scenarios/nope")
    assert missing.status_code == 404
    conforms(ADMIN_ERROR, missing.json())
    assert set(missing.json()["error"]) == {"code", "message", "param"}
    assert missing.json()["error"]["param"] == "name"
    assert missing.json()["error"]["code"] == "not_found"
    assert "nope" in missing.json()["error"]["message"]
    bad_provider = sim.admin("POST", "/scenarios/outage", json={"provider": "nobody"})
    assert bad_provider.status_code == 400
    assert rules(sim)["rules"] == []  # neither call changed anything
    with pytest.raises(ValueError, match="nope"):
        load(env={}, scenario="nope")
    with pytest.raises(ValueError, match="unknown scenario"):
        start_sim(scenario="nope")


# --- 4. rate limits -----------------------------------------------------------------------

SUNOR_BALANCE = "/api/v1/account/balance"


def _sunor_reads(sim: Sim, key: str, count: int) -> list[requests.Response]:
    url = sim.base("sunor") + SUNOR_BALANCE
    return [requests.get(url, headers={"x-api-key": key}, timeout=10) for _ in range(count)]


def test_sunor_rate_limit_refuses_the_third_quick_request(sim):
    """rate 1, burst 2: two requests pass, the third is sunor's 429 with Retry-After and
    the wait in its message; every answer carries the X-RateLimit-* headers, Remaining
    counting down, Reset a Unix time within the bucket's refill."""
    update = sim.admin("PUT", "/rate-limits/sunor", json={"rate": 1, "burst": 2})
    assert update.status_code == 200
    conforms(RATE_LIMITS, update.json())
    assert update.json()["limits"]["sunor"] == {"rate": 1, "burst": 2}
    answers = _sunor_reads(sim, DEMO_KEY, 3)
    assert statuses(answers) == [200, 200, 429]
    wait = answers[2].headers["Retry-After"]
    assert wait == "1"
    assert answers[2].json() == {"code": 429,
                                 "message": f"Rate limit exceeded. Try again in {wait} seconds."}
    assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["2", "2", "2"]
    assert [int(a.headers["X-RateLimit-Remaining"]) for a in answers] == [1, 0, 0]
    now = time.time()
    for answer in answers:
        assert now - 1 <= int(answer.headers["X-RateLimit-Reset"]) <= now + 4, answer.headers


def test_orux_rate_limit_has_no_retry_after(sim):
    """orux documents no Retry-After and no rate-limit headers on its 429."""
    assert sim.admin("PUT", "/rate-limits/orux", json={"rate": 1, "burst": 1}).status_code == 200
    orux = BY_ID["orux"]
    answers = [orux.poll(sim, DEMO_KEY, "task_01M8HB1S6VYZWHNKAMBZXTT02K") for _ in range(2)]
    assert statuses(answers) == [404, 429]
    error = dialect_error(orux, answers[1], 429)["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert "Retry-After" not in answers[1].headers
    assert not any(h.lower().startswith("x-ratelimit") for h in answers[1].headers)


def test_per_key_limit_throttles_only_that_key_and_reset_restores_defaults(sim):
    """api_key in the PUT gives one key its own bucket: it is throttled, the demo key is
    not (sunor's limit is off in this simulator). A reset restores the start-up limits."""
    started_with = sim.admin("GET", "/rate-limits").json()
    key = sim.account(RICH)
    update = sim.admin("PUT", "/rate-limits/sunor", json={"rate": 0.5, "burst": 1,
                                                          "api_key": key})
    assert update.status_code == 200
    assert update.json()["keys"] == [{"provider": "sunor", "api_key": key, "rate": 0.5,
                                      "burst": 1}]
    assert update.json()["limits"] == started_with["limits"]
    assert statuses(_sunor_reads(sim, key, 2)) == [200, 429]
    assert statuses(_sunor_reads(sim, DEMO_KEY, 5)) == [200] * 5
    unknown = sim.admin("PUT", "/rate-limits/sunor", json={"rate": 1, "api_key": "sk-nobody"})
    assert unknown.status_code == 404
    assert sim.admin("PUT", "/rate-limits/nobody", json={"rate": 1}).status_code == 404
    assert sim.admin("PUT", "/rate-limits/sunor", json={"rate": 1, "burst": 2}).status_code == 200
    assert sim.admin("POST", "/reset").status_code == 200
    assert sim.admin("GET", "/rate-limits").json() == started_with
    assert statuses(_sunor_reads(sim, DEMO_KEY, 5)) == [200] * 5


# --- 5. control-plane validation ----------------------------------------------------------


@pytest.mark.parametrize("rule", [
    {"action": {"webhook": "fail"}},
    {"match": {"provider": "sunor"}, "action": {"webhook": "delay", "delay_s": 5}},
    {"action": {"task": "explode"}},
    {"action": {"task": "503"}},
    {"action": {"status": 200}},
    {"action": {"status": 600}},
    {"action": {}},
    {"match": {"provider": "nobody"}, "action": {"status": 500}},
    {"match": {"url": "https://x.example/*"}, "action": {"status": 500}},
    {"match": {"target": "webhook"}, "action": {"status": 500}},
    {"action": {"status": 500}, "times": 0},
    {"action": {"status": 500}, "probability": 1.5},
], ids=["webhook-action-without-target", "delay-without-target", "unknown-task-word",
        "task-status-word", "status-200", "status-600", "empty-action", "unknown-provider",
        "url-match-without-target", "webhook-rule-with-status", "times-0", "probability-1.5"])
def test_invalid_rules_are_refused(sim, rule):
    """Each is a 400 invalid_request in the control plane's shape, and adds nothing."""
    response = sim.admin("POST", "/faults", json=rule)
    assert response.status_code == 400, response.text
    conforms(ADMIN_ERROR, response.json())
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["message"]
    assert rules(sim)["rules"] == []


def test_rule_deletion(sim):
    """DELETE of an unknown id is a 404; deleting one rule keeps the others; DELETE
    /_sim/faults clears them all."""
    missing = sim.admin("DELETE", "/faults/fault_999")
    assert missing.status_code == 404
    conforms(ADMIN_ERROR, missing.json())
    assert missing.json()["error"]["code"] == "not_found"
    first = add_rule(sim, {"action": {"latency_ms": 1}})
    second = add_rule(sim, {"match": {"target": "webhook"}, "action": {"webhook": "fail"}})
    kept = sim.admin("DELETE", f"/faults/{first['id']}").json()["rules"]
    assert [r["id"] for r in kept] == [second["id"]]
    assert sim.admin("DELETE", f"/faults/{first['id']}").status_code == 404
    cleared = sim.admin("DELETE", "/faults")
    assert cleared.status_code == 200 and cleared.json()["rules"] == []


def test_stopping_cuts_a_request_still_held_after_a_short_grace():
    """A request a fault holds for a minute does not hold up stopping the simulator (a
    test's teardown, Ctrl-C): it is cut after the grace (waited twice, see
    SHUTDOWN_GRACE), and the stop returns."""
    own = start_sim()
    add_rule(own, {"match": {"provider": "evolink"}, "action": {"latency_ms": 60_000}})
    outcome: list[object] = []

    def held() -> None:
        try:
            outcome.append(requests.get(f"{own.base()}/v1/tasks/task-unified-1-abc",
                                        headers={"Authorization": f"Bearer {DEMO_KEY}"},
                                        timeout=30).status_code)
        except requests.RequestException as exc:
            outcome.append(type(exc))

    client = threading.Thread(target=held)
    client.start()
    time.sleep(0.5)  # the request is in, and held
    started = time.monotonic()
    own.stop()
    took = time.monotonic() - started
    client.join(10)
    assert SHUTDOWN_GRACE <= took < 2 * SHUTDOWN_GRACE + 3
    assert outcome == [requests.ConnectionError]
