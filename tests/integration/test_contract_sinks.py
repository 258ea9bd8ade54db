"""The delivery sink contract (schemas.ports.DeliverySink), one suite run against both twins: embedded
mode's EmbeddedSink (SQLite, mapped in process) and distributed mode's KafkaSink (the raw topic of
the real Kafka from scripts/services). `submit` returns once the delivery is durable: each test
reads what the twin made durable (the SQLite raw log; the raw topic from its start)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from metricsync.embedded.memory_bus import MemoryBus
from metricsync.embedded.pipeline import EmbeddedSink
from metricsync.embedded.sqlite_store import SqliteStore
from metricsync.kafka.codec import decode_raw
from metricsync.kafka.sink import KafkaSink
from metricsync.settings import Settings
from metricsync.simulation.workload import MixedWorkload
from schemas.ports import DeliverySink
from schemas.raw import RawDelivery
from tests.integration.conftest import unique_name
from tests.integration.test_large_bodies import commits_for, create_topic_with, delete_topic, delivery, push_body

pytestmark = pytest.mark.servers

END = datetime(2026, 11, 1, tzinfo=UTC)
KIB = 1024


@dataclass
class Twin:
    name: str
    open: Callable[[], Awaitable[DeliverySink]]  # (re)starts the sink on the same durable storage
    close: Callable[[DeliverySink], Awaitable[None]]
    durable: Callable[[int], Awaitable[list[RawDelivery]]]  # what is durable, in order, once n are there
    opened: list[DeliverySink] = field(default_factory=list)


async def read_topic(bootstrap: str, topic: str, expected: int, wait_seconds: float = 30) -> list[RawDelivery]:
    """The deliveries in the raw topic from its start (partition by partition, each in order)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    found: list[RawDelivery] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while loop.time() < deadline and len(found) < expected:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                found.extend(decode_raw(r.key, r.value, r.headers) for r in records)
        extra = await consumer.getmany(timeout_ms=500)  # nothing more than expected
        found.extend(decode_raw(r.key, r.value, r.headers) for records in extra.values() for r in records)
    finally:
        await consumer.stop()
    return found


@pytest.fixture(params=["embedded", "kafka"])
def twin_kind(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """The twin, and Kafka's bootstrap for the Kafka one (resolved here, outside the event loop)."""
    if request.param == "kafka":
        return "kafka", request.getfixturevalue("kafka_bootstrap")
    return "embedded", None


@pytest.fixture
async def twin(twin_kind: tuple[str, str | None], tmp_path: Path) -> AsyncIterator[Twin]:
    rules = Settings().mapping_rules()
    _kind, bootstrap = twin_kind
    topic: str | None = None
    if bootstrap is None:
        stores: list[SqliteStore] = []

        async def open_embedded() -> DeliverySink:
            store = await SqliteStore.open(tmp_path / "metricsync.db")
            stores.append(store)
            return EmbeddedSink(store, MemoryBus(), rules)

        async def close_embedded(sink: DeliverySink) -> None:
            await stores.pop().close()

        async def durable_embedded(expected: int) -> list[RawDelivery]:
            store = await SqliteStore.open(tmp_path / "metricsync.db")  # a reader of its own: what is on disk
            try:
                return [d for batch in [b async for b in store.raw_batches(500)] for d in batch]
            finally:
                await store.close()

        t = Twin("embedded", open_embedded, close_embedded, durable_embedded)
    else:
        topic = unique_name("sink-contract", tmp_path.name)
        await create_topic_with(bootstrap, topic, 4, {})
        settings = Settings(kafka_bootstrap=bootstrap, raw_topic=topic, spool_dir=tmp_path / "spool")

        async def open_kafka() -> DeliverySink:
            sink = KafkaSink(settings)
            await sink.start()
            return sink

        async def close_kafka(sink: DeliverySink) -> None:
            assert isinstance(sink, KafkaSink)
            await sink.stop()

        async def durable_kafka(expected: int) -> list[RawDelivery]:
            assert bootstrap is not None
            assert topic is not None
            return await read_topic(bootstrap, topic, expected)

        t = Twin("kafka", open_kafka, close_kafka, durable_kafka)
    yield t
    for sink in t.opened:
        await t.close(sink)
    if bootstrap is not None and topic is not None:
        await delete_topic(bootstrap, topic)


async def start(twin: Twin) -> DeliverySink:
    sink = await twin.open()
    twin.opened.append(sink)
    return sink


async def stop(twin: Twin, sink: DeliverySink) -> None:
    twin.opened.remove(sink)
    await twin.close(sink)


def deliveries(count: int) -> list[RawDelivery]:
    return [g.delivery for g in MixedWorkload(1, count * 3, end=END, days=5, prefix="sink")][:count]


async def test_a_new_delivery_is_durable_and_a_duplicate_changes_nothing(twin: Twin) -> None:
    sink = await start(twin)
    assert await sink.check_ready() is None
    first = deliveries(1)[0]
    assert await sink.submit(first) is True
    assert await sink.submit(first) is False
    (kept,) = await twin.durable(1)
    assert kept.delivery_id == first.delivery_id
    assert kept.body == first.body


async def test_deliveries_of_one_key_stay_in_submit_order(twin: Twin) -> None:
    sink = await start(twin)
    batch = deliveries(20)
    assert len({d.key for d in batch}) == 1
    for d in batch:
        assert await sink.submit(d) is True
    assert [d.delivery_id for d in await twin.durable(20)] == [d.delivery_id for d in batch]


async def test_a_large_body_is_kept_byte_for_byte(twin: Twin) -> None:
    sink = await start(twin)
    body = push_body(commits_for(600 * KIB))
    large = delivery(body, f"sink-large-{twin.name}")
    assert await sink.submit(large) is True
    (kept,) = await twin.durable(1)
    assert kept.body == body
    assert kept.headers == large.headers


async def test_what_was_accepted_survives_a_restart(twin: Twin) -> None:
    batch = deliveries(6)
    sink = await start(twin)
    for d in batch[:5]:
        assert await sink.submit(d) is True
    await stop(twin, sink)
    sink = await start(twin)
    assert await sink.check_ready() is None
    assert await sink.submit(batch[5]) is True
    assert [d.delivery_id for d in await twin.durable(6)] == [d.delivery_id for d in batch]
