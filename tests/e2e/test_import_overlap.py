"""`metricsync import github` as a real command into a real `metricsync serve` data directory, against a
local GitHub API serving the same month of history the webhooks carry (tests/support/github_history.py):
a month imported, then the last week's webhooks replayed, gives every figure the webhooks alone give;
importing twice changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.support.embedded import Embedded
from tests.support.github_history import LAST_WEEK, History, Json, build_history, figures, run_import, serve_api
from tests.support.process import wait_until
from tests.support.webhooks import Request

pytestmark = pytest.mark.e2e


def post_all(server: Embedded, requests: list[Request]) -> None:
    for request in requests:
        response = server.post(request)
        assert response.status_code == 202, response.text
    wait_until("the pipeline to catch up", server.caught_up)


@pytest.fixture
def history() -> History:
    return build_history()


@pytest.fixture
def reference(tmp_path: Path, history: History) -> Iterator[tuple[Json, Json, Json]]:
    server = Embedded(tmp_path / "reference")
    server.start()
    try:
        post_all(server, history.webhooks())
        yield figures(server.base)
    finally:
        server.stop()


def test_a_month_imported_then_last_weeks_webhooks_equal_the_webhooks_alone(
    tmp_path: Path, httpserver: HTTPServer, history: History, reference: tuple[Json, Json, Json]
) -> None:
    serve_api(httpserver, history)
    server = Embedded(tmp_path / "imported")
    out = run_import(httpserver, ["--data-dir", str(server.data_dir)])
    assert "20 deployment statuses" in out
    assert "changes (commits) in those ranges: 39" in out
    server.start()
    try:
        post_all(server, history.webhooks(since=LAST_WEEK))
        imported = figures(server.base)
    finally:
        server.stop()
    dora, deployments, incidents = reference
    # the reference is what the history says: 15 successful deployments and 5 failed attempts, 3 of the
    # successful ones blamed for an incident, 37 of the 39 commits shipped by a successful deployment
    assert dora["deployment_frequency"] | {"per_day": 0} == {
        "deployments": 15,
        "deploy_days": 15,
        "per_day": 0,
        "failed_attempts": 5,
        "level": "high",
    }
    assert (dora["lead_time"]["changes"], dora["change_failure_rate"]["failed_deployments"]) == (37, 3)
    assert (len(deployments["deployments"]), len(incidents["incidents"])) == (15, 3)  # failed attempts apart
    assert imported == reference

    again = run_import(httpserver, ["--data-dir", str(server.data_dir)])
    assert "20 deployment statuses" in again  # read again (a finished import keeps no resume state)
    assert "new records: 0; already stored (duplicates, nothing changed): 43" in again  # 20 + 20 ranges + 3 issues
    server.start()
    try:
        assert figures(server.base) == reference
    finally:
        server.stop()
