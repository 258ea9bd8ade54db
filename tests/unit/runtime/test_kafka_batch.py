"""Ingest's batching publisher against a fake producer (the real Kafka: tests/integration)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError, MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from metricsync.kafka.batch import LARGE_RECORD, BatchPublisher, RecordTooLarge, partition_for

HEADERS = [("ms-delivery-id", b"d")]


class FakeProducer:
    """What BatchPublisher uses of AIOKafkaProducer. Acknowledgements are set by the test (`ack`),
    or at once with `auto_ack`."""

    def __init__(self, partitions: int = 4, batch_size: int = 64 * 1024, auto_ack: bool = False) -> None:
        self.partitions = set(range(partitions))
        self.batch_size = batch_size
        self.auto_ack = auto_ack
        self.sent: list[tuple[int, BatchBuilder, asyncio.Future[None]]] = []
        self.singles: list[bytes] = []
        self.refuse_in_send = False  # `send` raises as aiokafka's max_request_size check does
        self.refuse_ack = False  # the broker answers MESSAGE_SIZE_TOO_LARGE to `send`

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append((partition, batch, future))
        if self.auto_ack:
            future.set_result(None)
        return future

    async def partitions_for(self, topic: str) -> set[int]:
        return self.partitions

    async def send(self, topic: str, value: bytes, key: bytes, headers: Any) -> asyncio.Future[None]:
        if self.refuse_in_send:
            raise MessageSizeTooLargeError("larger than the maximum request size")
        self.singles.append(value)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.refuse_ack:
            future.set_exception(MessageSizeTooLargeError())
        else:
            future.set_result(None)
        return future

    def ack(self, error: Exception | None = None) -> None:
        for _, _, future in self.sent:
            if not future.done():
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

    def records(self) -> int:
        return sum(batch.record_count() for _, batch, _ in self.sent)


async def ticks(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def publisher(producer: FakeProducer, send_timeout: float = 5.0) -> BatchPublisher:
    return BatchPublisher(producer, "raw", send_timeout)


@pytest.mark.parametrize("partitions", [1, 3, 8, 12])
def test_partitions_are_those_of_aiokafkas_default_partitioner(partitions: int) -> None:
    ids = list(range(partitions))
    for key in (b"acme/shop", b"acme/pay", b"job/deploy/", b"x", b"a" * 37, "caf\u00e9".encode()):
        assert partition_for(key, ids) == DefaultPartitioner()(key, ids, ids)


async def test_records_of_one_tick_share_a_generation_and_each_waits_for_its_ack() -> None:
    producer = FakeProducer()
    pub = publisher(producer)
    tasks = [asyncio.create_task(pub.publish(f"repo-{i % 3}".encode(), b"v%d" % i, HEADERS)) for i in range(10)]
    await ticks()

    assert producer.records() == 10
    assert len({partition for partition, _, _ in producer.sent}) == len(producer.sent)  # one batch per partition
    assert not any(task.done() for task in tasks)  # nothing answered before the broker acknowledged
    producer.ack()
    await asyncio.gather(*tasks)
    assert pub.generations == 1


async def test_one_generation_in_flight_the_next_fills_meanwhile() -> None:
    producer = FakeProducer()
    pub = publisher(producer)
    first = [asyncio.create_task(pub.publish(b"k", b"first", HEADERS)) for _ in range(3)]
    await ticks()
    second = [asyncio.create_task(pub.publish(b"k", b"second", HEADERS)) for _ in range(4)]
    await ticks()

    assert producer.records() == 3  # the second generation waits for the first's acknowledgement
    producer.ack()
    await asyncio.gather(*first)
    await ticks()
    assert producer.records() == 7
    assert not any(task.done() for task in second)
    producer.ack()
    await asyncio.gather(*second)
    assert pub.generations == 2


async def test_a_failed_batch_fails_each_of_its_records() -> None:
    producer = FakeProducer()
    pub = publisher(producer)
    tasks = [asyncio.create_task(pub.publish(b"k%d" % i, b"v", HEADERS)) for i in range(5)]
    await ticks()
    producer.ack(KafkaConnectionError("broker gone"))

    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, KafkaError) for r in results)
    assert len({id(r) for r in results}) == len(results)  # each sender raises its own copy


async def test_no_acknowledgement_within_the_timeout_is_a_timeout_and_the_waiting_generation_is_dropped() -> None:
    producer = FakeProducer()
    pub = publisher(producer, send_timeout=0.05)
    in_flight = asyncio.create_task(pub.publish(b"k", b"sent", HEADERS))
    await ticks()
    waiting = asyncio.create_task(pub.publish(b"k", b"never sent", HEADERS))

    with pytest.raises(TimeoutError):
        await in_flight
    with pytest.raises(TimeoutError):
        await waiting
    assert producer.records() == 1  # the waiting generation never reached the producer
    producer.ack()  # the broker answers late: the next records go out again
    await ticks()
    late = asyncio.create_task(pub.publish(b"k", b"later", HEADERS))
    await ticks()
    producer.ack()
    await late
    assert producer.records() == 2


async def test_a_full_batch_continues_in_another_for_the_same_partition() -> None:
    producer = FakeProducer(partitions=1, batch_size=400, auto_ack=True)  # room for two records
    pub = publisher(producer)
    await asyncio.gather(*(pub.publish(b"k", b"x" * 120, HEADERS) for _ in range(5)))

    assert [batch.record_count() for _, batch, _ in producer.sent] == [2, 2, 1]
    assert {partition for partition, _, _ in producer.sent} == {0}


async def test_large_records_go_alone_through_send() -> None:
    producer = FakeProducer(auto_ack=True)
    pub = publisher(producer)
    await pub.publish(b"k", b"x" * LARGE_RECORD, HEADERS)

    assert len(producer.singles) == 1
    assert producer.sent == []


async def test_close_fails_what_was_not_handed_over() -> None:
    producer = FakeProducer()
    pub = publisher(producer)
    sent = asyncio.create_task(pub.publish(b"k", b"1", HEADERS))
    await ticks()
    waiting = asyncio.create_task(pub.publish(b"k", b"2", HEADERS))
    await ticks()
    closing = asyncio.create_task(pub.close())
    await ticks()
    producer.ack()
    await closing

    await sent
    with pytest.raises(KafkaError):
        await waiting
    with pytest.raises(KafkaError):
        await pub.publish(b"k", b"3", HEADERS)


@pytest.mark.parametrize(
    ("refuse_in_send", "by_broker"),
    [pytest.param(True, False, id="producer-check"), pytest.param(False, True, id="broker")],
)
async def test_a_large_record_refused_for_its_size_says_by_whom(refuse_in_send: bool, by_broker: bool) -> None:
    producer = FakeProducer()
    producer.refuse_in_send = refuse_in_send
    producer.refuse_ack = not refuse_in_send
    pub = publisher(producer)
    with pytest.raises(RecordTooLarge) as refused:
        await pub.publish(b"k", b"x" * LARGE_RECORD, HEADERS)

    assert (refused.value.alone, refused.value.by_broker) == (True, by_broker)
    assert refused.value.size > LARGE_RECORD
    assert isinstance(refused.value.__cause__, MessageSizeTooLargeError)


@pytest.mark.parametrize(("records", "alone"), [pytest.param(1, True, id="alone"), pytest.param(3, False, id="shared")])
async def test_a_batch_refused_for_its_size_says_whether_the_record_was_alone(records: int, alone: bool) -> None:
    producer = FakeProducer(partitions=1)
    pub = publisher(producer)
    tasks = [asyncio.create_task(pub.publish(b"k", b"v%d" % i, HEADERS)) for i in range(records)]
    await ticks()
    producer.ack(MessageSizeTooLargeError())

    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RecordTooLarge) and (r.alone, r.by_broker) == (alone, True) for r in results), results
