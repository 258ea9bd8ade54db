"""Distributed ingest's DeliverySink: publish to the raw topic, or spool to disk while Kafka is away.

`submit` answers only once the delivery is durable: acknowledged by the broker (acks=all) or
appended and fsync'd to the spool. While anything waits in the spool, new deliveries go to the
spool too, so each key keeps its order; a background task drains it in order once Kafka answers.
Spool full and Kafka away: SinkUnavailable (the ingest answers 503 with Retry-After).

Duplicates: Kafka cannot say whether a delivery id was seen, so ingest remembers recent ids (an
LRU) and answers `duplicate` for those; older redeliveries are published again and change nothing
downstream (the normalizer and worker are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from metricsync.codec import decode_spool_record, encode_raw, encode_spool_record
from metricsync.kafka import make_producer
from metricsync.settings import Settings
from metricsync.spool import Spool, SpoolFull
from schemas.ports import SinkUnavailable
from schemas.raw import RawDelivery

log = logging.getLogger(__name__)

RECENT_IDS = 100_000
DRAIN_BATCH = 500


class RecentIds:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, delivery_id: str) -> bool:
        return delivery_id in self._ids

    def add(self, delivery_id: str) -> None:
        self._ids[delivery_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


class KafkaSink:
    def __init__(self, settings: Settings, spool: Spool) -> None:
        self.settings = settings
        self.topic = settings.raw_topic
        self.spool = spool
        self.send_timeout = settings.kafka_send_timeout.total_seconds()
        self.recent = RecentIds(RECENT_IDS)
        self._producer: AIOKafkaProducer | None = None
        self._drain_wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.spooled = 0

    async def start(self) -> None:
        await self._connect()
        self._task = asyncio.create_task(self._drain_forever(), name="spool-drain")
        if not self.spool.is_empty():
            self._drain_wakeup.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await self._producer.stop()
        self.spool.close()

    async def _connect(self) -> bool:
        if self._producer is not None:
            return True
        producer = make_producer(self.settings)
        try:
            await asyncio.wait_for(producer.start(), timeout=10)
        except (KafkaError, OSError, TimeoutError) as e:
            log.warning("kafka unreachable bootstrap=%s error=%s; spooling", self.settings.kafka_bootstrap, e)
            with contextlib.suppress(Exception):
                await producer.stop()
            return False
        self._producer = producer
        log.info("kafka producer connected bootstrap=%s topic=%s", self.settings.kafka_bootstrap, self.topic)
        return True

    # --- DeliverySink ----------------------------------------------------------------------------

    async def submit(self, delivery: RawDelivery) -> bool:
        if delivery.delivery_id in self.recent:
            return False
        if self._producer is not None and self.spool.is_empty():
            try:
                await self._publish(self._producer, delivery)
                self.recent.add(delivery.delivery_id)
                self.published += 1
                return True
            except (KafkaError, TimeoutError) as e:
                log.warning(
                    "kafka publish failed delivery_id=%s error=%s; spooling", delivery.delivery_id, type(e).__name__
                )
        await self._spool(delivery)
        self.recent.add(delivery.delivery_id)
        return True

    async def check_ready(self) -> str | None:
        if self._producer is None:
            return f"Kafka unreachable ({self.spool.pending_bytes} bytes spooled)"
        return None

    def status(self) -> dict[str, Any]:
        return {
            "kafka": "connected" if self._producer is not None else "unreachable",
            "published": self.published,
            "spooled": self.spooled,
            "spool_pending_bytes": self.spool.pending_bytes,
        }

    # --- internals -------------------------------------------------------------------------------

    async def _publish(self, producer: AIOKafkaProducer, delivery: RawDelivery) -> None:
        key, value, headers = encode_raw(delivery)
        # asyncio.timeout, not wait_for: no extra task per webhook
        async with asyncio.timeout(self.send_timeout):
            acknowledged = await producer.send(self.topic, value=value, key=key, headers=headers)
            await acknowledged

    async def _spool(self, delivery: RawDelivery) -> None:
        try:
            await self.spool.append(encode_spool_record(delivery))
        except SpoolFull as e:
            raise SinkUnavailable(f"Kafka is unreachable and {e}", retry_after_seconds=30) from e
        except OSError as e:
            raise SinkUnavailable(f"Kafka is unreachable and the spool cannot be written: {e}", 30) from e
        self.spooled += 1
        self._drain_wakeup.set()

    async def _drain_forever(self) -> None:
        backoff = 0.5
        while True:
            if self.spool.is_empty():
                self._drain_wakeup.clear()
                await self._drain_wakeup.wait()
            try:
                if await self._connect() and await self._drain_once():
                    backoff = 0.5
                    continue
            except Exception:
                log.exception("spool drain failed")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _drain_once(self) -> bool:
        """Publish one batch of spooled records in order. True if it made progress."""
        producer = self._producer
        if producer is None:
            return False
        records = await self.spool.read_pending(DRAIN_BATCH)
        if not records:
            return True
        try:
            futures = []
            for _, payload in records:
                key, value, headers = encode_raw(decode_spool_record(payload))
                futures.append(await producer.send(self.topic, value=value, key=key, headers=headers))
            await asyncio.wait_for(asyncio.gather(*futures), timeout=max(self.send_timeout * 5, 10))
        except (KafkaError, TimeoutError) as e:
            log.warning("spool drain: kafka not ready (%s); retrying", type(e).__name__)
            return False
        await self.spool.mark_drained(records[-1][0])
        self.published += len(records)
        log.info("spool drained records=%d pending_bytes=%d", len(records), self.spool.pending_bytes)
        return True
