"""The worker's append-only state log (metricsync/mongo/state_log.py): documents, folding, compaction policy."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

import orjson
import pytest

from metricsync.mongo.state_log import (
    MAX_DELTAS,
    MIN_COMPACT_EVENTS,
    Cursor,
    StateLogError,
    base_doc,
    delta_doc,
    doc_id,
    fold,
)

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
STATE = {"format": 1, "service": "api", "seen": ["e1", "e2"]}


def test_documents_name_service_and_sequence_and_compress_the_body() -> None:
    base = base_doc("api", 0, STATE, 2, partition=3, offset=41, at=AT)
    assert base["_id"] == "api#0000000000" == doc_id("api", 0)
    assert (base["kind"], base["events"], base["partition"], base["offset"]) == ("base", 2, 3, 41)
    assert orjson.loads(zlib.decompress(base["body"])) == STATE
    delta = delta_doc("api", 1, [b'{"id":"e3"}', b'{"id":"e4"}'], partition=3, offset=44, at=AT)
    assert (delta["_id"], delta["kind"], delta["events"]) == ("api#0000000001", "delta", 2)
    assert zlib.decompress(delta["body"]).split(b"\n") == [b'{"id":"e3"}', b'{"id":"e4"}']


def test_fold_takes_the_last_base_the_deltas_after_it_and_names_the_rest_garbage() -> None:
    docs = [
        delta_doc("api", 4, [b"e5"], 1, 50, AT),
        base_doc("api", 0, {"old": True}, 1, 1, 10, AT),
        delta_doc("api", 1, [b"e2", b"e3"], 1, 20, AT),
        base_doc("api", 2, STATE, 3, 1, 30, AT),
        delta_doc("api", 3, [b"e4"], 1, 40, AT),
        base_doc("web", 0, {"web": 1}, 1, 2, 7, AT),
    ]
    states = fold(docs)
    api = states["api"]
    assert (api.base, api.base_seq) == (STATE, 2)
    assert api.deltas == [(3, [b"e4"]), (4, [b"e5"])]
    assert (api.partition, api.offset, api.rev) == (1, 50, 4)
    assert api.garbage == ["api#0000000000", "api#0000000001"]
    assert (api.cursor.seq, api.cursor.base_seq, api.cursor.base_events) == (4, 2, 3)
    assert (api.cursor.delta_events, api.cursor.delta_docs) == (2, 2)
    assert (api.events_after(3), api.events_after(2)) == ([b"e5"], [b"e4", b"e5"])
    assert (states["web"].deltas, states["web"].rev) == ([], 0)


def test_a_log_without_a_base_is_an_error_that_says_what_to_do() -> None:
    with pytest.raises(StateLogError, match=r"no base.*rebuild"):
        fold([delta_doc("api", 3, [b"e"], 0, 1, AT)])


def test_a_damaged_body_is_an_error_naming_the_document() -> None:
    broken = base_doc("api", 0, STATE, 2, 0, 1, AT) | {"body": b"not zlib"}
    with pytest.raises(StateLogError, match="api#0000000000"):
        fold([broken])


def test_compaction_policy() -> None:
    cursor = Cursor()
    assert cursor.wants_base(1)  # nothing written yet: the first document is a base
    cursor.wrote_base(0, 1000)
    assert not cursor.wants_base(999)
    assert cursor.wants_base(1000)  # the log since the base holds as many events as the base
    cursor.wrote_delta(1, 600)
    assert not cursor.wants_base(399)
    assert cursor.wants_base(400)
    small = Cursor()
    small.wrote_base(0, 3)
    assert not small.wants_base(MIN_COMPACT_EVENTS - 1)  # tiny bases are not rewritten for a few events
    assert small.wants_base(MIN_COMPACT_EVENTS)
    many = Cursor()
    many.wrote_base(0, 10**9)
    for seq in range(1, MAX_DELTAS + 1):
        assert not many.wants_base(1)
        many.wrote_delta(seq, 1)
    assert many.wants_base(1)  # too many deltas to replay on load
    assert (many.seq, many.base_seq) == (MAX_DELTAS, 0)


def test_a_rebase_asked_while_an_older_base_is_being_written_stays_asked() -> None:
    cursor = Cursor()
    cursor.wrote_base(0, 100)
    assert not cursor.wants_base(0)
    cursor.want_base()  # retention pruned the state
    assert cursor.wants_base(0)
    exported = cursor.rebases_asked  # a checkpoint exports a base now...
    cursor.want_base()  # ...and retention prunes again while it is being written
    cursor.wrote_base(1, 100, exported)
    assert cursor.wants_base(0)  # the base written predates the second prune: the next one is a base too
    cursor.wrote_base(2, 80, cursor.rebases_asked)
    assert not cursor.wants_base(0)
    cursor.want_base()
    cursor.wrote_base(3, 80)  # written from the current state: covers every request so far
    assert not cursor.wants_base(0)
