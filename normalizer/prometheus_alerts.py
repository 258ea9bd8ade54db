"""Prometheus' `ALERTS` series, as `metricsync import prometheus` reads them, -> incidents.

Prometheus records every active alert as a sample of `ALERTS{alertname, alertstate, <labels>}` at
each rule evaluation. The importer samples `ALERTS{alertstate="firing"}` with `query_range` at a
step and cuts each series into firing runs: consecutive samples no further apart than 1.5 steps.
One run is one alert occurrence, stored as one record (`schemas.sources.PROMETHEUS_IMPORT_ALERT`):

    {"labels": {...}, "first_sample": RFC 3339, "last_sample": RFC 3339, "step_seconds": n, "ongoing": bool}

It maps as the Alertmanager webhook of that alert would: the same `ALERT_MATCH`, service and
environment labels, the same fingerprint (the labels without `__name__` and `alertstate`, which is
what Prometheus sends to Alertmanager when it has no external labels). What the step hides:
the alert fired at most one step before its first sample, and ended at most one step after its
last, so the start is the first sample and the end the last sample plus one step (an upper bound).
The incident id keeps the first sample's time, so it differs from the webhook's (which has
Prometheus' exact `startsAt`): an alert seen both ways is two occurrences of one incident that
overlap, and the engine merges overlapping incidents of a service into one.
"""

from collections.abc import Iterable
from datetime import timedelta

from normalizer.alert_labels import UNKNOWN_SERVICE, first_value, label_fingerprint
from normalizer.incidents import IncidentFacts, incident_events
from normalizer.payload import Parsed, load_object
from normalizer.rules import MappingRules
from normalizer.timeparse import rfc3339
from schemas.events import UnifiedEvent
from schemas.raw import RawDelivery

SERIES_ONLY_LABELS = frozenset({"__name__", "alertstate"})
RUN_GAP_STEPS = 1.5


def alert_labels(metric: dict[str, str]) -> dict[str, str]:
    """An `ALERTS` series' labels less the two Prometheus adds for the series itself."""
    return {k: v for k, v in metric.items() if k not in SERIES_ONLY_LABELS}


def firing_runs(times: Iterable[float], step: float) -> list[tuple[float, float]]:
    """(first, last) sample times of each run of samples no further apart than 1.5 steps."""
    runs: list[tuple[float, float]] = []
    for t in sorted(times):
        if runs and t - runs[-1][1] <= step * RUN_GAP_STEPS:
            runs[-1] = (runs[-1][0], t)
        else:
            runs.append((t, t))
    return runs


def map_prometheus_alert(delivery: RawDelivery, rules: MappingRules, parsed: Parsed = None) -> list[UnifiedEvent]:
    body = load_object(delivery, parsed)
    labels = body.str_map("labels")
    if not rules.alert_counts(labels):
        return []
    first = body.req_time_strict("first_sample")
    last = body.req_time_strict("last_sample")
    step = body.req_int("step_seconds")
    ongoing = body.opt_bool("ongoing") or False
    environment = first_value(labels, rules.alert_environment_labels)
    facts = IncidentFacts(
        incident_id=f"alertmanager:{label_fingerprint(labels)}@{rfc3339(first)}",
        environment=environment or "production",
        production=True if environment is None else rules.is_production(environment),
        severity=labels.get("severity") or None,
        started_at=first,
        cause_deployment_id=first_value(labels, ("deployment_id",)),
        cause_sha=first_value(labels, ("commit_sha",)),
        title=labels.get("alertname"),
        url=None,
    )
    resolved_at = None if ongoing else last + timedelta(seconds=step)
    service = rules.service(first_value(labels, rules.alert_service_labels) or UNKNOWN_SERVICE)
    return incident_events(delivery, service=service, facts=facts, resolved_at=resolved_at)
