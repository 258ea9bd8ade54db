"""Prometheus Alertmanager webhook (version 4) -> incidents.

Each alert matching `alert_match` is an incident occurrence, identified by its fingerprint and
`startsAt`: IncidentOpened at `startsAt`, plus IncidentResolved at `endsAt` once the alert's own
status is `resolved`. Every notification repeats the whole group, so an alert seen before maps to
the same event ids again and changes nothing.
"""

from collections.abc import Mapping

from normalizer.incidents import IncidentFacts, incident_events
from normalizer.payload import Fields, Parsed, load_object
from normalizer.rules import MappingRules
from normalizer.timeparse import as_utc, rfc3339
from schemas.events import UnifiedEvent
from schemas.raw import RawDelivery

UNKNOWN_SERVICE = "unknown"  # an alert without any of the service labels
_STATUSES = frozenset({"firing", "resolved"})
_FNV64_OFFSET = 0xCBF29CE484222325
_FNV64_PRIME = 0x100000001B3
_LABEL_SEPARATOR = 0xFF


def map_alertmanager(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
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
    environment = _first(labels, rules.alert_environment_labels)
    facts = IncidentFacts(
        incident_id=f"alertmanager:{fingerprint}@{rfc3339(starts_at)}",
        environment=environment or "production",  # no environment label: a production alert
        production=True if environment is None else rules.is_production(environment),
        severity=labels.get("severity") or None,
        started_at=starts_at,
        cause_deployment_id=_first(annotations, ("deployment_id",)) or _first(labels, ("deployment_id",)),
        cause_sha=_first(annotations, ("commit_sha",)) or _first(labels, ("commit_sha",)),
        title=annotations.get("summary") or labels.get("alertname"),
        url=alert.opt_str("generatorURL") or None,
    )
    resolved_at = None
    if status == "resolved":
        # endsAt is Go's zero time while firing; a resolved alert without one: when we heard of it
        resolved_at = alert.opt_time("endsAt") or as_utc(delivery.received_at)
    service = rules.service(_first(labels, rules.alert_service_labels) or UNKNOWN_SERVICE)
    return incident_events(delivery, service=service, facts=facts, resolved_at=resolved_at)


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's own fingerprint of a label set (Prometheus `model.LabelSet.Fingerprint`:
    FNV-1a 64 over the sorted names and values, each followed by 0xff), for alerts from senders
    too old to send one. An alert later sent with a fingerprint keeps the same identity."""
    digest = _FNV64_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in (*part.encode("utf-8"), _LABEL_SEPARATOR):
                digest = ((digest ^ byte) * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{digest:016x}"


def _first(values: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = values.get(name, "").strip()
        if value:
            return value
    return None
