"""Prometheus metrics for /_sim/metrics.

Requests are counted as they pass the edge, into plain dictionaries: that path is hot,
and a labelled prometheus-client metric costs more per request than the rest of the
edge together. Everything is turned into metric families when the metrics are scraped,
including what the core already knows (tasks by state, credits, webhook attempts, faults
applied, summed over every sandbox), so nothing is counted twice and nothing can drift. Each application has its
own registry, so several simulators can live in one process.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from typing import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily, Metric)
from prometheus_client.registry import Collector

from .core.engine import Engine
from .core.models import STATES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)


class Route:
    """One route's request counts and latency histogram, made when the route is bound so
    that counting a request is a few additions."""

    __slots__ = ("provider", "label", "requests", "buckets", "seconds")

    def __init__(self, provider: str, label: str):
        self.provider, self.label = provider, label
        self.requests: dict[tuple[str, int | None], int] = {}  # (method, status) → count
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.seconds = 0.0

    def observe(self, method: str, status: int | None, seconds: float) -> None:
        """One answered request (``status`` None: the connection was dropped)."""
        key = (method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.seconds += seconds


class Metrics:
    def __init__(self, engines: Iterable[Engine]):
        self.registry = CollectorRegistry(auto_describe=True)
        self._routes: dict[tuple[str, str], Route] = {}
        self.registry.register(_RequestCollector(self))
        self._state = _EngineCollector(engines)
        self.registry.register(self._state)

    def route(self, provider: str, label: str) -> Route:
        """The series of one route (``/v1/tasks/{task_id}``: one per route, not per id;
        ``unmatched`` for requests no route matched). A route bound twice (under its
        provider's prefix and at the root) counts into one series."""
        key = (provider, label)
        if key not in self._routes:
            self._routes[key] = Route(provider, label)
        return self._routes[key]

    async def exposition(self) -> bytes:
        await self._state.read()  # the store is read ahead: collectors cannot await
        return generate_latest(self.registry)


class _RequestCollector(Collector):
    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        routes = sorted(self.metrics._routes.values(), key=lambda r: (r.provider, r.label))
        requests = CounterMetricFamily(
            "musicsim_requests", "Requests answered, by provider (media: downloads), route, "
            "method and status (dropped: the connection was closed by a fault)",
            labels=("provider", "route", "method", "status"))
        for route in routes:
            for (method, status), count in sorted(route.requests.items(),
                                                  key=lambda item: (item[0][0], str(item[0][1]))):
                requests.add_metric((route.provider, route.label, method,
                                     "dropped" if status is None else str(status)), count)
        yield requests
        latency = HistogramMetricFamily(
            "musicsim_request_duration_seconds", "Time to answer a request, injected latency "
            "included", labels=("provider", "route"))
        bounds = [*map(str, LATENCY_BUCKETS), "+Inf"]
        for route in routes:
            if not route.requests:
                continue
            running, buckets = 0, []
            for bound, count in zip(bounds, route.buckets):
                running += count
                buckets.append((bound, running))
            latency.add_metric((route.provider, route.label), buckets, route.seconds)
        yield latency


class _EngineCollector(Collector):
    """The state of every sandbox, summed: one server, one set of series."""

    def __init__(self, engines: Iterable[Engine]):
        self.engines = engines
        self._states: Counter = Counter()
        self._accounts: list = []

    async def read(self) -> None:
        self._states, self._accounts = Counter(), []
        for engine in list(self.engines):
            now = engine.now()
            self._states.update((t.provider, t.state(now)) for t in await engine.tasks())
            self._accounts += await engine.accounts()

    def collect(self) -> Iterator[Metric]:
        engines = list(self.engines)
        tasks = GaugeMetricFamily("musicsim_tasks", "Tasks by provider and state",
                                  labels=("provider", "state"))
        counts = self._states
        for (provider, state), count in sorted(counts.items()):
            tasks.add_metric((provider, state), count)
        for provider in sorted({p for p, _ in counts}):
            for state in STATES:
                if (provider, state) not in counts:
                    tasks.add_metric((provider, state), 0)
        yield tasks

        accounts = self._accounts
        for name, attribute, text in (
                ("musicsim_credits_available", "available", "Credits accounts may spend"),
                ("musicsim_credits_held", "held", "Credits held for unfinished tasks"),
                ("musicsim_credits_spent", "spent", "Credits settled for finished work")):
            family = GaugeMetricFamily(name, text)
            family.add_metric((), sum(getattr(a, attribute) for a in accounts))
            yield family
        yield GaugeMetricFamily("musicsim_accounts", "Accounts", value=len(accounts))

        attempts = CounterMetricFamily(
            "musicsim_webhook_attempts", "Callback delivery attempts, by provider and outcome",
            labels=("provider", "outcome"))
        for (provider, outcome), count in sorted(_summed(e.webhooks.counts()
                                                         for e in engines).items()):
            attempts.add_metric((provider or "", outcome), count)
        yield attempts

        faults = CounterMetricFamily("musicsim_faults_applied",
                                     "Fault actions applied, by target and kind",
                                     labels=("target", "kind"))
        for (target, kind), count in sorted(_summed(e.faults.applied
                                                    for e in engines).items()):
            faults.add_metric((target, kind), count)
        yield faults
        yield GaugeMetricFamily("musicsim_fault_rules", "Fault rules in force",
                                value=sum(len(e.faults.rules()) for e in engines))


def _summed(counts: Iterable[Mapping]) -> Counter:
    total: Counter = Counter()
    for each in counts:
        total.update(each)
    return total
