"""Kafka plumbing for distributed mode: producers, consumers and topic creation (aiokafka).

Record size limits (producer, topics, the normalizer's fetches) follow METRICSYNC_MAX_BODY_BYTES:
see `metricsync.kafka.limits`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code

from metricsync.kafka.limits import (
    MAX_MESSAGE_BYTES,
    ConfigEntry,
    UnsafeConfigChange,
    alter_command,
    producer_max_request_size,
    raised_topic_configs,
    topic_max_message_bytes,
)
from metricsync.settings import Settings
from schemas.errors import MetricSyncError

log = logging.getLogger(__name__)

METADATA_MAX_AGE_MS = 30_000


class TopicPartitionsError(MetricSyncError, ValueError):
    """A topic has more partitions than configured: Kafka cannot lower the count."""


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
        "max_request_size": producer_max_request_size(settings),
        "request_timeout_ms": 15000,
        "metadata_max_age_ms": METADATA_MAX_AGE_MS,
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
        # partitions added by `init` are noticed (and rebalanced) within this, not aiokafka's 5 minutes
        "metadata_max_age_ms": METADATA_MAX_AGE_MS,
    }
    options.update(overrides)
    return AIOKafkaConsumer(**options)


def topic_plan(settings: Settings) -> list[NewTopic]:
    rf = settings.replication_factor
    limits = topic_max_message_bytes(settings)
    return [
        NewTopic(
            settings.raw_topic,
            settings.raw_partitions,
            rf,
            topic_configs={MAX_MESSAGE_BYTES: str(limits[settings.raw_topic])},
        ),
        NewTopic(settings.events_topic, settings.events_partitions, rf),
        NewTopic(
            settings.metrics_topic,
            settings.metrics_partitions,
            rf,
            topic_configs={"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"},
        ),
        NewTopic(
            settings.dead_letter_topic,
            1,
            rf,
            topic_configs={MAX_MESSAGE_BYTES: str(limits[settings.dead_letter_topic])},
        ),
    ]


@dataclass(frozen=True, slots=True)
class TopicReport:
    """What `metricsync init` found and did for one topic."""

    name: str
    partitions: int
    action: str  # "created", "raised from N", "kept"
    configs: dict[str, str]  # the settings that matter for it, as the broker describes them

    def line(self) -> str:
        configs = " ".join(f"{k}={v}" for k, v in sorted(self.configs.items()))
        return f"topic {self.name}: {self.partitions} partitions ({self.action}) {configs}".rstrip()


REPORTED_CONFIGS = (MAX_MESSAGE_BYTES, "cleanup.policy", "retention.ms")


async def create_topics(settings: Settings) -> list[TopicReport]:
    """Create the topics that do not exist yet; raise the partition count of existing ones to the
    one configured (METRICSYNC_*_PARTITIONS) and refuse (TopicPartitionsError, nothing changed) to
    lower one; raise `max.message.bytes` of existing ones that carry webhook bodies where it is below
    what METRICSYNC_MAX_BODY_BYTES needs. Returns what each topic is now. Safe to run twice."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        plan = topic_plan(settings)
        existing = set(await admin.list_topics())
        counts = await _partition_counts(admin, [t.name for t in plan if t.name in existing])
        lower = [
            f"{t.name} has {counts[t.name]}, asked for {t.num_partitions}"
            for t in plan
            if t.name in counts and t.num_partitions < counts[t.name]
        ]
        if lower:
            raise TopicPartitionsError(
                "Kafka cannot lower a topic's partition count: " + "; ".join(lower) + ". Set the "
                "METRICSYNC_*_PARTITIONS setting to at least the current count (or recreate the topic, "
                "losing its records); nothing was changed"
            )
        actions: dict[str, str] = {}
        for topic in plan:
            if topic.name not in existing:
                try:
                    await admin.create_topics([topic])
                    actions[topic.name] = "created"
                except TopicAlreadyExistsError:
                    actions[topic.name] = "kept"
            elif topic.num_partitions > counts[topic.name]:
                await admin.create_partitions({topic.name: NewPartitions(topic.num_partitions)})
                actions[topic.name] = f"raised from {counts[topic.name]}"
                log.warning(
                    "topic %s: partitions raised %d -> %d (keys move to other partitions; workers load a "
                    "service's state wherever it was written)",
                    topic.name,
                    counts[topic.name],
                    topic.num_partitions,
                )
            else:
                actions[topic.name] = "kept"
        for name, needed in topic_max_message_bytes(settings).items():
            if name in existing:
                await _raise_max_message_bytes(admin, settings, name, needed)
        reports = []
        now = await _partition_counts(admin, [t.name for t in plan])
        for topic in plan:
            configs = {e.name: str(e.value) for e in await _described(admin, topic.name) if e.name in REPORTED_CONFIGS}
            reports.append(
                TopicReport(topic.name, now.get(topic.name, topic.num_partitions), actions[topic.name], configs)
            )
        metrics = next(r for r in reports if r.name == settings.metrics_topic)
        if metrics.configs.get("cleanup.policy", "compact") != "compact":
            log.warning(
                "topic %s is not compacted (cleanup.policy=%s; auto-created?): readers of the latest snapshot per "
                "service need it compacted; run: kafka-configs.sh --bootstrap-server %s --alter --entity-type topics "
                "--entity-name %s --add-config cleanup.policy=compact",
                metrics.name,
                metrics.configs.get("cleanup.policy"),
                settings.kafka_bootstrap,
                metrics.name,
            )
        for report in reports:
            log.info("kafka %s", report.line())
        return reports
    finally:
        await admin.close()


async def _described(admin: AIOKafkaAdminClient, topic: str, tries: int = 20) -> list[ConfigEntry]:
    """describe_topic_config, retried for a moment: a topic just created is not known to every part
    of the broker at once (UnknownTopicOrPartition)."""
    for _ in range(tries - 1):
        try:
            return await describe_topic_config(admin, topic)
        except UnknownTopicOrPartitionError:
            await asyncio.sleep(0.25)
    return await describe_topic_config(admin, topic)


async def _partition_counts(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, int]:
    if not topics:
        return {}
    described = await admin.describe_topics(topics)
    return {str(t["topic"]): len(t["partitions"]) for t in described if not t.get("error_code")}


async def describe_topic_config(admin: AIOKafkaAdminClient, topic: str) -> list[ConfigEntry]:
    """Every config entry of `topic` (value, source) as the broker describes it."""
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    entries: list[ConfigEntry] = []
    for response in responses:
        for error_code, error_message, _, name, config_entries in response.resources:
            if error_code:
                raise for_code(error_code)(f"describe configs of topic {topic}: {error_message}")
            if name != topic:
                continue
            for entry in config_entries:
                # v1+: (name, value, read_only, config_source, is_sensitive, synonyms); v0 has is_default
                # where v1 has the source: a default is not an override, which is all that matters here.
                source = entry[3] if response.API_VERSION >= 1 else (5 if entry[3] else 1)
                entries.append(ConfigEntry(entry[0], entry[1], int(source), bool(entry[4])))
    return entries


async def topic_max_message_bytes_now(settings: Settings, topic: str) -> int | None:
    """The effective `max.message.bytes` of `topic` (its own or the broker's), or None when it
    cannot be read (no permission, Kafka away): only used to name the limit in messages."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        for entry in await describe_topic_config(admin, topic):
            if entry.name == MAX_MESSAGE_BYTES and entry.value is not None:
                return int(entry.value)
        return None
    except (KafkaError, OSError, ValueError) as e:
        log.info("cannot read %s of topic %s: %s", MAX_MESSAGE_BYTES, topic, e)
        return None
    finally:
        await admin.close()


async def _raise_max_message_bytes(admin: AIOKafkaAdminClient, settings: Settings, topic: str, needed: int) -> None:
    """Raise an existing topic's `max.message.bytes` to `needed`, keeping its other overrides. Where
    that cannot be done safely (no permission, an override that cannot be read back), log the one
    command an operator runs instead: ingest answers 413 to what the topic refuses meanwhile."""
    try:
        entries = await describe_topic_config(admin, topic)
        overrides = raised_topic_configs(entries, needed)
        if overrides is None:
            return
        responses = await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, overrides)])
        for response in responses:
            for error_code, error_message, *_ in response.resources:
                if error_code:
                    raise for_code(error_code)(error_message)
    except (KafkaError, UnsafeConfigChange) as e:
        log.warning(
            "topic %s: cannot raise %s to %d (%s); run: %s",
            topic,
            MAX_MESSAGE_BYTES,
            needed,
            e,
            alter_command(settings.kafka_bootstrap, topic, needed),
        )
        return
    log.info(
        "topic %s: %s raised to %d (METRICSYNC_MAX_BODY_BYTES=%d)",
        topic,
        MAX_MESSAGE_BYTES,
        needed,
        settings.ingest.max_body_bytes,
    )


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
