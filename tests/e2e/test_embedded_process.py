"""`metricsync serve` as a real process: signed webhooks in, the hand-computed numbers out, and the
same numbers after a restart."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support import scenario
from tests.support.embedded import Embedded
from tests.support.process import METRICSYNC, wait_until
from tests.support.webhooks import SECRETS_ENV, Request

pytestmark = pytest.mark.e2e


def all_reports(server: Embedded) -> dict[str, dict[str, dict[str, object]]]:
    return {
        "acme/shop": server.dora(service="acme/shop"),
        "acme/pay": server.dora(service="acme/pay"),
        "": server.dora(),
    }


def test_webhooks_in_metrics_out_and_survive_restart(embedded: Embedded) -> None:
    for request in scenario.requests():
        response = embedded.post(request)
        assert response.status_code == 202, f"{request.path}: {response.status_code} {response.text}"
        assert response.json()["status"] == "accepted"
    wait_until("the pipeline to catch up", embedded.caught_up)

    before = all_reports(embedded)
    problems = [p for service, report in before.items() for p in scenario.mismatches(service, report)]
    assert problems == []
    assert before[""]["scope"] == {
        "service": None,
        "team": None,
        "environment": "production",
        "from": "2026-03-01T00:00:00Z",
        "to": "2026-03-08T00:00:00Z",
        "retained_from": None,  # the window is inside every service's retained history
        "history_from": "2026-03-02T10:00:00Z",  # D101 (T), the first deployment on record, is inside the window
    }

    # redelivery: acknowledged as duplicate, nothing changes
    for request in scenario.requests()[:3]:
        response = embedded.post(request)
        assert (response.status_code, response.json()["status"]) == (202, "duplicate")
    wait_until("the pipeline to catch up", embedded.caught_up)
    assert all_reports(embedded) == before

    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal (exit status -15)
    assert embedded.stop() in (0, -15)
    assert "Application shutdown complete" in embedded.log.read_text()
    embedded.start()
    assert all_reports(embedded) == before


def test_bad_input_gets_4xx_and_the_process_keeps_serving(embedded: Embedded) -> None:
    push = scenario.requests()[0]
    cases = [
        (Request(push.path, push.headers, push.body[:-7]), 401),  # signature no longer matches
        (Request(push.path, {**push.headers, "Content-Type": "text/plain"}, push.body), 415),
        (Request("/webhooks/alertmanager", scenario.requests()[3].headers, b'{"alerts": '), 400),
        (Request("/webhooks/alertmanager", scenario.requests()[3].headers, b'{"alerts": "nope"}'), 400),
        (Request("/webhooks/jenkins", {"Content-Type": "application/json"}, b"{}"), 401),
    ]
    for request, status in cases:
        response = embedded.post(request)
        assert response.status_code == status, response.text
        assert response.json()["detail"]
    huge = httpx.post(
        f"{embedded.base}/webhooks/github",
        content=b"{" + b" " * (26 * 1024 * 1024) + b"}",
        headers=push.headers,
        timeout=30,
    )
    assert huge.status_code == 413
    assert embedded.post(push).status_code == 202
    assert httpx.get(f"{embedded.base}/healthz").status_code == 200


def test_rebuild_applies_a_new_service_mapping_to_all_history(embedded: Embedded, tmp_path: Path) -> None:
    for request in scenario.requests():
        assert embedded.post(request).status_code == 202
    wait_until("the pipeline to catch up", embedded.caught_up)
    assert embedded.dora(service="acme/shop")["deployment_frequency"]["deployments"] == 2

    env = {"METRICSYNC_DATA_DIR": str(embedded.data_dir)}
    locked = subprocess.run([METRICSYNC, "rebuild"], env=env, capture_output=True, text=True, timeout=60)
    assert locked.returncode == 2
    assert "in use by another MetricSync process" in locked.stderr

    embedded.stop()
    config = tmp_path / "services.toml"
    config.write_text('[services.storefront]\naliases = ["acme/shop", "acme/pay"]\n')
    env["METRICSYNC_CONFIG"] = str(config)
    rebuilt = subprocess.run([METRICSYNC, "rebuild"], env=env, capture_output=True, text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "normalized 14/14 deliveries" in rebuilt.stderr

    embedded.extra_env = {"METRICSYNC_CONFIG": str(config)}
    embedded.start()
    merged = embedded.dora(service="storefront")
    # both histories are now one service: 5 deployments, 6 changes, and the rollback of #7's sha at 15:00
    # now fails every deployment of the service between #7 (12:00) and it: D102 (13:00) and #8 (14:00),
    # besides D101 (failed by the alert): 3 failed deployments, where the two services had 1 + 1
    assert merged["deployment_frequency"]["deployments"] == 5
    assert merged["lead_time"]["changes"] == 6
    assert merged["change_failure_rate"]["failed_deployments"] == 3
    services = httpx.get(f"{embedded.base}/api/v1/services", timeout=5).json()["services"]
    assert [s["service"] for s in services] == ["storefront"]


def test_simulate_gives_a_new_user_real_numbers(embedded: Embedded) -> None:
    env = dict(SECRETS_ENV)  # the simulator signs with the same secrets
    result = subprocess.run(
        [METRICSYNC, "simulate", "--url", embedded.base, "--days", "14", "--services", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "refused 0, failed 0 in" in result.stderr  # the tally line
    assert "done; see" in result.stderr
    wait_until("the pipeline to catch up", embedded.caught_up)
    report = httpx.get(f"{embedded.base}/api/v1/dora", timeout=10).json()
    assert report["deployment_frequency"]["deployments"] > 5
    assert report["lead_time"]["changes"] > 5
    assert report["lead_time"]["median_seconds"] > 0
    services = httpx.get(f"{embedded.base}/api/v1/services", timeout=5).json()["services"]
    assert {s["service"] for s in services} == {"acme/payments", "acme/checkout"}
