"""The bus contract (schemas.ports.Bus), one suite run against both twins: embedded mode's MemoryBus
and Kafka through the producer and consumer settings every service uses (metricsync.kafka), on the
real Kafka of scripts/services. A reader sees what is published after it started reading, each key's
messages in publish order, values byte for byte, every reader all of them.

Not shared, by design: durability. Kafka keeps messages and consumer groups resume from committed
offsets; the memory bus keeps nothing (embedded mode's record is SQLite, see
tests/unit/runtime/test_embedded_worker.py for its restart)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from metricsync.embedded.memory_bus import MemoryBus, Subscription
from metricsync.kafka.clients import make_consumer, make_producer
from metricsync.settings import Settings
from schemas.ports import Bus
from tests.integration.conftest import unique_name
from tests.integration.test_large_bodies import create_topic_with, delete_topic

pytestmark = pytest.mark.servers

Message = tuple[bytes, bytes]


class Reader(Protocol):
    async def read(self, count: int, wait_seconds: float = 20) -> list[Message]:
        """`count` messages (then whatever else arrives within half a second)."""
        ...


class BusTwin(Bus, Protocol):
    topic: str

    async def reader(self) -> Reader:
        """A reader of `topic` from now on."""
        ...


class MemoryReader:
    def __init__(self, sub: Subscription) -> None:
        self.sub = sub

    async def read(self, count: int, wait_seconds: float = 20) -> list[Message]:
        got: list[Message] = []
        while len(got) < count:
            batch = await self.sub.get_batch(1000, wait_seconds)
            assert batch, f"only {len(got)} of {count} messages"
            got.extend((m.key, m.value) for m in batch)
        got.extend((m.key, m.value) for m in await self.sub.get_batch(1000, 0.5))
        return got


class MemoryTwin:
    def __init__(self, topic: str) -> None:
        self.bus = MemoryBus()
        self.topic = topic

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        await self.bus.publish(topic, key, value)

    async def reader(self) -> Reader:
        return MemoryReader(self.bus.subscribe(self.topic))


class KafkaReader:
    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer

    async def read(self, count: int, wait_seconds: float = 20) -> list[Message]:
        got: list[Message] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while len(got) < count:
            assert loop.time() < deadline, f"only {len(got)} of {count} messages"
            for records in (await self.consumer.getmany(timeout_ms=200)).values():
                got.extend((r.key, r.value) for r in records)
        for records in (await self.consumer.getmany(timeout_ms=500)).values():
            got.extend((r.key, r.value) for r in records)
        return got


class KafkaTwin:
    def __init__(self, settings: Settings, topic: str, partitions: int) -> None:
        self.settings = settings
        self.topic = topic
        self.partitions = partitions
        self.producer: AIOKafkaProducer | None = None
        self.consumers: list[AIOKafkaConsumer] = []

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        if self.producer is None:
            self.producer = make_producer(self.settings)
            await self.producer.start()
        await self.producer.send_and_wait(topic, value=value, key=key)

    async def reader(self) -> Reader:
        # the services' consumer settings, on every partition from its current end
        consumer = make_consumer(self.settings, "", group_id=None, max_partition_fetch_bytes=8 << 20)
        await consumer.start()
        partitions = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)  # resolved now: "from now on"
        self.consumers.append(consumer)
        return KafkaReader(consumer)

    async def close(self) -> None:
        for consumer in self.consumers:
            await consumer.stop()
        if self.producer is not None:
            await self.producer.stop()


@pytest.fixture(params=["memory", "kafka"])
def bus_kind(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """The twin, and Kafka's bootstrap for the Kafka one (resolved here, outside the event loop)."""
    if request.param == "kafka":
        return "kafka", request.getfixturevalue("kafka_bootstrap")
    return "memory", None


@pytest.fixture
async def bus(bus_kind: tuple[str, str | None], tmp_path: Path) -> AsyncIterator[BusTwin]:
    _kind, bootstrap = bus_kind
    topic = unique_name("bus-contract", tmp_path.name)
    if bootstrap is None:
        yield MemoryTwin(topic)
        return
    await create_topic_with(bootstrap, topic, 3, {})
    twin = KafkaTwin(Settings(kafka_bootstrap=bootstrap), topic, 3)
    try:
        yield twin
    finally:
        await twin.close()
        await delete_topic(bootstrap, topic)


async def test_each_key_keeps_publish_order(bus: BusTwin) -> None:
    reader = await bus.reader()
    sent = [(f"svc-{i % 3}".encode(), f"{i}".encode()) for i in range(60)]
    for key, value in sent:
        await bus.publish(bus.topic, key, value)
    got = await reader.read(len(sent))
    assert sorted(got) == sorted(sent)
    for key in {k for k, _ in sent}:
        assert [v for k, v in got if k == key] == [v for k, v in sent if k == key]


async def test_a_reader_sees_what_is_published_after_it_started(bus: BusTwin) -> None:
    for i in range(3):
        await bus.publish(bus.topic, b"k", f"before-{i}".encode())
    reader = await bus.reader()
    for i in range(3):
        await bus.publish(bus.topic, b"k", f"after-{i}".encode())
    assert await reader.read(3) == [(b"k", f"after-{i}".encode()) for i in range(3)]


async def test_every_reader_gets_every_message(bus: BusTwin) -> None:
    readers = [await bus.reader(), await bus.reader()]
    for i in range(5):
        await bus.publish(bus.topic, b"k", f"{i}".encode())
    for reader in readers:
        assert [v for _, v in await reader.read(5)] == [f"{i}".encode() for i in range(5)]


async def test_a_large_value_arrives_byte_for_byte(bus: BusTwin) -> None:
    reader = await bus.reader()
    value = bytes(range(256)) * 1024  # 256 KiB that do not compress
    await bus.publish(bus.topic, b"big", value)
    assert await reader.read(1) == [(b"big", value)]
