"""Kafka plumbing for distributed mode: producers, consumers and topic creation (aiokafka)."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from metricsync.settings import Settings

log = logging.getLogger(__name__)


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """The idempotent producer every service uses: acks=all, compression, no linger.

    aiokafka keeps one produce request in flight per broker, and everything sent meanwhile joins the
    next batch: under load batches fill by themselves, so a linger would only add its time to every
    acknowledgement (ingest answers 202 after it)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "enable_idempotence": True,
        "acks": "all",
        "compression_type": settings.kafka_compression or None,
        "linger_ms": 0,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 15000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(settings: Settings, group: str, **overrides: Any) -> AIOKafkaConsumer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 2000,
        "fetch_max_wait_ms": 100,
        "session_timeout_ms": 10000,
        "heartbeat_interval_ms": 2000,
    }
    options.update(overrides)
    return AIOKafkaConsumer(**options)


def topic_plan(settings: Settings) -> list[NewTopic]:
    rf = settings.replication_factor
    return [
        NewTopic(settings.raw_topic, settings.raw_partitions, rf),
        NewTopic(settings.events_topic, settings.events_partitions, rf),
        NewTopic(
            settings.metrics_topic,
            settings.metrics_partitions,
            rf,
            topic_configs={"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"},
        ),
        NewTopic(settings.dead_letter_topic, 1, rf),
    ]


async def create_topics(settings: Settings) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Safe to run twice."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topic_plan(settings) if t.name not in existing]
        created: list[str] = []
        for topic in wanted:
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        log.info("kafka topics ready created=%s", ",".join(created) or "none")
        return created
    finally:
        await admin.close()


async def caught_up(consumer: AIOKafkaConsumer) -> bool:
    """True when the consumer has partitions and has read each of them to its end (for --burst)."""
    assignment = list(consumer.assignment())
    if not assignment:
        return False
    ends = await consumer.end_offsets(assignment)
    for tp in assignment:
        if await consumer.position(tp) < ends[tp]:
            return False
    return True
