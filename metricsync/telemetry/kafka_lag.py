"""Consumer-group lag read from Kafka itself: per topic partition, the end offset minus the group's
committed offset (the beginning offset when the group committed nothing there yet, as the groups
start from the earliest record). Used by distributed `/api/v1/status` (`lag`, `caught_up`) and the
`metricsync_consumer_lag` gauge. One admin client and one group-less consumer (for the offsets),
started on first use; answers are shared for `MIN_INTERVAL_SECONDS` so that scrapes and status
polls do not each cost Kafka round trips."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from metricsync.settings import Settings

log = logging.getLogger(__name__)

MIN_INTERVAL_SECONDS = 1.0
REQUEST_TIMEOUT_MS = 5000


@dataclass(frozen=True, slots=True)
class GroupTopic:
    group: str
    topic: str


@dataclass(frozen=True, slots=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    lag: int


class LagReader:
    def __init__(self, bootstrap: str, watched: Sequence[GroupTopic]) -> None:
        self.bootstrap = bootstrap
        self.watched = tuple(watched)
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._last: tuple[float, list[PartitionLag]] | None = None

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS)
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, enable_auto_commit=False, request_timeout_ms=REQUEST_TIMEOUT_MS
            )
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                await admin.close()
                await consumer.stop()
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def read(self) -> list[PartitionLag]:
        async with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < MIN_INTERVAL_SECONDS:
                return self._last[1]
            try:
                lags = await self._read()
            except Exception:
                await self.close()  # reconnect next time
                raise
            self._last = (time.monotonic(), lags)
            return lags

    async def _read(self) -> list[PartitionLag]:
        admin, consumer = await self._clients()
        out: list[PartitionLag] = []
        topics = sorted({w.topic for w in self.watched})
        partitions: list[TopicPartition] = []
        for described in await admin.describe_topics(topics):
            if described["error_code"] == 0:  # a topic not created yet has no lag
                for p in sorted(part["partition"] for part in described["partitions"]):
                    partitions.append(TopicPartition(described["topic"], p))
        if not partitions:
            return out
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets(partitions)
        for watched in self.watched:
            committed: dict[TopicPartition, Any] = await admin.list_consumer_group_offsets(watched.group)
            for tp in partitions:
                if tp.topic != watched.topic:
                    continue
                meta = committed.get(tp)
                position = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
                out.append(PartitionLag(watched.group, tp.topic, tp.partition, max(0, ends[tp] - position)))
        return out

    async def close(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        self._last = None
        if admin is not None:
            await admin.close()
        if consumer is not None:
            await consumer.stop()


def consumer_groups_lag(settings: Settings) -> LagReader:
    """The normalizer group on the raw topic and the worker group on the events topic."""
    return LagReader(
        settings.kafka_bootstrap,
        [
            GroupTopic(settings.normalizer_group, settings.raw_topic),
            GroupTopic(settings.worker_group, settings.events_topic),
        ],
    )


def lag_status(watched: Sequence[GroupTopic], lags: Sequence[PartitionLag]) -> dict[str, object]:
    """The `consumers` / `lag` / `caught_up` part of distributed /api/v1/status (schemas.api.Status):
    records behind per watched group and topic (0 for a topic not created yet), and their total."""
    per_group: dict[GroupTopic, int] = dict.fromkeys(watched, 0)
    for item in lags:
        key = GroupTopic(item.group, item.topic)
        per_group[key] = per_group.get(key, 0) + item.lag
    consumers = [{"group": k.group, "topic": k.topic, "lag": v} for k, v in per_group.items()]
    total = sum(per_group.values())
    return {"consumers": consumers, "lag": total, "caught_up": total == 0}


def lag_unknown(reader: LagReader, error: str) -> dict[str, object]:
    """The same part when Kafka did not answer: every group's lag unknown, and why."""
    consumers = [{"group": w.group, "topic": w.topic, "lag": None} for w in reader.watched]
    return {"consumers": consumers, "lag": None, "caught_up": None, "error": error}
