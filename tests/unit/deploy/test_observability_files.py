"""deploy/grafana and the alert rules, checked without servers (the real Prometheus evaluates every
expression in tests/e2e/test_prometheus_scrape.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from metricsync.telemetry.definitions import ALL_FAMILIES
from tests.support.promql import ALERTS, DASHBOARDS, DEPLOY, alert_rules, all_expressions, dashboard

EXPOSED = {f.name + ("_total" if f.kind == "counter" else "") for f in ALL_FAMILIES} | {
    f"{f.name}_{suffix}" for f in ALL_FAMILIES if f.kind == "histogram" for suffix in ("bucket", "sum", "count")
}


def test_the_prometheus_rule_carries_exactly_the_alert_rules_file() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "monitoring.yaml").read_text()))
    rule = next(d for d in docs if d["kind"] == "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(ALERTS.read_text())
    assert {d["kind"] for d in docs} == {"PodMonitor", "PrometheusRule"}


def test_alerts_named_in_the_issue_exist_with_severity_and_summary() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert names == {
        "MetricSyncIngestErrors",
        "MetricSyncSpoolGrowing",
        "MetricSyncConsumerLagGrowing",
        "MetricSyncDeadLetters",
        "MetricSyncWorkerStalled",
    }
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


@pytest.mark.parametrize("expression", all_expressions(), ids=lambda e: e.where)
def test_expressions_use_only_exposed_metrics(expression: object) -> None:
    names = expression.metric_names()  # type: ignore[attr-defined]
    assert names, "every shipped expression reads a MetricSync metric"
    assert names <= EXPOSED, names - EXPOSED


@pytest.mark.parametrize("path", sorted(DASHBOARDS.glob("*.json")), ids=lambda p: p.name)
def test_dashboards_are_grafana_json_with_unique_panel_ids(path: Path) -> None:
    board = dashboard(path)
    assert board["uid"].startswith("metricsync-")
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
    variables = {v["name"] for v in board["templating"]["list"]}
    assert "datasource" in variables


def test_dora_dashboard_has_band_thresholds_and_the_variables() -> None:
    board = dashboard(DASHBOARDS / "dora.json")
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"service", "team", "environment"} <= variables
    tiles = {p["title"]: p for p in board["panels"] if p["type"] == "stat"}
    frequency = tiles["Deployment frequency"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in frequency] == [None, 1 / 30, 1 / 7, 1]  # metrics_worker/levels.py
    assert any(p["type"] == "table" for p in board["panels"])
    assert any(p["type"] == "timeseries" for p in board["panels"])


def test_grafana_provisioning_points_at_the_dashboards_compose_mounts() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/metricsync.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert f"./grafana/dashboards:{path}:ro" in grafana["volumes"]
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    prometheus = compose["services"]["prometheus"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in prometheus["volumes"]
    json.dumps(compose)  # plain data


def test_kubernetes_pods_are_scrapeable() -> None:
    for name, port in (("ingest", "8000"), ("api", "8000"), ("normalizer", "9464"), ("worker", "9464")):
        docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / f"{name}.yaml").read_text()))
        workload = next(d for d in docs if d["kind"] in ("Deployment", "StatefulSet"))
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == port
        container = workload["spec"]["template"]["spec"]["containers"][0]
        assert any(str(p["containerPort"]) == port for p in container["ports"])
