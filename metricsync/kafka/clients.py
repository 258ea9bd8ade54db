"""Kafka plumbing for distributed mode: producers, consumers and topic creation (aiokafka).

Record size limits (producer, topics, the normalizer's fetches) follow METRICSYNC_MAX_BODY_BYTES:
see `metricsync.kafka.limits`."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

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
        "max_request_size": producer_max_request_size(settings),
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


async def create_topics(settings: Settings) -> list[str]:
    """Create the topics that do not exist yet, and raise `max.message.bytes` of existing ones that
    carry webhook bodies where it is below what METRICSYNC_MAX_BODY_BYTES needs (topics created
    before the limit followed the body limit). Returns the names created. Safe to run twice."""
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
        for name, needed in topic_max_message_bytes(settings).items():
            if name in existing:
                await _raise_max_message_bytes(admin, settings, name, needed)
        log.info("kafka topics ready created=%s", ",".join(created) or "none")
        return created
    finally:
        await admin.close()


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


LAG_TIMEOUT_SECONDS = 5.0


async def group_lags(settings: Settings, groups: list[tuple[str, str]]) -> list[dict[str, object]]:
    """For each (group, topic): records of the topic the group has not committed yet (end offset minus
    committed offset, summed over partitions; a partition never committed counts from its start).
    `lag` is None for all when Kafka does not answer within LAG_TIMEOUT_SECONDS (the error is logged)."""
    import asyncio

    from aiokafka.structs import TopicPartition

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=5000)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=5000)
    out: list[dict[str, object]] = []
    try:
        async with asyncio.timeout(LAG_TIMEOUT_SECONDS):
            await admin.start()
            await consumer.start()
            await consumer.topics()  # fetches the metadata partitions_for_topic reads
            for group, topic in groups:
                partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
                ends = await consumer.end_offsets(partitions) if partitions else {}
                starts = await consumer.beginning_offsets(partitions) if partitions else {}
                committed = await admin.list_consumer_group_offsets(group, partitions=partitions or None)
                lag = 0
                for tp in partitions:
                    done = committed.get(tp)
                    position = done.offset if done is not None and done.offset >= 0 else starts[tp]
                    lag += max(0, ends[tp] - position)
                out.append({"group": group, "topic": topic, "lag": lag})
    except (KafkaError, OSError, TimeoutError) as e:
        log.warning("consumer lag unavailable bootstrap=%s error=%r", settings.kafka_bootstrap, e)
        out = [{"group": group, "topic": topic, "lag": None} for group, topic in groups]
    finally:
        await consumer.stop()
        await admin.close()
    return out
