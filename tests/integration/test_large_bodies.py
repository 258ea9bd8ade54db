"""Webhook bodies larger than Kafka's 1 MB defaults, on the real Kafka and Mongo-wire servers.

Ingest accepts bodies up to METRICSYNC_MAX_BODY_BYTES (25 MiB by default, GitHub's cap); the
producer, the raw topic and the normalizer's fetches follow that limit. Where Kafka is configured
smaller anyway, a delivery is answered 413 rather than spooled as if Kafka were away, and one
already in the spool is moved aside instead of blocking the records behind it.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ingest.config import MIB
from metricsync.kafka.clients import describe_topic_config
from metricsync.kafka.codec import decode_raw, decode_spool_record, encode_spool_record
from metricsync.kafka.limits import MAX_MESSAGE_BYTES, dead_letter_record_limit, raw_record_limit
from metricsync.kafka.sink import KafkaSink
from metricsync.kafka.spool import Spool, slot_directory
from metricsync.settings import Settings
from schemas.ports import DeliveryTooLarge
from schemas.raw import RawDelivery
from schemas.sources import Source
from tests.integration.conftest import unique_name
from tests.support.distributed import Distributed
from tests.support.process import wait_until
from tests.support.webhooks import Request, sha_of, signed_github

pytestmark = [pytest.mark.servers, pytest.mark.timeout(300)]

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "push__single_commit.json"
SMALL_LIMIT = 16 * 1024  # a topic's max.message.bytes well below what a 3 MB push needs
DEFAULT_LIMIT = raw_record_limit(Settings().ingest.max_body_bytes)


def push_body(commits: int) -> bytes:
    """The real push fixture, its `commits` entry repeated `commits` times (each with its own sha)."""
    body: dict[str, Any] = orjson.loads(FIXTURE.read_bytes())
    template = body["commits"][0]
    entries = []
    for i in range(commits):
        entry = copy.deepcopy(template)
        entry["id"] = sha_of(f"large-push-{i}")
        entries.append(entry)
    body.update(commits=entries, head_commit=entries[-1], after=entries[-1]["id"])
    return orjson.dumps(body)


def commits_for(size: int) -> int:
    """How many commits make a push body of about `size` bytes."""
    one, two = len(push_body(1)), len(push_body(2))
    return 1 + -(-(size - one) // (two - one))


LARGE_COMMITS = commits_for(3 * MIB)
LARGE_BODY = push_body(LARGE_COMMITS)
SMALL_BODY = FIXTURE.read_bytes()


def signed(body: bytes, delivery_id: str) -> Request:
    return signed_github(body, "push", delivery_id)


def delivery(body: bytes, delivery_id: str) -> RawDelivery:
    """What ingest stores for a push of Codertocat/Hello-World (the fixture's repository)."""
    return RawDelivery(
        delivery_id=delivery_id,
        source=Source.GITHUB,
        event_type="push",
        key="Codertocat/Hello-World",
        received_at=datetime.now(UTC),
        headers={"content-type": "application/json", "x-github-event": "push"},
        body=body,
    )


async def topic_configs(bootstrap: str, topic: str) -> dict[str, str | None]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {entry.name: entry.value for entry in await describe_topic_config(admin, topic)}
    finally:
        await admin.close()


async def create_topic_with(bootstrap: str, topic: str, partitions: int, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=configs)])
        assert all(code == 0 for _, code, *_ in response.topic_errors), response
        for _ in range(300):  # until every partition has a leader
            described = await admin.describe_topics([topic])
            parts = described[0]["partitions"] if described and described[0]["error_code"] == 0 else []
            if len(parts) == partitions and all(p["leader"] >= 0 for p in parts):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"topic {topic}: no leaders after 30 s")
    finally:
        await admin.close()


async def delete_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def delivery_ids(bootstrap: str, topic: str, expected: int, wait_seconds: float = 30) -> list[str]:
    """Delivery ids in the topic from the start, in order, once `expected` arrived (plus 1 s for extras)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        max_partition_fetch_bytes=8 * MIB,
    )
    await consumer.start()
    ids: list[str] = []
    try:
        loop = asyncio.get_running_loop()
        deadline, settle = loop.time() + wait_seconds, None
        while loop.time() < deadline and (settle is None or loop.time() < settle):
            for records in (await consumer.getmany(timeout_ms=300)).values():
                ids.extend(decode_raw(r.key, r.value, r.headers).delivery_id for r in records)
            if len(ids) >= expected and settle is None:
                settle = loop.time() + 1
    finally:
        await consumer.stop()
    return ids


@pytest.fixture
def system(tmp_path: Path, kafka_bootstrap: str, mongo_uri: str) -> Iterator[Distributed]:
    distributed = Distributed(tmp_path / "distributed", kafka_bootstrap, mongo_uri)
    yield distributed
    distributed.close()


def test_the_large_push_is_a_real_one_of_about_3_mb() -> None:
    body = orjson.loads(LARGE_BODY)
    assert 3 * MIB <= len(LARGE_BODY) < 3 * MIB + 1024
    assert set(body) == set(orjson.loads(SMALL_BODY))  # no field the fixture does not have
    assert len({c["id"] for c in body["commits"]}) == LARGE_COMMITS


@pytest.mark.parametrize("compression", [pytest.param("zstd", id="zstd"), pytest.param("", id="uncompressed")])
def test_a_3_mb_push_is_accepted_and_reaches_the_events(system: Distributed, compression: str) -> None:
    # Uncompressed, the 3 MB record exceeds Kafka's 1 MB defaults for max.message.bytes and for the
    # consumer's per-partition fetch: only the limits that follow the body limit let it through.
    system.env["METRICSYNC_KAFKA_COMPRESSION"] = compression
    system.start()
    large = system.post(signed(LARGE_BODY, "large-push"))
    assert (large.status_code, large.json()["status"]) == (202, "accepted"), large.text
    small = system.post(signed(SMALL_BODY, "small-push"))
    assert small.status_code == 202, small.text

    def stored() -> bool:
        status = system.get("/api/v1/status").json()
        return bool(status["raw_deliveries"] == 2 and status["events"] == LARGE_COMMITS + 1)

    try:
        wait_until("both pushes to be normalized into events", stored, timeout=120, interval=0.5)
    except AssertionError:
        raise AssertionError(f"{system.get('/api/v1/status').json()}\n{system.logs()}") from None
    spool = Path(system.env["METRICSYNC_SPOOL_DIR"]) / "worker-0"
    assert not (spool / "spool.log").exists() or (spool / "spool.log").stat().st_size == 0  # published, not spooled
    raw_topic = system.env["METRICSYNC_RAW_TOPIC"]
    configs = asyncio.run(topic_configs(system.kafka_bootstrap, raw_topic))
    assert configs[MAX_MESSAGE_BYTES] == str(DEFAULT_LIMIT)


def test_init_raises_the_limit_of_topics_created_before_and_keeps_their_other_settings(system: Distributed) -> None:
    raw_topic = system.env["METRICSYNC_RAW_TOPIC"]
    old = {"retention.ms": "86400000"}  # an operator's override, and Kafka's 1 MB default limit
    asyncio.run(create_topic_with(system.kafka_bootstrap, raw_topic, 4, old))

    system.init()
    system.init()  # twice: nothing more to do

    raw = asyncio.run(topic_configs(system.kafka_bootstrap, raw_topic))
    assert (raw[MAX_MESSAGE_BYTES], raw["retention.ms"]) == (str(DEFAULT_LIMIT), "86400000")
    dead_letters = asyncio.run(topic_configs(system.kafka_bootstrap, system.env["METRICSYNC_DEAD_LETTER_TOPIC"]))
    assert dead_letters[MAX_MESSAGE_BYTES] == str(dead_letter_record_limit(Settings().ingest.max_body_bytes))
    init_log = "\n".join(p.log_path.read_text() for p in system.processes)
    assert f"topic {raw_topic}: max.message.bytes raised to {DEFAULT_LIMIT}" in init_log


def test_a_topic_too_small_for_a_delivery_answers_413_and_later_deliveries_still_go_through(
    system: Distributed,
) -> None:
    raw_topic = system.env["METRICSYNC_RAW_TOPIC"]
    # One partition: the refused record and the ones after it share it (and the producer's sequence).
    asyncio.run(create_topic_with(system.kafka_bootstrap, raw_topic, 1, {MAX_MESSAGE_BYTES: str(SMALL_LIMIT)}))
    system.start_ingest()

    refused = system.post(signed(LARGE_BODY, "large-push"))
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"] == "delivery_too_large"
    detail = refused.json()["detail"]
    assert f"max.message.bytes={SMALL_LIMIT}" in detail
    assert raw_topic in detail
    assert "not stored" in detail

    for i in range(3):
        accepted = system.post(signed(SMALL_BODY, f"small-push-{i}"))
        assert (accepted.status_code, accepted.json()["status"]) == (202, "accepted"), accepted.text
    again = system.post(signed(LARGE_BODY, "large-push"))  # GitHub's "redeliver": the same answer
    assert again.status_code == 413, again.text

    ids = asyncio.run(delivery_ids(system.kafka_bootstrap, raw_topic, 3))
    assert ids == ["small-push-0", "small-push-1", "small-push-2"]
    slot = Path(system.env["METRICSYNC_SPOOL_DIR"]) / "worker-0"
    assert not (slot / "rejected.log").exists()
    spool_log = slot / "spool.log"
    wait_until("the spool to be empty", lambda: not spool_log.exists() or spool_log.stat().st_size == 0)
    log_text = system.processes[-1].log_path.read_text()
    assert "kafka refused a delivery as too large delivery_id=large-push" in log_text


@pytest.fixture
async def small_topic(kafka_bootstrap: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A one-partition raw topic whose max.message.bytes is SMALL_LIMIT; deleted afterwards."""
    topic = unique_name("t", request.node.name, max_len=120)
    await create_topic_with(kafka_bootstrap, topic, 1, {MAX_MESSAGE_BYTES: str(SMALL_LIMIT)})
    yield topic
    await delete_topic(kafka_bootstrap, topic)


async def test_an_oversize_record_in_the_spool_is_moved_aside_and_the_ones_behind_it_are_published(
    tmp_path: Path, kafka_bootstrap: str, small_topic: str
) -> None:
    settings = Settings(kafka_bootstrap=kafka_bootstrap, raw_topic=small_topic, spool_dir=tmp_path / "spool")
    # Spooled while Kafka was away, before the limit mattered: the large push between two small ones.
    left = Spool(slot_directory(settings.spool_dir, 0), settings.spool_max_bytes)
    for item in (
        delivery(SMALL_BODY, "spooled-1"),
        delivery(LARGE_BODY, "spooled-large"),
        delivery(SMALL_BODY, "spooled-2"),
    ):
        await left.append(encode_spool_record(item))
    left.close()

    sink = KafkaSink(settings)
    await sink.start()  # claims worker-0 and drains it
    try:
        for _ in range(600):
            if sink.spool.is_empty():
                break
            await asyncio.sleep(0.1)
        assert sink.spool.is_empty(), sink.status()
        assert sink.status()["spool_rejected"] == 1
        assert [decode_spool_record(r).delivery_id for r in sink.spool.rejected()] == ["spooled-large"]
        assert decode_spool_record(sink.spool.rejected()[0]).body == LARGE_BODY  # kept byte for byte

        # the producer that saw the refusal was replaced: direct publishing works on that partition
        for _ in range(100):
            if sink.status()["kafka"] == "connected":
                break
            await asyncio.sleep(0.1)
        assert await sink.submit(delivery(SMALL_BODY, "direct-1")) is True
        with pytest.raises(DeliveryTooLarge, match=re.escape(f"max.message.bytes={SMALL_LIMIT}")):
            await sink.submit(delivery(LARGE_BODY, "direct-large"))
        assert await sink.submit(delivery(SMALL_BODY, "direct-2")) is True
        for _ in range(300):  # in case anything went to the spool meanwhile: published before stopping
            if sink.spool.is_empty():
                break
            await asyncio.sleep(0.1)
        assert sink.status()["refused_too_large"] == 1
    finally:
        await sink.stop()

    ids = await delivery_ids(kafka_bootstrap, small_topic, 4)
    assert ids == ["spooled-1", "spooled-2", "direct-1", "direct-2"]
