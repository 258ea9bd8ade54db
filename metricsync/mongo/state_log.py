"""The worker's metric state in MongoDB as an append-only log per service: a base (the service's
exported state, `MetricEngine.export_service`) followed by deltas (the events applied since, in
the order applied). Documents are inserted, never updated in place.

Why append-only: on FerretDB (SQLite backend) every update, replace or delete by `_id` scans the
collection, so rewriting a service's state costs time proportional to the whole collection (measured
on 2 cores: a replace of one 20 kB document in a 10 MB collection took 31 ms; 500 upserts took 4.9 s
on an empty collection and more than 30 s once the documents existed), while inserts run at ~25 MB/s.
With a log a checkpoint writes only what changed (the new events, compressed), not each service's
whole history, and on MongoDB it is just as cheap.

A base is rewritten (compaction) when the events logged since it reach the number it holds, or when
MAX_DELTAS deltas have piled up: the bytes written stay proportional to the events applied (each base
at least doubles the one before), and a load replays at most as many events as the base holds. The
documents a new base supersedes are garbage: `fold` names them and the worker deletes them in bulk.

One document:
    {_id: "<service>#<seq, 10 digits>", service, seq, kind: "base" | "delta", events: count,
     partition, offset (of the last event applied), at, body: zlib(base: orjson of the export;
     delta: the events' JSON, one per line)}
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from metrics_worker.engine import MetricEngine
from schemas.events import event_from_json

BASE = "base"
DELTA = "delta"
MAX_DELTAS = 64  # deltas after which a base is rewritten whatever their size
MIN_COMPACT_EVENTS = 256  # a small service's base is not rewritten for fewer logged events than this
Doc = dict[str, Any]


class StateLogError(ValueError):
    """Stored state documents that do not form a log `fold` can read."""


def doc_id(service: str, seq: int) -> str:
    return f"{service}#{seq:010d}"


def base_doc(
    service: str, seq: int, state: dict[str, Any], events: int, partition: int, offset: int, at: datetime
) -> Doc:
    body = zlib.compress(orjson.dumps(state), 1)
    return _doc(service, seq, BASE, events, partition, offset, at, body)


def delta_doc(service: str, seq: int, events: Sequence[bytes], partition: int, offset: int, at: datetime) -> Doc:
    body = zlib.compress(b"\n".join(events), 1)
    return _doc(service, seq, DELTA, len(events), partition, offset, at, body)


def _doc(service: str, seq: int, kind: str, events: int, partition: int, offset: int, at: datetime, body: bytes) -> Doc:
    # bson.Binary is a bytes subclass; plain bytes are stored as binary too
    return {
        "_id": doc_id(service, seq),
        "service": service,
        "seq": seq,
        "kind": kind,
        "events": events,
        "partition": partition,
        "offset": offset,
        "at": at,
        "body": body,
    }


@dataclass(slots=True)
class Cursor:
    """Where one service's log stands: the next write is `seq + 1`."""

    seq: int = -1  # -1: nothing written yet, so the next write is a base
    base_seq: int = 0
    base_events: int = 0
    delta_events: int = 0
    delta_docs: int = 0
    rebases_asked: int = 0  # want_base calls so far
    rebases_written: int = 0  # of those, how many a written base was exported after

    def wants_base(self, new_events: int) -> bool:
        if self.seq < 0 or self.rebases_asked > self.rebases_written:
            return True
        logged = self.delta_events + new_events
        return self.delta_docs >= MAX_DELTAS or logged >= max(MIN_COMPACT_EVENTS, self.base_events)

    def want_base(self) -> None:
        """Make the next write a base (the state changed other than by events: retention pruned it)."""
        self.rebases_asked += 1

    def wrote_base(self, seq: int, events: int, asked: int | None = None) -> None:
        """A base is written that was exported when `asked` rebases had been asked for (default: all
        so far). A checkpoint writes beside the polls, so retention may ask for another one while a
        base exported before it is being written: that request stays."""
        self.seq, self.base_seq, self.base_events, self.delta_events, self.delta_docs = seq, seq, events, 0, 0
        self.rebases_written = self.rebases_asked if asked is None else asked

    def wrote_delta(self, seq: int, events: int) -> None:
        self.seq = seq
        self.delta_events += events
        self.delta_docs += 1


@dataclass(slots=True)
class StoredState:
    """One service's log, read back: the base, the deltas after it, and what they supersede."""

    service: str
    base_seq: int
    base_at: object  # the base's "at" as stored: tells a base apart from one of a rebuild at the same seq
    base: dict[str, Any]
    deltas: list[tuple[int, list[bytes]]]  # (seq, events' JSON), by seq
    partition: int  # of the last document (the partition its last event came from)
    offset: int  # of the last event applied
    rev: int  # seq of the last document
    cursor: Cursor
    garbage: list[str] = field(default_factory=list)  # ids of documents older than the base

    def events_after(self, rev: int) -> list[bytes]:
        """The logged events of deltas after `rev` (a reader that holds the state up to `rev`)."""
        return [event for seq, events in self.deltas if seq > rev for event in events]


def restore(engine: MetricEngine, stored: StoredState, since: int | None = None) -> int:
    """Bring the engine's state of the service up to `stored`: import the base and replay the deltas
    after it, or, with `since` (the rev the engine already holds on this same base), replay only the
    deltas after that. Returns how many events were replayed."""
    if since is None:
        engine.import_service(stored.service, stored.base)
        since = stored.base_seq
    events = [event_from_json(raw) for raw in stored.events_after(since)]
    engine.apply_many(events)
    return len(events)


def fold(docs: Iterable[Doc]) -> dict[str, StoredState]:
    """Group state documents by service into what a worker or reader restores."""
    by_service: dict[str, list[Doc]] = {}
    for doc in docs:
        by_service.setdefault(str(doc["service"]), []).append(doc)
    return {service: _fold_one(service, rows) for service, rows in by_service.items()}


def _fold_one(service: str, rows: list[Doc]) -> StoredState:
    rows.sort(key=lambda d: int(d["seq"]))
    bases = [i for i, d in enumerate(rows) if d["kind"] == BASE]
    if not bases:
        raise StateLogError(
            f"state of service '{service}' has deltas {[d['seq'] for d in rows]} but no base; "
            "run `metricsync rebuild --distributed` to re-derive it"
        )
    first = bases[-1]
    base_doc_ = rows[first]
    last = rows[-1]
    deltas = [(int(d["seq"]), _lines(d)) for d in rows[first + 1 :]]
    cursor = Cursor(
        seq=int(last["seq"]),
        base_seq=int(base_doc_["seq"]),
        base_events=int(base_doc_["events"]),
        delta_events=sum(int(d["events"]) for d in rows[first + 1 :]),
        delta_docs=len(deltas),
    )
    try:
        base = orjson.loads(zlib.decompress(bytes(base_doc_["body"])))
    except (zlib.error, orjson.JSONDecodeError) as e:
        raise StateLogError(f"base {base_doc_['_id']} of service '{service}' is damaged: {e}") from e
    return StoredState(
        service=service,
        base_seq=int(base_doc_["seq"]),
        base_at=base_doc_["at"],
        base=base,
        deltas=deltas,
        partition=int(last["partition"]),
        offset=int(last["offset"]),
        rev=int(last["seq"]),
        cursor=cursor,
        garbage=[str(d["_id"]) for d in rows[:first]],
    )


def _lines(doc: Doc) -> list[bytes]:
    try:
        body = zlib.decompress(bytes(doc["body"]))
    except zlib.error as e:
        raise StateLogError(f"delta {doc['_id']} is damaged: {e}") from e
    return body.split(b"\n") if body else []
