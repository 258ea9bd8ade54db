"""Distributed ingest's DeliverySink: publish to the raw topic, or spool to disk while Kafka is away.

`submit` answers only once the delivery is durable: acknowledged by the broker (acks=all) or
appended and fsync'd to the spool. Records are published through `BatchPublisher` (the deliveries
that arrive while one produce request is out share the next one; each still waits for its own
acknowledgement). While anything waits in a spool this process holds, new deliveries go to its
spool too, so each key keeps its order; a background task drains it in order once Kafka answers.
Spool full and Kafka away: SinkUnavailable (the ingest answers 503 with Retry-After).

Spools: each ingest process claims its own slot under METRICSYNC_SPOOL_DIR at start (see
`metricsync.kafka.spool`), plus every orphaned slot that still holds records (a process that died, a
worker index no longer running), and drains those first; it looks for new orphans every
`ORPHAN_SCAN_SECONDS`.

Duplicates: Kafka cannot say whether a delivery id was seen, so ingest remembers recent ids (an
LRU) and answers `duplicate` for those; older redeliveries are published again and change nothing
downstream (the normalizer and worker are idempotent).

Records Kafka refuses for their size (the producer's `max_request_size` and the topic's
`max.message.bytes` follow METRICSYNC_MAX_BODY_BYTES, see `metricsync.kafka.limits`, but a broker
or topic may be configured smaller): that is not "Kafka is away". A delivery refused when published
directly is answered 413 (DeliveryTooLarge), naming the limit, and not stored. One already in the
spool is sent again alone on a fresh producer; refused again, it is moved aside to the slot's
`rejected.log` (logged with its delivery id and size) and the drain goes on with the records behind
it. After a refusal by the broker the producer is replaced: aiokafka's idempotent producer has used
sequence numbers for the refused batch that the broker never stored, and every later batch to that
partition would fail with OutOfOrderSequenceNumber.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber

from metricsync.kafka.batch import BatchPublisher, RecordTooLarge
from metricsync.kafka.clients import make_producer, topic_max_message_bytes_now
from metricsync.kafka.codec import decode_spool_record, encode_raw, encode_spool_record
from metricsync.kafka.limits import (
    MAX_MESSAGE_BYTES,
    TOO_LARGE_ERRORS,
    is_too_large,
    producer_max_request_size,
    raw_record_limit,
    record_size,
)
from metricsync.kafka.spool import Spool, SpoolFull, claim_orphans, claim_own_spool
from metricsync.settings import Settings
from schemas.ports import DeliveryTooLarge, SinkUnavailable
from schemas.raw import RawDelivery

log = logging.getLogger(__name__)

RECENT_IDS = 100_000
DRAIN_BATCH = 500
ORPHAN_SCAN_SECONDS = 30.0
LIMIT_LOOKUP_SECONDS = 3.0  # naming the topic's limit in a 413 must not hold the answer up for long


class _Undecodable(Exception):
    """A spooled record that is not a raw delivery (it can never be published)."""


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
        self._connect_lock = asyncio.Lock()
        self._renewal: asyncio.Task[None] | None = None  # a producer being replaced (see _renew_producer)
        self._reconnect = False  # a replacement could not connect: the drain task connects a new producer
        self._closing: set[asyncio.Task[None]] = set()
        self.published = 0
        self.spooled = 0
        self.refused = 0  # answered 413: too large for Kafka
        self.rejected = 0  # moved aside from a spool: too large for Kafka (or undecodable)

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
        if self._renewal is not None:  # let it finish connecting (within its 10 s), then stop what it made
            await asyncio.wait([self._renewal])
        if self._publisher is not None:
            await self._publisher.close()
            log.info(
                "kafka sink stopped published=%d spooled=%d produce_batches_of_webhooks=%d refused=%d rejected=%d",
                self.published,
                self.spooled,
                self._publisher.generations,
                self.refused,
                self.rejected,
            )
        if self._producer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await self._producer.stop()
        if self._closing:
            await asyncio.wait(self._closing)
        for spool in self._orphans:
            spool.close()
        if self._spool is not None:
            self._spool.close()

    def _backlog(self) -> bool:
        """Records wait in a spool this process holds: new deliveries queue behind them."""
        return bool(self._orphans) or not self.spool.is_empty()

    async def _connect(self) -> bool:
        async with self._connect_lock:  # the drain task and a producer renewal may both connect
            return await self._connect_locked()

    async def _connect_locked(self) -> bool:
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
        self._reconnect = False
        log.info("kafka producer connected bootstrap=%s topic=%s", self.settings.kafka_bootstrap, self.topic)
        return True

    async def _renew_producer(self, publisher: BatchPublisher | None, reason: str) -> None:
        """Replace the producer behind `publisher`, if it is still the current one, by a new one (the
        old one is closed in the background). Concurrent callers share one renewal; new deliveries
        wait for it (within the send timeout) instead of spooling."""
        if self._renewal is None:
            producer = self._producer
            if publisher is None or publisher is not self._publisher or producer is None:
                return  # already replaced
            self._producer = None
            self._publisher = None
            log.warning("kafka producer replaced topic=%s reason=%s", self.topic, reason)
            closing = asyncio.create_task(self._close_producer(publisher, producer), name="kafka-producer-close")
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
            self._renewal = asyncio.create_task(self._reconnect_now(), name="kafka-producer-renewal")
        await asyncio.shield(self._renewal)

    async def _reconnect_now(self) -> None:
        try:
            if not await self._connect():
                self._reconnect = True  # Kafka away meanwhile: the drain task keeps trying
                self._drain_wakeup.set()
        finally:
            self._renewal = None

    async def _close_producer(self, publisher: BatchPublisher, producer: AIOKafkaProducer) -> None:
        await publisher.close()
        with contextlib.suppress(KafkaError, OSError):
            await producer.stop()

    # --- DeliverySink ----------------------------------------------------------------------------

    async def submit(self, delivery: RawDelivery, payload: dict[str, Any] | None = None) -> bool:
        if delivery.delivery_id in self.recent:
            return False
        if self._renewal is not None:  # the producer is being replaced: a moment, not an outage
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.send_timeout):
                    await asyncio.shield(self._renewal)
        publisher = self._publisher
        if publisher is not None and not self._orphans and self.spool.is_empty():
            try:
                key, value, headers = encode_raw(delivery)
                await publisher.publish(key, value, headers)
                self.recent.add(delivery.delivery_id)
                self.published += 1
                return True
            except RecordTooLarge as e:
                if e.by_broker:
                    await self._renew_producer(publisher, f"the broker refused a record as too large ({e})")
                if e.alone:
                    raise await self._too_large(delivery, e) from e
                # It shared a batch the broker refused: which record is too large is unknown. The
                # spool drain sends each alone and moves aside the ones refused again.
                log.warning(
                    "kafka refused a batch as too large delivery_id=%s size=%d; spooling", delivery.delivery_id, e.size
                )
            except OutOfOrderSequenceNumber as e:  # an earlier refusal broke the partition's sequence
                await self._renew_producer(publisher, type(e).__name__)
                log.warning("kafka publish failed delivery_id=%s error=%s; spooling", delivery.delivery_id, e)
            except (KafkaError, TimeoutError) as e:
                log.warning(
                    "kafka publish failed delivery_id=%s error=%s; spooling", delivery.delivery_id, type(e).__name__
                )
        await self._spool_delivery(delivery)
        self.recent.add(delivery.delivery_id)
        return True

    async def _too_large(self, delivery: RawDelivery, error: RecordTooLarge) -> DeliveryTooLarge:
        """The 413 for a delivery Kafka refused for its size, naming the limit; logged with context."""
        self.refused += 1
        if error.by_broker:
            limit: int | None = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LIMIT_LOOKUP_SECONDS):
                    limit = await topic_max_message_bytes_now(self.settings, self.topic)
            stated = f"{limit} bytes" if limit is not None else "a limit below it"
            compression = self.settings.kafka_compression
            stored_as = f"after {compression} compression" if compression else "uncompressed"
            reason = (
                f"Kafka refused this delivery as too large: it is a {error.size}-byte record, and topic "
                f"{self.topic} takes batches of at most {MAX_MESSAGE_BYTES}={stated} ({stored_as}). "
                f"It was not stored. Raise the topic's {MAX_MESSAGE_BYTES} to "
                f"{raw_record_limit(self.settings.ingest.max_body_bytes)} (metricsync init does), "
                "or send a smaller payload."
            )
        else:
            reason = (
                f"This delivery is a {error.size}-byte Kafka record, above the producer's max_request_size of "
                f"{producer_max_request_size(self.settings)} bytes (METRICSYNC_MAX_BODY_BYTES="
                f"{self.settings.ingest.max_body_bytes} plus its metadata). It was not stored; send a smaller payload."
            )
        log.warning(
            "kafka refused a delivery as too large delivery_id=%s source=%s key=%s body_bytes=%d record_bytes=%d "
            "topic=%s by_broker=%s; answering 413",
            delivery.delivery_id,
            delivery.source.value,
            delivery.key,
            len(delivery.body),
            error.size,
            self.topic,
            error.by_broker,
        )
        return DeliveryTooLarge(reason)

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
            "refused_too_large": self.refused,
            "spool_rejected": self.rejected,
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
            if not self._backlog() and not self._reconnect:
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
        outcomes = await self._send_in_order(producer, [payload for _, payload in records])
        published = next((i for i, outcome in enumerate(outcomes) if outcome is not None), len(records))
        if published:
            await spool.mark_drained(records[published - 1][0])
            self.published += published
            log.info(
                "spool drained spool=%s records=%d pending_bytes=%d", spool.directory, published, spool.pending_bytes
            )
        if published == len(records):
            if spool is not self.spool and spool.is_empty():
                self._release_orphan(spool)
            return True
        error = outcomes[published]
        end, payload = records[published]
        if isinstance(error, _Undecodable):
            await self._move_aside(spool, end, payload, None, str(error))
            return True
        if error is not None and (is_too_large(error) or isinstance(error, OutOfOrderSequenceNumber)):
            return await self._retry_alone(spool, end, payload, error)
        log.warning("spool drain: kafka not ready (%s); retrying", type(error).__name__)
        return published > 0

    async def _send_in_order(self, producer: AIOKafkaProducer, payloads: list[bytes]) -> list[BaseException | None]:
        """Send the records in order and wait for them; each one's outcome (None: acknowledged).
        A record that cannot be sent (undecodable, or refused by `send` itself) ends the sending:
        its outcome is that error, the ones after it are not sent (their outcome: not attempted)."""
        futures: list[asyncio.Future[object]] = []
        stopped: BaseException | None = None
        for payload in payloads:
            try:
                key, value, headers = encode_raw(_decode(payload))
            except _Undecodable as e:
                stopped = e
                break
            try:
                futures.append(await producer.send(self.topic, value=value, key=key, headers=headers))
            except TOO_LARGE_ERRORS as e:  # the producer's own check: nothing was sent
                stopped = RecordTooLarge(str(e), record_size(key, value, headers), alone=True, by_broker=False)
                break
            except KafkaError as e:
                stopped = e
                break
        outcomes: list[BaseException | None] = []
        if futures:
            done, pending = await asyncio.wait(futures, timeout=max(self.send_timeout * 5, 10))
            for future in pending:
                future.cancel()
            for future in futures:
                if future in done:
                    outcomes.append(KafkaError("send cancelled") if future.cancelled() else future.exception())
                else:
                    outcomes.append(TimeoutError("Kafka did not acknowledge the spooled record in time"))
        if stopped is not None:
            outcomes.append(stopped)
        not_attempted = KafkaError("not sent: a record before it failed")
        return outcomes + [not_attempted] * (len(payloads) - len(outcomes))

    async def _retry_alone(self, spool: Spool, end: int, payload: bytes, error: BaseException) -> bool:
        """The first undrained record was refused for its size (or its partition's sequence was broken
        by such a refusal): send it alone, on a fresh producer where the broker refused; refused again,
        move it aside. True if the spool moved on."""
        if not (isinstance(error, RecordTooLarge) and not error.by_broker):
            await self._renew_producer(self._publisher, f"the broker refused a spooled record ({error})")
        producer = self._producer
        if producer is None:
            return False
        delivery = decode_spool_record(payload)  # _send_in_order decoded it already
        key, value, headers = encode_raw(delivery)
        size = record_size(key, value, headers)
        try:
            acknowledged = await producer.send(self.topic, value=value, key=key, headers=headers)
        except TOO_LARGE_ERRORS as e:
            limit = producer_max_request_size(self.settings)
            reason = f"{size}-byte record, above the producer's max_request_size={limit}: {e}"
            await self._move_aside(spool, end, payload, delivery, reason)
            return True
        try:
            await asyncio.wait_for(acknowledged, timeout=max(self.send_timeout * 5, 10))
        except TOO_LARGE_ERRORS as e:
            reason = f"{size}-byte record refused by the broker (topic {MAX_MESSAGE_BYTES} too small): {e}"
            await self._move_aside(spool, end, payload, delivery, reason)
            await self._renew_producer(self._publisher, "the broker refused a spooled record as too large")
            return True
        except (KafkaError, TimeoutError) as e:
            log.warning("spool drain: kafka not ready (%s); retrying", type(e).__name__)
            return False
        await spool.mark_drained(end)
        self.published += 1
        return True

    async def _move_aside(
        self, spool: Spool, end: int, payload: bytes, delivery: RawDelivery | None, reason: str
    ) -> None:
        """Keep a record Kafka will never take in the slot's rejected.log, and drain past it."""
        await spool.reject(payload)
        await spool.mark_drained(end)
        self.rejected += 1
        log.error(
            "spool: record moved aside, Kafka will not take it delivery_id=%s source=%s key=%s body_bytes=%s "
            "topic=%s file=%s reason=%s",
            delivery.delivery_id if delivery else "-",
            delivery.source.value if delivery else "-",
            delivery.key if delivery else "-",
            len(delivery.body) if delivery else "-",
            self.topic,
            spool.rejected_path,
            reason,
        )

    def _release_orphan(self, spool: Spool) -> None:
        self._orphans.remove(spool)
        spool.close()
        log.info("spool: orphan %s drained and released", spool.directory)


def _decode(payload: bytes) -> RawDelivery:
    try:
        return decode_spool_record(payload)
    except (ValueError, KeyError, TypeError) as e:  # CodecError, orjson and base64 errors are ValueErrors
        raise _Undecodable(f"the spooled record is not a raw delivery ({e})") from e
