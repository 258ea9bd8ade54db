"""`Telemetry`: one process's metrics, as the runtime wires them in (one object per process, made at
the entry point and passed down)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from starlette.routing import BaseRoute, Route

from metrics_worker.engine import MetricEngine
from metricsync.telemetry.definitions import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    EMBEDDED_NORMALIZER_LAG,
    EMBEDDED_WORKER_PENDING,
    NORMALIZER_OUTCOMES,
    Family,
    Metrics,
)
from metricsync.telemetry.dora import DoraCollector
from metricsync.telemetry.exposition import Exposition, GaugeReader, Samples
from metricsync.telemetry.kafka_lag import LagReader
from metricsync.telemetry.middleware import RequestTimer, route_paths
from metricsync.telemetry.observers import WebhookCounter
from metricsync.telemetry.pipeline import PipelineMetrics
from schemas.catalog import ServiceCatalog
from schemas.ports import MetricsSource
from schemas.sources import Source


class Telemetry:
    def __init__(self, role: str, multiprocess_dir: Path | None = None) -> None:
        self.metrics = Metrics(role)
        self.exposition = Exposition(self.metrics, multiprocess_dir)
        self.webhooks = WebhookCounter(self.metrics)  # ingest's IngestObserver
        self.pipeline = PipelineMetrics(self.metrics)
        if role in ("serve", "normalizer"):
            # every outcome's series from the start, at 0: rate() and increase() over them work
            # before the first dead letter (and alerts can tell "none" from "not scraped")
            for source in Source:
                for outcome in NORMALIZER_OUTCOMES:
                    self.metrics.normalizer_deliveries.labels(source.value, outcome)

    def init_produce_errors(self, topics: Iterable[str]) -> None:
        """The produce-error counters of the topics this process writes, at 0 until the first error."""
        for topic in topics:
            self.metrics.kafka_produce_errors.labels(topic)

    def route(self) -> Route:
        return self.exposition.route()

    def wrap(self, app: Any, routes: Iterable[BaseRoute]) -> RequestTimer:
        """The app with every request timed (metricsync_http_request_duration_seconds)."""
        return RequestTimer(app, self.metrics, route_paths(routes))

    def add_dora(
        self,
        source: MetricsSource[MetricEngine],
        catalog: ServiceCatalog,
        window: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.exposition.add(DoraCollector(source, catalog, window, clock))

    def add_gauges(self, families: tuple[Family, ...], read: Callable[[], Awaitable[Samples]]) -> None:
        self.exposition.add(GaugeReader(families, read))

    def add_embedded_status(self, status: Callable[[], Awaitable[dict[str, object]]]) -> None:
        """Embedded mode's lag, pending events and dead letters, from the pipeline's status."""

        async def read() -> Samples:
            body = await status()
            out: Samples = {}
            for family, key in (
                (EMBEDDED_NORMALIZER_LAG, "normalizer_lag"),
                (EMBEDDED_WORKER_PENDING, "worker_pending"),
                (DEAD_LETTERS, "dead_letters"),
            ):
                value = body.get(key)
                if isinstance(value, int | float):
                    out[family.name] = [((), float(value))]
            return out

        self.add_gauges((EMBEDDED_NORMALIZER_LAG, EMBEDDED_WORKER_PENDING, DEAD_LETTERS), read)

    def add_dead_letters(self, count: Callable[[], Awaitable[int]]) -> None:
        async def read() -> Samples:
            return {DEAD_LETTERS.name: [((), float(await count()))]}

        self.add_gauges((DEAD_LETTERS,), read)

    def add_consumer_lag(self, reader: LagReader) -> None:
        async def read() -> Samples:
            lags = await reader.read()
            return {CONSUMER_LAG.name: [((x.group, x.topic, str(x.partition)), float(x.lag)) for x in lags]}

        self.add_gauges((CONSUMER_LAG,), read)

    async def watch_ingest(self, sink: IngestState, topic: str, interval: float = 1.0) -> None:
        """Run for the process's life: every `interval` seconds, set the spool gauges and add the new
        produce errors from the Kafka sink's own figures. (Gauges and counters rather than a
        scrape-time collector: with several ingest processes any one answers the scrape, and
        prometheus_client merges the processes' values: spool gauges summed over the live ones.)"""
        errors = self.metrics.kafka_produce_errors.labels(topic)
        seen = 0
        while True:
            records, size = sink.spool_totals()
            self.metrics.spool_records.set(records)
            self.metrics.spool_bytes.set(size)
            if sink.produce_errors > seen:
                errors.inc(sink.produce_errors - seen)
                seen = sink.produce_errors
            await asyncio.sleep(interval)


class IngestState(Protocol):
    produce_errors: int

    def spool_totals(self) -> tuple[int, int]: ...
