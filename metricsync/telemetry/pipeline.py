"""The pipeline observer: what the normalizer and the worker (embedded or distributed) report for
/metrics, behind one small interface so the runtime modules only call `observer.normalized(...)`,
`observer.applied(...)`, `observer.checkpointed(...)`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from metricsync.telemetry.definitions import Metrics
from metricsync.telemetry.observers import count_applied, count_normalized
from schemas.events import UnifiedEvent


class PipelineMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def normalized(self, source: str, events: int, dead_lettered: bool) -> None:
        count_normalized(self.metrics, source, events, dead_lettered)

    def applied(self, events: Sequence[UnifiedEvent], snapshot_at: datetime | None) -> None:
        """Events applied; `snapshot_at`: when the snapshot that includes them was published."""
        count_applied(self.metrics, events)
        if snapshot_at is not None:
            observe = self.metrics.snapshot_latency.observe
            for event in events:
                observe(max(0.0, (snapshot_at - event.received_at).total_seconds()))

    def checkpointed(self, seconds: float) -> None:
        self.metrics.checkpoint_duration.observe(seconds)

    def produce_failed(self, topic: str) -> None:
        self.metrics.kafka_produce_errors.labels(topic).inc()


class PipelineObserver(Protocol):
    def normalized(self, source: str, events: int, dead_lettered: bool) -> None: ...

    def applied(self, events: Sequence[UnifiedEvent], snapshot_at: datetime | None) -> None: ...

    def checkpointed(self, seconds: float) -> None: ...

    def produce_failed(self, topic: str) -> None: ...


class NoPipelineMetrics:
    """The observer of runtimes built without telemetry (tests, tools)."""

    def normalized(self, source: str, events: int, dead_lettered: bool) -> None:
        return None

    def applied(self, events: Sequence[UnifiedEvent], snapshot_at: datetime | None) -> None:
        return None

    def checkpointed(self, seconds: float) -> None:
        return None

    def produce_failed(self, topic: str) -> None:
        return None


NO_PIPELINE_METRICS: PipelineObserver = NoPipelineMetrics()
