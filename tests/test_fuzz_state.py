"""A stateful fuzz of the whole simulator over HTTP: five dialects, three keys (one too
poor to pay for much), follow-up work on earlier songs, fault rules, the manual clock,
callbacks to loopback receivers and resets, interleaved by Hypothesis.

Each test of one dialect checks a path it chose; the bugs left are in the interleavings:
a fault rule that outlives a reset, credits that leak when a follow-up is refused, a task
or clip another key can read or build on. So after every step the machine holds the
simulator to what must always be true, whatever happened before:

- no 5xx that no fault rule asked for;
- every answer (dialects' and control plane's) valid against its spec;
- for every key, ``credits + held + spent == granted``, nothing negative, and the ledger's
  movements add up to the balances;
- no key sees or uses another key's task, clip or persona, and callbacks reach only the
  receiver of the key whose task they describe (:class:`CrossKeyLeak` otherwise).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
import requests
from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule,
                                 run_state_machine_as_test)

from conftest import Receiver, Sim, start_sim
from fuzz_report import LONG, budget, tally
from simulator.config import RateLimit
from simulator.core.engine import Engine
from simulator.core.models import MOVEMENTS, OPENING
from simulator.openapi import load_spec

PROVIDERS = ("evolink", "acedata", "openaihk", "sunor", "orux")
RICH, POOR = 1_000_000.0, 25.0
KEYS = ("sk-fuzz-alice", "sk-fuzz-bob", "sk-fuzz-poor")
# A submit's success, and each dialect's refusal when the key cannot pay.
ACCEPTED = {"evolink": 200, "acedata": 200, "openaihk": 200, "sunor": 202, "orux": 200}
NO_CREDITS = {"evolink": 402, "acedata": 403, "openaihk": 403, "sunor": 402, "orux": 429}
# How each dialect refuses a task id that is not the caller's, and a clip (orux: a
# parent task) or persona named in a follow-up that is not the caller's.
NOT_YOURS = {"evolink": 404, "acedata": 404, "openaihk": 404, "sunor": 404, "orux": 404}
NOT_YOUR_SOURCE = {"acedata": 400, "openaihk": 404, "sunor": 400, "orux": 404}
NOT_YOUR_PERSONA = {"acedata": 400, "openaihk": 404}
# Statuses in the order a task passes them; a terminal one (the highest rank but
# orux's EXPIRED) never changes again.
RANKS = {
    "evolink": {"pending": 0, "processing": 1, "completed": 2, "failed": 2},
    "acedata": {"queued": 0, "started": 1, "finished": 2},
    "openaihk": {"submitted": 0, "queued": 1, "streaming": 2, "complete": 3, "error": 3},
    "sunor": {"pending": 0, "running": 1, "success": 2, "failure": 2, "timeout": 2},
    "orux": {"QUEUED": 0, "RUNNING": 1, "SUCCESS": 2, "FAILED": 2, "EXPIRED": 3},
}
TERMINAL = {"completed", "failed", "finished", "complete", "error", "success", "failure",
            "timeout", "FAILED", "EXPIRED"}
# Past these, polling as time passes would learn nothing new (orux's SUCCESS expires only
# after 24 h, which no run reaches).
DONE = TERMINAL | {"SUCCESS"}
LYRICS = "[Verse]\nBusy days one after another\n[Chorus]\nSing it loud tonight"
ACEDATA_CALLBACK = ["paths", "/suno/audios", "post", "callbacks", "result",
                    "{$request.body#/callback_url}", "post", "requestBody", "content",
                    "application/json", "schema"]
EPSILON = 1e-6


class CrossKeyLeak(AssertionError):
    """One key saw or used what belongs to another."""


class UnaskedServerError(AssertionError):
    """A 5xx that no fault rule in force asked for."""


class EveryRule:
    """Feature flags (Hypothesis's swarm testing) with every rule on."""

    def is_enabled(self, name: str) -> bool:
        return True


EVERY_RULE = EveryRule()


@dataclass
class Answer:
    status: int
    body: Any


@dataclass
class Job:
    """A task as the machine knows it: whose, of which dialect, and whether it makes
    songs that follow-ups can build on."""

    provider: str
    key: str
    id: str
    makes_songs: bool
    clips: list[str] = field(default_factory=list)  # openaihk: the batch's clip ids
    seen: dict[str, str] = field(default_factory=dict)  # last status seen, per clip or task


@dataclass
class Fault:
    id: str
    provider: str
    api_key: str | None
    status: int | None
    task: str | None

    def applies(self, provider: str, key: str | None) -> bool:
        return self.provider == provider and self.api_key in (None, key)


def headers(provider: str, key: str) -> dict[str, str]:
    return {"x-api-key": key} if provider == "sunor" else {"Authorization": f"Bearer {key}"}


def new_song(provider: str, variant: int, hook: str | None) -> tuple[str, str, dict, bool]:
    """A request that starts a task from nothing: (method, path, body, makes songs)."""
    if provider == "evolink":
        body = {"model": ("suno-v4", "suno-v4.5", "suno-v5")[variant % 3],
                "prompt": "a calm piano song about rain"}
        return "POST", "/v1/audios/generations", _hooked(body, "callback_url", hook), False
    if provider == "acedata":
        body = {"action": "generate", "prompt": "A song for Christmas"}
        if variant % 2:
            body = {"action": "generate", "custom": True, "lyric": LYRICS, "style": "pop",
                    "title": "Tonight"}
        hooked = _hooked(body, "callback_url", hook)
        return "POST", "/suno/audios", hooked if hook else {**body, "async": True}, True
    if provider == "openaihk":
        body = ({"gpt_description_prompt": "nostalgia"} if variant % 2 else
                {"prompt": LYRICS, "mv": "chirp-v3-5", "title": "Work", "tags": "edm"})
        return "POST", "/sunoapi/generate", body, True
    if provider == "sunor":
        bodies = ({"model": "suno", "task_type": "music",
                   "input": {"gpt_description_prompt": "a cheerful guitar song"}},
                  {"model": "udio", "task_type": "music", "input": {"prompt": "lofi"}},
                  {"model": "suno", "task_type": "lyrics", "input": {"prompt": "the sea"}})
        body = bodies[variant % 3]
        return "POST", "/api/v1/task", body, body["task_type"] == "music"
    bodies = ({"model": "suno-v5", "prompt": "dreamy synth pop", "lyrics": LYRICS,
               "duration": 60},
              {"model": "elevenlabs-music", "prompt": "a game jingle", "duration": 10})
    body = bodies[variant % 2]
    return ("POST", "/api/v1/tasks", _hooked(body, "webhook_url", hook),
            body["model"] == "suno-v5")


def _hooked(body: dict[str, Any], name: str, hook: str | None) -> dict[str, Any]:
    return {**body, name: hook} if hook else body


def machine(sim: Sim, hooks: dict[str, Receiver]) -> type[RuleBasedStateMachine]:
    """The state machine, bound to a simulator and one callback receiver per key."""

    class Fuzz(SimulatorMachine):
        pass

    Fuzz.sim, Fuzz.hooks, Fuzz.ever_owned = sim, hooks, {}
    return Fuzz


class SimulatorMachine(RuleBasedStateMachine):
    sim: Sim
    hooks: dict[str, Receiver]
    # Every task any key of any run got: a callback may arrive after a reset (or in the
    # next run) and name a task the model has forgotten; ids never repeat without --seed.
    ever_owned: dict[str, Job]

    def __init__(self) -> None:
        super().__init__()
        if not LONG:
            # Swarm testing switches a random share of the rules off for each run; in a
            # small budget that leaves most runs without a whole chain (submit, time,
            # follow-up, another key), so the short budget keeps every rule on (through
            # Hypothesis's own attribute, where this version has it).
            swarm = getattr(self, "_rules_strategy", None)
            if swarm is not None:
                swarm.enabled_rules_strategy = st.just(EVERY_RULE)
        self.specs = {name: load_spec(name) for name in (*PROVIDERS, "admin")}
        self.heard = {key: len(hook.calls) for key, hook in self.hooks.items()}
        self.start_over()

    # -- the model ---------------------------------------------------------------------
    def start_over(self) -> None:
        """What a fresh simulator holds: the machine's keys with their credits, their
        receivers allowed, no tasks and no faults."""
        self.admin("POST", "/reset", expect=200)
        self.admin("PUT", "/clock", json={"mode": "manual"}, expect=200)
        self.jobs: dict[str, Job] = {}
        self.sources: dict[str, tuple[str, str]] = {}  # clip (orux: task) id → provider, key
        self.personas: dict[str, tuple[str, str, str]] = {}  # id → provider, key, root
        self.faults: dict[str, Fault] = {}
        self.expired: set[str] = set()  # clips whose upstream account expired
        # Cheap control-plane rules are capped per run, so they cannot crowd out the
        # provider traffic they are there to disturb; steps are counted by the ledger
        # invariant, which runs after every one.
        self.rules_in_force = self.adjustments = self.steps_since_reset = 0
        for key in KEYS:
            self.admin("POST", "/accounts", expect=201,
                       json={"api_key": key, "credits": POOR if "poor" in key else RICH})
        for hook in self.hooks.values():
            self.admin("POST", "/webhooks/allowed", json={"url": hook.url}, expect=201)

    def owned(self, provider: str, key: str, kinds: dict) -> list[str]:
        return sorted(i for i, (p, k, *_) in kinds.items() if p == provider and k == key)

    def fault_statuses(self, provider: str, key: str | None) -> set[int]:
        return {f.status for f in self.faults.values()
                if f.applies(provider, key) and f.status is not None}

    def may_fail(self, provider: str, key: str | None) -> bool:
        """Whether a 5xx is a fault rule's doing: an injected status, or a task made to
        fail that a synchronous answer reports as the dialect's 500."""
        return any(f.applies(provider, key) and ((f.status or 0) >= 500 or f.task)
                   for f in self.faults.values())

    # -- the wire ----------------------------------------------------------------------
    def send(self, provider: str, method: str, path: str, key: str,
             body: Any = None, params: dict | None = None) -> requests.Response:
        return requests.request(method, f"{self.sim.url}/{provider}{path}", json=body,
                                params=params, headers=headers(provider, key), timeout=60)

    def judge(self, provider: str, method: str, path: str, key: str,
              response: requests.Response, expect: set[int],
              leak: str | None = None) -> Answer:
        """Hold one answer to the invariants: its spec, no unasked 5xx, no leak (when
        ``leak`` says what a 2xx would have given away), and a status in ``expect`` or
        one a fault rule in force asks for."""
        status = response.status_code
        body = response.json() if "json" in response.headers.get("Content-Type", "") else None
        spec = self.specs[provider]
        template = spec.operation_for(method, path)
        assert template is not None, f"{provider}: no operation {method} {path}"
        tally("fuzz state machine: answers", f"{provider} {method} {template} → {status}")
        problems = spec.check_answer(template, method, status, body)
        assert not problems, (f"{provider} {method} {path} answered {status} against its "
                              f"spec: {problems}")
        if status >= 500 and not self.may_fail(provider, key):
            raise UnaskedServerError(f"{provider} {method} {path} answered {status} with "
                                     f"no fault rule in force: {response.text[:500]}")
        if leak is not None and 200 <= status < 300:
            raise CrossKeyLeak(f"cross-key leak: {leak}: {provider} {method} {path} "
                               f"answered {status}: {response.text[:300]}")
        allowed = set(expect) | self.fault_statuses(provider, key)
        if self.may_fail(provider, key):
            allowed.add(500)
        assert status in allowed, (f"{provider} {method} {path} as {key} answered {status}, "
                                   f"expected one of {sorted(allowed)}: {response.text[:500]}")
        return Answer(status, body)

    def call(self, provider: str, method: str, path: str, key: str, body: Any = None,
             expect: set[int] | int = frozenset(), leak: str | None = None,
             params: dict | None = None) -> Answer:
        expect = {expect} if isinstance(expect, int) else set(expect)
        response = self.send(provider, method, path, key, body, params)
        return self.judge(provider, method, path, key, response, expect, leak)

    def admin(self, method: str, path: str, expect: int | set[int] = 200,
              **kwargs: Any) -> Answer:
        response = self.sim.admin(method, path, **kwargs)
        status = response.status_code
        body = response.json() if "json" in response.headers.get("Content-Type", "") else None
        spec = self.specs["admin"]
        template = spec.operation_for(method, "/_sim" + path)
        tally("fuzz state machine: answers", f"admin {method} {template} → {status}")
        problems = spec.check_answer(template, method, status, body)
        assert not problems, f"admin {method} {path} answered {status}: {problems}"
        expect = {expect} if isinstance(expect, int) else expect
        assert status in expect, f"admin {method} {path} answered {status}: {response.text}"
        return Answer(status, body)

    def ledger(self, key: str) -> list[dict[str, Any]]:
        """Every movement of a key, page after page: the sums below need all of them."""
        query: dict[str, Any] = {"api_key": key}
        answer = self.admin("GET", "/ledger", params=query).body
        entries = answer["entries"]
        while answer["next_cursor"]:
            answer = self.admin("GET", "/ledger",
                                params={**query, "cursor": answer["next_cursor"]}).body
            entries += answer["entries"]
        return entries

    def while_time_passes(self, request: Callable[[], requests.Response]) -> requests.Response:
        """A request that waits for its task (acedata's synchronous calls), answered by
        moving the manual clock on in small steps until it returns."""
        box: list[Any] = []
        worker = threading.Thread(target=lambda: box.append(_attempt(request)), daemon=True)
        worker.start()
        for _ in range(100):
            worker.join(0.02)
            if not worker.is_alive():
                break
            self.admin("POST", "/clock/advance", json={"seconds": 2})
        worker.join(30)
        assert box, "a synchronous request never returned while time passed"
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def success(self, provider: str, key: str) -> set[int]:
        """What a request that costs credits may answer: success, or for the poor key
        the dialect's refusal."""
        return {ACCEPTED[provider]} | ({NO_CREDITS[provider]} if "poor" in key else set())

    def remember(self, job: Job) -> None:
        self.jobs[job.id] = self.ever_owned[job.id] = job

    # -- rules: tasks ------------------------------------------------------------------
    # The poor key submits one time in five: enough for the refusals, while the rich keys
    # make the songs that follow-ups and other keys reach for.
    @rule(provider=st.sampled_from(PROVIDERS), who=st.sampled_from(KEYS + KEYS[:2]),
          variant=st.integers(0, 5), hooked=st.booleans())
    def submit(self, provider: str, who: str, variant: int, hooked: bool) -> None:
        hook = self.hooks[who].url if hooked and provider in ("evolink", "acedata", "orux") \
            else None
        method, path, body, makes_songs = new_song(provider, variant, hook)
        tally("fuzz state machine: rules", f"submit {provider}" + (" +callback" if hook else ""))
        answer = self.call(provider, method, path, who, body, self.success(provider, who))
        if answer.status != ACCEPTED[provider]:
            return
        data = answer.body
        if provider == "openaihk":
            job = Job(provider, who, data["id"], True, [c["id"] for c in data["clips"]])
        else:
            task_id = data["id"] if provider == "evolink" else \
                data["data"]["task_id"] if provider == "sunor" else data["task_id"]
            job = Job(provider, who, task_id, makes_songs)
        self.remember(job)

    @precondition(lambda self: self.jobs)
    @rule(provider=st.sampled_from(PROVIDERS), everyone=st.booleans())
    def poll(self, provider: str, everyone: bool) -> None:
        """Each owner polls its tasks (of one dialect, or of all), as a client would."""
        for job in [j for j in self.jobs.values() if everyone or j.provider == provider]:
            self.poll_one(job)

    def poll_one(self, job: Job) -> None:
        tally("fuzz state machine: rules", f"poll {job.provider}")
        answer = self.read(job, job.key, expect=200)
        if answer.status == 200:
            self.learn(job, answer.body)

    def read(self, job: Job, key: str, expect: int | set[int], leak: str | None = None
             ) -> Answer:
        """The dialect's own way to read a task (openaihk: its clips), as ``key``."""
        if job.provider == "evolink":
            return self.call("evolink", "GET", f"/v1/tasks/{job.id}", key, None, expect, leak)
        if job.provider == "acedata":
            return self.call("acedata", "POST", "/suno/tasks", key,
                             {"action": "retrieve", "id": job.id}, expect, leak)
        if job.provider == "openaihk":
            return self.call("openaihk", "GET", f"/sunoapi/feed/{','.join(job.clips)}", key,
                             None, expect, leak)
        if job.provider == "sunor":
            return self.call("sunor", "GET", f"/api/v1/task/{job.id}", key, None, expect, leak)
        return self.call("orux", "GET", f"/api/v1/tasks/{job.id}", key, None, expect, leak)

    def learn(self, job: Job, body: Any) -> None:
        """Check what a poll shows against what was seen before (the right task, statuses
        only moving forward), and note the finished songs follow-ups can build on."""
        if job.provider == "openaihk":
            assert {c["id"] for c in body} <= set(job.clips), (job, body)
            for clip in body:
                self.moved(job, clip["id"], clip["status"])
            # A clip complete while its sibling still streams goes to error with its
            # generation if that then fails (a failed generation is refunded whole), so
            # only a whole generation's clips are built on.
            if all(clip["status"] == "complete" for clip in body):
                for clip in body:
                    self.sources[clip["id"]] = (job.provider, job.key)
            return
        if job.provider == "evolink":
            assert body["id"] == job.id, body
            self.moved(job, job.id, body["status"])
        elif job.provider == "acedata":
            assert body["id"] == job.id, body
            state = "finished" if "finished_at" in body else \
                "started" if "started_at" in body else "queued"
            self.moved(job, job.id, state)
            outcome = body.get("response") or {}
            if state == "finished" and job.makes_songs and outcome.get("success") is True:
                for song in outcome["data"]:
                    if song["state"] == "succeeded":
                        self.sources[song["id"]] = (job.provider, job.key)
        elif job.provider == "sunor":
            task = body["data"]
            assert task["task_id"] == job.id, body
            self.moved(job, job.id, task["status"])
            if task["status"] == "success" and job.makes_songs:
                for clip in task["output"]["result"]:
                    self.sources[clip["id"]] = (job.provider, job.key)
        else:
            assert body["task_id"] == job.id, body
            self.moved(job, job.id, body["status"])
            if body["status"] == "SUCCESS" and job.makes_songs:
                self.sources[job.id] = (job.provider, job.key)

    def moved(self, job: Job, item: str, status: str) -> None:
        ranks = RANKS[job.provider]
        before = job.seen.get(item)
        assert status in ranks, (job.provider, status)
        if before is not None:
            assert ranks[status] >= ranks[before], (job, item, before, status)
            taken_back = (job.provider, before, status) == ("openaihk", "complete", "error")
            assert before not in TERMINAL or status == before or taken_back, \
                (job, item, before, status)
        job.seen[item] = status

    # -- rules: follow-up work on an earlier song --------------------------------------
    @precondition(lambda self: self.sources)
    @rule(data=st.data(), how=st.integers(0, 4))
    def follow_up(self, data: st.DataObject, how: int) -> None:
        source = data.draw(st.sampled_from(sorted(self.sources)), label="source")
        provider, key = self.sources[source]
        getattr(self, f"follow_up_{provider}")(key, source, how)

    def follow_up_acedata(self, key: str, source: str, how: int) -> None:
        personas = self.owned("acedata", key, self.personas)
        if how == 3:
            tally("fuzz state machine: rules", "follow-up acedata persona")
            response = self.while_time_passes(lambda: self.send(
                "acedata", "POST", "/suno/persona", key, {"name": "Smoky", "audio_id": source}))
            answer = self.judge("acedata", "POST", "/suno/persona", key, response,
                                self.success("acedata", key))
            if answer.status == 200:
                self.personas[answer.body["data"]["persona_id"]] = ("acedata", key, source)
            return
        if how == 4 and personas:
            tally("fuzz state machine: rules", "follow-up acedata artist_consistency")
            body, songs = {"action": "artist_consistency", "persona_id": personas[0],
                           "prompt": "more of it", "async": True}, True
        elif how == 2:
            tally("fuzz state machine: rules", "follow-up acedata wav")
            answer = self.call("acedata", "POST", "/suno/wav", key,
                               {"audio_id": source, "async": True}, self.success("acedata", key))
            if answer.status == 200:
                self.remember(Job("acedata", key, answer.body["task_id"], False))
            return
        else:
            action = ("extend", "cover")[how % 2]
            tally("fuzz state machine: rules", f"follow-up acedata {action}")
            body, songs = {"action": action, "audio_id": source, "async": True}, True
            if action == "extend":
                body["continue_at"] = 10
        answer = self.call("acedata", "POST", "/suno/audios", key, body,
                           self.success("acedata", key))
        if answer.status == 200:
            self.remember(Job("acedata", key, answer.body["task_id"], songs))

    def follow_up_openaihk(self, key: str, source: str, how: int) -> None:
        personas = self.owned("openaihk", key, self.personas)
        # A clip whose upstream account expired cannot cross accounts for these two.
        local = {400} if source in self.expired else self.success("openaihk", key)
        if how == 2:
            tally("fuzz state machine: rules", "follow-up openaihk wav")
            self.call("openaihk", "GET", f"/sunoapi/act/wav/{source}", key, expect=local)
            return
        if how == 3:
            tally("fuzz state machine: rules", "follow-up openaihk persona")
            answer = self.call("openaihk", "POST", "/suno/persona/create/", key,
                               {"root_clip_id": source, "name": "Persona", "description": "d",
                                "clips": [source], "is_public": True}, local)
            if answer.status == 200:
                self.personas[answer.body["id"]] = ("openaihk", key, source)
            return
        if how == 4 and personas:
            tally("fuzz state machine: rules", "follow-up openaihk artist_consistency")
            body = {"prompt": LYRICS, "mv": "chirp-v4", "title": "Darling", "tags": "pop",
                    "task": "artist_consistency", "persona_id": personas[0],
                    "artist_clip_id": self.personas[personas[0]][2]}
        elif how % 2:
            tally("fuzz state machine: rules", "follow-up openaihk cover")
            body = {"prompt": LYRICS, "tags": "rock", "mv": "chirp-auk", "title": "Cover",
                    "task": "cover", "cover_clip_id": source}
        else:
            tally("fuzz state machine: rules", "follow-up openaihk extend")
            body = {"prompt": LYRICS, "tags": "metal", "mv": "chirp-v4", "title": "More",
                    "task": "extend", "continue_clip_id": source, "continue_at": 10}
        answer = self.call("openaihk", "POST", "/sunoapi/generate", key, body,
                           self.success("openaihk", key))
        if answer.status == 200:
            self.remember(Job("openaihk", key, answer.body["id"], True,
                              [c["id"] for c in answer.body["clips"]]))

    def follow_up_sunor(self, key: str, source: str, how: int) -> None:
        if how % 2:
            tally("fuzz state machine: rules", "follow-up sunor concat")
            body, songs = {"model": "suno", "task_type": "concat",
                           "input": {"clip_id": source}}, False
        else:
            tally("fuzz state machine: rules", "follow-up sunor continuation")
            body, songs = {"model": "suno", "task_type": "music",
                           "input": {"continue_clip_id": source, "continue_at": 10,
                                     "prompt": "[Chorus]\nKeep the music playing on"}}, True
        answer = self.call("sunor", "POST", "/api/v1/task", key, body, self.success("sunor", key))
        if answer.status == 202:
            self.remember(Job("sunor", key, answer.body["data"]["task_id"], songs))

    def follow_up_orux(self, key: str, source: str, how: int) -> None:
        action = ("extend", "cover", "wav")[how % 3]
        tally("fuzz state machine: rules", f"follow-up orux {action}")
        body = {"model": "suno-v5", "action": action, "prompt": "acoustic folk",
                "parent_task_id": source, **({"duration": 30} if action == "extend" else {})}
        answer = self.call("orux", "POST", "/api/v1/tasks", key, body, self.success("orux", key))
        if answer.status == 200:
            self.remember(Job("orux", key, answer.body["task_id"], action != "wav"))

    # -- rules: one key reaching for another's ----------------------------------------
    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def read_another_keys_task(self, data: st.DataObject) -> None:
        job = self.jobs[data.draw(st.sampled_from(sorted(self.jobs)), label="task")]
        prober = data.draw(st.sampled_from([k for k in KEYS if k != job.key]), label="prober")
        tally("fuzz state machine: rules", f"cross-key read {job.provider}")
        what = f"{prober} read {job.key}'s {job.provider} task {job.id}"
        self.read(job, prober, NOT_YOURS[job.provider], leak=what)
        if job.provider == "acedata":
            mine = self.owned_jobs("acedata", prober)[:1]
            answer = self.call("acedata", "POST", "/suno/tasks", prober,
                               {"action": "retrieve_batch", "ids": [job.id, *mine]}, 200)
            if answer.status == 200 and job.id in {t["id"] for t in answer.body["items"]}:
                raise CrossKeyLeak(f"cross-key leak: {what} through retrieve_batch")
        if job.provider == "openaihk":
            mine = self.owned_sources("openaihk", prober)[:1]
            if mine:
                answer = self.call("openaihk", "GET",
                                   f"/sunoapi/feed/{','.join([*job.clips, *mine])}", prober,
                                   expect=200)
                if answer.status == 200 and {c["id"] for c in answer.body} & set(job.clips):
                    raise CrossKeyLeak(f"cross-key leak: {what} in a feed of its own clips")

    def owned_jobs(self, provider: str, key: str) -> list[str]:
        return sorted(i for i, job in self.jobs.items()
                      if job.provider == provider and job.key == key)

    def owned_sources(self, provider: str, key: str) -> list[str]:
        return self.owned(provider, key, self.sources)

    @precondition(lambda self: self.sources)
    @rule(data=st.data(), how=st.integers(0, 3))
    def build_on_another_keys_song(self, data: st.DataObject, how: int) -> None:
        source = data.draw(st.sampled_from(sorted(self.sources)), label="source")
        provider, owner = self.sources[source]
        prober = data.draw(st.sampled_from([k for k in KEYS if k != owner]), label="prober")
        what = f"{prober} built on {owner}'s {provider} song {source}"
        refused = NOT_YOUR_SOURCE[provider]
        if provider == "acedata":
            path, body = (("/suno/audios", {"action": "extend", "audio_id": source,
                                            "continue_at": 10, "async": True}),
                          ("/suno/audios", {"action": "cover", "audio_id": source,
                                            "async": True}),
                          ("/suno/wav", {"audio_id": source, "async": True}),
                          ("/suno/persona", {"name": "Thief", "audio_id": source}))[how]
            name = path.rsplit("/", 1)[1] + (f" {body['action']}" if "action" in body else "")
            self.call(provider, "POST", path, prober, body, refused, leak=what)
        elif provider == "openaihk":
            name = ("extend", "cover", "wav", "persona")[how]
            if name == "wav":
                self.call(provider, "GET", f"/sunoapi/act/wav/{source}", prober,
                          expect=refused, leak=what)
            elif name == "persona":
                self.call(provider, "POST", "/suno/persona/create/", prober,
                          {"root_clip_id": source, "name": "Thief", "description": "d",
                           "clips": [source], "is_public": True}, refused, leak=what)
            else:
                body = {"prompt": LYRICS, "mv": "chirp-auk", "title": "Mine", "task": name,
                        **({"cover_clip_id": source} if name == "cover" else
                           {"continue_clip_id": source, "continue_at": 10})}
                self.call(provider, "POST", "/sunoapi/generate", prober, body, refused,
                          leak=what)
        elif provider == "sunor":
            name = ("continuation", "concat")[how % 2]
            given = {"clip_id": source} if name == "concat" else \
                {"continue_clip_id": source, "continue_at": 10}
            self.call(provider, "POST", "/api/v1/task", prober,
                      {"model": "suno", "task_type": "music" if name != "concat" else "concat",
                       "input": given}, refused, leak=what)
        else:
            name = ("extend", "cover", "wav", "stem")[how]
            self.call(provider, "POST", "/api/v1/tasks", prober,
                      {"model": "suno-v5", "action": name, "prompt": "mine now",
                       "parent_task_id": source}, refused, leak=what)
        tally("fuzz state machine: rules", f"cross-key follow-up {provider} {name}")

    @precondition(lambda self: self.personas)
    @rule(data=st.data(), delete=st.booleans())
    def use_another_keys_persona(self, data: st.DataObject, delete: bool) -> None:
        persona = data.draw(st.sampled_from(sorted(self.personas)), label="persona")
        provider, owner, root = self.personas[persona]
        prober = data.draw(st.sampled_from([k for k in KEYS if k != owner]), label="prober")
        what = f"{prober} used {owner}'s {provider} persona {persona}"
        if provider == "acedata" and delete:
            tally("fuzz state machine: rules", "cross-key persona acedata delete+list")
            self.call(provider, "DELETE", "/suno/persona", prober, expect=404, leak=what,
                      params={"persona_id": persona})
            listed = self.call(provider, "GET", "/suno/persona", prober, expect=200,
                               params={"user_id": "fuzz"})
            if listed.status == 200 and persona in {p["persona_id"]
                                                    for p in listed.body["items"]}:
                raise CrossKeyLeak(f"cross-key leak: {what}: it lists among its own")
        elif provider == "acedata":
            tally("fuzz state machine: rules", "cross-key persona acedata artist_consistency")
            self.call(provider, "POST", "/suno/audios", prober,
                      {"action": "artist_consistency", "persona_id": persona,
                       "prompt": "mine now", "async": True}, NOT_YOUR_PERSONA[provider],
                      leak=what)
        else:
            tally("fuzz state machine: rules", "cross-key persona openaihk artist_consistency")
            self.call(provider, "POST", "/sunoapi/generate", prober,
                      {"prompt": LYRICS, "mv": "chirp-v4", "title": "Mine", "tags": "pop",
                       "task": "artist_consistency", "persona_id": persona,
                       "artist_clip_id": root}, NOT_YOUR_PERSONA[provider], leak=what)

    # -- rules: the control plane ------------------------------------------------------
    @precondition(lambda self: self.rules_in_force < 3)
    @rule(provider=st.sampled_from(PROVIDERS),
          kind=st.sampled_from(["429", "503", "fail", "webhook"]),
          who=st.sampled_from((None, *KEYS)), times=st.sampled_from((None, 1, 3)))
    def add_fault(self, provider: str, kind: str, who: str | None, times: int | None) -> None:
        tally("fuzz state machine: rules", f"fault {kind}")
        if kind == "webhook":
            spec = {"match": {"target": "webhook", "provider": provider},
                    "action": {"webhook": "fail"}}
        else:
            spec = {"match": {"provider": provider, **({"api_key": who} if who else {})},
                    "action": {"task": "fail"} if kind == "fail" else {"status": int(kind)}}
        if times:
            spec["times"] = times
        rule_id = self.admin("POST", "/faults", json=spec, expect=201).body["id"]
        self.rules_in_force += 1
        if kind != "webhook":
            self.faults[rule_id] = Fault(rule_id, provider, who,
                                         None if kind == "fail" else int(kind),
                                         "fail" if kind == "fail" else None)

    @precondition(lambda self: self.rules_in_force)
    @rule(data=st.data(), everything=st.booleans())
    def remove_faults(self, data: st.DataObject, everything: bool) -> None:
        listed = self.admin("GET", "/faults").body["rules"]
        assert {r["id"] for r in listed} >= set(self.faults), (listed, self.faults)
        if everything or not listed:
            tally("fuzz state machine: rules", "faults cleared")
            assert self.admin("DELETE", "/faults").body["rules"] == []
            self.faults.clear()
            self.rules_in_force = 0
            return
        tally("fuzz state machine: rules", "fault removed")
        rule_id = data.draw(st.sampled_from(sorted(r["id"] for r in listed)), label="fault")
        left = self.admin("DELETE", f"/faults/{rule_id}").body["rules"]
        assert rule_id not in {r["id"] for r in left}
        self.faults.pop(rule_id, None)
        self.rules_in_force -= 1

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), outcome=st.sampled_from(("succeed", "fail")))
    def settle_by_hand(self, data: st.DataObject, outcome: str) -> None:
        """The control plane ends a task now (one already ended is a conflict)."""
        job = self.jobs[data.draw(st.sampled_from(sorted(self.jobs)), label="task")]
        tally("fuzz state machine: rules", f"task made to {outcome}")
        self.admin("POST", f"/tasks/{job.id}/outcome", json={"outcome": outcome},
                   expect={200, 409})

    @precondition(lambda self: any(p in ("acedata", "openaihk")
                                   for p, _ in self.sources.values()))
    @rule(data=st.data())
    def expire_upstream(self, data: st.DataObject) -> None:
        """A song's pooled upstream account goes away: openaihk refuses what cannot cross
        accounts; acedata never asks."""
        source = data.draw(st.sampled_from(sorted(
            clip for clip, (p, _) in self.sources.items() if p in ("acedata", "openaihk"))),
            label="clip")
        tally("fuzz state machine: rules", f"upstream expired {self.sources[source][0]}")
        self.admin("POST", f"/clips/{source}/expire-upstream")
        self.expired.add(source)

    @rule(seconds=st.sampled_from((1, 10, 60, 150, 300)))
    def advance(self, seconds: int) -> None:
        """Time passes; each callback attempt went to its task's owner; then each owner
        polls its unfinished tasks, as a client would."""
        tally("fuzz state machine: rules", "clock advanced")
        self.admin("POST", "/clock/advance", json={"seconds": seconds})
        for attempt in self.admin("GET", "/webhooks").body["attempts"]:
            job = self.ever_owned.get(attempt["task_id"])
            assert job is not None, f"a callback about a task no key made: {attempt}"
            if attempt["url"] != self.hooks[job.key].url:
                raise CrossKeyLeak(f"cross-key leak: a callback about {job.key}'s "
                                   f"{job.provider} task {job.id} went to {attempt['url']}")
        for job in list(self.jobs.values()):
            if not job.seen or not set(job.seen.values()) <= DONE:
                self.poll_one(job)

    @precondition(lambda self: self.adjustments < 2)
    @rule(who=st.sampled_from(KEYS), delta=st.sampled_from((-5.0, 5.0, 50.0)))
    def adjust_credits(self, who: str, delta: float) -> None:
        tally("fuzz state machine: rules", "credits adjusted")
        self.adjustments += 1
        self.admin("POST", f"/accounts/{who}/credits", json={"delta": delta}, expect={200, 409})

    @precondition(lambda self: self.steps_since_reset >= 25)
    @rule()
    def reset(self) -> None:
        """Nothing outlives a reset: no fault rule, no movement but the new grant, and no
        task, even for the key (made again) that owned it."""
        tally("fuzz state machine: rules", "reset")
        before = list(self.jobs.values())[-1:]
        self.start_over()
        assert self.admin("GET", "/faults").body["rules"] == []
        for key in KEYS:
            entries = self.ledger(key)
            assert [e["kind"] for e in entries] == ["grant"], entries
        for job in before:
            self.read(job, job.key, NOT_YOURS[job.provider])

    # -- invariants --------------------------------------------------------------------
    @invariant()
    def ledgers_balance(self) -> None:
        """For every key: available + held + spent == granted, none negative, and the
        ledger's movements add up to the balances: from the opening entry (the movements
        of tasks let go, folded; first, if there is one), each movement applied in turn."""
        self.steps_since_reset += 1
        tally("fuzz state machine: invariants", "ledger balances")
        accounts = {a["api_key"]: a for a in self.admin("GET", "/accounts").body["accounts"]}
        for key in KEYS:
            account = accounts[key]
            credits, held, spent = account["credits"], account["held"], account["spent"]
            assert min(credits, held, spent) >= -EPSILON, account
            assert abs(credits + held + spent - account["granted"]) < EPSILON, account
            entries = self.ledger(key)
            assert all(e["kind"] != OPENING for e in entries[1:]), entries
            totals = {"available": 0.0, "held": 0.0, "spent": 0.0, "granted": 0.0}
            if entries and entries[0]["kind"] == OPENING:
                opening, entries = entries[0], entries[1:]
                assert opening["id"] == 0 and opening["task_id"] is None, opening
                totals = {"available": opening["available"], "held": opening["held"],
                          "spent": opening["spent"], "granted": opening["amount"]}
                assert min(totals.values()) >= -EPSILON, opening
            elif entries:
                last = entries[-1]  # nothing folded away: its balances are the account's
                assert (abs(last["available"] - credits) < EPSILON and
                        abs(last["held"] - held) < EPSILON and
                        abs(last["spent"] - spent) < EPSILON), (account, last)
            for entry in entries:
                for name, per_credit in zip(totals, MOVEMENTS[entry["kind"]]):
                    totals[name] += per_credit * entry["amount"]
            assert (abs(totals["available"] - credits) < EPSILON and
                    abs(totals["held"] - held) < EPSILON and
                    abs(totals["spent"] - spent) < EPSILON and
                    abs(totals["granted"] - account["granted"]) < EPSILON), (account, totals)
            per_task: dict[str, float] = {}
            for entry in entries:
                if entry["task_id"] is not None:
                    sign = 1 if entry["kind"] == "hold" else -1
                    per_task[entry["task_id"]] = per_task.get(entry["task_id"], 0) \
                        + sign * entry["amount"]
            assert all(left >= -EPSILON for left in per_task.values()), (key, per_task)

    @invariant()
    def callbacks_reach_their_owner(self) -> None:
        """Every callback a key's receiver got describes a task of that key, in the
        shape the dialect's spec gives its callbacks."""
        for key, hook in self.hooks.items():
            fresh, self.heard[key] = hook.calls[self.heard[key]:], len(hook.calls)
            for payload in fresh:
                task_id = payload.get("task_id") or payload.get("id")
                job = self.ever_owned.get(task_id)
                assert job is not None, f"a callback about a task no key made: {payload}"
                tally("fuzz state machine: invariants", f"callback {job.provider}")
                if job.key != key:
                    raise CrossKeyLeak(f"cross-key leak: {key}'s receiver got a callback "
                                       f"about {job.key}'s {job.provider} task {job.id}")
                spec = self.specs[job.provider]
                problems = (spec.check_component("TaskCallback", payload)
                            if job.provider == "evolink" else
                            spec.check_component("Task", payload) if job.provider == "orux"
                            else [f"{list(e.absolute_path)}: {e.message}" for e in
                                  spec.validator(ACEDATA_CALLBACK).iter_errors(payload)])
                assert not problems, (job.provider, problems, payload)


def _attempt(request: Callable[[], requests.Response]) -> Any:
    try:
        return request()
    except BaseException as exc:  # handed to the machine's thread
        return exc


@pytest.fixture(scope="module")
def fuzzed():
    """A simulator of its own on a manual clock, rate limits off (the machine's request
    rate is not what is under test), and one callback receiver per key."""
    off = RateLimit(0.0, 1.0)
    sim = start_sim(rate_limits={provider: off for provider in PROVIDERS})
    hooks = {key: Receiver() for key in KEYS}
    yield sim, hooks
    for hook in hooks.values():
        hook.close()
    sim.stop()


FUZZ = budget(examples=40, steps=30, long_examples=60, long_steps=80)


def test_the_simulator_keeps_its_invariants_whatever_happens(fuzzed):
    run_state_machine_as_test(machine(*fuzzed), settings=FUZZ)


async def _own_task_of_any_key(self: Engine, api_key: str, task_id: str,
                               provider: str):
    """Engine.own_task with the key check left out: the leak the machine must find."""
    task = await self.store.get_task(task_id)
    if task is None or task.provider != provider:
        return None
    return await self.progress.current(task)


def test_a_planted_cross_key_leak_is_found(fuzzed, monkeypatch):
    """The machine is only worth its green if it goes red: with tasks readable by any
    key, it must report the leak (and not some other failure)."""
    monkeypatch.setattr(Engine, "own_task", _own_task_of_any_key)
    planted = settings(max_examples=30, stateful_step_count=30, derandomize=True,
                       database=None, deadline=None, phases=[Phase.generate],
                       report_multiple_bugs=False, suppress_health_check=list(HealthCheck))
    with pytest.raises(CrossKeyLeak, match="cross-key leak"):
        run_state_machine_as_test(machine(*fuzzed), settings=planted)
