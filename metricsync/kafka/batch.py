"""Ingest's publisher: each record waits for its own acknowledgement, but records travel to Kafka
in batches built here, not through aiokafka's per-message `send`.

aiokafka's `send` costs a few dozen microseconds of pure Python per message (metadata wait,
partitioner, accumulator, a future and a `RecordMetadata` per message), about as much as the rest
of a webhook's handling. Here a record is appended to a `BatchBuilder` (Cython) of its partition in
the *open generation*, and its sender awaits the acknowledgement of that batch. One generation is
in flight at a time: while its produce request is out, the next one fills, and once every batch of
it is acknowledged (or failed) the open one is handed over with `send_batch`, each partition's
batch at once. That is the shape aiokafka gives `send` under load (one request in flight per
broker, everything sent meanwhile joins the next), with the per-message work gone.

Durability is unchanged: `publish` returns only once the broker acknowledged the batch holding
the record (acks=all, idempotent producer: the producer's own settings), and raises `KafkaError`
or `TimeoutError` otherwise, so the caller can spool the record. A record Kafka refuses for its
size raises `RecordTooLarge` (a KafkaError) saying whether the refusal is about that record alone
and whether the broker (not the producer's own check) made it. Timeout: a generation that is not
acknowledged within `send_timeout` of its first record fails all of its records with
`TimeoutError`; one that was never handed over is dropped (none of its records reached Kafka).

Partitions are those of aiokafka's default partitioner (murmur2 of the key over the sorted
partition ids), so a key lands where `producer.send` puts it (the spool drain uses `send`).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder

from metricsync.kafka.limits import TOO_LARGE_ERRORS, is_too_large, record_size

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]

# Records this big skip batching and go through `send` alone, which refuses what exceeds the
# producer's max_request_size before anything is queued: one oversized record must not fail a
# whole batch of others.
LARGE_RECORD = 512 * 1024
PARTITION_CACHE = 50_000  # keys remembered with their partition (repositories, jobs, alert groups)


class RecordTooLarge(KafkaError):  # type: ignore[misc]
    """Kafka refused a record of `size` bytes (uncompressed estimate) for its size.

    `alone`: the record travelled in a batch of its own, so the refusal is about it (else a batch it
    shared was refused, and which of its records is too large is unknown). `by_broker`: the broker
    refused it, not the producer's own `max_request_size` check before sending; aiokafka's
    idempotent producer has then used sequence numbers the broker never stored, and each later batch
    to that partition fails with OutOfOrderSequenceNumber until the producer is replaced."""

    def __init__(self, message: str, size: int, alone: bool, by_broker: bool) -> None:
        super().__init__(message)
        self.size = size
        self.alone = alone
        self.by_broker = by_broker


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """aiokafka's DefaultPartitioner for a non-empty key: `partitions` sorted by id."""
    digest: int = murmur2(key)
    return partitions[(digest & 0x7FFFFFFF) % len(partitions)]


class _Batch:
    """One partition's batch in a generation; its records' senders share `outcome`."""

    __slots__ = ("builder", "outcome", "records")

    def __init__(self, builder: BatchBuilder, loop: asyncio.AbstractEventLoop) -> None:
        self.builder = builder
        # None once acknowledged, else the error; a value, never set_exception: no "exception never
        # retrieved" noise, and each sender raises its own copy.
        self.outcome: asyncio.Future[BaseException | None] = loop.create_future()
        self.records = 0

    def settle(self, error: BaseException | None) -> None:
        if not self.outcome.done():
            self.outcome.set_result(error)


class _Generation:
    __slots__ = ("batches", "deadline", "handed_over", "started")

    def __init__(self) -> None:
        self.batches: dict[int, list[_Batch]] = {}
        self.started = time.monotonic()
        self.deadline: asyncio.TimerHandle | None = None
        self.handed_over = False

    def all_batches(self) -> list[_Batch]:
        return [batch for batches in self.batches.values() for batch in batches]

    def settle(self, error: BaseException | None) -> None:
        for batch in self.all_batches():
            batch.settle(error)


class BatchPublisher:
    def __init__(self, producer: AIOKafkaProducer, topic: str, send_timeout: float) -> None:
        self.producer = producer
        self.topic = topic
        self.send_timeout = send_timeout
        self._loop = asyncio.get_running_loop()
        self._partitions: list[int] | None = None
        self._partition_of: dict[bytes, int] = {}
        self._open: _Generation | None = None
        self._in_flight: _Generation | None = None
        self._flush_scheduled = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.generations = 0  # handed over (for tests and status)

    async def publish(self, key: bytes, value: bytes, headers: Headers) -> None:
        """Return once the broker acknowledged this record; KafkaError or TimeoutError otherwise."""
        if self._closed:
            raise KafkaError("the publisher is closed")
        if len(value) >= LARGE_RECORD:
            await self._publish_alone(key, value, headers)
            return
        partition = self._partition_of.get(key)
        if partition is None:
            partition = await self._partition(key)
        batch = self._batch(partition)
        if batch.builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
            batch = self._new_batch(partition)  # the batch is full: another one for this partition
            if batch.builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
                raise KafkaError("the record does not fit in an empty batch")  # pragma: no cover
        batch.records += 1
        if not self._flush_scheduled and self._in_flight is None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        error = await batch.outcome
        if error is not None:
            if is_too_large(error):
                size = record_size(key, value, headers)
                raise RecordTooLarge(str(error), size, alone=batch.records == 1, by_broker=True) from error
            raise copy.copy(error)

    async def _publish_alone(self, key: bytes, value: bytes, headers: Headers) -> None:
        """`send`, in a batch of its own (aiokafka starts a new batch for a record larger than its
        batch size): it fails no other record, and a refusal is about this one."""
        async with asyncio.timeout(self.send_timeout):
            try:
                acknowledged = await self.producer.send(self.topic, value=value, key=key, headers=list(headers))
            except TOO_LARGE_ERRORS as e:  # the producer's own max_request_size: nothing was sent
                size = record_size(key, value, headers)
                raise RecordTooLarge(str(e), size, alone=True, by_broker=False) from e
            try:
                await acknowledged
            except TOO_LARGE_ERRORS as e:
                size = record_size(key, value, headers)
                raise RecordTooLarge(str(e), size, alone=True, by_broker=True) from e

    async def close(self) -> None:
        """Fail what was not handed over; wait for the generation in flight."""
        self._closed = True
        if self._open is not None:
            self._drop(self._open, KafkaError("the publisher is closing"))
        if self._task is not None:
            await asyncio.wait([self._task])

    # --- partitions ------------------------------------------------------------------------------

    async def _partition(self, key: bytes) -> int:
        if self._partitions is None:
            self._partitions = sorted(await self.producer.partitions_for(self.topic))
        if len(self._partition_of) >= PARTITION_CACHE:
            self._partition_of.clear()
        partition = partition_for(key, self._partitions)
        self._partition_of[key] = partition
        return partition

    async def _refresh_partitions(self) -> None:
        partitions = sorted(await self.producer.partitions_for(self.topic))
        if partitions != self._partitions:
            if self._partitions is not None:
                log.warning("topic %s partitions changed %s -> %s", self.topic, self._partitions, partitions)
            self._partitions = partitions
            self._partition_of.clear()

    # --- generations -----------------------------------------------------------------------------

    def _generation(self) -> _Generation:
        generation = self._open
        if generation is None:
            generation = self._open = _Generation()
            generation.deadline = self._loop.call_at(self._loop.time() + self.send_timeout, self._expire, generation)
        return generation

    def _batch(self, partition: int) -> _Batch:
        batches = self._generation().batches.get(partition)
        if batches:
            return batches[-1]
        return self._new_batch(partition)

    def _new_batch(self, partition: int) -> _Batch:
        batch = _Batch(self.producer.create_batch(), self._loop)
        self._generation().batches.setdefault(partition, []).append(batch)
        return batch

    def _drop(self, generation: _Generation, error: BaseException) -> None:
        if self._open is generation:
            self._open = None
        if generation.deadline is not None:
            generation.deadline.cancel()
        generation.settle(error)

    def _expire(self, generation: _Generation) -> None:
        """`send_timeout` passed since the generation's first record: its senders stop waiting."""
        error = TimeoutError(f"Kafka did not acknowledge within {self.send_timeout:g} s")
        if generation.handed_over:
            generation.settle(error)  # aiokafka may still deliver it: a duplicate, harmless downstream
        else:
            self._drop(generation, error)  # never reached aiokafka: nothing of it was sent

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._in_flight is not None or self._open is None or self._closed:
            return
        generation, self._open = self._open, None
        self._in_flight = generation
        generation.handed_over = True
        self.generations += 1
        self._task = self._loop.create_task(self._send(generation), name="kafka-batch")

    async def _send(self, generation: _Generation) -> None:
        acknowledgements: list[asyncio.Future[object]] = []
        try:
            await self._refresh_partitions()
            # Every partition's first batch at once (nothing of ours is queued in aiokafka, so none
            # of these waits); a partition's further batches wait for the previous one to drain.
            first = [(partition, batches[0]) for partition, batches in generation.batches.items()]
            rest = [(partition, batch) for partition, batches in generation.batches.items() for batch in batches[1:]]
            for partition, batch in first + rest:
                acknowledged = await self.producer.send_batch(batch.builder, self.topic, partition=partition)
                acknowledged.add_done_callback(_settle_from(batch))
                acknowledgements.append(acknowledged)
            await asyncio.wait(acknowledgements)
        except (KafkaError, OSError) as e:
            generation.settle(e)
            if acknowledgements:
                await asyncio.wait(acknowledgements)
        except asyncio.CancelledError:
            generation.settle(KafkaTimeoutError("the publisher was cancelled"))
            raise
        except Exception as e:  # pragma: no cover - a bug: fail the records rather than hang them
            log.exception("kafka batch send failed")
            generation.settle(e)
        finally:
            if generation.deadline is not None:
                generation.deadline.cancel()
            self._in_flight = None
            if self._open is not None and not self._closed:
                self._flush()


def _settle_from(batch: _Batch) -> Callable[[asyncio.Future[object]], None]:
    def settle(acknowledged: asyncio.Future[object]) -> None:
        if acknowledged.cancelled():
            batch.settle(KafkaTimeoutError("the batch was cancelled"))
            return
        batch.settle(acknowledged.exception())

    return settle
