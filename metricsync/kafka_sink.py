"""Distributed ingest's DeliverySink: publish to the raw topic, or spool to disk while Kafka is away.

`submit` answers only once the delivery is durable: acknowledged by the broker (acks=all) or
appended and fsync'd to the spool. Records are published through `BatchPublisher` (the deliveries
that arrive while one produce request is out share the next one; each still waits for its own
acknowledgement). While anything waits in a spool this process holds, new deliveries go to its
spool too, so each key keeps its order; a background task drains it in order once Kafka answers.
Spool full and Kafka away: SinkUnavailable (the ingest answers 503 with Retry-After).

Spools: each ingest process claims its own slot under METRICSYNC_SPOOL_DIR at start (see
`metricsync.spool`), plus every orphaned slot that still holds records (a process that died, a
worker index no longer running), and drains those first; it looks for new orphans every
`ORPHAN_SCAN_SECONDS`.

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
from metricsync.kafka_batch import BatchPublisher
from metricsync.settings import Settings
from metricsync.spool import Spool, SpoolFull, claim_orphans, claim_own_spool
from schemas.ports import SinkUnavailable
from schemas.raw import RawDelivery

log = logging.getLogger(__name__)

RECENT_IDS = 100_000
DRAIN_BATCH = 500
ORPHAN_SCAN_SECONDS = 30.0


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
    """`spool`: this process's own spool; None claims a slot under `settings.spool_dir` at start."""

    def __init__(self, settings: Settings, spool: Spool | None = None) -> None:
        self.settings = settings
        self.topic = settings.raw_topic
        self._spool = spool
        self._orphans: list[Spool] = []  # other slots' leftovers this process drains (then lets go)
        self.send_timeout = settings.kafka_send_timeout.total_seconds()
        self.recent = RecentIds(RECENT_IDS)
        self._producer: AIOKafkaProducer | None = None
        self._publisher: BatchPublisher | None = None
        self._drain_wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.spooled = 0

    @property
    def spool(self) -> Spool:
        if self._spool is None:
            raise RuntimeError("KafkaSink.start() claims the spool")
        return self._spool

    async def start(self) -> None:
        root, max_bytes = self.settings.spool_dir, self.settings.spool_max_bytes
        if self._spool is None:
            self._spool = await asyncio.to_thread(claim_own_spool, root, max_bytes)
            self._orphans = await asyncio.to_thread(claim_orphans, root, max_bytes, self._spool.directory)
        await self._connect()
        self._task = asyncio.create_task(self._drain_forever(), name="spool-drain")
        if self._backlog():
            self._drain_wakeup.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._publisher is not None:
            await self._publisher.close()
            log.info(
                "kafka sink stopped published=%d spooled=%d produce_batches_of_webhooks=%d",
                self.published,
                self.spooled,
                self._publisher.generations,
            )
        if self._producer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await self._producer.stop()
        for spool in self._orphans:
            spool.close()
        if self._spool is not None:
            self._spool.close()

    def _backlog(self) -> bool:
        """Records wait in a spool this process holds: new deliveries queue behind them."""
        return bool(self._orphans) or not self.spool.is_empty()

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
        self._publisher = BatchPublisher(producer, self.topic, self.send_timeout)
        log.info("kafka producer connected bootstrap=%s topic=%s", self.settings.kafka_bootstrap, self.topic)
        return True

    # --- DeliverySink ----------------------------------------------------------------------------

    async def submit(self, delivery: RawDelivery) -> bool:
        if delivery.delivery_id in self.recent:
            return False
        publisher = self._publisher
        if publisher is not None and not self._orphans and self.spool.is_empty():
            try:
                key, value, headers = encode_raw(delivery)
                await publisher.publish(key, value, headers)
                self.recent.add(delivery.delivery_id)
                self.published += 1
                return True
            except (KafkaError, TimeoutError) as e:
                log.warning(
                    "kafka publish failed delivery_id=%s error=%s; spooling", delivery.delivery_id, type(e).__name__
                )
        await self._spool_delivery(delivery)
        self.recent.add(delivery.delivery_id)
        return True

    async def check_ready(self) -> str | None:
        if self._producer is None:
            return f"Kafka unreachable ({self._pending_bytes()} bytes spooled)"
        return None

    def status(self) -> dict[str, Any]:
        return {
            "kafka": "connected" if self._producer is not None else "unreachable",
            "published": self.published,
            "spooled": self.spooled,
            "spool": str(self.spool.directory),
            "spool_pending_bytes": self._pending_bytes(),
        }

    def _pending_bytes(self) -> int:
        return self.spool.pending_bytes + sum(orphan.pending_bytes for orphan in self._orphans)

    # --- internals -------------------------------------------------------------------------------

    async def _spool_delivery(self, delivery: RawDelivery) -> None:
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
            if not self._backlog():
                self._drain_wakeup.clear()
                try:
                    async with asyncio.timeout(ORPHAN_SCAN_SECONDS):
                        await self._drain_wakeup.wait()
                except TimeoutError:
                    await self._claim_orphans()
                    continue
            try:
                if await self._connect() and await self._drain_once():
                    backoff = 0.5
                    continue
            except Exception:
                log.exception("spool drain failed")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _claim_orphans(self) -> None:
        """Slots left with records by a process that is gone (crashed and not restarted, or a worker
        index beyond the current count): drain them here."""
        root, max_bytes = self.settings.spool_dir, self.settings.spool_max_bytes
        try:
            found = await asyncio.to_thread(claim_orphans, root, max_bytes, self.spool.directory)
        except OSError as e:
            log.warning("spool: cannot scan %s for orphaned spools: %s", root, e)
            return
        self._orphans.extend(found)

    async def _drain_once(self) -> bool:
        """Publish one batch of spooled records in order (orphaned spools first: their records are
        the oldest). True if it made progress."""
        producer = self._producer
        if producer is None:
            return False
        spool = self._orphans[0] if self._orphans else self.spool
        records = await spool.read_pending(DRAIN_BATCH)
        if not records:
            if spool is not self.spool:
                self._release_orphan(spool)
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
        await spool.mark_drained(records[-1][0])
        self.published += len(records)
        log.info(
            "spool drained spool=%s records=%d pending_bytes=%d", spool.directory, len(records), spool.pending_bytes
        )
        if spool is not self.spool and spool.is_empty():
            self._release_orphan(spool)
        return True

    def _release_orphan(self, spool: Spool) -> None:
        self._orphans.remove(spool)
        spool.close()
        log.info("spool: orphan %s drained and released", spool.directory)
