"""Fault rules: what goes wrong, for which requests or deliveries, and how often.

A rule matches requests (or, with ``target: webhook``, the simulator's own callback
deliveries) and acts on them. Probabilities and latency distributions draw from a
generator seeded with ``--seed``, one stream for requests and one for deliveries, so the
same seed, rules and request sequence give the same faults every run. Magic values and
``task`` actions share one vocabulary: ``{"task": "fail"}`` does to a task what
``[sim:fail]`` in its prompt does.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import random
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Iterator

from .journal import path_matches
from .magic import NO_STEERING, Steering, read_steering

REQUEST, WEBHOOK = "request", "webhook"
BEFORE, AFTER = "before", "after"
# What an injected 429 tells the client to wait when the rule does not say.
DEFAULT_RETRY_AFTER = 2
# How a webhook action disturbs one delivery attempt.
WEBHOOK_ACTIONS = ("fail", "duplicate", "delay")
DEFAULT_WEBHOOK_DELAY = 30.0

# The steering a ``task`` action adds to the task a matching request creates; the edge
# sets it for the length of one request and the engine reads it when it submits.
_task_steering: contextvars.ContextVar[Steering] = contextvars.ContextVar(
    "task_steering", default=NO_STEERING)


class FaultError(ValueError):
    """A rule that cannot be applied; the message says why, ``param`` which member."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


@dataclass
class Rule:
    id: str
    match: dict[str, Any]
    action: dict[str, Any]
    times: int | None = None
    probability: float | None = None
    scenario: str | None = None
    hits: int = 0  # how often it has acted

    @property
    def target(self) -> str:
        return self.match.get("target", REQUEST)

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "match": self.match, "action": self.action, "times": self.times,
                "probability": self.probability, "scenario": self.scenario, "hits": self.hits,
                "remaining": None if self.times is None else max(0, self.times - self.hits)}


@dataclass
class Decision:
    """Everything the matching rules ask of one request, merged in rule order: latencies
    add up, and the first rule to name an outcome (status, drop, body damage) sets it."""

    rules: list[str] = field(default_factory=list)
    latency: float = 0.0  # wall seconds before the request is handled
    status: int | None = None
    retry_after: int | None = None
    message: str | None = None
    phase: str = BEFORE
    drop: str | None = None  # BEFORE: nothing is processed; AFTER: processed, answer lost
    truncate: bool = False
    malformed: bool = False
    trickle: float = 0.0  # wall seconds over which the body is sent
    steering: Steering = NO_STEERING

    @property
    def kinds(self) -> list[str]:
        """What the decision does, for the journal and the metrics."""
        found = []
        if self.latency:
            found.append("latency")
        if self.status is not None:
            found.append(f"status_{self.status}")
        for name in ("drop", "truncate", "malformed"):
            if getattr(self, name):
                found.append(name)
        if self.trickle:
            found.append("trickle")
        if self.steering != NO_STEERING:
            found.append("task")
        return found


@dataclass
class WebhookDecision:
    rules: list[str] = field(default_factory=list)
    latency: float = 0.0  # wall seconds before the attempt is sent
    fail: bool = False
    duplicate: bool = False
    delay: float = 0.0  # simulated seconds the attempt is held back

    @property
    def kinds(self) -> list[str]:
        return [name for name in ("latency", "fail", "duplicate", "delay") if getattr(self, name)]


class Faults:
    def __init__(self, seed: int | None = None, scenarios: dict[str, dict] | None = None):
        self.seed = seed
        self.scenarios = scenarios if scenarios is not None else {}
        self._rules: dict[str, Rule] = {}
        self._ids = itertools.count(1)
        self.applied: Counter[tuple[str, str]] = Counter()  # (target, kind) → times
        # On a shared store: one more use of a rule limited in ``times``, counted by every
        # process at once; the uses so far, this one included.
        self.count: Callable[[Rule], Awaitable[int]] | None = None
        self._reseed()

    def _reseed(self) -> None:
        # Two streams, so how callbacks happen to be timed never shifts request faults.
        base = random.Random(self.seed).getrandbits(64)
        self._request_rng = random.Random(base)
        self._webhook_rng = random.Random(base ^ 0x5EED)

    # -- the rules ---------------------------------------------------------------------
    def add(self, spec: dict[str, Any], scenario: str | None = None) -> Rule:
        """A new rule from its JSON form (already checked against specs/admin.yaml)."""
        match, action = dict(spec.get("match") or {}), dict(spec["action"])
        _check(match, action)
        rule = Rule(f"fault_{next(self._ids)}", match, action, spec.get("times"),
                    spec.get("probability"), scenario)
        self._rules[rule.id] = rule
        return rule

    def rules(self) -> list[Rule]:
        return list(self._rules.values())

    def dump(self) -> dict[str, Any]:
        """The rules as a document a store keeps (see core/durable.py)."""
        return {"rules": [[r.id, r.match, r.action, r.times, r.probability, r.scenario, r.hits]
                          for r in self._rules.values()],
                "next": max((int(r.id.rsplit("_", 1)[1]) for r in self._rules.values()),
                            default=0) + 1}

    def load(self, document: dict[str, Any]) -> None:
        """The rules of a document made by dump(), in place of these."""
        self._rules = {fields[0]: Rule(*fields) for fields in document["rules"]}
        self._ids = itertools.count(max(document["next"], next(self._ids)))

    def remove(self, rule_id: str) -> bool:
        return self._rules.pop(rule_id, None) is not None

    def clear(self) -> None:
        self._rules.clear()

    def reset(self) -> None:
        """Forget every rule and what was applied, and start the draws again."""
        self._rules.clear()
        self._ids = itertools.count(1)
        self.applied.clear()
        self._reseed()

    def use_scenario(self, name: str, provider: str | None = None) -> list[Rule]:
        """Add a named scenario's rules, each limited to ``provider`` when one is named."""
        if name not in self.scenarios:
            raise FaultError(f"no scenario {name!r}; choose from {', '.join(sorted(self.scenarios))}")
        added = []
        for spec in self.scenarios[name]["rules"]:
            match = dict(spec.get("match") or {})
            if provider:
                match["provider"] = provider
            added.append(self.add({**spec, "match": match}, scenario=name))
        return added

    # -- deciding ----------------------------------------------------------------------
    def for_request(self, provider: str, method: str, path: str, api_key: str | None,
                    body: bytes) -> Decision | None:
        if not self._rules:  # every request asks: the usual answer must cost nothing
            return None
        return self._request_decision(self._firing(
            REQUEST, self._request_rng, provider=provider, method=method, path=path,
            api_key=api_key, body=body))

    async def for_request_counted(self, provider: str, method: str, path: str,
                                  api_key: str | None, body: bytes) -> Decision | None:
        """for_request, where a rule limited in ``times`` acts only if ``count`` (shared
        by every process on the store) gives it one of them."""
        if not self._rules:
            return None
        return self._request_decision(await self._counted(self._matching(
            REQUEST, self._request_rng, provider=provider, method=method, path=path,
            api_key=api_key, body=body)))

    def _request_decision(self, rules: Iterable[Rule]) -> Decision | None:
        decision = None
        for rule in rules:
            decision = decision or Decision()
            _merge_request(decision, rule, self._request_rng)
        if decision is not None:
            for kind in decision.kinds:
                self.applied[(REQUEST, kind)] += 1
        return decision

    async def for_webhook(self, provider: str | None, url: str, api_key: str | None,
                          event: str | None, body: bytes) -> WebhookDecision | None:
        """A delivery attempt's faults; a rule limited in ``times`` counted as
        for_request_counted counts it (in this process without a shared store)."""
        if not self._rules:
            return None
        return self._webhook_decision(await self._counted(self._matching(
            WEBHOOK, self._webhook_rng, provider=provider, url=url, api_key=api_key,
            event=event, body=body)))

    async def _counted(self, rules: Iterable[Rule]) -> list[Rule]:
        acting = []
        for rule in list(rules):
            if rule.times is None:
                rule.hits += 1
            elif self.count is not None:
                rule.hits = await self.count(rule)
                if rule.hits > rule.times:
                    rule.hits = rule.times
                    continue
            elif rule.spent:
                continue
            else:
                rule.hits += 1
            acting.append(rule)
        return acting

    def _webhook_decision(self, rules: Iterable[Rule]) -> WebhookDecision | None:
        decision = None
        for rule in rules:
            decision = decision or WebhookDecision()
            decision.rules.append(rule.id)
            action = rule.action
            decision.latency += _latency(action.get("latency_ms"), self._webhook_rng)
            kind = action.get("webhook")
            if kind == "fail":
                decision.fail = True
            elif kind == "duplicate":
                decision.duplicate = True
            elif kind == "delay":
                decision.delay = max(decision.delay, float(action.get("delay_s", DEFAULT_WEBHOOK_DELAY)))
        if decision is not None:
            for kind in decision.kinds:
                self.applied[(WEBHOOK, kind)] += 1
        return decision

    def _firing(self, target: str, rng: random.Random, *, body: bytes,
                **facts: Any) -> Iterator[Rule]:
        for rule in self._matching(target, rng, body=body, **facts):
            rule.hits += 1
            yield rule

    def _matching(self, target: str, rng: random.Random, *, body: bytes,
                  **facts: Any) -> Iterator[Rule]:
        text: str | None = None
        for rule in list(self._rules.values()):
            if rule.target != target or rule.spent:
                continue
            match = rule.match
            if not all(_matches(name, match[name], facts.get(name))
                       for name in ("provider", "method", "path", "api_key", "url", "event")
                       if name in match):
                continue
            if "body_contains" in match:
                if text is None:
                    text = body.decode("utf-8", "replace")
                if match["body_contains"] not in text:
                    continue
            if rule.probability is not None and rng.random() >= rule.probability:
                continue
            yield rule


@contextlib.contextmanager
def task_steering(steering: Steering) -> Iterator[None]:
    """For the length of one request: what a ``task`` action adds to the tasks it makes."""
    token = _task_steering.set(steering)
    try:
        yield
    finally:
        _task_steering.reset(token)


def requested_steering() -> Steering:
    return _task_steering.get()


def load_scenarios(path) -> dict[str, dict]:
    """Named bundles of rules from a TOML file."""
    with open(path, "rb") as handle:
        return check_scenarios(tomllib.load(handle), str(path))


def check_scenarios(scenarios: dict[str, Any], origin: str) -> dict[str, dict]:
    """Each scenario's rules checked as a rule posted to the control plane would be."""
    for name, scenario in scenarios.items():
        if not isinstance(scenario, dict) or not isinstance(scenario.get("rules"), list):
            raise ValueError(f"{origin}: scenario {name!r} needs a list of rules")
        for spec in scenario["rules"]:
            try:
                _check(dict(spec.get("match") or {}), dict(spec["action"]))
            except (FaultError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{origin}: scenario {name!r}: {exc}") from None
    return scenarios


# -- helpers -------------------------------------------------------------------------------
def _matches(name: str, expected: Any, actual: Any) -> bool:
    if actual is None:
        return False
    if name == "method":
        return str(actual).upper() == str(expected).upper()
    if name in ("path", "url"):
        return path_matches(str(expected), str(actual))
    return actual == expected


def _merge_request(decision: Decision, rule: Rule, rng: random.Random) -> None:
    action = rule.action
    decision.rules.append(rule.id)
    decision.latency += _latency(action.get("latency_ms"), rng)
    outcome_set = decision.status is not None or decision.drop is not None
    if "status" in action and not outcome_set:
        decision.status = int(action["status"])
        decision.retry_after = action.get("retry_after")
        decision.message = action.get("message")
        decision.phase = action.get("phase", BEFORE)
    if action.get("drop") and not outcome_set:
        decision.drop = action.get("phase", BEFORE)
    if action.get("truncate"):
        decision.truncate = True
    if action.get("malformed"):
        decision.malformed = True
    if action.get("trickle_ms"):
        decision.trickle = max(decision.trickle, float(action["trickle_ms"]) / 1000)
    if action.get("task"):
        decision.steering = decision.steering.merged(read_steering(f"[sim:{action['task']}]"))


def _latency(spec: Any, rng: random.Random) -> float:
    """Wall seconds from a latency: a number of milliseconds or a distribution of them."""
    if spec is None:
        return 0.0
    if isinstance(spec, (int, float)):
        return float(spec) / 1000
    if "min" in spec or "max" in spec:
        low = float(spec.get("min", 0))
        return rng.uniform(low, float(spec.get("max", low))) / 1000
    mean = float(spec["mean"])
    if "stddev" in spec:
        return max(0.0, rng.gauss(mean, float(spec["stddev"]))) / 1000
    return rng.expovariate(1 / mean) / 1000 if mean > 0 else 0.0


def _check(match: dict[str, Any], action: dict[str, Any]) -> None:
    """Which actions fit which target, and that a task action names a magic word: the
    control plane's schema says so too, this says it for scenario files, in words."""
    target = match.get("target", REQUEST)
    request_only = {"status", "drop", "truncate", "malformed", "trickle_ms", "task", "phase"}
    if target == WEBHOOK:
        wrong = sorted(request_only & set(action))
        if wrong:
            raise FaultError(f"a webhook rule cannot use {', '.join(wrong)}; "
                             f"use webhook ({', '.join(WEBHOOK_ACTIONS)}) or latency_ms", "action")
        if {"method", "path"} & set(match):
            raise FaultError("a webhook rule matches on url, event, provider, api_key or "
                             "body_contains, not method or path", "match")
    else:
        if "webhook" in action or "delay_s" in action:
            raise FaultError('webhook actions need "match": {"target": "webhook"}', "match.target")
        if {"url", "event"} & set(match):
            raise FaultError("url and event match webhook deliveries; add "
                             '"target": "webhook" to the match', "match.target")
        if action.get("task"):
            steering = read_steering(f"[sim:{action['task']}]")
            if steering == NO_STEERING or steering.http_status is not None:
                raise FaultError(f"task must be a magic word such as fail, fail:REASON, "
                                 f"stuck, slow or expire, not {action['task']!r}", "action.task")

