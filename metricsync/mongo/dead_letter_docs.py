"""Dead-letter documents of the MongoDB store (`dead_letters`, `_id` = delivery id) as the API shows them,
and the queries of a listing (the DeadLetters port, schemas.ports): filters and the keyset after a cursor.

Plain finds with `$and`/`$or`/`$gt`/`$regex` and a sort on (`at`, `_id`): what FerretDB serves as MongoDB
does. `at` is ISO 8601 text in UTC (`datetime.isoformat()`), so text order is time order.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any

from schemas.api import DeadLetter
from schemas.ports import DeadLetterFilter
from schemas.raw import RawDelivery

Doc = dict[str, Any]
ORDER = [("at", 1), ("_id", 1)]


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()  # the form the normalizer writes `at` in


def letter_doc(
    delivery: RawDelivery,
    error: str,
    at: datetime,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> Doc:
    """The stored letter of a delivery no event could be derived from (the normalizer's, with the raw
    record's Kafka position; `rebuild --distributed`'s, without one)."""
    return {
        "_id": delivery.delivery_id,
        "source": delivery.source.value,
        "event_type": delivery.event_type,
        "error": error,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "received_at": delivery.received_at.isoformat(),
        "body_b64": base64.b64encode(delivery.body).decode(),
        "at": iso(at),
    }


def filter_query(selection: DeadLetterFilter, after: tuple[str, str] | None = None) -> Doc:
    """The letters `selection` takes, after (`at`, id) = `after` in ORDER when given."""
    parts: list[Doc] = []
    if selection.source is not None:
        parts.append({"source": selection.source})
    if selection.since is not None:
        parts.append({"at": {"$gte": iso(selection.since)}})
    if selection.until is not None:
        parts.append({"at": {"$lt": iso(selection.until)}})
    if selection.error is not None:
        parts.append({"error": {"$regex": re.escape(selection.error), "$options": "i"}})
    if selection.state == "open":
        parts.append({"replayed_at": {"$exists": False}})
    elif selection.state == "replayed":
        parts.append({"replayed_at": {"$exists": True}})
    if after is not None:
        parts.append(_after(*after))
    if not parts:
        return {}
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _after(at: str, letter_id: str) -> Doc:
    """Letters after (`at`, id) in ORDER. A letter without `at` (written by versions before `rebuild`
    set it) sorts first, as null, and has the cursor key ("", id)."""
    if at == "":
        return {"$or": [{"at": {"$gt": ""}}, {"at": None, "_id": {"$gt": letter_id}}]}
    return {"$or": [{"at": {"$gt": at}}, {"at": at, "_id": {"$gt": letter_id}}]}


def body_bytes(body_b64: str) -> int:
    return len(body_b64) * 3 // 4 - body_b64.endswith("=") - body_b64.endswith("==")


def to_letter(doc: Doc, with_body: bool) -> DeadLetter:
    """A stored letter as the API shows it; the body (base64) only `with_body`."""
    body = str(doc.get("body_b64") or "")
    return DeadLetter(
        id=str(doc["_id"]),
        source=doc.get("source"),
        event_type=doc.get("event_type"),
        error=doc.get("error"),
        topic=doc.get("topic"),
        partition=doc.get("partition"),
        offset=doc.get("offset"),
        received_at=doc.get("received_at"),
        at=doc.get("at"),
        body_bytes=body_bytes(body),
        replayed_at=doc.get("replayed_at"),
        replayed_events=doc.get("replayed_events"),
        last_replay_error=doc.get("last_replay_error"),
        body_b64=body if with_body else None,
    )
