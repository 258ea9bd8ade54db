"""The whole chain once, with real servers: a Prometheus alerting rule on a test metric fires,
Prometheus sends the alert to a real Alertmanager (configured as the README says), which delivers it
to a real `metricsync serve`; the incident appears. The metric recovers, the alert resolves, and so
does the incident."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.e2e.test_alertmanager_real import alertmanager_config
from tests.support.embedded import Embedded
from tests.support.process import free_port
from tests.support.prom import query, start_alertmanager, start_prometheus, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus]

SERVICE = "acme/checkout"
RULES = {
    "groups": [
        {
            "name": "checkout",
            "rules": [
                {
                    "alert": "CheckoutErrors",
                    "expr": "checkout_failing > 0",
                    "labels": {"severity": "critical", "service": SERVICE},
                    "annotations": {"summary": "checkout is failing"},
                }
            ],
        }
    ]
}


@pytest.fixture
def test_metric() -> Iterator[tuple[Gauge, int]]:
    """A scrape target of our own: `checkout_failing`, set by the test."""
    registry = CollectorRegistry()
    gauge = Gauge("checkout_failing", "1 while the (pretend) checkout service fails.", registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield gauge, port
    server.shutdown()
    server.server_close()
    thread.join(5)


def _incidents(embedded: Embedded) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{embedded.base}/api/v1/incidents",
        params={"service": SERVICE, "from": "2026-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"},
        timeout=10,
    )
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    incidents: list[dict[str, Any]] = response.json()["incidents"]
    return incidents


def test_prometheus_rule_to_alertmanager_to_metricsync(
    embedded: Embedded, tmp_path: Path, test_metric: tuple[Gauge, int]
) -> None:
    gauge, metric_port = test_metric
    gauge.set(0)
    alertmanager = start_alertmanager(tmp_path / "alertmanager", alertmanager_config(embedded.base, ["alertname"]))
    prometheus = None
    try:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager.port}"]}]}]},
            "scrape_configs": [{"job_name": "checkout", "static_configs": [{"targets": [f"127.0.0.1:{metric_port}"]}]}],
        }
        prometheus = start_prometheus(tmp_path / "prometheus", config, {"rules.yml": yaml.safe_dump(RULES)})
        wait_for("the first scrape", lambda: query(prometheus, "checkout_failing"), timeout=30)
        before = datetime.now(UTC)

        gauge.set(1)
        opened = wait_for("the incident to open", lambda: _incidents(embedded), timeout=60)
        assert len(opened) == 1
        incident = opened[0]
        assert incident["service"] == SERVICE
        assert incident["resolved_at"] is None
        started = datetime.fromisoformat(incident["started_at"].replace("Z", "+00:00"))
        assert before.replace(microsecond=0) <= started.replace(microsecond=0) <= datetime.now(UTC)

        gauge.set(0)

        def resolved() -> list[dict[str, Any]]:
            return [i for i in _incidents(embedded) if i["resolved_at"] is not None]

        (closed,) = wait_for("the incident to resolve", resolved, timeout=60)
        assert closed["incident_id"] == incident["incident_id"]
        resolved_at = datetime.fromisoformat(closed["resolved_at"].replace("Z", "+00:00"))
        assert started < resolved_at <= datetime.now(UTC)
        assert closed["restore_seconds"] == pytest.approx((resolved_at - started).total_seconds())
    finally:
        if prometheus is not None:
            prometheus.stop()
        alertmanager.stop()
