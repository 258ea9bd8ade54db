"""Composition of distributed mode: the ingest and API apps, and the consumer-service runner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from ingest.app import IngestStarlette, create_ingest_routes
from ingest.errors import http_exception_handler
from metricsync.clock import utc_now
from metricsync.dashboard import StreamHub
from metricsync.dashboard.feeds import KafkaMetricsFeed
from metricsync.dashboard.shutdown import end_streams_on_signals
from metricsync.kafka.sink import KafkaSink
from metricsync.mongo.store import MongoStore
from metricsync.settings import Settings
from metricsync.sources import all_senders
from metricsync.telemetry.kafka_lag import consumer_groups_lag
from metricsync.telemetry.middleware import RequestTimer
from metricsync.telemetry.process import Telemetry
from metricsync.web.api_docs import WEBHOOK_OPERATIONS, docs_routes
from metricsync.web.contract import Answer, ApiRoute, Operation, documented
from schemas.api import Probe

log = logging.getLogger(__name__)

# `metricsync api`'s probes (ingest's are in metricsync/web/webhook_docs.py, with how each sender is verified)
API_PROBES = {
    "/healthz": Operation(
        "Liveness: 200 while the process serves", {200: Answer("serving", Probe)}, tags=("operations",)
    ),
    "/readyz": Operation(
        "Readiness: 200 when MongoDB answers, else 503 with the reason",
        {200: Answer("ready", Probe), 503: Answer("not ready; `reason` says why", Probe)},
        tags=("operations",),
    ),
}


def create_ingest_service_app(
    settings: Settings,
    with_api: bool,
    clock: Callable[[], datetime] = utc_now,
    multiprocess_dir: Path | None = None,
) -> RequestTimer:
    """One ingest process (of METRICSYNC_INGEST_WORKERS): it claims its own spool slot at start.
    `multiprocess_dir`: where the ingest processes share their metrics (several of them)."""
    telemetry = Telemetry("ingest", multiprocess_dir)
    telemetry.init_produce_errors([settings.raw_topic])
    sink = KafkaSink(settings)
    store = MongoStore.from_settings(settings) if with_api else None
    lag = consumer_groups_lag(settings) if with_api else None
    routes = documented(
        create_ingest_routes(settings.ingest, sink, clock, all_senders(settings.ingest), telemetry.webhooks),
        WEBHOOK_OPERATIONS,
    )
    feed: KafkaMetricsFeed | None = None
    hub: StreamHub | None = None
    api = None
    if store is not None:
        from metricsync.mongo.read_source import api_routes, read_api

        hub = StreamHub()
        feed = KafkaMetricsFeed(settings, hub)
        api = read_api(settings, store, clock, telemetry, lag)
        routes += api_routes(api, settings, store, hub)
    routes.append(telemetry.route())
    routes += docs_routes(lambda: routes)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if api is not None:
                await stack.enter_async_context(api.running())
            async with ingest_lifespan():
                yield

    @asynccontextmanager
    async def ingest_lifespan() -> AsyncIterator[None]:
        await sink.start()
        if feed is not None:
            feed.start()
        watcher = asyncio.create_task(telemetry.watch_ingest(sink, settings.raw_topic), name="ingest-metrics")
        summary = settings.verification_summary()
        log.log(
            logging.WARNING if "OFF" in summary else logging.INFO,
            "ingest ready topic=%s spool=%s api=%s verification: %s",
            settings.raw_topic,
            sink.spool.directory,
            with_api,
            summary,
        )
        restore_signals = None
        if hub is not None:
            log.info("dashboard ready at %s", settings.public_url())
            restore_signals = end_streams_on_signals(hub)
        try:
            yield
        finally:
            if restore_signals is not None:
                restore_signals()
            if feed is not None:
                await feed.stop()
            watcher.cancel()
            await sink.stop()
            if lag is not None:
                await lag.close()
            if store is not None:
                await store.close()

    app = IngestStarlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_exception_handler})
    return telemetry.wrap(app, routes)


def create_api_app(settings: Settings, clock: Callable[[], datetime] = utc_now) -> RequestTimer:
    from metricsync.mongo.read_source import api_routes, read_api

    telemetry = Telemetry("api")
    store = MongoStore.from_settings(settings)
    hub = StreamHub()
    feed = KafkaMetricsFeed(settings, hub)
    lag = consumer_groups_lag(settings)
    api = read_api(settings, store, clock, telemetry, lag)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        feed.start()
        log.info("dashboard ready at %s", settings.public_url())
        restore_signals = end_streams_on_signals(hub)
        try:
            async with api.running():
                yield
        finally:
            restore_signals()
            await feed.stop()
            await lag.close()
            await store.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        problem = await store.ping()
        if problem:
            return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ready"})

    routes: list[BaseRoute] = [
        ApiRoute("/healthz", healthz, API_PROBES["/healthz"]),
        ApiRoute("/readyz", readyz, API_PROBES["/readyz"]),
    ]
    routes += [*api_routes(api, settings, store, hub), telemetry.route()]
    routes += docs_routes(lambda: routes)
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_exception_handler})
    return telemetry.wrap(app, routes)
