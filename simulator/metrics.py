"""Prometheus metrics for /_sim/metrics.

Request counts and latencies are counted as requests pass the edge; everything the core
already knows (tasks by state, credits, webhook attempts, faults applied) is read from it
when the metrics are scraped, so nothing is counted twice and nothing can drift. Each
application has its own registry, so several simulators can live in one process.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter as PromCounter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .core.engine import Engine
from .core.models import STATES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)


class Metrics:
    def __init__(self, engine: Engine):
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = PromCounter(
            "musicsim_requests", "Provider requests answered, by provider, route, method and "
            "status (dropped: the connection was closed by a fault)",
            ("provider", "route", "method", "status"), registry=self.registry)
        self._latency = Histogram(
            "musicsim_request_duration_seconds", "Time to answer a provider request, "
            "injected latency included", ("provider", "route"), buckets=LATENCY_BUCKETS,
            registry=self.registry)
        self.registry.register(_EngineCollector(engine))

    def request(self, provider: str, route: str, method: str, status: str,
                seconds: float) -> None:
        self._requests.labels(provider, route, method, status).inc()
        self._latency.labels(provider, route).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _EngineCollector(Collector):
    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        now = engine.now()
        tasks = GaugeMetricFamily("musicsim_tasks", "Tasks by provider and state",
                                  labels=("provider", "state"))
        counts = Counter((t.provider, t.state(now)) for t in engine.tasks())
        for (provider, state), count in sorted(counts.items()):
            tasks.add_metric((provider, state), count)
        for provider in sorted({p for p, _ in counts}):
            for state in STATES:
                if (provider, state) not in counts:
                    tasks.add_metric((provider, state), 0)
        yield tasks

        accounts = engine.accounts()
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
