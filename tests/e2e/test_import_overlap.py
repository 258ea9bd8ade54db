"""`metricsync import github` as a real command into a real `metricsync serve` data directory, against a
local GitHub API serving the same month of history the webhooks carry: a month imported, then the
last week's webhooks replayed, gives every figure the webhooks alone give; importing twice changes
nothing.

The history: one repository, a linear main branch, 20 production deployments of the head of the
moment (every fourth one failing), 1-3 commits pushed before each, and 3 incident issues (opened
and closed) naming the deployed sha as root cause. Webhook bodies and API objects are built from the
same real payloads (tests/fixtures/github, tests/fixtures/api/github), values changed in the test."""

from __future__ import annotations

import copy
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pytest_httpserver import HTTPServer

from tests.support.embedded import Embedded
from tests.support.process import METRICSYNC, wait_until
from tests.support.webhooks import FIXTURES, Request, _github, github_push, sha_of

pytestmark = pytest.mark.e2e

REPO = "acme/payments"
START = datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
SINCE = "2026-10-25"
LAST_WEEK = datetime(2026, 11, 16, tzinfo=UTC)
WINDOW = {"from": "2026-10-25T00:00:00Z", "to": "2026-11-25T00:00:00Z", "service": REPO}

Json = dict[str, Any]


def _load(relative: str) -> Any:
    return orjson.loads((FIXTURES / relative).read_bytes())


@dataclass
class History:
    commits: list[tuple[str, datetime]] = field(default_factory=list)  # the main branch, oldest first
    pushes: list[tuple[datetime, Request]] = field(default_factory=list)
    deployments: list[tuple[Json, Json, int]] = field(default_factory=list)  # deployment, status, commits so far
    issues: list[tuple[datetime, str, Json]] = field(default_factory=list)  # time, action, issue

    def webhooks(self, since: datetime | None = None) -> list[Request]:
        timed: list[tuple[datetime, Request]] = list(self.pushes)
        template = _load("github/deployment_status__success.json")
        for deployment, status, _ in self.deployments:
            body = copy.deepcopy(template)
            body.update(deployment=deployment, deployment_status=status)
            body["repository"]["full_name"] = REPO
            timed.append((datetime.fromisoformat(status["created_at"]), _github("deployment_status", body)))
        issue_template = _load("github/issues__labeled.json")
        for at, action, issue in self.issues:
            body = copy.deepcopy(issue_template)
            body.update(action=action, issue=issue)
            body["repository"]["full_name"] = REPO
            timed.append((at, _github("issues", body)))
        return [r for at, r in sorted(timed, key=lambda x: x[0]) if since is None or at >= since]


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_history() -> History:
    h = History()
    deployment_template = _load("github/deployment_status__success.json")
    issue_template = _load("github/issues__labeled.json")["issue"]
    before = sha_of("root")
    for n in range(20):
        day = START + timedelta(days=n * 1.5)
        batch = [(sha_of(f"c{n}-{i}"), day + timedelta(hours=i)) for i in range(1 + n % 3)]
        h.commits.extend(batch)
        h.pushes.append((batch[-1][1] + timedelta(minutes=5), github_push(REPO, before, batch)))
        before = batch[-1][0]
        at = day + timedelta(hours=6)
        deployment = copy.deepcopy(deployment_template["deployment"])
        deployment.update(id=1000 + n, sha=before, ref="main", environment="production", created_at=_iso(at),
                          updated_at=_iso(at + timedelta(days=3)))  # updated later: never the finish time
        status = copy.deepcopy(deployment_template["deployment_status"])
        state = "failure" if n % 4 == 3 else "success"
        finished = at + timedelta(minutes=7)
        status.update(id=5000 + n, state=state, created_at=_iso(finished), updated_at=_iso(finished))
        h.deployments.append((deployment, status, len(h.commits)))
    for k, n in enumerate((2, 9, 17)):
        deployment, status, _ = h.deployments[n]
        opened = datetime.fromisoformat(status["created_at"]) + timedelta(hours=1)
        closed = opened + timedelta(hours=2 + k)
        issue = copy.deepcopy(issue_template)
        issue.update(id=7000 + k, number=100 + k, title=f"outage {k}", body=f"root cause: {deployment['sha']}",
                     created_at=_iso(opened), updated_at=_iso(closed))
        issue["labels"][0]["name"] = "incident"
        open_issue = {**issue, "state": "open", "closed_at": None}
        closed_issue = {**issue, "state": "closed", "closed_at": _iso(closed)}
        h.issues.append((opened, "opened", open_issue))
        h.issues.append((closed, "closed", closed_issue))
    return h


def rest_commit(sha: str, at: datetime, parent: str) -> Json:
    commit: Json = copy.deepcopy(_load("api/github/list_commits.json")[0])
    commit.update(sha=sha, parents=[{"sha": parent}])
    commit["commit"]["author"]["date"] = _iso(at)
    commit["commit"]["committer"]["date"] = _iso(at)
    return commit


def serve_api(server: HTTPServer, h: History) -> None:
    base = f"/repos/{REPO}"
    shas = [sha for sha, _ in h.commits]
    chain = {sha: (shas[i - 1] if i else sha_of("root")) for i, sha in enumerate(shas)}
    times = dict(h.commits)
    server.expect_request(f"{base}/deployments").respond_with_json([d for d, _, _ in reversed(h.deployments)])
    previous: Json | None = None
    for deployment, status, upto in h.deployments:
        server.expect_request(f"{base}/deployments/{deployment['id']}/statuses").respond_with_json([status])
        if previous is None:
            listed = [rest_commit(s, times[s], chain[s]) for s in reversed(shas[:upto])]
            query = {"sha": deployment["sha"], "since": "2026-10-25T00:00:00+00:00", "per_page": "100"}
            server.expect_request(f"{base}/commits", query_string=query).respond_with_json(listed)
        else:
            start = shas.index(previous["sha"]) + 1
            compare = _load("api/github/compare_commits.json")
            compare["commits"] = [rest_commit(s, times[s], chain[s]) for s in shas[start:upto]]
            path = f"{base}/compare/{previous['sha']}...{deployment['sha']}"
            server.expect_request(path).respond_with_json(compare)
        previous = deployment
    server.expect_request(f"{base}/pulls").respond_with_json([])
    latest: dict[int, Json] = {}
    for _, _, issue in h.issues:
        latest[issue["id"]] = issue
    server.expect_request(f"{base}/issues").respond_with_json(list(latest.values()))


def run_import(server: HTTPServer, data_dir: Path) -> str:
    result = subprocess.run(
        [METRICSYNC, "import", "github", "--repo", REPO, "--since", SINCE, "--api-url", server.url_for("/"),
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "METRICSYNC_GITHUB_TOKEN": "t0ken"},
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def figures(server: Embedded) -> tuple[Json, Json, Json]:
    dora = httpx.get(f"{server.base}/api/v1/dora", params=WINDOW, timeout=10).json()
    deployments = httpx.get(f"{server.base}/api/v1/deployments", params=WINDOW, timeout=10).json()
    incidents = httpx.get(f"{server.base}/api/v1/incidents", params=WINDOW, timeout=10).json()
    return dora, deployments, incidents


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
        yield figures(server)
    finally:
        server.stop()


def test_a_month_imported_then_last_weeks_webhooks_equal_the_webhooks_alone(
    tmp_path: Path, httpserver: HTTPServer, history: History, reference: tuple[Json, Json, Json]
) -> None:
    serve_api(httpserver, history)
    server = Embedded(tmp_path / "imported")
    out = run_import(httpserver, server.data_dir)
    assert "20 deployment statuses" in out
    assert "changes (commits) in those ranges: 39" in out
    server.start()
    try:
        post_all(server, history.webhooks(since=LAST_WEEK))
        imported = figures(server)
    finally:
        server.stop()
    dora, deployments, incidents = reference
    # the reference is what the history says: 15 successful deployments and 5 failed attempts, 3 of the
    # successful ones blamed for an incident, 37 of the 39 commits shipped by a successful deployment
    assert dora["deployment_frequency"] | {"per_day": 0} == {
        "deployments": 15, "deploy_days": 15, "per_day": 0, "failed_attempts": 5, "level": "high"
    }
    assert (dora["lead_time"]["changes"], dora["change_failure_rate"]["failed_deployments"]) == (37, 3)
    assert (len(deployments["deployments"]), len(incidents["incidents"])) == (15, 3)  # failed attempts apart
    assert imported == reference

    again = run_import(httpserver, server.data_dir)
    assert "new records: 0" in again
    server.start()
    try:
        assert figures(server) == reference
    finally:
        server.stop()
