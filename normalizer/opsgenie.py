"""Opsgenie outgoing webhooks (Webhook integration) -> incidents.

`Create` opens at `alert.createdAt` (epoch ms), `Close` resolves at `alert.updatedAt` (epoch ns, the
close time; absent: when we heard of it); other actions: nothing. The incident id is the alert's
`alertId`. The service: a tag `service:<name>`, else `alert.entity`, else "unknown"; then the catalog.
The environment: a tag `env:<name>`, else production. Tags and entity are read because Opsgenie sends
them with every action, while alert details (extra properties) come only with Create: a service read
from them would differ between an alert's Create and its Close. Details `deployment_id` / `commit_sha`
name the cause. Only alerts whose `priority`
label (P1..P5; "" when absent; Opsgenie's samples also write a bare number, read as P<n>) matches
`opsgenie_match` count.
"""

from normalizer.incidents import IncidentFacts, incident_events
from normalizer.payload import Fields, Parsed, load_object
from normalizer.rules import MappingRules
from schemas.events import UnifiedEvent
from schemas.raw import RawDelivery

UNKNOWN_SERVICE = "unknown"


def map_opsgenie(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
    body = load_object(delivery, parsed)
    action = body.req_str("action")
    if action not in ("Create", "Close"):
        return []
    alert = body.req_obj("alert")
    if not rules.opsgenie_counts({"priority": _priority(alert)}):
        return []
    details = alert.str_map("details")
    tags = alert.str_list("tags")
    environment = _tag(tags, "env") or "production"
    facts = IncidentFacts(
        incident_id=f"opsgenie:{alert.req_str('alertId')}",
        environment=environment,
        production=rules.is_production(environment),
        severity=_priority(alert) or None,
        started_at=alert.req_epoch_ms("createdAt"),
        cause_deployment_id=details.get("deployment_id") or None,
        cause_sha=details.get("commit_sha") or None,
        title=alert.opt_str("message"),
        url=None,
    )
    resolved_at = None
    if action == "Close":
        resolved_at = alert.opt_epoch_ns("updatedAt") or delivery.received_at
    service = _tag(tags, "service") or (alert.opt_str("entity") or "").strip() or UNKNOWN_SERVICE
    return incident_events(delivery, service=rules.service(service), facts=facts, resolved_at=resolved_at)


def _priority(alert: Fields) -> str:
    value = alert.raw("priority")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"P{value}"
    if value is None:
        return ""
    text = alert.opt_str("priority") or ""
    return text.strip().upper()


def _tag(tags: list[str], name: str) -> str | None:
    """The value of the first tag `<name>:<value>` (name case-insensitive)."""
    prefix = f"{name}:"
    for tag in tags:
        if tag.lower().startswith(prefix) and tag[len(prefix) :].strip():
            return tag[len(prefix) :].strip()
    return None
