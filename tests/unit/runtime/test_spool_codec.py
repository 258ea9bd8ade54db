"""Ingest's disk spool and the raw-record codec: the parts of distributed mode that need no server."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from metricsync.kafka.codec import CodecError, decode_raw, decode_spool_record, encode_raw, encode_spool_record
from metricsync.kafka.sink import RecentIds
from metricsync.kafka.spool import Spool, SpoolFull, claim_orphans, slot_directory
from schemas.raw import RawDelivery
from schemas.sources import Source

DELIVERY = RawDelivery(
    delivery_id="d-1",
    source=Source.JENKINS,
    event_type="notification",
    key="job/app-deploy/",
    received_at=datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC),
    headers={"user-agent": "Jenkins", "content-type": "application/json"},
    body=b'{"name": "app-deploy", "\xc3\xa9": 1}',
)


def test_raw_record_round_trip_keeps_the_body_byte_for_byte() -> None:
    key, value, headers = encode_raw(DELIVERY)
    assert (key, value) == (b"job/app-deploy/", DELIVERY.body)
    assert decode_raw(key, value, headers) == DELIVERY


def test_raw_record_without_metadata_is_a_codec_error() -> None:
    with pytest.raises(CodecError, match="ms-delivery-id"):
        decode_raw(b"k", b"{}", [("ms-source", b"github")])
    _, value, headers = encode_raw(DELIVERY)
    bad = [(n, b"nope" if n == "ms-source" else v) for n, v in headers]
    with pytest.raises(CodecError, match="bad header"):
        decode_raw(b"k", value, bad)


def test_spool_record_round_trip() -> None:
    assert decode_spool_record(encode_spool_record(DELIVERY)) == DELIVERY


async def test_spool_appends_reads_in_order_and_truncates_when_drained(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    for i in range(5):
        await spool.append(f"record-{i}".encode())
    pending = await spool.read_pending(3)
    assert [p for _, p in pending] == [b"record-0", b"record-1", b"record-2"]
    await spool.mark_drained(pending[-1][0])
    rest = await spool.read_pending(10)
    assert [p for _, p in rest] == [b"record-3", b"record-4"]
    assert not spool.is_empty()
    await spool.mark_drained(rest[-1][0])
    assert spool.is_empty()
    assert spool.log_path.stat().st_size == 0
    spool.close()


async def test_spool_survives_a_restart_mid_drain(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    for i in range(3):
        await spool.append(f"r{i}".encode())
    first = await spool.read_pending(1)
    await spool.mark_drained(first[0][0])
    spool.close()
    reopened = Spool(tmp_path, max_bytes=10_000)
    assert [p for _, p in await reopened.read_pending(10)] == [b"r1", b"r2"]
    reopened.close()


async def test_torn_tail_is_cut_on_open(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    await spool.append(b"whole")
    spool.close()
    with spool.log_path.open("ab") as f:
        f.write(b"\x00\x00\x00\x09\x00\x00")  # a crash in the middle of the next record's header
    reopened = Spool(tmp_path, max_bytes=10_000)
    assert [p for _, p in await reopened.read_pending(10)] == [b"whole"]
    assert reopened.log_path.stat().st_size == 8 + len(b"whole")
    reopened.close()


async def test_spool_refuses_beyond_its_bound(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=40)
    await spool.append(b"x" * 20)
    with pytest.raises(SpoolFull, match="is full"):
        await spool.append(b"y" * 20)
    spool.close()


def test_recent_ids_forget_the_oldest() -> None:
    recent = RecentIds(capacity=2)
    for delivery_id in ("a", "b", "c"):
        recent.add(delivery_id)
    assert "a" not in recent
    assert "b" in recent
    assert "c" in recent


async def test_a_rejected_record_is_kept_aside_and_the_spool_moves_past_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    for payload in (b"too-large", b"next"):
        await spool.append(payload)
    first, _ = await spool.read_pending(10)
    await spool.reject(first[1])
    await spool.mark_drained(first[0])

    assert [p for _, p in await spool.read_pending(10)] == [b"next"]
    assert spool.rejected() == [b"too-large"]
    spool.close()
    reopened = Spool(tmp_path, max_bytes=10_000)  # both survive a restart
    assert [p for _, p in await reopened.read_pending(10)] == [b"next"]
    assert reopened.rejected() == [b"too-large"]
    assert reopened.rejected_path.parent == reopened.log_path.parent
    reopened.close()


async def test_rejected_records_are_replayed_by_moving_them_into_an_unused_slot(tmp_path: Path) -> None:
    own = Spool(slot_directory(tmp_path, 0), max_bytes=10_000)
    await own.append(b"too-large")
    ((end, payload),) = await own.read_pending(10)
    await own.reject(payload)
    await own.mark_drained(end)
    own.close()

    # what docs/architecture.md tells operators to do once Kafka's limit is raised
    replay = slot_directory(tmp_path, 900)
    replay.mkdir()
    (slot_directory(tmp_path, 0) / "rejected.log").rename(replay / "spool.log")
    (orphan,) = claim_orphans(tmp_path, max_bytes=10_000)
    assert orphan.directory == replay
    assert [p for _, p in await orphan.read_pending(10)] == [b"too-large"]
    orphan.close()


async def test_pending_records_follow_appends_drains_and_recovery(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", max_bytes=1 << 20)
    for i in range(3):
        await spool.append(f"record-{i}".encode())
    assert spool.pending_records == 3
    first = await spool.read_pending(1)
    await spool.mark_drained(first[0][0])
    assert spool.pending_records == 2
    spool.close()
    again = Spool(tmp_path / "s", max_bytes=1 << 20)  # a restart finds the two left
    assert again.pending_records == 2
    rest = await again.read_pending(10)
    await again.mark_drained(rest[-1][0])
    assert again.pending_records == 0
    assert again.is_empty()
    again.close()
