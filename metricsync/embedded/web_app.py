"""Composition of embedded mode: one Starlette app with ingest, the read API and the pipeline."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from ingest.app import IngestStarlette, create_ingest_routes
from ingest.errors import http_exception_handler
from metrics_worker.engine import MetricEngine
from metricsync.clock import utc_now
from metricsync.dashboard import StreamHub, dashboard_routes
from metricsync.dashboard.feeds import BusMetricsFeed
from metricsync.dashboard.shutdown import end_streams_on_signals
from metricsync.embedded.datadir import db_path
from metricsync.embedded.memory_bus import MemoryBus
from metricsync.embedded.pipeline import EmbeddedPipeline, EmbeddedSink
from metricsync.embedded.sqlite_store import SqliteStore
from metricsync.settings import Settings
from metricsync.sources import all_senders
from metricsync.telemetry.middleware import RequestTimer
from metricsync.telemetry.process import Telemetry
from metricsync.web.api_docs import WEBHOOK_OPERATIONS, docs_routes
from metricsync.web.contract import BadQueryError, documented
from metricsync.web.dead_letters import routes as dead_letter_routes
from metricsync.web.read_api import ReadApi
from schemas.api import DeadLetter
from schemas.ports import DeadLetterFilter, SinkUnavailable
from schemas.raw import RawDelivery

log = logging.getLogger(__name__)


class LiveEngineSource:
    """Embedded mode's MetricsSource: the one live engine (`current` returns it: the pipeline replaces
    it when it rebuilds a failed one from the store)."""

    def __init__(self, current: Callable[[], MetricEngine]) -> None:
        self.current = current

    async def engine_for(self, services: Collection[str] | None) -> MetricEngine:
        return self.current()

    async def known_services(self) -> Collection[str]:
        return {summary.service for summary in self.current().services()}


class OpenedStore:
    """Embedded mode's DeadLetters: the SQLite store once the lifespan has opened it (the routes exist before)."""

    def __init__(self) -> None:
        self.store: SqliteStore | None = None

    def _open(self) -> SqliteStore:
        if self.store is None:
            raise BadQueryError("starting", "MetricSync is starting: the store is not open yet; retry", 503)
        return self.store

    async def list_dead_letters(
        self, selection: DeadLetterFilter, after: tuple[str, str] | None, limit: int, with_body: bool
    ) -> list[DeadLetter]:
        return await self._open().list_dead_letters(selection, after, limit, with_body)

    async def count_dead_letters(self, selection: DeadLetterFilter) -> int:
        return await self._open().count_dead_letters(selection)

    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None:
        return await self._open().get_dead_letter(letter_id)


class DeferredSink:
    """The ingest routes exist before the store opens (in the lifespan); until then: not ready."""

    def __init__(self) -> None:
        self.target: EmbeddedSink | None = None

    async def submit(self, delivery: RawDelivery, payload: dict[str, Any] | None = None) -> bool:
        if self.target is None:
            raise SinkUnavailable("MetricSync is starting", retry_after_seconds=1)
        return await self.target.submit(delivery, payload)

    async def check_ready(self) -> str | None:
        if self.target is None:
            return "MetricSync is starting"
        return await self.target.check_ready()


def create_embedded_app(
    settings: Settings, clock: Callable[[], datetime] = utc_now, telemetry: Telemetry | None = None
) -> RequestTimer:
    """The whole of embedded mode as one ASGI app; the store opens and the pipeline starts in its
    lifespan. Every request is timed for /metrics (`telemetry`, one per process)."""
    telemetry = telemetry if telemetry is not None else Telemetry("serve")
    bus = MemoryBus()
    engine = MetricEngine(settings.engine_config())
    rules = settings.mapping_rules()
    holder: dict[str, EmbeddedPipeline] = {}
    sink = DeferredSink()
    letters = OpenedStore()

    async def pipeline_status() -> dict[str, object]:
        if "pipeline" not in holder:
            return {"mode": "starting", "caught_up": False, "lag": None}
        return await holder["pipeline"].status()

    def live_engine() -> MetricEngine:
        return holder["pipeline"].engine if "pipeline" in holder else engine

    api = ReadApi(LiveEngineSource(live_engine), settings.catalog(), settings.api_token, clock, pipeline_status)
    hub = StreamHub()
    feed = BusMetricsFeed(bus, hub)
    telemetry.add_dora(LiveEngineSource(live_engine), settings.catalog(), settings.metrics_window, clock)
    telemetry.add_embedded_status(pipeline_status)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await SqliteStore.open(db_path(settings.data_dir), clock)
        letters.store = store
        pipeline = EmbeddedPipeline(store, bus, rules, engine, clock, telemetry.pipeline)
        feed.start()
        await pipeline.start()
        holder["pipeline"] = pipeline
        app.state.pipeline = pipeline  # for operators' tooling and tests in the same process
        sink.target = EmbeddedSink(store, bus, rules, telemetry.pipeline)
        summary = settings.verification_summary()
        level = logging.WARNING if "OFF" in summary else logging.INFO
        log.log(level, "embedded mode ready data_dir=%s verification: %s", settings.data_dir, summary)
        log.info("dashboard ready at %s", settings.public_url())
        restore_signals = end_streams_on_signals(hub)
        try:
            async with api.running():
                yield
        finally:
            restore_signals()
            await feed.stop()
            await pipeline.stop()
            letters.store = None
            await store.close()

    routes = documented(
        create_ingest_routes(settings.ingest, sink, clock, all_senders(settings.ingest), telemetry.webhooks),
        WEBHOOK_OPERATIONS,
    )
    routes += api.routes() + dead_letter_routes(letters, api.guard) + dashboard_routes(api, hub)
    routes.append(telemetry.route())
    routes += docs_routes(lambda: routes)
    app = IngestStarlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_exception_handler})
    return telemetry.wrap(app, routes)
