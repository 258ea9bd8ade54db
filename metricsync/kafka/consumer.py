"""What the normalizer and the worker share: a Kafka consumer-group member that processes batches
per partition and produces to other topics, polled in a loop that `metricsync.services.lifecycle` drives.

Outages: a transient error (metricsync.kafka.outage: broker away, leader moving, request timed out,
coordinator lost, MongoDB away) does not end the loop. The service drops what it has not committed
(`abandon`), replaces its producer (an idempotent producer whose batches failed has spent sequence
numbers the broker never stored), seeks back to the offsets it last committed, waits (backoff with
jitter) and polls again: the same records are processed again, and everything downstream is
idempotent. Nothing is committed while it cannot publish. Outages are logged once per interval with
a count; one lasting more than METRICSYNC_NOT_READY_AFTER makes the service not ready."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from metricsync.kafka.clients import caught_up, make_consumer, make_producer
from metricsync.kafka.outage import Outage, is_transient
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
        self.outage = Outage(self.name, not_ready_after=settings.not_ready_after.total_seconds())
        self.rewind_to: dict[TopicPartition, int] = {}  # where a partition's uncommitted records begin
        self._producer_started = False
        self._caught_up = False

    async def start(self) -> None:
        self.producer = make_producer(self.settings)
        await self.producer.start()
        self._producer_started = True
        self.consumer = make_consumer(self.settings, self.group, **self.consumer_options())
        listener = self.rebalance_listener()
        if listener is None:
            self.consumer.subscribe([self.topic])
        else:
            self.consumer.subscribe([self.topic], listener=listener)
        await self.consumer.start()
        log.info("%s started topic=%s group=%s", self.name, self.topic, self.group)

    async def stop(self) -> None:
        """Finish (on_stop), leave the group, close the producer. With Kafka away the finishing
        fails: what it could not commit is processed again by the next owner."""
        if self.consumer is not None:
            try:
                await self.on_stop()
            except Exception as e:
                if not is_transient(e):
                    raise
                log.warning("%s: could not finish at stop (%s); uncommitted records will be replayed", self.name, e)
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()

    async def run(self, stop: asyncio.Event, burst: bool = False) -> None:
        """Process until `stop` is set (with burst: until every assigned partition is read to its
        end); transient failures are waited out (see the module docstring)."""
        while not stop.is_set():
            try:
                await self._poll_once(burst)
                if burst and self._caught_up:
                    return
            except Exception as e:
                if not is_transient(e):
                    raise
                delay = self.outage.failed(e)
                await self._recover()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    async def _poll_once(self, burst: bool) -> None:
        consumer = self.kafka_consumer()
        self._caught_up = False
        batches = await consumer.getmany(timeout_ms=self.poll_timeout_ms, max_records=self.max_records)
        self.last_poll = time.monotonic()
        if not batches:
            await self.on_idle()
            if self.outage.since is not None:
                await self._probe()  # idle after an outage: recovered once Kafka answers again
            if burst:
                self._caught_up = await caught_up(consumer)
            return
        for tp, records in batches.items():
            self.rewind_to.setdefault(tp, records[0].offset)
        await self.process_batches(batches)

    async def _probe(self) -> None:
        consumer = self.kafka_consumer()
        assignment = list(consumer.assignment())
        async with asyncio.timeout(10):
            if assignment:
                await consumer.end_offsets(assignment)
            else:
                await consumer.topics()
        self.outage.recovered()

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Offsets committed: a rewind goes back no further; the outage, if any, is over."""
        self.rewind_to.update(offsets)
        self.outage.recovered()

    async def _recover(self) -> None:
        """After a transient failure: forget what was not committed, replace the producer, and seek
        back to where the uncommitted records begin."""
        await self.abandon()
        self._producer_started = False  # started by the next ensure_producer (Kafka may still be away)
        consumer = self.kafka_consumer()
        assigned = consumer.assignment()
        for tp, offset in self.rewind_to.items():
            if tp in assigned:
                consumer.seek(tp, offset)
        self.rewind_to.clear()

    async def abandon(self) -> None:
        """Drop everything processed but not committed (a transient failure): it is processed again."""

    def rebalanced(self) -> None:
        """Partitions were assigned: their positions come from the committed offsets."""
        self.rewind_to.clear()

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

    async def ensure_producer(self) -> AIOKafkaProducer:
        """The producer, started (after an outage its replacement may not have connected yet)."""
        if not self._producer_started:
            producer = make_producer(self.settings)  # a fresh one each try: a failed start is not retried
            try:
                async with asyncio.timeout(10):
                    await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            old, self.producer = self.producer, producer
            self._producer_started = True
            if old is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await old.stop()
        return self.kafka_producer()
