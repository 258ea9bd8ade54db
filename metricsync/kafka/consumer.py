"""What the normalizer and the worker share: a Kafka consumer-group member that processes batches
per partition and produces to other topics, polled in a loop that `metricsync.services.lifecycle` drives."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from metricsync.kafka.clients import caught_up, make_consumer, make_producer
from metricsync.settings import Settings

log = logging.getLogger(__name__)


class ConsumerServiceBase:
    """Subclasses implement `process` (one partition's batch) and may hook `on_idle`, `on_stop`
    and `rebalance_listener`."""

    name = "consumer"
    poll_timeout_ms = 200
    max_records = 2000

    def __init__(self, settings: Settings, topic: str, group: str) -> None:
        self.settings = settings
        self.topic = topic
        self.group = group
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.last_poll = time.monotonic()

    async def start(self) -> None:
        self.producer = make_producer(self.settings)
        await self.producer.start()
        self.consumer = make_consumer(self.settings, self.group, **self.consumer_options())
        listener = self.rebalance_listener()
        if listener is None:
            self.consumer.subscribe([self.topic])
        else:
            self.consumer.subscribe([self.topic], listener=listener)
        await self.consumer.start()
        log.info("%s started topic=%s group=%s", self.name, self.topic, self.group)

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.on_stop()
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()

    async def run(self, stop: asyncio.Event, burst: bool = False) -> None:
        """Process until `stop` is set (with burst: until every assigned partition is read to its end)."""
        consumer = self.kafka_consumer()
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=self.poll_timeout_ms, max_records=self.max_records)
            self.last_poll = time.monotonic()
            if not batches:
                await self.on_idle()
                if burst and await caught_up(consumer):
                    return
            else:
                await self.process_batches(batches)

    async def process_batches(self, batches: Mapping[TopicPartition, Sequence[Any]]) -> None:
        """One poll's records, by partition. By default one `process` per partition; a service that
        can share round trips between partitions overrides this."""
        for tp, records in batches.items():
            await self.process(tp, records)

    async def process(self, tp: TopicPartition, records: Sequence[Any]) -> None:
        raise NotImplementedError

    async def on_idle(self) -> None:
        """A poll returned nothing."""

    async def on_stop(self) -> None:
        """Before the consumer leaves its group."""

    def rebalance_listener(self) -> ConsumerRebalanceListener | None:
        return None

    def consumer_options(self) -> dict[str, Any]:
        """Overrides of `make_consumer`'s options for this service's topic."""
        return {}

    def kafka_consumer(self) -> AIOKafkaConsumer:
        if self.consumer is None:
            raise RuntimeError(f"{self.name} not started")
        return self.consumer

    def kafka_producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            raise RuntimeError(f"{self.name} not started")
        return self.producer
