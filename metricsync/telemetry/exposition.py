"""`GET /metrics`: the process's metrics in the Prometheus text format.

One `Exposition` per process: the `Metrics` it updates plus collectors read at scrape time (their
async `refresh` runs first, each bounded in time; one that fails is logged and left out of that
scrape rather than failing it). With a multiprocess directory (`metricsync ingest` with
METRICSYNC_INGEST_WORKERS > 1) the counters and histograms of all worker processes are merged from
it by prometheus_client's `MultiProcessCollector`, whichever process answers the scrape.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from metricsync.telemetry.definitions import Family, Metrics
from metricsync.web.contract import Answer, ApiRoute, Operation

log = logging.getLogger(__name__)

REFRESH_TIMEOUT_SECONDS = 10.0

Samples = dict[str, list[tuple[tuple[str, ...], float]]]

# What prometheus_client serves, without the charset (the document's media type; UTF-8 either way)
MEDIA_TYPE = "; ".join(part.strip() for part in CONTENT_TYPE_LATEST.split(";") if "charset" not in part)
METRICS = Operation(
    "Prometheus metrics of this process (text exposition format)",
    {200: Answer("the metrics, for Prometheus to scrape (docs/observability.md)", model=None, media=MEDIA_TYPE)},
    description="Webhooks by source and outcome, pipeline lag, DORA gauges, request durations. Not behind "
    "the API token: scrape it on the network you trust.",
    tags=("operations",),
    operation_id="get_metrics",
)


class Refreshing(Collector, Protocol):
    async def refresh(self) -> None: ...


class GaugeReader(Collector):
    """Gauges whose values an async function returns at scrape time: family name -> [(labels, value)]."""

    def __init__(self, families: tuple[Family, ...], read: Callable[[], Awaitable[Samples]]) -> None:
        self.families = families
        self.read = read
        self._samples: Samples = {}

    async def refresh(self) -> None:
        self._samples = {}  # a failed read shows no values rather than the last ones
        self._samples = await self.read()

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        for family in self.families:
            metric = GaugeMetricFamily(family.name, family.help, labels=family.labels)
            for labels, value in self._samples.get(family.name, ()):
                metric.add_metric(list(labels), value)
            yield metric


class Exposition:
    def __init__(self, metrics: Metrics, multiprocess_dir: Path | None = None) -> None:
        self.metrics = metrics
        if multiprocess_dir is None:
            self.registry = metrics.registry
        else:
            self.registry = CollectorRegistry()
            MultiProcessCollector(self.registry, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]
        self._refreshing: list[Refreshing] = []

    def add(self, collector: Refreshing) -> None:
        self.registry.register(collector)
        self._refreshing.append(collector)

    async def render(self) -> bytes:
        for collector in self._refreshing:
            try:
                await asyncio.wait_for(collector.refresh(), REFRESH_TIMEOUT_SECONDS)
            except Exception:
                log.exception("metrics collector failed collector=%s", type(collector).__name__)
        return generate_latest(self.registry)

    async def endpoint(self, request: Request) -> Response:
        return Response(await self.render(), media_type=CONTENT_TYPE_LATEST)

    def route(self) -> Route:
        return ApiRoute("/metrics", self.endpoint, METRICS)
