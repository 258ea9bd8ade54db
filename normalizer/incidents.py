"""Incident events: an IncidentOpened, and an IncidentResolved once the incident is over."""

from datetime import datetime
from typing import TypedDict

from normalizer.envelope import envelope
from schemas.events import IncidentOpened, IncidentResolved, UnifiedEvent
from schemas.ids import stable_id
from schemas.raw import RawDelivery


class IncidentFacts(TypedDict):
    incident_id: str
    environment: str
    production: bool
    severity: str | None
    started_at: datetime
    cause_deployment_id: str | None
    cause_sha: str | None
    title: str | None
    url: str | None


def incident_events(
    delivery: RawDelivery,
    *,
    service: str,
    facts: IncidentFacts,
    resolved_at: datetime | None,
    resolution_key: str | None = None,
) -> list[UnifiedEvent]:
    """The opened event (id from the incident id alone, so every notification of the incident gives
    the same one) and, when `resolved_at` is set, the resolved event (id from the incident id and
    `resolution_key`, which distinguishes two resolutions of one incident where a source has them)."""
    opened_id = stable_id("incident_opened", facts["incident_id"])
    events: list[UnifiedEvent] = [
        IncidentOpened(
            **envelope(delivery, event_id=opened_id, service=service, event_time=facts["started_at"]), **facts
        )
    ]
    if resolved_at is not None:
        resolved_id = stable_id("incident_resolved", facts["incident_id"], resolution_key)
        events.append(
            IncidentResolved(
                **envelope(delivery, event_id=resolved_id, service=service, event_time=resolved_at),
                **facts,
                resolved_at=resolved_at,
            )
        )
    return events
