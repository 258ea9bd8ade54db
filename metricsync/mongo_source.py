"""The read API in distributed mode: metric state loaded from MongoDB into an engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from datetime import datetime

from starlette.routing import BaseRoute

from metrics_worker.engine import MetricEngine
from metricsync.mongo_store import MongoStore
from metricsync.read_api import ReadApi
from metricsync.settings import Settings


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
