"""The in-memory bus of embedded mode: topics with fan-out to subscribers, in one process.

It carries the same bytes the Kafka topics carry (keys and JSON values), so the code on both
sides of it is the code distributed mode runs. It is not durable: embedded mode keeps the raw log
and the events in SQLite and uses the bus to move work along, never as the record of it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BusMessage:
    topic: str
    key: bytes
    value: bytes


class Subscription:
    """Messages published to one topic after `subscribe`, in publish order."""

    def __init__(self, bus: MemoryBus, topic: str) -> None:
        self._bus = bus
        self.topic = topic
        self._queue: asyncio.Queue[BusMessage] = asyncio.Queue()

    def deliver(self, message: BusMessage) -> None:
        self._queue.put_nowait(message)

    async def get_batch(self, max_messages: int, wait_seconds: float | None = None) -> list[BusMessage]:
        """Wait (up to `wait_seconds`; None = forever) for at least one message, then take up to
        `max_messages` without waiting further. An empty list means the wait ran out."""
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
            # arrives as the queue hands over an item, and then a stopping pipeline never ends
            async with asyncio.timeout(wait_seconds):
                first = await self._queue.get()
        except TimeoutError:
            return []
        batch = [first]
        while len(batch) < max_messages and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._bus.unsubscribe(self)


class MemoryBus:
    def __init__(self) -> None:
        self._subscribers: defaultdict[str, list[Subscription]] = defaultdict(list)

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        self.publish_nowait(topic, key, value)

    def publish_nowait(self, topic: str, key: bytes, value: bytes) -> None:
        message = BusMessage(topic, key, value)
        for subscription in self._subscribers[topic]:
            subscription.deliver(message)

    def subscribe(self, topic: str) -> Subscription:
        subscription = Subscription(self, topic)
        self._subscribers[topic].append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers[subscription.topic]
        if subscription in subscribers:
            subscribers.remove(subscription)
