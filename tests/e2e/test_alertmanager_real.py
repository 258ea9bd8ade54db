"""A real Alertmanager (built by scripts/services from the Go module proxy), configured with the
receiver the README gives users, delivers firing and then resolved notifications to a real
`metricsync serve`; the incidents open and resolve in /api/v1/incidents."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.embedded import Embedded
from tests.support.prom import Server, post_alerts, start_alertmanager, wait_for
from tests.support.webhooks import ALERTMANAGER_TOKEN, sha_of

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus]

README = Path(__file__).resolve().parents[2] / "README.md"
# Small timers keep the tests bounded: the first notification 1 s after an alert arrives, the next
# (resolved, or alerts added to the group) 1 s after that.
ROUTE_TIMERS = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}


def readme_receivers() -> list[dict[str, Any]]:
    """The `receivers:` YAML of the README's Alertmanager section, as users copy it."""
    text = README.read_text()
    section = text[text.index("- **Alertmanager**:") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block is not None, "README's Alertmanager section has no yaml block"
    receivers: list[dict[str, Any]] = yaml.safe_load(block.group(1))["receivers"]
    return receivers


def alertmanager_config(metricsync_base: str, group_by: list[str], group_wait: str = "1s") -> dict[str, Any]:
    """The README's receiver with its two placeholders filled in (URL and TOKEN), nothing else changed."""
    receivers = readme_receivers()
    hook = receivers[0]["webhook_configs"][0]
    assert hook["url"] == "https://metricsync.example/webhooks/alertmanager"
    assert hook["send_resolved"] is True
    assert hook["http_config"] == {"authorization": {"credentials": "TOKEN"}}
    hook["url"] = f"{metricsync_base}/webhooks/alertmanager"
    hook["http_config"]["authorization"]["credentials"] = ALERTMANAGER_TOKEN
    route = {"receiver": receivers[0]["name"], "group_by": group_by, **ROUTE_TIMERS, "group_wait": group_wait}
    return {"route": route, "receivers": receivers}


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _alert(service: str, starts: datetime, ends: datetime | None = None, **annotations: str) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {"alertname": "HighErrorRate", "service": service, "severity": "critical"},
        "annotations": {"summary": f"{service} is failing", **annotations},
        "startsAt": _iso(starts),
    }
    if ends is not None:
        alert["endsAt"] = _iso(ends)
    return alert


def _incidents(server: Embedded, service: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.base}/api/v1/incidents",
        params={"service": service, "from": "2026-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"},
        timeout=10,
    )
    if response.status_code == 404:  # no events for the service yet
        return []
    assert response.status_code == 200, response.text
    incidents: list[dict[str, Any]] = response.json()["incidents"]
    return incidents


def _all_resolved(server: Embedded, service: str) -> bool:
    incidents = _incidents(server, service)
    return bool(incidents) and all(i["resolved_at"] is not None for i in incidents)


def _status(server: Embedded) -> dict[str, Any]:
    status: dict[str, Any] = httpx.get(f"{server.base}/api/v1/status", timeout=5).json()
    return status


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def alertmanager_for(tmp_path: Path) -> Any:
    started: list[Server] = []

    def start(embedded: Embedded, group_by: list[str], group_wait: str = "1s") -> Server:
        server = start_alertmanager(tmp_path / "alertmanager", alertmanager_config(embedded.base, group_by, group_wait))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_firing_then_resolved_opens_and_resolves_the_incident(embedded: Embedded, alertmanager_for: Any) -> None:
    alertmanager = alertmanager_for(embedded, ["alertname", "service"])
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    cause = sha_of("payments-bad-commit")
    post_alerts(alertmanager, [_alert("acme/payments", starts, commit_sha=cause)])

    opened = wait_for("the incident to open", lambda: _incidents(embedded, "acme/payments"), timeout=30)
    assert len(opened) == 1
    incident = opened[0]
    assert incident["service"] == "acme/payments"
    assert incident["environment"] == "production"
    assert _parse(incident["started_at"]) == starts
    assert incident["resolved_at"] is None
    assert incident["cause_shas"] == [cause]

    ends = starts + timedelta(minutes=7)
    post_alerts(alertmanager, [_alert("acme/payments", starts, ends, commit_sha=cause)])

    def resolved() -> list[dict[str, Any]]:
        return [i for i in _incidents(embedded, "acme/payments") if i["resolved_at"] is not None]

    closed = wait_for("the incident to resolve", resolved, timeout=30)
    assert len(closed) == 1
    assert closed[0]["incident_id"] == incident["incident_id"]
    assert _parse(closed[0]["resolved_at"]) == ends
    assert closed[0]["restore_seconds"] == 7 * 60
    assert closed[0]["cause_shas"] == [cause]
    # firing, then resolved: two notifications, both verified with the bearer token (none refused)
    status = _status(embedded)
    assert status["raw_deliveries"] == 2, status
    assert status["dead_letters"] == 0, status


def test_several_alerts_grouped_in_one_notification(embedded: Embedded, alertmanager_for: Any) -> None:
    # Alertmanager flushes a group at once for an alert older than group_wait (and again when the
    # next alerts join it): recent alerts and a group_wait of 3 s make one notification of the three.
    alertmanager = alertmanager_for(embedded, ["alertname"], "3s")
    starts = datetime.now(UTC) - timedelta(seconds=1)
    services = ["acme/cart", "acme/search", "acme/login"]
    post_alerts(alertmanager, [_alert(s, starts + timedelta(milliseconds=100 * i)) for i, s in enumerate(services)])

    for i, service in enumerate(services):
        opened = wait_for(f"{service}'s incident", partial(_incidents, embedded, service), timeout=30)
        assert [(o["service"], _parse(o["started_at"])) for o in opened] == [
            (service, starts + timedelta(milliseconds=100 * i))
        ]
    # one group (alertname) -> one notification carrying the three alerts
    assert _status(embedded)["raw_deliveries"] == 1

    ends = datetime.now(UTC)  # resolved now (an endsAt in the future would keep them firing until then)
    post_alerts(
        alertmanager, [_alert(s, starts + timedelta(milliseconds=100 * i), ends) for i, s in enumerate(services)]
    )
    for service in services:
        wait_for(f"{service}'s incident to resolve", partial(_all_resolved, embedded, service), timeout=30)
        (incident,) = _incidents(embedded, service)
        assert _parse(incident["resolved_at"]) == ends
    assert _status(embedded)["raw_deliveries"] == 2  # the resolved notification: again one for the group
