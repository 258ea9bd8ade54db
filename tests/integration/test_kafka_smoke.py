"""What MetricSync relies on from aiokafka 0.14 against a real Kafka 4.x broker.

Admin topic creation with a partition count, the idempotent producer (no transactions: aiokafka's
transactional APIs are v0 only), consumer groups with manual commits, and a second group member
resuming after the committed offset.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.conftest import TopicFactory, unique_name

pytestmark = pytest.mark.servers


CONSUME_TIMEOUT_S = 20.0


async def _consume(consumer: AIOKafkaConsumer, count: int) -> list[tuple[int, bytes]]:
    """Read ``count`` records; return (offset, value) pairs in the order received."""
    got: list[tuple[int, bytes]] = []
    try:
        async with asyncio.timeout(CONSUME_TIMEOUT_S):
            while len(got) < count:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    got.extend((record.offset, record.value) for record in records)
    except TimeoutError:
        raise AssertionError(f"expected {count} records within {CONSUME_TIMEOUT_S}s, got {got!r}") from None
    return got


async def test_admin_creates_topic_with_partitions(kafka_bootstrap: str, create_topic: TopicFactory) -> None:
    topic = await create_topic(partitions=3)

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert topic in await admin.list_topics()
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()

    assert description["error_code"] == 0
    assert sorted(p["partition"] for p in description["partitions"]) == [0, 1, 2]


async def test_idempotent_produce_then_group_resumes_after_commit(
    kafka_bootstrap: str, create_topic: TopicFactory, request: pytest.FixtureRequest
) -> None:
    topic = await create_topic(partitions=2)
    group = unique_name("g", request.node.name)
    tp = TopicPartition(topic, 0)

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        first = [await producer.send_and_wait(topic, f"a{i}".encode(), key=b"svc", partition=0) for i in range(3)]
        assert [meta.offset for meta in first] == [0, 1, 2]

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            assert await _consume(consumer, 3) == [(0, b"a0"), (1, b"a1"), (2, b"a2")]
            await consumer.commit()
            assert await consumer.committed(tp) == 3
        finally:
            await consumer.stop()

        await asyncio.gather(*(producer.send_and_wait(topic, f"b{i}".encode(), partition=0) for i in range(2)))
    finally:
        await producer.stop()

    resumed = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await resumed.start()
    try:
        later = await _consume(resumed, 2)
        # Nothing before the committed offset comes back, and nothing more is pending.
        assert sorted(later) == [(3, b"b0"), (4, b"b1")]
        assert await resumed.getmany(timeout_ms=300) == {}
    finally:
        await resumed.stop()
