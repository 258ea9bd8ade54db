"""The exposed metric families: names, types, help texts and label sets are pinned here, so that a
rename (which breaks dashboards, alert rules and users' queries) is a decision, not an accident."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metricsync.telemetry import definitions as d
from metricsync.telemetry.definitions import ALL_FAMILIES, BoundedLabel, Metrics

# name as exposed (counters: the family name; samples end in _total) -> (type, labels, help)
PINNED: dict[str, tuple[str, tuple[str, ...], str]] = {
    "metricsync_webhooks": (
        "counter",
        ("source", "event", "outcome"),
        "Webhook requests by source, event type and outcome (accepted, duplicate, ignored, refused, error).",
    ),
    "metricsync_webhook_body_bytes": ("counter", ("source",), "Bytes of webhook bodies received and read, by source."),
    "metricsync_http_request_duration_seconds": (
        "histogram",
        ("route", "status"),
        "Time from a request's arrival to the end of its response, by route template and status class.",
    ),
    "metricsync_kafka_produce_errors": (
        "counter",
        ("topic",),
        "Produce requests to Kafka that failed (the deliveries then go to the spool), by topic.",
    ),
    "metricsync_normalizer_deliveries": (
        "counter",
        ("source", "outcome"),
        "Raw deliveries the normalizer processed, by source and outcome (mapped, ignored, dead_lettered).",
    ),
    "metricsync_events_applied": ("counter", (), "Unified events the metrics worker applied to its state."),
    "metricsync_event_to_snapshot_seconds": (
        "histogram",
        (),
        "Time from a webhook's receipt by ingest to the metric snapshot that includes its event.",
    ),
    "metricsync_checkpoint_duration_seconds": (
        "histogram",
        (),
        "Time the distributed worker took to store its state and commit its Kafka offsets.",
    ),
    "metricsync_build_info": (
        "gauge",
        ("version", "python", "role"),
        "Always 1: the MetricSync version, the Python version and the process role.",
    ),
    "metricsync_dora_deployments": (
        "counter",
        ("service", "environment", "outcome"),
        "Deployment results applied by this process since it started, by service, environment and outcome "
        "(success, failure); rate() it over any range.",
    ),
    "metricsync_dora_incidents": (
        "counter",
        ("service", "environment", "outcome"),
        "Incident signals applied by this process since it started, by service, environment and outcome "
        "(opened, resolved).",
    ),
    "metricsync_spool_records": ("gauge", (), "Deliveries waiting in this ingest process's spools for Kafka."),
    "metricsync_spool_bytes": ("gauge", (), "Bytes waiting in this ingest process's spools for Kafka."),
    "metricsync_consumer_lag": (
        "gauge",
        ("group", "topic", "partition"),
        "Records of a topic partition not yet consumed by a consumer group (end offset minus committed offset).",
    ),
    "metricsync_embedded_normalizer_lag": ("gauge", (), "Embedded mode: raw deliveries stored but not yet normalized."),
    "metricsync_embedded_worker_pending": (
        "gauge",
        (),
        "Embedded mode: events on the in-memory bus not yet applied by the worker.",
    ),
    "metricsync_dead_letters": (
        "gauge",
        (),
        "Open dead letters: deliveries that could not be mapped and no replay has mapped since "
        "(`metricsync replay-dead-letters` retries them).",
    ),
    "metricsync_dora_window_seconds": (
        "gauge",
        (),
        "The trailing window of the metricsync_dora_* gauges (METRICSYNC_METRICS_WINDOW).",
    ),
    "metricsync_dora_deployments_count": (
        "gauge",
        ("service", "team", "environment"),
        "Successful deployments finished in the trailing window.",
    ),
    "metricsync_dora_deployments_per_day": (
        "gauge",
        ("service", "team", "environment"),
        "Deployment frequency: successful deployments per day of the trailing window.",
    ),
    "metricsync_dora_lead_time_median_seconds": (
        "gauge",
        ("service", "team", "environment"),
        "Lead time for changes, median over the changes deployed in the trailing window.",
    ),
    "metricsync_dora_lead_time_p90_seconds": (
        "gauge",
        ("service", "team", "environment"),
        "Lead time for changes, 90th percentile over the changes deployed in the trailing window.",
    ),
    "metricsync_dora_change_failure_ratio": (
        "gauge",
        ("service", "team", "environment"),
        "Change failure rate: failed deployments / deployments of the trailing window (0-1).",
    ),
    "metricsync_dora_time_to_restore_median_seconds": (
        "gauge",
        ("service", "team", "environment"),
        "Time to restore service, median over the incidents that started in the trailing window.",
    ),
    "metricsync_dora_failed_deployment_recovery_median_seconds": (
        "gauge",
        ("service", "team", "environment"),
        "Failed deployment recovery time, median over the failed deployments of the trailing window.",
    ),
    "metricsync_dora_rework_ratio": (
        "gauge",
        ("service", "team", "environment"),
        "Rework rate: deployments made while an incident was open / deployments of the trailing window (0-1).",
    ),
    "metricsync_dora_level": (
        "gauge",
        ("service", "team", "environment", "metric"),
        "DORA performance level of a metric over the trailing window: 4 elite, 3 high, 2 medium, 1 low.",
    ),
}


def test_the_families_are_the_pinned_ones() -> None:
    got = {f.name: (f.kind, f.labels, f.help) for f in ALL_FAMILIES}
    assert got == PINNED


@pytest.mark.parametrize("family", ALL_FAMILIES, ids=lambda f: f.name)
def test_names_follow_prometheus_conventions(family: d.Family) -> None:
    assert family.name.startswith("metricsync_")
    assert not family.name.endswith("_total"), "counters get _total on exposition"
    if family.kind == "histogram" or "seconds" in family.name:
        assert family.name.endswith("_seconds"), "durations in seconds, suffixed"
    assert "milli" not in family.name
    assert "_ms" not in family.name
    if family.name.endswith(("_ratio",)):
        assert "(0-1)" in family.help
    assert family.help.endswith(".")
    assert len(set(family.labels)) == len(family.labels)


def test_exposition_of_the_process_metrics_matches_the_definitions() -> None:
    metrics = Metrics("serve", CollectorRegistry())
    metrics.webhooks.labels("github", "push", "accepted").inc()
    metrics.webhook_body.labels("github").inc(10)
    metrics.request_duration.labels("/webhooks/github", "2xx").observe(0.01)
    metrics.kafka_produce_errors.labels("metricsync.raw").inc()
    metrics.normalizer_deliveries.labels("github", "mapped").inc()
    metrics.dora_deployments.labels("acme/shop", "production", "success").inc()
    metrics.dora_incidents.labels("acme/shop", "production", "opened").inc()
    metrics.snapshot_latency.observe(0.2)
    metrics.checkpoint_duration.observe(0.02)
    metrics.events_applied.inc()
    text = generate_latest(metrics.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, family in families.items():
        if not name.startswith("metricsync_"):
            continue
        kind, labels, help_text = PINNED[name]
        assert family.type == kind, name
        assert family.documentation == help_text, name
        for sample in family.samples:
            own = set(sample.labels) - {"le"}
            assert own == set(labels), (name, sample)
    assert {"metricsync_webhooks", "metricsync_build_info", "metricsync_http_request_duration_seconds"} <= set(families)
    assert 'metricsync_webhooks_total{event="push",outcome="accepted",source="github"} 1.0' in text
    assert 'metricsync_build_info{python="' in text
    assert 'role="serve"' in text


def test_bounded_label_caps_distinct_values_per_key() -> None:
    bound = BoundedLabel(limit=2)
    assert [bound("github", v) for v in ("push", "issues", "push", "star", "fork")] == [
        "push",
        "issues",
        "push",
        "other",
        "other",
    ]
    assert bound("jenkins", "star") == "star"  # per key
