"""Dead letters of distributed mode replayed through the current mapping rules (`metricsync
replay-dead-letters`). They are listed and fetched through the read API in both modes
(metricsync/web/dead_letters.py over the DeadLetters port; MongoStore here).

A dead letter (MongoDB `dead_letters`, `_id` = delivery id) keeps the source, event type, error,
topic, partition and Kafka offset of the raw record, when it was dead-lettered (`at`) and the body
(base64). A replay reads the delivery back from `raw_deliveries`, maps it with the rules in force
now, stores and publishes its events (deduplicated by id downstream) and marks the letter replayed
(`replayed_at`, `replayed_events`); one that still fails keeps its place with the new error
(`last_replay_error`). Replayed letters are not replayed again: a second replay changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from metricsync.kafka.clients import make_producer
from metricsync.mongo.store import MongoStore
from metricsync.settings import Settings
from normalizer.mapping import map_or_error
from schemas.events import event_to_json

log = logging.getLogger(__name__)

Doc = dict[str, Any]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()  # the form the normalizer writes `at` in


def replayed(events: int, now: datetime) -> Doc:
    """The fields a replay that mapped a letter sets: it is no longer open."""
    return {"replayed_at": _iso(now), "replayed_events": events}


def failed_replay(error: str, now: datetime) -> Doc:
    """The fields a replay that failed again sets: the letter stays open, its first `error` kept."""
    return {"last_replay_error": error, "last_replay_at": _iso(now)}


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a replay takes: by id, dead-lettered at or after `since`, or all open ones."""

    ids: tuple[str, ...] = ()
    since: datetime | None = None

    def query(self) -> Doc:
        query: Doc = {"replayed_at": {"$exists": False}}
        if self.ids:
            query["_id"] = {"$in": list(self.ids)}
        if self.since is not None:
            query["at"] = {"$gte": _iso(self.since)}
        return query


@dataclass
class ReplayReport:
    replayed: int = 0
    events: int = 0
    still_failing: int = 0
    not_replayable: int = 0

    def line(self) -> str:
        return (
            f"replayed {self.replayed} dead letters ({self.events} events), {self.still_failing} still failing, "
            f"{self.not_replayable} not replayable"
        )


async def replay_distributed(settings: Settings, selection: Selection, out: TextIO) -> int:
    """Replay the selected open dead letters through the current mapping rules (see the module
    docstring). Returns 0 when every one of them maps now, 1 otherwise."""
    store = MongoStore.from_settings(settings)
    producer = make_producer(settings)
    await producer.start()
    report = ReplayReport()
    try:
        letters, _ = await store.find_dead_letters(selection.query())
        if not letters:
            print("nothing to replay (no open dead letter matches)", file=out)
            return 0
        rules = settings.mapping_rules()
        now = datetime.now(UTC)
        for letter in letters:
            await _replay_one(store, producer, settings, rules, letter, now, report, out)
        print(report.line(), file=out)
        return 0 if report.still_failing == 0 and report.not_replayable == 0 else 1
    finally:
        await producer.stop()
        await store.close()


async def _replay_one(
    store: MongoStore,
    producer: Any,
    settings: Settings,
    rules: Any,
    letter: Doc,
    now: datetime,
    report: ReplayReport,
    out: TextIO,
) -> None:
    letter_id = str(letter["_id"])
    delivery = await store.raw_delivery(letter_id) if letter.get("source") is not None else None
    if delivery is None:  # an undecodable record, or a raw delivery no longer stored
        report.not_replayable += 1
        print(f"  {letter_id}: not replayable (no raw delivery stored under this id)", file=out)
        return
    events, error = map_or_error(delivery, rules)
    if error is not None:
        report.still_failing += 1
        await store.update_dead_letter(letter_id, failed_replay(error, now))
        print(f"  {letter_id}: still failing: {error}", file=out)
        return
    payloads = [event_to_json(e) for e in events]
    await store.put_events(events, payloads)
    sends = [
        await producer.send(settings.events_topic, value=p, key=e.service.encode())
        for e, p in zip(events, payloads, strict=True)
    ]
    await asyncio.gather(*sends)
    await store.update_dead_letter(letter_id, replayed(len(events), now))
    report.replayed += 1
    report.events += len(events)
    log.info("dead letter replayed id=%s source=%s events=%d", letter_id, delivery.source, len(events))
