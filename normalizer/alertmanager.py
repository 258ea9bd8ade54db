"""Prometheus Alertmanager webhook (version 4) -> incidents.

Each alert matching `alert_match` is an incident occurrence, identified by its fingerprint and
`startsAt`: IncidentOpened at `startsAt`, plus IncidentResolved at `endsAt` once the alert's own
status is `resolved`. Every notification repeats the whole group, so an alert seen before maps to
the same event ids again and changes nothing.
"""

from normalizer.alert_labels import UNKNOWN_SERVICE, first_value, label_fingerprint
from normalizer.incidents import IncidentFacts, incident_events
from normalizer.payload import Fields, Parsed, load_object
from normalizer.prometheus_alerts import map_prometheus_alert
from normalizer.rules import MappingRules
from normalizer.timeparse import as_utc, rfc3339
from schemas.events import UnifiedEvent
from schemas.raw import RawDelivery
from schemas.sources import PROMETHEUS_IMPORT_ALERT

_STATUSES = frozenset({"firing", "resolved"})


def map_alertmanager(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
    if delivery.event_type == PROMETHEUS_IMPORT_ALERT:
        return map_prometheus_alert(delivery, rules, parsed)
    body = load_object(delivery, parsed)
    group_status = body.opt_str("status")
    events: dict[str, UnifiedEvent] = {}  # by id: one group may list an occurrence twice
    for alert in body.obj_list("alerts"):
        if not alert.has("labels"):
            alert.fail("labels", "is missing")
        labels = alert.str_map("labels")
        if rules.alert_counts(labels):
            for event in _alert_events(alert, labels, group_status, delivery, rules):
                events.setdefault(event.id, event)
    return list(events.values())


def _alert_events(
    alert: Fields,
    labels: dict[str, str],
    group_status: str | None,
    delivery: RawDelivery,
    rules: MappingRules,
) -> list[UnifiedEvent]:
    annotations = alert.str_map("annotations")
    # a group marked firing can carry resolved alerts; very old senders give no per-alert status
    status = (alert.opt_str("status") or group_status or "firing").lower()
    if status not in _STATUSES:
        alert.fail("status", f"unknown alert status {status!r} (expected firing or resolved)")
    starts_at = alert.req_time_strict("startsAt")
    fingerprint = alert.opt_str("fingerprint") or label_fingerprint(labels)
    environment = first_value(labels, rules.alert_environment_labels)
    facts = IncidentFacts(
        incident_id=f"alertmanager:{fingerprint}@{rfc3339(starts_at)}",
        environment=environment or "production",  # no environment label: a production alert
        production=True if environment is None else rules.is_production(environment),
        severity=labels.get("severity") or None,
        started_at=starts_at,
        cause_deployment_id=first_value(annotations, ("deployment_id",)) or first_value(labels, ("deployment_id",)),
        cause_sha=first_value(annotations, ("commit_sha",)) or first_value(labels, ("commit_sha",)),
        title=annotations.get("summary") or labels.get("alertname"),
        url=alert.opt_str("generatorURL") or None,
    )
    resolved_at = None
    if status == "resolved":
        # endsAt is Go's zero time while firing; a resolved alert without one: when we heard of it
        resolved_at = alert.opt_time("endsAt") or as_utc(delivery.received_at)
    service = rules.service(first_value(labels, rules.alert_service_labels) or UNKNOWN_SERVICE)
    return incident_events(delivery, service=service, facts=facts, resolved_at=resolved_at)
