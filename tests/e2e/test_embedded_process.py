"""`metricsync serve` as a real process: signed webhooks in, the hand-computed numbers out, and the
same numbers after a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import scenario
from tests.support.embedded import Embedded
from tests.support.process import wait_until
from tests.support.webhooks import Request

pytestmark = pytest.mark.e2e


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    server = Embedded(tmp_path)
    server.start()
    yield server
    if server.process is not None and server.process.alive():
        server.stop()


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
