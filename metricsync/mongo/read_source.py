"""The read API in distributed mode: metric state loaded from MongoDB into an engine."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from datetime import datetime

from starlette.routing import BaseRoute

from metrics_worker.engine import MetricEngine
from metricsync.dashboard import StreamHub, dashboard_routes
from metricsync.mongo.state_log import restore
from metricsync.mongo.store import RULES_DERIVED, RULES_NORMALIZER, MongoStore, Revision
from metricsync.settings import Settings
from metricsync.telemetry.kafka_lag import LagReader, lag_status, lag_unknown
from metricsync.telemetry.process import Telemetry
from metricsync.web.read_api import ReadApi

log = logging.getLogger(__name__)


class MongoMetricsSource:
    """The read API's MetricsSource in distributed mode: worker state loaded from MongoDB, kept in
    one engine and refreshed per request for the services whose state log moved: only the events
    logged since are applied, unless a new base was written (then it is imported). Which logs moved
    is one scan of the state collection, shared by the requests of METRICSYNC_API_REFRESH_INTERVAL
    (250 ms: the workers checkpoint every second, so reads stay as fresh; a dashboard's burst of
    requests costs one scan, not one each)."""

    def __init__(self, store: MongoStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.engine = MetricEngine(settings.engine_config())
        # service -> (its log's revision, rev, base seq, base "at") of the state held
        self.held: dict[str, tuple[Revision, int, int, object]] = {}
        self.refresh_seconds = settings.api_refresh_interval.total_seconds()
        self._revisions: dict[str, Revision] = {}
        self._checked: float | None = None  # monotonic time of the last state_revisions scan
        self._lock = asyncio.Lock()

    async def _current(self) -> dict[str, Revision]:
        now = time.monotonic()
        if self._checked is None or now - self._checked >= self.refresh_seconds:
            self._revisions = await self.store.state_revisions()
            self._checked = now
        return self._revisions

    async def engine_for(self, services: Collection[str] | None) -> MetricEngine:
        async with self._lock:
            current = await self._current()
            gone = self.held.keys() - current.keys()
            if gone:  # a rebuild dropped (renamed) services: their state must not linger in the engine
                log.info("state logs gone, reloading services_gone=%d held=%d", len(gone), len(self.held))
                self.engine = MetricEngine(self.settings.engine_config())
                self.held = {}
            wanted = current.keys() if services is None else [s for s in services if s in current]
            stale = [s for s in wanted if s not in self.held or self.held[s][0] != current[s]]
            if stale:
                for service, stored in (await self.store.load_states(stale)).items():
                    held = self.held.get(service)
                    same_base = held is not None and held[2:] == (stored.base_seq, stored.base_at)
                    # same base: only what was logged since; else (new, re-based, or rebuilt: sequence
                    # numbers start over) the whole log
                    since = held[1] if held is not None and same_base and held[1] < stored.rev else None
                    restore(self.engine, stored, since)
                    self.held[service] = (current[service], stored.rev, stored.base_seq, stored.base_at)
            return self.engine

    async def known_services(self) -> Collection[str]:
        async with self._lock:
            return set((await self._current()).keys())


def read_api(
    settings: Settings,
    store: MongoStore,
    clock: Callable[[], datetime],
    telemetry: Telemetry | None = None,
    lag: LagReader | None = None,
) -> ReadApi:
    """The read API over MongoDB: serve its routes (`api_routes`), and run `.running()` in the app's
    lifespan (the MCP session manager of /mcp). With `lag`, /api/v1/status also reports the consumer
    groups' lag (`consumers`, `lag`, `caught_up`); with `telemetry`, /metrics gets the DORA gauges, the
    lag and the dead letters."""

    async def status() -> dict[str, object]:
        body: dict[str, object] = {
            "mode": "distributed",
            "caught_up": None,
            "lag": None,
            "raw_deliveries": await store.raw_count(),
            "events": await store.event_count(),
            "dead_letters": await store.dead_letter_count(),
        }
        derived, normalizer = await store.get_meta(RULES_DERIVED), await store.get_meta(RULES_NORMALIZER)
        body["rules"] = {
            "derived_with": derived,
            "normalizer": normalizer,
            "rebuild_needed": derived is not None and normalizer is not None and derived != normalizer,
        }
        if lag is not None:
            try:
                body.update(lag_status(lag.watched, await lag.read()))
            except Exception as e:  # Kafka away: the rest of the status still answers
                log.warning("consumer lag unavailable error=%r", e)
                body.update(lag_unknown(lag, f"Kafka did not answer, consumer lag unknown: {type(e).__name__}: {e}"))
        return body

    source = MongoMetricsSource(store, settings)
    if telemetry is not None:
        telemetry.add_dora(source, settings.catalog(), settings.metrics_window, clock)
        telemetry.add_dead_letters(store.dead_letter_count)
        if lag is not None:
            telemetry.add_consumer_lag(lag)
    return ReadApi(source, settings.catalog(), settings.api_token, clock, status)


def api_routes(api: ReadApi, settings: Settings, store: MongoStore, hub: StreamHub | None = None) -> list[BaseRoute]:
    """The read API and the dead letters; with a hub also the dashboard (page, its routes, the live stream)."""
    from metricsync.web import dead_letters

    if hub is None:
        return api.routes() + dead_letters.routes(store, api.guard)
    # a snapshot is published before the worker's checkpoint makes it readable here
    settle = settings.worker_checkpoint_interval + settings.api_refresh_interval
    return (
        api.routes()
        + dead_letters.routes(store, api.guard)
        + dashboard_routes(api, hub, int(settle.total_seconds() * 1000) + 500)
    )
