"""Prometheus metrics (text format via ``prometheus-client``):

    guardrail_deliveries_total{event, outcome}      outcome: queued, noted, ignored, duplicate, replay, unsigned,
                                                    malformed, too_large, timeout, disconnected, unavailable;
                                                    event: GitHub's name, or "other" for a name outside
                                                    bot.server.app.KNOWN_EVENTS
    guardrail_queue_depth                           jobs waiting (read from the queue at scrape time)
    guardrail_job_seconds{outcome}                  histogram of a job's wall time; outcome: posted, superseded,
                                                    refused, failed, skipped, timed_out
    guardrail_model_attempts_total{model, result}   result: accepted, rejected, error, skipped
    guardrail_gate_failures_total{gate}             a gate that failed or could not run, per attempt; gate: a
                                                    built-in gate's name, or "command" for any configured command
                                                    (its name comes from a repository's config: unbounded)

With ``PROMETHEUS_MULTIPROC_DIR`` set (``guardrail serve`` sets it before it starts its workers), every process
writes its values there and ``/metrics`` adds them up (prometheus-client's multiprocess mode), so the workers'
counts show on the web front's ``/metrics``. It must be set before prometheus_client is first imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bot.types import Outcome

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BUILTIN_GATES = frozenset({"apply", "paths", "ruff", "tests", "effect"})  # the NAME of checks/apply.py, paths.py, ...


class _QueueDepth(Collector):
    def __init__(self, depth: Callable[[], int]) -> None:
        self._depth = depth

    def collect(self) -> Iterable[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("guardrail_queue_depth", "Jobs waiting in the queue")
        try:
            gauge.add_metric([], float(self._depth()))
        except Exception:  # a scrape must not fail when the queue is down: /healthz says so
            gauge.add_metric([], float("nan"))
        yield gauge


class Metrics:
    """The process's metrics. ``depth`` (web front only) reads the queue's length at scrape time."""

    def __init__(self, depth: Callable[[], int] | None = None) -> None:
        self.registry = CollectorRegistry()
        multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        target = None if multiprocess else self.registry
        if multiprocess:
            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        if depth is not None:
            self.registry.register(_QueueDepth(depth))
        self.deliveries = Counter(
            "guardrail_deliveries", "Webhook deliveries by event and outcome", ["event", "outcome"], registry=target
        )
        self.job_seconds = Histogram(
            "guardrail_job_seconds",
            "Wall time of one job",
            ["outcome"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600),
            registry=target,
        )
        self.model_attempts = Counter(
            "guardrail_model_attempts", "Model attempts by model and result", ["model", "result"], registry=target
        )
        self.gate_failures = Counter(
            "guardrail_gate_failures", "Gates that failed or could not run, by gate", ["gate"], registry=target
        )

    def record_outcome(self, outcome: Outcome) -> None:
        for attempt in outcome.attempts:
            self.model_attempts.labels(attempt.model, attempt.status).inc()
            for gate in attempt.gates:
                if gate.status in ("fail", "error"):
                    self.gate_failures.labels(gate.name if gate.name in BUILTIN_GATES else "command").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
