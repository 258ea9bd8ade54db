"""How big a Kafka record MetricSync publishes, and the Kafka limits that must admit it.

Everything follows `METRICSYNC_MAX_BODY_BYTES` (default 25 MiB, GitHub's cap): a webhook ingest
accepts must also fit through Kafka, or it would be accepted and then never published.

- **Raw topic record**: the body byte for byte, plus its key and delivery headers (`ms-headers` holds
  the stored HTTP request headers) and Kafka's record and batch framing: at most
  `max_body_bytes + ENVELOPE_BYTES`.
- **Dead-letter record**: the normalizer's dead letter carries the body base64'd in JSON: at most
  `4 * ceil(max_body_bytes / 3) + ENVELOPE_BYTES`.
- **Producer `max_request_size`**: aiokafka refuses, before sending, a record whose *uncompressed*
  size estimate (`DefaultRecordBatchBuilder.estimate_size_in_bytes`) exceeds it; every producer
  gets the larger of the two above.
- **Topic `max.message.bytes`**: the broker compares it with the record batch as stored, i.e. after
  compression; `metricsync init` creates the raw and dead-letter topics with the uncompressed bound
  (so it holds whatever the compression achieves) and raises it on topics that have less.
- **Consumer `max_partition_fetch_bytes`**: the normalizer's is the raw topic's limit. (Brokers
  since Kafka 0.10.1 return the first batch of the first non-empty partition even when it is larger
  than the fetch limits; a large batch on another partition is left out of that fetch, so with a
  smaller per-partition limit a large record only waits for a fetch it comes first in.)

Pure functions: the I/O is in `metricsync.kafka.clients` and `metricsync.kafka.sink`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from ingest.config import MIB
from metricsync.settings import Settings

# Key, delivery headers and framing of one record, far more than they take: HTTP servers refuse
# request headers of more than tens of kB, and keys are repository names, job URLs, alert groups.
ENVELOPE_BYTES = 1 * MIB
DEFAULT_FETCH_MAX_BYTES = 50 * MIB  # aiokafka's default fetch_max_bytes
MAX_MESSAGE_BYTES = "max.message.bytes"
# DescribeConfigs `config_source` of a topic-level override (the ones AlterConfigs replaces)
TOPIC_CONFIG_SOURCE = 1

# What Kafka answers when a record or batch is too large: the producer's own check
# (MessageSizeTooLargeError before sending), the broker's (the same error code 10, or 18 for a batch
# larger than a log segment) and the consumer's (RecordTooLargeError).
TOO_LARGE_ERRORS: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
)


def is_too_large(error: BaseException) -> bool:
    return isinstance(error, TOO_LARGE_ERRORS)


def raw_record_limit(max_body_bytes: int) -> int:
    """Bytes of the largest raw-topic record: a body of `max_body_bytes` and its envelope."""
    return max_body_bytes + ENVELOPE_BYTES


def dead_letter_record_limit(max_body_bytes: int) -> int:
    """Bytes of the largest dead-letter record: the body base64'd in JSON, and its envelope."""
    return 4 * -(-max_body_bytes // 3) + ENVELOPE_BYTES


def producer_max_request_size(settings: Settings) -> int:
    """aiokafka's `max_request_size` for every producer: admits the largest record any service sends."""
    return max(
        raw_record_limit(settings.ingest.max_body_bytes), dead_letter_record_limit(settings.ingest.max_body_bytes)
    )


def topic_max_message_bytes(settings: Settings) -> dict[str, int]:
    """The `max.message.bytes` the topics that carry whole webhook bodies need."""
    return {
        settings.raw_topic: raw_record_limit(settings.ingest.max_body_bytes),
        settings.dead_letter_topic: dead_letter_record_limit(settings.ingest.max_body_bytes),
    }


def raw_consumer_options(settings: Settings) -> dict[str, int]:
    """Fetch sizes of a consumer of the raw topic: a whole largest record per partition and fetch."""
    limit = raw_record_limit(settings.ingest.max_body_bytes)
    return {"max_partition_fetch_bytes": limit, "fetch_max_bytes": max(DEFAULT_FETCH_MAX_BYTES, limit)}


def record_size(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> int:
    """What aiokafka compares with `max_request_size`: the record's uncompressed size estimate."""
    size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, list(headers))
    return size


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    """One entry of a topic's DescribeConfigs answer."""

    name: str
    value: str | None
    source: int
    sensitive: bool = False


class UnsafeConfigChange(Exception):
    """The topic's overrides cannot all be written back (a sensitive value is not readable)."""


def raised_topic_configs(entries: Iterable[ConfigEntry], needed: int) -> dict[str, str] | None:
    """The topic-level overrides to write so that `max.message.bytes` is at least `needed`, or None
    when it already is (a larger value, the topic's or the broker's, is kept).

    The classic AlterConfigs request (the one aiokafka has) *replaces* a topic's overrides with the
    set it carries, so the set holds every current override (retention, compaction...) unchanged
    plus the raised limit. Raises UnsafeConfigChange when an override cannot be read back."""
    entries = list(entries)
    current = next((e for e in entries if e.name == MAX_MESSAGE_BYTES), None)
    if current is not None and current.value is not None and int(current.value) >= needed:
        return None
    overrides: dict[str, str] = {}
    for entry in entries:
        if entry.source != TOPIC_CONFIG_SOURCE:
            continue
        if entry.value is None:
            raise UnsafeConfigChange(f"the topic override {entry.name} is sensitive and cannot be read back")
        overrides[entry.name] = entry.value
    overrides[MAX_MESSAGE_BYTES] = str(needed)
    return overrides


def alter_command(bootstrap: str, topic: str, needed: int) -> str:
    """The one command an operator runs where `metricsync init` cannot raise the limit itself."""
    return (
        f"kafka-configs.sh --bootstrap-server {bootstrap} --alter --entity-type topics "
        f"--entity-name {topic} --add-config {MAX_MESSAGE_BYTES}={needed}"
    )
