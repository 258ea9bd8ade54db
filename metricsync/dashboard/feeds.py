"""What feeds the StreamHub: the embedded bus's metrics topic, or the compacted Kafka metrics topic.

Both carry the same message: key = service id, value = the service's snapshot (reports.service_snapshot).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from metricsync.dashboard.hub import StreamHub
from metricsync.embedded.memory_bus import MemoryBus
from schemas.topics import METRICS_TOPIC

if TYPE_CHECKING:
    from metricsync.settings import Settings

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


class BusMetricsFeed:
    """Embedded mode: the pipeline's snapshots on the in-memory bus."""

    def __init__(self, bus: MemoryBus, hub: StreamHub) -> None:
        self.bus = bus
        self.hub = hub
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        sub = self.bus.subscribe(METRICS_TOPIC)

        async def run() -> None:
            try:
                while True:
                    for message in await sub.get_batch(1000):
                        self.hub.publish(message.key.decode(), message.value)
            finally:
                sub.close()

        self._task = asyncio.create_task(run(), name="dashboard-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class KafkaMetricsFeed:
    """Distributed mode: the API process reads the metrics topic from its end (no consumer group, no
    commits): each snapshot the workers publish from now on goes to this process's streams. A broker
    that is down does not stop the API: the feed logs and tries again every 5 s."""

    def __init__(self, settings: Settings, hub: StreamHub) -> None:
        self.settings = settings
        self.hub = hub
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dashboard-kafka-feed")

    async def _run(self) -> None:
        from aiokafka import AIOKafkaConsumer

        topic = self.settings.metrics_topic
        while True:
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=self.settings.kafka_bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="latest",
                fetch_max_wait_ms=100,
            )
            try:
                await consumer.start()
                self.connected = True
                log.info("dashboard feed reading topic=%s from its end", topic)
                while True:
                    batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                    for records in batches.values():
                        for record in records:
                            if record.key is not None and record.value is not None:
                                self.hub.publish(record.key.decode(), record.value)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("dashboard feed topic=%s failed: %s; retrying in %.0f s", topic, e, RETRY_SECONDS)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await asyncio.sleep(RETRY_SECONDS)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
