"""CSV of the API's lists: one row per item, flat columns (lists joined with spaces), RFC 4180 quoting.

Asked for with `format=csv` or `Accept: text/csv`; paginated like the JSON (the next page's URL is in the
`Link` header)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

CSV = "text/csv; charset=utf-8"
Column = tuple[str, Callable[[Any], object]]


def wants_csv(request: Request, format_param: str | None) -> bool:
    if format_param is not None:
        return format_param == "csv"
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == "text/csv" for part in accept.split(","))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def csv_response(columns: Sequence[Column], rows: Iterable[Any], headers: dict[str, str] | None = None) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([name for name, _ in columns])
    for row in rows:
        writer.writerow([_cell(get(row)) for _, get in columns])
    return Response(out.getvalue(), media_type=CSV, headers=headers)


DEPLOYMENT_COLUMNS: list[Column] = [
    ("service", lambda d: d.service),
    ("deployment_id", lambda d: d.deployment_id),
    ("sha", lambda d: d.sha),
    ("environment", lambda d: d.environment),
    ("production", lambda d: d.production),
    ("finished_at", lambda d: d.finished_at),
    ("changes", lambda d: len(d.changes)),
    ("change_shas", lambda d: " ".join(c.sha for c in d.changes)),
    ("rollback", lambda d: d.rollback),
    ("failed", lambda d: d.failed),
    ("failure_causes", lambda d: " ".join(f"{c.kind}:{c.id}" for c in d.failure_causes)),
    ("recovered_at", lambda d: d.recovered_at),
    ("recovery_seconds", lambda d: d.recovery_seconds),
    ("rework", lambda d: d.rework),
]

INCIDENT_COLUMNS: list[Column] = [
    ("service", lambda i: i.service),
    ("incident_id", lambda i: i.incident_id),
    ("environment", lambda i: i.environment),
    ("started_at", lambda i: i.started_at),
    ("resolved_at", lambda i: i.resolved_at),
    ("restore_seconds", lambda i: i.restore_seconds),
    ("parts", lambda i: " ".join(i.parts)),
    ("failed_deployment_id", lambda i: i.failed_deployment_id),
    ("cause_deployment_ids", lambda i: " ".join(i.cause_deployment_ids)),
]

DEAD_LETTER_COLUMNS: list[Column] = [
    ("id", lambda d: d.id),
    ("source", lambda d: d.source),
    ("event_type", lambda d: d.event_type),
    ("at", lambda d: d.at),
    ("received_at", lambda d: d.received_at),
    ("error", lambda d: d.error),
    ("topic", lambda d: d.topic),
    ("partition", lambda d: d.partition),
    ("offset", lambda d: d.offset),
    ("body_bytes", lambda d: d.body_bytes),
    ("replayed_at", lambda d: d.replayed_at),
    ("replayed_events", lambda d: d.replayed_events),
    ("last_replay_error", lambda d: d.last_replay_error),
]
DEAD_LETTER_BODY: Column = ("body_b64", lambda d: d.body_b64)  # the last column, with `body=true`
