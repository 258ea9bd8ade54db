"""Kafka's record limits follow METRICSYNC_MAX_BODY_BYTES (the real broker: tests/integration/test_large_bodies.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError, RecordTooLargeError

from ingest.config import MIB
from metricsync.kafka.clients import make_producer, topic_plan
from metricsync.kafka.codec import encode_raw
from metricsync.kafka.limits import (
    DEFAULT_FETCH_MAX_BYTES,
    ENVELOPE_BYTES,
    MAX_MESSAGE_BYTES,
    TOPIC_CONFIG_SOURCE,
    ConfigEntry,
    UnsafeConfigChange,
    alter_command,
    dead_letter_record_limit,
    is_too_large,
    producer_max_request_size,
    raised_topic_configs,
    raw_consumer_options,
    raw_record_limit,
    record_size,
    topic_max_message_bytes,
)
from metricsync.services.normalizer_service import _dead_letter
from metricsync.settings import Settings
from schemas.raw import RawDelivery
from schemas.sources import Source

DEFAULT = 5  # DescribeConfigs config_source of a default value
STATIC_BROKER = 4

# What a GitHub delivery's stored headers look like, many times over (HTTP servers cap headers far lower).
GITHUB_HEADERS = {
    "host": "metricsync.example",
    "user-agent": "GitHub-Hookshot/4a1f2b3",
    "content-type": "application/json",
    "x-github-event": "push",
    "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    "x-github-hook-id": "292430182",
    "x-github-hook-installation-target-id": "79929171",
    "x-github-hook-installation-target-type": "repository",
    **{f"x-forwarded-extra-{i}": "v" * 200 for i in range(100)},
}


def largest_delivery(max_body_bytes: int) -> RawDelivery:
    return RawDelivery(
        delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
        source=Source.GITHUB,
        event_type="push",
        key="a-very-long-organization-name/" + "r" * 200,
        received_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        headers=GITHUB_HEADERS,
        body=b"x" * max_body_bytes,
    )


@pytest.mark.parametrize(
    "max_body_bytes", [pytest.param(25 * MIB, id="default-25MiB"), pytest.param(3 * MIB, id="3MiB")]
)
def test_the_largest_accepted_body_fits_the_raw_topic_and_the_producer(max_body_bytes: int) -> None:
    settings = Settings(max_body_bytes=max_body_bytes)
    size = record_size(*encode_raw(largest_delivery(max_body_bytes)))

    assert max_body_bytes < size <= raw_record_limit(max_body_bytes) <= producer_max_request_size(settings)
    assert topic_max_message_bytes(settings)[settings.raw_topic] == raw_record_limit(max_body_bytes)
    assert raw_consumer_options(settings)["max_partition_fetch_bytes"] == raw_record_limit(max_body_bytes)


def test_the_dead_letter_of_the_largest_body_fits_the_dead_letter_topic_and_the_producer() -> None:
    settings = Settings(max_body_bytes=3 * MIB)
    letter = _dead_letter(TopicPartition("metricsync.raw", 7), None, largest_delivery(3 * MIB), "x" * 10_000)
    size = record_size(letter["_id"].encode(), orjson.dumps(letter), [])

    assert 4 * MIB < size <= dead_letter_record_limit(3 * MIB) <= producer_max_request_size(settings)
    assert topic_max_message_bytes(settings)[settings.dead_letter_topic] == dead_letter_record_limit(3 * MIB)


def test_limits_with_the_default_body_limit() -> None:
    settings = Settings()
    assert raw_record_limit(settings.ingest.max_body_bytes) == 26 * MIB
    assert dead_letter_record_limit(settings.ingest.max_body_bytes) == 4 * -(-25 * MIB // 3) + ENVELOPE_BYTES
    assert producer_max_request_size(settings) == dead_letter_record_limit(settings.ingest.max_body_bytes)
    assert raw_consumer_options(settings)["fetch_max_bytes"] == DEFAULT_FETCH_MAX_BYTES  # aiokafka's, large enough
    assert raw_consumer_options(Settings(max_body_bytes=80 * MIB))["fetch_max_bytes"] == 81 * MIB


async def test_every_producer_admits_the_largest_record() -> None:
    settings = Settings(max_body_bytes=3 * MIB)
    producer = make_producer(settings)
    try:
        assert producer._max_request_size == producer_max_request_size(settings)
    finally:
        await producer.stop()  # never started: closes its client


def test_init_creates_the_body_carrying_topics_with_a_limit_that_admits_the_largest_record() -> None:
    settings = Settings(max_body_bytes=3 * MIB)
    configs = {topic.name: topic.topic_configs for topic in topic_plan(settings)}

    assert configs[settings.raw_topic] == {MAX_MESSAGE_BYTES: str(raw_record_limit(3 * MIB))}
    assert configs[settings.dead_letter_topic] == {MAX_MESSAGE_BYTES: str(dead_letter_record_limit(3 * MIB))}
    assert MAX_MESSAGE_BYTES not in configs[settings.events_topic]
    assert configs[settings.metrics_topic]["cleanup.policy"] == "compact"


NEEDED = 26 * MIB


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        pytest.param(
            [ConfigEntry(MAX_MESSAGE_BYTES, "1048588", DEFAULT), ConfigEntry("retention.ms", "604800000", DEFAULT)],
            {MAX_MESSAGE_BYTES: str(NEEDED)},
            id="broker-default-is-raised",
        ),
        pytest.param(
            [
                ConfigEntry(MAX_MESSAGE_BYTES, "1048588", TOPIC_CONFIG_SOURCE),
                ConfigEntry("retention.ms", "86400000", TOPIC_CONFIG_SOURCE),
                ConfigEntry("cleanup.policy", "delete", DEFAULT),
            ],
            {MAX_MESSAGE_BYTES: str(NEEDED), "retention.ms": "86400000"},
            id="other-topic-overrides-are-kept",
        ),
        pytest.param([ConfigEntry(MAX_MESSAGE_BYTES, str(NEEDED), TOPIC_CONFIG_SOURCE)], None, id="already-enough"),
        pytest.param([ConfigEntry(MAX_MESSAGE_BYTES, str(64 * MIB), STATIC_BROKER)], None, id="broker-allows-more"),
        pytest.param([], {MAX_MESSAGE_BYTES: str(NEEDED)}, id="nothing-described"),
    ],
)
def test_raised_topic_configs(entries: list[ConfigEntry], expected: dict[str, str] | None) -> None:
    assert raised_topic_configs(entries, NEEDED) == expected


def test_an_override_that_cannot_be_read_back_is_not_overwritten() -> None:
    entries = [ConfigEntry(MAX_MESSAGE_BYTES, "1048588", DEFAULT), ConfigEntry("x.secret", None, 1, sensitive=True)]
    with pytest.raises(UnsafeConfigChange, match=r"x\.secret"):
        raised_topic_configs(entries, NEEDED)


def test_the_command_for_operators_names_topic_and_value() -> None:
    command = alter_command("kafka:9092", "metricsync.raw", NEEDED)
    assert "--entity-name metricsync.raw" in command
    assert f"--add-config max.message.bytes={NEEDED}" in command


def test_too_large_errors() -> None:
    assert is_too_large(MessageSizeTooLargeError())
    assert is_too_large(RecordTooLargeError())
    assert not is_too_large(KafkaConnectionError())
    assert not is_too_large(TimeoutError())
