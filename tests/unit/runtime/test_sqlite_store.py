"""The embedded SQLite store: durable raw log with dedup, atomic event+cursor commits, reopen."""

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from metricsync.embedded.sqlite_store import ROWS_PER_INSERT, DeadLetter, Mapping, SqliteStore, Stored
from schemas.events import ChangePushed
from schemas.ports import DeadLetterFilter
from schemas.raw import RawDelivery
from schemas.sources import Source
from tests.support.webhooks import FIXTURES

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


# --- deliveries stored with their events (embedded ingest) -----------------------------------------


async def test_put_mapped_stores_events_dead_letters_and_cursor_with_the_delivery(store: SqliteStore) -> None:
    results = await asyncio.gather(
        store.put_mapped(raw("a"), Mapping([change("e1", "s1"), change("e2", "s2")], None)),
        store.put_mapped(raw("b"), Mapping([change("e2", "s2"), change("e3", "s3")], None)),  # e2 again
        store.put_mapped(raw("c"), Mapping([], "bad payload")),
        store.put_mapped(raw("a"), Mapping([change("e1", "s1")], None)),  # the same delivery twice in a batch
    )
    assert list(results) == [
        Stored(True, True, [change("e1", "s1"), change("e2", "s2")]),
        Stored(True, True, [change("e3", "s3")]),  # each new event goes to the first delivery bringing it
        Stored(True, True, []),
        Stored(False, False, []),
    ]
    counts = await store.counts()
    assert (counts.raw_deliveries, counts.last_raw_seq, counts.normalized_through, counts.events) == (3, 3, 3, 3)
    assert await store.dead_letters() == [DeadLetter(3, "c", "bad payload")]
    assert await store.put_mapped(raw("b"), Mapping([change("e4", "s4")], None)) == Stored(False, False, [])
    _, events = await store.events_after(0, 10)
    assert [e.id for e in events] == ["e1", "e2", "e3"]
    await store.close()


async def test_put_mapped_leaves_a_backlog_to_the_normalizer(store: SqliteStore) -> None:
    assert await store.put_raw(raw("a")) is True  # stored without a mapping: the cursor stays behind
    stored = await store.put_mapped(raw("b"), Mapping([change("e1", "s1")], None))
    assert stored == Stored(True, False, [])  # not normalized: the normalizer takes rows 1 and 2 in order
    assert (await store.counts()).events == 0
    assert await store.cursor() == 0
    await store.commit_normalized(2, [change("e1", "s1")], [])
    assert await store.put_mapped(raw("c"), Mapping([change("e2", "s2")], None)) == Stored(
        True, True, [change("e2", "s2")]
    )
    assert await store.cursor() == 3
    await store.close()


async def test_the_cursor_never_moves_back(store: SqliteStore) -> None:
    await store.put_mapped(raw("a"), Mapping([], None))
    await store.put_mapped(raw("b"), Mapping([], None))
    assert await store.cursor() == 2
    await store.commit_normalized(1, [], [])  # a normalizer pass that read only up to row 1
    assert await store.cursor() == 2
    await store.close()


async def test_batches_larger_than_one_insert_statement(store: SqliteStore) -> None:
    count = ROWS_PER_INSERT * 2 + 7
    results = await asyncio.gather(
        *(store.put_mapped(raw(f"d{i}"), Mapping([change(f"e{i}", f"s{i}")], None)) for i in range(count))
    )
    assert all(r.is_new and r.normalized and [e.id for e in r.new_events] == [f"e{i}"] for i, r in enumerate(results))
    counts = await store.counts()
    assert (counts.raw_deliveries, counts.events, counts.normalized_through) == (count, count, count)
    await store.close()


# --- raw bodies as LZ4 blocks ----------------------------------------------------------------------


async def test_bodies_are_stored_compressed_and_read_back_as_received(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    push = (FIXTURES / "github" / "push__single_commit.json").read_bytes()
    store = await SqliteStore.open(path)
    await store.put_raw(raw("big", body=push))
    await store.put_raw(raw("tiny", body=b"{}"))  # LZ4 would make it longer: kept as it is
    rows = await store.raw_after(0, 10)
    assert [r.delivery.body for r in rows] == [push, b"{}"]
    await store.close()
    with sqlite3.connect(path) as conn:
        stored = dict(conn.execute("SELECT delivery_id, length(body) || ' ' || body_encoding FROM raw_deliveries"))
    assert stored["tiny"] == "2 "
    size, encoding = stored["big"].split(" ")
    assert encoding == "lz4"
    assert int(size) < len(push) / 2


async def test_a_store_from_before_compression_opens_and_reads(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as conn:  # the raw_deliveries table as earlier versions created it
        conn.execute(
            "CREATE TABLE raw_deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL UNIQUE,"
            " source TEXT NOT NULL, event_type TEXT NOT NULL, key TEXT NOT NULL, received_at TEXT NOT NULL,"
            " headers TEXT NOT NULL, body BLOB NOT NULL)"
        )
        conn.execute(
            "INSERT INTO raw_deliveries (delivery_id, source, event_type, key, received_at, headers, body)"
            " VALUES ('old', 'github', 'push', 'acme/app', ?, '{}', ?)",
            (T0.isoformat(), b'{"a": 1}'),
        )
    store = await SqliteStore.open(path)
    assert await store.put_raw(raw("new", body=b'{"b": 2}' * 50)) is True
    rows = await store.raw_after(0, 10)
    assert [(r.delivery.delivery_id, r.delivery.body) for r in rows] == [
        ("old", b'{"a": 1}'),
        ("new", b'{"b": 2}' * 50),
    ]
    await store.close()


async def test_a_store_written_before_dead_letters_had_a_time_is_listed_by_received_at(tmp_path: Path) -> None:
    """An older store's dead_letters table has no `at`: opening adds it, and its letters list with their
    delivery's received_at as `at`; letters written now carry the store clock's time."""
    path = tmp_path / "old.db"
    store = await SqliteStore.open(path)
    await store.put_raw_many([raw("a"), raw("b")])
    await store.close()
    with sqlite3.connect(path) as conn:  # the table as it was
        conn.execute("DROP TABLE dead_letters")
        conn.execute("CREATE TABLE dead_letters (raw_seq INTEGER PRIMARY KEY, delivery_id TEXT NOT NULL, error TEXT)")
        conn.execute("INSERT INTO dead_letters VALUES (1, 'a', 'an old error')")
    later = datetime(2024, 5, 2, tzinfo=UTC)
    store = await SqliteStore.open(path, clock=lambda: later)
    try:
        await store.commit_normalized(2, [], [DeadLetter(2, "b", "a new error")])
        listed = await store.list_dead_letters(DeadLetterFilter(), None, 10, False)
        assert [(d.id, d.at, d.error) for d in listed] == [
            ("a", T0.isoformat(), "an old error"),
            ("b", later.isoformat(), "a new error"),
        ]
        assert await store.count_dead_letters(DeadLetterFilter(since=later)) == 1
        # the replay columns were added too: a replay marks the old letter replayed, the other stays open
        await store.resolve_dead_letter(1, [], now=later)
        await store.resolve_dead_letter(2, None, "fails again", now=later)
        (done,) = await store.list_dead_letters(DeadLetterFilter(state="replayed"), None, 10, False)
        assert (done.id, done.replayed_at, done.replayed_events, done.error) == (
            "a",
            later.isoformat(),
            0,
            "an old error",
        )
        (still,) = await store.list_dead_letters(DeadLetterFilter(state="open"), None, 10, False)
        assert (still.id, still.error, still.last_replay_error) == ("b", "a new error", "fails again")
        assert (await store.counts()).dead_letters == 1
        assert [d.delivery_id for d in await store.dead_letters()] == ["b"]  # what a replay looks at
    finally:
        await store.close()
