"""The DORA gauges against /api/v1/dora's own numbers, the applied-event counters, the webhook
observer through the ingest app, and the consumer services' listener."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import timedelta

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ingest.app import IngestStarlette, create_ingest_routes
from metrics_worker.documents import dora_report
from metrics_worker.engine import MetricEngine
from metricsync.telemetry.definitions import CONSUMER_LAG
from metricsync.telemetry.dora import gauge_samples
from metricsync.telemetry.exposition import GaugeReader
from metricsync.telemetry.listener import MetricsListener
from metricsync.telemetry.observers import count_applied
from metricsync.telemetry.process import Telemetry
from schemas.catalog import ServiceCatalog
from schemas.errors import ConfigError
from schemas.events import DeploymentStatus
from tests.unit.ingest.conftest import (
    ALERTMANAGER_TOKEN,
    JSON_TYPE,
    MemorySink,
    bearer,
    fixed_clock,
    fixture_bytes,
    make_config,
)
from tests.unit.metrics_worker.factories import at, deploy, engine_of, incident, push

ZERO = "0" * 40


class Source:
    def __init__(self, engine: MetricEngine) -> None:
        self.engine = engine

    async def engine_for(self, services: Collection[str] | None) -> MetricEngine:
        return self.engine

    async def known_services(self) -> Collection[str]:
        return {s.service for s in self.engine.services()}


def _events() -> list[object]:
    return [
        *push("p1", ZERO, [("a1", 0.0), ("a2", 1.0)], service="shop"),
        deploy("d1", "a2", 3.0, service="shop"),
        *incident("i1", 4.0, 6.0, service="shop"),
        deploy("d2", "a2", 8.0, service="shop", status=DeploymentStatus.FAILURE),
        deploy("d3", None, 10.0, service="pay", environment="staging"),
    ]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_dora_gauges_are_the_read_apis_numbers() -> None:
    engine = engine_of(*_events())  # type: ignore[arg-type]
    now = at(24)
    telemetry = Telemetry("serve")
    catalog = ServiceCatalog.model_validate({"services": {"shop": {"team": "checkout"}}})
    telemetry.add_dora(Source(engine), catalog, timedelta(days=30), lambda: now)
    samples = _samples((await telemetry.exposition.render()).decode())

    report = dora_report(
        engine,
        services=["shop"],
        service="shop",
        team=None,
        environment="production",
        start=now - timedelta(days=30),
        end=now,
    )
    labels = (("environment", "production"), ("service", "shop"), ("team", "checkout"))
    assert samples[("metricsync_dora_deployments_count", labels)] == report["deployment_frequency"]["deployments"] == 1
    assert samples[("metricsync_dora_deployments_per_day", labels)] == report["deployment_frequency"]["per_day"]
    assert samples[("metricsync_dora_lead_time_median_seconds", labels)] == report["lead_time"]["median_seconds"]
    assert samples[("metricsync_dora_lead_time_p90_seconds", labels)] == report["lead_time"]["p90_seconds"]
    assert samples[("metricsync_dora_change_failure_ratio", labels)] == report["change_failure_rate"]["rate"] == 1.0
    assert samples[("metricsync_dora_time_to_restore_median_seconds", labels)] == 7200.0
    level = tuple(sorted((*labels, ("metric", "change_failure_rate"))))
    assert samples[("metricsync_dora_level", level)] == 1.0  # low
    assert samples[("metricsync_dora_window_seconds", ())] == 30 * 86400
    # pay deployed to staging only: its staging series exist, no production ones; no team -> ""
    staging = (("environment", "staging"), ("service", "pay"), ("team", ""))
    assert samples[("metricsync_dora_deployments_count", staging)] == 1
    assert not any(
        name.startswith("metricsync_dora_") and ("service", "pay") in lbl and ("environment", "production") in lbl
        for name, lbl in samples
    )


def test_gauge_samples_leave_out_metrics_without_data() -> None:
    engine = engine_of()
    now = at(24)
    report = dora_report(
        engine, services=None, service=None, team=None, environment="production", start=now - timedelta(days=1), end=now
    )
    samples = gauge_samples(report)
    assert samples == {
        "metricsync_dora_deployments_count": [((), 0.0)],
        "metricsync_dora_deployments_per_day": [((), 0.0)],
    }


def test_applied_events_count_deployments_and_incidents_by_outcome() -> None:
    telemetry = Telemetry("worker")
    count_applied(telemetry.metrics, _events())  # type: ignore[arg-type]
    samples = _samples(generate_latest(telemetry.metrics.registry).decode())
    assert samples[("metricsync_events_applied_total", ())] == 7
    shop = (("environment", "production"), ("outcome", "success"), ("service", "shop"))
    assert samples[("metricsync_dora_deployments_total", shop)] == 1
    failed = (("environment", "production"), ("outcome", "failure"), ("service", "shop"))
    assert samples[("metricsync_dora_deployments_total", failed)] == 1
    staging = (("environment", "staging"), ("outcome", "success"), ("service", "pay"))
    assert samples[("metricsync_dora_deployments_total", staging)] == 1
    for outcome in ("opened", "resolved"):
        key = (("environment", "production"), ("outcome", outcome), ("service", "shop"))
        assert samples[("metricsync_dora_incidents_total", key)] == 1


async def test_webhook_outcomes_counted_through_the_ingest_app() -> None:
    telemetry = Telemetry("serve")
    sink = MemorySink()
    app = IngestStarlette(routes=create_ingest_routes(make_config(), sink, fixed_clock, observer=telemetry.webhooks))
    body = fixture_bytes("alertmanager", "webhook_v4__resolved_single_full.json")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        headers = {**JSON_TYPE, **bearer(ALERTMANAGER_TOKEN)}
        assert (await client.post("/webhooks/alertmanager", content=body, headers=headers)).status_code == 202
        assert (await client.post("/webhooks/alertmanager", content=body, headers=headers)).status_code == 202
        assert (await client.post("/webhooks/alertmanager", content=body, headers=JSON_TYPE)).status_code == 401
    samples = _samples(generate_latest(telemetry.metrics.registry).decode())

    def count(event: str, outcome: str) -> float:
        return samples[
            ("metricsync_webhooks_total", (("event", event), ("outcome", outcome), ("source", "alertmanager")))
        ]

    event = sink.only().event_type
    assert count(event, "accepted") == 1
    assert count(event, "duplicate") == 1
    assert count("unknown", "refused") == 1
    assert samples[("metricsync_webhook_body_bytes_total", (("source", "alertmanager"),))] == 2 * len(body)


async def test_listener_serves_metrics_and_healthz() -> None:
    telemetry = Telemetry("normalizer")
    state: dict[str, str | None] = {"problem": None}
    listener = MetricsListener(telemetry.exposition, "127.0.0.1", 0, lambda: state["problem"])
    await listener.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.port}") as client:
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
            assert metrics.headers["content-type"].startswith("text/plain; version=")
            assert 'role="normalizer"' in metrics.text
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            state["problem"] = "stalled"
            assert (await client.get("/healthz")).status_code == 503
            assert (await client.get("/other")).status_code == 404
            assert (await client.post("/metrics")).status_code == 405
    finally:
        await listener.stop()


async def test_a_failing_collector_does_not_fail_the_scrape(caplog: pytest.LogCaptureFixture) -> None:
    telemetry = Telemetry("api")
    reads = 0

    async def flaky() -> dict[str, list[tuple[tuple[str, ...], float]]]:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0)
        if reads > 1:
            raise RuntimeError("kafka away")
        return {CONSUMER_LAG.name: [(("g", "t", "0"), 5.0)]}

    telemetry.exposition.add(GaugeReader((CONSUMER_LAG,), flaky))
    assert (
        'metricsync_consumer_lag{group="g",partition="0",topic="t"} 5.0'
        in (await telemetry.exposition.render()).decode()
    )
    text = (await telemetry.exposition.render()).decode()
    assert "metricsync_build_info" in text
    assert "metricsync_consumer_lag{" not in text  # not the last value read: none
    assert "metrics collector failed" in caplog.text


async def test_a_taken_metrics_port_is_a_clear_configuration_error() -> None:
    first = MetricsListener(Telemetry("worker").exposition, "127.0.0.1", 0)
    await first.start()
    try:
        second = MetricsListener(Telemetry("worker").exposition, "127.0.0.1", first.port)
        with pytest.raises(ConfigError, match=f"METRICSYNC_METRICS_PORT={first.port}: cannot listen"):
            await second.start()
    finally:
        await first.stop()
