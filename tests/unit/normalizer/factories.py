"""Building deliveries from the real fixtures (tests/fixtures, see its README) for the mapper tests."""

import copy
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from normalizer.mapping import map_delivery
from normalizer.rules import MappingRules
from schemas.events import UnifiedEvent
from schemas.raw import RawDelivery
from schemas.sources import Source

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RECEIVED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DEFAULT_RULES = MappingRules()

Json = dict[str, Any]
E = TypeVar("E")

# the ce-type header the CloudEvents plugin README gives next to each example (fixtures README)
CE_TYPES = {
    "cloudevents__job_started__readme.json": "org.jenkinsci.job.started",
    "cloudevents__job_completed__readme.json": "org.jenkinsci.job.completed",
    "cloudevents__job_finalized__readme.json": "org.jenkinsci.job.finalzed",  # sic, as in the README
    "cloudevents__job_failed__readme.json": "org.jenkinsci.job.failed",
    "cloudevents__queue_entered_waiting__readme.json": "org.jenkinsci.queue.entered_waiting",
    "cloudevents__queue_left__readme.json": "org.jenkinsci.queue.left",
}


def fixture_bytes(source: str, name: str) -> bytes:
    return (FIXTURES / source / name).read_bytes()


def fixture_json(source: str, name: str) -> Json:
    """A fresh, mutable copy of a fixture (tests change values in it where no real payload exists).
    Gitter's Notification Plugin captures wrap the request as {"headers": {}, "body": {...}}: only
    `body` is what Jenkins sends, so only that is returned."""
    data: Json = orjson.loads(fixture_bytes(source, name))
    if name.endswith("__gitter.json"):
        data = data["body"]
    return copy.deepcopy(data)


def make_delivery(
    source: Source,
    event_type: str,
    body: bytes | Json,
    *,
    headers: dict[str, str] | None = None,
    delivery_id: str = "delivery-1",
    received_at: datetime = RECEIVED_AT,
) -> RawDelivery:
    return RawDelivery(
        delivery_id=delivery_id,
        source=source,
        event_type=event_type,
        key="test-key",
        received_at=received_at,
        headers={"content-type": "application/json", **(headers or {})},
        body=body if isinstance(body, bytes) else orjson.dumps(body),
    )


def github(event: str, body: bytes | Json, **kwargs: Any) -> RawDelivery:
    return make_delivery(Source.GITHUB, event, body, headers={"x-github-event": event}, **kwargs)


def jenkins(body: bytes | Json, *, ce_type: str | None = None, **kwargs: Any) -> RawDelivery:
    headers = {"ce-specversion": "1.0", "ce-type": ce_type, "ce-source": "job/test2"} if ce_type else {}
    return make_delivery(Source.JENKINS, ce_type or "build", body, headers=headers, **kwargs)


def alertmanager(body: bytes | Json, **kwargs: Any) -> RawDelivery:
    return make_delivery(Source.ALERTMANAGER, "alert", body, **kwargs)


def run(delivery: RawDelivery, rules: MappingRules = DEFAULT_RULES) -> list[UnifiedEvent]:
    return map_delivery(delivery, rules)


def single(events: Sequence[UnifiedEvent], kind: type[E]) -> E:
    assert len(events) == 1, events
    event = events[0]
    assert isinstance(event, kind), event
    return event


def of_kind(events: Sequence[UnifiedEvent], kind: type[E]) -> list[E]:
    return [event for event in events if isinstance(event, kind)]


def utc(text: str) -> datetime:
    """An expected time, written by hand in UTC (`2018-06-15T20:01:51Z`)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def gitlab(event: str, body: bytes | Json, **kwargs: Any) -> RawDelivery:
    return make_delivery(Source.GITLAB, event, body, headers={"x-gitlab-event": event}, **kwargs)


def pagerduty(body: bytes | Json, **kwargs: Any) -> RawDelivery:
    data = body if isinstance(body, dict) else orjson.loads(body)
    return make_delivery(Source.PAGERDUTY, data["event"]["event_type"], body, **kwargs)


def opsgenie(body: bytes | Json, **kwargs: Any) -> RawDelivery:
    data = body if isinstance(body, dict) else orjson.loads(body)
    return make_delivery(Source.OPSGENIE, data["action"], body, **kwargs)


def cdevents(body: bytes | Json | list[Any], *, headers: dict[str, str] | None = None, **kwargs: Any) -> RawDelivery:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return make_delivery(Source.CDEVENTS, "cdevent", raw, headers=headers, **kwargs)


def push(event_type: str, body: Json, *, headers: dict[str, str] | None = None, **kwargs: Any) -> RawDelivery:
    return make_delivery(Source.PUSH, event_type, body, headers=headers, **kwargs)
