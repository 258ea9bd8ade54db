"""The normalizer's group commit on the real servers: while a (slowed) round of MongoDB writes is
out, the next polls are mapped and published and their writes gather into the next round; every
delivery and event ends up stored once, what gathers stays within MAX_UNSTORED, and the committed
offsets reach the end of the raw topic."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from metricsync.kafka.codec import encode_raw
from metricsync.mongo.store import MongoStore
from metricsync.services import normalizer_service
from metricsync.services.normalizer_service import NormalizerService
from metricsync.settings import Settings
from metricsync.simulation.workload import MixedWorkload
from normalizer.mapping import map_delivery
from tests.integration.conftest import TopicFactory

pytestmark = pytest.mark.servers

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize("max_unstored", [normalizer_service.MAX_UNSTORED, 40])
async def test_polls_gather_into_rounds_of_writes_store_everything_once_and_commit(
    kafka_bootstrap: str,
    mongo_uri: str,
    mongo_db_name: str,
    create_topic: TopicFactory,
    monkeypatch: pytest.MonkeyPatch,
    max_unstored: int,
) -> None:
    monkeypatch.setattr(normalizer_service, "MAX_UNSTORED", max_unstored)
    raw_topic = await create_topic(2)
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        mongo_uri=mongo_uri,
        mongo_db=mongo_db_name,
        raw_topic=raw_topic,
        events_topic=await create_topic(2),
        dead_letter_topic=await create_topic(1),
        normalizer_group=f"{raw_topic}-normalizer",
    )
    deliveries = [g.delivery for g in MixedWorkload(8, 300, end=END, days=30, prefix="inflight")]
    rules = settings.mapping_rules()
    expected = [e for d in deliveries for e in map_delivery(d, rules)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for delivery in deliveries:
            key, value, headers = encode_raw(delivery)
            await producer.send(raw_topic, value=value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()

    store = MongoStore.from_settings(settings)
    await store.init()
    normalizer = NormalizerService(settings, store, rules)
    normalizer.max_records = 7  # many small polls, so several gather while a round is out
    rounds: list[int] = []  # deliveries per round of writes
    store_raw = store.put_raw_many

    async def slow_put_raw(batch):  # type: ignore[no-untyped-def]
        rounds.append(len(batch))
        await asyncio.sleep(0.05)  # a slow store: the next polls are mapped and published meanwhile
        return await store_raw(batch)

    store.put_raw_many = slow_put_raw  # type: ignore[method-assign]
    try:
        await normalizer.start()
        await asyncio.wait_for(normalizer.run(asyncio.Event(), burst=True), 120)
        await normalizer.stop()
        assert sum(rounds) == len(deliveries)  # each delivery in one round
        assert max(rounds) > normalizer.max_records  # a round held several polls
        assert normalizer.rounds == len(rounds)
        if max_unstored < len(deliveries):  # the polls waited once that much had gathered
            assert max(rounds) < max_unstored + normalizer.max_records
        assert await store.raw_count() == len(deliveries)
        stored = [e.id for service in sorted({e.service for e in expected}) for e in await store.events_for(service)]
        assert sorted(stored) == sorted({e.id for e in expected})  # each once
    finally:
        await store.close()

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=settings.normalizer_group)
    await consumer.start()
    try:
        partitions = [TopicPartition(raw_topic, p) for p in (0, 1)]
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            assert await consumer.committed(tp) == ends[tp]
    finally:
        await consumer.stop()
