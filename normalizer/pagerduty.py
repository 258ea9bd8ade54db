"""PagerDuty Webhooks V3 -> incidents.

`incident.triggered` opens, `incident.resolved` resolves (other event types: nothing). The incident id is
PagerDuty's (`event.data.id`). The service: the catalog's service whose aliases name the PagerDuty service
id or name (`data.service.id`, `data.service.summary`), else that name. Only incidents whose labels
`urgency` and `priority` (the priority's summary, e.g. "P1"; "" when none) match `pagerduty_match` count.
The start is `data.created_at` when sent, else the event's `occurred_at` (for a resolve whose trigger
never arrived the engine keeps the earliest start reported).
"""

from normalizer.incidents import IncidentFacts, incident_events
from normalizer.payload import Fields, Parsed, load_object
from normalizer.rules import MappingRules
from schemas.events import UnifiedEvent
from schemas.raw import RawDelivery

TRIGGERED = "incident.triggered"
RESOLVED = "incident.resolved"


def map_pagerduty(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
    body = load_object(delivery, parsed)
    event = body.req_obj("event")
    event_type = event.req_str("event_type")
    if event_type not in (TRIGGERED, RESOLVED):
        return []
    data = event.req_obj("data")
    occurred_at = event.req_time_strict("occurred_at")
    priority = data.opt_obj("priority")
    labels = {
        "urgency": data.opt_str("urgency") or "",
        "priority": (priority.opt_str("summary") or "") if priority else "",
    }
    if not rules.pagerduty_counts(labels):
        return []
    facts = IncidentFacts(
        incident_id=f"pagerduty:{data.req_str('id')}",
        environment="production",  # PagerDuty pages about production; no field says otherwise
        production=True,
        severity=labels["priority"] or labels["urgency"] or None,
        started_at=data.opt_time("created_at") or occurred_at,
        cause_deployment_id=None,
        cause_sha=None,
        title=data.opt_str("title"),
        url=data.opt_str("html_url"),
    )
    resolved_at = occurred_at if event_type == RESOLVED else None
    key = resolved_at.isoformat() if resolved_at else None  # resolved, reopened, resolved: two resolutions
    return incident_events(
        delivery, service=_service(data, rules), facts=facts, resolved_at=resolved_at, resolution_key=key
    )


def _service(data: Fields, rules: MappingRules) -> str:
    service = data.req_obj("service")
    service_id = service.opt_str("id")
    if service_id and service_id.strip().lower() in rules.catalog.index:
        return rules.service(service_id)
    return rules.service(service.opt_str("summary") or service_id or "unknown")
