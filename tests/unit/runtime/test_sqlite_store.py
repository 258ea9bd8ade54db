"""The embedded SQLite store: durable raw log with dedup, atomic event+cursor commits, reopen."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from metricsync.sqlite_store import DeadLetter, SqliteStore
from schemas.events import ChangePushed
from schemas.raw import RawDelivery
from schemas.sources import Source

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def raw(delivery_id: str, body: bytes = b'{"a": 1}') -> RawDelivery:
    return RawDelivery(
        delivery_id=delivery_id,
        source=Source.GITHUB,
        event_type="push",
        key="acme/app",
        received_at=T0,
        headers={"x-github-event": "push"},
        body=body,
    )


def change(event_id: str, sha: str) -> ChangePushed:
    return ChangePushed(
        id=event_id,
        source=Source.GITHUB,
        delivery_id="d1",
        service="acme/app",
        event_time=T0,
        received_at=T0,
        repo="acme/app",
        branch="main",
        sha=sha,
        commit_time=T0,
        push_id="p1",
        push_before="0" * 40,
        push_after=sha,
        position=0,
    )


@pytest.fixture
async def store(tmp_path: Path) -> SqliteStore:
    return await SqliteStore.open(tmp_path / "db.sqlite3")


async def test_put_raw_reports_new_then_duplicate(store: SqliteStore) -> None:
    assert await store.put_raw(raw("a")) is True
    assert await store.put_raw(raw("a", body=b'{"other": true}')) is False
    rows = await store.raw_after(0, 10)
    assert [(r.seq, r.delivery.delivery_id, r.delivery.body) for r in rows] == [(1, "a", b'{"a": 1}')]
    await store.close()


async def test_concurrent_puts_are_group_committed_and_each_answered(store: SqliteStore) -> None:
    ids = [f"d{i}" for i in range(200)] + ["d7", "d8"]  # two duplicates among concurrent writers
    results = await asyncio.gather(*(store.put_raw(raw(i)) for i in ids))
    assert sum(results) == 200
    assert results[-2:] == [False, False]
    counts = await store.counts()
    assert (counts.raw_deliveries, counts.last_raw_seq) == (200, 200)
    await store.close()


async def test_raw_round_trip_keeps_every_field(store: SqliteStore) -> None:
    original = raw("x", body=b'{"\xc3\xa9": [1, 2]}')
    await store.put_raw(original)
    (row,) = await store.raw_after(0, 1)
    assert row.delivery == original
    await store.close()


async def test_commit_normalized_stores_new_events_only_and_moves_cursor(store: SqliteStore) -> None:
    await store.put_raw(raw("a"))
    first = await store.commit_normalized(1, [change("e1", "s1"), change("e2", "s2")], [])
    assert [e.id for e in first] == ["e1", "e2"]
    again = await store.commit_normalized(1, [change("e2", "s2"), change("e3", "s3")], [DeadLetter(1, "a", "bad")])
    assert [e.id for e in again] == ["e3"]
    assert await store.cursor() == 1
    last, events = await store.events_after(0, 10)
    assert [e.id for e in events] == ["e1", "e2", "e3"]
    assert await store.events_after(last, 10) == (last, [])
    assert await store.dead_letters() == [DeadLetter(1, "a", "bad")]
    await store.close()


async def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = await SqliteStore.open(path)
    await store.put_raw(raw("a"))
    await store.commit_normalized(1, [change("e1", "s1")], [])
    await store.close()
    reopened = await SqliteStore.open(path)
    assert await reopened.put_raw(raw("a")) is False
    assert await reopened.cursor() == 1
    _, events = await reopened.events_after(0, 10)
    assert events == [change("e1", "s1")]
    await reopened.close()


async def test_reset_derived_keeps_raw_log(store: SqliteStore) -> None:
    await store.put_raw(raw("a"))
    await store.commit_normalized(1, [change("e1", "s1")], [DeadLetter(1, "a", "bad")])
    await store.reset_derived()
    counts = await store.counts()
    assert (counts.raw_deliveries, counts.events, counts.dead_letters, counts.normalized_through) == (
        1,
        0,
        0,
        0,
    )
    await store.close()


async def test_ping_answers_none_when_healthy(store: SqliteStore) -> None:
    assert await store.ping() is None
    await store.close()
