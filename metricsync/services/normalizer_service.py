"""`metricsync normalizer`: raw topic -> unified events in MongoDB and on the events topic.

Per poll: decode records, map with the pure mappers, publish the events keyed by service (a
redelivered batch publishes them again: the worker skips events it has applied), send what cannot
be mapped to the dead-letter topic with its error. The MongoDB writes are a group commit that runs
beside the polls: keep every raw delivery (the immutable log rebuild re-derives from), store new
events (dedup by event id) and dead letters, then commit the offsets. While one round of writes is
out, the polls that follow are mapped and published and their writes gather; the next round takes
all of them at once (one insert per collection), so a poll never waits for the store of the one
before, and FerretDB's cost per call is shared by every poll that arrived meanwhile. Rounds run one
after the other, so offsets are committed in poll order. Only when what is gathered reaches
MAX_UNSTORED deliveries or MAX_UNSTORED_BYTES of bodies does the next poll wait for the round out.
Everything gathered is stored when idle, before partitions are revoked and on stop (before a revoke
during an outage it cannot be: it is dropped, and the partitions' next owner processes it again).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import ConsumerRebalanceListener, TopicPartition

from metricsync.kafka.codec import CodecError, decode_raw
from metricsync.kafka.consumer import ConsumerServiceBase
from metricsync.kafka.limits import raw_consumer_options
from metricsync.kafka.outage import is_transient
from metricsync.mongo.dead_letter_docs import letter_doc
from metricsync.mongo.store import RULES_DERIVED, RULES_NORMALIZER, MongoStore
from metricsync.settings import Settings
from metricsync.telemetry.pipeline import NO_PIPELINE_METRICS, PipelineObserver
from normalizer.mapping import map_or_error
from normalizer.rules import MappingRules, rules_fingerprint
from schemas.events import UnifiedEvent, event_to_json
from schemas.raw import RawDelivery

log = logging.getLogger(__name__)

MAX_UNSTORED = 6000  # deliveries published but not stored before a poll waits for the round out
MAX_UNSTORED_BYTES = 64 * 1024 * 1024  # or their bodies' bytes


@dataclass(slots=True)
class Unstored:
    """What polls published and did not yet store and commit: the next round of MongoDB writes."""

    deliveries: list[RawDelivery] = field(default_factory=list)
    events: list[UnifiedEvent] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)  # the events' JSON, as published
    letters: list[dict[str, Any]] = field(default_factory=list)
    sends: list[asyncio.Future[Any]] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    polls: int = 0
    body_bytes: int = 0

    def add(
        self,
        deliveries: list[RawDelivery],
        events: list[UnifiedEvent],
        payloads: list[bytes],
        letters: list[dict[str, Any]],
        sends: list[asyncio.Future[Any]],
        offsets: dict[TopicPartition, int],
    ) -> None:
        self.deliveries += deliveries
        self.events += events
        self.payloads += payloads
        self.letters += letters
        self.sends += sends
        self.offsets.update(offsets)  # polls come in offset order: a later one's offset is higher
        self.polls += 1
        self.body_bytes += sum(len(d.body) for d in deliveries)

    def full(self) -> bool:
        return len(self.deliveries) >= MAX_UNSTORED or self.body_bytes >= MAX_UNSTORED_BYTES


class NormalizerService(ConsumerServiceBase):
    name = "normalizer"

    def __init__(
        self,
        settings: Settings,
        store: MongoStore,
        rules: MappingRules,
        observer: PipelineObserver = NO_PIPELINE_METRICS,
    ) -> None:
        super().__init__(settings, settings.raw_topic, settings.normalizer_group)
        self.store = store
        self.rules = rules
        self.observer = observer  # /metrics: deliveries by outcome
        self.processed = 0
        self.dead = 0
        self.unstored = Unstored()
        self.storing: asyncio.Task[None] | None = None  # the rounds of writes, while there is something to store
        self._taken: asyncio.Future[None] | None = None  # resolved when a round takes what was gathered
        self.rounds = 0  # rounds of writes done (tests, logs)

    async def start(self) -> None:
        await super().start()
        await note_rules(self.store, self.rules)
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
                    self.observer.normalized("unknown", 0, True)
                    continue
                deliveries.append(delivery)
                mapped, error = map_or_error(delivery, self.rules)
                self.observer.normalized(delivery.source.value, len(mapped), error is not None)
                events.extend(mapped)
                if error is not None:
                    dead.append((tp, _dead_letter(tp, record, delivery, error)))
        letters = [letter for _, letter in dead]
        producer = await self.ensure_producer()
        payloads = [event_to_json(e) for e in events]  # published, then stored: serialized once
        futures = [
            await producer.send(self.settings.events_topic, value=payload, key=e.service.encode())
            for e, payload in zip(events, payloads, strict=True)
        ]
        for letter in letters:
            futures.append(
                await producer.send(
                    self.settings.dead_letter_topic, value=orjson.dumps(letter), key=letter["_id"].encode()
                )
            )
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
        self._check_storing()  # a failed round stops the normalizer here: nothing after it is committed
        self.unstored.add(deliveries, events, payloads, letters, futures, offsets)
        if self.storing is None:
            self.storing = asyncio.create_task(self._store_rounds(), name="normalizer-store")
        await self._room()
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

    async def _store_rounds(self) -> None:
        """Rounds of writes until nothing is left to store; each takes everything gathered."""
        while self.unstored.polls:
            batch, self.unstored = self.unstored, Unstored()
            if self._taken is not None and not self._taken.done():
                self._taken.set_result(None)
            await self._store_and_commit(batch)
            self.rounds += 1
        self.storing = None

    async def _store_and_commit(self, batch: Unstored) -> None:
        """One round: the MongoDB writes of every poll in it, then, with their Kafka sends
        acknowledged too, the offsets of the last of them."""
        started = time.perf_counter()
        await self.store.put_raw_many(batch.deliveries)
        await self.store.put_events(batch.events, batch.payloads)
        await self.store.put_dead_letters(batch.letters)
        await asyncio.gather(*batch.sends)
        await self.kafka_consumer().commit(batch.offsets)
        self.committed(batch.offsets)
        log.debug(
            "stored polls=%d deliveries=%d events=%d ms=%.1f",
            batch.polls,
            len(batch.deliveries),
            len(batch.events),
            (time.perf_counter() - started) * 1000,
        )

    def _check_storing(self) -> None:
        """Raise the error of a failed round of writes (its task ends with it)."""
        task = self.storing
        if task is not None and task.done():
            self.storing = None
            task.result()

    async def _room(self) -> None:
        """While what is gathered is full, wait for the round out to take it (or to fail)."""
        while self.unstored.full() and self.storing is not None and not self.storing.done():
            self._taken = asyncio.get_running_loop().create_future()
            await asyncio.wait([self.storing, self._taken], return_when=asyncio.FIRST_COMPLETED)
        self._check_storing()

    async def flush(self) -> None:
        """Wait until everything published is stored and committed (a failed round's error surfaces here)."""
        task = self.storing
        if task is not None:
            await asyncio.wait([task])
        self._check_storing()

    async def on_idle(self) -> None:
        await self.flush()

    async def abandon(self) -> None:
        """A transient failure: drop the rounds of writes in flight and what they gathered (the
        records are polled again from the committed offsets; MongoDB writes are idempotent)."""
        task, self.storing = self.storing, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            with contextlib.suppress(BaseException):
                await task
        for future in self.unstored.sends:
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: the failure is the outage already counted
        self.unstored = Unstored()
        if self._taken is not None and not self._taken.done():
            self._taken.set_result(None)

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
        try:
            await self.normalizer.flush()
        except Exception as e:
            await self.normalizer.abandon()  # what was gathered belongs to partitions that may go elsewhere
            if not is_transient(e):
                raise  # a bug: aiokafka logs it with its traceback, and the rebalance goes on
            # Kafka or MongoDB away: the next owner processes what was not committed
            log.warning(
                "storing and committing before the rebalance failed (%s: %s); uncommitted deliveries will be "
                "processed again by their next owner",
                type(e).__name__,
                e,
            )

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.normalizer.rebalanced()


def _dead_letter(tp: TopicPartition, record: Any, delivery: RawDelivery | None, error: str) -> dict[str, Any]:
    if delivery is not None:
        offset = record.offset if record is not None else None
        return letter_doc(delivery, error, datetime.now(UTC), tp.topic, tp.partition, offset)
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


async def note_rules(store: MongoStore, rules: MappingRules) -> None:
    """Record the rules this normalizer maps with; warn when the stored events were derived with others
    (a catalog alias or mapping setting changed): `metricsync rebuild --distributed` re-derives them."""
    current = rules_fingerprint(rules)
    await store.set_meta(RULES_NORMALIZER, current)
    derived = await store.get_meta(RULES_DERIVED)
    if derived is None:
        await store.set_meta(RULES_DERIVED, current)
    elif derived != current:
        log.warning(
            "catalog aliases or mapping settings changed since the stored events were derived (fingerprint %s -> %s): "
            "new deliveries use the new ones; run `metricsync rebuild --distributed` (normalizers and workers "
            "stopped) to re-derive the history",
            derived,
            current,
        )
