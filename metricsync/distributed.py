"""Composition of distributed mode: the ingest and API apps, and the consumer-service runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ingest.app import create_ingest_routes
from ingest.errors import http_exception_handler
from metrics_worker.engine import MetricEngine
from metricsync.app import utc_now, verification_summary
from metricsync.kafka_sink import KafkaSink
from metricsync.mongo_store import MongoStore
from metricsync.read_api import ReadApi
from metricsync.settings import Settings
from metricsync.spool import Spool

log = logging.getLogger(__name__)


class MongoMetricsSource:
    """The read API's MetricsSource in distributed mode: worker state loaded from MongoDB, kept in
    one engine and refreshed per request for the services whose `rev` moved."""

    def __init__(self, store: MongoStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.engine = MetricEngine(settings.engine_config())
        self.revs: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def engine_for(self, services: Collection[str] | None) -> MetricEngine:
        async with self._lock:
            current = await self.store.state_revisions()
            wanted = current.keys() if services is None else [s for s in services if s in current]
            stale = [s for s in wanted if self.revs.get(s) != current[s]]
            if stale:
                for stored in await self.store.load_states(stale):
                    self.engine.import_service(stored.service, stored.state)
                    self.revs[stored.service] = stored.rev
            return self.engine

    async def known_services(self) -> Collection[str]:
        return set((await self.store.state_revisions()).keys())


def api_routes(settings: Settings, store: MongoStore, clock: Callable[[], datetime]) -> list[BaseRoute]:
    async def status() -> dict[str, object]:
        return {
            "raw_deliveries": await store.raw_count(),
            "events": await store.event_count(),
            "dead_letters": await store.dead_letter_count(),
        }

    api = ReadApi(MongoMetricsSource(store, settings), settings.catalog(), settings.api_token, clock, status)
    return api.routes()


def create_ingest_service_app(settings: Settings, with_api: bool, clock: Callable[[], datetime] = utc_now) -> Starlette:
    sink = KafkaSink(settings, Spool(settings.spool_dir, settings.spool_max_bytes))
    store = MongoStore.connect(settings.mongo_uri, settings.mongo_db) if with_api else None
    routes = create_ingest_routes(settings.ingest_config(), sink, clock)
    if store is not None:
        routes += api_routes(settings, store, clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sink.start()
        log.info(
            "ingest ready topic=%s spool=%s api=%s verification: %s",
            settings.raw_topic,
            settings.spool_dir,
            with_api,
            verification_summary(settings),
        )
        try:
            yield
        finally:
            await sink.stop()
            if store is not None:
                await store.close()

    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_exception_handler})


def create_api_app(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Starlette:
    store = MongoStore.connect(settings.mongo_uri, settings.mongo_db)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await store.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        problem = await store.ping()
        if problem:
            return JSONResponse({"status": "unavailable", "detail": problem}, status_code=503)
        return JSONResponse({"status": "ready"})

    routes: list[BaseRoute] = [Route("/healthz", healthz), Route("/readyz", readyz)]
    return Starlette(
        routes=routes + api_routes(settings, store, clock),
        lifespan=lifespan,
        exception_handlers={HTTPException: http_exception_handler},
    )


class ConsumerService(Protocol):
    last_poll: float  # time.monotonic() of the last poll that returned (heartbeat)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def run(self, stop: asyncio.Event, burst: bool = False) -> None: ...


async def _heartbeat(service: ConsumerService, path: Path, stale_after: float = 60.0) -> None:
    """Touch `path` every 5 s while the service keeps polling; `metricsync healthcheck` reads it."""
    while True:
        if time.monotonic() - service.last_poll < stale_after:
            await asyncio.to_thread(path.touch)
        await asyncio.sleep(5)


async def run_consumer_service(
    service: ConsumerService,
    name: str,
    burst: bool,
    heartbeat_file: Path | None = None,
    drain_seconds: float = 25.0,
) -> None:
    """Run a consumer service until SIGTERM/SIGINT (or caught up, with burst); on a signal the
    batch in hand finishes (its offsets are committed) within `drain_seconds`, then it stops."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    runner = asyncio.create_task(service.run(stop, burst=burst), name=name)
    beat = asyncio.create_task(_heartbeat(service, heartbeat_file)) if heartbeat_file else None
    try:
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            stopper.cancel()
            runner.result()
        else:
            log.info("%s stopping: finishing the batch in hand (up to %.0fs)", name, drain_seconds)
            try:
                await asyncio.wait_for(runner, timeout=drain_seconds)
            except TimeoutError:
                log.warning(
                    "%s did not finish its batch in %.0fs; uncommitted records will be replayed",
                    name,
                    drain_seconds,
                )
    finally:
        if beat is not None:
            beat.cancel()
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        await service.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
