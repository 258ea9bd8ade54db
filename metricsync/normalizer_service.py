"""`metricsync normalizer`: raw topic -> unified events in MongoDB and on the events topic.

Per poll: decode records, map with the pure mappers, publish the events keyed by service (a
redelivered batch publishes them again: the worker skips events it has applied), send what cannot
be mapped to the dead-letter topic with its error; then, while the next polls are mapped, keep every
raw delivery in MongoDB (the immutable log rebuild re-derives from), store new events (dedup by
event id) and dead letters, and only then commit the poll's offsets. Up to MAX_INFLIGHT polls wait
for their MongoDB writes, stored one after the other and committed in order, so the events of a
poll go out without waiting for the store of the one before (FerretDB's writes are the slow part);
they are flushed when idle, before partitions are revoked and on stop.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import ConsumerRebalanceListener, TopicPartition

from metricsync.codec import CodecError, decode_raw
from metricsync.consumer import ConsumerServiceBase
from metricsync.kafka_limits import raw_consumer_options
from metricsync.mapping import map_or_error
from metricsync.mongo_store import MongoStore
from metricsync.settings import Settings
from normalizer.rules import MappingRules
from schemas.events import UnifiedEvent, event_to_json
from schemas.raw import RawDelivery

log = logging.getLogger(__name__)

MAX_INFLIGHT = 3  # polls published but not yet stored and committed


class NormalizerService(ConsumerServiceBase):
    name = "normalizer"

    def __init__(self, settings: Settings, store: MongoStore, rules: MappingRules) -> None:
        super().__init__(settings, settings.raw_topic, settings.normalizer_group)
        self.store = store
        self.rules = rules
        self.processed = 0
        self.dead = 0
        self.inflight: collections.deque[asyncio.Task[None]] = collections.deque()

    async def start(self) -> None:
        await super().start()
        log.info(
            "events collection: %s",
            "time-series" if await self.store.events_are_timeseries() else "ordinary (no time-series on this server)",
        )

    async def process(self, tp: TopicPartition, records: Sequence[Any]) -> None:
        await self.process_batches({tp: records})

    async def process_batches(self, batches: Mapping[TopicPartition, Sequence[Any]]) -> None:
        """All partitions of one poll together: their MongoDB writes and Kafka sends share round
        trips; the offsets are committed once everything is stored and sent."""
        if not batches:
            return
        started = time.perf_counter()
        deliveries: list[RawDelivery] = []
        events: list[UnifiedEvent] = []
        dead: list[tuple[TopicPartition, dict[str, Any]]] = []
        for tp, records in batches.items():
            for record in records:
                try:
                    delivery = decode_raw(record.key, record.value, record.headers)
                except CodecError as e:
                    dead.append((tp, _dead_letter(tp, record, None, str(e))))
                    continue
                deliveries.append(delivery)
                mapped, error = map_or_error(delivery, self.rules)
                events.extend(mapped)
                if error is not None:
                    dead.append((tp, _dead_letter(tp, None, delivery, error)))
        letters = [letter for _, letter in dead]
        producer = self.kafka_producer()
        futures = [
            await producer.send(self.settings.events_topic, value=event_to_json(e), key=e.service.encode())
            for e in events
        ]
        for letter in letters:
            futures.append(
                await producer.send(
                    self.settings.dead_letter_topic, value=orjson.dumps(letter), key=letter["_id"].encode()
                )
            )
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
        while len(self.inflight) >= MAX_INFLIGHT:
            await self.inflight.popleft()  # its errors surface here
        previous = self.inflight[-1] if self.inflight else None
        self.inflight.append(
            asyncio.create_task(self._store_and_commit(previous, deliveries, events, letters, futures, offsets))
        )
        count = sum(len(records) for records in batches.values())
        self.processed += count
        self.dead += len(dead)
        log.debug(
            "normalized topic=%s partitions=%s records=%d events=%d dead=%d ms=%.1f",
            self.topic,
            ",".join(f"{tp.partition}@{records[-1].offset}" for tp, records in batches.items()),
            count,
            len(events),
            len(dead),
            (time.perf_counter() - started) * 1000,
        )
        for tp, letter in dead:
            if letter["source"] is not None:
                continue  # mapping failures were logged by map_or_error
            log.warning(
                "dead letter (undecodable record) partition=%d id=%s error=%s",
                tp.partition,
                letter["_id"],
                letter["error"],
            )

    async def _store_and_commit(
        self,
        previous: asyncio.Task[None] | None,
        deliveries: list[RawDelivery],
        events: list[UnifiedEvent],
        letters: list[dict[str, Any]],
        sends: list[asyncio.Future[Any]],
        offsets: dict[TopicPartition, int],
    ) -> None:
        """The MongoDB writes of one poll (while the next polls are mapped), then, with the Kafka sends
        acknowledged too, its offsets; after the poll before it (`previous`) is stored and committed,
        so offsets are committed in order. If `previous` failed, this one fails too, uncommitted."""
        if previous is not None:
            await asyncio.shield(previous)  # shared with flush(): cancelling this must not cancel that
        await self.store.put_raw_many(deliveries)
        await self.store.put_events(events)
        await self.store.put_dead_letters(letters)
        await asyncio.gather(*sends)
        await self.kafka_consumer().commit(offsets)

    async def flush(self) -> None:
        """Wait for every poll in flight to be stored and committed (the first error surfaces here)."""
        while self.inflight:
            await self.inflight.popleft()

    async def on_idle(self) -> None:
        await self.flush()

    async def on_stop(self) -> None:
        await self.flush()

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        return _FlushOnRevoke(self)

    def consumer_options(self) -> dict[str, Any]:
        """Fetches that hold the largest raw record (a body of METRICSYNC_MAX_BODY_BYTES)."""
        return dict(raw_consumer_options(self.settings))


class _FlushOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Store and commit the poll in flight before its partitions go to another normalizer."""

    def __init__(self, normalizer: NormalizerService) -> None:
        self.normalizer = normalizer

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self.normalizer.flush()

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        pass


def _dead_letter(tp: TopicPartition, record: Any, delivery: RawDelivery | None, error: str) -> dict[str, Any]:
    if delivery is not None:
        return {
            "_id": delivery.delivery_id,
            "source": delivery.source.value,
            "event_type": delivery.event_type,
            "error": error,
            "topic": tp.topic,
            "partition": tp.partition,
            "received_at": delivery.received_at.isoformat(),
            "body_b64": base64.b64encode(delivery.body).decode(),
            "at": datetime.now(UTC).isoformat(),
        }
    return {
        "_id": f"{tp.topic}/{tp.partition}/{record.offset}",
        "source": None,
        "event_type": None,
        "error": error,
        "topic": tp.topic,
        "partition": tp.partition,
        "offset": record.offset,
        "body_b64": base64.b64encode(record.value or b"").decode(),
        "at": datetime.now(UTC).isoformat(),
    }
