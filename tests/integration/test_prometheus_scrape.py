"""A real Prometheus scrapes a real MetricSync - `metricsync serve`, and the distributed services -
loaded with the hand-computed scenario: every target is up; every PromQL expression of
deploy/grafana and of the alert rules evaluates without error (and, with both modes scraped, returns
data); the DORA gauges equal /api/v1/dora; lag goes to 0 once caught up."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import scenario
from tests.support.distributed import Distributed
from tests.support.embedded import Embedded
from tests.support.process import Process, free_port, wait_http_ok, wait_until
from tests.support.prom import Server, query, start_prometheus, targets_up, wait_for
from tests.support.promql import ALERTS, all_expressions, dashboard_expressions, rule_expressions
from tests.support.webhooks import Request

pytestmark = [pytest.mark.servers, pytest.mark.prometheus, pytest.mark.timeout(300)]

WINDOW = "400d"  # METRICSYNC_METRICS_WINDOW: the scenario (March 2026) inside the gauges' trailing window
DORA_FIELDS = {
    "metricsync_dora_deployments_count": ("deployment_frequency", "deployments"),
    "metricsync_dora_deployments_per_day": ("deployment_frequency", "per_day"),
    "metricsync_dora_lead_time_median_seconds": ("lead_time", "median_seconds"),
    "metricsync_dora_lead_time_p90_seconds": ("lead_time", "p90_seconds"),
    "metricsync_dora_change_failure_ratio": ("change_failure_rate", "rate"),
    "metricsync_dora_time_to_restore_median_seconds": ("time_to_restore", "median_seconds"),
    "metricsync_dora_failed_deployment_recovery_median_seconds": ("failed_deployment_recovery", "median_seconds"),
    "metricsync_dora_rework_ratio": ("rework_rate", "rate"),
}
LEVELS = {"elite": 4, "high": 3, "medium": 2, "low": 1}
SERVICES = ("acme/shop", "acme/pay")


def refused() -> Request:
    """A webhook without its token: answered 401, counted as refused."""
    return Request("/webhooks/alertmanager", {"Content-Type": "application/json"}, b"{}")


def post_scenario(base: str) -> None:
    for request in scenario.requests():
        response = httpx.post(base + request.path, content=request.body, headers=request.headers, timeout=15)
        assert response.status_code == 202, response.text
    bad = refused()
    assert httpx.post(base + bad.path, content=bad.body, headers=bad.headers, timeout=15).status_code == 401


def scrape_config(jobs: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": targets}]} for job, targets in jobs.items()
        ],
    }


def prometheus_for(tmp_path: Path, jobs: dict[str, list[str]]) -> Server:
    return start_prometheus(tmp_path / "prometheus", scrape_config(jobs), {"alerts.yml": ALERTS.read_text()})


def wait_all_up(prometheus: Server, expected: int) -> None:
    def up() -> bool:
        targets = targets_up(prometheus)
        return len(targets) == expected and all(t["health"] == "up" for t in targets)

    try:
        wait_for(f"{expected} targets up", up, timeout=30)
    except AssertionError:
        raise AssertionError(f"targets: {targets_up(prometheus)}") from None


def api_dora(base: str, service: str, now: datetime) -> dict[str, Any]:
    params = {
        "service": service,
        "environment": "production",
        "from": (now - timedelta(days=400)).isoformat(),
        "to": now.isoformat(),
    }
    response = httpx.get(f"{base}/api/v1/dora", params=params, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def check_dora_gauges(prometheus: Server, job: str, base: str) -> None:
    """Every DORA gauge Prometheus scraped from `job` equals /api/v1/dora for the same service,
    environment and window (and the scenario's hand-computed numbers)."""
    now = datetime.now(UTC)
    for service in SERVICES:
        report = api_dora(base, service, now)
        assert scenario.mismatches(service, report) == []
        selector = f'job="{job}", service="{service}", environment="production"'
        for name, (block, field) in DORA_FIELDS.items():
            result = query(prometheus, f"{name}{{{selector}}}")
            want = report[block][field]
            if want is None:
                assert result == [], (name, service, result)
                continue
            assert len(result) == 1, (name, service, result)
            assert math.isclose(float(result[0]["value"][1]), float(want), rel_tol=1e-12), (name, service, want)
        for metric in ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore"):
            level = report[metric]["level"]
            result = query(prometheus, f'metricsync_dora_level{{{selector}, metric="{metric}"}}')
            assert [float(r["value"][1]) for r in result] == ([] if level is None else [LEVELS[level]]), metric


def evaluate_all(prometheus: Server, require_data: bool) -> list[str]:
    """Every shipped expression, evaluated; returns what had no data (dashboards) or whose metrics
    had none (alert conditions return data only while firing)."""
    missing = []
    for expression in all_expressions():
        result = query(prometheus, expression.expr)  # fails the test on a PromQL error
        if expression.alert:
            for name in sorted(expression.metric_names()):
                if not query(prometheus, f'{{__name__="{name}"}}') and not query(prometheus, f"{name}_total"):
                    missing.append(f"{expression.where}: {name}")
        elif not result:
            missing.append(expression.where)
    if require_data:
        assert missing == [], "\n".join(missing)
    return missing


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Embedded]:
    server = Embedded(tmp_path / "embedded")
    server.extra_env["METRICSYNC_METRICS_WINDOW"] = WINDOW
    server.start()
    yield server
    if server.process is not None and server.process.alive():
        server.stop()


def test_prometheus_scrapes_embedded_serve(serve: Embedded, tmp_path: Path) -> None:
    post_scenario(serve.base)
    wait_until("embedded to catch up", serve.caught_up)
    prometheus = prometheus_for(tmp_path, {"metricsync-serve": [f"127.0.0.1:{serve.port}"]})
    try:
        wait_all_up(prometheus, 1)
        wait_for("two scrapes", lambda: query(prometheus, 'count_over_time(up{job="metricsync-serve"}[1m]) >= 3'), 30)
        check_dora_gauges(prometheus, "metricsync-serve", serve.base)
        lag = query(prometheus, "metricsync_embedded_normalizer_lag + metricsync_embedded_worker_pending")
        assert [float(r["value"][1]) for r in lag] == [0.0]
        accepted = query(prometheus, 'sum(metricsync_webhooks_total{outcome="accepted"})')
        assert float(accepted[0]["value"][1]) == len(scenario.requests())
        refusals = query(prometheus, 'sum(metricsync_webhooks_total{outcome="refused"})')
        assert float(refusals[0]["value"][1]) == 1
        missing = evaluate_all(prometheus, require_data=False)
        # only what embedded mode does not have may be missing
        distributed_only = ("Spool", "Kafka produce errors", "checkpoint", "Lag [A]", "metricsync_consumer_lag")
        assert [m for m in missing if not any(word in m for word in distributed_only)] == [], missing
    finally:
        prometheus.stop()


@pytest.fixture
def distributed(tmp_path: Path, kafka_bootstrap: str, mongo_uri: str) -> Iterator[Distributed]:
    system = Distributed(tmp_path / "distributed", kafka_bootstrap, mongo_uri)
    system.env["METRICSYNC_METRICS_WINDOW"] = WINDOW
    yield system
    system.close()


def test_prometheus_scrapes_the_distributed_services_and_serve(
    distributed: Distributed, serve: Embedded, tmp_path: Path
) -> None:
    distributed.init()
    distributed.start_ingest({"METRICSYNC_INGEST_WORKERS": "2"})
    consumers: list[tuple[str, int]] = []
    for role in ("normalizer", "worker"):
        port = free_port()
        process = distributed.run([role], {"METRICSYNC_METRICS_PORT": str(port)})
        wait_http_ok(f"http://127.0.0.1:{port}/healthz", process)
        consumers.append((role, port))
    api_port = free_port()
    api: Process = distributed.run(["api"], {"METRICSYNC_PORT": str(api_port)})
    wait_http_ok(f"http://127.0.0.1:{api_port}/readyz", api)
    post_scenario(distributed.base)
    post_scenario(serve.base)

    def distributed_caught_up() -> bool:
        status = distributed.get("/api/v1/status").json()
        return bool(status.get("caught_up")) and status.get("events", 0) > 0

    wait_until("distributed to catch up", distributed_caught_up, timeout=60)
    status = distributed.get("/api/v1/status").json()
    assert status["lag"] == 0
    assert {(c["group"], c["lag"]) for c in status["consumers"]} == {
        (distributed.env["METRICSYNC_NORMALIZER_GROUP"], 0),
        (distributed.env["METRICSYNC_WORKER_GROUP"], 0),
    }

    jobs = {
        "metricsync-serve": [f"127.0.0.1:{serve.port}"],
        "metricsync-ingest": [f"127.0.0.1:{distributed.port}"],
        "metricsync-api": [f"127.0.0.1:{api_port}"],
        **{f"metricsync-{role}": [f"127.0.0.1:{port}"] for role, port in consumers},
    }
    prometheus = prometheus_for(tmp_path, jobs)
    try:
        wait_all_up(prometheus, len(jobs))
        wait_for(
            "a minute of scrapes", lambda: query(prometheus, 'count_over_time(up{job="metricsync-api"}[1m]) >= 3'), 30
        )
        wait_until(
            "the DORA gauges to settle",
            lambda: bool(query(prometheus, 'metricsync_dora_deployments_count{job="metricsync-api"}')),
            30,
        )
        check_dora_gauges(prometheus, "metricsync-api", f"http://127.0.0.1:{api_port}")
        check_dora_gauges(prometheus, "metricsync-ingest", distributed.base)
        lag = query(prometheus, 'sum(metricsync_consumer_lag{job="metricsync-api"})')
        assert [float(r["value"][1]) for r in lag] == [0.0]
        applied = query(prometheus, 'sum(metricsync_events_applied_total{job="metricsync-worker"})')
        assert float(applied[0]["value"][1]) > 0
        info = query(prometheus, "count by (role) (metricsync_build_info)")
        assert {r["metric"]["role"] for r in info} == {"serve", "ingest", "api", "normalizer", "worker"}
        evaluate_all(prometheus, require_data=True)
        assert len(dashboard_expressions()) > 20
        assert len(rule_expressions()) == 5
    finally:
        prometheus.stop()
