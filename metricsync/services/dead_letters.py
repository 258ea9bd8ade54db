"""Dead letters for operators (distributed mode): what the normalizer could not map, listed and
fetched through the read API (`GET /api/v1/dead-letters`, token-protected like the rest), and
replayed through the current mapping rules (`metricsync replay-dead-letters`).

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
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from metricsync.kafka.clients import make_producer
from metricsync.mongo.store import MongoStore
from metricsync.settings import Settings
from metricsync.web.contract import Answer, ApiRoute, Operation, parse_query
from metricsync.web.queries import DeadLetterOneParams, DeadLetterParams
from metricsync.web.read_api import API_AUTH, parse_time
from normalizer.mapping import map_or_error
from schemas.api import DeadLetter, DeadLettersPage
from schemas.events import event_to_json

log = logging.getLogger(__name__)

Doc = dict[str, Any]
Handler = Callable[[Request], Awaitable[Response]]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()  # the form the normalizer writes `at` in


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


def list_query(
    source: str | None, since: datetime | None, until: datetime | None, error: str | None, state: str
) -> Doc:
    query: Doc = {}
    if source:
        query["source"] = source
    at: Doc = {}
    if since is not None:
        at["$gte"] = _iso(since)
    if until is not None:
        at["$lt"] = _iso(until)
    if at:
        query["at"] = at
    if error:
        query["error"] = {"$regex": re.escape(error), "$options": "i"}
    if state == "open":
        query["replayed_at"] = {"$exists": False}
    elif state == "replayed":
        query["replayed_at"] = {"$exists": True}
    return query


def public(doc: Doc, with_body: bool) -> Doc:
    """A dead letter as the API shows it; the body (base64) only when asked for."""
    body = str(doc.get("body_b64") or "")
    out: Doc = {
        "id": doc["_id"],
        "source": doc.get("source"),
        "event_type": doc.get("event_type"),
        "error": doc.get("error"),
        "topic": doc.get("topic"),
        "partition": doc.get("partition"),
        "offset": doc.get("offset"),
        "received_at": doc.get("received_at"),
        "at": doc.get("at"),
        "body_bytes": len(body) * 3 // 4 - body.endswith("=") - body.endswith("=="),
        "replayed_at": doc.get("replayed_at"),
        "replayed_events": doc.get("replayed_events"),
        "last_replay_error": doc.get("last_replay_error"),
    }
    if with_body:
        out["body_b64"] = body
    return out


def routes(store: MongoStore, guard: Callable[[Handler], Handler]) -> list[BaseRoute]:
    """`GET /api/v1/dead-letters` (filters: source, since, until, error, state=open|replayed|all;
    paging: limit, offset; body=true adds each body) and `GET /api/v1/dead-letters/{id}` (with its body)."""

    async def listing(request: Request) -> Response:
        params = parse_query(request.query_params, DeadLetterParams)
        since = parse_time("since", params.since) if params.since is not None else None
        until = parse_time("until", params.until) if params.until is not None else None
        limit, offset = params.limit, params.offset
        query = list_query(params.source, since, until, params.error, params.state)
        docs, total = await store.find_dead_letters(query, offset, limit)
        with_body = params.body
        following = offset + len(docs)
        return JSONResponse(
            {
                "dead_letters": [public(d, with_body) for d in docs],
                "total": total,
                "limit": limit,
                "offset": offset,
                "next_offset": following if following < total else None,
            }
        )

    async def one(request: Request) -> Response:
        parse_query(request.query_params, DeadLetterOneParams)
        letter_id = request.path_params["letter_id"]
        docs, _ = await store.find_dead_letters({"_id": letter_id}, 0, 1)
        if not docs:
            return JSONResponse(
                {"error": "not_found", "detail": f"no dead letter with id '{letter_id}'"}, status_code=404
            )
        return JSONResponse(public(docs[0], with_body=True))

    return [
        ApiRoute("/api/v1/dead-letters", guard(listing), LIST),
        ApiRoute("/api/v1/dead-letters/{letter_id:path}", guard(one), ONE),
    ]


# --- the contract of the routes (metricsync.web.contract; docs/api.md) ---------------------------------

_DISTRIBUTED = "Distributed mode only (embedded mode keeps no dead letters in MongoDB; see `/api/v1/status`)."
LIST = Operation(
    "The dead letters: deliveries no event could be derived from, oldest first",
    {
        200: Answer("a page (offset paging: `next_offset`)", DeadLettersPage),
        400: Answer("a query parameter is unknown, repeated or invalid (`error` names the problem)"),
        401: Answer("METRICSYNC_API_TOKEN is set and the request does not carry it"),
    },
    description=_DISTRIBUTED + " Replay them with `metricsync replay-dead-letters` (docs/operations.md).",
    query=DeadLetterParams,
    security=API_AUTH,
    tags=("operations",),
    operation_id="get_api_v1_dead_letters",
)
ONE = Operation(
    "One dead letter, with its body (base64)",
    {
        200: Answer("the dead letter", DeadLetter),
        400: Answer("a query parameter was given (this endpoint takes none)"),
        401: Answer("METRICSYNC_API_TOKEN is set and the request does not carry it"),
        404: Answer("no dead letter has this id"),
    },
    description=_DISTRIBUTED,
    query=DeadLetterOneParams,
    security=API_AUTH,
    tags=("operations",),
    operation_id="get_api_v1_dead_letter",
)


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
        await store.update_dead_letter(letter_id, {"last_replay_error": error, "last_replay_at": _iso(now)})
        print(f"  {letter_id}: still failing: {error}", file=out)
        return
    payloads = [event_to_json(e) for e in events]
    await store.put_events(events, payloads)
    sends = [
        await producer.send(settings.events_topic, value=p, key=e.service.encode())
        for e, p in zip(events, payloads, strict=True)
    ]
    await asyncio.gather(*sends)
    await store.update_dead_letter(letter_id, {"replayed_at": _iso(now), "replayed_events": len(events)})
    report.replayed += 1
    report.events += len(events)
    log.info("dead letter replayed id=%s source=%s events=%d", letter_id, delivery.source, len(events))
