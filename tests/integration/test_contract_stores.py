"""The store contract (schemas.ports.RawLog + EventStore), one suite run against both twins: the
SQLite store of embedded mode and the MongoDB store of distributed mode (on the real FerretDB/MongoDB
of scripts/services). Dedup, order, paging, large bodies, restart, reset: the twins must agree."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest

from metricsync.embedded.sqlite_store import SqliteStore
from metricsync.mongo.store import MongoStore
from metricsync.settings import Settings
from metricsync.simulation.workload import MixedWorkload
from normalizer.mapping import map_delivery
from schemas.events import UnifiedEvent
from schemas.ports import EventStore, RawLog
from schemas.raw import RawDelivery
from tests.integration.test_large_bodies import commits_for, delivery, push_body

pytestmark = pytest.mark.servers

END = datetime(2026, 11, 1, tzinfo=UTC)
MIB = 1024 * 1024


class Store(RawLog, EventStore, Protocol):
    """Both ports: what the two twins implement."""


@dataclass
class Twin:
    name: str
    open: Callable[[], Awaitable[Store]]  # (re)opens the store on the same data


@pytest.fixture(params=["sqlite", "mongo"])
async def twin(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Twin]:
    if request.param == "sqlite":

        async def open_sqlite() -> Store:
            return await SqliteStore.open(tmp_path / "metricsync.db")

        yield Twin("sqlite", open_sqlite)
        return
    mongo_uri: str = request.getfixturevalue("mongo_uri")
    database: str = request.getfixturevalue("mongo_db_name")

    async def open_mongo() -> Store:
        store = MongoStore.connect(mongo_uri, database)
        await store.init()
        return store

    yield Twin("mongo", open_mongo)
    cleanup = MongoStore.connect(mongo_uri, database)
    await cleanup.db.client.drop_database(database)
    await cleanup.close()


@pytest.fixture
async def store(twin: Twin) -> AsyncIterator[Store]:
    opened = await twin.open()
    yield opened
    await opened.close()


def workload(services: int = 3, events: int = 120) -> tuple[list[RawDelivery], list[UnifiedEvent]]:
    rules = Settings().mapping_rules()
    deliveries = [g.delivery for g in MixedWorkload(services, events, end=END, days=20, prefix="contract")]
    unique = {e.id: e for d in deliveries for e in reversed(map_delivery(d, rules))}  # first of an id wins
    return deliveries, sorted(unique.values(), key=lambda e: (e.received_at, e.id))


async def all_raw(store: Store, size: int = 1000) -> list[list[RawDelivery]]:
    return [batch async for batch in store.raw_batches(size)]


async def test_raw_deliveries_are_kept_once_byte_for_byte(store: Store) -> None:
    deliveries, _ = workload()
    first, second = deliveries[0], deliveries[1]
    impostor = first.model_copy(update={"body": b'{"other": true}'})  # same delivery id, other bytes
    assert await store.put_raw_many([first, second, impostor]) == 2
    assert await store.put_raw_many([first, second]) == 0
    assert await store.raw_count() == 2
    kept = {d.delivery_id: (d.source, d.event_type, d.key, d.headers, d.body) for b in await all_raw(store) for d in b}
    assert kept == {d.delivery_id: (d.source, d.event_type, d.key, d.headers, d.body) for d in (first, second)}


async def test_raw_batches_page_through_every_delivery_once(store: Store) -> None:
    deliveries, _ = workload(events=200)
    assert await store.put_raw_many(deliveries) == len(deliveries)
    batches = await all_raw(store, size=10)
    assert all(1 <= len(batch) <= 10 for batch in batches)
    ids = [d.delivery_id for batch in batches for d in batch]
    assert sorted(ids) == sorted(d.delivery_id for d in deliveries)


async def test_events_are_kept_once_per_id_and_read_in_event_time_order(store: Store) -> None:
    _, events = workload()
    half = len(events) // 2
    assert await store.put_events(events[:half]) == events[:half]
    assert await store.put_events([*events, events[0]]) == events[half:]  # the kept ones are not new
    assert await store.put_events(events) == []
    assert await store.event_count() == len(events)
    for service in {e.service for e in events}:
        expected = sorted((e for e in events if e.service == service), key=lambda e: e.event_time)
        got = await store.events_for(service)
        assert [e.event_time for e in got] == [e.event_time for e in expected]
        assert sorted(e.id for e in got) == sorted(e.id for e in expected)
        assert [e.id for e in await store.events_for(service, limit=3)] == [e.id for e in got[:3]]
    assert await store.events_for("no-such-service") == []


async def test_a_large_body_is_kept_byte_for_byte(store: Store) -> None:
    body = push_body(commits_for(4 * MIB))
    assert len(body) >= 4 * MIB
    large = delivery(body, "contract-large")
    assert await store.put_raw_many([large]) == 1
    ((kept,),) = await all_raw(store)
    assert kept.body == body
    # received_at is kept to the millisecond (BSON dates): the rest of the delivery exactly
    assert abs(kept.received_at - large.received_at) < timedelta(milliseconds=1)
    assert kept.model_copy(update={"received_at": large.received_at}) == large


async def test_a_restart_keeps_everything_and_dedup_still_holds(twin: Twin) -> None:
    deliveries, events = workload()
    store = await twin.open()
    try:
        await store.put_raw_many(deliveries)
        await store.put_events(events)
    finally:
        await store.close()
    store = await twin.open()
    try:
        assert await store.ping() is None
        assert await store.raw_count() == len(deliveries)
        assert await store.event_count() == len(events)
        assert await store.put_raw_many(deliveries) == 0
        assert await store.put_events(events) == []
        kept = {d.delivery_id: d.body for batch in await all_raw(store) for d in batch}
        assert kept == {d.delivery_id: d.body for d in deliveries}
    finally:
        await store.close()


async def test_reset_derived_forgets_events_and_keeps_the_raw_log(store: Store) -> None:
    deliveries, events = workload()
    await store.put_raw_many(deliveries)
    await store.put_events(events)
    await store.reset_derived()
    assert await store.event_count() == 0
    assert await store.raw_count() == len(deliveries)
    assert await store.put_events(events) == events  # new again
