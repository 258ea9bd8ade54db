"""Every metric family MetricSync exposes: name, type, help text and labels, in one table.

The families are created per process in a `Metrics` object (its own `CollectorRegistry`, no global
state), so a test can build as many as it likes. Label values are bounded (docs/observability.md):
sources and outcomes are fixed sets, event types are capped per source (`BoundedLabel`), routes are
the application's own route templates, topics/partitions/groups are the configured ones, services
and environments are the services MetricSync knows (one series per service and environment).
"""

from __future__ import annotations

import platform
import threading
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

Kind = Literal["counter", "gauge", "histogram"]

# Outcome label values.
WEBHOOK_OUTCOMES = ("accepted", "duplicate", "ignored", "refused", "error")
NORMALIZER_OUTCOMES = ("mapped", "ignored", "dead_lettered")
DEPLOYMENT_OUTCOMES = ("success", "failure")
INCIDENT_OUTCOMES = ("opened", "resolved")

# Latency buckets (seconds): webhooks answer in ~1 ms, reads in tens of ms, snapshots within seconds.
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SNAPSHOT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
CHECKPOINT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family as exposed (the name without the `_total` a counter gets on exposition)."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()


# Operations: what the process is doing. Created by `Metrics`.
WEBHOOKS = Family(
    "metricsync_webhooks",
    "counter",
    "Webhook requests by source, event type and outcome (accepted, duplicate, ignored, refused, error).",
    ("source", "event", "outcome"),
)
WEBHOOK_BODY = Family(
    "metricsync_webhook_body_bytes",
    "counter",
    "Bytes of webhook bodies received and read, by source.",
    ("source",),
)
REQUEST_DURATION = Family(
    "metricsync_http_request_duration_seconds",
    "histogram",
    "Time from a request's arrival to the end of its response, by route template and status class.",
    ("route", "status"),
)
KAFKA_PRODUCE_ERRORS = Family(
    "metricsync_kafka_produce_errors",
    "counter",
    "Produce requests to Kafka that failed (the deliveries then go to the spool), by topic.",
    ("topic",),
)
NORMALIZER_DELIVERIES = Family(
    "metricsync_normalizer_deliveries",
    "counter",
    "Raw deliveries the normalizer processed, by source and outcome (mapped, ignored, dead_lettered).",
    ("source", "outcome"),
)
EVENTS_APPLIED = Family(
    "metricsync_events_applied",
    "counter",
    "Unified events the metrics worker applied to its state.",
)
SNAPSHOT_LATENCY = Family(
    "metricsync_event_to_snapshot_seconds",
    "histogram",
    "Time from a webhook's receipt by ingest to the metric snapshot that includes its event.",
)
CHECKPOINT_DURATION = Family(
    "metricsync_checkpoint_duration_seconds",
    "histogram",
    "Time the distributed worker took to store its state and commit its Kafka offsets.",
)
BUILD_INFO = Family(
    "metricsync_build_info",
    "gauge",
    "Always 1: the MetricSync version, the Python version and the process role.",
    ("version", "python", "role"),
)
DORA_DEPLOYMENTS_TOTAL = Family(
    "metricsync_dora_deployments",
    "counter",
    "Deployment results applied by this process since it started, by service, environment and outcome "
    "(success, failure); rate() it over any range.",
    ("service", "environment", "outcome"),
)
DORA_INCIDENTS_TOTAL = Family(
    "metricsync_dora_incidents",
    "counter",
    "Incident signals applied by this process since it started, by service, environment and outcome "
    "(opened, resolved).",
    ("service", "environment", "outcome"),
)

SPOOL_RECORDS = Family(
    "metricsync_spool_records",
    "gauge",
    "Deliveries waiting in this ingest process's spools for Kafka.",
)
SPOOL_BYTES = Family(
    "metricsync_spool_bytes",
    "gauge",
    "Bytes waiting in this ingest process's spools for Kafka.",
)
# Read at scrape time by collectors (exposition.GaugeReader, dora.py).
CONSUMER_LAG = Family(
    "metricsync_consumer_lag",
    "gauge",
    "Records of a topic partition not yet consumed by a consumer group (end offset minus committed offset).",
    ("group", "topic", "partition"),
)
EMBEDDED_NORMALIZER_LAG = Family(
    "metricsync_embedded_normalizer_lag",
    "gauge",
    "Embedded mode: raw deliveries stored but not yet normalized.",
)
EMBEDDED_WORKER_PENDING = Family(
    "metricsync_embedded_worker_pending",
    "gauge",
    "Embedded mode: events on the in-memory bus not yet applied by the worker.",
)
DEAD_LETTERS = Family(
    "metricsync_dead_letters",
    "gauge",
    "Open dead letters: deliveries that could not be mapped and no replay has mapped since "
    "(`metricsync replay-dead-letters` retries them).",
)

DORA_LABELS = ("service", "team", "environment")  # team: from METRICSYNC_CONFIG, "" when none
DORA_WINDOW = Family(
    "metricsync_dora_window_seconds",
    "gauge",
    "The trailing window of the metricsync_dora_* gauges (METRICSYNC_METRICS_WINDOW).",
)
DORA_GAUGES = (
    Family(
        "metricsync_dora_deployments_count",
        "gauge",
        "Successful deployments finished in the trailing window.",
        DORA_LABELS,
    ),
    Family(
        "metricsync_dora_deployments_per_day",
        "gauge",
        "Deployment frequency: successful deployments per day of the trailing window.",
        DORA_LABELS,
    ),
    Family(
        "metricsync_dora_lead_time_median_seconds",
        "gauge",
        "Lead time for changes, median over the changes deployed in the trailing window.",
        DORA_LABELS,
    ),
    Family(
        "metricsync_dora_lead_time_p90_seconds",
        "gauge",
        "Lead time for changes, 90th percentile over the changes deployed in the trailing window.",
        DORA_LABELS,
    ),
    Family(
        "metricsync_dora_change_failure_ratio",
        "gauge",
        "Change failure rate: failed deployments / deployments of the trailing window (0-1).",
        DORA_LABELS,
    ),
    Family(
        "metricsync_dora_time_to_restore_median_seconds",
        "gauge",
        "Time to restore service, median over the incidents that started in the trailing window.",
        DORA_LABELS,
    ),
    Family(
        "metricsync_dora_failed_deployment_recovery_median_seconds",
        "gauge",
        "Failed deployment recovery time, median over the failed deployments of the trailing window.",
        DORA_LABELS,
    ),
    Family(
        "metricsync_dora_rework_ratio",
        "gauge",
        "Rework rate: deployments made while an incident was open / deployments of the trailing window (0-1).",
        DORA_LABELS,
    ),
    Family(
        "metricsync_dora_level",
        "gauge",
        "DORA performance level of a metric over the trailing window: 4 elite, 3 high, 2 medium, 1 low.",
        (*DORA_LABELS, "metric"),
    ),
)

ALL_FAMILIES = (
    WEBHOOKS,
    WEBHOOK_BODY,
    REQUEST_DURATION,
    KAFKA_PRODUCE_ERRORS,
    NORMALIZER_DELIVERIES,
    EVENTS_APPLIED,
    SNAPSHOT_LATENCY,
    CHECKPOINT_DURATION,
    BUILD_INFO,
    DORA_DEPLOYMENTS_TOTAL,
    DORA_INCIDENTS_TOTAL,
    SPOOL_RECORDS,
    SPOOL_BYTES,
    CONSUMER_LAG,
    EMBEDDED_NORMALIZER_LAG,
    EMBEDDED_WORKER_PENDING,
    DEAD_LETTERS,
    DORA_WINDOW,
    *DORA_GAUGES,
)


def metricsync_version() -> str:
    try:
        return version("metricsync")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "unknown"


class BoundedLabel:
    """Keeps a label's values to at most `limit` distinct ones per key; later new values read "other".
    (Event types come from the sender's headers and payloads: a bound keeps a misbehaving sender
    from creating series without end.)"""

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def __call__(self, key: str, value: str) -> str:
        seen = self._seen.get(key)
        if seen is not None and value in seen:
            return value
        with self._lock:
            seen = self._seen.setdefault(key, set())
            if value in seen:
                return value
            if len(seen) >= self.limit:
                return "other"
            seen.add(value)
            return value


class Metrics:
    """The counters and histograms one process updates (collectors add the read-at-scrape families)."""

    def __init__(self, role: str, registry: CollectorRegistry | None = None) -> None:
        # No `<name>_created` series next to every counter and histogram (prometheus_client's
        # process-wide switch): they double the series and nothing here reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.role = role
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.webhooks = Counter(WEBHOOKS.name, WEBHOOKS.help, WEBHOOKS.labels, registry=r)
        self.webhook_body = Counter(WEBHOOK_BODY.name, WEBHOOK_BODY.help, WEBHOOK_BODY.labels, registry=r)
        self.request_duration = Histogram(
            REQUEST_DURATION.name, REQUEST_DURATION.help, REQUEST_DURATION.labels, registry=r, buckets=REQUEST_BUCKETS
        )
        self.kafka_produce_errors = Counter(
            KAFKA_PRODUCE_ERRORS.name, KAFKA_PRODUCE_ERRORS.help, KAFKA_PRODUCE_ERRORS.labels, registry=r
        )
        self.normalizer_deliveries = Counter(
            NORMALIZER_DELIVERIES.name, NORMALIZER_DELIVERIES.help, NORMALIZER_DELIVERIES.labels, registry=r
        )
        self.events_applied = Counter(EVENTS_APPLIED.name, EVENTS_APPLIED.help, registry=r)
        self.snapshot_latency = Histogram(
            SNAPSHOT_LATENCY.name, SNAPSHOT_LATENCY.help, registry=r, buckets=SNAPSHOT_BUCKETS
        )
        self.checkpoint_duration = Histogram(
            CHECKPOINT_DURATION.name, CHECKPOINT_DURATION.help, registry=r, buckets=CHECKPOINT_BUCKETS
        )
        self.dora_deployments = Counter(
            DORA_DEPLOYMENTS_TOTAL.name, DORA_DEPLOYMENTS_TOTAL.help, DORA_DEPLOYMENTS_TOTAL.labels, registry=r
        )
        self.dora_incidents = Counter(
            DORA_INCIDENTS_TOTAL.name, DORA_INCIDENTS_TOTAL.help, DORA_INCIDENTS_TOTAL.labels, registry=r
        )
        # multiprocess: one series per process otherwise; "max" keeps one value for the supervisor's ingest workers
        self.build_info = Gauge(
            BUILD_INFO.name, BUILD_INFO.help, BUILD_INFO.labels, registry=r, multiprocess_mode="max"
        )
        self.build_info.labels(metricsync_version(), platform.python_version(), role).set(1)
        # set by each ingest process from its own spools; "livesum": the sum over the live processes
        self.spool_records = Gauge(SPOOL_RECORDS.name, SPOOL_RECORDS.help, registry=r, multiprocess_mode="livesum")
        self.spool_bytes = Gauge(SPOOL_BYTES.name, SPOOL_BYTES.help, registry=r, multiprocess_mode="livesum")
        self.event_label = BoundedLabel()
