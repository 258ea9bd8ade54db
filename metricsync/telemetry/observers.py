"""What the runtime calls when something countable happens: webhook outcomes (ingest's observer
port), normalizer outcomes, applied events. Children of labelled metrics are cached: these run per
request or per event."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from metrics_worker.state import environment_keys
from metricsync.telemetry.definitions import Metrics
from schemas.events import Deployment, DeploymentStatus, IncidentOpened, IncidentResolved, UnifiedEvent


class WebhookCounter:
    """ingest's `IngestObserver`: counts requests and body bytes."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._requests: dict[tuple[str, str, str], Any] = {}
        self._bytes: dict[str, Any] = {}

    def webhook(self, source: str, event: str, outcome: str, body_bytes: int) -> None:
        key = (source, event, outcome)
        child = self._requests.get(key)
        if child is None:
            label = self._metrics.event_label(source, event)
            child = self._requests[key] = self._metrics.webhooks.labels(source, label, outcome)
        child.inc()
        if body_bytes:
            counter = self._bytes.get(source)
            if counter is None:
                counter = self._bytes[source] = self._metrics.webhook_body.labels(source)
            counter.inc(body_bytes)


def count_normalized(metrics: Metrics, source: str, events: int, dead_lettered: bool) -> None:
    """One raw delivery through the normalizer: mapped (events came out), ignored or dead_lettered."""
    outcome = "dead_lettered" if dead_lettered else ("mapped" if events else "ignored")
    metrics.normalizer_deliveries.labels(source, outcome).inc()


def count_applied(metrics: Metrics, events: Iterable[UnifiedEvent]) -> None:
    """Events the worker applied: the applied counter and the DORA counters (deployment results,
    incident signals) by service and environment ("production" for production ones)."""
    applied = 0
    for event in events:
        applied += 1
        if isinstance(event, Deployment):
            if event.status is DeploymentStatus.IN_PROGRESS:
                continue
            outcome = "success" if event.status is DeploymentStatus.SUCCESS else "failure"
            environment = environment_keys(event.environment, event.production)[:1] or [event.environment]
            metrics.dora_deployments.labels(event.service, environment[0], outcome).inc()
        elif isinstance(event, IncidentOpened | IncidentResolved):
            outcome = "opened" if isinstance(event, IncidentOpened) else "resolved"
            environment = environment_keys(event.environment, event.production)[:1] or [event.environment]
            metrics.dora_incidents.labels(event.service, environment[0], outcome).inc()
    if applied:
        metrics.events_applied.inc(applied)
