"""The MetricsSource contract (schemas.ports.MetricsSource), one suite run against both twins: the live
engine of embedded mode (`LiveEngineSource`) and the state the workers log to MongoDB, read back by
the distributed read API (`MongoMetricsSource`, on the real FerretDB/MongoDB of scripts/services).

Both are fed the same events: the live twin applies them, the Mongo twin is written the way a worker
checkpoints (a base, the service's exported state, then deltas of the events applied since; a
rebuild writes a new base). The read API must not be able to tell them apart: the same services, the
same reports for any scope and window, fresh after new events, and a rebuilt log read from its new base.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from metrics_worker.engine import MetricEngine
from metrics_worker.state import PRODUCTION
from metricsync.embedded.web_app import LiveEngineSource
from metricsync.mongo.read_source import MongoMetricsSource
from metricsync.mongo.state_log import base_doc, delta_doc
from metricsync.mongo.store import MongoStore
from metricsync.settings import Settings
from schemas.events import Deployment, UnifiedEvent, event_to_json
from schemas.metrics import DoraMetrics
from schemas.ports import MetricsSource
from tests.integration.test_contract_stores import END, workload

pytestmark = pytest.mark.servers

SETTINGS = Settings(api_refresh_interval=timedelta(0))  # the Mongo twin rescans on every request
WINDOWS = [(END - timedelta(days=days), END) for days in (1, 7, 30)]


@dataclass
class Twin:
    """One MetricsSource and how to feed it: `write(service, events, rebuild)` makes the source hold
    them (appended to what it holds; `rebuild`: everything of the service again, as a rebuild does)."""

    name: str
    source: MetricsSource[MetricEngine]
    write: Callable[[str, Sequence[UnifiedEvent], bool], Awaitable[None]]
    drop: Callable[[str], Awaitable[None]]  # a rebuild leaves the service out (e.g. renamed by an alias)
    held: dict[str, list[UnifiedEvent]] = field(default_factory=lambda: defaultdict(list))

    async def feed(self, events: Sequence[UnifiedEvent], rebuild: bool = False) -> None:
        by_service: dict[str, list[UnifiedEvent]] = defaultdict(list)
        for event in events:
            by_service[event.service].append(event)
        for service, batch in by_service.items():
            self.held[service] = ([] if rebuild else self.held[service]) + batch
            await self.write(service, self.held[service] if rebuild else batch, rebuild)


def live_twin() -> Twin:
    engine = MetricEngine(SETTINGS.engine_config())
    holder = {"engine": engine}

    async def write(service: str, events: Sequence[UnifiedEvent], rebuild: bool) -> None:
        if rebuild:  # embedded rebuild: a new engine from the stored events
            fresh = MetricEngine(SETTINGS.engine_config())
            for held in made.held.values():
                fresh.apply_many(held)
            holder["engine"] = fresh
        else:
            holder["engine"].apply_many(events)

    async def drop(service: str) -> None:
        made.held.pop(service)
        fresh = MetricEngine(SETTINGS.engine_config())
        for held in made.held.values():
            fresh.apply_many(held)
        holder["engine"] = fresh

    made = Twin("live", LiveEngineSource(lambda: holder["engine"]), write, drop)
    return made


def mongo_twin(store: MongoStore) -> Twin:
    seqs: dict[str, int] = {}
    offsets = iter(range(10**9))

    async def write(service: str, events: Sequence[UnifiedEvent], rebuild: bool) -> None:
        at = datetime.now(UTC)
        if service not in seqs or rebuild:  # the first checkpoint of a service, or a rebuild's: a base
            engine = MetricEngine(SETTINGS.engine_config())
            engine.apply_many(events)
            state = engine.export_service(service)
            seqs[service] = 0 if rebuild else seqs.get(service, -1) + 1  # a rebuild's log starts over
            if rebuild:
                await store.delete_states([f"{service}#{seq:010d}" for seq in range(0, 1000)])
            await store.append_states(
                [base_doc(service, seqs[service], state, len(state["seen"]), 0, next(offsets), at)]
            )
            return
        seqs[service] += 1
        lines = [event_to_json(e) for e in events]
        await store.append_states([delta_doc(service, seqs[service], lines, 0, next(offsets), at)])

    async def drop(service: str) -> None:
        await store.delete_states([f"{service}#{seq:010d}" for seq in range(0, seqs.pop(service) + 1)])

    return Twin("mongo", MongoMetricsSource(store, SETTINGS), write, drop)


@pytest.fixture(params=["live", "mongo"])
async def twin(request: pytest.FixtureRequest) -> AsyncIterator[Twin]:
    if request.param == "live":
        yield live_twin()
        return
    mongo_uri: str = request.getfixturevalue("mongo_uri")
    database: str = request.getfixturevalue("mongo_db_name")
    store = MongoStore.connect(mongo_uri, database)
    await store.init()
    try:
        yield mongo_twin(store)
    finally:
        await store.db.client.drop_database(database)
        await store.close()


def expected(events: Sequence[UnifiedEvent]) -> MetricEngine:
    """The reference: one engine that applied every event, in order."""
    engine = MetricEngine(SETTINGS.engine_config())
    engine.apply_many(events)
    return engine


def reports(engine: MetricEngine, services: Collection[str]) -> dict[str, DoraMetrics]:
    scopes: dict[str, Collection[str] | None] = {"*": None, **{s: [s] for s in sorted(services)}}
    return {
        f"{name} {start:%m-%d}": engine.report(scope, PRODUCTION, start, end)
        for name, scope in scopes.items()
        for start, end in WINDOWS
    }


async def served(source: MetricsSource[MetricEngine], services: Collection[str]) -> dict[str, DoraMetrics]:
    """What the read API would answer: each scope's report from the engine the source hands out for it."""
    out: dict[str, DoraMetrics] = {}
    for name, scope in {"*": None, **{s: [s] for s in sorted(services)}}.items():
        engine = await source.engine_for(scope)
        for start, end in WINDOWS:
            out[f"{name} {start:%m-%d}"] = engine.report(scope, PRODUCTION, start, end)
    return out


def events_of_workload() -> list[UnifiedEvent]:
    _, events = workload(services=3, events=150)
    return events


async def test_the_services_and_reports_are_the_engines(twin: Twin) -> None:
    events = events_of_workload()
    await twin.feed(events)
    services = {e.service for e in events}
    assert set(await twin.source.known_services()) == services
    assert await served(twin.source, services) == reports(expected(events), services)


async def test_new_events_are_served_on_the_next_request(twin: Twin) -> None:
    events = events_of_workload()
    half = len(events) // 2
    services = {e.service for e in events}
    await twin.feed(events[:half])
    assert await served(twin.source, services) == reports(expected(events[:half]), services)
    await twin.feed(events[half:])
    assert await served(twin.source, services) == reports(expected(events), services)


async def test_a_service_asked_for_alone_is_served_as_in_the_whole(twin: Twin) -> None:
    events = events_of_workload()
    await twin.feed(events)
    one = sorted({e.service for e in events})[0]
    alone = await twin.source.engine_for([one])
    assert (
        reports(alone, [one])[f"{one} {WINDOWS[-1][0]:%m-%d}"]
        == reports(expected(events), [one])[f"{one} {WINDOWS[-1][0]:%m-%d}"]
    )


async def test_an_unknown_service_is_not_an_error_and_not_known(twin: Twin) -> None:
    events = events_of_workload()
    await twin.feed(events)
    engine = await twin.source.engine_for(["acme/nothing"])
    start, end = WINDOWS[-1]
    assert engine.report(["acme/nothing"], PRODUCTION, start, end).deployment_frequency.deployments == 0
    assert "acme/nothing" not in set(await twin.source.known_services())


async def test_a_rebuild_is_served_from_its_new_base(twin: Twin) -> None:
    events = events_of_workload()
    services = {e.service for e in events}
    await twin.feed(events)
    await twin.source.engine_for(None)  # the twin holds the first derivation
    rebuilt = sorted(services)[0]  # rebuilt without its deployments (as after a rule change that drops them)
    kept = [e for e in events if e.service != rebuilt or not isinstance(e, Deployment)]
    await twin.feed([e for e in kept if e.service == rebuilt], rebuild=True)
    assert await served(twin.source, services) == reports(expected(kept), services)


async def test_a_service_a_rebuild_left_out_is_gone_from_every_scope(twin: Twin) -> None:
    events = events_of_workload()
    services = {e.service for e in events}
    await twin.feed(events)
    await twin.source.engine_for(None)  # the twin holds every service
    dropped = sorted(services)[0]
    await twin.drop(dropped)
    left = [e for e in events if e.service != dropped]
    assert set(await twin.source.known_services()) == services - {dropped}
    assert await served(twin.source, services - {dropped}) == reports(expected(left), services - {dropped})
