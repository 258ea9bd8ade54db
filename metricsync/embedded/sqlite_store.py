"""Embedded mode's store: one SQLite file (WAL) holding the immutable raw log, the unified events,
dead letters and processing cursors.

Writes of raw deliveries are group-committed: concurrent `put_raw` calls share one transaction and
one fsync (synchronous=FULL), so every caller returns only after its delivery is durable while
throughput does not pay one fsync per webhook. All SQLite work runs on two dedicated threads (one
writer, one reader); the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import orjson

from metricsync.body_codec import decode_body, encode_body
from metricsync.clock import utc_now
from metricsync.errors import StoreError
from schemas.api import DeadLetter as ApiDeadLetter
from schemas.events import UnifiedEvent, event_from_json, event_to_json
from schemas.ports import DeadLetterFilter
from schemas.raw import RawDelivery
from schemas.sources import Source

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS raw_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    event_type TEXT NOT NULL,
    key TEXT NOT NULL,
    received_at TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    body_encoding TEXT NOT NULL DEFAULT ''  -- see metricsync/body_codec.py; '' = as received
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_time TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_service_time ON events (service, event_time);
CREATE TABLE IF NOT EXISTS dead_letters (
    raw_seq INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    error TEXT NOT NULL,
    at TEXT NOT NULL DEFAULT '',  -- when dead-lettered, ISO 8601 UTC; '' (older stores): the delivery's received_at
    replayed_at TEXT,  -- when a replay mapped it (it stays, listed as replayed); NULL: open
    replayed_events INTEGER,  -- how many events that replay derived
    last_replay_error TEXT  -- the error of the last replay that failed (`error` stays the first one)
);
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
"""

NORMALIZER_CURSOR = "normalizer"

# The dead letters as the API shows them (the DeadLetters port): with their delivery's source, event type,
# received_at and body, `at` falling back to received_at for letters of stores older than the column.
_LETTERS = """
SELECT * FROM (
    SELECT d.delivery_id AS id, r.source, r.event_type, d.error, r.received_at,
           coalesce(nullif(d.at, ''), r.received_at, '') AS at, r.body, r.body_encoding,
           d.replayed_at, d.replayed_events, d.last_replay_error
    FROM dead_letters d LEFT JOIN raw_deliveries r ON r.seq = d.raw_seq
)"""


@dataclass(frozen=True, slots=True)
class StoredRaw:
    seq: int
    delivery: RawDelivery


@dataclass(frozen=True, slots=True)
class DeadLetter:
    raw_seq: int
    delivery_id: str
    error: str
    at: str = field(default="", compare=False)  # when dead-lettered (ISO 8601 UTC), as stored; set on reading


@dataclass(frozen=True, slots=True)
class Mapping:
    """A delivery's events, or why it cannot be mapped, worked out before it is stored."""

    events: Sequence[UnifiedEvent]
    error: str | None


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing one delivery did."""

    is_new: bool  # False: its delivery_id was stored before
    normalized: bool  # its events (or dead letter) were stored with it: no normalizer pass needed
    new_events: list[UnifiedEvent]  # its events not stored before (empty unless normalized)


@dataclass(frozen=True, slots=True)
class StoreCounts:
    raw_deliveries: int
    last_raw_seq: int
    normalized_through: int
    events: int
    dead_letters: int


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.create_function("icontains", 2, _contains, deterministic=True)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _raw_row(row: tuple[int, str, str, str, str, str, str, bytes, str]) -> StoredRaw:
    seq, delivery_id, source, event_type, key, received_at, headers, body, encoding = row
    return StoredRaw(
        seq=seq,
        delivery=RawDelivery(
            delivery_id=delivery_id,
            source=Source(source),
            event_type=event_type,
            key=key,
            received_at=datetime.fromisoformat(received_at),
            headers=orjson.loads(headers),
            body=decode_body(bytes(body), encoding),
        ),
    )


ROWS_PER_INSERT = 200  # rows of one multi-row INSERT (8 columns: 1,600 variables, under SQLite's 32,766)


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    return (items[i : i + size] for i in range(0, len(items), size))


# Statements per transaction are kept few and fixed: the sqlite3 module releases the GIL for every
# step (each statement, and each row it returns), and the writer thread then waits for the event
# loop's thread to hand it back. So rows go in as multi-row INSERTs, and which ones were new comes
# back as one JSON row (json_group_array over the seqs just assigned), not one row each (RETURNING).


def _insert_raws(conn: sqlite3.Connection, deliveries: Sequence[RawDelivery], after_seq: int) -> dict[str, int]:
    """Insert the deliveries not stored before: {delivery_id: seq} of those inserted (`after_seq`: the
    last seq before this transaction), in one statement per ROWS_PER_INSERT rows."""
    for chunk in _chunks(deliveries, ROWS_PER_INSERT):
        sql = (
            "INSERT OR IGNORE INTO raw_deliveries"
            " (delivery_id, source, event_type, key, received_at, headers, body, body_encoding)"
            f" VALUES {','.join(['(?, ?, ?, ?, ?, ?, ?, ?)'] * len(chunk))}"
        )
        params: list[object] = []
        for d in chunk:
            params += (
                d.delivery_id,
                d.source.value,
                d.event_type,
                d.key,
                d.received_at.isoformat(),
                orjson.dumps(d.headers),
                *encode_body(d.body),
            )
        conn.execute(sql, params)
    (pairs,) = conn.execute(
        "SELECT json_group_array(json_array(delivery_id, seq)) FROM raw_deliveries WHERE seq > ?", (after_seq,)
    ).fetchone()
    return {delivery_id: seq for delivery_id, seq in orjson.loads(pairs)}


def _insert_events(conn: sqlite3.Connection, events: Sequence[UnifiedEvent]) -> list[UnifiedEvent]:
    """Insert the events whose id was not stored before; the new ones, in the order given."""
    if not events:
        return []
    (after_seq,) = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
    for chunk in _chunks(events, ROWS_PER_INSERT):
        sql = (
            "INSERT OR IGNORE INTO events (id, service, kind, event_time, payload)"
            f" VALUES {','.join(['(?, ?, ?, ?, ?)'] * len(chunk))}"
        )
        params: list[object] = []
        for e in chunk:
            params += (e.id, e.service, e.kind, e.event_time.isoformat(), event_to_json(e))
        conn.execute(sql, params)
    (ids,) = conn.execute("SELECT json_group_array(id) FROM events WHERE seq > ?", (after_seq,)).fetchone()
    new_ids: set[str] = set(orjson.loads(ids))
    new: list[UnifiedEvent] = []
    for event in events:
        if event.id in new_ids:  # the same id twice in `events`: the first one is the stored one
            new_ids.discard(event.id)
            new.append(event)
    return new


def _insert_dead(conn: sqlite3.Connection, dead: Sequence[DeadLetter], at: datetime) -> None:
    if not dead:
        return
    conn.executemany(
        "INSERT OR REPLACE INTO dead_letters (raw_seq, delivery_id, error, at) VALUES (?, ?, ?, ?)",
        [(d.raw_seq, d.delivery_id, d.error, at.astimezone(UTC).isoformat()) for d in dead],
    )


def _contains(text: str | None, part: str) -> bool:
    """SQL `icontains(error, ?)`: `part` in `text`, case-insensitively (Unicode, as MongoDB's `$regex` with `i`)."""
    return text is not None and part.casefold() in text.casefold()


def _letter_where(selection: DeadLetterFilter, after: tuple[str, str] | None) -> tuple[str, list[object]]:
    """The WHERE clause over _LETTERS for a listing, and its parameters."""
    clauses: list[str] = []
    params: list[object] = []
    if selection.source is not None:
        clauses.append("source = ?")
        params.append(selection.source)
    if selection.since is not None:
        clauses.append("at >= ?")
        params.append(selection.since.astimezone(UTC).isoformat())
    if selection.until is not None:
        clauses.append("at < ?")
        params.append(selection.until.astimezone(UTC).isoformat())
    if selection.error is not None:
        clauses.append("icontains(error, ?)")
        params.append(selection.error)
    if selection.state == "open":
        clauses.append("replayed_at IS NULL")
    elif selection.state == "replayed":
        clauses.append("replayed_at IS NOT NULL")
    if after is not None:
        clauses.append("(at > ? OR (at = ? AND id > ?))")
        params += [after[0], after[0], after[1]]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


_LetterRow = tuple[
    str, str | None, str | None, str, str | None, str, bytes | None, str | None, str | None, int | None, str | None
]


def _letter_row(row: _LetterRow, with_body: bool) -> ApiDeadLetter:
    letter_id, source, event_type, error, received_at, at, body, encoding, replayed_at, events, replay_error = row
    raw = decode_body(bytes(body), encoding or "") if body is not None else b""
    return ApiDeadLetter(
        id=letter_id,
        source=source,
        event_type=event_type,
        error=error,
        topic=None,
        partition=None,
        offset=None,
        received_at=received_at,
        at=at or None,
        body_bytes=len(raw),
        replayed_at=replayed_at,
        replayed_events=events,
        last_replay_error=replay_error,
        body_b64=base64.b64encode(raw).decode("ascii") if with_body else None,
    )


def _move_cursor(conn: sqlite3.Connection, name: str, position: int) -> None:
    """Move a cursor forward to `position` (never back: inline normalization may be ahead of a pass)."""
    conn.execute(
        "INSERT INTO cursors (name, position) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET position = max(position, excluded.position)",
        (name, position),
    )


class SqliteStore:
    """The embedded store. Open with `await SqliteStore.open(path)`, close with `await store.close()`."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.path = path
        self.clock = clock  # when a letter is dead-lettered (`at`)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-reader")
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._pending: list[tuple[RawDelivery, Mapping | None, asyncio.Future[Stored]]] = []
        self._flush_task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: Path, clock: Callable[[], datetime] = utc_now) -> SqliteStore:
        store = cls(path, clock)
        path.parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        store._wconn = await loop.run_in_executor(store._writer, store._open_writer)
        store._rconn = await loop.run_in_executor(store._reader, _connect, path, "NORMAL")
        return store

    def _open_writer(self) -> sqlite3.Connection:
        conn = _connect(self.path, "FULL")
        conn.executescript(SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(raw_deliveries)")}
        if "body_encoding" not in columns:  # a store written before bodies were compressed
            conn.execute("ALTER TABLE raw_deliveries ADD COLUMN body_encoding TEXT NOT NULL DEFAULT ''")
        letter_columns = {row[1] for row in conn.execute("PRAGMA table_info(dead_letters)")}
        if "at" not in letter_columns:  # before listings
            conn.execute("ALTER TABLE dead_letters ADD COLUMN at TEXT NOT NULL DEFAULT ''")
        for column, kind in (("replayed_at", "TEXT"), ("replayed_events", "INTEGER"), ("last_replay_error", "TEXT")):
            if column not in letter_columns:  # before replayed letters were kept
                conn.execute(f"ALTER TABLE dead_letters ADD COLUMN {column} {kind}")
        return conn

    async def close(self) -> None:
        if self._flush_task is not None:
            await self._flush_task
        loop = asyncio.get_running_loop()
        if self._wconn is not None:
            await loop.run_in_executor(self._writer, self._wconn.close)
        if self._rconn is not None:
            await loop.run_in_executor(self._reader, self._rconn.close)
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)

    # --- raw log ---------------------------------------------------------------------------------

    async def put_raw(self, delivery: RawDelivery) -> bool:
        """Store a delivery durably. True if new, False if its delivery_id was stored before."""
        return (await self.put_mapped(delivery, None)).is_new

    async def put_raw_many(self, deliveries: Sequence[RawDelivery]) -> int:
        """Store deliveries durably (one group commit); returns how many were new (the RawLog port)."""
        stored = await asyncio.gather(*(self.put_mapped(d, None) for d in deliveries))
        return sum(1 for s in stored if s.is_new)

    async def raw_batches(self, size: int) -> AsyncIterator[list[RawDelivery]]:
        """Every raw delivery, `size` at a time, in storage order (the RawLog port)."""
        seq = 0
        while rows := await self.raw_after(seq, size):
            seq = rows[-1].seq
            yield [row.delivery for row in rows]

    async def raw_count(self) -> int:
        return (await self.counts()).raw_deliveries

    async def put_mapped(self, delivery: RawDelivery, mapping: Mapping | None) -> Stored:
        """Store a delivery durably, with its events if `mapping` is given and the normalizer has no
        backlog (then the events, any dead letter and the normalizer cursor move in the same
        transaction as the delivery, so nothing needs to read it back). Concurrent callers share one
        transaction (group commit)."""
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, mapping, future))
        if self._flush_task is None:
            self._flush_task = asyncio.create_task(self._flush_pending())
        return await future

    async def _flush_pending(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await loop.run_in_executor(
                        self._writer, self._insert_raw_batch, [(d, m) for d, m, _ in batch]
                    )
                except BaseException as e:  # every waiting caller gets an answer, whatever happened
                    error = StoreError(f"cannot store deliveries in {self.path}: {e}")
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    if not isinstance(e, Exception):
                        raise
                    continue
                for (_, _, future), stored in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(stored)
        finally:
            self._flush_task = None
            for _, _, future in self._pending:  # cancelled mid-flush: nobody will write these
                if not future.done():
                    future.set_exception(StoreError("the SQLite store is closing"))
            self._pending = []

    def _insert_raw_batch(self, items: Sequence[tuple[RawDelivery, Mapping | None]]) -> list[Stored]:
        conn = self._require(self._wconn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            last_seq, cursor = conn.execute(
                "SELECT (SELECT coalesce(max(seq), 0) FROM raw_deliveries),"
                " (SELECT coalesce(max(position), 0) FROM cursors WHERE name = ?)",
                (NORMALIZER_CURSOR,),
            ).fetchone()
            inline = all(m is not None for _, m in items) and cursor == last_seq
            seqs = _insert_raws(conn, [d for d, _ in items], last_seq)
            firsts: list[int | None] = []  # each item's new seq, for the first item of a delivery id
            for delivery, _ in items:
                firsts.append(seqs.pop(delivery.delivery_id, None))
            results = [Stored(seq is not None, False, []) for seq in firsts]
            if inline and any(seq is not None for seq in firsts):
                results = self._normalize_inline(conn, items, firsts, self.clock())
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return results

    @staticmethod
    def _normalize_inline(
        conn: sqlite3.Connection,
        items: Sequence[tuple[RawDelivery, Mapping | None]],
        firsts: list[int | None],
        at: datetime,
    ) -> list[Stored]:
        events: list[UnifiedEvent] = []
        dead: list[DeadLetter] = []
        for (delivery, mapping), seq in zip(items, firsts, strict=True):
            if seq is not None and mapping is not None:
                events.extend(mapping.events)
                if mapping.error is not None:
                    dead.append(DeadLetter(seq, delivery.delivery_id, mapping.error))
        fresh = {e.id for e in _insert_events(conn, events)}
        _insert_dead(conn, dead, at)
        _move_cursor(conn, NORMALIZER_CURSOR, max(seq for seq in firsts if seq is not None))
        results: list[Stored] = []
        for (_, mapping), seq in zip(items, firsts, strict=True):
            mine: list[UnifiedEvent] = []
            if seq is not None and mapping is not None:
                for event in mapping.events:
                    if event.id in fresh:  # each new event goes to the first delivery that brought it
                        fresh.discard(event.id)
                        mine.append(event)
            results.append(Stored(seq is not None, seq is not None, mine))
        return results

    async def raw_after(self, seq: int, limit: int) -> list[StoredRaw]:
        """Raw deliveries with seq > `seq`, oldest first."""
        return await self._read(self._raw_after, seq, limit)

    def _raw_after(self, seq: int, limit: int) -> list[StoredRaw]:
        rows = (
            self._require(self._rconn)
            .execute(
                "SELECT seq, delivery_id, source, event_type, key, received_at, headers, body, body_encoding"
                " FROM raw_deliveries WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            )
            .fetchall()
        )
        return [_raw_row(row) for row in rows]

    # --- events and cursors ----------------------------------------------------------------------

    async def commit_normalized(
        self, through_seq: int, events: Iterable[UnifiedEvent], dead: Iterable[DeadLetter]
    ) -> list[UnifiedEvent]:
        """In one transaction: store events (ignoring ids seen before), dead letters, and move the
        normalizer cursor to `through_seq`. Returns the events that were new."""
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, self._commit_normalized, through_seq, list(events), list(dead)
        )

    def _commit_normalized(
        self, through_seq: int, events: list[UnifiedEvent], dead: list[DeadLetter]
    ) -> list[UnifiedEvent]:
        conn = self._require(self._wconn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            new = _insert_events(conn, events)
            _insert_dead(conn, dead, self.clock())
            _move_cursor(conn, NORMALIZER_CURSOR, through_seq)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return new

    async def put_events(self, events: Sequence[UnifiedEvent]) -> list[UnifiedEvent]:
        """Store events not stored before, durably; returns those that were new (the EventStore port)."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._put_events, list(events))

    def _put_events(self, events: list[UnifiedEvent]) -> list[UnifiedEvent]:
        conn = self._require(self._wconn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            new = _insert_events(conn, events)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return new

    async def events_for(self, service: str, limit: int = 0) -> list[UnifiedEvent]:
        """One service's events by event time (ties in storage order); `limit` 0: all (the EventStore port)."""
        return await self._read(self._events_for, service, limit)

    def _events_for(self, service: str, limit: int) -> list[UnifiedEvent]:
        rows = (
            self._require(self._rconn)
            .execute(
                "SELECT payload FROM events WHERE service = ? ORDER BY event_time, seq LIMIT ?",
                (service, limit if limit > 0 else -1),
            )
            .fetchall()
        )
        return [event_from_json(payload) for (payload,) in rows]

    async def event_count(self) -> int:
        return (await self.counts()).events

    async def cursor(self, name: str = NORMALIZER_CURSOR) -> int:
        return await self._read(self._cursor, name)

    def _cursor(self, name: str) -> int:
        row = self._require(self._rconn).execute("SELECT position FROM cursors WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    async def events_after(self, seq: int, limit: int) -> tuple[int, list[UnifiedEvent]]:
        """Stored events with seq > `seq` in storage order, and the last seq returned."""
        return await self._read(self._events_after, seq, limit)

    def _events_after(self, seq: int, limit: int) -> tuple[int, list[UnifiedEvent]]:
        rows = (
            self._require(self._rconn)
            .execute("SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))
            .fetchall()
        )
        if not rows:
            return seq, []
        return int(rows[-1][0]), [event_from_json(payload) for _, payload in rows]

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The open dead letters (not replayed yet), newest first, with when each was dead-lettered."""
        return await self._read(self._dead_letters, limit)

    def _dead_letters(self, limit: int) -> list[DeadLetter]:
        rows = (
            self._require(self._rconn)
            .execute(
                "SELECT d.raw_seq, d.delivery_id, d.error, coalesce(nullif(d.at, ''), r.received_at, '')"
                " FROM dead_letters d LEFT JOIN raw_deliveries r ON r.seq = d.raw_seq"
                " WHERE d.replayed_at IS NULL ORDER BY d.raw_seq DESC LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [DeadLetter(int(seq), str(did), str(err), str(at)) for seq, did, err, at in rows]

    async def list_dead_letters(
        self, selection: DeadLetterFilter, after: tuple[str, str] | None, limit: int, with_body: bool
    ) -> list[ApiDeadLetter]:
        """The DeadLetters port: a keyset page in (`at`, id) order; no Kafka position (topic, partition,
        offset null)."""
        return await self._read(self._list_dead_letters, selection, after, limit, with_body)

    def _list_dead_letters(
        self, selection: DeadLetterFilter, after: tuple[str, str] | None, limit: int, with_body: bool
    ) -> list[ApiDeadLetter]:
        where, params = _letter_where(selection, after)
        rows = (
            self._require(self._rconn)
            .execute(f"{_LETTERS}{where} ORDER BY at, id LIMIT ?", [*params, limit])
            .fetchall()
        )
        return [_letter_row(row, with_body) for row in rows]

    async def count_dead_letters(self, selection: DeadLetterFilter) -> int:
        return await self._read(self._count_dead_letters, selection)

    def _count_dead_letters(self, selection: DeadLetterFilter) -> int:
        where, params = _letter_where(selection, None)
        (count,) = self._require(self._rconn).execute(f"SELECT count(*) FROM ({_LETTERS}{where})", params).fetchone()
        return int(count)

    async def get_dead_letter(self, letter_id: str) -> ApiDeadLetter | None:
        return await self._read(self._get_dead_letter, letter_id)

    def _get_dead_letter(self, letter_id: str) -> ApiDeadLetter | None:
        row = self._require(self._rconn).execute(f"{_LETTERS} WHERE id = ? LIMIT 1", (letter_id,)).fetchone()
        return None if row is None else _letter_row(row, with_body=True)

    async def resolve_dead_letter(
        self, raw_seq: int, events: Sequence[UnifiedEvent] | None, error: str = "", now: datetime | None = None
    ) -> None:
        """A replayed dead letter: with `events` (it maps now), store them (ids seen before are
        ignored) and mark the letter replayed (`replayed_at` = `now`, `replayed_events`), in one
        transaction; without, keep it open with `last_replay_error` = `error` (as distributed mode)."""
        when = (now or self.clock()).astimezone(UTC).isoformat()
        await asyncio.get_running_loop().run_in_executor(
            self._writer, self._resolve_dead_letter, raw_seq, None if events is None else list(events), error, when
        )

    def _resolve_dead_letter(self, raw_seq: int, events: list[UnifiedEvent] | None, error: str, when: str) -> None:
        conn = self._require(self._wconn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if events is None:
                conn.execute("UPDATE dead_letters SET last_replay_error = ? WHERE raw_seq = ?", (error, raw_seq))
            else:
                _insert_events(conn, events)
                conn.execute(
                    "UPDATE dead_letters SET replayed_at = ?, replayed_events = ?, last_replay_error = NULL"
                    " WHERE raw_seq = ?",
                    (when, len(events), raw_seq),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def reset_derived(self) -> None:
        """Forget everything derived from the raw log (events, dead letters, cursors): for rebuild."""
        await asyncio.get_running_loop().run_in_executor(self._writer, self._reset_derived)

    def _reset_derived(self) -> None:
        conn = self._require(self._wconn)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM events")
        conn.execute("DELETE FROM dead_letters")
        conn.execute("DELETE FROM cursors")
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
        conn.execute("COMMIT")

    async def counts(self) -> StoreCounts:
        return await self._read(self._counts)

    def _counts(self) -> StoreCounts:
        conn = self._require(self._rconn)
        raw_count, last_seq = conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM raw_deliveries").fetchone()
        (events,) = conn.execute("SELECT count(*) FROM events").fetchone()
        (dead,) = conn.execute("SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL").fetchone()
        return StoreCounts(int(raw_count), int(last_seq), self._cursor(NORMALIZER_CURSOR), int(events), int(dead))

    async def ping(self) -> str | None:
        try:
            await self._read(self._select_one)
        except (sqlite3.Error, StoreError) as e:
            return f"SQLite store {self.path} does not answer: {e}"
        return None

    def _select_one(self) -> None:
        self._require(self._rconn).execute("SELECT 1").fetchone()

    # --- helpers ---------------------------------------------------------------------------------

    async def _read(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reader, fn, *args)

    @staticmethod
    def _require(conn: sqlite3.Connection | None) -> sqlite3.Connection:
        if conn is None:
            raise StoreError("the SQLite store is not open")
        return conn
