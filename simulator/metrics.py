"""Prometheus metrics for /_sim/metrics.

Requests are counted as they pass the edge, into plain dictionaries: that path is hot,
and a labelled prometheus-client metric costs more per request than the rest of the
edge together. Everything is turned into metric families when the metrics are scraped,
including what the core already knows (tasks by state, credits, webhook attempts, faults
applied), so nothing is counted twice and nothing can drift. Each application has its
own registry, so several simulators can live in one process.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from typing import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily, Metric)
from aiohttp.web_urldispatcher import AbstractRoute
from prometheus_client.registry import Collector

from .core.engine import Engine
from .core.models import STATES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)


class Metrics:
    def __init__(self, engine: Engine):
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests: Counter[tuple[str, str, str, str]] = Counter()
        # (provider, route) → [count in each bucket (the last one +Inf), sum of seconds]
        self._latency: dict[tuple[str, str], list] = {}
        self.registry.register(_RequestCollector(self))
        self._state = _EngineCollector(engine)
        self.registry.register(self._state)

    def request(self, provider: str, route: AbstractRoute | None, method: str, status: str,
                seconds: float) -> None:
        """Count one answered request; ``route`` is the one the router matched, named
        only when scraped."""
        self._requests[(provider, route, method, status)] += 1
        series = self._latency.get((provider, route))
        if series is None:
            series = self._latency[(provider, route)] = [[0] * (len(LATENCY_BUCKETS) + 1), 0.0]
        series[0][bisect_left(LATENCY_BUCKETS, seconds)] += 1
        series[1] += seconds

    async def exposition(self) -> bytes:
        await self._state.read()  # the store is read ahead: collectors cannot await
        return generate_latest(self.registry)


class _RequestCollector(Collector):
    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "musicsim_requests", "Requests answered, by provider (media: downloads), route, "
            "method and status (dropped: the connection was closed by a fault)",
            labels=("provider", "route", "method", "status"))
        counts: Counter[tuple[str, str, str, str]] = Counter()
        for (provider, route, method, status), count in list(self.metrics._requests.items()):
            counts[(provider, route_label(provider, route), method, status)] += count
        for labels, count in sorted(counts.items()):
            requests.add_metric(labels, count)
        yield requests
        latency = HistogramMetricFamily(
            "musicsim_request_duration_seconds", "Time to answer a request, injected latency "
            "included", labels=("provider", "route"))
        bounds = [*map(str, LATENCY_BUCKETS), "+Inf"]
        merged: dict[tuple[str, str], list] = {}
        for (provider, route), (counts, total) in list(self.metrics._latency.items()):
            into = merged.setdefault((provider, route_label(provider, route)),
                                     [[0] * len(bounds), 0.0])
            into[0] = [a + b for a, b in zip(into[0], counts)]
            into[1] += total
        for labels, (counts, total) in sorted(merged.items()):
            running, buckets = 0, []
            for bound, count in zip(bounds, counts):
                running += count
                buckets.append((bound, running))
            latency.add_metric(labels, buckets, total)
        yield latency


def route_label(provider: str, route: AbstractRoute | None) -> str:
    """A route's template inside its provider (``/v1/tasks/{task_id}``), so the metrics
    have one series per route, not per id; a request no route matched is ``unmatched``."""
    resource = route.resource if route is not None else None
    canonical = resource.canonical if resource is not None else None
    if canonical is None:
        return "unmatched"
    prefix = f"/{provider}/"
    return canonical[len(prefix) - 1:] if canonical.startswith(prefix) else canonical


class _EngineCollector(Collector):
    def __init__(self, engine: Engine):
        self.engine = engine
        self._tasks: list = []
        self._accounts: list = []

    async def read(self) -> None:
        self._tasks = await self.engine.tasks()
        self._accounts = await self.engine.accounts()

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        now = engine.now()
        tasks = GaugeMetricFamily("musicsim_tasks", "Tasks by provider and state",
                                  labels=("provider", "state"))
        counts = Counter((t.provider, t.state(now)) for t in self._tasks)
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
        for (provider, outcome), count in sorted(engine.webhooks.counts().items()):
            attempts.add_metric((provider or "", outcome), count)
        yield attempts

        faults = CounterMetricFamily("musicsim_faults_applied",
                                     "Fault actions applied, by target and kind",
                                     labels=("target", "kind"))
        for (target, kind), count in sorted(engine.faults.applied.items()):
            faults.add_metric((target, kind), count)
        yield faults
        yield GaugeMetricFamily("musicsim_fault_rules", "Fault rules in force",
                                value=len(engine.faults.rules()))
