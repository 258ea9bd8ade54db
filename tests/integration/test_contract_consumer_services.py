"""The ConsumerService port (schemas/ports.py): one contract, run against both services that implement
it (NormalizerService on the raw topic, WorkerService on the events topic), on the real Kafka and
FerretDB, as `metricsync.services.lifecycle.run_consumer_service` drives them.

What every consumer service promises:
- `run(stop, burst=True)` returns once it has read its topic to the end, with every record's offset
  committed, the heartbeat (`last_poll`) fresh and the service ready;
- a new instance in the same group (a restart, a scale-out) starts from the committed offsets: it
  reads only what came after;
- the same records again (a producer's retry, a replay) change nothing of what it stored;
- `run` without burst returns soon after `stop` is set, and `stop()` then leaves the group.

Embedded mode has no twin here: it runs the same steps as two tasks of `EmbeddedPipeline`, which
the end-to-end tests and the embedded = distributed comparison cover (docs/architecture.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from metricsync.kafka.codec import encode_raw
from metricsync.mongo.read_source import MongoMetricsSource
from metricsync.mongo.store import MongoStore
from metricsync.services.normalizer_service import NormalizerService
from metricsync.services.worker_service import WorkerService
from metricsync.settings import Settings
from metricsync.simulation.workload import MixedWorkload
from normalizer.mapping import map_delivery
from schemas.events import event_to_json
from schemas.ports import ConsumerService
from tests.integration.conftest import TopicFactory

pytestmark = pytest.mark.servers

END = datetime(2026, 11, 1, tzinfo=UTC)
PARTITIONS = 2
SESSION_TIMEOUT = 10.0  # metricsync.kafka.clients: session_timeout_ms
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]  # key, value, headers


def _raw_records(count: int) -> list[Record]:
    """`count` raw deliveries as ingest publishes them (the normalizer's input)."""
    deliveries = [g.delivery for g in MixedWorkload(5, 3 * count, end=END, days=30, prefix="contract")][:count]
    assert len(deliveries) == count
    return [(key, value, list(headers)) for key, value, headers in map(encode_raw, deliveries)]


def _event_records(count: int) -> list[Record]:
    """`count` unified events as the normalizer publishes them (the worker's input)."""
    rules = Settings().mapping_rules()
    workload = MixedWorkload(5, 3 * count, end=END, days=30, prefix="contract")
    events = [e for g in workload for e in map_delivery(g.delivery, rules)][:count]
    assert len(events) == count
    return [(e.service.encode(), event_to_json(e), []) for e in events]


async def _normalizer_output(store: MongoStore, settings: Settings) -> object:
    """Deliveries, events and dead letters stored: a duplicate stored again would raise a count."""
    return await store.raw_count(), await store.event_count(), await store.dead_letter_count()


async def _worker_output(store: MongoStore, settings: Settings) -> object:
    engine = await MongoMetricsSource(store, settings).engine_for(None)  # what a fresh reader restores
    start, end = END - timedelta(days=60), END + timedelta(days=1)
    return {s.service: engine.report([s.service], "production", start, end) for s in engine.services()}


@dataclass(frozen=True)
class Subject:
    """One implementation of the port, and how the contract feeds and observes it."""

    name: str
    make: Callable[[Settings, MongoStore], ConsumerService]
    topic: Callable[[Settings], str]
    group: Callable[[Settings], str]
    records: Callable[[int], list[Record]]
    consumed: Callable[[Any], int]  # records this instance read (duplicates included)
    output: Callable[[MongoStore, Settings], Awaitable[object]]  # what it stored, comparable


SUBJECTS = [
    Subject(
        "normalizer",
        lambda settings, store: NormalizerService(settings, store, settings.mapping_rules()),
        lambda s: s.raw_topic,
        lambda s: s.normalizer_group,
        _raw_records,
        lambda service: int(service.processed),
        _normalizer_output,
    ),
    Subject(
        "worker",
        lambda settings, store: WorkerService(settings, store, lambda: END),
        lambda s: s.events_topic,
        lambda s: s.worker_group,
        _event_records,
        lambda service: int(service.events_applied + service.events_skipped),
        _worker_output,
    ),
]


@pytest.fixture(params=SUBJECTS, ids=[s.name for s in SUBJECTS])
def subject(request: pytest.FixtureRequest) -> Subject:
    chosen: Subject = request.param
    return chosen


@pytest.fixture
async def settings(kafka_bootstrap: str, mongo_uri: str, mongo_db_name: str, create_topic: TopicFactory) -> Settings:
    """Private topics and groups on the test servers; the database is dropped afterwards."""
    raw, events = await create_topic(PARTITIONS), await create_topic(PARTITIONS)
    return Settings(
        kafka_bootstrap=kafka_bootstrap,
        mongo_uri=mongo_uri,
        mongo_db=mongo_db_name,
        raw_topic=raw,
        events_topic=events,
        metrics_topic=await create_topic(1),
        dead_letter_topic=await create_topic(1),
        normalizer_group=f"{raw}-normalizer",
        worker_group=f"{events}-worker",
    )


@pytest.fixture
async def store(settings: Settings) -> Any:
    store = MongoStore.from_settings(settings)
    await store.init()
    yield store
    await store.db.client.drop_database(settings.mongo_db)
    await store.close()


async def _produce(bootstrap: str, topic: str, records: Sequence[Record]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send(topic, value=value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


async def _burst(subject: Subject, settings: Settings, store: MongoStore) -> ConsumerService:
    """A new instance, run until caught up, then stopped (as `--burst` runs it)."""
    service = subject.make(settings, store)
    await service.start()
    try:
        await asyncio.wait_for(service.run(asyncio.Event(), burst=True), 120)
    finally:
        await service.stop()
    return service


async def _committed_at_end(settings: Settings, topic: str, group: str) -> bool:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(partitions)
        committed = [await consumer.committed(tp) for tp in partitions]
        return committed == [ends[tp] for tp in partitions]
    finally:
        await consumer.stop()


async def test_a_burst_reads_to_the_end_commits_everything_and_is_ready(
    subject: Subject, settings: Settings, store: MongoStore
) -> None:
    records = subject.records(120)
    await _produce(settings.kafka_bootstrap, subject.topic(settings), records)
    began = time.monotonic()

    service = await _burst(subject, settings, store)

    assert subject.consumed(service) == len(records)
    assert await _committed_at_end(settings, subject.topic(settings), subject.group(settings))
    assert service.last_poll > began  # the heartbeat moved
    assert service.outage.ready, service.outage.detail()


async def test_a_new_instance_of_the_group_reads_only_what_came_after_the_commit(
    subject: Subject, settings: Settings, store: MongoStore
) -> None:
    records = subject.records(150)
    first, then = records[:100], records[100:]
    await _produce(settings.kafka_bootstrap, subject.topic(settings), first)
    assert subject.consumed(await _burst(subject, settings, store)) == len(first)

    await _produce(settings.kafka_bootstrap, subject.topic(settings), then)
    second = await _burst(subject, settings, store)

    assert subject.consumed(second) == len(then)
    assert await _committed_at_end(settings, subject.topic(settings), subject.group(settings))


async def test_the_same_records_again_change_nothing_stored(
    subject: Subject, settings: Settings, store: MongoStore
) -> None:
    records = subject.records(100)
    await _produce(settings.kafka_bootstrap, subject.topic(settings), records)
    await _burst(subject, settings, store)
    once = await subject.output(store, settings)

    await _produce(settings.kafka_bootstrap, subject.topic(settings), records[30:70] + records[:10])  # replays
    again = await _burst(subject, settings, store)

    assert await _committed_at_end(settings, subject.topic(settings), subject.group(settings))
    assert subject.consumed(again) == 50  # read, and
    assert await subject.output(store, settings) == once  # nothing changed


async def test_run_returns_soon_after_stop_is_set_and_stop_leaves_the_group(
    subject: Subject, settings: Settings, store: MongoStore
) -> None:
    service = subject.make(settings, store)
    await service.start()
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    await asyncio.sleep(1.0)  # polling an empty topic
    assert not running.done()

    asked = time.monotonic()
    stop.set()
    await asyncio.wait_for(running, 10)
    returned = time.monotonic() - asked
    await asyncio.wait_for(service.stop(), 30)

    assert returned < 5.0, f"run returned {returned:.1f} s after stop was set"
    # it left the group: a new member gets every partition at once, not after the old one's session
    # timeout (10 s, metricsync.kafka.clients)
    records = subject.records(20)
    await _produce(settings.kafka_bootstrap, subject.topic(settings), records)
    joined = time.monotonic()
    assert subject.consumed(await _burst(subject, settings, store)) == len(records)
    assert time.monotonic() - joined < SESSION_TIMEOUT
