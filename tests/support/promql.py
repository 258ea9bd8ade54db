"""Every PromQL expression MetricSync ships (deploy/grafana dashboards, the alert rules), ready to
send to a real Prometheus: Grafana's variables replaced by what "All" / a range means."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

# Grafana's template variables, as a dashboard with "All" selected sends them
VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$service": ".*",
    "$team": ".*",
    "$job": ".*",
    "$environment": "production",
}
METRIC_NAME = re.compile(r"\bmetricsync_[a-z0-9_]+")


@dataclass(frozen=True)
class Expression:
    where: str  # "dora.json: Lead time ..." or "alerts.yml: MetricSyncIngestErrors"
    expr: str
    alert: bool  # an alert condition: returns data only while firing

    def metric_names(self) -> set[str]:
        return set(METRIC_NAME.findall(self.expr))


def substitute(expr: str) -> str:
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
    return expr


def dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def dashboard_expressions() -> list[Expression]:
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in dashboard(path)["panels"]:
            for target in panel.get("targets", []):
                where = f"{path.name}: {panel['title']} [{target['refId']}]"
                out.append(Expression(where, substitute(target["expr"]), False))
        for variable in dashboard(path)["templating"]["list"]:
            if variable["type"] == "query":
                query = variable["query"]["query"]
                match = re.fullmatch(r"label_values\((.+), *(\w+)\)", query)
                assert match is not None, f"{path.name}: variable {variable['name']}: {query}"
                out.append(Expression(f"{path.name}: variable {variable['name']}", match.group(1), False))
    return out


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def rule_expressions() -> list[Expression]:
    return [Expression(f"alerts.yml: {rule['alert']}", rule["expr"], True) for rule in alert_rules()]


def all_expressions() -> list[Expression]:
    return dashboard_expressions() + rule_expressions()
